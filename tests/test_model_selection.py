import os
import re
import sys
import warnings

import numpy as np
import pytest
import sklearn
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skrank import (
    AmbiguousRankWarning,
    BottleneckAutoencoder,
    DeepL2Classifier,
    DeepL2Regressor,
    RankAwareDepthSelector,
)
from skrank.datasets import make_bottleneck_regression

from ._estimators import small

FAST = {k: v for k, v in small(width=12, max_iter=20, random_state=0).items()
        if k != "depth"}


@pytest.fixture(scope="module")
def small():
    return make_bottleneck_regression(80, n_features=6, n_targets=3, n_latent=4,
                                      random_state=0)


@parametrize_with_checks(
    [RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[2, 3], cv=2)],
    expected_failed_checks=lambda est: {
        "check_methods_subset_invariance": (
            "float32 results differ in the last bit with the batch's row count "
            "(see tests/test_common.py)")},
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_results_table_and_delegation(small):
    X, y = small
    sel = RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[4, 2, 3], cv=3).fit(X, y)
    r = sel.depth_results_
    assert r["depth"].tolist() == [2, 3, 4]
    assert r["rank_per_fold"].shape == (3, 3)
    for key in ("mean_test_score", "std_test_score", "bottleneck_rank",
                "parameter_norm", "norm_per_depth", "mean_fit_time"):
        assert r[key].shape == (3,)
    np.testing.assert_allclose(r["norm_per_depth"], r["parameter_norm"] / r["depth"])
    assert sel.best_depth_ == sel.best_estimator_.depth
    np.testing.assert_array_equal(sel.predict(X), sel.best_estimator_.predict(X))
    np.testing.assert_array_equal(sel.transform(X), sel.best_estimator_.transform(X))
    assert sel.score(X, y) == sel.best_estimator_.score(X, y)


def test_rule_prefers_lowest_rank_within_tolerance():
    sel = RankAwareDepthSelector(DeepL2Regressor(), score_tol=0.05)
    out = []
    for d, score, rank, norm in [(2, 0.90, 5, 10), (4, 0.95, 3, 14), (6, 0.93, 2, 16),
                                 (8, 0.92, 2, 20), (10, 0.80, 1, 22)]:
        out.append(dict(depth=d, score=score, rank=rank, parameter_norm=norm + d,
                        offset_free_norm=norm, fit_time=0))
    sel._summarize(np.array([2, 4, 6, 8, 10]), out, 1)
    # 10 has rank 1 but loses 0.15 in score; 6 and 8 have rank 2: the shallower wins
    assert sel.best_depth_ == 6 and sel.best_rank_ == 2
    # the slope is read on the offset-free norm: (20 - 16) / (8 - 6)
    assert sel.norm_slope_ == pytest.approx(2.0)


def test_norm_slope_is_fitted_to_the_folds_of_the_plateaus_rank():
    # the mean norm mixed folds of other ranks into the plateau's: a noisy rank-2
    # plateau whose folds read 2, 3 and 5 gave a slope of 4.42
    sel = RankAwareDepthSelector(DeepL2Regressor(), score_tol=0.05)
    out = [dict(depth=d, score=0.9, rank=r, parameter_norm=1.0,
                offset_free_norm=10.0 + r * d + (30.0 if r != 2 else 0.0), fit_time=0)
           for d, ranks in [(4, (2, 2, 2)), (6, (2, 3, 2)), (8, (5, 2, 2)),
                            (10, (2, 2, 5))] for r in ranks]
    sel._summarize(np.array([4, 6, 8, 10]), out, 3)
    assert (sel.best_depth_, sel.best_rank_) == (4, 2)
    assert sel.norm_slope_ == pytest.approx(2.0)
    # the folds it is fitted to are in depth_results_ (an audit could not recompute
    # it from the row means, which mix in the other ranks' folds: slope 4.75 here)
    res = sel.depth_results_
    per_fold = res["offset_free_norm_per_fold"]
    assert per_fold.shape == res["rank_per_fold"].shape == (4, 3)
    np.testing.assert_allclose(per_fold.mean(1), res["offset_free_norm"])
    keep = res["rank_per_fold"] == 2
    d = np.broadcast_to(res["depth"][:, None], keep.shape)
    pts = [(d[:, f][keep[:, f]], per_fold[:, f][keep[:, f]]) for f in range(3)]
    dd, nn = (np.concatenate([p[i] - p[i].mean() for p in pts]) for i in (0, 1))
    assert dd @ nn / (dd @ dd) == pytest.approx(sel.norm_slope_)
    assert np.polyfit(res["depth"], res["offset_free_norm"], 1)[0] > 4
    # folds at other levels, each of slope 2, one reading the rank only deeper: a
    # pooled line through all points tilted to 3.75
    ranks = {4: (2, 2, 3), 6: (2, 2, 3), 8: (2, 3, 2), 10: (3, 2, 2)}
    out = [dict(depth=d, score=0.9, rank=r, parameter_norm=1.0,
                offset_free_norm=10.0 * f + 2 * d, fit_time=0)
           for d, rs in ranks.items() for f, r in enumerate(rs)]
    sel._summarize(np.array([4, 6, 8, 10]), out, 3)
    assert sel.norm_slope_ == pytest.approx(2.0)
    # a fold's NaN norm drops that point, not the slope
    out[6]["offset_free_norm"] = float("nan")  # depth 8, fold 1: rank 2
    sel._summarize(np.array([4, 6, 8, 10]), out, 3)
    assert sel.norm_slope_ == pytest.approx(2.0)
    # one depth holds no fold of the plateau's rank: no slope to fit over
    sel._summarize(np.array([4]), out[:3], 3)
    assert np.isnan(sel.norm_slope_)


def test_rank_summary_is_a_rank_some_fold_had():
    sel = RankAwareDepthSelector(DeepL2Regressor())
    out = [dict(depth=4, score=0.9, rank=r, parameter_norm=1.0, offset_free_norm=1.0,
                fit_time=0) for r in (2, 4)]
    sel._summarize(np.array([4]), out, 2)
    assert sel.best_rank_ in (2, 4)


def test_classifier_selection_exposes_classes():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    sel = RankAwareDepthSelector(DeepL2Classifier(**FAST), depths=[2, 3], cv=2).fit(X, y)
    assert list(sel.classes_) == [0, 1, 2]
    np.testing.assert_allclose(sel.predict_proba(X).sum(1), 1)


def test_input_attributes_are_set_without_refit(small):
    pd = pytest.importorskip("pandas")
    X, y = small
    Xdf = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    sel = RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[2], cv=2,
                                 refit=False).fit(Xdf, y)
    assert sel.n_features_in_ == 6
    assert sel.feature_names_in_.tolist() == Xdf.columns.tolist()
    labels = np.where(y[:, 0] > np.median(y[:, 0]), "high", "low")
    clf = RankAwareDepthSelector(DeepL2Classifier(**FAST), depths=[2], cv=2,
                                 refit=False).fit(X, labels)
    assert clf.classes_.tolist() == ["high", "low"] and clf.n_features_in_ == 6
    assert not hasattr(clf, "feature_names_in_")  # no column names in X


def test_a_new_fit_drops_what_an_earlier_fit_set(small):
    pd = pytest.importorskip("pandas")
    X, y = small
    Xdf = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    sel = RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[2], cv=2).fit(Xdf, y)
    assert hasattr(sel, "best_estimator_") and hasattr(sel, "feature_names_in_")
    sel.set_params(refit=False).fit(X[:, :5], y)
    assert not hasattr(sel, "best_estimator_")  # not the earlier fit's network
    assert not hasattr(sel, "feature_names_in_") and sel.n_features_in_ == 5
    with pytest.raises(AttributeError, match="predict") as info:
        sel.predict(X[:, :5])
    assert "refit=False" in str(info.value.__cause__)


def test_without_refit_the_selector_claims_no_method(small):
    # as GridSearchCV(refit=False): duck typing (Pipeline, ColumnTransformer,
    # scorers) must not be told the selector predicts or transforms
    X, y = small
    methods = ("predict", "transform", "fit_transform", "score", "inverse_transform")
    sel = RankAwareDepthSelector(BottleneckAutoencoder(**FAST), depths=[2], cv=2,
                                 refit=False)
    assert not any(hasattr(sel, m) for m in methods)
    sel.fit(X)
    assert not any(hasattr(sel, m) for m in methods)
    assert hasattr(sel.set_params(refit=True), "transform")
    clf = RankAwareDepthSelector(DeepL2Classifier(**FAST), depths=[2], cv=2, refit=False)
    assert not any(hasattr(clf, m) for m in ("predict_proba", "decision_function"))


@pytest.mark.parametrize("alphas", [[0.1, 0.1], [0.0, 1.0, 0], (1.0, 0.5, 1.0)])
def test_duplicate_alphas_are_refused(alphas, small):
    X, y = small
    with pytest.raises(ValueError, match="alphas must be distinct"):
        RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[2], alphas=alphas).fit(X, y)


def test_bad_depths_and_estimators_are_refused(small):
    X, y = small
    with pytest.raises(ValueError, match="distinct positive integers"):
        RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[2, 2]).fit(X, y)
    with pytest.raises(ValueError, match="distinct positive integers"):
        RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[]).fit(X, y)
    # a bool beside ints is an int to numpy: [True, 2] was read as depth 1
    for depths in ([True, 2], [np.True_, 3], [False]):
        with pytest.raises(ValueError, match="distinct positive integers"):
            RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=depths).fit(X, y)
    from sklearn.linear_model import Ridge

    with pytest.raises(ValueError, match="no 'depth' parameter"):
        RankAwareDepthSelector(Ridge(), depths=[2]).fit(X, y)


