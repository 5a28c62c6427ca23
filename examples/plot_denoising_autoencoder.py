"""
=======================================================================
Deep autoencoders denoise, shallow ones much less (Jacot 2023a, Fig. 3)
=======================================================================

Jacot (2023a), Fig. 3: an autoencoder whose learned function has the right
bottleneck rank maps points *near* the data manifold *onto* it. We train
:class:`skrank.BottleneckAutoencoder` on clean points of a curve in the plane
(:func:`skrank.datasets.make_noisy_curve`, intrinsic dimension 1), then pass
perturbed copies of training points through it and draw an arrow from every
input to its reconstruction.

The deep network (depth 16) reads bottleneck rank 1, the curve's dimension, and its
arrows point onto the curve: the outputs are 4 times closer to the curve than the
inputs here (1.5 to 4.5 times over eleven draws of the data and the networks). The
shallow network (depth 2, same ``alpha``) is not biased towards rank 1 as strongly:
it passes both dimensions (bottleneck rank 2, no bottleneck found) and moves the
inputs far less onto the curve.

Distances are to the clean curve, sampled densely (the data's ground truth).
"""

# %%
# Data: a clean curve and perturbed probes
# ----------------------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np

from skrank import AmbiguousRankWarning, BottleneckAutoencoder
from skrank.datasets import make_noisy_curve

X, _ = make_noisy_curve(200, noise=0.0, random_state=0)
rng = np.random.default_rng(1)
probes = X[rng.choice(len(X), 60, replace=False)] + 0.15 * rng.standard_normal((60, 2))

t = np.linspace(-1.5, 1.5, 4000)
curve = np.column_stack([t, np.sin(2 * t) / 2 + t**2 / 4])  # the clean curve


def distance_to_curve(points):
    """Mean distance from each point to the densely sampled clean curve."""
    return np.linalg.norm(points[:, None, :] - curve[None], axis=2).min(axis=1).mean()


# %%
# Fit a deep and a shallow autoencoder, same penalty
# --------------------------------------------------
# A shallow autoencoder may pass both input dimensions; skrank then says so with an
# :class:`~skrank.AmbiguousRankWarning`, which we record here instead of printing.
alpha = 0.05
models = {}
for depth in (16, 2):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AmbiguousRankWarning)
        ae = BottleneckAutoencoder(depth=depth, alpha=alpha, random_state=0).fit(X)
    ambiguous = any(issubclass(w.category, AmbiguousRankWarning) for w in caught)
    models[depth] = (ae, ambiguous)

d_in = distance_to_curve(probes)
print(f"mean distance of the inputs to the curve: {d_in:.3f}")
moved = {}
for depth, (ae, ambiguous) in models.items():
    out = ae.reconstruct(probes)
    moved[depth] = out
    note = " (AmbiguousRankWarning: no bottleneck found)" if ambiguous else ""
    print(f"depth {depth:2d}: bottleneck rank {ae.bottleneck_rank_}, Jacobian rank "
          f"{ae.jacobian_rank_}, outputs' distance to the curve "
          f"{distance_to_curve(out):.3f}{note}")

# %%
# Check the claims
# ----------------
deep, shallow = models[16][0], models[2][0]
d_deep, d_shallow = distance_to_curve(moved[16]), distance_to_curve(moved[2])
print(f"bottleneck rank read (deep): {deep.bottleneck_rank_} (expected 1): "
      f"{'OK' if deep.bottleneck_rank_ == 1 else 'NOT REPRODUCED'}")
print(f"deep outputs {d_in / d_deep:.1f}x closer to the curve than the inputs "
      f"(expected > 2): {'OK' if d_in / d_deep > 2 else 'NOT REPRODUCED'}")
print(f"shallow outputs {d_in / d_shallow:.1f}x closer (expected: less than the deep "
      f"network's): {'OK' if d_shallow > d_deep else 'NOT REPRODUCED'}")

# %%
# Plot: arrows from each input to its reconstruction
# --------------------------------------------------
fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), sharex=True, sharey=True,
                         layout="constrained")
for ax, depth in zip(axes, (16, 2)):
    ae, _ = models[depth]
    out = moved[depth]
    ax.plot(curve[:, 0], curve[:, 1], color="tab:blue", lw=1, label="clean curve")
    ax.scatter(X[:, 0], X[:, 1], s=5, c="tab:blue", alpha=0.5, label="training data")
    ax.scatter(probes[:, 0], probes[:, 1], s=14, c="tab:green", label="inputs")
    ax.scatter(out[:, 0], out[:, 1], s=14, c="tab:orange", label="outputs")
    for p, q in zip(probes, out):
        ax.annotate("", xy=q, xytext=p,
                    arrowprops=dict(arrowstyle="->", color="gray", lw=0.7))
    ax.set_title(f"depth {depth}: bottleneck rank {ae.bottleneck_rank_}\n"
                 f"distance to the curve {d_in:.3f} -> {distance_to_curve(out):.3f}")
    ax.set_xlabel("x1")
    ax.legend(loc="upper center", fontsize="small")
axes[0].set_ylabel("x2")
plt.show()
