"""Fast fits: batched restarts, default fits and sweeps against 0.1.0, one run.

Prints, side by side in one run (ratios survive a noisy shared machine better than
seconds):

* the floor: one forward + backward of a depth-12, width-64 network on N=1000 rows,
  and 8 such networks as one batched (vmap) evaluation;
* a default DeepL2Regressor fit on the rank-2 task (N=500) against 0.1.0's default
  fit (its code taken from git, commit ``f274709``): time, rank, R^2, stop reason;
* ``n_init=8`` against 8 separate fits (rank-2 task, N=1000) and against one fit
  (DeepL2Classifier on two moons, N=500); with ``solver='adam'`` (100 epochs)
  against 8 separate fits;
* RankAwareDepthSelector's default sweep, and its warm chains (``warm_start='auto'``),
  against 0.1.0's default (cold) sweep:
  time, chosen depth and rank.

Both codes run at their defaults with the same thread budget (``--threads`` sets
torch's threads and ``OMP_NUM_THREADS``, which skrank's ``n_threads='auto'``
counts): 0.1.0's selector holds each fit to one thread by design, the current one
trains ``init='auto'``'s two starts at once on two threads. Each process pays its
one-time imports (0.1.0's L-BFGS imports ``torch._dynamo``, about 2 s) in an
untimed warm-up fit before the timed ones. Every estimator runs on the CPU.

    python benchmarks/bench_batched.py [--threads 2] [--skip-baseline]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import make_moons
from sklearn.exceptions import ConvergenceWarning

from skrank import DeepL2Classifier, DeepL2Regressor, RankAwareDepthSelector
from skrank._networks import FullyConnectedNet
from skrank._stack import StackedObjective
from skrank.datasets import make_bottleneck_regression

BASELINE = "f274709"  # 0.1.0: the code the issues measured
CPU = "cpu"  # the peers' device: 0.1.0's code on a GPU machine chooses the CPU too
HERE = os.path.dirname(os.path.abspath(__file__))


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def floor():
    X, Y = torch.randn(1000, 20), torch.randn(1000, 20)
    nets = [FullyConnectedNet(20, 20, depth=12, width=64) for _ in range(8)]

    def mse(out, y):
        return (out - y).square().sum(1).mean()

    one = StackedObjective(nets[:1], X, Y, None, mse, [0.1], nets[0].penalty_groups())
    many = StackedObjective(nets, X, Y, None, mse, [0.1] * 8, nets[0].penalty_groups())
    x1, x8 = one.gather(), many.gather()
    for obj, x in ((one, x1), (many, x8)):
        obj(x)  # warm-up
    t1 = min(_timed(lambda: one(x1))[0] for _ in range(5))
    t8 = min(_timed(lambda: many(x8))[0] for _ in range(5))
    print(f"floor: forward+backward, depth 12, width 64, N=1000: {1e3 * t1:.1f} ms; "
          f"8 networks batched: {1e3 * t8:.1f} ms ({t8 / t1:.1f}x one)")


def _baseline_dir():
    """0.1.0's package, extracted from git into a temporary directory."""
    root = os.path.dirname(HERE)
    target = tempfile.mkdtemp(prefix="skrank-0.1.0-")
    archive = subprocess.run(["git", "-C", root, "archive", BASELINE, "skrank"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", target], input=archive, check=True)
    return target


_BASELINE_SCRIPT = r"""
import json, sys, time, warnings
import torch
warnings.simplefilter("ignore")
torch.set_num_threads(int(sys.argv[1]))
from skrank import DeepL2Regressor, RankAwareDepthSelector
from skrank.datasets import make_bottleneck_regression
X, y = make_bottleneck_regression(500, random_state=0)
DeepL2Regressor(max_iter=2, device="cpu").fit(X[:50], y[:50])  # imports, untimed
t = time.perf_counter(); reg = DeepL2Regressor(random_state=0, device="cpu").fit(X, y)
fit = dict(time=time.perf_counter() - t, rank=int(reg.bottleneck_rank_),
           r2=float(reg.score(X, y)), stop=str(getattr(reg, "stop_reason_", "?")))
t = time.perf_counter()
sel = RankAwareDepthSelector(DeepL2Regressor(random_state=0, device="cpu"),
                             refit=False).fit(X, y)
sweep = dict(time=time.perf_counter() - t, depth=int(sel.best_depth_),
             rank=int(sel.best_rank_))
print(json.dumps(dict(fit=fit, sweep=sweep)))
"""


def baseline(threads):
    path = _baseline_dir()
    env = dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS=str(threads))
    try:
        out = subprocess.run([sys.executable, "-c", _BASELINE_SCRIPT, str(threads)],
                             check=True, capture_output=True, text=True, env=env, cwd=path)
    finally:
        shutil.rmtree(path, ignore_errors=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def default_fit():
    X, y = make_bottleneck_regression(500, random_state=0)
    with warnings.catch_warnings():  # imports, untimed; two iterations read no rank
        warnings.simplefilter("ignore")
        DeepL2Regressor(max_iter=2, device=CPU).fit(X[:50], y[:50])
    t, reg = _timed(lambda: DeepL2Regressor(random_state=0, device=CPU).fit(X, y))
    return dict(time=t, rank=int(reg.bottleneck_rank_), r2=float(reg.score(X, y)),
                stop=reg.stop_reason_)


def restarts():
    X, y = make_bottleneck_regression(1000, random_state=1)
    t8, many = _timed(lambda: DeepL2Regressor(random_state=0, n_init=8,
                                              device=CPU).fit(X, y))
    seeds = np.random.RandomState(0).randint(2**31 - 1, size=8)
    t_sep, fits = _timed(lambda: [DeepL2Regressor(random_state=int(s), device=CPU).fit(X, y)
                                  for s in seeds])
    print(f"n_init=8 (rank-2 task, N=1000): {t8:.1f} s, 8 separate fits {t_sep:.1f} s: "
          f"{t8 / t_sep:.2f}x (target <= 0.7); restart ranks "
          f"{many.restart_ranks_.tolist()}, kept rank {many.bottleneck_rank_}; separate "
          f"ranks {[f.bottleneck_rank_ for f in fits]}")
    Xm, ym = make_moons(500, noise=0.2, random_state=0)
    with warnings.catch_warnings():  # the classifier's first-use costs, untimed
        warnings.simplefilter("ignore")
        DeepL2Classifier(max_iter=2, device=CPU).fit(Xm[:50], ym[:50])
    t1, _ = _timed(lambda: DeepL2Classifier(random_state=0, device=CPU).fit(Xm, ym))
    t8, _ = _timed(lambda: DeepL2Classifier(random_state=0, n_init=8,
                                            device=CPU).fit(Xm, ym))
    print(f"n_init=8 (two moons, N=500, classifier): {t8:.1f} s, one fit {t1:.1f} s: "
          f"{t8 / t1:.2f}x (target <= 3)")


def adam_restarts():
    """Mini-batch restarts: Adam epochs of 8 networks as one vmapped step each."""
    X, y = make_bottleneck_regression(1000, random_state=1)
    kw = dict(solver="adam", max_iter=100, init="random", device=CPU)
    with warnings.catch_warnings():  # one-time costs of the solver's first step, untimed
        warnings.simplefilter("ignore")
        DeepL2Regressor(solver="adam", max_iter=1, device=CPU).fit(X[:20], y[:20])
    t8, _ = _timed(lambda: DeepL2Regressor(random_state=0, n_init=8, **kw).fit(X, y))
    seeds = np.random.RandomState(0).randint(2**31 - 1, size=8)
    t_sep, _ = _timed(lambda: [DeepL2Regressor(random_state=int(s), **kw).fit(X, y)
                               for s in seeds])
    print(f"n_init=8, solver='adam', 100 epochs (rank-2 task, N=1000): {t8:.1f} s, "
          f"8 separate fits {t_sep:.1f} s: {t8 / t_sep:.2f}x")


def sweep(**params):
    X, y = make_bottleneck_regression(500, random_state=0)
    t, sel = _timed(lambda: RankAwareDepthSelector(
        DeepL2Regressor(random_state=0, device=CPU), refit=False, **params).fit(X, y))
    return dict(time=t, depth=sel.best_depth_, rank=sel.best_rank_)


def main(threads, skip_baseline):
    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)  # what n_threads='auto' counts
    warnings.simplefilter("ignore", ConvergenceWarning)
    print(f"torch threads: {threads}")
    floor()
    old = None if skip_baseline else baseline(threads)
    new = default_fit()
    line = (f"default fit (rank-2 task, N=500): {new['time']:.1f} s, rank {new['rank']}, "
            f"R^2 {new['r2']:.3f}, {new['stop']}")
    if old:
        o = old["fit"]
        line += (f"; 0.1.0: {o['time']:.1f} s, rank {o['rank']}, R^2 {o['r2']:.3f}, "
                 f"{o['stop']}: {new['time'] / o['time']:.2f}x (target <= 0.5)")
    print(line)
    restarts()
    adam_restarts()
    for name, params in [("default", {}), ("warm_start='auto'", {"warm_start": "auto"})]:
        s = sweep(**params)
        line = (f"selector {name} sweep: {s['time']:.1f} s, depth {s['depth']}, rank "
                f"{s['rank']}")
        if old:
            o = old["sweep"]
            line += (f"; 0.1.0 cold sweep: {o['time']:.1f} s, depth {o['depth']}, rank "
                     f"{o['rank']}: {o['time'] / s['time']:.2f}x as fast (target >= 3)")
        print(line)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-baseline", action="store_true",
                        help="do not run 0.1.0's code (needs git and this repository)")
    args = parser.parse_args()
    main(args.threads, args.skip_baseline)
