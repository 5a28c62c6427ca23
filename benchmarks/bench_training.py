"""Training speed of skrank against scikit-learn's MLPRegressor and skorch, one run.

Per-epoch seconds with the same architecture (L=11 weight matrices, width 128, ReLU,
Adam, N=1000, 20 -> 20), at batch size 64 and full batch; then the time skrank's
default L-BFGS needs to recover the bottleneck rank on the papers' two tasks.
Ratios (skrank / peer) are what to read: they survive a noisy shared machine.

Every library runs with the same number of threads (torch and BLAS; one by default)
so that the comparison is of the training loops, not of thread scheduling. Per-epoch
times are taken the same way for all three: the fit of ``--epochs`` epochs less the
fit of one, over the difference in epochs, so that each library's setup cancels
out (wall clock for the peers; skrank's ``train_time_``, its training loop without
the rank readings that follow it), on float32 data (MLPRegressor trains in the
input's precision), skrank from one random start (``init='random'``: the default
``'auto'`` trains two starts on 20 outputs).

    python benchmarks/bench_training.py [--epochs 10] [--quick] [--threads 1]
"""

import os
import sys

_THREADS = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--threads=")),
                sys.argv[sys.argv.index("--threads") + 1]
                if "--threads" in sys.argv[:-1] else "1")
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = _THREADS  # the same for every library, whatever the shell set

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPRegressor  # noqa: E402

from skrank import DeepL2Regressor  # noqa: E402
from skrank.datasets import make_bottleneck_regression, make_low_rank_regression  # noqa: E402

torch.set_num_threads(int(_THREADS))
warnings.simplefilter("ignore", ConvergenceWarning)

DEPTH, WIDTH, N = 11, 128, 1000


def _wall(fit):
    """``fit`` as a function of the epochs that returns its wall-clock seconds."""
    def timed(n):
        start = time.perf_counter()
        fit(n)
        return time.perf_counter() - start
    return timed


def _per_epoch(timed, epochs):
    """Seconds per epoch: ``timed(epochs)`` less ``timed(1)``, whose difference
    holds the extra epochs only (the least of two runs each)."""
    def least(n):
        return min(timed(n) for _ in range(2))
    return (least(epochs) - least(1)) / (epochs - 1)


def per_epoch_skrank(X, y, batch, epochs):
    def fit(n):
        with warnings.catch_warnings():  # a few epochs read no clear rank
            warnings.simplefilter("ignore")
            return DeepL2Regressor(
                depth=DEPTH, width=WIDTH, solver="adam", alpha=1e-4, batch_size=batch,
                max_iter=n, tol=0.0, n_iter_no_change=n + 1, init="random",
                n_jacobian_points=0, device="cpu", random_state=0).fit(X, y).train_time_
    return _per_epoch(fit, epochs)


def per_epoch_sklearn(X, y, batch, epochs):
    def fit(n):
        MLPRegressor(hidden_layer_sizes=(WIDTH,) * (DEPTH - 1), solver="adam",
                     alpha=1e-4, batch_size=batch, max_iter=n, tol=0.0,
                     n_iter_no_change=n + 1, shuffle=True, random_state=0).fit(X, y)
    return _per_epoch(_wall(fit), epochs)


def per_epoch_skorch(X, y, batch, epochs):
    try:
        from skorch import NeuralNetRegressor
    except ImportError:
        return float("nan")
    def module():
        layers = []
        sizes = [X.shape[1]] + [WIDTH] * (DEPTH - 1)
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        return torch.nn.Sequential(*layers, torch.nn.Linear(WIDTH, y.shape[1]))

    def fit(n):  # a fresh network per fit, as the other libraries draw one
        NeuralNetRegressor(module(), max_epochs=n,
                           batch_size=batch, optimizer=torch.optim.Adam,
                           optimizer__weight_decay=1e-4, lr=1e-3, train_split=None,
                           verbose=0, device="cpu").fit(X, y)
    return _per_epoch(_wall(fit), epochs)


def time_to_rank(X, y, rank, **params):
    """Seconds of the kept start's training until the rank is reached for good
    (``rank_history_`` follows that start alone; ``train_time_`` counts every
    start the fit trained), and the fit."""
    reg = DeepL2Regressor(track_rank_every=10, random_state=0, device="cpu", **params)
    reg.fit(X, y)
    h = reg.rank_history_
    ok = h["bottleneck_rank"] == rank
    # first record from which the rank stays at its true value
    stays = np.flatnonzero(~ok)
    first = 0 if stays.size == 0 else stays[-1] + 1
    if first >= len(ok):
        return float("nan"), reg
    return float(h["time"][first]), reg


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=10,
                        help="epochs per timed fit (at least 2: one is subtracted)")
    parser.add_argument("--quick", action="store_true", help="fewer epochs, rank-2 only")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for every library (torch and BLAS)")
    args = parser.parse_args()
    epochs = 3 if args.quick else args.epochs
    if epochs < 2:
        parser.error("--epochs must be at least 2 (the time of one epoch is subtracted)")

    X, y = make_bottleneck_regression(N, random_state=0)
    X, y = X.astype(np.float32), y.astype(np.float32)
    print(f"per-epoch seconds, L={DEPTH}, width={WIDTH}, N={N}, Adam, "
          f"{args.threads} thread(s) for every library")
    print(f"{'batch':>8} {'skrank':>9} {'sklearn':>9} {'skorch':>9} "
          f"{'skrank/sklearn':>15} {'skrank/skorch':>14}")
    for fn in (per_epoch_skrank, per_epoch_sklearn, per_epoch_skorch):
        fn(X[:200], y[:200], 64, 2)  # warm-up: first-use imports and allocations
    for batch in (64, N):
        s = per_epoch_skrank(X, y, batch, epochs)
        m = per_epoch_sklearn(X, y, batch, epochs)
        k = per_epoch_skorch(X, y, batch, epochs)
        label = "full" if batch == N else str(batch)
        print(f"{label:>8} {s:9.4f} {m:9.4f} {k:9.4f} {s / m:15.2f} {s / k:14.2f}")

    print("\ntime to bottleneck-rank recovery (skrank's L-BFGS, L=12, w=64; defaults "
          "on rank 2, alpha=0.3 and max_iter=2500 on rank 5)")
    tasks = [("rank-2 (N=500, 20->20)", make_bottleneck_regression(500, random_state=0), 2,
              dict()),
             ("rank-5 (N=300, 50->50)", make_low_rank_regression(random_state=0), 5,
              dict(alpha=0.3, max_iter=2500))]
    if args.quick:
        tasks = tasks[:1]
    for name, (Xt, yt), rank, params in tasks:
        t, reg = time_to_rank(Xt, yt, rank, **params)
        print(f"  {name}: rank {rank} reached and kept after {t:.2f} s of the kept "
              f"start's training (final rank {reg.bottleneck_rank_}, R^2 "
              f"{reg.score(Xt, yt):.3f}, {reg.n_iter_} iterations; every start: "
              f"{reg.train_time_:.1f} s)")


if __name__ == "__main__":
    main()
