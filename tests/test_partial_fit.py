"""partial_fit: one epoch per call for the mini-batch solvers, optimizer state kept."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import make_moons

from skrank import (
    AmbiguousRankWarning,
    BottleneckAutoencoder,
    DeepL2Classifier,
    DeepL2Regressor,
    ResNetL2Regressor,
    load,
    save,
)

from ._estimators import small

KW = small(solver="adam", learning_rate_init=1e-2, random_state=0, batch_size=20)


def test_partial_fit_only_for_minibatch_solvers():
    assert not hasattr(DeepL2Regressor(), "partial_fit")  # L-BFGS: full batch
    assert hasattr(DeepL2Regressor(solver="sgd"), "partial_fit")


def test_calls_continue_like_epochs_of_one_fit():
    """k calls on the same data = a k-epoch fit: the optimizer's moments carry over
    (a fresh optimizer per call would take other steps)."""
    rng = np.random.RandomState(0)
    X = rng.randn(60, 3)
    y = np.tanh(X @ rng.randn(3, 2))
    kw = dict(KW, tol=0.0, dtype="float64", max_iter=5, normalize=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # partial_fit starts at full depth: compare with a fit that does too
        full = DeepL2Regressor(**kw, init="random").fit(X, y)
        part = DeepL2Regressor(**kw)
        for _ in range(5):
            part.partial_fit(X, y)
    np.testing.assert_allclose(part.loss_curve_, full.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(part.predict(X), full.predict(X), rtol=1e-10)
    assert part.n_iter_ == 5 and part.stop_reason_ == "partial_fit"


def test_classifier_needs_classes_first_and_keeps_them():
    X, y = make_moons(120, noise=0.1, random_state=0)
    clf = DeepL2Classifier(**KW)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X[:60], y[:60])
    clf = DeepL2Classifier(**KW)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.partial_fit(X[:60][y[:60] == 0], y[:60][y[:60] == 0], classes=[0, 1])
        for _ in range(30):
            clf.partial_fit(X, y)
    assert clf.classes_.tolist() == [0, 1]
    assert clf.score(X, y) > 0.85
    with pytest.raises(ValueError, match="not among the classes"):
        clf.partial_fit(X[:3], [0, 1, 2])
    # other classes on a later call are refused (MLPClassifier's convention); the
    # same ones, in any order, are fine
    with pytest.raises(ValueError, match=r"not the classes the network was built for "
                                         r"\(\[0, 1\], by fit or the first call"):
        clf.partial_fit(X[:3], y[:3], classes=[0, 1, 2])
    clf.partial_fit(X[:3], y[:3], classes=[1, 0])


def test_later_calls_keep_the_first_scaling_and_shapes():
    rng = np.random.RandomState(1)
    X = rng.randn(50, 4)
    ae = BottleneckAutoencoder(**KW)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ae.partial_fit(X)
        mean, scale = ae.input_mean_.copy(), ae.input_scale_
        ae.partial_fit(10 * X + 3)
    np.testing.assert_array_equal(ae.input_mean_, mean)
    assert ae.input_scale_ == scale
    with pytest.raises(ValueError, match="features"):
        ae.partial_fit(X[:, :3])


@pytest.mark.parametrize("change, match", [
    ({"depth": 4}, "depth 3 vs 4"), ({"width": 5}, "width 16 vs 5"),
    ({"alpha": -1.0}, "alpha"), ({"learning_rate_init": -1.0}, "learning_rate_init"),
    ({"momentum": 5.0}, "momentum"), ({"n_threads": 0}, "n_threads")])
def test_later_calls_refuse_parameters_they_cannot_train_with(change, match):
    # scikit-learn checks parameters on the first call only: a later set_params
    # trained a depth-3 network labelled depth 4, or a negative penalty
    X = np.random.RandomState(1).randn(50, 4)
    reg = DeepL2Regressor(**dict(KW, depth=3, solver="sgd"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.partial_fit(X, X[:, 0])
        before = [p.detach().clone() for p in reg.module_.parameters()]
        with pytest.raises(ValueError, match=match):
            reg.set_params(**change).partial_fit(X, X[:, 0])
    assert all(torch.equal(a, b) for a, b in zip(before, reg.module_.parameters()))


def test_fit_starts_over_and_saving_drops_the_optimizer(tmp_path):
    rng = np.random.RandomState(2)
    X = rng.randn(40, 3)
    y = X[:, 0]
    reg = DeepL2Regressor(**KW)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(3):
            reg.partial_fit(X, y)
        assert reg.n_iter_ == 3
        save(reg, tmp_path / "p.skrank")
        back = pickle.loads(pickle.dumps(reg))
        np.testing.assert_array_equal(back.predict(X), reg.predict(X))
        np.testing.assert_array_equal(load(tmp_path / "p.skrank").predict(X), reg.predict(X))
        before = back.predict(X)
        back.partial_fit(X, y)  # a fresh optimizer, the same network continued
        # the record goes on (as MLPRegressor's after pickling)
        assert back.n_iter_ == 4 and len(back.loss_curve_) == 4
        np.testing.assert_array_equal(back.loss_curve_[:3], reg.loss_curve_)
        fresh = DeepL2Regressor(**{**KW, "random_state": 1}).partial_fit(X, y)
        assert np.abs(back.predict(X) - before).mean() < \
            np.abs(fresh.predict(X) - before).mean()
        reg.fit(X, y)
        assert reg.stop_reason_ != "partial_fit" and not hasattr(reg, "_stepper")
        reg.partial_fit(X, y)  # continues the fitted network
    assert reg.input_scale_ == DeepL2Regressor(**KW).fit(X, y).input_scale_


def test_zero_weight_rows_are_absent_in_later_calls_too():
    # a later call's batch of zero weights only gave a 0/0 loss and a divergence
    rng = np.random.RandomState(0)
    X, y = rng.randn(60, 3), rng.randn(60)
    est = DeepL2Regressor(**dict(KW, batch_size=5)).partial_fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # a few epochs read a bottleneck above the one output (warned, and not
        # what this test is about)
        warnings.filterwarnings("ignore", "bottleneck_rank_=.* is above min")
        est.partial_fit(X, y, sample_weight=np.r_[np.ones(5), np.zeros(55)])
    assert est.stop_reason_ == "partial_fit" and np.isfinite(est.loss_curve_).all()


@pytest.mark.parametrize("make, key", [(DeepL2Regressor, "alpha"),
                                       (ResNetL2Regressor, "alpha"),
                                       (ResNetL2Regressor, "lam")])
def test_a_penalty_changed_between_calls_is_the_one_trained_on(make, key):
    # each call trains on the current objective, as MLPRegressor's partial_fit does;
    # the first call's penalty used to stay in force whatever set_params said
    rng = np.random.RandomState(0)
    X = rng.randn(60, 3)
    y = np.tanh(X @ rng.randn(3, 2))
    kw = dict(KW, dtype="float64", max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        changed, kept = make(**kw).partial_fit(X, y), make(**kw).partial_fit(X, y)
        changed.set_params(**{key: 10.0})
        for _ in range(3):
            changed.partial_fit(X, y)
            kept.partial_fit(X, y)
    # a ten-times heavier penalty shrinks the parameters
    assert changed.parameter_norm_ < 0.9 * kept.parameter_norm_
    if key == "lam":
        assert changed.module_.lam == 10.0
        from skrank._penalty import penalty_value

        assert changed.cost_ == pytest.approx(
            float(penalty_value(changed.module_.penalty_groups(), 1.0)))


def test_a_diverged_call_leaves_an_optimizer_later_calls_can_use():
    # the momentum of the diverged steps was kept: every later call diverged too
    rng = np.random.RandomState(0)
    X = rng.randn(60, 3)
    y = 2 * X[:, 0] + X[:, 1]
    est = DeepL2Regressor(**{**KW, "solver": "sgd", "learning_rate_init": 1e6,
                             "batch_size": 10})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.partial_fit(X, y)
        assert est.stop_reason_ == "diverged"
        assert est.restart_objectives_.shape == (1,) and est.best_restart_ == 0
        assert np.isnan(est.restart_objectives_[0])
        est.set_params(learning_rate_init=1e-3)
        for _ in range(3):
            est.partial_fit(X, y)
    assert est.stop_reason_ == "partial_fit" and np.isfinite(est.loss_curve_).all()


def test_partial_fit_after_fit_goes_on_with_the_record():
    # as MLPRegressor: partial_fit after fit adds its epochs to n_iter_,
    # loss_curve_ and train_time_ (a fresh optimizer, the same network's record)
    rng = np.random.RandomState(0)
    X = rng.randn(60, 3)
    y = 2 * X[:, 0] + X[:, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = DeepL2Regressor(**{**KW, "max_iter": 30, "warmup_iter": 5,
                                 "track_rank_every": 10}).fit(X, y)
        curve, n_iter, fit_time = est.loss_curve_.copy(), est.n_iter_, est.train_time_
        history = est.rank_history_
        est.partial_fit(X, y)
        est.partial_fit(X, y)
    assert est.n_iter_ == n_iter + 2 and len(est.loss_curve_) == len(curve) + 2
    assert est.rank_history_ is history and len(history["n_iter"]) == 3
    np.testing.assert_array_equal(est.loss_curve_[:len(curve)], curve)
    assert est.train_time_ > fit_time
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)  # fit starts over
    assert est.n_iter_ == n_iter and len(est.loss_curve_) == len(curve)


def test_autoencoder_partial_fit_trains_on_fresh_noisy_copies():
    # input_noise was ignored by partial_fit (the same network as without it),
    # while the estimator still reported a denoiser's local dimension
    X = np.random.RandomState(0).randn(60, 3)
    kw = dict(KW, dtype="float64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = BottleneckAutoencoder(**kw)
        noisy = BottleneckAutoencoder(**kw, input_noise=0.5, n_noisy_copies=2)
        for _ in range(3):
            plain.partial_fit(X)
            noisy.partial_fit(X)
    assert not np.allclose(plain.reconstruct(X), noisy.reconstruct(X))
    # the copies are drawn afresh each call: two calls on the same rows differ
    # from one call with the same noise twice
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = BottleneckAutoencoder(**kw, input_noise=0.5).partial_fit(X)
    draws = []
    real = a._training_pairs
    a._training_pairs = lambda *args: draws.append(real(*args)) or draws[-1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a.partial_fit(X)
        a.partial_fit(X)
    assert len(draws) == 2 and not np.allclose(draws[0][0], draws[1][0])
    assert draws[0][0].shape == (4 * 60, 3)  # n_noisy_copies=4 by default


def test_a_learning_rate_and_alpha_changed_between_calls_take_effect():
    rng = np.random.RandomState(0)
    X = rng.randn(60, 3)
    y = np.tanh(X @ rng.randn(3, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = DeepL2Regressor(**dict(KW, dtype="float64", alpha=1e-4)).partial_fit(X, y)
        before = [p.detach().clone() for p in est.module_.parameters()]
        est.set_params(learning_rate_init=1e-12)
        est.partial_fit(X, y)
    # a step of 1e-12 leaves the parameters where they were
    for p, q in zip(est.module_.parameters(), before):
        np.testing.assert_allclose(p.detach().numpy(), q.numpy(), atol=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.set_params(alpha=10.0, learning_rate_init=1e-12)
        est.partial_fit(X, y)
    # the objective reported is the one trained on: its penalty at alpha=10
    # (the data term is >= 0); the first call's alpha reported a tiny penalty
    assert est.loss_curve_[-1] >= 10.0 / est.depth * est.parameter_norm_ * 0.99


def test_classes_with_nan_or_none_are_refused_as_fit_refuses_such_labels():
    X, y = make_moons(40, noise=0.1, random_state=0)
    for classes in ([0, 1, np.nan], np.array([0, 1, None], dtype=object)):
        with pytest.raises(ValueError, match="classes contains NaN or None"):
            DeepL2Classifier(**KW).partial_fit(X, y, classes=classes)


@pytest.mark.parametrize("classes", [[[0, 1]], 1, [[0], [1]]])
def test_classes_of_another_shape_are_refused_by_name(classes):
    # scikit-learn's LabelEncoder named y ("y should be a 1d array"), which was fine
    X, y = make_moons(40, noise=0.1, random_state=0)
    with pytest.raises(ValueError, match="classes must be a 1-D array"):
        DeepL2Classifier(**KW).partial_fit(X, y, classes=classes)


@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_a_dtype_change_is_refused_not_silently_ignored(how):
    # the network would go on training in the fitted precision while the
    # parameters say another: refused, as a change of depth or width is
    X, y = make_moons(40, noise=0.1, random_state=0)
    est = DeepL2Regressor(**KW, warm_start=how == "warm_start")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        getattr(est, "partial_fit" if how == "partial_fit" else "fit")(X, y)
        est.set_params(dtype="float64")
        with pytest.raises(ValueError, match="dtype 'float32' vs 'float64'"):
            getattr(est, "partial_fit" if how == "partial_fit" else "fit")(X, y)
        est.set_params(dtype="float32")
        getattr(est, "partial_fit" if how == "partial_fit" else "fit")(X, y)


def test_pandas_na_counts_as_a_missing_label():
    pd = pytest.importorskip("pandas")
    X, y = make_moons(40, noise=0.1, random_state=0)
    with pytest.raises(ValueError, match="classes contains NaN or None"):
        DeepL2Classifier(**KW).partial_fit(X, y, classes=np.array([0, 1, pd.NA], dtype=object))
    labels = pd.Series(np.where(y == 1, "b", "a"), dtype=object)
    labels.iloc[3] = pd.NA
    with pytest.raises(ValueError, match="NaN or None labels"):
        DeepL2Classifier(**KW).fit(X, labels)


@pytest.mark.parametrize("copy_", [lambda e: pickle.dumps(e), __import__("copy").deepcopy])
def test_pickling_leaves_the_pickled_model_its_optimizer(copy_):
    """A pickle or a deep copy of a model between partial_fit calls drops the
    optimizer from the copy only: the original's next call continues its own
    record and steps exactly as without the copy."""
    rng = np.random.RandomState(0)
    X = rng.randn(60, 3)
    y = X[:, 0] + 0.5 * X[:, 1] ** 2
    runs = []
    for copies in (False, True):
        reg = DeepL2Regressor(**KW)
        for _ in range(3):
            reg.partial_fit(X, y)
        if copies:
            copy_(reg)
        reg.partial_fit(X, y)
        runs.append(reg)
    assert runs[1].n_iter_ == 4
    np.testing.assert_array_equal(runs[1].predict(X), runs[0].predict(X))


def test_a_call_too_small_to_show_the_rank_says_so():
    """Readings after partial_fit are taken on the call's rows: one row reads rank
    0 whatever the network learned, and says so; a full batch does not warn."""
    from skrank import AmbiguousRankWarning

    rng = np.random.RandomState(0)
    X = rng.randn(60, 4)
    y = X[:, 0] + X[:, 1] ** 2
    reg = DeepL2Regressor(**KW)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(10):
            reg.partial_fit(X, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg.partial_fit(X, y)
    assert not [w for w in caught if "can show a rank of at most" in str(w.message)]
    assert reg.bottleneck_rank_ >= 1
    with pytest.warns(AmbiguousRankWarning, match="1 row.*at most 0"):
        reg.partial_fit(X[:1], y[:1])
    assert reg.bottleneck_rank_ == 0


@pytest.mark.parametrize("missing", ["absent", None])
def test_partial_fit_on_a_model_without_a_record_starts_one(missing):
    # a model saved before loss_curve_ / n_iter_ were kept (or with them None)
    rng = np.random.RandomState(1)
    X = rng.randn(40, 3)
    y = X[:, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = DeepL2Regressor(**{**KW, "max_iter": 5}).fit(X, y)
        est = pickle.loads(pickle.dumps(est))
        for name in ("loss_curve_", "n_iter_", "train_time_"):
            if missing == "absent":
                delattr(est, name)
            else:
                setattr(est, name, None)
        est.partial_fit(X, y)
    assert est.n_iter_ == 1 and len(est.loss_curve_) == 1
    assert np.isfinite(est.train_time_)


def test_each_call_sets_its_own_explosion_limit():
    # the limit of the first call's loss held for the estimator's life: later
    # rows of a wider range were flagged as diverged at once, every call, and
    # never trained (found by a break-it audit)
    from skrank import DivergenceWarning

    rng = np.random.RandomState(0)
    X = rng.randn(60, 4)
    y = X[:, 0] - 2 * X[:, 1]
    est = DeepL2Regressor(depth=3, width=8, solver="adam", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(3):
            est.partial_fit(X, y)
    before = [p.detach().clone() for p in est.module_.parameters()]
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        est.partial_fit(X, y * 3e3)
    assert est.stop_reason_ == "partial_fit"
    assert any(not torch.equal(a, b) for a, b in zip(before, est.module_.parameters()))



@pytest.mark.parametrize("alike", ["X", "y"])
def test_a_first_call_of_rows_all_alike_warns(alike):
    # 100 rows of targets 5 set the unit to 5; a stream going on with a spread of
    # 0.45 then ended at R^2 -20, with no word (a held-out audit)
    rng = np.random.RandomState(0)
    X, y = rng.randn(100, 3), rng.randn(100, 2)
    if alike == "X":
        X[:] = [1.0, -2.0, 0.5]
    else:
        y[:] = 5.0
    with pytest.warns(UserWarning, match=f"fixes the units {alike} .* same in every row"):
        DeepL2Regressor(solver="adam", depth=3, width=8).partial_fit(X, y)


def test_later_targets_too_large_for_the_dtype_are_refused_and_the_model_kept():
    # they trained as a divergence ("lower learning_rate_init"), with a numpy
    # overflow warning at 1e200, where too large inputs were refused by name
    rng = np.random.RandomState(0)
    X, y = rng.randn(60, 3), rng.randn(60)
    est = DeepL2Regressor(**KW)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.partial_fit(X, y)
    before, n_iter = est.predict(X), est.n_iter_
    for big in (1e39, 1e200):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(ValueError, match=r"y holds values up to .* too large for "
                                                 r"float32"):
                est.partial_fit(X, y * big)
        with pytest.raises(ValueError, match="X holds values up to .* times"):
            est.partial_fit(X * big, y)
    assert est.n_iter_ == n_iter and est.stop_reason_ == "partial_fit"
    np.testing.assert_array_equal(est.predict(X), before)


def test_a_stream_that_collapses_the_network_warns_as_fit_does():
    rng = np.random.RandomState(0)
    X = rng.randn(80, 3)
    y = X[:, 0] - X[:, 1]
    est = DeepL2Regressor(**{**KW, "alpha": 100.0})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(40):
            est.partial_fit(X, y)
    assert est.bottleneck_rank_ == 0
    with pytest.warns(UserWarning, match="constant on the training rows"):
        est.partial_fit(X, y)


def _one_call(n_rows, n_outputs):
    """(rng, X, a regressor after one partial_fit call on a linear map of X)."""
    rng = np.random.RandomState(0)
    X = rng.randn(n_rows, 4)
    est = DeepL2Regressor(**KW)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.partial_fit(X, X @ rng.randn(4, n_outputs))
    return rng, X, est


def test_copies_of_a_few_rows_bound_the_reading_as_those_rows_do():
    # 50 copies of two rows read rank 1 on a rank-4 network, with no word
    rng, X, est = _one_call(60, 4)
    with pytest.warns(AmbiguousRankWarning, match="2 distinct row.*at most 1"):
        est.partial_fit(np.repeat(X[:2], 25, 0), np.repeat(est.predict(X[:2]), 25, 0))


def test_an_autoencoder_stream_takes_a_last_call_of_one_row():
    X = np.random.RandomState(0).randn(301, 4)
    ae = BottleneckAutoencoder(**KW)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for rows in (slice(0, 100), slice(100, 200), slice(200, 300)):
            ae.partial_fit(X[rows])
        assert ae.input_noise_ == 0.0  # documented, as fit sets it
        with pytest.raises(ValueError, match="at least 2 samples"):
            BottleneckAutoencoder(**KW).partial_fit(X[:1])
        ae.partial_fit(X[300:])
    assert ae.n_iter_ == 4


@pytest.mark.parametrize("zero", ["X", "y"])
def test_a_first_call_with_no_unit_warns(zero):
    # a stream that began with a row of zeros got scale 1 for good: in units of
    # 1000 afterwards it trained to R^2 -3,000 with no word
    from skrank import DeepL2Regressor

    rng = np.random.RandomState(0)
    X, y = rng.randn(5, 3), rng.randn(5)
    (X if zero == "X" else y)[:] = 0
    with pytest.warns(UserWarning, match=f"partial_fit fixes the units {zero} .* all zero"):
        DeepL2Regressor(solver="adam", depth=3, width=8).partial_fit(X, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        DeepL2Regressor(solver="adam", depth=3, width=8).partial_fit(
            rng.randn(1, 3), rng.randn(1))  # one row: its own RMS is a unit
        DeepL2Regressor(solver="adam", depth=3, width=8, normalize=False).partial_fit(
            X, y)  # no scale, nothing to say of one
    assert not [w for w in caught if "fixes the units" in str(w.message)]


def test_a_call_of_one_repeated_input_warns_of_its_rows_not_of_a_constant_network():
    # repeated measurements at one X read rank 0 there; "the network is
    # constant" beside it was false (diagnose(X) read 4 afterwards)
    rng, X, est = _one_call(80, 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.partial_fit(np.repeat(X[:1], 20, 0), rng.randn(20, 3))
    messages = [str(w.message) for w in caught]
    assert any("1 distinct row" in m for m in messages)
    assert not any("constant on the training rows" in m for m in messages)


def test_an_autoencoders_warm_fit_still_needs_two_rows():
    X = np.random.RandomState(0).randn(60, 3)
    ae = BottleneckAutoencoder(**{**KW, "solver": "lbfgs", "warm_start": True})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ae.fit(X)
    with pytest.raises(ValueError, match="at least 2 samples"):
        ae.fit(X[:1])


def test_a_call_whose_epoch_explodes_keeps_its_start():
    # the call's end point was kept unread and the next call started from it
    # (predictions 1e9 for targets within 3, no warning; the break-it audit)
    from skrank import DivergenceWarning

    rng = np.random.RandomState(0)
    X = rng.randn(100, 3)
    y = X[:, 0] - X[:, 1]
    est = DeepL2Regressor(depth=3, width=8, solver="sgd", learning_rate_init=1e3,
                          random_state=0)
    for _ in range(2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            with pytest.warns(DivergenceWarning, match="restored"):
                est.partial_fit(X, y)
        assert est.n_iter_ == 0
        assert np.abs(est.predict(X)).max() < 10
