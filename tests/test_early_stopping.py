"""Early stopping: the held-out rule, ``early_stopping='auto'`` and the fit it keeps."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import check_scoring
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler

from skrank import (
    AmbiguousRankWarning,
    BottleneckAutoencoder,
    DeepL2Classifier,
    DeepL2Regressor,
    RankAwareDepthSelector,
    ResNetL2Regressor,
)
from skrank._base import (
    AUTO_VALIDATION_ROWS,
    _batchable,
    _better,
    _class_quotas,
    _row_groups,
    _stratified_unseen_split,
    _unseen_split,
    fit_many,
)
from skrank._engine import Plateau, TrainingResult

from ._estimators import small


class _Run:
    """What :class:`Plateau` reads of a run."""

    def __init__(self, scores=None):
        self.result = TrainingResult()
        self.result.validation_scores = scores if scores is not None else []


def _stops_at(values, *, validation, n=20, tol=1e-4):
    """The iteration at which a plateau rule stops on ``values`` (scores when
    ``validation``, else objectives), or None."""
    plateau = Plateau(tol, n, smooth=validation)
    run = _Run([] if validation else None)
    plateau.on_phase(run)
    for i, v in enumerate(values):
        if validation:
            run.result.validation_scores.append(v)
        if plateau.on_iteration(run, None if validation else v):
            return i
    return None


def test_validation_rule_watches_the_regret_near_a_perfect_fit():
    """R^2 = 1 - 0.05 * 0.98^t: the regret falls 2% per iteration, a steady
    relative gain, so training goes on; watched as ``-R^2`` (a cost near -1) the
    same fall looked like a plateau after about a hundred iterations."""
    scores = 1 - 0.05 * 0.98 ** np.arange(400)
    assert _stops_at(scores, validation=True) is None


def test_validation_rule_ignores_one_lucky_score():
    """One held-out score far above the trend (a lucky draw) must not stop a fit
    whose scores keep improving: the rule reads window means, and the least of a
    window of raw scores would stand on the lucky one for hundreds of iterations."""
    regret = 0.5 * 0.99 ** np.arange(300)
    regret[5] = 0.01
    assert _stops_at(1 - regret, validation=True) is None


@pytest.mark.parametrize("lucky_at", [0, 30])
def test_validation_rule_ignores_a_lucky_score_anywhere(lucky_at):
    """A perfect score on the very first iteration, or one far into the run, is a
    draw of the few held-out rows, not a plateau: the steadily falling regret
    keeps the fit going."""
    regret = 0.5 * 0.99 ** np.arange(300)
    regret[lucky_at] = 0.0 if lucky_at == 0 else 0.01
    assert _stops_at(1 - regret, validation=True) is None


def test_validation_rule_stops_when_the_held_out_regret_rises():
    rng = np.random.default_rng(0)
    regret = 0.4 + 0.002 * np.arange(400) + 0.05 * rng.uniform(-1, 1, 400)
    stop = _stops_at(1 - regret, validation=True)
    assert stop is not None and stop < 150


def test_objective_rule_is_unchanged_by_validation_smoothing():
    """Without held-out rows the objective is watched raw: a flat objective stops
    after one window."""
    assert _stops_at(np.ones(100), validation=False) == 20


@pytest.fixture(scope="module")
def one_output():
    rng = np.random.RandomState(0)
    X = rng.randn(260, 3)
    return X, np.sin(X[:, 0]) + 0.3 * rng.randn(260)


FAST = small(max_iter=20, random_state=0)


@pytest.mark.parametrize("cls", [DeepL2Regressor, ResNetL2Regressor])
def test_auto_holds_rows_out_for_one_output(cls, one_output):
    X, y = one_output
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = cls(**FAST, early_stopping="auto").fit(X, y)
        assert est.early_stopping_ is True
        assert est.validation_scores_ is not None and len(est.validation_scores_) > 0
        assert np.isfinite(est.best_validation_score_)
        # the same with y as one column
        assert cls(**FAST, early_stopping="auto").fit(X, y[:, None]).early_stopping_ is True


@pytest.mark.parametrize("cls", [DeepL2Regressor, ResNetL2Regressor])
def test_auto_trains_on_every_row_with_several_outputs(cls, one_output):
    X, y = one_output
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = cls(**FAST, early_stopping="auto").fit(X, np.column_stack([y, -y]))
    assert est.early_stopping_ is False and est.validation_scores_ is None


def test_defaults_hold_rows_out_for_the_regressor_only(one_output):
    """The residual network trains on every row by default: its blocks grow
    slowly, the held-out score stalls on the way, and the plateau rule stopped
    clean single-output fits at test R^2 0.63-0.88 where every row gave 0.99."""
    X, y = one_output
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = DeepL2Regressor(**FAST).fit(X, y)
        res = ResNetL2Regressor(**FAST).fit(X, y)
    assert reg.early_stopping == "auto" and reg.early_stopping_ is True
    assert res.early_stopping is False and res.early_stopping_ is False
    assert res.validation_scores_ is None


def test_auto_needs_enough_rows_to_hold_out(one_output):
    X, y = one_output
    n_enough = int(np.ceil((AUTO_VALIDATION_ROWS - 0.5) / 0.1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        few = DeepL2Regressor(**FAST).fit(X[: n_enough - 1], y[: n_enough - 1])
        enough = DeepL2Regressor(**FAST).fit(X[:n_enough], y[:n_enough])
        fraction = DeepL2Regressor(**FAST, validation_fraction=0.2).fit(
            X[: n_enough - 1], y[: n_enough - 1])
    assert few.early_stopping_ is False and few.validation_scores_ is None
    assert enough.early_stopping_ is True
    assert fraction.early_stopping_ is True


@pytest.mark.parametrize("value", [True, False])
def test_a_boolean_is_obeyed(value, one_output):
    X, y = one_output
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = DeepL2Regressor(**FAST, early_stopping=value).fit(
            X, np.column_stack([y, -y]))
    assert est.early_stopping_ is value
    assert (est.validation_scores_ is not None) is value


def test_the_classifier_trains_on_every_row_by_default(one_output):
    """Held-out rows cost 4-9 points of test accuracy on the paper's clean shifted
    S curves: the classifier's default stays False ('auto' is an option)."""
    X, y = one_output
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = DeepL2Classifier(**FAST).fit(X, y > np.median(y))
    assert clf.early_stopping is False and clf.early_stopping_ is False


