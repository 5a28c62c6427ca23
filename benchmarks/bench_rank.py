"""Is the rank trustworthy? Units, manifolds and denoising, at defaults, in one run.

Five tables, the estimators at their defaults behind the same preprocessing (where
a table says otherwise: the local dimension's documented setting, MLPRegressor with
``max_iter=1000``, the rank-5 teacher's ``alpha``):

1. **Units.** Rank-k regression teachers this repository does not ship (random
   tanh, sine and quadratic read-outs of ``k`` random projections, raw features
   in mixed units) fitted by ``DeepL2Regressor()`` on the raw data, after
   ``StandardScaler``, x100 and x0.01: the bottleneck and Jacobian ranks per
   scaling. With ``normalize=True`` (the default) raw, x100 and x0.01 must read
   the same; ``StandardScaler`` rescales features unequally, which changes the
   geometry and may change the answer.
2. **Manifolds.** scikit-dimension's benchmark manifolds that live in R^3 plus
   curves, sheets, a torus, a sphere, a knot and a 3-d patch of our own in R^3 to
   R^20, standardized (the tally counts the two groups apart): the autoencoder's
   bottleneck dimension (``BottleneckAutoencoder().bottleneck_rank_``) and local
   dimension (``local_dimension_`` of a denoising autoencoder at its documented
   setting ``input_noise='auto', alpha=0.001``: the Jacobian's singular values
   above 1/2; ``~`` marks a reading the autoencoder warned may be off, its
   training points lying further apart than 0.2),
   beside scikit-dimension's TwoNN and MLE.
3. **Convergence.** Default fits on held-out teachers of rank 1 to 5 at N = 300,
   1000 and 5000: why each fit stopped, its iterations and time, the ranks and the
   held-out R^2; then ``RankAwareDepthSelector()`` on rank 1 to 3 teachers: the
   chosen depth and rank, and ``norm_slope_`` (``||theta||^2`` against depth on the
   rank plateau, offset-free, which the theory says is the rank).
4. **Denoising.** Noisy digits, a noisy circle and a noisy sheet in R^3, every
   method fitted on the noisy data: error of the autoencoder at its documented
   setting for noisy data (``input_noise = data_noise`` = the noise level: the
   step towards ``f(X)`` calibrated by Stein's risk estimate on held-out rows),
   of its uncalibrated reconstruction ``f(X)``, of the same with ``alpha`` chosen
   by ``GridSearchCV`` on the autoencoder's score (Stein's estimate: noisy data
   only), and of the best PCA and KernelPCA of a grid (chosen on the clean test
   points); on the circle
   also the distance of the outputs to the curve; and the autoencoder as a
   denoising step before ``LogisticRegression`` on noisy digits, against no step.

5. **Noisy teachers.** 48 multi-output teachers of rank 1 to 4 from families,
   input laws and noise levels nothing here was tuned on
   (``benchmarks/_noisy_teachers.py``), clean and at signal-to-noise 10 and 3,
   behind ``StandardScaler``: the bottleneck and Jacobian ranks, whether the fit
   warned, held-out R^2 on clean targets beside MLPRegressor's. A seed redraws the
   data of the same 48 teachers; ``--teachers N`` (N > 0) draws 48 new functions of
   the same families, sizes and noise levels. Draws 0 to 3 and 5 were read while the
   regressor's weak-direction warning was set (``_weak_direction_factor``), as
   were earlier default fits of tables 1-3 while the Jacobian warning and the
   autoencoder's ``input_noise='auto'`` were: a held-out reading takes seeds no
   earlier run used (the benchmarks README lists the runs).

    python benchmarks/bench_rank.py [--seeds 0 1 2]
        [--only units manifolds convergence denoise noisy]
"""

import argparse
import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.decomposition import PCA, KernelPCA  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skrank import AmbiguousRankWarning, BottleneckAutoencoder, DeepL2Regressor  # noqa: E402
from skrank.diagnostics import read_rank  # noqa: E402

torch.set_num_threads(1)
warnings.simplefilter("ignore")


