"""
====================================================
SGD and weight decay lower the rank (Galanti et al.)
====================================================

Galanti et al. show that mini-batch SGD with weight decay drives the weight
matrices of a deep ReLU network towards low rank, and that the bias is stronger
with **a smaller batch**, **a larger learning rate** and **a larger weight
decay**. We train :class:`skrank.DeepL2Regressor` with ``solver='sgd'`` (Nesterov
momentum, the L2 term as coupled weight decay) for a fixed number of epochs on the
rank-2 task, changing one of the three from a common base, and read

* the rank of every hidden weight matrix, each read by its image on the data
  (``layer_ranks_``), averaged over the middle ones, ``W_2`` to ``W_{L-1}``;
* the bottleneck rank (``bottleneck_rank_``, the least rank among the maps where
  the function can narrow, ``W_1`` to ``W_{L-1}``).

With a fixed budget of 300 epochs most of these fits have not finished moving: at a
small ``alpha``, a small learning rate or a large batch the ranks are still falling,
while at ``alpha`` 0.03 and 0.1 they have settled at bottleneck rank 2, the task's
own (300 and 600 epochs read the same there). The figure compares how far each
setting has pushed the ranks down in the same number of epochs, as the paper's
experiments do. A larger batch also means fewer steps per epoch, and the batch's
effect is the least regular of the three: on this draw the mean middle rank is
not monotone in the batch size (it was on two other draws).
"""

# %%
# Train with SGD, one knob at a time
# ----------------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skrank import DeepL2Regressor
from skrank.datasets import make_bottleneck_regression

X, y = make_bottleneck_regression(256, rank=2, random_state=0)
base = dict(depth=6, width=64, solver="sgd", alpha=0.01, learning_rate_init=0.004,
            batch_size=32, max_iter=300, tol=0, random_state=0)
grids = {"batch_size": [16, 32, 64, 128],
         "learning_rate_init": [0.001, 0.002, 0.004, 0.008],
         "alpha": [0.001, 0.01, 0.03, 0.1]}
results = {}
for name, values in grids.items():
    rows = []
    for value in values:
        # a fixed epoch budget by design: max_iter is reached, silence that warning
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est = DeepL2Regressor(**{**base, name: value}).fit(X, y)
        mean_rank = float(np.mean(est.layer_ranks_[1:-1]))
        rows.append((mean_rank, est.bottleneck_rank_, est.score(X, y)))
        print(f"{name}={value:<6}: mean hidden-layer rank {mean_rank:5.2f}, bottleneck "
              f"rank {est.bottleneck_rank_:2d}, R^2 {est.score(X, y):.3f}")
    results[name] = np.array(rows)

# %%
# Check the claims
# ----------------
# Smaller batch, larger learning rate, larger weight decay: lower rank.
directions = {"batch_size": +1, "learning_rate_init": -1, "alpha": -1}
for name, sign in directions.items():
    r = results[name][:, 0]
    ok = sign * (r[-1] - r[0]) > 0
    monotone = bool(np.all(sign * np.diff(r) >= 0))
    word = "larger" if sign < 0 else "smaller"
    print(f"{name}: mean rank {r[0]:.2f} -> {r[-1]:.2f} from the first to the last value; "
          f"lower rank with a {word} {name}: {'OK' if ok else 'NOT REPRODUCED'}"
          f"{'' if monotone else ' (not monotone in between)'}")

# %%
# Plot
# ----
labels = {"batch_size": "batch size", "learning_rate_init": "learning rate",
          "alpha": "weight decay alpha"}
fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), sharey=True, layout="constrained")
for ax, (name, values) in zip(axes, grids.items()):
    r = results[name]
    ax.semilogx(values, r[:, 0], "o-", label="mean rank of the hidden layers")
    ax.semilogx(values, r[:, 1], "s--", label="bottleneck rank")
    ax.axhline(2, color="gray", lw=0.8, ls=":", label="task rank (2)")
    ax.set_xticks(values)
    ax.set_xticklabels([f"{v:g}" for v in values])
    ax.minorticks_off()
    ax.set_xlabel(labels[name])
    ax.set_title(f"SGD, 300 epochs: rank vs {labels[name]}")
axes[0].set_ylabel("rank (read on the data)")
axes[0].legend(fontsize="small")
plt.show()
