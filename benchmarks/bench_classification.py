"""Accuracy of DeepL2Classifier against scikit-learn's MLPClassifier, one run.

Five-fold stratified cross-validated accuracy on scikit-learn's bundled data sets
(digits, iris, wine, breast cancer), features standardized in a Pipeline, with
fixed seeds; fit time per fold alongside. The target: skrank within 1 point of
MLPClassifier or better on every data set.

    python benchmarks/bench_classification.py
"""

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import warnings  # noqa: E402

import torch  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import StratifiedKFold, cross_validate  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skrank import DeepL2Classifier  # noqa: E402

torch.set_num_threads(1)
warnings.simplefilter("ignore", ConvergenceWarning)

DATASETS = {"digits": load_digits, "iris": load_iris, "wine": load_wine,
            "breast_cancer": load_breast_cancer}


def models():
    return {
        "skrank": DeepL2Classifier(depth=6, width=64, alpha=1e-3, max_iter=300,
                                   random_state=0, device="cpu"),
        "sklearn": MLPClassifier(hidden_layer_sizes=(100,), max_iter=1000,
                                 random_state=0),
    }


def main():
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    print(f"{'data set':>14} {'skrank acc':>11} {'MLP acc':>9} {'diff (pts)':>11} "
          f"{'skrank s/fit':>13} {'MLP s/fit':>10}")
    for name, load in DATASETS.items():
        X, y = load(return_X_y=True)
        row = {}
        for label, model in models().items():
            res = cross_validate(make_pipeline(StandardScaler(), model), X, y, cv=cv)
            row[label] = (res["test_score"].mean(), res["fit_time"].mean())
        diff = 100 * (row["skrank"][0] - row["sklearn"][0])
        print(f"{name:>14} {row['skrank'][0]:11.4f} {row['sklearn'][0]:9.4f} "
              f"{diff:+11.2f} {row['skrank'][1]:13.2f} {row['sklearn'][1]:10.2f}")


if __name__ == "__main__":
    import argparse

    argparse.ArgumentParser(description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter
                            ).parse_args()
    main()
