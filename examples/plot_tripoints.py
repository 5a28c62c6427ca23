"""
===================================================================
Class boundaries of shallow and deep networks (Jacot 2023a, Fig. 2)
===================================================================

Jacot (2023a), Fig. 2: four classes sampled from identical inverted "S" curves
translated along the x axis (:func:`skrank.datasets.make_shifted_s`). A shallow
network separates them with piecewise-linear boundaries that meet three at a time
(*tripoints*, red stars). A deep L2-regularized network learns logits of
bottleneck rank 1: it classifies "on a line", so its class regions are stacked
bands whose boundaries never meet three at a time.

As in the paper, the inputs are used as given (``normalize=False``) and every
row is trained on (``early_stopping=False``: the structure at the minimum, not
the network of best held-out accuracy the classifier keeps by default). Each panel's
title gives the ranks read on *that* network, and the tripoints are counted with
:func:`skrank.diagnostics.count_tripoints`. The rank-1 reading of the deep network
comes with its evidence: ``bottleneck_fidelity_``, the share of the logits'
variance kept when the network is passed through its one bottleneck coordinate.
Here it is 0.70, below the 0.9 the readings are trusted above (the fit warns, and
the check below prints NOT REPRODUCED): passed through that one coordinate the
network changes 38% of its predictions, so it still uses a weaker second
direction, though its class regions do not meet three at a time.
(Shallow networks separate the training points long before they converge; their
``ConvergenceWarning`` is silenced for those fits only. A shallow network also
reads a Jacobian rank below its bottleneck rank: with few layers the bias towards
one dimension is weak.)
"""

# %%
# Fit shallow and deep classifiers
# --------------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skrank import DeepL2Classifier
from skrank.datasets import make_shifted_s
from skrank.diagnostics import count_tripoints

X, y = make_shifted_s(200, shift=0.8, noise=0.03, random_state=0)
bounds = ((X[:, 0].min() - 1, X[:, 0].max() + 1), (X[:, 1].min() - 1, X[:, 1].max() + 1))
configs = [("L=2, no L2", dict(depth=2, alpha=0.0, max_iter=500)),
           ("L=2, alpha=1e-4", dict(depth=2, alpha=1e-4, max_iter=500)),
           ("L=16, alpha=0.01", dict(depth=16, alpha=0.01, max_iter=1000))]
fits = {}
for title, params in configs:
    # the shallow fits stop at max_iter on purpose (they separate the training
    # data long before); silence that warning for these fits only
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = DeepL2Classifier(normalize=False, early_stopping=False, random_state=0,
                               **params).fit(X, y)
    # a 240 x 240 grid: at 120 x 120 two boundaries of the deep network passing
    # within one cell of each other read as one tripoint (5 at 60, 0 at 240); the
    # shallow networks' tripoints are the same at every resolution (10 and 6)
    n, locs = count_tripoints(clf, bounds, 240, return_locations=True)
    fits[title] = (clf, n, locs)
    print(f"{title:>17}: objective {clf.loss_curve_[-1]:.3f}, accuracy "
          f"{clf.score(X, y):.2f}, {n:2d} tripoints, bottleneck "
          f"rank {clf.bottleneck_rank_} (fidelity {clf.bottleneck_fidelity_:.2f}), "
          f"Jacobian rank {clf.jacobian_rank_}")

# %%
# Check the claims
# ----------------
deep, n_deep, _ = fits["L=16, alpha=0.01"]
n_shallow = fits["L=2, no L2"][1]
trusted = deep.bottleneck_rank_ == 1 and deep.bottleneck_fidelity_ > 0.9
print(f"bottleneck rank read (L=16): {deep.bottleneck_rank_} (expected 1), its "
      f"fidelity {deep.bottleneck_fidelity_:.2f} (trusted above 0.9): "
      f"{'OK' if trusted else 'NOT REPRODUCED'}")
print(f"tripoints: deep {n_deep} (expected 0), shallow {n_shallow} (expected > 0): "
      f"{'OK' if n_deep == 0 < n_shallow else 'NOT REPRODUCED'}")

# %%
# Plot the class regions
# ----------------------
xs = np.linspace(*bounds[0], 200)
ys = np.linspace(*bounds[1], 200)
gx, gy = np.meshgrid(xs, ys)
fig, axes = plt.subplots(1, len(configs), figsize=(4.4 * len(configs), 4.3),
                         sharey=True, layout="constrained")
for ax, (title, _) in zip(axes, configs):
    clf, n, locs = fits[title]
    Z = clf.predict(np.column_stack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
    ax.contourf(gx, gy, Z, levels=np.arange(5) - 0.5, alpha=0.3, cmap="viridis")
    ax.scatter(X[:, 0], X[:, 1], c=y, s=4, cmap="viridis")
    if n:
        ax.scatter(locs[:, 0], locs[:, 1], marker="*", s=150, c="red",
                   edgecolors="k", linewidths=0.5, label="tripoint")
        ax.legend(loc="lower right", fontsize="small")
    ax.set_title(f"{title}: accuracy {clf.score(X, y):.2f}\n{n} tripoints, bottleneck "
                 f"rank {clf.bottleneck_rank_}, Jacobian rank {clf.jacobian_rank_}",
                 fontsize="medium")
    ax.set_xlabel("x1")
axes[0].set_ylabel("x2")
plt.show()
