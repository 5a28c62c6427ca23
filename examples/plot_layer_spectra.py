"""
===================================================================================
Layer spectra, nonlinearity impact and Jacobian rank vs depth (Jacot 2023a, Fig. 1)
===================================================================================

Jacot (2023a), Fig. 1, on the rank-2 task of Jacot (2023b), App. E
(:func:`skrank.datasets.make_bottleneck_regression`: inputs in R^20, targets in
R^20, the targets depend on the inputs through 2 latent dimensions).

* **Top left**: the singular values of every hidden representation of a depth-12
  network, each divided by its largest (top right: the same for the weight
  matrices). In the middle layers only 2 directions
  carry the data (plus the constant offset that penalized biases store in a
  weight direction of its own): the *bottleneck*.
* **Bottom left**: the nonlinearity impact ``||ReLU(Z_l) - Z_l|| / ||ReLU(Z_l)||`` per
  layer: close to 0 in the middle layers, which act almost linearly (a near
  identity on the bottleneck), large in the first and last layers, where the
  nonlinear work is done.
* **Bottom right**: the singular values of the Jacobian ``Jf(x)`` of the whole network
  at 10 sample points (:func:`skrank.diagnostics.jacobian_spectra` on the fitted
  torch module, in the network's normalized input coordinates), for networks of
  increasing depth: deeper networks have lower-rank Jacobians, and from some
  depth on the Jacobian rank is the task's rank, 2. (The estimators'
  ``jacobian_spectra_`` are read on the network passed through its bottleneck
  coordinates, so their rank never exceeds ``bottleneck_rank_``; here we look
  at the unconstrained Jacobian.)
"""

# %%
# Fit networks of increasing depth
# --------------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np

from skrank import AmbiguousRankWarning, DeepL2Regressor
from skrank.datasets import make_bottleneck_regression
from skrank.diagnostics import effective_rank, jacobian_spectra
from skrank.plotting import SpectraDisplay

X, y = make_bottleneck_regression(200, rank=2, random_state=0)
depths = (2, 4, 8, 12)
fits = {}
for depth in depths:
    # the depth-2 network has no clear bottleneck: skrank warns; we record the
    # warning and print it in one line instead
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AmbiguousRankWarning)
        est = DeepL2Regressor(depth=depth, alpha=0.1, random_state=0).fit(X, y)
    fits[depth] = est
    note = (" [AmbiguousRankWarning: no clear gap]"
            if any(w.category is AmbiguousRankWarning for w in caught) else "")
    print(f"depth {depth:2d}: R^2 {est.score(X, y):.3f}, bottleneck rank "
          f"{est.bottleneck_rank_} (gap {est.bottleneck_gap_:.1f}), Jacobian rank "
          f"{est.jacobian_rank_}, {est.stop_reason_}{note}")

# %%
# Check the claims
# ----------------
deep = fits[12]
impact = np.asarray(deep.nonlinearity_impact_)
middle = impact[3:-3]  # the central hidden layers (4 to 8 of 11)
print(f"bottleneck rank read (depth 12): {deep.bottleneck_rank_} (expected 2): "
      f"{'OK' if deep.bottleneck_rank_ == 2 else 'NOT REPRODUCED'}")
print(f"Jacobian rank read (depth 12): {deep.jacobian_rank_} (expected 2): "
      f"{'OK' if deep.jacobian_rank_ == 2 else 'NOT REPRODUCED'}")
print(f"Jacobian rank at depth 2: {fits[2].jacobian_rank_} (expected above 2: shallow "
      f"networks are not biased to the low rank): "
      f"{'OK' if fits[2].jacobian_rank_ > 2 else 'NOT REPRODUCED'}")
print("nonlinearity impact per hidden layer:", np.round(impact, 3))
print(f"nonlinearity impact: first layer {impact[0]:.2f}, central layers at most "
      f"{middle.max():.3f}, last layer {impact[-1]:.2f} (expected: central near 0): "
      f"{'OK' if middle.max() < 0.1 * min(impact[0], impact[-1]) else 'NOT REPRODUCED'}")

# %%
# Plot
# ----
fig, grid = plt.subplots(2, 2, figsize=(12, 9), layout="constrained")
axes = [grid[0, 0], grid[1, 0], grid[1, 1], grid[0, 1]]
SpectraDisplay.from_estimator(deep, kind="representations", ax=axes[0], n_values=12)
axes[0].set_title("representation spectra, depth 12")
SpectraDisplay.from_estimator(deep, kind="weights", ax=axes[3], n_values=12)
axes[3].set_title("weight spectra, depth 12")

layers = np.arange(1, impact.size + 1)
axes[1].semilogy(layers, np.maximum(impact, 1e-6), "o-")
axes[1].set_xlabel("hidden layer l")
axes[1].set_ylabel("||ReLU(Z_l) - Z_l|| / ||ReLU(Z_l)||")
axes[1].set_xticks(layers)
axes[1].set_title("nonlinearity impact, depth 12")

def full_jacobian_spectra(est, X):
    """Singular values of the whole network's Jacobian at the points ``X``."""
    Xn = (X - est.input_mean_) / est.input_scale_  # the network's own input units
    return np.asarray(jacobian_spectra(est.module_, Xn))


colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(depths)))
full_rank = {}
for color, depth in zip(colors, depths):
    est = fits[depth]
    J = full_jacobian_spectra(est, X[:10])
    J = J / J[:, :1]  # each point's spectrum over its largest value
    full_rank[depth] = max(effective_rank(s, tol=est.rank_tol) for s in J)
    k = np.arange(1, J.shape[1] + 1)
    axes[2].semilogy(k, np.maximum(J.T, 1e-6), color=color, alpha=0.35, lw=0.8)
    axes[2].semilogy(k, np.maximum(np.median(J, axis=0), 1e-6), "o-", color=color,
                     label=f"depth {depth} (rank read {full_rank[depth]})")
axes[2].axhline(deep.rank_tol, color="tab:red", ls="--", lw=1,
                label=f"rank_tol floor ({deep.rank_tol:g})")
axes[2].set_xlim(0.5, 10.5)
axes[2].set_ylim(1e-6, 2)
axes[2].set_xlabel("index i of the singular value")
axes[2].set_ylabel("s_i(Jf(x)) / s_1(Jf(x))")
axes[2].set_title("Jacobian spectra (thin: each point; dots: median)")
axes[2].legend(fontsize="small", loc="lower left")
plt.show()

# %%
print("rank of the whole network's Jacobian, by depth:",
      ", ".join(f"L={d}: {r}" for d, r in full_rank.items()))
print(f"whole-network Jacobian rank at depth 12: {full_rank[12]} (expected 2); at "
      f"depth 2: {full_rank[2]} (expected above 2): "
      f"{'OK' if full_rank[12] == 2 < full_rank[2] else 'NOT REPRODUCED'}")
