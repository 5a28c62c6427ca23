import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris
from sklearn.model_selection import cross_val_score

from skrank import DeepL2Classifier, DeepL2Regressor
from skrank.datasets import make_shifted_s
from skrank.diagnostics import count_tripoints

from ._estimators import small

FAST = small(max_iter=60, n_jacobian_points=3, random_state=0)


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def test_same_parameters_as_the_regressor():
    # n_components sets the width of transform, which a classifier does not have
    assert set(DeepL2Regressor().get_params()) - {"n_components"} == \
        set(DeepL2Classifier().get_params())


def test_string_labels_probabilities_and_decisions(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = DeepL2Classifier(**{**FAST, "max_iter": 200}).fit(X, names)
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    proba = clf.predict_proba(X)
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-10)
    assert set(clf.predict(X)) <= set(names)
    assert clf.score(X, names) > 0.9
    assert clf.decision_function(X).shape == (150, 3)
    assert clf.jacobian_spectra_.shape == (3, 3)


def test_binary_decision_function_is_logit_difference(iris):
    X, y = iris
    mask = y < 2
    clf = DeepL2Classifier(**FAST).fit(X[mask], y[mask])
    d = clf.decision_function(X[mask])
    assert d.shape == (100,)
    np.testing.assert_array_equal(clf.predict(X[mask]), (d > 0).astype(int))
    p = clf.predict_proba(X[mask])
    np.testing.assert_allclose(p[:, 1], 1 / (1 + np.exp(-d)), rtol=1e-6)


@pytest.mark.parametrize("bad, match", [
    (np.array([0.0, 1.0, np.nan, 1.0]), "NaN"),
    (np.array(["a", None, "b", "a"], dtype=object), "None"),
    (np.array([1, 1, 1, 1]), "at least 2 classes"),
])
def test_bad_labels_at_fit(bad, match):
    with pytest.raises(ValueError, match=match):
        DeepL2Classifier(**FAST).fit(np.random.rand(4, 2), bad)


def test_unseen_or_missing_labels_at_score(iris):
    X, y = iris
    clf = DeepL2Classifier(**FAST).fit(X, y)
    # an unseen label is a wrong prediction, as in scikit-learn: a fold's test
    # part may hold a class its training part lacks
    pred = clf.predict(X[:3])
    assert clf.score(X[:3], [pred[0], pred[1], 7]) == pytest.approx(2 / 3)
    y_rare = y.copy()
    y_rare[0] = 9
    scores = cross_val_score(DeepL2Classifier(**FAST), X, y_rare, cv=3,
                             error_score="raise")
    assert np.all(np.isfinite(scores))
    with pytest.raises(ValueError, match="NaN"):
        clf.score(X[:2], [0.0, np.nan])
    # a single class at scoring time is fine: accuracy is defined
    assert 0 <= clf.score(X[:10], y[:10]) <= 1


def test_continuous_targets_are_refused(iris):
    X, _ = iris
    with pytest.raises(ValueError, match="Unknown label type"):
        DeepL2Classifier(**FAST).fit(X, np.linspace(0, 1, 150))


def test_count_tripoints_needs_two_features(iris):
    X, y = iris
    clf = DeepL2Classifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="2 features"):
        count_tripoints(clf, ((0, 1), (0, 1)))
    with pytest.raises(ValueError, match="bounds"):
        count_tripoints(clf, ((1, 0), (0, 1)))


def test_count_tripoints_locations():
    class Sectors:
        def predict(self, X):
            ang = np.arctan2(X[:, 1] - 0.2, X[:, 0] + 0.3)
            return np.floor((ang + np.pi) / (2 * np.pi / 3)).astype(int) % 3

    n, locs = count_tripoints(Sectors(), ((-1, 1), (-1, 1)), 101, return_locations=True)
    assert n == 1
    np.testing.assert_allclose(locs[0], [-0.3, 0.2], atol=0.03)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_deep_network_has_fewer_tripoints_than_shallow(seed):
    """Jacot (2023a), Fig. 2: deep L2 networks learn rank-1 logits, no tripoints."""
    X, y = make_shifted_s(400, shift=0.8, noise=0.03, random_state=0)
    bounds = ((X[:, 0].min() - 1, X[:, 0].max() + 1), (X[:, 1].min() - 1,
                                                        X[:, 1].max() + 1))
    # the paper's setting: raw inputs (normalize=False), its alpha, every row
    # trained on to convergence (early stopping keeps a smoother shallow network)
    shallow = DeepL2Classifier(depth=2, alpha=1e-4, max_iter=1000, normalize=False,
                               early_stopping=False, random_state=seed).fit(X, y)
    deep = DeepL2Classifier(depth=12, alpha=0.03, max_iter=1500, normalize=False,
                            early_stopping=False, random_state=seed).fit(X, y)
    n_shallow = count_tripoints(shallow, bounds, 150)
    n_deep = count_tripoints(deep, bounds, 150)
    assert n_deep < n_shallow
    assert n_deep <= 1


