"""Single-output regression at the defaults: DeepL2Regressor against its peers, one run.

Five-fold cross-validated R^2 of ``Pipeline(StandardScaler(), model)`` on data sets
with one target (scikit-learn's diabetes, the three Friedman functions, a sine
surface on a square and the position along a Swiss roll), for DeepL2Regressor at its
defaults (``init='auto'``: with one output, grown from depth 3 only),
DeepL2Regressor started from random weights at full depth only (``init='random'``,
the 0.1.x start), scikit-learn's MLPRegressor and RidgeCV. Also printed, per skrank
start: the mean final objective against the zero network's (the mean square of the
normalized targets, 1; the objective of the last iterate, ``loss_curve_[-1]``:
early-stopped fits, every fit here with one output, keep the network of an earlier
window of best held-out score, whose objective is not recorded), the random start's
least (above 1 on every fold: the random fit would never be kept, hence the grown
start alone), ``||theta||^2`` and the fit time.

    python benchmarks/bench_regression.py [--seed 0]
"""

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import (  # noqa: E402
    load_diabetes,
    make_friedman1,
    make_friedman2,
    make_friedman3,
    make_swiss_roll,
)
from sklearn.linear_model import RidgeCV  # noqa: E402
from sklearn.model_selection import KFold, cross_validate  # noqa: E402
from sklearn.neural_network import MLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skrank import DeepL2Regressor  # noqa: E402

torch.set_num_threads(1)
warnings.simplefilter("ignore")


def datasets(seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, (500, 2))
    roll, t = make_swiss_roll(500, noise=0.1, random_state=seed)
    return {
        "diabetes": load_diabetes(return_X_y=True),
        "friedman1": make_friedman1(500, noise=1.0, random_state=seed),
        "friedman2": make_friedman2(500, noise=10.0, random_state=seed),
        "friedman3": make_friedman3(500, noise=0.1, random_state=seed),
        "sine_square": (X, np.sin(2 * X[:, 0]) + X[:, 1] ** 2),
        "roll_position": (roll, t),
    }


def models(seed):
    return {"auto": DeepL2Regressor(random_state=seed),
            "random": DeepL2Regressor(random_state=seed, init="random"),
            "MLP": MLPRegressor(random_state=seed),
            "RidgeCV": RidgeCV()}


def main(seed):
    cv = KFold(5, shuffle=True, random_state=seed)
    print(f"{'data set':>14} {'auto R2':>8} {'random R2':>9} {'MLP R2':>7} {'Ridge R2':>8}"
          f" | {'auto obj':>8} {'rand obj':>8} {'rand min':>8}"
          f" {'auto |th|2':>10} {'rand |th|2':>10}"
          f" | {'auto s':>6} {'rand s':>6} {'MLP s':>6}")
    for name, (X, y) in datasets(seed).items():
        row = {}
        for label, model in models(seed).items():
            start = time.perf_counter()
            res = cross_validate(make_pipeline(StandardScaler(), model), X, y, cv=cv,
                                 return_estimator=True)
            net = [p[-1] for p in res["estimator"]]
            row[label] = dict(
                r2=res["test_score"].mean(), s=(time.perf_counter() - start) / 5,
                obj=np.mean([m.loss_curve_[-1] for m in net]) if label in ("auto", "random")
                else np.nan,
                least=min([m.loss_curve_[-1] for m in net]) if label == "random"
                else np.nan,
                norm=np.mean([m.parameter_norm_ for m in net])
                if label in ("auto", "random") else np.nan)
        g, r = row["auto"], row["random"]
        print(f"{name:>14} {g['r2']:8.3f} {r['r2']:9.3f} {row['MLP']['r2']:7.3f} "
              f"{row['RidgeCV']['r2']:8.3f} | {g['obj']:8.3f} {r['obj']:8.3f} "
              f"{r['least']:8.3f} "
              f"{g['norm']:10.1f} {r['norm']:10.1f} | {g['s']:6.2f} {r['s']:6.2f} "
              f"{row['MLP']['s']:6.2f}", flush=True)
    print("obj: the last iterate's objective (early-stopped fits keep an earlier "
          "network), mean over the folds (the zero function: about 1); "
          "rand min: the random start's least over the folds; |th|2: ||theta||^2")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    main(parser.parse_args().seed)
