"""The denoising step read on a few held-out rows: as read, and shrunk towards 1.

``BottleneckAutoencoder(input_noise=sigma, data_noise=sigma)`` holds a tenth of the
rows out of training and reads Stein's step ``c`` along ``X + c (f(X) - X)`` on them
(``skrank._denoise``). On 30 rows of two or three features that step is a noisy
choice; ``shrunk_gain`` moves it towards 1 by its sampling error. For each fit this
script draws 20 fresh sets of held-out rows of the fit's size from the same
distribution, reads both steps on each, and prints their errors to the clean points
of 1,000 test rows, relative to ``f(X)``'s (``c = 1``): mean and worst over the 20
draws, and the best step's (chosen on the clean test points).

Data (ours, not tuned on): a circle in R^2, a parabolic sheet, a sphere and a helix
in R^3 (noise 0.1, 300 rows to fit), and digits with pixels in [0, 1] (noise 0.3,
400 rows to fit).

    python benchmarks/bench_denoise_gain.py [--seeds 10 11 12 13 14]
"""

import argparse
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_digits

from skrank import BottleneckAutoencoder
from skrank._denoise import divergence, shrunk_gain

DIGITS = load_digits().data / 16.0


def _points(name, rng, n):
    if name == "circle":
        t = rng.uniform(0, 2 * np.pi, n)
        return np.column_stack([np.cos(t), np.sin(t)])
    if name == "sheet":
        u, v = rng.uniform(-1, 1, (2, n))
        return np.column_stack([u, v, 0.5 * (u**2 - v**2)])
    if name == "sphere":
        z = rng.standard_normal((n, 3))
        return z / np.linalg.norm(z, axis=1, keepdims=True)
    if name == "helix":
        t = rng.uniform(0, 4 * np.pi, n)
        return np.column_stack([np.cos(t), np.sin(t), 0.15 * t])
    return DIGITS[rng.choice(len(DIGITS), n, replace=False)]


def _steps(ae, rows, sigma):
    """Stein's step as read and shrunk, on noisy ``rows`` in the user's units."""
    y = (rows - ae.input_mean_) / ae.input_scale_
    with torch.no_grad():
        r = ae.module_(torch.as_tensor(y, dtype=torch.float32)).double().numpy()
    residual = np.sum((r - y) ** 2, 1)
    shrink = y.shape[1] - divergence(ae.module_, y)
    s = sigma / ae.input_scale_
    return max(s**2 * shrink.sum() / residual.sum(), 0.0), shrunk_gain(residual, shrink, s)


def one_fit(name, seed, draws=20):
    rng = np.random.default_rng(seed)
    sigma, n_fit = (0.3, 400) if name == "digits" else (0.1, 300)
    clean = _points(name, rng, n_fit)
    X = clean + sigma * rng.standard_normal(clean.shape)
    ae = BottleneckAutoencoder(input_noise=sigma, data_noise=sigma, output="reconstruction",
                               random_state=seed).fit(X)
    test = _points(name, rng, 1000)
    noisy = test + sigma * rng.standard_normal(test.shape)
    step = ae.reconstruct(noisy) - noisy

    def error(c):
        return float(np.mean(np.sum((noisy + c * step - test) ** 2, 1)))

    best = float(np.sum(step * (test - noisy)) / np.sum(step * step))
    rel = []
    for _ in range(draws):
        held = _points(name, rng, n_fit // 10)
        rel.append([error(c) / error(1.0) for c in
                    _steps(ae, held + sigma * rng.standard_normal(held.shape), sigma)])
    rel = np.array(rel)
    return rel[:, 0].mean(), rel[:, 0].max(), rel[:, 1].mean(), rel[:, 1].max(), \
        error(best) / error(1.0)


def main(seeds):
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    print("error / error of f(X) over 20 draws of held-out rows: mean and worst")
    print(f"{'data':8s} {'seed':>4s} {'as read':>15s} {'shrunk':>15s} {'best step':>10s}")
    for name in ("circle", "sheet", "sphere", "helix", "digits"):
        for seed in (seeds if name != "digits" else seeds[:2]):
            a_mean, a_worst, s_mean, s_worst, best = one_fit(name, seed)
            print(f"{name:8s} {seed:4d} {a_mean:7.3f} {a_worst:7.3f} {s_mean:7.3f} "
                  f"{s_worst:7.3f} {best:10.3f}", flush=True)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[10, 11, 12, 13, 14])
    main(parser.parse_args().seeds)