def test_auto_holds_rows_out_for_a_classifier_with_any_class_count(one_output):
    X, y = one_output
    labels = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for target in (labels > 0, labels):
            clf = DeepL2Classifier(**FAST, early_stopping="auto").fit(X, target)
            assert clf.early_stopping_ is True
            assert clf.validation_scores_ is not None
        few = DeepL2Classifier(**FAST, early_stopping="auto").fit(X[:150], labels[:150])
    assert few.early_stopping_ is False


def test_auto_keeps_every_row_when_a_class_cannot_be_stratified(one_output):
    """A class with one row could land in the held-out rows alone and never be
    learned: 'auto' then trains on every row (True still holds rows out)."""
    X, y = one_output
    labels = (y > np.median(y)).astype(int)
    labels[0] = 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auto = DeepL2Classifier(**FAST, early_stopping="auto").fit(X, labels)
        asked = DeepL2Classifier(**FAST, early_stopping=True).fit(X, labels)
    assert auto.early_stopping_ is False
    assert asked.early_stopping_ is True


def test_the_autoencoder_has_no_auto():
    """Its held-out rows calibrate the denoising step: held out only when asked."""
    X = np.random.RandomState(0).randn(30, 3)
    assert BottleneckAutoencoder().early_stopping is False
    with pytest.raises(ValueError, match="early_stopping"):
        BottleneckAutoencoder(early_stopping="auto").fit(X)


def test_partial_fit_holds_no_rows_out(one_output):
    X, y = one_output
    est = DeepL2Regressor(**FAST, solver="adam").partial_fit(X, y)
    assert est.early_stopping_ is False and est.validation_scores_ is None


def _result(objective, score):
    res = TrainingResult()
    res.loss_curve = [objective]
    res.best_validation_score = score
    return res


def test_the_fit_kept_is_the_better_on_held_out_rows():
    """Between the random and the grown start, an early-stopped fit is judged by
    its validation score (its parameters are those of the best score, not of
    the last objective)."""
    assert _better(_result(0.5, 0.9), _result(0.3, 0.8))
    assert not _better(_result(0.3, 0.8), _result(0.5, 0.9))
    # without held-out rows, the objective decides
    assert _better(_result(0.3, None), _result(0.5, None))
    assert not _better(_result(0.5, None), _result(0.3, None))
    # a tie in score (accuracy on a few rows) goes to the lower objective
    assert _better(_result(0.3, 0.9), _result(0.5, 0.9))
    assert not _better(_result(0.5, 0.9), _result(0.3, 0.9))


