"""scikit-learn's estimator checks on every skrank estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skrank import (
    BottleneckAutoencoder,
    DeepL2Classifier,
    DeepL2Regressor,
    ResNetL2Regressor,
)

from ._estimators import small

# Small, fast configurations: the checks fit dozens of times (at 60 iterations and
# the autoencoder's 100 warm-up epochs they took a fifth of the default suite).
SMALL = small(max_iter=30, random_state=0)
AE_SMALL = {**SMALL, "warmup_iter": 20}

ESTIMATORS = [
    DeepL2Regressor(**SMALL),
    DeepL2Classifier(**SMALL),
    BottleneckAutoencoder(**AE_SMALL),
    BottleneckAutoencoder(**AE_SMALL, output="reconstruction"),
    ResNetL2Regressor(**SMALL),
    ResNetL2Regressor(**SMALL, block_depth=1),
]

_FLOAT32_BATCH = (
    "float32 matrix products give results that differ in the last bit with the "
    "number of rows (BLAS picks kernels by shape), so predictions on a subset can "
    "differ from the same rows predicted in a larger batch by ~1e-7 relative: beyond "
    "this check's exact tolerance, far below any modelling precision. "
    "dtype='float64' makes the differences ~1e-16."
)

# Any estimator may hit it (whether the last bit differs depends on the shapes), so
# the entry applies to all; pytest reports the runs that pass as XPASS.
_FLOAT32_WEIGHTS = (
    "float32 arithmetic: a weighted sum and the same rows repeated round differently "
    "in the last bit, and the non-convex L-BFGS path amplifies such differences over "
    "its iterations (predictions differ by ~1e-3 here). In float64 an integer "
    "weight equals repeating the row to 1e-8 over the whole fit "
    "(tests/test_conventions.py::test_integer_sample_weight_equals_repeating_rows), "
    "but where a network is deepened (the grown start of init='auto', the "
    "autoencoder's here): units outside the span sit at zero up to rounding there, "
    "and rounding flips their ReLU masks (float64 codes part by ~5%)."
)
EXPECTED_FAILURES = {"check_methods_subset_invariance": _FLOAT32_BATCH,
                     "check_sample_weight_equivalence_on_dense_data": _FLOAT32_WEIGHTS}


def _expected(estimator):
    return EXPECTED_FAILURES


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected)
def test_sklearn_compatible(estimator, check):
    check(estimator)
