"""Growing a deep network from a shallow one (``init='grow'``, ``skrank._grow``)."""

import inspect
import time
import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch
from sklearn.datasets import make_moons

import skrank._grow as grow
from skrank import BottleneckAutoencoder, DeepL2Classifier, DeepL2Regressor
from skrank._networks import FullyConnectedNet

from ._estimators import small


def _square(n, seed):
    """One output of two inputs, a generator of this file only."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, (n, 2))
    return X, np.sin(2 * X[:, 0]) + X[:, 1] ** 2


@pytest.mark.parametrize("seed", [0, 1])
def test_default_fit_of_one_output_beats_the_zero_function(seed):
    """A random deep start on a weak data term (one output) stops in a sharp
    region: objective about 7.9 where the zero function has 1 (the normalized
    targets' mean square), R^2 0.85. The grown fit reaches the function."""
    X, y = _square(300, seed)
    X_test, y_test = _square(300, seed + 100)
    reg = DeepL2Regressor(random_state=seed).fit(X, y)
    assert reg.stop_reason_ == "converged"
    assert reg.loss_curve_[-1] < 0.5
    assert reg.score(X_test, y_test) > 0.95


@pytest.mark.slow  # default-depth fits, about 6 s
def test_a_fit_above_the_zero_network_warns():
    from sklearn.exceptions import ConvergenceWarning

    X, y = _square(300, 0)
    with pytest.warns(ConvergenceWarning, match="above the zero network"):
        DeepL2Regressor(random_state=0, init="random").fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        DeepL2Regressor(random_state=0).fit(X, y)


def test_default_classifier_beats_the_zero_function():
    """Cross-entropy is at most log 2 at the zero function on two balanced
    classes; a random deep start on noisy moons ended at 1.16 (measured)."""
    X, y = make_moons(200, noise=0.3, random_state=3)
    clf = DeepL2Classifier(random_state=0).fit(X, y)
    assert clf.loss_curve_[-1] < 0.5 * np.log(2)


def test_deep_stage_starts_from_the_function_the_shallow_stage_fitted(monkeypatch):
    calls = []
    real = grow.train_many

    def spy(modules, X, Y, **kwargs):
        with torch.no_grad():
            calls.append((modules[0], X, modules[0](X).clone()))
        return real(modules, X, Y, **kwargs)

    monkeypatch.setattr(grow, "train_many", spy)
    X, y = _square(100, 2)
    reg = DeepL2Regressor(depth=6, width=16, max_iter=80, random_state=0,
                          init="grow").fit(X, y)
    (shallow, X_t, _), (deep, _, start) = calls
    assert shallow.architecture()["depth"] == grow.START_DEPTH == 3
    assert deep.architecture()["depth"] == 6 and deep is reg.module_
    with torch.no_grad():
        fitted = shallow(X_t)
    # the inserted layers keep the representation's directions above DEEPEN_RTOL
    err = float((start - fitted).norm() / fitted.norm())
    assert err < 0.05


def test_shallow_stage_counts_as_warm_up():
    X, y = _square(80, 3)
    kw = dict(depth=5, width=16, max_iter=40, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grown = DeepL2Regressor(**kw, init="grow").fit(X, y)
        cold = DeepL2Regressor(**kw, init="random").fit(X, y)
        assert grown.n_iter_ <= 40 < len(grown.loss_curve_)
        assert len(cold.loss_curve_) == cold.n_iter_
        # a warm start continues the fitted network: nothing to grow
        grown.set_params(warm_start=True).fit(X, y)
    assert len(grown.loss_curve_) == grown.n_iter_
    assert grown.module_.architecture()["depth"] == 5


@pytest.mark.parametrize("depth", [2, grow.START_DEPTH])
def test_grow_at_start_depth_or_shallower_is_a_plain_fit(depth):
    X, y = _square(60, 4)
    kw = dict(depth=depth, width=8, max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = DeepL2Regressor(**kw, init="grow").fit(X, y).predict(X)
        b = DeepL2Regressor(**kw, init="random").fit(X, y).predict(X)
    np.testing.assert_array_equal(a, b)


def _depths_trained(monkeypatch):
    depths = []
    real = grow.train_many

    def spy(modules, X, Y, **kwargs):
        depths.append([m.architecture()["depth"] for m in modules])
        return real(modules, X, Y, **kwargs)

    monkeypatch.setattr(grow, "train_many", spy)
    return depths


@pytest.mark.parametrize("cls", [DeepL2Regressor, DeepL2Classifier, BottleneckAutoencoder])
def test_every_fully_connected_estimator_grows(cls, monkeypatch):
    # the restarts in one batch, not in two groups (see _restart_groups)
    monkeypatch.setattr("skrank._base._restart_groups", lambda *args: None)
    depths = _depths_trained(monkeypatch)
    X, y = _square(60, 5)
    y = (y > np.median(y)).astype(int) if cls is DeepL2Classifier else y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = cls(depth=6, width=8, max_iter=10, random_state=0, n_init=2, init="grow")
        est.fit(X, y) if cls is not BottleneckAutoencoder else est.fit(np.c_[X, y])
    assert depths == [[3, 3], [6, 6]]
    assert est.module_.architecture()["depth"] == 6


def test_leaky_relu_starts_at_random(monkeypatch):
    """Inserted identity layers are not identities under leaky ReLU."""
    depths = _depths_trained(monkeypatch)
    X, y = _square(40, 7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        DeepL2Regressor(depth=5, width=8, max_iter=5, activation="leaky_relu",
                        init="grow").fit(X, y)
    assert depths == [[5]]


def test_a_divergence_in_the_shallow_stage_is_the_fits():
    from skrank._engine import TrainingResult

    first = TrainingResult(loss_curve=[2.0, 1.0], n_iter=2, stop_reason="diverged")
    second = TrainingResult(loss_curve=[0.5], n_iter=1, stop_reason="converged")
    joined = grow._joined(first, second)
    assert joined.stop_reason == "diverged"
    assert joined.loss_curve == [2.0, 1.0, 0.5] and joined.n_iter - joined.n_warmup == 1
    assert grow._joined(replace(first, stop_reason="converged"),
                        second).stop_reason == "converged"


def test_batched_grown_fits_equal_separate_fits():
    """fit_many (the selector's folds) grows every network on its own rows."""
    from skrank._base import fit_many

    X, y = _square(90, 6)
    kw = dict(depth=5, width=8, max_iter=30, random_state=0, dtype="float64", init="grow")
    parts = [(X[:60], y[:60]), (X[30:], y[30:]), (X[::2], y[::2])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batched = fit_many([DeepL2Regressor(**kw) for _ in parts], parts)
        alone = [DeepL2Regressor(**kw).fit(*part) for part in parts]
    for a, b in zip(batched, alone):
        assert a.module_.architecture()["depth"] == 5
        assert len(a.loss_curve_) > a.n_iter_
        np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-6)


@pytest.mark.slow  # default-depth fits, about 6 s
def test_auto_grows_alone_where_a_random_start_ends_above_the_zero_network(monkeypatch):
    """With one output (or cross-entropy) the data term is weak against the
    penalty: a random deep start ends above the zero network's objective (1 on
    normalized targets) and would lose, so ``init='auto'`` trains the grown
    start alone (depth 3, deepened, trained at full depth)."""
    depths = _depths_trained(monkeypatch)
    X, y = _square(300, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stuck = DeepL2Regressor(random_state=0, init="random").fit(X, y)
    assert stuck.loss_curve_[-1] > 1
    depths.clear()
    reg = DeepL2Regressor(random_state=0).fit(X, y)
    assert depths == [[3], [12]]
    assert reg.loss_curve_[-1] < 0.5 and len(reg.loss_curve_) > reg.n_iter_
    depths.clear()
    DeepL2Classifier(**small(depth=6, max_iter=30), init="auto",
                     random_state=0).fit(X, y > np.median(y))
    assert depths == [[3], [6]]
    depths.clear()
    # the autoencoder's 'auto' is its own rule (a random fit first), one feature too
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        BottleneckAutoencoder(**small(depth=6, max_iter=30), random_state=0).fit(X[:, :1])
    assert depths[0] == [6]


@pytest.mark.slow  # two default-depth starts, about 6 s
def test_auto_trains_both_starts_on_several_outputs(monkeypatch):
    """On 12 outputs of a rank-2 teacher a random start does well, and the
    network is also grown: a random fit can stop in a sharp region that no cheap
    bar detects."""
    depths = _depths_trained(monkeypatch)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 8))
    Y = np.tanh(X @ rng.standard_normal((8, 2))) @ rng.standard_normal((2, 12))
    reg = DeepL2Regressor(random_state=0).fit(X, Y)
    # a random fit at depth 12, a grown one at 3 then 12 (at once on two cores)
    assert sorted(depths) == [[3], [12], [12]]
    assert reg.stop_reason_ == "converged"


def test_auto_keeps_the_lower_of_the_random_and_the_grown_fit(monkeypatch):
    import skrank._base as base

    depths = _depths_trained(monkeypatch)
    finals = []
    # the rule, with the starts one after the other (at once: the same fits, below)
    monkeypatch.setattr(base, "_at_once", lambda *args: False)

    def recording(f):
        def spy(*args, **kwargs):
            out = f(*args, **kwargs)
            results = out[1] if isinstance(out, tuple) else out
            finals.append(results[0].loss_curve[-1])
            return out
        return spy

    for name in ("train_grown", "train_deep"):
        monkeypatch.setattr(base, name, recording(getattr(base, name)))
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 8))
    Y = np.tanh(X @ rng.standard_normal((8, 2))) @ rng.standard_normal((2, 12))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = DeepL2Regressor(random_state=0, max_iter=60).fit(X, Y)
    assert depths == [[12], [3], [12]]
    # the random fit and the grown one: the lower is kept
    assert len(finals) == 2 and finals[0] != finals[1]
    assert reg.restart_objectives_[0] == min(finals) == reg.loss_curve_[-1]
    assert (len(reg.loss_curve_) > reg.n_iter_) == (finals[1] < finals[0])


def test_auto_keeps_the_lower_fit_of_each_network_of_a_batch(monkeypatch):
    """Batched fits (fit_many, the selector's folds and alphas): every network gets
    its own grown start and keeps the lower of its own two fits."""
    import skrank._base as base
    from skrank._base import fit_many

    depths = _depths_trained(monkeypatch)
    real = base.train_deep

    def worse_for_the_first(starts, first, X, Y, **kwargs):
        # the first network's grown fit is made to end higher: it keeps its random
        # fit, the second keeps whichever is lower
        out = real(starts, first, X, Y, **kwargs)
        return [replace(out[0], loss_curve=out[0].loss_curve[:-1] + [1e9])] + out[1:]

    monkeypatch.setattr(base, "train_deep", worse_for_the_first)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 8))
    Y = np.tanh(X @ rng.standard_normal((8, 2))) @ rng.standard_normal((2, 12))
    data = [(X[:200], Y[:200]), (X[100:], Y[100:])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ests = fit_many([DeepL2Regressor(random_state=0, max_iter=60) for _ in data], data)
    assert sorted(depths) == [[3, 3], [12, 12], [12, 12]]
    assert len(ests[0].loss_curve_) == ests[0].n_iter_  # its random fit
    assert ests[0].loss_curve_[-1] < 1e9


def test_a_discarded_random_attempt_does_not_warn():
    """The random attempt stops at max_iter, above the zero network; the grown fit
    converges: no 'Maximum iterations' warning for a fit the user never gets."""
    from sklearn.exceptions import ConvergenceWarning

    X, y = _square(60, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg = DeepL2Regressor(depth=6, width=8, alpha=1.0, max_iter=10,
                              random_state=0).fit(X, y)
    assert reg.stop_reason_ == "converged" and len(reg.loss_curve_) > reg.n_iter_


def test_fit_many_batches_only_one_init():
    from skrank._base import _batchable

    X, y = _square(40, 1)
    ests = [DeepL2Regressor(depth=5, width=8, init=i) for i in ("auto", "random")]
    plans = [e._plan(X, y, None) for e in ests]
    assert not _batchable(plans, ests)
    assert _batchable(plans[:1] * 2, ests[:1] * 2)


def test_init_is_validated():
    with pytest.raises(ValueError, match="init"):
        DeepL2Regressor(init="zeros").fit(np.zeros((5, 2)), np.zeros(5))


def test_a_kept_random_fit_keeps_its_warning_and_rank_history(monkeypatch):
    """The random fit is trained on from the grown start, which ends higher: the
    random fit is kept with its own 'Maximum iterations' warning (once) and its
    own rank history, not those of the discarded fit."""
    from dataclasses import replace

    import skrank._base as base

    real = base.train_deep

    def converging_but_worse(*args, **kwargs):
        kwargs["settings"] = replace(kwargs["settings"], max_iter=300)
        return [replace(r, loss_curve=r.loss_curve[:-1] + [1e9])
                for r in real(*args, **kwargs)]

    monkeypatch.setattr(base, "train_deep", converging_but_worse)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 4))
    Y = np.tanh(X @ rng.standard_normal((4, 2))) @ rng.standard_normal((2, 5))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg = DeepL2Regressor(depth=4, width=8, max_iter=10, random_state=0,
                              dtype="float64", track_rank_every=1).fit(X, Y)
    assert reg.stop_reason_ == "max_iter" and len(reg.loss_curve_) == reg.n_iter_
    assert sum("Maximum iterations" in str(w.message) for w in caught) == 1
    assert reg.rank_history_["n_iter"].max() == reg.n_iter_
    assert reg.rank_history_["parameter_norm"][-1] == pytest.approx(reg.parameter_norm_)