# ---- held-out generators (not in skrank.datasets: nothing was tuned on them) ----
def teacher(n, *, k, kind, seed, d=16, m=12):
    """``y = g(A x)``, ``A`` a random k x d map, features in mixed units. The
    function is drawn from ``seed`` alone and the rows from a stream of their own,
    so that every ``n`` samples the same teacher (the first rows of a larger draw)."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((k, d)) / np.sqrt(d)
    if kind == "tanh":
        H, B = rng.standard_normal((k, 32)), rng.standard_normal((32, m)) / np.sqrt(32)
        g = lambda Z: np.tanh(Z @ H) @ B  # noqa: E731
    elif kind == "sin":
        B = rng.standard_normal((2 * k, m))
        g = lambda Z: np.hstack([np.sin(2 * Z), np.cos(Z)]) @ B  # noqa: E731
    else:
        B = rng.standard_normal((k, m))
        g = lambda Z: (Z**2 + Z) @ B  # noqa: E731
    units, out_unit = rng.uniform(0.3, 5.0, d), rng.uniform(0.5, 20.0)
    X = np.random.default_rng((seed, 1)).standard_normal((n, d))
    return X * units, g(X @ A.T) * out_unit


def curve_in(n, ambient, seed):
    """An open curve (a trefoil-like arc) isometrically rotated into R^ambient."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 1.5 * np.pi, n)
    P = np.column_stack([np.sin(t) + 2 * np.sin(2 * t), np.cos(t) - 2 * np.cos(2 * t),
                         -np.sin(3 * t)])
    Q, _ = np.linalg.qr(rng.standard_normal((ambient, 3)))
    return P @ Q.T


def sheet_in(n, ambient, seed):
    """An open 2-d sheet (a saddle patch) rotated into R^ambient."""
    rng = np.random.default_rng(seed)
    u, v = rng.uniform(-1, 1, (2, n))
    P = np.column_stack([u, v, u**2 - v**2, np.sin(2 * u) * v])
    Q, _ = np.linalg.qr(rng.standard_normal((ambient, 4)))
    return P @ Q.T


def manifolds(n, seed):
    """(name, X, bottleneck dimension m, local dimension d)."""
    import skdim

    bm = skdim.datasets.BenchmarkManifolds(random_state=seed)
    out = []
    # (name, bottleneck dimension m, local dimension d): M5a is a closed curve
    # (m = 2), M11 a Moebius band (m = 3), M13b an open helix (5 turns)
    for name, m, d in [("M5a_Helix1d", 2, 1), ("M5b_Helix2d", 2, 2), ("M7_Roll", 2, 2),
                       ("M11_Moebius", 3, 2), ("M13a_Scurve", 2, 2), ("M13b_Spiral", 1, 1)]:
        out.append((name, bm.generate(name, n=n, dim=3, d=d), m, d))
    out.append(("curve_R10", curve_in(n, 10, seed), 1, 1))
    out.append(("sheet_R10", sheet_in(n, 10, seed), 2, 2))
    rng = np.random.default_rng(100 + seed)
    u, v = rng.uniform(0, 2 * np.pi, (2, n))
    out.append(("torus_R3", np.column_stack([(2 + 0.7 * np.cos(v)) * np.cos(u),
                                             (2 + 0.7 * np.cos(v)) * np.sin(u),
                                             0.7 * np.sin(v)]), 3, 2))
    x = rng.standard_normal((n, 3))
    out.append(("sphere_R3", x / np.linalg.norm(x, axis=1, keepdims=True), 3, 2))
    out.append(("knot_R5", _rotated(rng, _trefoil(rng.uniform(0, 2 * np.pi, n)), 5), 2, 1))
    w = rng.uniform(-1, 1, (n, 3))
    out.append(("patch3_R6", _rotated(rng, np.column_stack([
        w, np.sin(w[:, 0] * w[:, 1]), w[:, 2] ** 2 - w[:, 0] ** 2, np.cos(2 * w[:, 1])]), 6),
        3, 3))
    a, b = rng.uniform(-1.5, 1.5, (2, n))
    out.append(("waves_R8", _rotated(rng, np.column_stack([
        a, b, np.sin(2 * a), np.cos(2 * b), a * b]), 8), 2, 2))
    t = rng.uniform(-2, 2, n)
    out.append(("bent_R20", _rotated(rng, np.column_stack([
        t, t ** 2 / 2, np.sin(2 * t), np.tanh(t)]), 20), 1, 1))
    return out


def _trefoil(t):
    return np.column_stack([np.sin(t) + 2 * np.sin(2 * t), np.cos(t) - 2 * np.cos(2 * t),
                            -np.sin(3 * t)])


