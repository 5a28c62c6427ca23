"""Denoising: BottleneckAutoencoder against PCA and KernelPCA, one run.

Every method is fitted on noisy training points (the data one has), then maps
other noisy points of the same distribution back (``reconstruct`` /
``inverse_transform(transform(.))``); the score is the mean squared distance of
the output to the clean versions of those points. PCA and KernelPCA
each get the best of a small grid (chosen on the test error itself, which only
favours them). Data: a curve in the plane (Jacot 2023a, Fig. 3B), a rolled sheet in
R^3 and scikit-learn's bundled digits (standardized, Gaussian noise added).

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
        results.append((error(p.inverse_transform(p.transform(noisy)), clean), f"k={k}"))
    return min(results)


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
                results.append((error(out, clean), f"k={k} gamma={gamma:.3g} a={alpha}"))
    return min(results)


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
           dict(alpha=0.01, width=128, depth=8))


def main():
    rng = np.random.default_rng(1)
    print(f"{'data':>17} {'noise':>6} {'noisy':>8} {'skrank':>8} {'PCA':>8} {'KPCA':>8} "
          f"{'skrank/PCA':>11} {'skrank/KPCA':>12} {'rank':>5} {'fit s':>6}")
    for name, train, test, noise, params in datasets():
        noisy = test + noise * rng.standard_normal(test.shape)
        train = train + noise * rng.standard_normal(train.shape)
        start = time.perf_counter()
        ae = BottleneckAutoencoder(random_state=0, device="cpu", **params).fit(train)
        took = time.perf_counter() - start
        e_ae = error(ae.reconstruct(noisy), test)
        e_pca, cfg_pca = best_pca(train, noisy, test)
        e_kpca, cfg_kpca = best_kpca(train, noisy, test)
        print(f"{name:>17} {noise:6.2f} {error(noisy, test):8.4f} {e_ae:8.4f} "
              f"{e_pca:8.4f} {e_kpca:8.4f} {e_ae / e_pca:11.2f} {e_ae / e_kpca:12.2f} "
              f"{ae.bottleneck_rank_:5d} {took:6.1f}")
        print(f"{'':>17} best PCA {cfg_pca}; best KernelPCA {cfg_kpca}")


if __name__ == "__main__":
    main()