@pytest.mark.parametrize("reference, regrown", [(float("inf"), False),
                                                (float("-inf"), True)])
def test_the_autoencoder_trains_on_from_the_grown_start_past_its_bar(
        reference, regrown, monkeypatch):
    """The autoencoder keeps the bars: its random fit is trained on from the grown
    start only when it ended above that start's objective before the deep stage
    (made here unbeatable, or beaten by any fit)."""
    import skrank._base as base

    depths = _depths_trained(monkeypatch)
    monkeypatch.setattr(base, "objectives", lambda modules, *a, **k: [reference])
    rng = np.random.default_rng(0)
    t = rng.uniform(0, 3, 120)
    X = np.column_stack([np.cos(t), np.sin(t), t])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        BottleneckAutoencoder(depth=5, width=16, max_iter=40, warmup_iter=0,
                              random_state=0).fit(X)
    assert depths == ([[5], [3], [5]] if regrown else [[5], [3]])


def test_validation_scores_align_with_the_objectives_of_both_stages():
    # the shallow stage's scores were dropped: 5 scores for 13 objectives
    rng = np.random.RandomState(0)
    X, y = rng.randn(80, 3), rng.randn(80)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = DeepL2Regressor(init="grow", warmup_iter=3, early_stopping=True, depth=4,
                              width=8, max_iter=5, random_state=0).fit(X, y)
    assert len(est.loss_curve_) > est.n_iter_ + 3  # the shallow stage is recorded
    assert len(est.validation_scores_) == len(est.loss_curve_)


