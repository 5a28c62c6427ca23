"""
=======================================================
Local dimension from a denoising autoencoder's Jacobian
=======================================================

A denoising autoencoder (:class:`skrank.BottleneckAutoencoder` with
``input_noise``) learns to map points near the data *onto* the data. At a point
of a ``d``-dimensional manifold its Jacobian is then close to the projection onto
the tangent space: ``d`` singular values near 1 (along the manifold) and the
others near 0 (across it). Counting the singular values above 1/2 reads the
local dimension, point by point (``local_dimension(X)``) and as a median over
the training points (``local_dimension_``).

The network projects only if projecting pays more than the penalty costs: the
gain grows with the noise variance, the projection's penalty does not depend on
it. So the documented setting for standardized inputs is ``input_noise='auto'``
(the spacing of the samples, at least 0.2: smaller than the distance between the
turns of a rolled sheet, larger than the distance between neighbouring samples)
with a small ``alpha=0.001``, which keeps the penalty small next to the noise
variance on any manifold. At the default ``alpha`` the penalty can win and keep the
Jacobian near the identity (3 of 8 manifolds read right at ``input_noise=0.3``); on
these three, with ``input_noise='auto'``, it read right too (two seeds).

We read a curve, a rolled sheet and a sphere cap in R^3
(:func:`skrank.datasets.make_manifold`), standardized. The bottleneck rank of the
same networks is printed too: at depth 12 it stays at the data's linear span
(3), an upper bound of the dimension the data can be passed through (see
"Trusting the rank", section 5).
"""

# %%
# Fit one denoising autoencoder per manifold
# ------------------------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.preprocessing import StandardScaler

from skrank import AmbiguousRankWarning, BottleneckAutoencoder
from skrank.datasets import make_manifold

results = []
for kind in ("curve", "swiss_roll", "sphere"):
    _, X, dim = make_manifold(600, kind=kind, random_state=0)
    X = StandardScaler().fit_transform(X)
    with warnings.catch_warnings():
        # the bottleneck rank is the span here, and says so; not the point of this page
        warnings.simplefilter("ignore", AmbiguousRankWarning)
        dae = BottleneckAutoencoder(input_noise="auto", alpha=0.001, random_state=0).fit(X)
    per_point = dae.local_dimension(X)
    results.append((kind, X, dim, dae, per_point))
    share = np.mean(per_point == dim)
    print(f"{kind:10s} true dimension {dim}: local_dimension_ = {dae.local_dimension_} "
          f"({share:.0%} of the points read {dim}); bottleneck_rank_ = "
          f"{dae.bottleneck_rank_}; stop: {dae.stop_reason_}")

# %%
# The check this example makes: every local dimension is right.
assert all(dae.local_dimension_ == dim for _, _, dim, dae, _ in results)

# %%
# Points coloured by their local dimension, and the Jacobian spectra
# -------------------------------------------------------------------
# Top: each point coloured by the number of Jacobian singular values above 1/2
# there. Bottom: the singular values at the Jacobian points (one line per
# point) against the 1/2 cut.
fig = plt.figure(figsize=(12, 7.5))
for col, (kind, X, dim, dae, per_point) in enumerate(results):
    ax = fig.add_subplot(2, 3, col + 1, projection="3d")
    sc = ax.scatter(*X.T, c=per_point, cmap="viridis", vmin=0, vmax=3, s=6)
    ax.set_title(f"{kind}\nlocal dimension {dae.local_dimension_} (true {dim})")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_zticks([])
    ax = fig.add_subplot(2, 3, col + 4)
    index = np.arange(1, dae.jacobian_spectra_.shape[1] + 1)
    ax.plot(index, dae.jacobian_spectra_.T, color="tab:blue", alpha=0.3)
    ax.axhline(0.5, color="k", ls="--", label="cut 1/2")
    ax.set_xticks(index)
    ax.set_xlabel("singular value index")
    ax.set_ylabel("Jacobian singular value")
    ax.legend(loc="upper right")
fig.colorbar(sc, ax=fig.axes[::2], shrink=0.6, label="local dimension at the point")
plt.show()