def _rotated(rng, P, ambient):
    """``P`` isometrically embedded in R^ambient by a random rotation."""
    Q, _ = np.linalg.qr(rng.standard_normal((ambient, P.shape[1])))
    return P @ Q.T


# ---- tables -----------------------------------------------------------------------
def units_table(seeds, n):
    print("\n## 1. Ranks per scaling (DeepL2Regressor defaults)")
    print(f"{'task':12s} {'seed':>4s}  " + "  ".join(f"{s:>12s}" for s in
                                                    ("raw", "standard", "x100", "x0.01")))
    for k in (1, 2, 3):
        for kind in ("tanh", "sin", "quad"):
            for seed in seeds:
                X, Y = teacher(n, k=k, kind=kind, seed=seed)
                cells = []
                for Xs, Ys in ((X, Y), (StandardScaler().fit_transform(X),
                                        StandardScaler().fit_transform(Y)),
                               (100 * X, 100 * Y), (0.01 * X, 0.01 * Y)):
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        r = DeepL2Regressor(random_state=seed).fit(Xs, Ys)
                    unsure = any(issubclass(w.category, AmbiguousRankWarning)
                                 for w in caught)
                    cells.append(f"{r.bottleneck_rank_}/{r.jacobian_rank_}"
                                 f"{'!' if unsure else ''}"
                                 f"{'*' if r.stop_reason_ != 'converged' else ' '}")
                print(f"{kind}-rank{k:<6d} {seed:4d}  " + "  ".join(f"{c:>12s}" for c in cells),
                      flush=True)
    print("cells: bottleneck_rank_/jacobian_rank_; ! = AmbiguousRankWarning; * = stopped "
          "before converging (max_iter, stalled or diverged)")


def manifold_table(seeds, n):
    import skdim

    print("\n## 2. Manifold dimension (standardized inputs)")
    print(f"{'manifold':14s} {'m':>2s} {'d':>2s} {'seed':>4s} {'span':>4s} {'AE bn':>6s} "
          f"{'DAE loc':>7s} {'TwoNN':>6s} {'MLE':>6s} {'fit s':>6s}")
    hits = {"scikit-dimension's": [0, 0, 0], "our own": [0, 0, 0]}
    for seed in seeds:
        for name, X, m, d in manifolds(n, seed):
            X = StandardScaler().fit_transform(X)
            t = time.perf_counter()
            ae = BottleneckAutoencoder(random_state=seed).fit(X)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                dae = BottleneckAutoencoder(input_noise="auto", alpha=0.001,
                                            random_state=seed).fit(X)
            sparse = any("local_dimension_ may" in str(w.message) for w in caught)
            dt = time.perf_counter() - t
            twonn = skdim.id.TwoNN().fit(X).dimension_
            mle = skdim.id.MLE().fit(X).dimension_
            tally = hits["scikit-dimension's" if name.startswith("M") else "our own"]
            tally[0] += ae.bottleneck_rank_ == m
            tally[1] += dae.local_dimension_ == d
            tally[2] += 1
            # the data's linear span, by the rank rule the autoencoder reads with
            span = read_rank(np.linalg.svd(X - X.mean(0), compute_uv=False)).rank
            loc = f"{dae.local_dimension_}{'~' if sparse else ''}"
            print(f"{name:14s} {m:2d} {d:2d} {seed:4d} {span:4d} {ae.bottleneck_rank_:6d} "
                  f"{loc:>7s} {twonn:6.2f} {mle:6.2f} {dt:6.1f}", flush=True)
    for group, (hit_m, hit_d, total) in hits.items():
        print(f"{group} manifolds: bottleneck dimension right {hit_m}/{total}; local "
              f"dimension right {hit_d}/{total}")
    print("fit s: the two autoencoders' fits together")
    print("span: rank of the standardized data's linear span (what PCA keeps); an AE bn "
          "equal to it is flagged by the autoencoder (AmbiguousRankWarning); ~ = the "
          "DAE warned that its training points lie further apart than 0.2 (input_noise "
          "'auto' raised to their spacing: a reading that may be off by one)")