def test_a_warm_depth_sweep_on_a_dataframe_does_not_warn_of_feature_names():
    import pandas as pd

    from skrank import RankAwareDepthSelector

    rng = np.random.RandomState(0)
    X = pd.DataFrame(rng.randn(40, 3), columns=["a", "b", "c"])
    y = X["a"].to_numpy() - X["b"].to_numpy()
    base = DeepL2Regressor(width=8, max_iter=5, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        RankAwareDepthSelector(base, depths=[2, 3, 4], cv=2, warm_start=True).fit(X, y)
    assert not [w for w in caught if "feature names" in str(w.message)]


def _both_ways(monkeypatch, fit):
    """``fit()`` with init='auto''s two starts one after the other, then at once."""
    import skrank._base as base

    monkeypatch.setattr(base, "_threads_each", lambda *args: 1)
    out = []
    for at_once in (False, True):
        monkeypatch.setattr(base, "_at_once", lambda *args, at_once=at_once: at_once)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out.append(fit())
    return out


@pytest.mark.parametrize("n_init", [1, 2])
def test_starts_trained_at_once_give_the_fits_one_after_the_other(monkeypatch, n_init):
    X, y = _square(120, 2)
    Y = np.c_[y, np.tanh(y), -y]
    seq, par = _both_ways(monkeypatch, lambda: DeepL2Regressor(
        **small(depth=6, max_iter=40), n_init=n_init, random_state=0).fit(X, Y))
    np.testing.assert_array_equal(seq.loss_curve_, par.loss_curve_)
    np.testing.assert_array_equal(seq.restart_objectives_, par.restart_objectives_)
    np.testing.assert_array_equal(seq.predict(X), par.predict(X))
    assert (seq.n_iter_, seq.bottleneck_rank_) == (par.n_iter_, par.bottleneck_rank_)


def test_batched_starts_trained_at_once_give_the_fits_one_after_the_other(monkeypatch):
    from skrank._base import fit_many

    X, y = _square(150, 3)
    Y = np.c_[y, np.sin(y)]
    data = [(X[:100], Y[:100]), (X[50:], Y[50:])]
    seq, par = _both_ways(monkeypatch, lambda: fit_many(
        [DeepL2Regressor(**small(depth=6, max_iter=40), random_state=0) for _ in data],
        data))
    for a, b in zip(seq, par):
        np.testing.assert_array_equal(a.loss_curve_, b.loss_curve_)
        np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_an_error_in_the_grown_starts_thread_reaches_the_fit(monkeypatch):
    import skrank._base as base

    def failing(*args, **kwargs):
        raise RuntimeError("grown start failed")

    _at_once_on_one_thread(monkeypatch)
    monkeypatch.setattr(base, "grow_start", failing)
    X, y = _square(60, 4)
    with pytest.raises(RuntimeError, match="grown start failed"):
        DeepL2Regressor(**small(depth=6, max_iter=40), random_state=0).fit(
            X, np.c_[y, y**2])


def test_a_fit_excluded_from_the_comparison_changes_no_other_fit(monkeypatch):
    """One fold's random fit stalls (huge raw targets): it has no grown rival, and
    the other fold's fits are the same both ways (the grown starts train as one
    batch of every network both ways: its size changes its rounding)."""
    from skrank._base import fit_many

    rng = np.random.default_rng(3)
    X = rng.uniform(-2, 2, (150, 2))
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2
    Y = np.c_[y, np.tanh(y)]
    data = [(X[:100], Y[:100]), (X[50:], Y[50:] * 1e12)]
    seq, par = _both_ways(monkeypatch, lambda: fit_many(
        [DeepL2Regressor(**small(depth=6, max_iter=40), normalize=False, random_state=0)
         for _ in data], data))
    assert seq[1].stop_reason_ == "stalled"
    for a, b in zip(seq, par):
        np.testing.assert_array_equal(a.loss_curve_, b.loss_curve_)


def test_ctrl_c_while_the_grown_start_trains_on_ends_the_fit(monkeypatch):
    """Ctrl-C reaches the fit's thread while the grown start trains in its own: the
    grown start stops, the fit ends usable on the random fit and Ctrl-C goes on to
    the caller; no thread is left running, torch's thread count is restored."""
    import _thread
    import threading
    import time

    import skrank._base as base
    from skrank._engine import TrainingInterruptedWarning

    slow = base._Stop.on_iteration

    def slow_beside(self, run, loss_value):
        if threading.current_thread() is not threading.main_thread():
            time.sleep(0.02)
        return slow(self, run, loss_value)

    _at_once_on_one_thread(monkeypatch)
    monkeypatch.setattr(base._Stop, "on_iteration", slow_beside)
    X, y = _square(60, 4)
    reg = DeepL2Regressor(**small(depth=6, max_iter=400, tol=0.0), random_state=0)
    before = torch.get_num_threads()
    timer = threading.Timer(1.5, _thread.interrupt_main)
    start = time.perf_counter()
    timer.start()
    try:
        with pytest.warns(TrainingInterruptedWarning), pytest.raises(KeyboardInterrupt):
            reg.fit(X, np.c_[y, y**2])
    finally:
        timer.cancel()
    assert time.perf_counter() - start < 6  # the grown start alone takes over 8 s
    assert reg.stop_reason_ == "interrupted" and np.isfinite(reg.predict(X)).all()
    assert not any(t.name == "skrank grown start" for t in threading.enumerate())
    assert torch.get_num_threads() == before


def test_an_interruption_in_the_grown_starts_thread_ends_the_fit(monkeypatch):
    """The interrupted grown start stops the random one beside it: the fit ends,
    usable, and the interruption goes on to the caller."""
    import threading
    import time

    import skrank._base as base
    from skrank._engine import TrainingInterruptedWarning

    real, slow = base.train_deep, base._Stop.on_iteration

    def interrupted(starts, first, X, Y, **kwargs):
        kwargs["callbacks"] = [lambda n, m: (_ for _ in ()).throw(KeyboardInterrupt)]
        return real(starts, first, X, Y, **kwargs)

    def slow_random(self, run, loss_value):
        # the grown start's shallow stage takes as many iterations as the random
        # fit: on a loaded machine the random fit could end first
        if threading.current_thread() is threading.main_thread():
            time.sleep(0.01)
        return slow(self, run, loss_value)

    _at_once_on_one_thread(monkeypatch)
    monkeypatch.setattr(base, "train_deep", interrupted)
    monkeypatch.setattr(base._Stop, "on_iteration", slow_random)
    X, y = _square(60, 4)
    reg = DeepL2Regressor(**small(depth=6, max_iter=400, tol=0.0), random_state=0)
    with pytest.warns(TrainingInterruptedWarning), pytest.raises(KeyboardInterrupt):
        reg.fit(X, np.c_[y, y**2])
    assert reg.stop_reason_ == "interrupted" and reg.n_iter_ < 400
    assert np.isfinite(reg.predict(X)).all()


def test_an_interruption_of_the_grown_start_after_the_random_one_says_which_is_kept(
        monkeypatch):
    """Starts one after the other: Ctrl-C in the grown start's shallow stage keeps
    the random start's fit, which had ended. An audit saw the shallow stage's
    "interrupted after 136 iterations at depth 3", where the model held the
    depth-6 random fit of 470 iterations."""
    import skrank._base as base
    from skrank._engine import TrainingInterruptedWarning

    real = base.grow_start

    def interrupted(*args, **kwargs):
        kwargs["callbacks"] = [lambda n, m: (_ for _ in ()).throw(KeyboardInterrupt)]
        return real(*args, **kwargs)

    monkeypatch.setattr(base, "grow_start", interrupted)
    X, y = _square(60, 4)
    reg = DeepL2Regressor(**small(depth=6, max_iter=60), random_state=0, n_threads=1)
    with warnings.catch_warnings(record=True) as caught, \
            pytest.raises(KeyboardInterrupt):
        warnings.simplefilter("always")
        reg.fit(X, np.c_[y, y**2])
    said = [str(w.message) for w in caught if w.category is TrainingInterruptedWarning]
    assert said == [base._KEPT_RANDOM]
    assert reg.stop_reason_ == "interrupted" and reg.module_.depth == 6
    assert np.isfinite(reg.predict(X)).all()


def test_ctrl_c_after_the_random_start_beside_the_grown_one_says_which_is_kept(
        monkeypatch):
    """Starts at once: Ctrl-C reaches the fit's thread after its random start has
    ended, while it waits for the grown one: the random fit is kept, and said so."""
    import skrank._base as base
    from skrank._engine import TrainingInterruptedWarning

    real, calls = base._wait, []

    def interrupted_wait(done, worker=None):
        calls.append(worker)
        if len(calls) == 1:  # the wait for the grown start, the random one done
            raise KeyboardInterrupt
        return real(done, worker)

    _at_once_on_one_thread(monkeypatch)
    monkeypatch.setattr(base, "_wait", interrupted_wait)
    X, y = _square(60, 4)
    reg = DeepL2Regressor(**small(depth=6, max_iter=60), random_state=0)
    with warnings.catch_warnings(record=True) as caught, \
            pytest.raises(KeyboardInterrupt):
        warnings.simplefilter("always")
        reg.fit(X, np.c_[y, y**2])
    said = [str(w.message) for w in caught if w.category is TrainingInterruptedWarning]
    assert said[-1] == base._KEPT_RANDOM
    assert reg.stop_reason_ == "interrupted" and np.isfinite(reg.predict(X)).all()


def test_a_warning_of_the_grown_starts_thread_points_at_the_users_line(monkeypatch):
    import skrank._base as base
    from skrank._warn import warn_user

    real = base.grow_start

    def warning(*args, **kwargs):
        warn_user("from the grown start", UserWarning)
        return real(*args, **kwargs)

    _at_once_on_one_thread(monkeypatch)
    monkeypatch.setattr(base, "grow_start", warning)
    X, y = _square(60, 4)
    reg, Y = DeepL2Regressor(**small(depth=6, max_iter=20), random_state=0), np.c_[y, y]
    with pytest.warns(UserWarning, match="from the grown start") as record:
        line = inspect.currentframe().f_lineno + 1
        reg.fit(X, Y)
    # the fit's line (issued by the fit's thread), not the wrapper's above
    assert [(w.filename, w.lineno) for w in record
            if "grown start" in str(w.message)] == [(__file__, line)]


@pytest.fixture
def two_threads(monkeypatch):
    """Two torch threads and no OMP_NUM_THREADS: the setting whose choices these
    tests read (under OMP_NUM_THREADS=1, which asks one thread of the process,
    the starts train one after the other)."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_jobs_of_a_parallel_sweep_take_no_second_thread(monkeypatch, two_threads):
    import joblib

    import skrank._base as base
    from skrank import RankAwareDepthSelector

    monkeypatch.setattr(base, "_n_cores", lambda: 2)
    real, seen = base._at_once, []
    monkeypatch.setattr(base, "_at_once",
                        lambda *args: seen.append(real(*args)) or seen[-1])
    X, y = _square(80, 5)
    est = DeepL2Regressor(**small(max_iter=20), random_state=0)
    for n_jobs, each in ((2, False), (1, True)):
        seen.clear()
        with joblib.parallel_backend("threading"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            RankAwareDepthSelector(est, depths=[4, 5], cv=2, n_jobs=n_jobs,
                                   refit=False).fit(X, np.c_[y, y**2])
        assert seen and set(seen) == {each}


@pytest.mark.parametrize("change, each, at_once", [
    ({}, 1, True), ({"n_threads": 1}, 0, False), ({"n_threads": 4}, 1, True),
    ({"solver": "adam"}, 0, False), ({"warmup_iter": 5}, 0, False),
    # one stream of progress or of rank records: one after the other, on as many
    # threads as at once (the same fit)
    ({"verbose": 1}, 1, False), ({"track_rank_every": 5}, 1, False),
])
def test_starts_train_at_once_only_where_nothing_else_changes(monkeypatch, two_threads,
                                                               change, each, at_once):
    import skrank._base as base

    monkeypatch.setattr(base, "_n_cores", lambda: 2)
    net = DeepL2Regressor(**small(depth=6)).set_params(**change)
    module, X = FullyConnectedNet(3, 2, depth=6, width=8), torch.zeros(100, 3)
    assert base._threads_each(net, X) == each
    assert (each > 0 and base._at_once(net, [module], X)) == at_once
    assert base._threads_each(BottleneckAutoencoder(**small(depth=6)), X) == 0
    # one thread per process asked for: one start after the other
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert base._threads_each(DeepL2Regressor(**small(depth=6)), X) == 0


def test_each_start_takes_half_the_threads(monkeypatch, two_threads):
    import skrank._base as base

    monkeypatch.setattr(base, "_n_cores", lambda: 8)
    X = torch.zeros(100, 3)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(4)
        net = DeepL2Regressor(**small(depth=6), n_threads=4)
        assert base._threads_each(net, X) == 2
        torch.set_num_threads(1)  # n_threads='auto' chose one thread: one each
        assert base._threads_each(net.set_params(n_threads="auto"), X) == 1
    finally:
        torch.set_num_threads(before)


def _at_once_on_one_thread(monkeypatch):
    import skrank._base as base

    monkeypatch.setattr(base, "_threads_each", lambda *args: 1)
    monkeypatch.setattr(base, "_at_once", lambda *args: True)


@pytest.mark.slow  # two default-depth fits, about 4 s
def test_verbose_does_not_change_the_fit(monkeypatch, capsys):
    """verbose trains the starts one after the other, on as many threads each as
    at once: products over two threads instead of one rounded differently."""
    import skrank._base as base

    monkeypatch.setattr(base, "_n_cores", lambda: 2)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3000, 6))
    Y = np.tanh(X @ rng.standard_normal((6, 2))) @ rng.standard_normal((2, 5))
    kw = dict(depth=6, width=64, max_iter=60, n_threads=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quiet = DeepL2Regressor(**kw).fit(X, Y)
        loud = DeepL2Regressor(**kw, verbose=1).fit(X, Y)
    np.testing.assert_array_equal(quiet.loss_curve_, loud.loss_curve_)


@pytest.mark.slow  # waits on a second thread's fit, about 4 s
def test_a_second_ctrl_c_waits_for_the_grown_start_to_stop(monkeypatch):
    """Ctrl-C while the fit waits for the grown start, and again while it waits for
    it to stop: the wait goes on, the fit ends usable on the random fit, and no
    thread outlives it."""
    import _thread
    import threading

    import skrank._base as base
    from skrank._engine import TrainingInterruptedWarning

    waits, signals = [], []
    wait, seen = base._wait, base._Stop.on_iteration

    def recorded_wait(done, worker=None):
        waits.append(worker is None)
        return wait(done, worker)

    def worker_iteration(self, run, loss_value):
        if threading.current_thread() is not threading.main_thread():
            time.sleep(0.01)
            if waits == [True] and not signals:  # the random fit is done
                signals.append(1)
                _thread.interrupt_main()
            elif self.event.is_set() and signals == [1]:
                signals.append(2)
                _thread.interrupt_main()  # while the fit waits for it to stop
                time.sleep(0.3)
        return seen(self, run, loss_value)

    _at_once_on_one_thread(monkeypatch)
    monkeypatch.setattr(base, "_wait", recorded_wait)
    monkeypatch.setattr(base._Stop, "on_iteration", worker_iteration)
    X, y = _square(60, 4)
    reg = DeepL2Regressor(**small(depth=6, max_iter=2000, tol=0.0), random_state=0)
    before = torch.get_num_threads()
    with pytest.warns(TrainingInterruptedWarning), pytest.raises(KeyboardInterrupt):
        reg.fit(X, np.c_[y, y**2])
    assert signals == [1, 2] and waits == [True, False]
    assert reg.stop_reason_ == "interrupted" and np.isfinite(reg.predict(X)).all()
    assert not any(t.name == "skrank grown start" for t in threading.enumerate())
    assert torch.get_num_threads() == before


def test_train_time_is_the_wall_time_of_the_starts_at_once(monkeypatch):
    import time as clock

    X, y = _square(120, 2)
    _at_once_on_one_thread(monkeypatch)
    start = clock.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = DeepL2Regressor(**small(depth=6, max_iter=60), random_state=0).fit(
            X, np.c_[y, np.tanh(y)])
    assert reg.train_time_ <= clock.perf_counter() - start


def test_a_random_fit_without_a_grown_rival_keeps_its_own_rank_records(monkeypatch):
    """A diverged random fit is kept; the grown start beside it still trains (one
    batch with the others), but records no ranks into the kept fit's history."""
    import skrank._base as base
    from skrank._base import fit_many

    real = base.train_grown

    def second_diverged(*args, **kwargs):
        modules, results = real(*args, **kwargs)
        return modules, results[:1] + [replace(results[1], stop_reason="diverged")]

    monkeypatch.setattr(base, "train_grown", second_diverged)
    X, y = _square(100, 6)
    data = [(X, np.c_[y, np.tanh(y)])] * 2
    ests = [DeepL2Regressor(**small(depth=6, max_iter=30), track_rank_every=5,
                            random_state=s) for s in (0, 1)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_many(ests, data)
    assert ests[1].stop_reason_ == "diverged"
    assert (np.diff(ests[1].rank_history_["n_iter"]) > 0).all()

def test_growing_reads_the_layer_without_the_output_maps_spectrum(monkeypatch):
    """deepen needs the bottleneck's layer only: the output map (rows x outputs, the
    costly SVD with many classes) is never chosen, so it is not read; the layer is
    the full reading's."""
    import skrank.diagnostics as diag

    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 5))
    net = FullyConnectedNet(5, 40, depth=3, width=16)
    calls = []
    real = diag._candidate_spectrum

    def counted(W, a, tol, weight):
        calls.append(a.shape)
        return real(W, a, tol, weight)

    monkeypatch.setattr(diag, "_candidate_spectrum", counted)
    full = diag.bottleneck(net, x).layer
    n_full = len(calls)
    assert diag._bottleneck_layer(net, x, tol=0.1, min_gap=3.0) == full
    assert n_full == 3 and len(calls) - n_full == 2  # W_1 and W_2, not W_3


