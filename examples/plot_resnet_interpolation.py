"""ResNets interpolate between nuclear-norm and rank minimization (Boix-Adsera 2025).

For a fixed linear map A, the least cost of a linear ResNet computing it
(``skrank.theory.resnet_linear_cost``) tends to the nuclear norm ``||A||_*`` when
``lam`` is large and, divided by ``lam log(1/lam)`` (depth-2 blocks), to ``rank(A)``
when ``lam`` is small. Trained linear ResNetL2Regressor models land on the curve.

    python examples/plot_resnet_interpolation.py [output.png]
"""

import sys
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from skrank import ResNetL2Regressor  # noqa: E402
from skrank.theory import resnet_linear_cost, resnet_linear_cost_limit  # noqa: E402

warnings.simplefilter("ignore", ConvergenceWarning)


def main(path="resnet_interpolation.png"):
    rng = np.random.default_rng(0)
    d, L = 4, 3
    U = np.linalg.qr(rng.standard_normal((d, d)))[0]
    V = np.linalg.qr(rng.standard_normal((d, d)))[0]
    A = U @ np.diag([3.0, 1.0, 0.3, 0.0]) @ V.T  # rank 3, nuclear norm 4.3
    nuclear, rank = 4.3, 3
    lams = np.logspace(-6, 3, 60)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for bd, style in ((1, "-"), (2, "--")):
        c_inf = np.array([resnet_linear_cost_limit(A, lam, block_depth=bd) for lam in lams])
        c_L = np.array([resnet_linear_cost(A, L, lam, block_depth=bd) for lam in lams])
        axes[0].semilogx(lams, c_inf / nuclear, style, label=f"block depth {bd}, L=inf")
        axes[0].semilogx(lams, c_L / nuclear, style, alpha=0.5,
                         label=f"block depth {bd}, L={L}")
        p = 2 if bd == 1 else 1
        small = lams < 1e-1
        ratio = c_inf[small] / (lams[small] * np.log(1 / lams[small]) ** p)
        axes[1].semilogx(lams[small], ratio, style,
                         label=f"block depth {bd}: / lam log(1/lam)^{p}")
    X = rng.standard_normal((300, d))
    X = (X - X.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(X.T, bias=True))).T
    y = X @ A.T
    for lam in (0.01, 0.1, 1.0, 10.0):
        reg = ResNetL2Regressor(depth=L, block_depth=2, width=6, lam=lam, alpha=1e-3,
                                activation="identity", dtype="float64", max_iter=2000,
                                tol=0, random_state=0).fit(X, y)
        theory = resnet_linear_cost(A, L, lam, block_depth=2)
        axes[0].plot(lam, reg.cost_ / nuclear, "ko")
        print(f"lam={lam:6.2f}: trained cost {reg.cost_:.4f}, Thm 2.1 {theory:.4f}, "
              f"ratio {reg.cost_ / theory:.4f}")
    axes[0].axhline(1.0, color="gray", lw=0.5)
    axes[0].set_xlabel("lam")
    axes[0].set_ylabel("cost / nuclear norm")
    axes[0].set_title("large lam: nuclear norm (dots: trained, L=3)")
    axes[0].legend(fontsize=7)
    axes[1].axhline(rank, color="gray", lw=0.5)
    axes[1].set_xlabel("lam")
    axes[1].set_title(f"small lam: rank ({rank})")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    print(f"saved {path}")


if __name__ == "__main__":
    main(*sys.argv[1:])