def test_a_fit_above_the_zero_network_loses_whatever_its_held_out_score():
    assert not _better(_result(0.5, 0.9), _result(0.3, 0.1), new_stuck=True)
    assert _better(_result(0.3, 0.1), _result(0.5, 0.9), old_stuck=True)
    assert _better(_result(0.3, 0.8), _result(0.5, 0.9), new_stuck=True,
                   old_stuck=True) is False


def test_a_fit_without_a_finite_score_has_none_to_show():
    assert _better(_result(0.5, 0.1), _result(0.3, float("nan")))
    assert not _better(_result(0.5, float("nan")), _result(0.3, 0.1))
    # neither has one: the objective decides
    assert _better(_result(0.3, float("nan")), _result(0.5, float("nan")))


@pytest.mark.parametrize("n_init", [2, 3])
def test_a_restart_above_the_zero_network_loses_whatever_its_score(one_output,
                                                                   monkeypatch,
                                                                   n_init):
    import skrank._base as base_module

    X, y = one_output
    real = base_module.train_started

    def first_stuck(*args, **kwargs):
        modules, results = real(*args, **kwargs)
        results[0].best_validation_score = 1.0
        results[0].loss_curve = results[0].loss_curve + [1e6]
        return modules, results

    monkeypatch.setattr(base_module, "train_started", first_stuck)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = DeepL2Regressor(**FAST, n_init=n_init).fit(X, y)
    assert est.early_stopping_ and est.best_restart_ != 0
    assert est.loss_curve_[-1] < 1e6


def test_auto_needs_a_row_left_to_train_on(one_output):
    X, y = one_output
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = DeepL2Regressor(**FAST, validation_fraction=0.99).fit(X[:20], y[:20])
    assert est.early_stopping_ is False


def test_auto_keeps_the_grown_fit_over_a_random_one_stuck_above_zero(one_output,
                                                                     monkeypatch):
    """init='auto', early-stopped on several outputs (where both starts are
    trained): the random fit is made to score best on the held-out rows while
    ending far above the zero network's objective; the grown fit is kept."""
    import skrank._base as base_module

    X, y = one_output
    y = np.c_[y, y ** 2]
    real = base_module.train_grown

    def stuck_random(*args, **kwargs):
        modules, results = real(*args, **kwargs)
        for r in results:
            r.best_validation_score, r.loss_curve = 1.0, r.loss_curve + [1e6]
        return modules, results

    monkeypatch.setattr(base_module, "train_grown", stuck_random)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = DeepL2Regressor(**FAST, early_stopping=True).fit(X, y)
    assert est.early_stopping_
    assert est.loss_curve_[-1] < 1e6


def test_restarts_tied_on_held_out_score_keep_the_lowest_objective(monkeypatch):
    """``n_init``: the restart of best held-out score, the lowest objective among
    those tied (accuracy on a few held-out rows often ties)."""
    from sklearn.datasets import make_moons

    import skrank._base as base

    X, y = make_moons(250, noise=0.05, random_state=0)
    real = base.train_started

    def tied(*args, **kwargs):
        modules, results = real(*args, **kwargs)
        for r in results:
            r.best_validation_score = 1.0
        return modules, results

    monkeypatch.setattr(base, "train_started", tied)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = DeepL2Classifier(**small(depth=3, max_iter=30, random_state=2),
                               early_stopping="auto",
                               n_init=4).fit(X, y)
    assert clf.early_stopping_
    objectives = clf.restart_objectives_
    assert len(set(objectives.round(8))) == 4
    assert clf.best_restart_ == int(np.argmin(objectives))


