"""Denoising: BottleneckAutoencoder against PCA and KernelPCA, one run.

Two protocols: methods fitted on clean training points (the paper's Fig. 3 setting)
or on noisy ones (the data one usually has). The autoencoder trains as a denoising
autoencoder (``input_noise`` = the noise level) and, like PCA and KernelPCA, gets
the best of a small grid (``alpha`` in {0.01, 0.1}). Either way they then map other noisy
points back (``reconstruct`` / ``inverse_transform(transform(.))``). Two scores:
the mean squared distance of the output to the clean version of each point
("to clean"), and to the nearest point of a dense clean sample of the data
("to manifold", which does not charge a slide along the manifold). Every method's grid
is chosen on the test error itself (an oracle's choice, for all three alike; the
autoencoder here is not at its documented setting for noisy data, ``data_noise``,
which ``bench_rank.py``'s fourth table measures). Data: a curve in the plane
(Jacot 2023a, Fig. 3B), a rolled sheet in R^3 and scikit-learn's bundled digits
(standardized, Gaussian noise added).

    python benchmarks/bench_denoising.py
"""

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.decomposition import PCA, KernelPCA  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from skrank import BottleneckAutoencoder  # noqa: E402
from skrank.datasets import make_manifold, make_noisy_curve  # noqa: E402

torch.set_num_threads(1)
warnings.simplefilter("ignore", ConvergenceWarning)


def error(out, clean):
    return float(np.mean(np.sum((out - clean) ** 2, axis=1)))


def best_pca(train, noisy, clean):
    results = []
    for k in range(1, min(train.shape[1], 40) + 1):
        p = PCA(n_components=k).fit(train)
        out = p.inverse_transform(p.transform(noisy))
        results.append((error(out, clean), f"k={k}", out))
    best = min(results, key=lambda r: r[0])
    return best[:2], best[2]


def best_kpca(train, noisy, clean):
    results = []
    d = train.shape[1]
    for k in sorted({1, 2, 3, min(d, 10), min(d, 30)}):
        if k > d:
            continue
        for gamma in (0.1 / d, 1.0 / d, 10.0 / d):
            for alpha in (1e-3, 1e-1):
                kp = KernelPCA(n_components=k, kernel="rbf", gamma=gamma, alpha=alpha,
                               fit_inverse_transform=True, random_state=0).fit(train)
                out = kp.inverse_transform(kp.transform(noisy))
                results.append((error(out, clean), f"k={k} gamma={gamma:.3g} a={alpha}",
                                out))
    best = min(results, key=lambda r: r[0])
    return best[:2], best[2]


def datasets():
    rng = np.random.default_rng(0)
    _, curve = make_noisy_curve(600, noise=0.0, random_state=0)
    yield "curve (R^2)", curve[:300], curve[300:], 0.1, {}
    _, roll, _ = make_manifold(800, kind="swiss_roll", random_state=0)
    yield "swiss roll (R^3)", roll[:400], roll[400:], 0.1, {}
    digits = load_digits().data
    digits = (digits - digits.mean(0)) / (digits.std(0) + 1e-8)
    idx = rng.permutation(len(digits))
    yield ("digits (R^64)", digits[idx[:1000]], digits[idx[1000:1400]], 0.5,
           dict(width=128, depth=8))


def to_manifold(out, dense):
    from sklearn.neighbors import NearestNeighbors

    dist, _ = NearestNeighbors(n_neighbors=1).fit(dense).kneighbors(out)
    return float(np.mean(dist[:, 0] ** 2))


def main():
    rng = np.random.default_rng(1)
    head = (f"{'data':>17} {'fit on':>6} {'noisy':>8} {'skrank':>8} {'PCA':>8} "
            f"{'KPCA':>8} {'ae/PCA':>7} {'ae/KPCA':>8} | {'manifold: ae':>12} "
            f"{'PCA':>7} {'KPCA':>7} {'rank':>5} {'alpha':>6} {'fit s':>6}")
    print(head)
    for name, train, test, noise, params in datasets():
        noisy = test + noise * rng.standard_normal(test.shape)
        dense = np.vstack([train, test])
        for protocol in ("clean", "noisy"):
            fit_on = train if protocol == "clean" else \
                train + noise * rng.standard_normal(train.shape)
            start = time.perf_counter()
            # the same courtesy as PCA / KernelPCA: the best of a small grid
            fits = []
            for alpha in (0.01, 0.1):
                ae = BottleneckAutoencoder(alpha=alpha, input_noise=noise, random_state=0,
                                           device="cpu", **params).fit(fit_on)
                fits.append((error(ae.reconstruct(noisy), test), alpha, ae))
            _, alpha, ae = min(fits, key=lambda f: f[0])
            took = (time.perf_counter() - start) / len(fits)
            out_ae = ae.reconstruct(noisy)
            (e_pca, cfg_pca), out_pca = best_pca(fit_on, noisy, test)
            (e_kpca, cfg_kpca), out_kpca = best_kpca(fit_on, noisy, test)
            e_ae = error(out_ae, test)
            print(f"{name:>17} {protocol:>6} {error(noisy, test):8.4f} {e_ae:8.4f} "
                  f"{e_pca:8.4f} {e_kpca:8.4f} {e_ae / e_pca:7.2f} {e_ae / e_kpca:8.2f} | "
                  f"{to_manifold(out_ae, dense):12.4f} {to_manifold(out_pca, dense):7.4f} "
                  f"{to_manifold(out_kpca, dense):7.4f} {ae.bottleneck_rank_:5d} "
                  f"{alpha:6.2f} {took:6.1f}")


if __name__ == "__main__":
    import argparse

    argparse.ArgumentParser(description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter
                            ).parse_args()
    main()
