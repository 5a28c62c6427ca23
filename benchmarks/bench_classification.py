"""Accuracy of DeepL2Classifier against scikit-learn's MLPClassifier, one run.

Five-fold stratified cross-validated accuracy, both estimators at their defaults,
features standardized in a Pipeline, fixed seeds: scikit-learn's bundled data sets
(digits, iris, wine, breast cancer) and three generated ones (two moons and circles
with noise, make_classification with 20 features and 3 classes); fit time per fold
and the time ratio alongside. The targets: skrank within 1 point of MLPClassifier
or better, within 3x its fit time.

    python benchmarks/bench_classification.py
"""

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import warnings  # noqa: E402

import torch  # noqa: E402
from sklearn.datasets import (  # noqa: E402
    load_breast_cancer,
    load_digits,
    load_iris,
    load_wine,
    make_circles,
    make_classification,
    make_moons,
)
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import StratifiedKFold, cross_validate  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skrank import DeepL2Classifier  # noqa: E402

torch.set_num_threads(1)
warnings.simplefilter("ignore", ConvergenceWarning)

def _generated(make, **kw):
    def load(return_X_y=True):
        return make(**kw)
    return load


DATASETS = {
    "moons": _generated(make_moons, n_samples=500, noise=0.3, random_state=0),
    "circles": _generated(make_circles, n_samples=500, noise=0.2, factor=0.5,
                          random_state=0),
    "classification": _generated(make_classification, n_samples=500, n_features=20,
                                 n_informative=5, n_classes=3, random_state=0),
    "digits": load_digits, "iris": load_iris, "wine": load_wine,
    "breast_cancer": load_breast_cancer,
}


def models():
    """Both at their defaults: what a user gets."""
    return {"skrank": DeepL2Classifier(random_state=0),
            "sklearn": MLPClassifier(random_state=0)}


def main():
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    print(f"{'data set':>14} {'skrank acc':>11} {'MLP acc':>9} {'diff (pts)':>11} "
          f"{'skrank s/fit':>13} {'MLP s/fit':>10} {'time ratio':>11}")
    for name, load in DATASETS.items():
        X, y = load(return_X_y=True)
        row = {}
        for label, model in models().items():
            res = cross_validate(make_pipeline(StandardScaler(), model), X, y, cv=cv)
            row[label] = (res["test_score"].mean(), res["fit_time"].mean())
        diff = 100 * (row["skrank"][0] - row["sklearn"][0])
        print(f"{name:>14} {row['skrank'][0]:11.4f} {row['sklearn'][0]:9.4f} "
              f"{diff:+11.2f} {row['skrank'][1]:13.2f} {row['sklearn'][1]:10.2f} "
              f"{row['skrank'][1] / row['sklearn'][1]:11.2f}")


if __name__ == "__main__":
    import argparse

    argparse.ArgumentParser(description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter
                            ).parse_args()
    main()