def test_float64_predictions_do_not_depend_on_batch(iris):
    X, y = iris
    clf = DeepL2Classifier(**FAST, dtype="float64").fit(X, y)
    full = clf.decision_function(X)
    np.testing.assert_allclose(clf.decision_function(X[:7]), full[:7], rtol=1e-12)


@pytest.mark.parametrize("early_stopping, advised", [(False, True), ("auto", False),
                                                     (True, False)])
def test_a_capped_fit_says_what_to_try(iris, early_stopping, advised):
    """A classifier stopped at max_iter on every row points to early stopping
    (noisy labels keep a deep classifier fitting them); one that already holds
    rows out, or was asked for 'auto', is not told to."""
    from sklearn.exceptions import ConvergenceWarning

    X, y = iris
    with pytest.warns(ConvergenceWarning) as caught:
        DeepL2Classifier(**{**FAST, "max_iter": 3},
                         early_stopping=early_stopping).fit(X, y)
    messages = [str(w.message) for w in caught
                if issubclass(w.category, ConvergenceWarning)]
    assert any(("early_stopping='auto'" in m) is advised for m in messages)
    assert all(("early_stopping='auto'" in m) is advised for m in messages)


def test_partial_fit_on_a_fresh_classifier(iris):
    X, y = iris
    clf = DeepL2Classifier(**{**FAST, "solver": "adam"}).partial_fit(X, y,
                                                                     classes=[0, 1, 2])
    assert clf.early_stopping_ is False
    assert clf.predict(X).shape == (150,)


@pytest.fixture(scope="module")
def big_logits():
    X, y = load_iris(return_X_y=True)
    clf = DeepL2Classifier(depth=3, width=8, max_iter=30, init="random",
                           random_state=0).fit(X, y)
    with torch.no_grad():
        last = clf.module_.weight_matrices()[-1]
        last.mul_(1e4)
    assert np.abs(clf.decision_function(X)).max() > 1000
    return clf, X


def test_predict_proba_is_stable_for_large_logits(big_logits):
    clf, X = big_logits
    p = clf.predict_proba(X)
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(1), 1.0)


def test_predict_log_proba_is_stable_for_large_logits(big_logits):
    clf, X = big_logits
    lp = clf.predict_log_proba(X)
    assert np.isfinite(lp.max(1)).all()
    np.testing.assert_allclose(lp.max(1), 0.0, atol=1e-6)


def test_a_none_label_at_score_is_a_value_error(big_logits):
    clf, X = big_logits
    with pytest.raises(ValueError, match="None"):
        clf.score(X[:2], np.array([0, None], dtype=object))


def test_the_classifier_tags_say_multiclass():
    from sklearn.utils import get_tags
    assert get_tags(DeepL2Classifier()).classifier_tags.multi_class is True


@pytest.mark.parametrize("pair", [["a", 1], [1, "a"]])  # [1, 'a']: "Unknown label type"
def test_labels_of_mixed_types_get_a_message_that_names_them(iris, pair):
    X, _ = iris
    y = np.array(pair * 75, dtype=object)
    with pytest.raises(TypeError, match="labels mix types"):
        DeepL2Classifier(**FAST).fit(X, y)


def test_bytes_labels_keep_scikit_learns_message(iris):
    X, _ = iris
    with pytest.raises(TypeError, match="bytes is not supported"):
        DeepL2Classifier(**FAST).fit(X, np.array([b"a", b"b", b"c"] * 50))


@pytest.mark.parametrize("label, shown", [(np.int64(3), "class: 3[.]"),
                                          (np.str_("a"), "class: 'a'[.]")])
def test_one_class_is_named_as_the_user_wrote_it(iris, label, shown):
    """Not as numpy's repr (np.int64(3), np.str_('a'))."""
    X, _ = iris
    with pytest.raises(ValueError, match=shown):
        DeepL2Classifier(**FAST).fit(X, np.full(len(X), label))