def test_torch_groups_split_as_their_array(small):
    torch = pytest.importorskip("torch")
    X, y = small
    groups = np.arange(len(X)) % 4
    fits = [RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[2], cv=GroupKFold(2),
                                   refit=False).fit(X, y, groups=g)
            for g in (groups, torch.tensor(groups.astype(float), requires_grad=True))]
    for key in ("bottleneck_rank", "mean_test_score"):
        np.testing.assert_array_equal(fits[0].depth_results_[key], fits[1].depth_results_[key])


@pytest.mark.parametrize("cv", [[], iter([])])
def test_a_cv_without_splits_is_refused(cv, small):
    X, y = small
    with pytest.raises(ValueError, match="No fits were performed"):
        RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[2], cv=cv).fit(X, y)


@pytest.mark.parametrize("alphas", [[], [np.nan], [-0.1], ["strong"], [[0.1, 1.0]]])
def test_bad_alphas_are_refused(alphas, small):
    X, y = small
    with pytest.raises(ValueError, match="alphas must be a non-empty list"):
        RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[2], alphas=alphas).fit(X, y)


def test_a_meta_estimator_that_fits_a_clone(small):
    # TransformedTargetRegressor fits a clone of its regressor (regressor_): the
    # ranks are read from the fitted clone, not the unfitted template
    from sklearn.compose import TransformedTargetRegressor

    X, y = small
    est = TransformedTargetRegressor(regressor=DeepL2Regressor(**FAST))
    sel = RankAwareDepthSelector(est, depths=[2, 3], cv=2).fit(X, y)
    assert sel.best_depth_ in (2, 3)
    assert all(r >= 0 for r in sel.depth_results_["bottleneck_rank"])
    assert sel.best_estimator_.regressor_.depth == sel.best_depth_


def test_a_wrapper_that_hides_its_fitted_copy_is_refused_by_name(small):
    # MultiOutputRegressor keeps its fitted copies as estimators_: the selector read
    # the unfitted template and failed with a raw AttributeError on stop_reason_
    from sklearn.multioutput import MultiOutputRegressor

    X, y = small
    wrapper = MultiOutputRegressor(DeepL2Regressor(**FAST))
    with pytest.raises(TypeError, match="MultiOutputRegressor fits a copy .* Pipeline"), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the sweep's (one output per copy)
        RankAwareDepthSelector(wrapper, depths=[2], cv=2).fit(X, np.c_[y, y])


@pytest.mark.parametrize("inner", ["grid", "randomized", "halving", "selector"])
def test_a_search_or_selector_inside_is_refused_before_any_fit(inner, small,
                                                                monkeypatch):
    """A search keeps its choice as best_estimator_, and a selector inside chooses
    the depth itself: refused by name before fitting (an audit's selector over a
    selector swept and refitted first)."""
    X, y = small
    fits = []
    real = DeepL2Regressor.fit
    monkeypatch.setattr(DeepL2Regressor, "fit",
                        lambda self, *a, **k: fits.append(1) or real(self, *a, **k))
    net = DeepL2Regressor(**FAST)
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingGridSearchCV, RandomizedSearchCV

    grid = {"alpha": [0.01, 0.1]}
    wrapped = {"grid": GridSearchCV(net, grid, cv=2),
               "randomized": RandomizedSearchCV(net, grid, n_iter=2, cv=2),
               "halving": HalvingGridSearchCV(net, grid, cv=2),
               "selector": RankAwareDepthSelector(net, depths=[2, 3], cv=2)}[inner]
    name = type(wrapped).__name__
    with pytest.raises(TypeError, match=f"through a {name}: .* Pipeline ending"):
        RankAwareDepthSelector(wrapped, depths=[2, 3], cv=2).fit(X, y)
    assert fits == []


def test_pipeline_in_gridsearch_over_depth_and_alpha(small):
    X, y = small
    pipe = Pipeline([("scale", StandardScaler()), ("net", DeepL2Regressor(**FAST))])
    grid = GridSearchCV(pipe, {"net__depth": [2, 3], "net__alpha": [0.01, 0.1]},
                        cv=2).fit(X, y)
    assert len(grid.cv_results_["params"]) == 4
    assert grid.predict(X).shape == y.shape


def test_selector_inside_gridsearch_and_pipeline(small):
    X, y = small
    sel = RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[2, 3], cv=2)
    pipe = Pipeline([("scale", StandardScaler()), ("sel", sel)])
    grid = GridSearchCV(pipe, {"sel__estimator__alpha": [0.01, 0.1]}, cv=2).fit(X, y)
    assert grid.best_estimator_["sel"].best_depth_ in (2, 3)
    assert grid.predict(X).shape == y.shape


@pytest.mark.slow
def test_parallel_joblib_equals_sequential(small):
    X, y = small
    seq = RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[2, 3], cv=2).fit(X, y)
    par = RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[2, 3], cv=2,
                                 n_jobs=2).fit(X, y)
    for key in ("mean_test_score", "parameter_norm", "rank_per_fold"):
        np.testing.assert_array_equal(seq.depth_results_[key], par.depth_results_[key])


def _sweep_warnings(X, y, n_jobs):
    """Every warning a capped sweep issues to its caller."""
    sel = RankAwareDepthSelector(DeepL2Regressor(**dict(FAST, max_iter=2)),
                                 depths=[2, 3], cv=2, n_jobs=n_jobs, refit=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sel.fit(X, y)
    return caught


@pytest.mark.slow  # starts worker processes (their imports), about 6 s
def test_worker_process_warnings_reach_the_caller(small):
    # at n_jobs=2 the fits run in joblib's worker processes, which printed their
    # warnings on their own stderr: no filter, pytest.warns or logging saw them
    X, y = small

    def issued(n_jobs):
        return _sweep_warnings(X, y, n_jobs)

    caught = issued(2)
    capped = [w for w in caught if issubclass(w.category, ConvergenceWarning)
              and "Maximum iterations (2)" in str(w.message)]
    # one per depth's batched folds, issued by the fit's caller
    assert len(capped) == 2
    assert all(w.filename == __file__ for w in capped)
    # every warning of the sequential sweep, as many times
    assert sorted((w.category.__name__, str(w.message)) for w in caught) == sorted(
        (w.category.__name__, str(w.message)) for w in issued(1))


def test_only_a_worker_process_main_thread_records_warnings(monkeypatch):
    # recording swaps the process's warning state: threads of one process (joblib's
    # threading backend, dask's workers) raced for it and lost whole sweeps' warnings
    import multiprocessing
    import threading

    from skrank.model_selection import _Job

    def fn():
        warnings.warn("from the job", UserWarning, stacklevel=1)
        return ["row"]

    monkeypatch.setattr(multiprocessing, "parent_process", lambda: object())
    out = {}
    thread = threading.Thread(target=lambda: out.setdefault("job", _Job(fn, False)()))
    with pytest.warns(UserWarning, match="from the job"):
        thread.start()
        thread.join()
    assert out["job"] == (["row"], [])  # issued by the thread, not recorded
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert _Job(fn, False)() == (["row"], [("from the job", UserWarning)])


def test_thread_jobs_warnings_are_issued_at_the_callers_line(small):
    # a sweep on joblib's threading backend: skrank's warnings were issued in the
    # pool's threads, whose stacks hold no line of the user's (they named
    # multiprocessing/pool.py); they are held there and issued by the fit
    import joblib

    X, y = small

    def issued(n_jobs):
        return _sweep_warnings(X, y, n_jobs)

    with joblib.parallel_backend("threading"):
        caught = issued(2)
    capped = [w for w in caught if issubclass(w.category, ConvergenceWarning)
              and "Maximum iterations (2)" in str(w.message)]
    assert len(capped) == 2  # one per depth's batched folds
    assert all(w.filename == __file__ for w in caught)
    assert sorted((w.category.__name__, str(w.message)) for w in caught) == sorted(
        (w.category.__name__, str(w.message)) for w in issued(1))


def test_held_warnings_nest():
    from skrank._warn import held_warnings, warn_user

    with held_warnings() as outer:
        warn_user("one", UserWarning)
        with held_warnings() as inner:
            warn_user("two", UserWarning)
        warn_user("three", UserWarning)
    assert outer == [("one", UserWarning), ("three", UserWarning)]
    assert inner == [("two", UserWarning)]
    with pytest.warns(UserWarning, match="four"):
        warn_user("four", UserWarning)


def test_dropped_warnings_end_with_their_block_even_on_ctrl_c():
    # a selector interrupted in its sweep drops its folds' interrupt warnings: a
    # block that did not restore the filter would silence every later one
    from skrank._warn import dropped_warnings, warn_user

    with pytest.raises(KeyboardInterrupt):
        with dropped_warnings(RuntimeWarning):
            warn_user("dropped", RuntimeWarning)
            with dropped_warnings(UserWarning):
                pass
            warn_user("dropped too", RuntimeWarning)
            raise KeyboardInterrupt
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_user("said", RuntimeWarning)
        warn_user("said too", UserWarning)
    assert [str(w.message) for w in caught] == ["said", "said too"]


def test_a_warning_class_the_worker_cannot_pickle_is_found_by_name(monkeypatch):
    # a class of the caller's __main__: a worker does not run that module
    import types

    from skrank.model_selection import _portable, _reissue

    Caller = type("CallerWarning", (UserWarning,), {"__module__": "skrank_callers_main"})
    assert _portable(ConvergenceWarning) is ConvergenceWarning
    assert _portable(Caller) == ("skrank_callers_main", "CallerWarning")
    module = types.ModuleType("skrank_callers_main")
    module.CallerWarning = Caller
    monkeypatch.setitem(sys.modules, "skrank_callers_main", module)
    with pytest.warns(Caller, match="from a worker"):
        _reissue("from a worker", _portable(Caller))

    class Local(UserWarning):
        pass

    with pytest.warns(UserWarning, match="from a worker") as caught:
        _reissue("from a worker", _portable(Local))
    assert caught[0].category is UserWarning


@pytest.mark.slow
def test_dask_backend_equals_sequential(small):
    distributed = pytest.importorskip("distributed")
    import joblib

    X, y = small
    seq = RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[2, 3], cv=2).fit(X, y)
    environ = dict(os.environ)
    try:
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, \
                distributed.Client(cluster):
            with joblib.parallel_config(backend="dask"):
                dist = RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[2, 3],
                                              cv=2, n_jobs=-1).fit(X, y)
    finally:
        # distributed sets OMP_NUM_THREADS=1 in this process for its workers: later
        # fits would read a one-thread budget
        os.environ.clear()
        os.environ.update(environ)
    for key in ("mean_test_score", "parameter_norm", "rank_per_fold"):
        np.testing.assert_array_equal(seq.depth_results_[key], dist.depth_results_[key])
    assert dist.best_depth_ == seq.best_depth_


