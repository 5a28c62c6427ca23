"""Depth sweep: cold fits (the default) against warm chains, one run.

RankAwareDepthSelector, depths 4..12. Cold (``warm_start=False``): every (depth,
fold) trained from scratch (the default). Warm (``warm_start='auto'``): each
deeper network starts from the previous depth's with identity
layers inserted in its bottleneck (paper 000 sec. 4) and trains to convergence.

* the rank-2 task, 2-fold CV, the paper's settings (``alpha=0.5``, free biases):
  sweep time, chosen depth, rank per depth, scores and the ||theta||^2 slope;
* with ``--held-out``: 14 teachers nothing here was tuned on (four of
  ``bench_rank.py``'s, ten noisy ones of ``_noisy_teachers.py``, draw 9),
  standardized inputs, estimator defaults, 3-fold CV, ``refit=False``: sweep time,
  chosen depth and rank, rank per depth, against the teacher's rank (about 18
  minutes on one thread).

    python benchmarks/bench_depth_sweep.py [--held-out]
"""

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import _noisy_teachers as noisy  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from bench_rank import teacher  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skrank import DeepL2Regressor, RankAwareDepthSelector  # noqa: E402
from skrank.datasets import make_bottleneck_regression  # noqa: E402

torch.set_num_threads(1)
WAYS = [("cold", dict(warm_start=False)), ("warm", dict(warm_start="auto"))]


def paper_task():
    X, y = make_bottleneck_regression(500, random_state=0)
    base = DeepL2Regressor(alpha=0.5, penalize_bias=False, max_iter=1000, random_state=0)
    took = {}
    for name, params in WAYS:
        start = time.perf_counter()
        sel = RankAwareDepthSelector(base, cv=2, refit=False, **params).fit(X, y)
        took[name] = time.perf_counter() - start
        r = sel.depth_results_
        print(f"{name}: sweep {took[name]:6.1f} s, chosen depth {sel.best_depth_} (rank "
              f"{sel.best_rank_}), norm slope {sel.norm_slope_:.2f}")
        print(f"      ranks {r['bottleneck_rank'].tolist()}, scores "
              f"{np.round(r['mean_test_score'], 3).tolist()}, ||theta||^2 "
              f"{np.round(r['parameter_norm'], 1).tolist()}")
    print(f"warm / cold sweep time: {took['warm'] / took['cold']:.2f}")


def held_out_cases():
    for kind, k, seed in [("sin", 3, 11), ("tanh", 5, 11), ("quad", 4, 12), ("tanh", 1, 12)]:
        X, y = teacher(1000, k=k, kind=kind, seed=seed)
        yield f"{kind}-rank{k}", k, X, y
    configs = noisy.configs(9)
    for i in (3, 4, 7, 10, 13, 16, 17, 22, 25, 34):
        c = configs[i]
        X, y, _, _ = noisy.data(c)
        yield f"#{i} {c['family']} snr {c['snr']}", c["k"], X, y


def held_out():
    print(f"{'teacher':30s} k  way    time  depth rank  rank per depth   scores")
    total, right = {"cold": 0.0, "warm": 0.0}, {"cold": 0, "warm": 0}
    for name, k, X, y in held_out_cases():
        X = StandardScaler().fit_transform(X)
        for way, params in WAYS:
            start = time.perf_counter()
            sel = RankAwareDepthSelector(DeepL2Regressor(random_state=0), refit=False,
                                         **params).fit(X, y)
            took = time.perf_counter() - start
            total[way] += took
            right[way] += sel.best_rank_ == k
            r = sel.depth_results_
            print(f"{name:30s} {k}  {way}  {took:5.1f}  {sel.best_depth_:5d} "
                  f"{sel.best_rank_:4d}  {r['bottleneck_rank'].tolist()}  "
                  f"{np.round(r['mean_test_score'], 3).tolist()}", flush=True)
    print(f"in all: cold {total['cold']:.0f} s, warm {total['warm']:.0f} s "
          f"({total['cold'] / total['warm']:.1f}x); best_rank_ right: cold "
          f"{right['cold']}, warm {right['warm']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--held-out", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    paper_task()
    if args.held_out:
        held_out()