def convergence_table(seeds):
    from sklearn.exceptions import ConvergenceWarning

    from skrank import RankAwareDepthSelector

    print("\n## 3. Convergence at defaults (DeepL2Regressor, raw data)")
    print(f"{'task':12s} {'N':>5s} {'seed':>4s} {'stop':>10s} {'iter':>5s} {'warn':>4s} "
          f"{'bn/jac':>6s} {'amb':>3s} {'test R2':>7s} {'fit s':>6s}")
    counts = {"fits": 0, "converged": 0, "warned": 0, "rank": 0, "unsure": 0,
              "unsure_wrong": 0, "wrong": 0}
    for k in (1, 2, 3, 4, 5):
        for n in (300, 1000, 5000):
            for seed in seeds:
                kind = ("tanh", "quad")[(k + seed) % 2]
                X, Y = teacher(n + 1000, k=k, kind=kind, seed=seed)
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    t = time.perf_counter()
                    r = DeepL2Regressor(random_state=seed).fit(X[:n], Y[:n])
                    dt = time.perf_counter() - t
                warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
                unsure = any(issubclass(w.category, AmbiguousRankWarning) for w in caught)
                counts["unsure"] += unsure
                counts["wrong"] += r.bottleneck_rank_ != k
                counts["unsure_wrong"] += unsure and r.bottleneck_rank_ != k
                counts["fits"] += 1
                counts["converged"] += r.stop_reason_ == "converged"
                counts["warned"] += warned
                counts["rank"] += r.bottleneck_rank_ == k
                print(f"{kind}-rank{k:<6d} {n:5d} {seed:4d} {r.stop_reason_:>10s} "
                      f"{r.n_iter_:5d} {'yes' if warned else 'no':>4s} "
                      f"{r.bottleneck_rank_:>3d}/{r.jacobian_rank_:<2d} "
                      f"{'yes' if unsure else 'no':>3s} "
                      f"{r.score(X[n:], Y[n:]):7.3f} {dt:6.1f}", flush=True)
    print(f"converged {counts['converged']}/{counts['fits']}, ConvergenceWarning "
          f"{counts['warned']}/{counts['fits']}, bottleneck rank right "
          f"{counts['rank']}/{counts['fits']}; AmbiguousRankWarning on "
          f"{counts['unsure_wrong']} of {counts['wrong']} wrong readings and "
          f"{counts['unsure'] - counts['unsure_wrong']} of "
          f"{counts['fits'] - counts['wrong']} right ones")
    print(f"\n{'task':12s} {'seed':>4s} {'depth':>5s} {'rank':>4s} {'norm slope':>10s} "
          f"{'slope/rank':>10s} {'ranks per depth':>16s} {'sweep s':>7s}  "
          "offset-free norm per depth")
    for k in (1, 2, 3):
        for seed in seeds:
            kind = ("tanh", "quad")[(k + seed) % 2]
            X, Y = teacher(1000, k=k, kind=kind, seed=seed)
            t = time.perf_counter()
            sel = RankAwareDepthSelector(DeepL2Regressor(random_state=seed)).fit(X, Y)
            dt = time.perf_counter() - t
            ranks = ",".join(str(int(v)) for v in sel.depth_results_["bottleneck_rank"])
            norms = " ".join(f"{v:.1f}" for v in sel.depth_results_["offset_free_norm"])
            print(f"{kind}-rank{k:<6d} {seed:4d} {sel.best_depth_:5d} {sel.best_rank_:4d} "
                  f"{sel.norm_slope_:10.2f} {sel.norm_slope_ / k:10.2f} {ranks:>16s} "
                  f"{dt:7.1f}  {norms}", flush=True)


def _outputs(model, X_fit, X_in):
    model.fit(X_fit)
    return model.inverse_transform(model.transform(X_in))


def _to_circle(out):
    """Mean distance of the points to the unit circle."""
    return float(np.mean(np.abs(np.linalg.norm(out, axis=1) - 1)))


