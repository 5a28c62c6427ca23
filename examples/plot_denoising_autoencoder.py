"""Deep autoencoders denoise, shallow ones do not (Jacot 2023a, Fig. 3B/C).

An autoencoder is trained on points of a curve in the plane; random inputs around
the curve are then passed through it. A deep L2 network recovers the curve's
dimension (bottleneck rank 1) and maps nearby inputs onto the curve: arrows point
to the data. A shallow network learns something close to the identity.

    python examples/plot_denoising_autoencoder.py [output.png]
"""

import sys
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from skrank import BottleneckAutoencoder  # noqa: E402
from skrank.datasets import make_noisy_curve  # noqa: E402

warnings.simplefilter("ignore", ConvergenceWarning)


def main(path="denoising.png"):
    X, _ = make_noisy_curve(300, noise=0.0, random_state=0)
    rng = np.random.default_rng(1)
    probes = X[rng.choice(len(X), 60, replace=False)] + 0.15 * rng.standard_normal((60, 2))
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    for ax, depth in zip(axes, (12, 2)):
        ae = BottleneckAutoencoder(depth=depth, random_state=0).fit(X)
        out = ae.reconstruct(probes)
        ax.scatter(X[:, 0], X[:, 1], s=6, c="tab:blue", label="training data")
        ax.scatter(probes[:, 0], probes[:, 1], s=12, c="tab:green", label="inputs")
        ax.scatter(out[:, 0], out[:, 1], s=12, c="tab:orange", label="outputs")
        for p, q in zip(probes, out):
            ax.annotate("", xy=q, xytext=p,
                        arrowprops=dict(arrowstyle="->", color="gray", lw=0.7))
        moved = np.mean(np.linalg.norm(out - probes, axis=1))
        ax.set_title(f"depth {depth}: bottleneck rank {ae.bottleneck_rank_}, "
                     f"mean move {moved:.3f}")
        ax.legend(loc="lower right")
        print(f"depth {depth:2d}: bottleneck rank {ae.bottleneck_rank_}, "
              f"mean displacement of the inputs {moved:.3f}")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    print(f"saved {path}")


if __name__ == "__main__":
    main(*sys.argv[1:])