def test_a_classifier_does_not_warn_when_its_jacobian_reads_below_its_bottleneck():
    """Wine at the defaults: the bottleneck reads 2 and the logits' Jacobian 1.
    Logits flatten inside the class regions: on a held-out audit such
    disagreements had the bottleneck right in 20 of 29 and the Jacobian in 6, and
    the warning fired on 21 of 56 right readings. Both numbers are reported; the
    regressors, where the Jacobian was the right one, still warn."""
    import warnings

    from sklearn.datasets import load_wine
    from sklearn.preprocessing import StandardScaler

    from skrank import AmbiguousRankWarning

    X, y = load_wine(return_X_y=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = DeepL2Classifier(random_state=0).fit(StandardScaler().fit_transform(X), y)
    said = [str(w.message) for w in caught if w.category is AmbiguousRankWarning]
    assert (clf.bottleneck_rank_, clf.jacobian_rank_) == (2, 1)
    assert not any("but the Jacobian rank is" in m for m in said), said
    # its outputs vary in 2 directions: nothing bounds the reading below 2
    assert clf.layer_ranks_[-1] == 2
    assert not any("both of the function's own readings" in m for m in said), said


def test_a_reading_above_its_outputs_and_jacobian_warns():
    """Four ordered classes of one coordinate, heavy-tailed inputs (an audit's
    task): the bottleneck read 2 on three seeds, silently, where the logits'
    image and their Jacobian both read 1, the teacher's rank. The function
    factors through its outputs, so 1 bounds it by the same rule."""
    import warnings

    from skrank import AmbiguousRankWarning

    rng = np.random.default_rng(5)
    direction = rng.normal(size=12)
    X = rng.standard_t(3, size=(800, 12))
    s = X @ direction / np.linalg.norm(direction)
    y = np.digitize(np.tanh(s) + 0.3 * s, [-0.8, 0, 0.8])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = DeepL2Classifier(random_state=0).fit(X, y)
    said = [str(w.message) for w in caught if w.category is AmbiguousRankWarning]
    assert (clf.bottleneck_rank_, clf.layer_ranks_[-1], clf.jacobian_rank_) == (2, 1, 1)
    assert any("bottleneck_rank_=2 but both of the function's own readings are lower: "
               "its outputs vary over the data in 1 direction" in m for m in said), said


def test_the_outputs_rule_needs_both_readings_below_and_is_the_classifiers_alone():
    """Both the outputs' image and the Jacobian below the bottleneck warn a
    classifier; either alone does not (digits' folds read 4 with their outputs 3
    and their Jacobian 4), nor does an autoencoder ('above': a projection's
    Jacobian is below its bottleneck by design)."""
    import warnings
    from dataclasses import replace

    from skrank._base import _output_and_jacobian_below, _unclear

    X, y = np.random.RandomState(0).randn(60, 3), np.repeat([0, 1, 2], 20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = DeepL2Classifier(**FAST).fit(X, y).diagnose(X)

    def read(bn, out, jac):
        ranks = np.array([bn] * (len(report.bottleneck.weight_ranks) - 1) + [out])
        return replace(report, jacobian_rank=jac, network_jacobian_rank=jac, fidelity=1.0,
                       bottleneck=replace(report.bottleneck, rank=bn, weight_ranks=ranks,
                                          reading=None))

    assert _output_and_jacobian_below(read(3, 2, 2))
    for bn, out, jac in [(3, 2, 3), (3, 3, 2), (3, 2, 0), (2, 2, 1)]:
        assert not _output_and_jacobian_below(read(bn, out, jac)), (bn, out, jac)
    said = _unclear(read(3, 2, 2), 0.1, "bottleneck_rank_", "outputs")
    assert said.startswith("bottleneck_rank_=3 but both of the function's own readings")
    assert _unclear(read(3, 2, 2), 0.1, "bottleneck_rank_", "above") is None


def test_a_reading_above_n_classes_minus_one_warns():
    # the class probabilities ignore a shift shared by all logits, so n_classes - 1
    # centered logits carry the function: three classes read 3 with gaps of 4 to
    # 6, silently (the bound was min(n_features, n_classes))
    import warnings

    from sklearn.datasets import make_moons

    from skrank import AmbiguousRankWarning

    X, y = make_moons(200, noise=0.1, random_state=0)
    clf = DeepL2Classifier(depth=3, width=16, max_iter=60, random_state=0)
    with pytest.warns(AmbiguousRankWarning,
                      match=r"bottleneck_rank_=2 is above min\(n_features, n_classes - 1\) "
                            r"= 1: the class probabilities .* the function's rank is "
                            r"at most 1\. "):
        clf.fit(X, y)
    with pytest.warns(AmbiguousRankWarning, match=r"report.rank=2 is above min\(n_fea"):
        clf.diagnose(X)
    # a reading at the bound says nothing of it
    deeper = DeepL2Classifier(depth=4, width=16, max_iter=100, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        deeper.fit(X, y)
    assert deeper.bottleneck_rank_ == 1
    assert not [w for w in caught if "is above" in str(w.message)]
    # three classes: two centered logits, or fewer inputs
    rng = np.random.RandomState(0)
    for n_features, bound in ((5, 2), (1, 1)):
        X3 = rng.randn(60, n_features)
        three = DeepL2Classifier(depth=3, width=8, max_iter=5, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            three.fit(X3, np.arange(60) % 3)
        assert three._function_bound()[0] == bound


def test_probabilities_calibrate_in_calibrated_classifier_cv():
    # the documented remedy for probabilities too confident on noisy labels
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.metrics import log_loss

    rng = np.random.RandomState(0)
    X = rng.randn(240, 4)
    y = (rng.rand(240) < 1 / (1 + np.exp(-3 * X[:, 0]))).astype(int)
    raw = DeepL2Classifier(**FAST).fit(X[:160], y[:160])
    calibrated = CalibratedClassifierCV(DeepL2Classifier(**FAST), cv=3).fit(X[:160], y[:160])
    p = calibrated.predict_proba(X[160:])
    assert p.shape == (80, 2) and np.allclose(p.sum(1), 1)
    assert log_loss(y[160:], p) < log_loss(y[160:], raw.predict_proba(X[160:]))
