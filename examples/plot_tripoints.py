"""Class boundaries of shallow and deep L2 networks (Jacot 2023a, Fig. 2).

Four classes sampled from identical inverted 'S' curves translated along x. A
shallow network (L=2) separates them with piecewise-linear boundaries that meet
three at a time (tripoints); a deep L2-regularized network learns logits of
bottleneck rank 1, a classification "on a line", whose boundaries never meet.

    python examples/plot_tripoints.py [output.png]
"""

import sys
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from skrank import DeepL2Classifier  # noqa: E402
from skrank.datasets import make_shifted_s  # noqa: E402
from skrank.diagnostics import count_tripoints  # noqa: E402

warnings.simplefilter("ignore", ConvergenceWarning)


def main(path="tripoints.png"):
    X, y = make_shifted_s(400, shift=0.8, noise=0.03, random_state=0)
    bounds = ((X[:, 0].min() - 1, X[:, 0].max() + 1), (X[:, 1].min() - 1,
                                                        X[:, 1].max() + 1))
    configs = [("L=2, no L2", dict(depth=2, alpha=0.0)),
               ("L=2, alpha=1e-4", dict(depth=2, alpha=1e-4)),
               ("L=12, alpha=0.01", dict(depth=12, alpha=0.01)),
               ("L=12, alpha=0.03", dict(depth=12, alpha=0.03))]
    xs = np.linspace(*bounds[0], 250)
    ys = np.linspace(*bounds[1], 250)
    gx, gy = np.meshgrid(xs, ys)
    fig, axes = plt.subplots(1, len(configs), figsize=(4 * len(configs), 4))
    for ax, (title, params) in zip(axes, configs):
        clf = DeepL2Classifier(max_iter=1500, random_state=0, **params).fit(X, y)
        n, locs = count_tripoints(clf, bounds, 150, return_locations=True)
        Z = clf.predict(np.column_stack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
        ax.contourf(gx, gy, Z, levels=np.arange(5) - 0.5, alpha=0.3, cmap="viridis")
        ax.scatter(X[:, 0], X[:, 1], c=y, s=4, cmap="viridis")
        if n:
            ax.scatter(locs[:, 0], locs[:, 1], marker="*", s=150, c="red")
        ax.set_title(f"{title}\naccuracy {clf.score(X, y):.2f}, {n} tripoints, "
                     f"Jacobian rank {clf.jacobian_rank_}")
        print(f"{title:>18}: {n} tripoints, accuracy {clf.score(X, y):.3f}")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    print(f"saved {path}")


if __name__ == "__main__":
    main(*sys.argv[1:])
