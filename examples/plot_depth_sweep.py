"""Choose the depth by rank; ||theta||^2 grows with slope = rank (Jacot 2023b, Fig. 1a).

RankAwareDepthSelector cross-validates depths 4..12 on the rank-2 task, records the
bottleneck rank and ||theta||^2 per depth and picks the lowest stable rank within
``score_tol`` of the best score. The fitted slope of ||theta||^2 against depth over
the chosen rank plateau estimates the rank a second way.

    python examples/plot_depth_sweep.py [output.png]
"""

import os
import sys
import warnings

import matplotlib

# the sweep's worker processes read this at start-up: no max_iter warnings from them
os.environ.setdefault("PYTHONWARNINGS", "ignore::UserWarning")

matplotlib.use("Agg")
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from skrank import DeepL2Regressor, RankAwareDepthSelector  # noqa: E402
from skrank.datasets import make_bottleneck_regression  # noqa: E402
from skrank.plotting import DepthSweepDisplay  # noqa: E402

warnings.simplefilter("ignore", ConvergenceWarning)


def main(path="depth_sweep.png"):
    X, y = make_bottleneck_regression(500, rank=2, random_state=0)
    # unpenalized biases: the constant offset then costs nothing, and the slope of
    # ||theta||^2 is the rank itself
    base = DeepL2Regressor(alpha=0.5, penalize_bias=False, max_iter=1500, random_state=0)
    sel = RankAwareDepthSelector(base, depths=[4, 6, 8, 10, 12], cv=2, n_jobs=2)
    sel.fit(X, y)
    r = sel.depth_results_
    for i, d in enumerate(r["depth"]):
        print(f"depth {d:2d}: score {r['mean_test_score'][i]:.3f}, rank "
              f"{r['bottleneck_rank'][i]}, ||theta||^2 {r['parameter_norm'][i]:.2f}")
    print(f"chosen depth {sel.best_depth_} (rank {sel.best_rank_}); "
          f"||theta||^2 slope over the plateau: {sel.norm_slope_:.2f}")
    disp = DepthSweepDisplay.from_estimator(sel)
    disp.ax_.set_title(f"slope {sel.norm_slope_:.2f} over the rank-{sel.best_rank_} plateau")
    disp.figure_.tight_layout()
    disp.figure_.savefig(path, dpi=80)
    print(f"saved {path}")


if __name__ == "__main__":
    main(*sys.argv[1:])