def test_metadata_routing_sends_groups_to_the_splitter(small):
    X, y = small
    groups = np.arange(len(X)) % 4
    with sklearn.config_context(enable_metadata_routing=True):
        sel = RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[2], cv=GroupKFold(2))
        sel.fit(X, y, groups=groups)
        assert sel.depth_results_["rank_per_fold"].shape == (1, 2)
        with pytest.raises(TypeError, match="unexpected"):
            sel.fit(X, y, not_a_param=groups)


@pytest.mark.slow  # starts worker processes (their imports), about 5 s
def test_routed_weights_reach_a_pipeline_in_parallel_jobs(small):
    # joblib's Parallel left scikit-learn's config in the parent: in the workers
    # routing was off and Pipeline.fit refused the routed sample_weight
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = small
    w = np.random.RandomState(0).uniform(0.5, 2.0, len(X))
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(
            StandardScaler().set_fit_request(sample_weight=False),
            DeepL2Regressor(**FAST).set_fit_request(sample_weight=True))
        seq = RankAwareDepthSelector(pipe, depths=[2, 3], cv=2).fit(X, y, sample_weight=w)
        par = RankAwareDepthSelector(pipe, depths=[2, 3], cv=2, n_jobs=2).fit(
            X, y, sample_weight=w)
    np.testing.assert_array_equal(par.depth_results_["mean_test_score"],
                                  seq.depth_results_["mean_test_score"])


def test_a_score_request_routes_weights_to_the_selectors_score(small):
    # the router had no request of the selector's own: set_score_request was
    # ignored (a search scored it unweighted) and Pipeline.score refused the weight
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = small
    w = np.random.RandomState(0).uniform(0.1, 3.0, len(X))
    with sklearn.config_context(enable_metadata_routing=True):
        sel = RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[2], cv=2)
        pipe = make_pipeline(StandardScaler(), sel.set_score_request(sample_weight=True))
        pipe.fit(X, y)
        Xs = pipe[0].transform(X)
        assert pipe.score(X, y, sample_weight=w) == sel.score(Xs, y, sample_weight=w)
        assert sel.score(Xs, y, sample_weight=w) != sel.score(Xs, y)
        # a weight nobody requested is refused, as for the bare estimator
        with pytest.raises(Exception, match="score_request|not routed|unexpected"):
            make_pipeline(StandardScaler(), RankAwareDepthSelector(
                DeepL2Regressor(**FAST), depths=[2], cv=2)).fit(X, y).score(
                    X, y, sample_weight=w)


def test_depth_sweep_display(small):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from skrank.plotting import DepthSweepDisplay, SpectraDisplay

    X, y = small
    sel = RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[2, 3], cv=2).fit(X, y)
    disp = DepthSweepDisplay.from_estimator(sel)
    assert disp.ax_.get_lines()[0].get_ydata().tolist() == \
        sel.depth_results_["parameter_norm"].tolist()
    spec = SpectraDisplay.from_estimator(sel.best_estimator_, kind="weights")
    assert len(spec.spectra) == sel.best_depth_
    with pytest.raises(ValueError, match="kind"):
        SpectraDisplay.from_estimator(sel.best_estimator_, kind="nope")


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rank2_task_selected_depth_and_norm_slope(seed):
    """Paper 001 Fig. 1a: inside a rank plateau ||theta||^2 grows with slope = rank.

    Biases unpenalized: a penalized bias makes the constant offset cost about one
    more unit per layer (slope ~2.8 measured with penalize_bias=True).
    """
    X, y = make_bottleneck_regression(500, random_state=0)
    base = DeepL2Regressor(alpha=0.5, penalize_bias=False, max_iter=1500,
                           random_state=seed)
    sel = RankAwareDepthSelector(base, depths=[6, 8, 10], cv=2).fit(X, y)
    assert sel.best_estimator_.bottleneck_rank_ == 2
    assert sel.best_rank_ == 2
    assert abs(sel.norm_slope_ - 2) < 0.5


@pytest.mark.parametrize("free_bias", [False, True])
@pytest.mark.parametrize("cls, kw", [
    (DeepL2Regressor, dict(activation="relu")),
    (DeepL2Regressor, dict(activation="identity")),
    ("resnet", dict()),
])
def test_deepened_network_computes_the_same_function(small, cls, kw, free_bias):
    import torch

    from skrank import ResNetL2Regressor

    X, y = small
    est = (ResNetL2Regressor(depth=2, width=12, max_iter=30, random_state=0)
           if cls == "resnet" else cls(depth=3, **{**FAST, "max_iter": 30}, **kw,
                                       penalize_bias=not free_bias))
    est.fit(X, y)
    x = torch.tensor(est._scale_inputs(X), dtype=torch.float32)
    deep = est.module_.deepened(2, est.bottleneck_layer_, x)
    assert deep.depth == est.module_.depth + 2
    with torch.no_grad():
        torch.testing.assert_close(deep(x), est.module_(x), rtol=1e-4, atol=1e-4)


def test_warm_started_sweep(small):
    X, y = small
    base = DeepL2Regressor(**{**FAST, "max_iter": 40})
    sel = RankAwareDepthSelector(base, depths=[2, 3, 4], cv=2, warm_start=True).fit(X, y)
    r = sel.depth_results_
    assert r["depth"].tolist() == [2, 3, 4] and r["rank_per_fold"].shape == (3, 2)
    assert np.isfinite(r["mean_test_score"]).all()
    assert sel.best_estimator_.depth == sel.best_depth_


def _chained(monkeypatch):
    """A list that records each warm start the sweep makes (the deeper depth)."""
    import skrank.model_selection as ms

    calls = []

    def spy(previous, estimator, X, **kwargs):
        calls.append(estimator.depth)
        return real(previous, estimator, X, **kwargs)

    real = ms.warm_deeper
    monkeypatch.setattr(ms, "warm_deeper", spy)
    return calls


@pytest.mark.parametrize("make, chains", [
    (lambda: DeepL2Regressor(**FAST), True),
    (lambda: BottleneckAutoencoder(**FAST), True),
    (lambda: Pipeline([("scale", StandardScaler()), ("net", DeepL2Regressor(**FAST))]),
     True),
    # the inserted layers would not be identities, or the user asked for a
    # random start: cold fits
    (lambda: DeepL2Regressor(**FAST, activation="leaky_relu"), False),
    (lambda: DeepL2Regressor(**FAST, init="random"), False),
    # a deepened classifier stayed near the shallower fit (two moons: objective
    # 0.19 at depth 12 against 0.088 cold)
    (lambda: DeepL2Classifier(**FAST), False),
])
def test_auto_chains_depths_where_deepening_is_exact(monkeypatch, small, make, chains):
    X, y = small
    if isinstance(make(), DeepL2Classifier):
        y = (y[:, 0] > np.median(y[:, 0])).astype(int)
    elif isinstance(make(), BottleneckAutoencoder):
        y = None
    calls = _chained(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        RankAwareDepthSelector(make(), depths=[2, 3, 4], cv=2, refit=False).fit(X, y)
        assert calls == []  # the default: cold fits
        RankAwareDepthSelector(make(), depths=[2, 3, 4], cv=2, refit=False,
                               warm_start="auto").fit(X, y)
    # two deeper depths in each of two folds
    assert calls == ([3, 4, 3, 4] if chains else [])


@pytest.mark.parametrize("warm_start", ["auto", False])
def test_the_refit_is_fitted_as_the_folds_were(monkeypatch, small, warm_start):
    """Warm, the chosen depth is refitted at the end of a chain over the shallower
    depths on all rows (a cold refit read other ranks than the folds' chains)."""
    X, y = small
    calls = _chained(monkeypatch)
    deepest = lambda est, X, y: est.depth  # noqa: E731 (a scorer choosing depth 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[2, 3, 4], cv=2,
                                     scoring=deepest, score_tol=0,
                                     warm_start=warm_start).fit(X, y)
    assert sel.best_depth_ == 4 and sel.best_estimator_.depth == 4
    assert calls == ([3, 4, 3, 4, 3, 4] if warm_start else [])


def test_a_warm_refit_keeps_the_users_settings_and_warns_of_its_model_only(small):
    """The chain's settings (warm_start, warmup_iter, the warm_start_iter cap) are
    not left on best_estimator_ (a later fit continued its network, and refused
    new features), and the shallower fits of the refit's chain, which no one gets,
    do not warn."""
    from sklearn.exceptions import ConvergenceWarning

    X, y = small
    base = DeepL2Regressor(**{**FAST, "max_iter": 2, "warmup_iter": 3,
                              "early_stopping": False})
    deepest = lambda est, X, y: est.depth  # noqa: E731

    def caps(refit):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sel = RankAwareDepthSelector(base, depths=[2, 3, 4], cv=2, scoring=deepest,
                                         score_tol=0, warm_start="auto",
                                         warm_start_iter=2, refit=refit).fit(X, y)
        return sel, sum(issubclass(w.category, ConvergenceWarning) for w in caught)

    sel, with_refit = caps(True)
    _, without = caps(False)
    assert with_refit == without + 1  # the refitted depth-4 network's cap alone
    assert sel.best_estimator_.get_params() == {**base.get_params(), "depth": 4}
    sel.best_estimator_.fit(X[:, :3], y)  # a fresh fit: other features are fine