def test_sweep_batches_early_stopped_folds_as_separate_fits(one_output, monkeypatch):
    """One output: every fold holds rows out ('auto'); the folds train in one
    batched run, which gives each fold the score and rank of a separate fit."""
    import skrank._base as base_module

    X, y = one_output
    X, y = np.vstack([X, X[:80] + 0.01]), np.concatenate([y, y[:80]])
    base = DeepL2Regressor(**small(depth=3, max_iter=30, dtype="float64",
                                   random_state=0))
    cv = KFold(3, shuffle=True, random_state=0)
    batched, real = [], base_module._batchable
    monkeypatch.setattr(base_module, "_batchable",
                        lambda *a: batched.append(real(*a)) or batched[-1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = RankAwareDepthSelector(base, depths=[3], cv=cv, refit=False,
                                     warm_start=False).fit(X, y)
    assert batched == [True]
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scorer = check_scoring(base)
        scores, ranks = [], []
        for tr, te in cv.split(X):
            est = clone(base).fit(X[tr], y[tr])
            assert est.early_stopping_ is True
            scores.append(scorer(est, X[te], y[te]))
            ranks.append(est.bottleneck_rank_)
    assert sel.depth_results_["rank_per_fold"][0].tolist() == ranks
    assert sel.depth_results_["mean_test_score"][0] == pytest.approx(np.mean(scores),
                                                                     rel=1e-7)


@pytest.mark.slow
def test_auto_beats_training_on_every_row_on_noisy_one_output_data():
    """A held-out generator (not in skrank.datasets): one output, noise as large
    as the signal. Without held-out rows a deep network fits the noise."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((700, 6))
    signal = np.tanh(X @ rng.standard_normal(6) / 2) + 0.5 * np.sin(2 * X[:, 1])
    y = signal + signal.std() * rng.standard_normal(700)
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auto = DeepL2Regressor(random_state=0).fit(X[:400], y[:400])
        every_row = DeepL2Regressor(random_state=0, early_stopping=False).fit(
            X[:400], y[:400])
    assert auto.early_stopping_
    assert auto.score(X[400:], y[400:]) > every_row.score(X[400:], y[400:]) + 0.1


def test_the_selector_resolves_auto_once_for_every_fold_and_the_refit(one_output,
                                                                      monkeypatch):
    """'auto' holds rows out in a selector only when every training fold would by
    its own rule; the refit follows the folds. 270 rows, 3 folds: each fold's 180
    training rows would hold out 18 (< 20): no fit holds rows out, though a plain
    fit on the 270 rows would. 330 rows: every fold holds 22 out, the refit too."""
    import skrank.model_selection as ms

    X, y = one_output
    seen, real = [], ms.fit_many

    def spy(ests, data, labels=None):
        out = real(ests, data, labels)
        seen.append([e.early_stopping_ for e in out])
        return out

    monkeypatch.setattr(ms, "fit_many", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n, expected in ((270, False), (330, True)):
            X_n = np.vstack([X, X[: n - 260] + 0.01])
            y_n = np.concatenate([y, y[: n - 260]])
            sel = RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[2], cv=3,
                                         warm_start=False).fit(X_n, y_n)
            assert seen[-1] == [expected] * 3
            assert sel.best_estimator_.early_stopping_ is expected
            assert sel.estimator.early_stopping == "auto"  # the user's, untouched
        assert DeepL2Regressor(**FAST).fit(X_n[:270], y_n[:270]).early_stopping_


def test_the_selector_leaves_auto_off_where_a_weighted_fold_is_too_small(one_output):
    """Rows of weight 0 do not count: 16 weighted rows of 400 hold nothing out, in
    a plain fit and in every fold of a sweep (each fold's 200 rows would hold out
    20, its 8 weighted ones not even 2)."""
    X, y = one_output
    X, y = np.vstack([X, X + 0.01])[:400], np.concatenate([y, y])[:400]
    w = np.zeros(400)
    w[::25] = 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert not DeepL2Regressor(**FAST).fit(X, y, sample_weight=w).early_stopping_
        sel = RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[2], cv=2).fit(
            X, y, sample_weight=w)
        # the same weights to a Pipeline's network step: the key was not read, and
        # the sweep and its refit held rows out
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        pipe = make_pipeline(StandardScaler(), DeepL2Regressor(**FAST))
        piped = RankAwareDepthSelector(pipe, depths=[2], cv=2).fit(
            X, y, deepl2regressor__sample_weight=w)
    assert sel.best_estimator_.early_stopping_ is False
    assert piped.best_estimator_[-1].early_stopping_ is False


def test_a_classifier_fold_that_cannot_be_stratified_keeps_every_row(one_output):
    """The full data can be stratified (two rows of class 2) but a training fold
    of StratifiedKFold(5) may hold one: the sweep then holds no rows out."""
    from sklearn.model_selection import StratifiedKFold

    X, y = one_output
    labels = (y > np.median(y)).astype(int)
    labels[[0, 1]] = 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = RankAwareDepthSelector(DeepL2Classifier(**FAST, early_stopping="auto"),
                                     depths=[2],
                                     cv=StratifiedKFold(5)).fit(X, labels)
    assert sel.best_estimator_.early_stopping_ is False


def test_a_warm_refit_is_judged_on_the_rows_held_out_before(one_output):
    """With an integer random_state the held-out rows do not depend on n_init or
    on a warm start: a warm refit on the same data is not validated on rows the
    network was trained on."""
    X, y = one_output
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = DeepL2Regressor(**FAST, n_init=2).fit(X, y)
        first = est.validation_scores_.copy()
        rows = []
        for n_init, warm in ((2, False), (1, False), (2, True)):
            e = DeepL2Regressor(**FAST, n_init=n_init, warm_start=warm)
            if warm:
                e = est.set_params(warm_start=True)
            plan = e._plan(X, y, None)
            rows.append(np.sort(plan.X_held[:, 0]))
    assert len(first) > 0
    for r in rows[1:]:
        np.testing.assert_array_equal(r, rows[0])


def test_fit_many_gives_each_early_stopped_fold_a_separate_fit(one_output):
    """Folds batched by ``fit_many`` each hold their own rows out and keep the
    network of their own best held-out score, as a separate fit would."""
    X, y = one_output
    # 340 rows: each fold trains on 226 and holds 22 of them out
    X, y = np.vstack([X, X[:80] + 0.01]), np.concatenate([y, y[:80]])
    base = DeepL2Regressor(**small(depth=3, max_iter=30, dtype="float64",
                                   random_state=0))
    folds = [(X[tr], y[tr]) for tr, _ in KFold(3, shuffle=True,
                                               random_state=0).split(X)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batched = fit_many([clone(base) for _ in folds], folds)
        separate = [clone(base).fit(Xf, yf) for Xf, yf in folds]
    for b, s in zip(batched, separate):
        assert b.early_stopping_ and len(b.validation_scores_) > 0
        assert b.best_validation_score_ == pytest.approx(s.best_validation_score_,
                                                         rel=1e-7)
        assert b.loss_curve_[-1] == pytest.approx(s.loss_curve_[-1], rel=1e-7)


def test_fit_many_batches_early_stopped_fits_beside_fits_on_every_row(one_output):
    X, y = one_output
    X, y = np.vstack([X, X[:80] + 0.01]), np.concatenate([y, y[:80]])
    ests = [DeepL2Regressor(**small(depth=3, max_iter=30, dtype="float64",
                                    random_state=0), early_stopping=e)
            for e in (True, False)]
    plans = [e._plan(X, y, None) for e in ests]
    assert _batchable(plans, ests)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batched = fit_many([clone(e) for e in ests], [(X, y)] * 2)
        separate = [clone(e).fit(X, y) for e in ests]
    assert batched[0].best_validation_score_ == pytest.approx(
        separate[0].best_validation_score_, rel=1e-7)
    assert batched[1].validation_scores_ is None
    for b, s in zip(batched, separate):
        assert b.loss_curve_[-1] == pytest.approx(s.loss_curve_[-1], rel=1e-7)


def test_auto_keeps_every_row_when_the_held_out_rows_cannot_hold_every_class():
    """30 classes of 8 rows: a tenth held out is 24 rows, fewer than the classes,
    so no stratified split exists and 'auto' trains on every row."""
    rng = np.random.RandomState(0)
    labels = np.repeat(np.arange(30), 8)
    X = rng.randn(240, 2) + labels[:, None] * 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = DeepL2Classifier(**FAST, early_stopping="auto").fit(X, labels)
    assert clf.early_stopping_ is False
    assert clf.predict(X).shape == (240,)


def test_asked_early_stopping_splits_at_random_where_it_cannot_stratify():
    """``early_stopping=True`` with 90% held out of 20 rows leaves two training
    rows, which no stratified split can give all three classes: the split falls
    back to random rows and the fit still runs (two classes drawn)."""
    rng = np.random.RandomState(0)
    X, labels = rng.randn(20, 2), np.repeat([0, 1, 2], [8, 6, 6])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = DeepL2Classifier(**FAST, early_stopping=True,
                               validation_fraction=0.9).fit(X, labels)
    assert clf.early_stopping_ is True and len(clf.validation_scores_) > 0
    assert set(clf.predict(X)) <= {0, 1, 2}


def test_a_fit_without_iterations_is_not_stuck():
    """A result with no objective recorded (nothing trained yet) is not judged
    above the zero network."""
    from skrank._base import _stuck_test
    from skrank._tasks import Regression

    Y = torch.ones(10, 1)
    stuck = _stuck_test(Regression().loss, Y, None, 1, torch.float32, False)
    assert stuck(0, TrainingResult()) is False
    result = TrainingResult()
    result.loss_curve = [1e6]
    assert stuck(0, result) is True


def test_a_held_out_split_leaves_no_copy_of_a_held_out_row_in_training():
    """Rows repeated in the data are held out with all their copies or not at all
    (a row whose copy was trained on scores the fit of the training rows), never
    more than asked: a record repeated 80 times of 100 stays in training. Without
    repeats the split is the permutation cut as before; one row repeated
    throughout has no split free of copies and is cut as before."""
    rng = np.random.RandomState(0)
    distinct = rng.randn(40, 3)
    X = np.r_[distinct, distinct[:25], distinct[:10]]
    perm = rng.permutation(len(X))
    val, tr = _unseen_split(X, perm, 8)
    assert 2 <= len(val) <= 8 and len(val) + len(tr) == len(X)
    assert not {tuple(r) for r in X[val]} & {tuple(r) for r in X[tr]}
    # in the permutation's order: its first row is held out
    assert perm[0] in val and list(val) == [i for i in perm if i in set(val)]
    val, tr = _unseen_split(distinct, perm[perm < 40], 8)
    np.testing.assert_array_equal(val, perm[perm < 40][:8])
    same = np.ones((10, 3))
    val, tr = _unseen_split(same, np.arange(10), 2)
    assert list(val) == [0, 1] and len(tr) == 8
    dominant = np.r_[np.zeros((80, 3)), distinct[:20]]
    val, tr = _unseen_split(dominant, rng.permutation(100), 10)
    assert len(val) == 10 and not (dominant[val] == 0).all(axis=1).any()


def _same_partition(a, b):
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


@pytest.mark.parametrize("kind", ["gauss", "signs", "integers", "digits", "opposite"])
def test_row_groups_are_the_partition_into_equal_rows(kind):
    import itertools

    from sklearn.datasets import load_digits

    rng = np.random.RandomState(3)
    distinct = {
        "gauss": rng.randn(50, 7),
        # rows differing by an even number of sign flips, words equal in their low bits
        "signs": np.array(list(itertools.product([-1.0, 1.0], repeat=8))),
        "integers": rng.randint(0, 17, size=(400, 6)).astype(float),
        "digits": load_digits().data[:300],
        "opposite": np.array([[1.0, 2.0], [-1.0, -2.0], [2.0, 1.0]]),
    }[kind]
    rows = np.r_[distinct, distinct[:20], distinct[1:3], np.zeros((3, distinct.shape[1]))]
    rows[-1, 0] = -0.0  # equal to 0.0, as np.unique reads it
    rows = rows[rng.permutation(len(rows))]
    groups = _row_groups(rows, chunk_values=64)  # chunks: keys do not depend on them
    _, expected = np.unique(rows, axis=0, return_inverse=True)
    assert _same_partition(groups, expected.ravel())
    np.testing.assert_array_equal(_row_groups(rows), groups)


def test_row_groups_fall_back_to_the_exact_sort_on_a_collision(monkeypatch):
    import skrank._base as base

    rows = np.random.RandomState(0).randn(30, 4)
    rows = np.r_[rows, rows[:5]]
    monkeypatch.setattr(base, "_mix64", lambda z: np.zeros_like(z))  # one key for all
    _, expected = np.unique(rows, axis=0, return_inverse=True)
    assert _same_partition(base._row_groups(rows), expected.ravel())


def test_a_stratified_split_holds_out_whole_copies_of_every_class():
    """The classifier's split: each class keeps its share of held-out rows (at
    least one) and no held-out record has a copy in training, with a record of
    the majority class repeated 40 times; a class of one record repeated has no
    copy-free split and holds out some copies."""
    rng = np.random.RandomState(0)
    X = np.r_[np.zeros((40, 2)), rng.randn(60, 2), rng.randn(20, 2)]
    X = np.r_[X, X[40:70]]                  # 30 records of class 0 twice
    labels = np.r_[np.zeros(100), np.ones(20), np.zeros(30)]
    rows = np.c_[X, labels]
    val, tr = _stratified_unseen_split(rows, labels, rng, 15)
    assert len(val) + len(tr) == len(rows) and not set(val) & set(tr)
    assert not {tuple(r) for r in rows[val]} & {tuple(r) for r in rows[tr]}
    assert 12 <= len(val) <= 15 and (labels[val] == 1).sum() == 2
    assert not (X[val] == 0).all(axis=1).any()
    # a rare class: its one held-out row is a record without copies
    rare = np.r_[np.c_[np.ones((8, 2)), np.ones(8)], np.c_[rng.randn(4, 2), np.ones(4)],
                 np.c_[rng.randn(60, 2), np.zeros(60)]]
    for seed in range(5):
        val, tr = _stratified_unseen_split(rare, rare[:, -1], np.random.RandomState(seed), 6)
        assert (rare[val, -1] == 1).sum() == 1 and (rare[val, 0] != 1).all()
    # shares add up to n_val, at least one per class: five small classes beside
    # a large one (rounding each share up held out 10 of 6)
    counts = np.array([3, 3, 3, 3, 3, 40])
    quota = _class_quotas(counts, 6)
    assert quota.sum() == 6 and (quota >= 1).all() and (quota <= counts - 1).all()
    assert _class_quotas(np.array([50, 30, 20]), 10).tolist() == [5, 3, 2]
    one = np.r_[np.c_[np.ones((6, 2)), np.ones(6)], np.c_[rng.randn(30, 2), np.zeros(30)]]
    val, tr = _stratified_unseen_split(one, one[:, -1], rng, 6)
    assert (one[val, -1] == 1).sum() == 1 and (one[tr, -1] == 1).sum() == 5


def test_the_classifier_holds_out_every_copy_of_a_held_out_row():
    """The wiring of the classifier's stratified split on data with copies."""
    rng = np.random.RandomState(2)
    distinct = rng.randn(60, 3)
    X = np.r_[distinct, distinct, distinct[:30]]
    y = (X[:, 0] > 0).astype(int)
    plan = DeepL2Classifier(**FAST, early_stopping=True)._plan(X, y, None)
    held = {tuple(r) for r in plan.X_held}
    assert len(held) >= 5 and not held & {tuple(r) for r in plan.X_tr}


@pytest.mark.parametrize("make", [
    lambda: DeepL2Regressor(**FAST, early_stopping=True),
    lambda: BottleneckAutoencoder(**FAST, data_noise=0.1),
])
def test_fits_hold_out_every_copy_of_a_held_out_row(make):
    """The wiring: early stopping's held-out rows and the autoencoder's
    calibration rows (Stein's estimate) share no row with the training rows when
    the data repeat rows; a replicate (one input, another target) is a row of
    its own."""
    rng = np.random.RandomState(1)
    distinct = rng.randn(60, 4)
    X = np.r_[distinct, distinct, distinct[:30]]
    y = X[:, :2].sum(axis=1)
    plan = make()._plan(X, y, None)
    held = {tuple(r) for r in plan.X_held}
    assert held and not held & {tuple(r) for r in plan.X_tr}
    if isinstance(make(), DeepL2Regressor):
        binary = np.repeat([[0.0], [1.0]], 50, axis=0)
        plan = make()._plan(binary, 3 * binary[:, 0] + rng.randn(100), None)
        assert len(plan.X_held) == 10 and len(set(plan.X_tr[:, 0])) == 2
        pairs = np.repeat(distinct[:50], 2, axis=0)  # each input measured twice
        plan = make()._plan(pairs, pairs[:, 0] + rng.randn(100), None)
        assert {tuple(r) for r in plan.X_held} & {tuple(r) for r in plan.X_tr}


def _fit_recording(est, X, y):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(X, y)
    return [str(w.message) for w in caught if issubclass(w.category, AmbiguousRankWarning)]


@pytest.mark.parametrize("seed", [0, 1])
def test_held_out_rows_no_better_than_their_mean_say_the_rank_is_of_noise(seed):
    """Targets that do not depend on X: the single-output fit reads rank 1, and
    only its held-out rows tell that it predicts nothing."""
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((240, 5)), rng.standard_normal(240)
    reg = DeepL2Regressor(depth=4, width=16, random_state=seed)
    messages = _fit_recording(reg, X, y)
    assert reg.early_stopping_ and reg.bottleneck_rank_ == 1
    assert reg.best_validation_score_ <= 0
    said = [m for m in messages if "no better than their mean" in m]
    # what it rests on: the 24 rows of 240 held out, whose score swings by chance
    # (an audit's diabetes folds of test R^2 0.50 and 0.57 scored 0 or less)
    assert len(said) == 1 and said[0].startswith("The 24 rows held out")
    assert "swings by chance with the rows it is read on" in said[0]


def test_the_noise_warning_is_told_beside_another_rank_warning():
    """A review's noise fit read rank 2, above the bound of one output: that
    warning says the function has rank at most 1, as if one had been fitted."""
    rng = np.random.default_rng(50011)
    X = StandardScaler().fit_transform(rng.standard_normal((350, 10)))
    rng.standard_normal((2000, 10))  # the review's test rows: its y came after them
    y = rng.standard_normal(350)
    reg = DeepL2Regressor(random_state=11)
    messages = _fit_recording(reg, X, y)
    assert reg.bottleneck_rank_ == 2 and reg.best_validation_score_ <= 0
    assert any("is above min(n_features, n_outputs)" in m for m in messages)
    assert any("no better than their mean" in m for m in messages)


def test_held_out_rows_a_fit_predicts_raise_no_noise_warning():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((240, 5))
    y = np.tanh(X[:, 0] + X[:, 1]) + 0.3 * rng.standard_normal(240)
    reg = DeepL2Regressor(depth=4, width=16, random_state=0)
    messages = _fit_recording(reg, X, y)
    assert reg.early_stopping_ and reg.best_validation_score_ > 0.5
    assert not any("no better than their mean" in m for m in messages)


def test_without_held_out_rows_the_noise_warning_has_nothing_to_read():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((240, 5)), rng.standard_normal(240)
    reg = DeepL2Regressor(depth=4, width=16, random_state=0, early_stopping=False)
    messages = _fit_recording(reg, X, y)
    assert reg.best_validation_score_ is None
    assert not any("no better than their mean" in m for m in messages)


def test_a_constant_fit_of_noise_is_told_once():
    """Rank 0 has its own warning (the network is constant); the noise warning,
    about a rank read from a fit of noise, does not add to it."""
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((240, 5)), rng.standard_normal(240)
    reg = DeepL2Regressor(depth=4, width=16, random_state=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg.fit(X, y)
    assert reg.bottleneck_rank_ == 0 and reg.best_validation_score_ <= 0
    messages = [str(w.message) for w in caught]
    assert any("is constant on the training rows" in m for m in messages)
    assert not any("no better than their mean" in m for m in messages)


@pytest.mark.parametrize("kind, warns", [("real", True), ("labels", False),
                                         ("inputs", False)])
def test_the_noise_warning_reads_r2_scores_only(kind, warns):
    """A classifier's held-out score is an accuracy, whose floor is not 0."""
    from types import SimpleNamespace

    from skrank._base import _warn_if_unpredictive

    est = SimpleNamespace(_task=SimpleNamespace(kind=kind), bottleneck_rank_=1,
                          best_validation_score_=0.0, validation_fraction=0.1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _warn_if_unpredictive(est, 24) is warns
    assert len(caught) == int(warns)


@pytest.mark.parametrize("best, warns", [(float("nan"), False), (None, False),
                                         (1e-9, False), (-0.5, True)])
def test_the_noise_warning_needs_a_finite_score_at_most_0(best, warns):
    from types import SimpleNamespace

    from skrank._base import _warn_if_unpredictive

    # the last iterate scores below 0 either way: the kept window's score decides
    est = SimpleNamespace(_task=SimpleNamespace(kind="real"), bottleneck_rank_=2,
                          best_validation_score_=best, validation_fraction=0.1,
                          validation_scores_=np.array([0.5, -0.5]))
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        assert _warn_if_unpredictive(est, 24) is warns


def test_a_heavy_row_held_out_leaves_the_training_weights_to_train_on():
    # the weights were scaled to mean 1 over every row and not again per split:
    # with the row of nearly all the weight held out, the training rows' weights
    # underflowed to 0 in float32 and the fit "diverged" at its first iteration
    from skrank import DivergenceWarning

    X = np.random.default_rng(28).normal(size=(100, 3))
    y = np.digitize(X[:, 0], [-0.5, 0.5])
    held_out = 0
    for heavy in range(10):  # rows 0 and 4 are held out at this seed
        w = np.ones(100)
        w[heavy] = 1e60
        with warnings.catch_warnings():
            warnings.simplefilter("error", DivergenceWarning)
            warnings.simplefilter("ignore")
            clf = DeepL2Classifier(random_state=0, depth=4, width=16, max_iter=10,
                                   early_stopping=True)
            clf.fit(X, y, sample_weight=w)
        assert clf.stop_reason_ != "diverged" and clf.n_iter_ > 0
        # held out, the heavy row does not decide the fit: the rows of weight 1 do
        held_out += clf.score(X, y) > 0.6
    assert held_out >= 1


def test_weights_on_one_class_fit_with_early_stopping_as_without():
    # the split's one class was refused "as fit does", though fit without early
    # stopping fits it (a constant classifier of rank 0)
    X = np.random.default_rng(28).normal(size=(100, 3))
    y = np.digitize(X[:, 0], [-0.5, 0.5])
    w = np.where(y == 0, 1.0, 0.0)
    fits = [DeepL2Classifier(random_state=0, max_iter=30, early_stopping=stop)
            .fit(X, y, sample_weight=w) for stop in (True, False)]
    for clf in fits:
        assert clf.classes_.tolist() == [0, 1, 2]
        assert set(clf.predict(X)) == {0}
        assert clf.bottleneck_rank_ == 0
