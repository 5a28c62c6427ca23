"""Depth sweep: cold fits against warm starts from the next shallower network, one run.

RankAwareDepthSelector on the rank-2 task, depths 4..12, 2-fold CV. Cold: every
(depth, fold) trained from scratch for ``max_iter`` L-BFGS iterations. Warm: each
deeper network starts from the previous depth's with identity layers inserted in its
bottleneck (paper 000 sec. 4) and trains ``warm_start_iter`` iterations. Reported:
sweep time (single process), chosen depth, rank per depth, scores and the
||theta||^2 slope.

    python benchmarks/bench_depth_sweep.py
"""

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from skrank import DeepL2Regressor, RankAwareDepthSelector  # noqa: E402
from skrank.datasets import make_bottleneck_regression  # noqa: E402

torch.set_num_threads(1)
warnings.simplefilter("ignore", ConvergenceWarning)


def main():
    X, y = make_bottleneck_regression(500, random_state=0)
    base = DeepL2Regressor(alpha=0.5, penalize_bias=False, max_iter=1000, random_state=0)
    depths = [4, 6, 8, 10, 12]
    rows = {}
    for name, params in [("cold", {}), ("warm", dict(warm_start=True,
                                                      warm_start_iter=250))]:
        start = time.perf_counter()
        sel = RankAwareDepthSelector(base, depths=depths, cv=2, refit=False,
                                     **params).fit(X, y)
        took = time.perf_counter() - start
        r = sel.depth_results_
        rows[name] = took
        print(f"{name}: sweep {took:6.1f} s, chosen depth {sel.best_depth_} (rank "
              f"{sel.best_rank_}), norm slope {sel.norm_slope_:.2f}")
        print(f"      ranks {r['bottleneck_rank'].tolist()}, scores "
              f"{np.round(r['mean_test_score'], 3).tolist()}, ||theta||^2 "
              f"{np.round(r['parameter_norm'], 1).tolist()}")
    print(f"warm / cold sweep time: {rows['warm'] / rows['cold']:.2f}")


if __name__ == "__main__":
    import argparse

    argparse.ArgumentParser(description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter
                            ).parse_args()
    main()
