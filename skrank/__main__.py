"""Command line: ``python -m skrank demo`` fits the rank-2 task and prints what it learned."""

import argparse
import sys
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning


def demo(n_samples=500, depth=12, alpha=0.1, random_state=0):
    from . import DeepL2Regressor
    from .datasets import make_bottleneck_regression

    X, y = make_bottleneck_regression(n_samples, rank=2, random_state=random_state)
    print(f"rank-2 task (Jacot 2023b, App. E): X {X.shape}, y {y.shape}, true rank 2")
    start = time.perf_counter()
    with warnings.catch_warnings():
        # L-BFGS using all its iterations is expected here; the rank is what we read
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = DeepL2Regressor(depth=depth, alpha=alpha, random_state=random_state)
        reg.fit(X, y)
    took = time.perf_counter() - start
    np.set_printoptions(precision=3, suppress=True, linewidth=100)
    print(f"fitted depth={depth} alpha={alpha} in {took:.1f} s "
          f"({reg.n_iter_} L-BFGS iterations at full depth, device {reg.device_})")
    print(f"train R^2                 {reg.score(X, y):.4f}")
    print(f"bottleneck rank           {reg.bottleneck_rank_}  (hidden layer "
          f"{reg.bottleneck_layer_})")
    print(f"Jacobian rank             {reg.jacobian_rank_}")
    print(f"||theta||^2 / L           {reg.norm_per_depth_:.3f}")
    print(f"rank per weight matrix    {reg.layer_ranks_.tolist()}")
    print("top singular values of each weight matrix:")
    for i, s in enumerate(reg.layer_spectra_, start=1):
        print(f"  W_{i:<3d} {s[:5]}")
    print("nonlinearity impact per hidden layer:")
    print(f"  {reg.nonlinearity_impact_}")
    return reg


def main(argv=None):
    parser = argparse.ArgumentParser(prog="skrank")
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="fit the rank-2 task and print rank and spectra")
    d.add_argument("--n-samples", type=int, default=500)
    d.add_argument("--depth", type=int, default=12)
    d.add_argument("--alpha", type=float, default=0.1)
    d.add_argument("--random-state", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "demo":
        demo(args.n_samples, args.depth, args.alpha, args.random_state)
    return 0


if __name__ == "__main__":
    sys.exit(main())
