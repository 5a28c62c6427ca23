"""
=======================================================================
Bottleneck structure: ||theta||^2 grows with slope = rank (Jacot 2023b)
=======================================================================

Jacot (2023b) writes the parameter norm of a trained deep network as
``||theta||^2 = L R0 + R1 + O(1/L)``, with ``R0`` the bottleneck rank of the
learned function: on a range of depths where the rank does not change,
``||theta||^2`` is **affine in the depth with slope equal to the rank** (its
Fig. 1a). The extra layers are spent on near-identity maps of the ``k``-dimensional
bottleneck, so **the weight matrices in the middle have** ``k`` **singular values
close to 1** and the others small (its Thm. 6).

We fit :class:`skrank.DeepL2Regressor` on the rank-2 task at depths 6 to 14,
with unpenalized biases (``penalize_bias=False``: the constant offset then costs
nothing, so the norm counts the rank only), and read both.
"""

# %%
# Fit one network per depth
# -------------------------
import matplotlib.pyplot as plt
import numpy as np

from skrank import DeepL2Regressor
from skrank.datasets import make_bottleneck_regression
from skrank.plotting import SpectraDisplay

X, y = make_bottleneck_regression(200, rank=2, random_state=0)
depths = np.array([6, 8, 10, 12, 14])
fits = {}
for depth in depths:
    est = DeepL2Regressor(depth=int(depth), alpha=0.5, penalize_bias=False,
                          random_state=0).fit(X, y)
    fits[depth] = est
    print(f"depth {depth:2d}: ||theta||^2 {est.parameter_norm_:6.2f}, bottleneck rank "
          f"{est.bottleneck_rank_}, R^2 {est.score(X, y):.3f}, {est.stop_reason_}")

norms = np.array([fits[d].parameter_norm_ for d in depths])
ranks = np.array([fits[d].bottleneck_rank_ for d in depths])

# %%
# Check the claims
# ----------------
# The slope of ||theta||^2 over the depths that read the same rank, and the
# singular values of the middle weight matrix of the deepest network.
plateau = ranks == np.bincount(ranks).argmax()
slope, intercept = np.polyfit(depths[plateau], norms[plateau], 1)
rank = int(ranks[plateau][0])
print(f"bottleneck rank read: {rank} (expected 2): "
      f"{'OK' if rank == 2 else 'NOT REPRODUCED'}")
print(f"slope of ||theta||^2 against depth: {slope:.2f} (expected the rank, 2): "
      f"{'OK' if abs(slope - 2) < 0.5 else 'NOT REPRODUCED'}")

deep = fits[depths[-1]]
middle = deep.layer_spectra_[len(deep.layer_spectra_) // 2]
print(f"middle weight W_{len(deep.layer_spectra_) // 2 + 1} of the depth-{depths[-1]} "
      f"network, largest singular values: {np.round(middle[:4], 3)}")
near_one = int(np.sum(np.abs(np.log(middle)) < np.log(1.5)))
print(f"singular values within a factor 1.5 of 1: {near_one} (expected 2), the next "
      f"one {middle[2]:.3f} (expected small): "
      f"{'OK' if near_one == 2 and middle[2] < 0.2 else 'NOT REPRODUCED'}")

# %%
# Plot
# ----
fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), layout="constrained")
ax = axes[0]
ax.plot(depths, norms, "o", ms=7, label="||theta||^2 of a trained network")
grid = np.linspace(depths[0] - 1, depths[-1] + 1, 50)
ax.plot(grid, slope * grid + intercept, "--", color="gray",
        label=f"affine fit: slope {slope:.2f}")
ax.plot(grid, rank * (grid - depths[plateau].mean()) + norms[plateau].mean(), ":",
        color="tab:red", label=f"slope {rank} (the rank), for reference")
for d, n, r in zip(depths, norms, ranks):
    ax.annotate(f"rank {r}", (d, n), textcoords="offset points", xytext=(0, 8),
                ha="center", fontsize="small")
ax.set_xlabel("depth L")
ax.set_ylabel("||theta||^2")
ax.set_xticks(depths)
ax.set_title("parameter norm against depth (Jacot 2023b, Fig. 1a)")
ax.legend(loc="upper left", fontsize="small")

disp = SpectraDisplay.from_estimator(deep, kind="weights", ax=axes[1], normalize=False,
                                     n_values=8)
axes[1].axhline(1.0, color="k", lw=0.8, alpha=0.6)
axes[1].set_title(f"weight spectra, depth {depths[-1]}: {near_one} values within a "
                  "factor 1.5 of 1 in the middle")
plt.show()
