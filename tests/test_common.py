"""scikit-learn's estimator checks on every skrank estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skrank import DeepL2Regressor

# Small, fast configurations: the checks fit dozens of times.
SMALL = dict(depth=3, width=16, max_iter=60, n_jacobian_points=2, random_state=0)

ESTIMATORS = [DeepL2Regressor(**SMALL)]

EXPECTED_FAILURES = {
    # none: every check passes; an entry here needs a written reason
}


def _expected(estimator):
    return EXPECTED_FAILURES.get(type(estimator).__name__, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected)
def test_sklearn_compatible(estimator, check):
    check(estimator)