def _two_directions(seed):
    """Four outputs of a rank-2 map of six inputs, a generator of this test only."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(120, 6))
    Z = X @ rng.normal(size=(6, 2))
    return X, np.c_[np.tanh(Z), np.sin(Z), Z[:, :1] ** 2] @ rng.normal(size=(5, 4))


@pytest.mark.parametrize("reading", [{"rank_tol": 0.01}, {"rank_gap": 100.0}])
def test_rank_tolerances_read_and_do_not_train(reading):
    """``rank_tol`` and ``rank_gap`` say how a network is read: a grown start is
    deepened at the default rule's bottleneck, so a refit at other values trains
    the same network bit for bit and reads what ``diagnose`` reads on the default
    fit (before, on this task the grown start moved to another layer at both
    values: another network)."""
    X, Y = _two_directions(0)
    base = dict(depth=6, width=16, max_iter=100, init="grow", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        default = DeepL2Regressor(**base).fit(X, Y)
        other = DeepL2Regressor(**base, **reading).fit(X, Y)
        report = default.diagnose(X, **reading)
    for a, b in zip(default.module_.parameters(), other.module_.parameters()):
        assert torch.equal(a, b)
    assert (report.bottleneck.rank, report.bottleneck.layer) == (
        other.bottleneck_rank_, other.bottleneck_layer_)
    assert report.jacobian_rank == other.jacobian_rank_


@pytest.mark.slow  # warm chains at three tolerances, about 5 s
def test_a_warm_chain_trains_alike_at_any_rank_tolerance():
    """A selector's warm chain deepens at the default rule's bottleneck on the rows
    it is given, whatever tolerance its fits read at: the sweep's scores are the
    same (a review found them apart where the chain used the fitted layer, read on
    the training split of early stopping, at the default tolerances only)."""
    from skrank import RankAwareDepthSelector

    X, Y = _two_directions(1)
    scores = []
    for tol in (0.1, 0.01):
        net = DeepL2Regressor(depth=4, width=12, max_iter=60, random_state=1,
                              early_stopping=True, validation_fraction=0.3, rank_tol=tol)
        sel = RankAwareDepthSelector(net, depths=[4, 7], cv=2, warm_start=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores.append(sel.fit(X, Y).depth_results_["mean_test_score"])
    assert np.array_equal(scores[0], scores[1])


def test_the_growth_layer_counts_weights_as_repeats():
    """Rows of weight 0 count for nothing and an integer weight as that many
    repeats, where the network is deepened as in its bottleneck's reading (on this
    draw the weighted rows read another layer than all rows)."""
    X, Y = _two_directions(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = DeepL2Regressor(depth=6, width=16, max_iter=100, random_state=0).fit(X, Y)
    x = torch.as_tensor(reg._scale_inputs(X), dtype=torch.float32)
    rng = np.random.default_rng(0)
    w = np.where(rng.random(len(X)) < 0.8, 0.0, rng.integers(1, 6, len(X)).astype(float))
    repeated = grow.growth_layer(reg.module_, x[np.repeat(np.arange(len(X)), w.astype(int))])
    assert grow.growth_layer(reg.module_, x, w) == repeated
    assert repeated != grow.growth_layer(reg.module_, x)