def denoise_table(seeds):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    print("\n## 4. Denoising, fitted on noisy data (mean squared error to the clean points)")
    print(f"{'data':10s} {'seed':>4s} {'autoencoder':>12s} {'f(X), c=1':>10s} "
          f"{'CV alpha':>9s} {'best PCA':>9s} {'best KPCA':>9s} {'gain c':>7s}")
    digits, labels = load_digits(return_X_y=True)
    digits = digits / 16.0
    circle_rows, step_rows = [], []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        t = rng.uniform(0, 2 * np.pi, 600)
        circle = np.column_stack([np.cos(t), np.sin(t)])
        sheet = _sheet3(rng)
        for name, clean, sigma in (("digits", digits[rng.permutation(len(digits))[:800]],
                                    0.3), ("circle", circle, 0.1), ("sheet", sheet, 0.1)):
            noisy = clean + sigma * rng.standard_normal(clean.shape)
            half = len(clean) // 2
            fit, (test, test_clean) = noisy[:half], (noisy[half:], clean[half:])
            # the documented setting for noisy data: the noise level twice
            ae = BottleneckAutoencoder(input_noise=sigma, data_noise=sigma,
                                       output="reconstruction", random_state=seed).fit(fit)
            out_ae, out_raw = ae.transform(test), ae.reconstruct(test)
            # alpha chosen by 3-fold CV of the autoencoder's score, Stein's estimate
            # of the denoising error: noisy data only
            search = GridSearchCV(ae, {"alpha": [0.003, 0.01, 0.03, 0.1]}, cv=3).fit(fit)
            out_cv = search.transform(test)
            d = clean.shape[1]
            # every output of each grid; the best is chosen on the test data itself,
            # which only favours PCA and KernelPCA
            out_pca = [_outputs(PCA(k), fit, test)
                       for k in sorted({1, 2, 5, 10, 20} & set(range(1, d)))]
            out_kpca = [_outputs(KernelPCA(k, kernel="rbf", gamma=g / d, alpha=a,
                                           fit_inverse_transform=True, random_state=0),
                                 fit, test)
                        for k in (2, 8, 32) for g in (0.5, 2.0, 8.0) for a in (0.01, 0.1)]

            def err(out, clean=test_clean):
                return float(np.mean(np.sum((out - clean) ** 2, 1)))

            print(f"{name:10s} {seed:4d} {err(out_ae):12.4f} {err(out_raw):10.4f} "
                  f"{err(out_cv):9.4f} {min(map(err, out_pca)):9.4f} "
                  f"{min(map(err, out_kpca)):9.4f} {ae.denoising_gain_:7.2f} "
                  f"(CV alpha {search.best_params_['alpha']})", flush=True)
            if name == "circle":
                circle_rows.append((seed, _to_circle(out_ae), _to_circle(out_raw),
                                    min(map(_to_circle, out_pca)),
                                    min(map(_to_circle, out_kpca)), _to_circle(test)))
        # as a preprocessing step before a classifier, on noisy digits
        X = digits + 0.3 * rng.standard_normal(digits.shape)
        order = rng.permutation(len(X))
        tr, te = order[: len(X) // 2], order[len(X) // 2:]
        scores = []
        for steps in ([], [BottleneckAutoencoder(input_noise=0.3, data_noise=0.3,
                                                 output="reconstruction", random_state=seed)],
                      [BottleneckAutoencoder(input_noise=0.3, output="reconstruction",
                                             random_state=seed)],
                      [PCA(20)]):
            pipe = make_pipeline(*steps, LogisticRegression(max_iter=2000))
            scores.append(pipe.fit(X[tr], labels[tr]).score(X[te], labels[te]))
        step_rows.append((seed, *scores))
    print("\nnoisy circle, mean distance of the output to the circle (noisy input: last)")
    print(f"{'seed':>4s} {'autoencoder':>12s} {'f(X), c=1':>10s} {'best PCA':>9s} "
          f"{'best KPCA':>9s} {'input':>7s}")
    for seed, *cells in circle_rows:
        print(f"{seed:4d} " + " ".join(f"{c:{w}.4f}" for c, w in zip(cells, (12, 10, 9, 9, 7))))
    print("\nnoisy digits (sigma 0.3), LogisticRegression test accuracy after each step")
    # the third column is an autoencoder fitted without data_noise (every row
    # trained on, no calibrated step), not table 4's f(X) of the same network
    print(f"{'seed':>4s} {'no step':>8s} {'autoencoder':>12s} {'no data_noise':>14s} "
          f"{'PCA(20)':>8s}")
    for seed, none, ae_acc, raw_acc, pca_acc in step_rows:
        print(f"{seed:4d} {none:8.4f} {ae_acc:12.4f} {raw_acc:14.4f} {pca_acc:8.4f}")


def _sheet3(rng):
    u, v = rng.uniform(-1, 1, (2, 600))
    return np.column_stack([u, v, 0.5 * (u**2 - v**2)])


#: a short name per AmbiguousRankWarning (the noisy table's "amb" column)
_WHY = (("no clear gap", "gap"), ("bottleneck coordinates keeps", "fid"),
        ("network's own Jacobian", "njac"), ("flat at every Jacobian", "flat"),
        ("is above min(n_features, n_outputs)", "bound"),
        ("Jacobian rank is", "jac"), ("another fit of this network", "rival"),
        ("weakest bottleneck direction", "weak"), ("does not narrow to", "cut"))


def _why(caught):
    """The AmbiguousRankWarnings of a fit by short name ("no" for none)."""
    names = [next((short for text, short in _WHY if text in str(w.message)), "other")
             for w in caught if issubclass(w.category, AmbiguousRankWarning)]
    return ",".join(names) or "no"


def noisy_table(seeds, teachers=0):
    from _noisy_teachers import configs, data
    from sklearn.metrics import r2_score
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline

    print("\n## 5. Held-out noisy teachers (StandardScaler + DeepL2Regressor defaults)")
    print(f"{'#':>2s} {'family':16s} {'inputs':9s} {'d>out':>5s} {'k':>2s} {'N':>5s} "
          f"{'snr':>4s} {'seed':>4s} {'bn/jac':>6s} {'amb':>5s} {'test R2':>7s} "
          f"{'MLP R2':>7s} {'fit s':>6s}")
    tally = {}
    for draw in seeds:
        for c in configs(draw, teachers):
            X, Y, X_test, Y_test = data(c)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                t = time.perf_counter()
                model = make_pipeline(StandardScaler(),
                                      DeepL2Regressor(random_state=c["seed"])).fit(X, Y)
                dt = time.perf_counter() - t
            mlp = make_pipeline(StandardScaler(), MLPRegressor(
                max_iter=1000, random_state=c["seed"])).fit(X, Y)
            est = model[-1]
            unsure = any(issubclass(w.category, AmbiguousRankWarning) for w in caught)
            right = est.bottleneck_rank_ == c["k"]
            noise = "clean" if c["snr"] is None else f"snr {c['snr']:g}"
            row = tally.setdefault(noise, dict(fits=0, right=0, silent=0, warned=0, jac=0))
            row["fits"] += 1
            row["right"] += right
            row["silent"] += not right and not unsure
            row["warned"] += not right and unsure
            row["jac"] += est.jacobian_rank_ == c["k"]
            print(f"{c['index']:2d} {c['family']:16s} {c['inputs']:9s} "
                  f"{c['d']:>2d}>{c['n_out']:<2d} {c['k']:2d} {c['n']:5d} "
                  f"{c['snr'] or 0:4g} {c['seed']:4d} "
                  f"{est.bottleneck_rank_:>3d}/{est.jacobian_rank_:<2d} "
                  f"{_why(caught):>5s} "
                  f"{r2_score(Y_test, model.predict(X_test)):7.3f} "
                  f"{r2_score(Y_test, mlp.predict(X_test)):7.3f} {dt:6.1f}", flush=True)
    for noise, row in tally.items():
        print(f"{noise}: bottleneck rank right {row['right']}/{row['fits']}, wrong with "
              f"AmbiguousRankWarning {row['warned']}, wrong silently {row['silent']}; "
              f"Jacobian rank right {row['jac']}/{row['fits']}")
    print("amb: the AmbiguousRankWarnings of the fit: gap (no clear gap), fid (the "
          "bottleneck coordinates lose output variance), njac / jac (the network's "
          "Jacobian reads above / the factored Jacobian below the bottleneck), flat "
          "(Jacobian rank 0), rival (a fit not kept, within 5% of the objective, reads "
          "a lower rank), weak (a kept direction below twice rank_tol), bound (above "
          "min(n_features, n_outputs)), cut (at the bound, a cut the network does not "
          "pass through)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n", type=int, default=600, help="samples per data set")
    tables = ["units", "manifolds", "convergence", "denoise", "noisy"]
    parser.add_argument("--only", nargs="+", default=tables, choices=tables)
    parser.add_argument("--teachers", type=int, default=0,
                        help="the noisy table's teacher functions: 0 those of every "
                             "recorded run, another integer new ones (held out)")
    args = parser.parse_args(argv)
    t = time.perf_counter()
    if "units" in args.only:
        units_table(args.seeds, args.n)
    if "manifolds" in args.only:
        manifold_table(args.seeds, args.n)
    if "convergence" in args.only:
        convergence_table(args.seeds)
    if "denoise" in args.only:
        denoise_table(args.seeds)
    if "noisy" in args.only:
        noisy_table(args.seeds, args.teachers)
    print(f"\ntotal {time.perf_counter() - t:.0f} s")


if __name__ == "__main__":
    main()