def test_a_pipeline_chain_finds_the_networks_own_routed_weights():
    from sklearn import config_context

    from skrank.model_selection import _network_weight

    w, other = np.arange(5.0), np.ones(5)
    with config_context(enable_metadata_routing=True):
        net = DeepL2Regressor().set_fit_request(sample_weight="w_net")
        assert _network_weight(net, {"sample_weight": other, "w_net": w},
                               "net__depth") is w
        net = DeepL2Regressor().set_fit_request(sample_weight=True)
        assert _network_weight(net, {"sample_weight": w}, "net__depth") is w
        # only a preprocessing step asked for it
        net = DeepL2Regressor().set_fit_request(sample_weight=False)
        assert _network_weight(net, {"sample_weight": w}, "net__depth") is None
    assert _network_weight(DeepL2Regressor(), {"net__sample_weight": w}, "net__depth") is w
    assert _network_weight(DeepL2Regressor(), {"sample_weight": w}, "depth") is w


def test_a_resnet_sweeps_cold_and_refuses_a_warm_chain(monkeypatch, small):
    """Its inserted zero blocks are a stationary point: the deeper fits would not
    move (a sweep of the same objective at every depth)."""
    from skrank import ResNetL2Regressor

    X, y = small
    net = ResNetL2Regressor(width=8, max_iter=5, n_jacobian_points=2, random_state=0)
    calls = _chained(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        RankAwareDepthSelector(net, depths=[1, 2], cv=2, refit=False,
                               warm_start="auto").fit(X, y)
    assert calls == []
    with pytest.raises(ValueError, match="zero residual blocks"):
        RankAwareDepthSelector(net, depths=[1, 2], cv=2, warm_start=True).fit(X, y)


def test_a_warm_chain_refuses_a_wrapper_that_fits_a_copy(small):
    from sklearn.compose import TransformedTargetRegressor

    X, y = small
    ttr = TransformedTargetRegressor(DeepL2Regressor(**FAST))
    with pytest.raises(ValueError, match="needs a skrank estimator or a Pipeline"):
        RankAwareDepthSelector(ttr, depths=[2, 3], cv=2, warm_start=True).fit(X, y)


def test_a_pipeline_chain_deepens_the_function_its_steps_feed():
    """The deeper network starts as the shallower one on the representations of the
    Pipeline's own inputs (scaled by its earlier steps), not on the raw rows."""
    from sklearn.base import clone

    from skrank.model_selection import _start_from

    X, y = make_bottleneck_regression(80, n_features=6, n_targets=3, n_latent=2,
                                      random_state=1)
    X = X * [1.0, 300.0, 0.01, 5.0, 1.0, 80.0]
    pipe = Pipeline([("scale", StandardScaler()), ("net", DeepL2Regressor(**FAST))])
    prev = clone(pipe).set_params(net__depth=3).fit(X, y)
    est = clone(pipe).set_params(net__depth=5)
    _start_from(prev, est, X, {}, "net__depth")
    assert est[-1].module_.depth == 5
    x = torch.tensor(prev[-1]._scale_inputs(prev[:-1].transform(X)), dtype=torch.float32)
    with torch.no_grad():
        before, after = prev[-1].module_(x), est[-1].module_(x)
    # not to the bit: directions below DEEPEN_RTOL are left out (measured 1.4-4.7%
    # on four seeds; 19-93% when the layers are fitted to the raw rows)
    assert float((after - before).abs().max() / before.abs().max()) < 0.1


def test_a_warm_start_leaves_out_rows_of_zero_weight(small):
    """Rows of weight zero do not shape the inserted layers (as a grown fit's)."""
    from sklearn.base import clone

    from skrank._base import warm_deeper

    X, y = small
    prev = DeepL2Regressor(**FAST, depth=3).fit(X, y)
    wild = np.vstack([X, 50 * np.abs(X[:10])])
    weight = np.r_[np.ones(len(X)), np.zeros(10)]
    a = warm_deeper(prev, clone(prev).set_params(depth=5), wild, rtol=0.05, weight=weight)
    b = warm_deeper(prev, clone(prev).set_params(depth=5), X, rtol=0.05)
    for p, q in zip(a.module_.parameters(), b.module_.parameters()):
        torch.testing.assert_close(p, q)
    c = warm_deeper(prev, clone(prev).set_params(depth=5), wild, rtol=0.05)
    assert any(not torch.allclose(p, q) for p, q in zip(c.module_.parameters(),
                                                        b.module_.parameters()))


def test_pipeline_autoencoder_and_alpha_grid():
    """A Pipeline's step__depth, the autoencoder's reconstruction score, an alpha grid."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skrank import BottleneckAutoencoder

    rng = np.random.default_rng(0)
    t = rng.uniform(0, 3, 120)
    X = np.column_stack([t, np.sin(2 * t), 0.3 * t**2]) * [1.0, 50.0, 0.1]
    ae = BottleneckAutoencoder(width=12, max_iter=40, warmup_iter=3, n_jacobian_points=2,
                               random_state=0)
    sel = RankAwareDepthSelector(make_pipeline(StandardScaler(), ae), depths=[2, 3],
                                 alphas=[0.01, 0.3], cv=2).fit(X)
    res = sel.depth_results_
    assert list(res["depth"]) == [2, 3, 2, 3]
    assert list(res["alpha"]) == [0.01, 0.01, 0.3, 0.3]
    # the default score is the autoencoder's reconstruction R^2
    assert np.all(res["mean_test_score"] <= 1.0)
    step = sel.best_estimator_[-1]
    assert step.depth == sel.best_depth_ and step.alpha == sel.best_alpha_
    assert sel.best_rank_ in res["rank_per_fold"][sel.best_index_]
    assert sel.transform(X).shape[0] == 120


def test_alpha_grid_choice_rule():
    sel = RankAwareDepthSelector(DeepL2Regressor(), alphas=[0.1, 1.0], score_tol=0.05)
    out = [dict(depth=d, alpha=a, score=s, rank=r, parameter_norm=1.0,
                offset_free_norm=float(d * r), fit_time=0)
           for d, a, s, r in [(4, 0.1, 0.95, 3), (6, 0.1, 0.95, 3),
                              (4, 1.0, 0.93, 2), (6, 1.0, 0.92, 2)]]
    sel._summarize(np.array([4, 6]), out, 1, [0.1, 1.0])
    # rank 2 at alpha=1 is within the tolerance: lowest rank, then shallowest
    assert (sel.best_depth_, sel.best_alpha_, sel.best_rank_) == (4, 1.0, 2)
    assert sel.norm_slope_ == pytest.approx(2.0)  # over depths 4, 6 at alpha=1


def test_the_selector_behaves_as_the_chosen_estimator(small):
    # every method of the refitted estimator, and set_output in a Pipeline
    pytest.importorskip("pandas")
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline

    from skrank import BottleneckAutoencoder

    X, y = small
    pipe = make_pipeline(RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[2, 3],
                                                cv=2), LinearRegression())
    pipe.set_output(transform="pandas").fit(X, y)
    Z = pipe[:-1].transform(X)
    sel = pipe[0]
    assert Z.columns.tolist() == sel.get_feature_names_out().tolist()
    assert Z.columns.tolist() == sel.best_estimator_.get_feature_names_out().tolist()
    w = np.r_[np.ones(40), np.zeros(40)]
    assert sel.score(X, y, sample_weight=w) == pytest.approx(
        sel.best_estimator_.score(X[:40], y[:40]))
    yc = (y[:, 0] > np.median(y[:, 0])).astype(int)
    clf = RankAwareDepthSelector(DeepL2Classifier(**FAST), depths=[2], cv=2).fit(X, yc)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(clf.predict_proba(X)),
                               rtol=1e-5, atol=1e-6)
    ae = RankAwareDepthSelector(BottleneckAutoencoder(**FAST), depths=[2], cv=2).fit(X)
    np.testing.assert_allclose(ae.inverse_transform(ae.transform(X)),
                               ae.best_estimator_.inverse_transform(
                                   ae.best_estimator_.transform(X)))


@pytest.mark.parametrize("bad", [{"alpha": -1.0}, {"width": 0}, {"activation": "bogus"}])
def test_the_sweep_validates_its_estimator_before_any_fit(bad):
    # the batched path trains without fit; bad values went through silently
    # (alpha=-1 scored -943) or crashed deep inside (width=0: ZeroDivisionError)
    from sklearn.utils._param_validation import InvalidParameterError

    X = np.random.RandomState(0).randn(30, 3)
    sel = RankAwareDepthSelector(DeepL2Regressor(**bad, max_iter=3), depths=[2, 3], cv=2)
    with pytest.raises(InvalidParameterError):
        sel.fit(X, X[:, 0])
    assert not hasattr(sel, "depth_results_")


def test_n_jobs_zero_is_refused_by_name():
    # joblib's own "n_jobs == 0 in Parallel has no meaning" came out of the sweep
    from sklearn.utils._param_validation import InvalidParameterError

    X = np.random.RandomState(0).randn(30, 3)
    sel = RankAwareDepthSelector(DeepL2Regressor(max_iter=3), depths=[2, 3], cv=2,
                                 n_jobs=0)
    with pytest.raises(InvalidParameterError, match="'n_jobs' parameter"):
        sel.fit(X, X[:, 0])


@pytest.mark.parametrize("scoring", ["foo", ["r2"], {"a": "r2"}])
def test_an_unknown_or_multi_metric_scoring_is_refused_by_name(scoring):
    # "foo" was refused by sklearn's check_scoring, naming no selector; a list was
    # "a str among {}"
    from sklearn.utils._param_validation import InvalidParameterError

    X = np.random.RandomState(0).randn(30, 3)
    sel = RankAwareDepthSelector(DeepL2Regressor(max_iter=3), depths=[2, 3], cv=2,
                                 scoring=scoring)
    with pytest.raises(InvalidParameterError,
                       match=r"'scoring' parameter of RankAwareDepthSelector must be "
                             r"a str among \{'\w+', "):
        sel.fit(X, X[:, 0])


def test_score_uses_the_scoring_as_grid_search_does(small):
    from sklearn.metrics import mean_squared_error

    X, y = small
    w = np.random.RandomState(1).rand(len(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[2, 3], cv=2,
                                     scoring="neg_mean_squared_error").fit(X, y)
    pred = sel.best_estimator_.predict(X)
    assert sel.score(X, y) == pytest.approx(-mean_squared_error(y, pred), rel=1e-12)
    assert sel.score(X, y, sample_weight=w) == pytest.approx(
        -mean_squared_error(y, pred, sample_weight=w), rel=1e-12)
    # the fit's scorer, as GridSearchCV's scorer_: a later set_params does not change it
    sel.set_params(scoring=None)
    assert sel.score(X, y) == pytest.approx(-mean_squared_error(y, pred), rel=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel.fit(X, y)  # without scoring: the estimator's own score (R^2)
    assert sel.scorer_ is None
    assert sel.score(X, y) == pytest.approx(sel.best_estimator_.score(X, y), rel=1e-12)


class _NoScore(DeepL2Regressor):
    @property
    def score(self):
        raise AttributeError("no score of its own")


def test_score_with_a_scoring_needs_no_score_of_the_estimators(small):
    from sklearn.metrics import r2_score

    X, y = small
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = RankAwareDepthSelector(_NoScore(**FAST), depths=[2, 3], cv=2,
                                     scoring="r2").fit(X, y)
    assert not hasattr(sel.best_estimator_, "score")
    assert sel.score(X, y) == pytest.approx(r2_score(y, sel.predict(X)), rel=1e-12)


def test_score_with_weights_on_an_autoencoder_is_a_clear_error():
    X = np.random.RandomState(0).randn(30, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = RankAwareDepthSelector(BottleneckAutoencoder(width=8, max_iter=3),
                                     depths=[2, 3], cv=2).fit(X)
    with pytest.raises(TypeError, match="takes no sample_weight"):
        sel.score(X, sample_weight=np.ones(30))
    assert np.isfinite(sel.score(X))


def test_the_sweep_validates_a_pipelines_last_step_before_any_fit():
    from sklearn.pipeline import make_pipeline
    from sklearn.utils._param_validation import InvalidParameterError

    X = np.random.RandomState(0).randn(30, 3)
    pipe = make_pipeline(StandardScaler(), DeepL2Regressor(alpha=-1.0, max_iter=3))
    sel = RankAwareDepthSelector(pipe, depths=[2, 3], cv=2)
    with pytest.raises(InvalidParameterError):
        sel.fit(X, X[:, 0])
    assert not hasattr(sel, "depth_results_")


def _tiny_selector():
    return RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[2], cv=2)


def test_the_selector_rejects_bad_targets_with_the_estimators_own_message():
    """Resolving early_stopping='auto' reads y before any fit validates it: targets
    a fit rejects must reach that fit's message, not a cast's."""
    X = np.random.RandomState(0).randn(60, 3)
    with pytest.raises(ValueError, match="needs numeric targets"):
        _tiny_selector().fit(X, np.array(["a"] * 60))
    with warnings.catch_warnings():
        warnings.simplefilter("error", np.exceptions.ComplexWarning)
        with pytest.raises(ValueError, match="Complex data not supported"):
            _tiny_selector().fit(X, np.ones(60) + 1j)


def test_the_selector_takes_a_scalar_weight_and_rejects_a_short_one():
    X, y = make_bottleneck_regression(60, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = _tiny_selector().fit(X, y, sample_weight=2.0)
    assert sel.best_depth_ == 2
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        _tiny_selector().fit(X, y, sample_weight=np.ones(7))


def test_a_selector_around_a_classifier_has_no_transform():
    """scikit-learn's composites ask hasattr(step, "transform"); set_output's
    wrapping of the methods once dropped their availability check."""
    X = np.random.RandomState(0).randn(40, 3)
    y = (X[:, 0] > 0).astype(int)
    sel = RankAwareDepthSelector(DeepL2Classifier(**FAST), depths=[2, 3], cv=2)
    assert not hasattr(sel, "transform") and not hasattr(sel, "fit_transform")
    sel.fit(X, y)
    assert not hasattr(sel, "transform") and not hasattr(sel, "fit_transform")
    ae = RankAwareDepthSelector(BottleneckAutoencoder(**FAST), depths=[2, 3], cv=2)
    assert hasattr(ae, "transform") and hasattr(ae, "fit_transform")


@pytest.mark.parametrize("warm_start", [False, True])
def test_uniform_weights_sweep_as_none(warm_start):
    # cold, weights take the fold-after-fold path, no weights the batched one:
    # uniform weights (which weigh nothing) once scored 0.96853 against 0.96863
    X, y = make_bottleneck_regression(60, random_state=0)

    def fit(weight=None):
        sel = RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[2, 3], cv=2,
                                     warm_start=warm_start)
        return sel.fit(X, y, sample_weight=weight)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain, ones = fit(), fit(np.full(60, 3.0))
        # uneven within each fold (two halves of one weight each would weigh
        # every training fold uniformly)
        uneven = fit(np.tile([1.0, 2.0], 30))
    np.testing.assert_array_equal(ones.depth_results_["mean_test_score"],
                                  plain.depth_results_["mean_test_score"])
    assert not np.array_equal(uneven.depth_results_["mean_test_score"],
                              plain.depth_results_["mean_test_score"])
    with pytest.raises(ValueError, match="[Nn]egative"):
        _tiny_selector().fit(X, y, sample_weight=np.full(60, -1.0))


def test_a_pipeline_still_refuses_uniform_weights_it_cannot_take():
    # uniform weights are dropped only where a skrank estimator would read them as
    # none: a Pipeline's fit refuses sample_weight, uniform or not
    from sklearn.pipeline import make_pipeline

    X, y = make_bottleneck_regression(40, random_state=0)
    sel = RankAwareDepthSelector(make_pipeline(StandardScaler(), DeepL2Regressor(**FAST)),
                                 depths=[2], cv=2)
    with pytest.raises((TypeError, ValueError), match="sample_weight"):
        sel.fit(X, y, sample_weight=np.ones(40))


def test_sweep_jobs_in_threads_leave_torchs_thread_count_as_they_found_it():
    # jobs on joblib's threading backend share the process's one setting: each
    # restoring what it found left the process at one thread when two overlapped
    import torch

    from skrank.model_selection import _single_thread

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        first, second = _single_thread(), _single_thread()
        first.__enter__()
        second.__enter__()
        assert torch.get_num_threads() == 1
        first.__exit__(None, None, None)
        second.__exit__(None, None, None)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("seed, disagrees", [(0, False), (1, True)])
def test_a_refit_reading_another_rank_than_best_rank_warns(seed, disagrees):
    """Both folds read 4; the refit on all rows reads 3 with seed 1 (4 with seed 0):
    two numbers the user reads contradict each other, and the selector says so."""
    from skrank import AmbiguousRankWarning

    rng = np.random.RandomState(0)
    X = rng.rand(40, 4)
    Y = np.c_[np.sin(3 * X[:, 0]), X[:, 1] * X[:, 2], X[:, 3]]
    sel = RankAwareDepthSelector(DeepL2Regressor(width=8, max_iter=40, random_state=seed),
                                 depths=(3,), cv=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sel.fit(X, Y)
    said = [str(w.message) for w in caught if w.category is AmbiguousRankWarning
            and "refitted network" in str(w.message)]
    refit_rank = sel.best_estimator_.bottleneck_rank_
    assert (refit_rank != sel.best_rank_) is disagrees
    assert len(said) == int(disagrees)
    if disagrees:
        assert f"reads bottleneck rank {refit_rank}, but best_rank_={sel.best_rank_}" \
            in said[0] and "[4, 4]" in said[0]


@pytest.mark.parametrize("refit", [True, False])
def test_folds_reading_different_ranks_warn(refit):
    """The folds at the chosen depth read ranks 3 and 4 (and the refit, when
    there is one, reads their lower median): best_rank_ is a rank some fold had,
    but not a confident one, and the selector says so once; folds that agree say
    nothing."""
    from skrank import AmbiguousRankWarning

    rng = np.random.RandomState(0)
    X = rng.rand(40, 4)
    Y = np.c_[np.sin(3 * X[:, 0]), X[:, 1] * X[:, 2], X[:, 3]]
    for seed, folds in ((7, [3, 4]), (0, [4, 4])):
        sel = RankAwareDepthSelector(
            DeepL2Regressor(width=8, max_iter=40, random_state=seed), depths=(3,), cv=2,
            refit=refit)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sel.fit(X, Y)
        said = [str(w.message) for w in caught if w.category is AmbiguousRankWarning
                and "lower median" in str(w.message)]
        assert sorted(sel.depth_results_["rank_per_fold"][0]) == folds
        if folds[0] != folds[1]:
            assert len(said) == 1 and str(folds) in said[0] and "disagree" in said[0]
        else:
            assert said == []


def test_a_scoring_string_without_targets_is_refused_by_name():
    """A scorer named by a string compares predictions with y: an autoencoder's
    sweep has none, and scikit-learn's own error came from inside its scorer."""
    X = np.random.RandomState(0).randn(30, 4)
    sel = RankAwareDepthSelector(BottleneckAutoencoder(depth=3, width=8, max_iter=5),
                                 depths=(3,), cv=2, scoring="explained_variance")
    with pytest.raises(ValueError, match="scoring='explained_variance' compares"):
        sel.fit(X)


@pytest.mark.parametrize("warm_start", [False, "auto"])
def test_sweep_warnings_name_their_depth_fold_or_refit(warm_start):
    # a sweep's 11 to 34 warnings read alike: "bottleneck_rank_=4 but the
    # Jacobian rank is 3" with no word of the depth, the fold, or that one came
    # from the refitted best_estimator_
    rng = np.random.RandomState(0)
    X = rng.randn(90, 5)
    Y = np.c_[np.tanh(X[:, 0]), X[:, 1] ** 2, X[:, 0] * X[:, 1]]
    sel = RankAwareDepthSelector(DeepL2Regressor(width=16, max_iter=15, random_state=0),
                                 depths=(3, 4), cv=2, warm_start=warm_start)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sel.fit(X, Y)
    # the fits' own warnings (the selector's summary of best_rank_ is its own)
    said = [str(w.message) for w in caught if "Maximum iterations" in str(w.message)
            or ("min(n_features" in str(w.message)
                and not str(w.message).startswith("best_rank_="))]
    # one fit's warning names its fold (numbered from 1); one that several fits
    # said alike names their folds, or their depths and how many of the fits
    label = (r"Sweep at depth [34](, fold [12] of 2| \(2 folds trained at once[^)]*\))"
             r"|Sweep: .* gave the warning told for depth [34](, fold [12] of 2)?"
             r"|Refit at depth 4 \(best_estimator_\)")
    assert said and all(re.match(f"({label}): ", s) for s in said)
    assert any(s.startswith("Refit at depth 4") for s in said)
    # the label holds only within the sweep: a fit afterwards says nothing of it
    with pytest.warns(ConvergenceWarning) as later:
        DeepL2Regressor(width=16, max_iter=15, random_state=0).fit(X, Y)
    assert all(str(w.message).startswith(("Maximum", "bottleneck_rank_")) for w in later)


def test_a_sweep_tells_a_warning_several_fits_said_alike_once():
    from skrank._warn import held_warnings
    from skrank.model_selection import _ToldOnce

    body, other = "The autoencoder passes all 3 input dimensions.", "gap 3.1 at the cut."
    said = [(f"Sweep at depth {d}, fold {f} of 2: {body}", AmbiguousRankWarning)
            for d in (3, 4) for f in (1, 2)]
    said += [("Sweep at depth 5, fold 1 of 2: " + other, AmbiguousRankWarning),
             ("Sweep at depth 5, fold 2 of 2: " + other, AmbiguousRankWarning),
             ("Sweep at depth 6, fold 1 of 2: " + body, ConvergenceWarning),
             ("Sweep at depth 3, fold 1 of 2, alpha 0.1: " + other, UserWarning),
             ("Sweep at depth 4, fold 2 of 2, alpha 1e-05: " + other, UserWarning),
             ("Sweep at depth 3 (2 folds trained at once): capped", UserWarning),
             ("Sweep at depth 4 (2 folds trained at once): capped", UserWarning),
             ("not a fold's", UserWarning), ("not a fold's", UserWarning)]
    told = _ToldOnce(8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with held_warnings(told):
            for message, category in said:
                told.append((message, category))
        at_once = len(caught)
        told.tell_repeats()
    out = [(w.category, str(w.message)) for w in caught]
    # the first of each message at once, as its fit said it; another category is
    # another message
    assert out[:at_once] == [(c, m) for m, c in (said[i] for i in (0, 4, 6, 7, 9, 11))]
    assert out[at_once:] == [
        (AmbiguousRankWarning, "Sweep: 3 more of its 8 fits (depths 3, 4) gave the "
         f'warning told for depth 3, fold 1 of 2: "{body}"'),
        (AmbiguousRankWarning, "Sweep: 1 more of its 8 fits (depth 5, fold 2) gave "
         f'the warning told for depth 5, fold 1 of 2: "{other}"'),
        (UserWarning, "Sweep: 1 more of its 8 fits (depth 4; alpha 1e-05) gave the "
         f'warning told for depth 3, fold 1 of 2, alpha 0.1: "{other}"'),
        (UserWarning, "Sweep: the folds of 1 more batch (depth 4) gave the warning "
         'told for depth 3: "capped"'),
        (UserWarning, "The sweep's fits gave the same warning 1 more time: "
         '"not a fold\'s"')]


def test_a_sweep_stopped_by_an_error_counts_the_fits_that_ran():
    from skrank._warn import held_warnings
    from skrank.model_selection import _ToldOnce

    told = _ToldOnce(12)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with held_warnings(told):
            for f in (1, 2, 3):
                told.append((f"Sweep at depth 3, fold {f} of 3: capped", UserWarning))
        told.tell_repeats(finished=False)
    assert [str(w.message) for w in caught] == [
        "Sweep at depth 3, fold 1 of 3: capped",
        'Sweep: 2 more fits (depth 3, folds 2, 3) gave the warning told for depth 3, '
        'fold 1 of 3: "capped"']


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_a_sweep_that_raises_still_tells_its_repeated_warnings(monkeypatch, error):
    import skrank.model_selection as ms

    real = ms._fit_depth

    def second_raises(*args):
        rows = real(*args)
        if args[1] == 4:
            raise error("stop")
        return rows

    monkeypatch.setattr(ms, "_fit_depth", second_raises)
    rng = np.random.RandomState(0)
    X = rng.randn(40, 3)
    sel = RankAwareDepthSelector(DeepL2Regressor(width=8, max_iter=2), depths=(3, 4, 5),
                                 cv=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(error):
            sel.fit(X, X[:, 0] * X[:, 1])
    said = [str(w.message) for w in caught]
    assert any(m.startswith("Sweep: the folds of 1 more batch (depth 4) gave the "
                            "warning told for depth 3: ") for m in said), said


def test_an_error_filter_in_threads_leaves_the_process_as_it_was():
    # raising at the first warning while jobs still ran in threads: they finished
    # later and restored what they had found (the error filter, one torch thread)
    # on the whole process
    import joblib

    rng = np.random.RandomState(0)
    X = rng.randn(40, 3)
    sel = RankAwareDepthSelector(DeepL2Regressor(width=8, max_iter=3, random_state=0),
                                 depths=(3, 4, 5, 6), cv=2, n_jobs=2)
    threads_before = torch.get_num_threads()
    with warnings.catch_warnings():
        outer = list(warnings.filters)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with joblib.parallel_backend("threading"), pytest.raises(Warning):
                sel.fit(X, X[:, 0] * X[:, 1])
        assert warnings.filters == outer
    assert torch.get_num_threads() == threads_before


def test_a_classifiers_log_loss_tolerance_is_read_against_its_priors():
    from sklearn.metrics import check_scoring
    from sklearn.model_selection import StratifiedKFold

    rng = np.random.RandomState(0)
    X = rng.randn(80, 3)
    y = np.r_[np.zeros(40), np.ones(40)].astype(int)
    sel = RankAwareDepthSelector(DeepL2Classifier(), scoring="neg_log_loss")
    splits = list(StratifiedKFold(2).split(X, y))
    tol = sel._tolerance(sel.estimator, X, y, splits,
                         check_scoring(sel.estimator, "neg_log_loss"))
    assert tol == pytest.approx(0.01 * np.log(2))


def test_an_error_filter_still_stops_a_sweep_at_its_first_warning(monkeypatch):
    # holding every warning to the end ran all 18 fits of a sweep before the
    # filter's error (0 before the warnings were held)
    import skrank.model_selection as ms

    calls = []
    real = ms._fit_depth
    monkeypatch.setattr(ms, "_fit_depth", lambda *a: calls.append(a[1]) or real(*a))
    rng = np.random.RandomState(0)
    X = rng.randn(40, 3)
    sel = RankAwareDepthSelector(DeepL2Regressor(width=8, max_iter=2), depths=(3, 4, 5),
                                 cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning, match="Sweep at depth 3"):
            sel.fit(X, X[:, 0] * X[:, 1])
    assert calls == [3]


def test_an_autoencoder_sweep_tells_its_span_once():
    # a swiss roll's default sweep said "passes all 3 input dimensions" once per
    # fit (15 times), then for the refit
    from sklearn.datasets import make_swiss_roll

    X = make_swiss_roll(150, noise=0.05, random_state=0)[0]
    X = (X - X.mean(0)) / X.std(0)
    sel = RankAwareDepthSelector(BottleneckAutoencoder(width=16, max_iter=60,
                                                       random_state=0),
                                 depths=(3, 4), cv=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sel.fit(X)
    said = [str(w.message) for w in caught if "input dimensions" in str(w.message)]
    assert [s.split(":")[0] for s in said] == [
        "Sweep at depth 3, fold 1 of 2",
        "Sweep", "Refit at depth 3 (best_estimator_)"]
    assert said[1].startswith("Sweep: 3 more of its 4 fits (depths 3, 4) gave the "
                              "warning told for depth 3, fold 1 of 2: ")


def test_warnings_before_training_name_their_fold_and_labels_nest():
    from skrank._warn import labelled_warnings, warn_user

    rng = np.random.RandomState(0)
    X = rng.randn(60, 4) * np.array([30.0, 1, 1, 1])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        RankAwareDepthSelector(DeepL2Regressor(width=8, max_iter=5), depths=(3,),
                               cv=2).fit(X, X[:, 0])
    said = [str(w.message) for w in caught if "input columns" in str(w.message)]
    assert {s.split(":")[0] for s in said} >= {"Sweep at depth 3, fold 1 of 2",
                                               "Sweep at depth 3, fold 2 of 2"}
    with pytest.warns(UserWarning, match="^outer: inner said"):
        with labelled_warnings("outer"), labelled_warnings(""):
            warn_user("inner said", UserWarning)


def _small_fitted_selector():
    rng = np.random.RandomState(0)
    X = rng.randn(60, 3)
    y = X[:, 0] + X[:, 1] ** 2
    sel = RankAwareDepthSelector(DeepL2Regressor(width=8, max_iter=5), depths=(3, 4),
                                 cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel.fit(X, y)
    return X, y, sel


def test_ctrl_c_in_a_sweep_keeps_the_previous_fit(monkeypatch):
    # the second fit popped best_estimator_ before its sweep: interrupted, the
    # selector kept the first fit's depth_results_ and predict said "refit=False"
    from skrank import TrainingInterruptedWarning

    X, y, sel = _small_fitted_selector()
    answer = sel.predict(X)

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(RankAwareDepthSelector, "_sweep", interrupted)
    with pytest.warns(TrainingInterruptedWarning, match="an earlier fit, if any, is "
                      "kept"), pytest.raises(KeyboardInterrupt):
        sel.fit(X * 2, y)
    np.testing.assert_array_equal(sel.predict(X), answer)


@pytest.mark.parametrize("warm_start", [False, True])
def test_ctrl_c_outside_the_refits_training_keeps_the_previous_fit(monkeypatch,
                                                                   warm_start):
    # Ctrl-C while the refit's network was read put it back unfitted (module_ and
    # n_features_in_ only, from the warm chain): kept as the model, predict failed
    from skrank import TrainingInterruptedWarning

    rng = np.random.RandomState(0)
    X = rng.randn(60, 3)
    y = X[:, 0] + X[:, 1] ** 2
    sel = RankAwareDepthSelector(DeepL2Regressor(width=8, max_iter=5), depths=(2, 3),
                                 cv=2, warm_start=warm_start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel.fit(X, y)
    answer = sel.predict(X)
    real, choose = DeepL2Regressor._diagnose, RankAwareDepthSelector._choose

    def interrupted(self, X_read, *args, **kwargs):
        if len(X_read) == 60 and self.depth == 3:  # the refit at depth 3, all rows
            raise KeyboardInterrupt
        return real(self, X_read, *args, **kwargs)

    def deepest(self, res, rows, tol):  # the refit at depth 3 (after the chain's 2)
        choose(self, res, rows, tol)
        self.best_index_, self.best_depth_ = 1, 3
        self.best_rank_ = int(res["bottleneck_rank"][1])

    monkeypatch.setattr(DeepL2Regressor, "_diagnose", interrupted)
    monkeypatch.setattr(RankAwareDepthSelector, "_choose", deepest)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingInterruptedWarning)
        with pytest.raises(KeyboardInterrupt):
            sel.fit(X, y * 2)
    np.testing.assert_array_equal(sel.predict(X), answer)


def test_a_sweep_that_raises_leaves_the_previous_fit():
    # a refit that raised (a ConvergenceWarning a filter made an error) left the
    # new depth_results_ and no best_estimator_: predict said "refit=False"
    X, y, sel = _small_fitted_selector()
    before = dict(vars(sel))
    answer = sel.predict(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning):
            sel.fit(X * 2, y)
    assert vars(sel).keys() == before.keys()
    assert all(vars(sel)[k] is v for k, v in before.items())
    np.testing.assert_array_equal(sel.predict(X), answer)
    # the sweep's label ended with it: a fit afterwards is not named a sweep's
    with pytest.warns(ConvergenceWarning) as later:
        DeepL2Regressor(width=8, max_iter=5).fit(X, y)
    assert not [w for w in later if str(w.message).startswith(("Sweep", "Refit"))]


def test_the_alpha_grid_is_the_networks_beside_other_steps_alphas(small):
    # a Lasso step's alpha beside the network's made the grid refuse to run
    from sklearn.feature_selection import SelectFromModel
    from sklearn.linear_model import Lasso

    X, y = small
    pipe = Pipeline([("scale", StandardScaler()),
                     ("select", SelectFromModel(Lasso(alpha=1e-3))),
                     ("net", DeepL2Regressor(**FAST))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = RankAwareDepthSelector(pipe, depths=[2, 3], alphas=[0.01, 0.1], cv=2,
                                     refit=False).fit(X, y)
    assert sorted(set(sel.depth_results_["alpha"].tolist())) == [0.01, 0.1]
    assert pipe.get_params()["select__estimator__alpha"] == 1e-3


class _TreeLike(sklearn.base.RegressorMixin, sklearn.base.BaseEstimator):
    def __init__(self, depth=2):
        self.depth = depth

    def fit(self, X, y):
        return self


@pytest.mark.parametrize("estimator, match", [
    (_TreeLike(), "reads the rank of a skrank estimator; the 'depth' parameter "
                  "belongs to _TreeLike"),
    (DeepL2Regressor, r"is a class; pass an instance \(DeepL2Regressor\(\)\)"),
])
def test_an_estimator_that_is_not_a_skrank_instance_is_refused_by_name(
        small, estimator, match):
    with pytest.raises(TypeError, match=match):
        RankAwareDepthSelector(estimator, depths=[2, 3]).fit(*small)


def test_the_refit_keeps_the_users_early_stopping(small):
    # the sweep resolves 'auto' once for every fold and the refit; the refitted
    # model kept the resolved value, so a clone of it trained otherwise
    rng = np.random.RandomState(0)
    X = rng.randn(500, 3)  # folds of 250 rows hold out 25: 'auto' holds out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[2, 3],
                                     cv=2).fit(X, np.tanh(X[:, 0]))
    assert sel.best_estimator_.early_stopping == "auto"
    assert sel.best_estimator_.early_stopping_ is True


def test_a_residual_networks_norm_slope_is_not_read(small):
    from skrank import ResNetL2Regressor

    X, y = small
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = RankAwareDepthSelector(
            ResNetL2Regressor(width=8, max_iter=30, random_state=0), depths=[1, 2, 3],
            cv=2, refit=False).fit(X, y[:, 0])
    assert np.isnan(sel.norm_slope_)


@pytest.mark.slow  # starts worker processes (their imports), about 12 s
def test_a_workers_error_that_pickle_cannot_carry_reaches_the_caller(small):
    # scikit-learn's UnsetMetadataPassedError cannot be unpickled: at n_jobs=2 a
    # Pipeline's routing mistake surfaced as BrokenProcessPool
    X, y = small
    w = np.ones(len(X))
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = Pipeline([("scale", StandardScaler()), ("net", DeepL2Regressor(
            **FAST).set_fit_request(sample_weight=True))])
        with pytest.raises(RuntimeError, match="UnsetMetadataPassedError: .*sample_weight"):
            RankAwareDepthSelector(pipe, depths=[2, 3], cv=2, n_jobs=2).fit(
                X, y, sample_weight=w)


@pytest.mark.parametrize("noise", [True, False])
def test_a_sweep_that_predicts_nothing_says_its_ranks_may_be_noise(noise, small):
    # targets independent of X read ranks of 1 to 6 at defaults, and a residual
    # network said nothing else; the folds' held-out R^2 (all <= 0) shows it
    X, y = small
    if noise:
        y = np.random.RandomState(1).randn(*y.shape)
    sel = RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[2, 3], cv=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sel.fit(X, y)
    said = [w for w in caught if "No setting predicts held-out rows" in str(w.message)]
    assert len(said) == (1 if noise else 0), sel.depth_results_["mean_test_score"]
    assert noise == (sel.best_score_ <= 0)
    # another score has no "mean" at 0; a sweep of constant networks read no rank
    # (each fit says it is constant)
    for params in ({"scoring": "neg_mean_squared_error"},
                   {"estimator": DeepL2Regressor(**FAST, alpha=1e4), "scoring": None}):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sel.set_params(**params).fit(X, y)
        assert not [w for w in caught if "No setting predicts" in str(w.message)]


def test_a_named_loss_chooses_the_same_setting_in_any_units():
    # an absolute score_tol on neg_mean_squared_error: targets in thousandths
    # tied every alpha (MSEs near 1e-7) and chose the constant network, while the
    # fits themselves were identical in any units (normalize=True)
    rng = np.random.RandomState(21)
    X = rng.randn(120, 6)
    Y = np.c_[np.tanh(X[:, 0] + X[:, 1]), np.cos(X[:, 0]), X[:, 1] - X[:, 0]]
    chosen = []
    for f in (1e-3, 1.0, 1e3):
        sel = RankAwareDepthSelector(DeepL2Regressor(width=16, max_iter=60, random_state=0),
                                     depths=(3,), alphas=[0.03, 10.0], cv=2,
                                     scoring="neg_mean_squared_error", refit=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sel.fit(X, Y * f)
        chosen.append((sel.best_alpha_, sel.best_rank_))
    assert chosen[0] == chosen[1] == chosen[2] and chosen[0][1] > 0, chosen
    # in the scale of R^2's: score_tol times a constant predictor's squared error
    from sklearn.metrics import check_scoring
    from sklearn.model_selection import KFold

    splits = list(KFold(2).split(X))
    tol = sel._tolerance(sel.estimator, X, Y * 1e3, splits,
                         check_scoring(sel.estimator, "neg_mean_squared_error"))
    null = np.mean([np.mean((Y[te] - Y[tr].mean(0)) ** 2) for tr, te in splits]) * 1e6
    assert tol == pytest.approx(0.01 * null)
    sel.set_params(scoring=None)
    assert sel._tolerance(sel.estimator, X, Y, splits, None) == 0.01


def test_cv_results_and_best_params_read_as_grid_searchs(small):
    # an audit: a scikit-learn user found no cv_results_, best_params_ or fold scores
    X, y = small
    pipe = Pipeline([("scale", StandardScaler()), ("net", DeepL2Regressor(**FAST))])
    grid = {"net__depth": [2, 3], "net__alpha": [0.01, 0.1]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = RankAwareDepthSelector(pipe, depths=[2, 3], alphas=[0.01, 0.1],
                                     cv=2).fit(X, y)
        search = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    ours, theirs = sel.cv_results_, search.cv_results_
    assert ours["params"] == theirs["params"]
    for key in ("mean_test_score", "std_test_score", "split0_test_score",
                "split1_test_score", "rank_test_score", "param_net__depth",
                "param_net__alpha"):
        np.testing.assert_allclose(np.asarray(ours[key], dtype=float),
                                   np.asarray(theirs[key], dtype=float), err_msg=key)
    assert ours["rank_test_score"].dtype == theirs["rank_test_score"].dtype
    assert ours["std_fit_time"].shape == theirs["std_fit_time"].shape
    res = sel.depth_results_
    np.testing.assert_array_equal(ours["bottleneck_rank"], res["bottleneck_rank"])
    np.testing.assert_allclose(res["test_score_per_fold"].mean(1), res["mean_test_score"])
    assert sel.best_params_ == {"net__depth": sel.best_depth_,
                                "net__alpha": sel.best_alpha_}
    assert sel.cv_results_["params"][sel.best_index_] == sel.best_params_
    import pandas as pd
    assert pd.DataFrame(sel.cv_results_).shape[0] == 4
    # without a grid, the depth alone; NaN scores rank last, as a search ranks them
    bare = RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[2, 3], cv=2)
    out = [dict(depth=d, score=s, rank=1, parameter_norm=1.0, offset_free_norm=1.0,
                fit_time=0) for d, s in [(2, float("nan")), (3, 0.5)]]
    bare._summarize(np.array([2, 3]), out, 1)
    assert bare.best_params_ == {"depth": 3}
    assert bare.cv_results_["rank_test_score"].tolist() == [2, 1]
    assert "param_alpha" not in bare.cv_results_
    with pytest.raises(sklearn.exceptions.NotFittedError):
        _ = RankAwareDepthSelector(DeepL2Regressor()).cv_results_


@pytest.mark.parametrize("warm_start", [False, True])
def test_a_best_rank_above_the_functions_bound_warns(monkeypatch, small, warm_start):
    # an audit: binary XOR read best_rank_ 4, one output 2, with no word from the
    # selector. The bound each fold's network reports reaches the choice.
    X, y = small
    sel = RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[2, 3], cv=2,
                                 warm_start=warm_start, refit=False)

    def sweep():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sel.fit(X, y)
        return [str(w.message) for w in caught if "best_rank_=" in str(w.message)
                and "is above" in str(w.message)]

    def bound(value):
        monkeypatch.setattr(DeepL2Regressor, "_function_bound",
                            lambda self: (value, "the test's bound", "a reason"))

    bound(100)
    assert sweep() == []
    rank = sel.best_rank_
    assert rank >= 1
    bound(rank)  # at the bound: no word
    assert sweep() == []
    bound(rank - 1)
    told = sweep()
    assert len(told) == 1
    assert f"best_rank_={rank} is above the test's bound = {rank - 1}: a reason" in told[0]


def test_a_one_row_test_fold_under_r2_is_refused_before_any_fit(monkeypatch):
    from sklearn.model_selection import LeaveOneOut

    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 3))
    y = X[:, 0]
    fits = []
    monkeypatch.setattr(DeepL2Regressor, "fit",
                        lambda self, *a, **k: fits.append(1) or self)
    for cv, scoring in [(5, None), (LeaveOneOut(), "r2")]:
        sel = RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[2], cv=cv,
                                     scoring=scoring)
        with pytest.raises(ValueError, match="A test fold holds 1 row: R\\^2"):
            sel.fit(X, y)
    ae = RankAwareDepthSelector(BottleneckAutoencoder(**FAST), depths=[2], cv=5)
    with pytest.raises(ValueError, match="A test fold holds 1 row"):
        ae.fit(X)
    assert fits == []
    # a score defined on one row runs
    monkeypatch.undo()
    sel = RankAwareDepthSelector(DeepL2Regressor(**FAST), depths=[2], cv=5,
                                 scoring="neg_mean_squared_error", refit=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel.fit(X, y)
    assert sel.depth_results_["test_score_per_fold"].shape == (1, 5)


@pytest.mark.parametrize("scores, ranks", [
    ([0.5, 0.5, 0.2], [1, 1, 3]),                    # ties share the lowest rank
    ([float("nan"), -0.5], [2, 1]),                  # NaN below every score
    ([float("inf"), 0.5, float("nan")], [1, 2, 3]),  # as GridSearchCV ranks them
    ([-float("inf"), 0.5, float("nan")], [2, 1, 3]),
    ([float("inf"), 1e20], [1, 2]),                  # beyond 1e16, where x + 1 == x
    ([-float("inf"), float("nan"), -1e20], [2, 3, 1]),
])
def test_cv_results_rank_scores_as_grid_search_does(scores, ranks):
    # a review: infinities ranked unlike GridSearchCV (its ranks of these scores,
    # scikit-learn 1.9), then, offset by 1 from the finite extremes, tied with
    # scores beyond 1e16; ties and NaN recorded as they rank
    sel = RankAwareDepthSelector(DeepL2Regressor())
    depths = np.arange(2, 2 + len(scores))
    out = [dict(depth=int(d), score=s, rank=1, parameter_norm=1.0, offset_free_norm=1.0,
                fit_time=0.0) for d, s in zip(depths, scores)]
    sel._summarize(depths, out, 1)
    assert sel.cv_results_["rank_test_score"].tolist() == ranks


def test_the_bound_of_a_selectors_choice_is_the_largest_of_its_folds():
    # a fold short of a class has a lower bound (three classes of 10, 20 and 30
    # sorted rows under KFold(3) read bounds 1, 2 and 2): the chosen row's is the
    # largest, so a rank every fold may carry does not warn
    sel = RankAwareDepthSelector(DeepL2Classifier())

    def summary(bounds):
        out = [dict(depth=4, score=0.9, rank=2, parameter_norm=1.0, offset_free_norm=1.0,
                    fit_time=0.0, bound=(b, "the bound", "why")) for b in bounds]
        return sel._summarize(np.array([4]), out, len(bounds))

    assert summary([1, 2, 2])[0] == 2 and summary([2, 1, 2])[0] == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sel._warn_if_above_bound(summary([1, 2, 2]))
    with pytest.warns(AmbiguousRankWarning, match="best_rank_=2 is above the bound = 1"):
        sel._warn_if_above_bound(summary([1, 1, 1]))


def test_one_row_folds_are_refused_only_where_the_score_is_an_r2():
    from sklearn.model_selection import LeaveOneOut

    X = np.zeros((6, 2))
    loo = list(LeaveOneOut().split(X))
    masks = [(np.arange(6) != i, np.arange(6) == i) for i in range(6)]
    for est in (DeepL2Classifier(), Pipeline([("s", StandardScaler()),
                                             ("c", DeepL2Classifier())])):
        RankAwareDepthSelector(est)._check_scorable_folds(loo)  # accuracy: defined
    RankAwareDepthSelector(DeepL2Regressor(), scoring="neg_mean_squared_error"
                           )._check_scorable_folds(loo)
    for splits in (loo, masks):  # a mask selects its True rows, not its length
        with pytest.raises(ValueError, match="A test fold holds 1 row"):
            RankAwareDepthSelector(DeepL2Regressor())._check_scorable_folds(splits)
    # scikit-learn scores one row's explained variance 1.0: every setting alike
    with pytest.raises(ValueError, match="1 row: the explained variance"):
        RankAwareDepthSelector(DeepL2Regressor(), scoring="explained_variance"
                               )._check_scorable_folds(loo)
    # an autoencoder asked for a targets' scoring hears that first
    with pytest.raises(ValueError, match="without y"):
        RankAwareDepthSelector(BottleneckAutoencoder(), scoring="r2", cv=LeaveOneOut(),
                               depths=[2]).fit(np.random.default_rng(0).normal(size=(6, 2)))


@pytest.mark.parametrize("answer", ["good", np.ones(2), None, 1j])
def test_a_scorer_that_returns_no_number_is_a_clear_error(answer):
    # float() met these and raised its own TypeError ("float() argument must
    # be ...", "only 0-dimensional arrays ...": a robustness audit)
    X = np.random.RandomState(0).randn(40, 3)
    sel = RankAwareDepthSelector(DeepL2Regressor(**{**FAST, "max_iter": 5}), depths=(2,),
                                 cv=2, scoring=lambda est, X, y: answer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="scoring must return a real number, got"):
            sel.fit(X, X[:, 0])


def test_a_scorer_of_a_torch_scalar_is_read_as_scikit_learn_reads_it():
    # the review of the check above: scikit-learn unwraps .item(); the first
    # version of the check refused tensor(0.25)
    X = np.random.RandomState(0).randn(40, 3)
    sel = RankAwareDepthSelector(DeepL2Regressor(**{**FAST, "max_iter": 5}), depths=(2,),
                                 cv=2, scoring=lambda est, X, y: torch.tensor(0.25))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel.fit(X, X[:, 0])
    assert sel.depth_results_["mean_test_score"].tolist() == [0.25]
