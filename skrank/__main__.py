"""Command line: ``python -m skrank demo`` fits the rank-2 task and prints what it learned."""

import argparse
import math
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


def _int_in(low, high=None):
    """An argparse type: an int in ``[low, high]``. The demo's estimator and data
    generator would refuse the others only after a traceback; argparse names the
    option and exits with a usage error (status 2), as for a non-integer."""
    def parse(text):
        value = int(text)  # its ValueError is argparse's "invalid int value"
        if value < low or (high is not None and value > high):
            bound = f"at least {low}" if high is None else f"in [{low}, {high}]"
            raise argparse.ArgumentTypeError(f"must be an integer {bound}, got {value}")
        return value
    parse.__name__ = "int"
    return parse


def _alpha(text):
    """An argparse type: a finite float >= 0 (the regressor's ``alpha``)."""
    value = float(text)
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


_alpha.__name__ = "float"  # argparse names the type in "invalid float value: 'x'"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="skrank")
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="fit the rank-2 task and print rank and spectra")
    d.add_argument("--n-samples", type=_int_in(1), default=500)
    d.add_argument("--depth", type=_int_in(2), default=12)
    d.add_argument("--alpha", type=_alpha, default=0.1)
    d.add_argument("--random-state", type=_int_in(0, 2**32 - 1), default=0)
    args = parser.parse_args(argv)
    if args.command == "demo":
        demo(args.n_samples, args.depth, args.alpha, args.random_state)
    return 0


if __name__ == "__main__":
    sys.exit(main())
