"""
=================================================
Choosing the depth by rank, with cross-validation
=================================================

:class:`skrank.RankAwareDepthSelector` cross-validates a range of depths on the
rank-2 task and records, per depth, the test score, the bottleneck rank of each
fold and ``||theta||^2``. Its rule: among the depths whose mean score is within
``score_tol`` of the best, the lowest stable rank, then the shallowest depth.

Jacot (2023a) argues that a *range* of depths recovers the true rank: too shallow
and the regularity cost wins (the network passes more dimensions than needed), and
within the range the rank is a property of the data. Over that range the norm
grows with slope tending to the rank as the depth grows (Jacot 2023b, Fig. 1a),
which the selector measures as ``norm_slope_``. On this task it reads the rank; at
depths this small it need not (see "Trusting the rank", section 3).
:class:`skrank.plotting.DepthSweepDisplay` draws the sweep: the norm and the rank
per fitted depth on the left, the score on the right.
"""

# %%
# Sweep the depth
# ---------------
import matplotlib.pyplot as plt

from skrank import DeepL2Regressor, RankAwareDepthSelector
from skrank.datasets import make_bottleneck_regression
from skrank.plotting import DepthSweepDisplay

X, y = make_bottleneck_regression(240, rank=2, random_state=0)
# unpenalized biases: the constant offset then costs nothing, and the slope of
# ||theta||^2 is the rank itself
base = DeepL2Regressor(alpha=0.5, penalize_bias=False, random_state=0)
sel = RankAwareDepthSelector(base, depths=[4, 6, 8, 10], cv=2)
sel.fit(X, y)

r = sel.depth_results_
for i, d in enumerate(r["depth"]):
    print(f"depth {d:2d}: score {r['mean_test_score'][i]:.3f} "
          f"(+/- {r['std_test_score'][i]:.3f}), rank per fold {r['rank_per_fold'][i]}, "
          f"||theta||^2 {r['parameter_norm'][i]:.2f}, {r['mean_fit_time'][i]:.1f} s per fit")

# %%
# Check the claims
# ----------------
print(f"chosen depth {sel.best_depth_}; bottleneck rank read: {sel.best_rank_} "
      f"(expected 2): {'OK' if sel.best_rank_ == 2 else 'NOT REPRODUCED'}")
print(f"slope of ||theta||^2 over the rank-{sel.best_rank_} plateau: "
      f"{sel.norm_slope_:.2f} (expected the rank, 2): "
      f"{'OK' if abs(sel.norm_slope_ - 2) < 0.5 else 'NOT REPRODUCED'}")

# %%
# Plot
# ----
disp = DepthSweepDisplay.from_estimator(sel)
disp.ax_.set_title(f"||theta||^2 slope {sel.norm_slope_:.2f} over the rank-"
                   f"{sel.best_rank_} plateau")
disp.ax_score_.set_title("cross-validated R^2 (2 folds)")
plt.show()
