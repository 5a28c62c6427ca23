"""Bad input never crashes, hangs or returns silent NaN; interrupted fits keep a model."""

import contextlib
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import ClassifierMixin, clone

import skrank._base as base
from skrank import (
    BottleneckAutoencoder,
    DeepL2Regressor,
    ResNetL2Regressor,
    TrainingInterruptedWarning,
)

from ._estimators import all_estimators, data_for, outputs, small

ESTIMATORS = all_estimators()
IDS = [type(e).__name__ for e in ESTIMATORS]
N_EXAMPLES = 1000 // len(ESTIMATORS) + 1  # >= 1000 malformed inputs in all
#: of them in the default suite (all of them took 45 s; the rest run with -m slow)
N_QUICK = 50


def _malformed(kind, rng, n, d):
    X = rng.rand(n, d)
    if kind == "nan":
        X[rng.randint(n), rng.randint(d)] = np.nan
    elif kind == "inf":
        X[rng.randint(n), rng.randint(d)] = -np.inf
    elif kind == "empty":
        X = X[:0]
    elif kind == "one_sample":
        X = X[:1]
    elif kind == "wrong_features":
        X = rng.rand(n, d + 1 + rng.randint(3))
    elif kind == "object":
        X = X.astype(object)
        X[0, 0] = "spam"
    elif kind == "complex":
        X = X + 1j
    elif kind == "sparse":
        X = sp.csr_matrix(X)
    elif kind == "huge":
        X = X * 10.0 ** rng.randint(20, 300)
    elif kind == "1d":
        X = X[:, 0]
    elif kind == "3d":
        X = X[:, :, None]
    return X


KINDS = ["nan", "inf", "empty", "one_sample", "wrong_features", "object", "complex",
         "sparse", "huge", "1d", "3d", "mismatched_y", "nan_y", "ok"]


def _quick(est):
    """A few iterations, whether ``est`` is a network or wraps one."""
    params = est.get_params()
    for prefix in ("", "estimator__"):
        if prefix + "max_iter" in params:
            est.set_params(**{prefix + "max_iter": 3})
        if prefix + "warmup_iter" in params:
            est.set_params(**{prefix + "warmup_iter": 1})
    return est


def _ok_or_clear_error(fn):
    try:
        out = fn()
    except (ValueError, TypeError) as exc:
        assert str(exc).strip(), "error without a message"
        return None
    return out


def _check_finite(outs):
    for name, value in outs.items():
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            assert np.isfinite(value).all(), f"silent non-finite output from {name}"


_MALFORMED = dict(kind=st.sampled_from(KINDS), seed=st.integers(0, 2**16),
                  n=st.integers(2, 12), stage=st.sampled_from(["fit", "predict"]))
_FUZZ = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                    HealthCheck.function_scoped_fixture])


def _fuzz(est, kind, seed, n, stage):
    rng = np.random.RandomState(seed)
    d = 3
    X_good, y_good = data_for(est, n=30, d=d, seed=seed)
    est = _quick(est)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if stage == "fit":
            X = _malformed(kind, rng, n, d) if kind not in ("mismatched_y", "nan_y") \
                else rng.rand(n, d)
            _, y = data_for(est, n=n, d=d, seed=seed)
            if y is not None and kind == "mismatched_y":
                y = y[:-1]
            if y is not None and kind == "nan_y":
                y = y.astype(object) if y.dtype.kind in "OU" else y.astype(float)
                y[0] = np.nan
            fitted = _ok_or_clear_error(
                lambda: est.fit(X, y) if y is not None else est.fit(X))
            if fitted is not None:
                _check_finite(_ok_or_clear_error(lambda: outputs(fitted, X_good[:5]))
                              or {})
        else:
            est.fit(X_good, y_good) if y_good is not None else est.fit(X_good)
            X = _malformed(kind, rng, n, d) if kind not in ("mismatched_y", "nan_y") \
                else rng.rand(n, d)
            outs = _ok_or_clear_error(lambda: outputs(est, X))
            if outs is not None:
                _check_finite(outs)


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
@settings(max_examples=N_QUICK, **_FUZZ)
@given(**_MALFORMED)
def test_fuzz_malformed_inputs(est, kind, seed, n, stage):
    _fuzz(est, kind, seed, n, stage)


@pytest.mark.slow
@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
@settings(max_examples=N_EXAMPLES - N_QUICK, **_FUZZ)
@given(**_MALFORMED)
def test_fuzz_more_malformed_inputs(est, kind, seed, n, stage):
    _fuzz(est, kind, seed, n, stage)


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
def test_messages_name_the_problem(est):
    X, y = data_for(est)
    fit = (lambda X_: est.fit(X_, y)) if y is not None else est.fit
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fit(bad)
    with pytest.raises(TypeError, match="[Ss]parse"):
        fit(sp.csr_matrix(X))
    if y is not None and y.dtype.kind == "f":  # multi-output validation passes it on
        with pytest.raises(TypeError, match="[Ss]parse"):
            est.fit(X, sp.csr_matrix(y))
    with pytest.raises(ValueError, match="[Cc]omplex"):
        fit(X + 1j)
    # huge units are normalized away at fit (one meaning of alpha in any units) ...
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = fit(X * 1e200)
    out = fitted.predict if hasattr(fitted, "predict") else fitted.transform
    res = np.asarray(out(X[:3] * 1e200))
    assert res.dtype.kind not in "fc" or np.isfinite(res).all()
    # ... but inputs far outside the training data's scale are refused clearly
    fitted = fit(X)
    out = fitted.predict if hasattr(fitted, "predict") else fitted.transform
    with pytest.raises(ValueError, match="too large for float32") as info:
        out(X[:3] * 1e200)
    assert f"up to {np.abs(X[:3] * 1e200).max():.3g}," in str(info.value)  # the user's
    if "normalize" in fitted.get_params():
        # nothing was scaled: no spreads to count
        raw = clone(fitted).set_params(normalize=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted = raw.fit(X) if y is None else raw.fit(X, y)
        out = fitted.predict if hasattr(fitted, "predict") else fitted.transform
        with pytest.raises(ValueError, match="too large for float32") as info:
            out(X[:3] * 1e200)
        assert "spread" not in str(info.value)


def test_a_weight_that_dwarfs_the_others_fits_its_row():
    # one row weighs 1e300 times the others: their spread about it is below the
    # rounding of the weighted mean, so the data are that row (a unit of 1e-150
    # made of the other rows' share had made every value too large for float32)
    X = np.random.RandomState(0).randn(40, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg = DeepL2Regressor(max_iter=20).fit(X, X[:, 0],
                                               sample_weight=np.r_[1e300, np.ones(39)])
    np.testing.assert_allclose(reg.predict(X), X[0, 0], rtol=1e-6)


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
def test_keyboard_interrupt_during_fit_leaves_a_usable_model(est, monkeypatch):
    if not hasattr(est, "_task"):
        pytest.skip("a meta-estimator: the networks it fits are covered on their own")
    X, y = data_for(est)
    calls = {"n": 0}
    original = est._task.loss

    def interrupting_loss(output, target):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return original(output, target)

    monkeypatch.setattr(est._task, "loss", interrupting_loss)
    est.set_params(max_iter=50)
    # fit may re-raise the KeyboardInterrupt once the estimator is complete, so that
    # a search around it stops (tests/test_reliability.py); usable either way
    with pytest.warns(TrainingInterruptedWarning, match="interrupted"), \
            contextlib.suppress(KeyboardInterrupt):
        est.fit(X, y) if y is not None else est.fit(X)
    assert est.stop_reason_ == "interrupted"
    _check_finite(outputs(est, X))


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
def test_predict_runs_in_bounded_batches(est, monkeypatch):
    X, y = data_for(est, n=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y) if y is not None else est.fit(X)
    expected = outputs(est, X)
    rows = []
    est = getattr(est, "best_estimator_", est)
    module = est.module_
    handle = module.register_forward_pre_hook(lambda m, a: rows.append(a[0].shape[0]))
    monkeypatch.setattr(base, "PREDICT_BATCH_ROWS", 7)
    got = outputs(est, X)
    handle.remove()
    assert rows and max(rows) <= 7
    for k in expected:
        if expected[k].dtype.kind == "f":
            np.testing.assert_allclose(got[k], expected[k], rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(got[k], expected[k])


def test_classifier_refuses_a_single_class():
    est = next(e for e in ESTIMATORS if isinstance(e, ClassifierMixin))
    with pytest.raises(ValueError, match="at least 2 classes"):
        est.fit(np.random.rand(5, 2), ["x"] * 5)


@pytest.mark.parametrize("shape, weighted", [((60, 3), False), ((200, 5), False),
                                             ((200, 5), True)])
@pytest.mark.parametrize("cls", [DeepL2Regressor, ResNetL2Regressor])
def test_a_constant_target_fits_without_a_warning(cls, shape, weighted):
    # the zero network is the answer, and the fit starts there: from a random
    # start a residual network of 200 rows ran its 3,000 iterations (44 s) and
    # warned that it had not converged; with random weights the normalized
    # constant was 1e-17 off zero, and the fit started at random again
    rng = np.random.RandomState(0)
    X = rng.randn(*shape)
    w = rng.rand(shape[0]) * 3 if weighted else None
    target = [0.3, -7.1] if weighted else [5.0, -1e3]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = cls(random_state=0).fit(X, np.full((shape[0], 2), target), sample_weight=w)
    np.testing.assert_allclose(est.predict(X), [target] * shape[0], rtol=1e-5)
    assert est.stop_reason_ == "converged" and est.n_iter_ <= 5
    assert est.bottleneck_rank_ == 0
    # the record holds the objective it ended at (it was empty, the restart's inf)
    assert len(est.loss_curve_) >= 1 and np.isfinite(est.restart_objectives_).all()


@pytest.mark.parametrize("cls", [DeepL2Regressor, ResNetL2Regressor])
def test_zero_targets_without_normalization_start_at_the_zero_network(cls):
    # the zero network is their exact optimum too: a ResNet ran 1,165 iterations
    X = np.random.RandomState(0).randn(200, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = cls(random_state=0, normalize=False).fit(X, np.zeros(200))
    assert est.stop_reason_ == "converged" and est.n_iter_ <= 5


@pytest.mark.slow  # fits at the default depth, about 7 s
def test_a_fit_to_constant_targets_can_be_trained_on_afterwards():
    # the zero network is a saddle: warm fits and partial_fit calls after it
    # stayed at rank 0 (R^2 -17.6 after 20 calls); they start from a fresh one
    rng = np.random.RandomState(0)
    X = rng.randn(200, 3)
    y = np.sin(X[:, 0]) + X[:, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warm = DeepL2Regressor(random_state=0, warm_start=True, max_iter=200, n_init=2)
        warm.fit(X, np.full(200, 2.0)).fit(X, y)
        stream = DeepL2Regressor(random_state=0, solver="adam", learning_rate_init=1e-2)
        stream.fit(X, np.full(200, 2.0))
        for _ in range(30):
            stream.partial_fit(X, y)
    assert warm.score(X, y) > 0.9 and warm.bottleneck_rank_ >= 1
    assert warm.restart_objectives_.shape == (2,)  # a fit that starts over
    assert stream.score(X, y) > 0.5 and stream.bottleneck_rank_ >= 1


def test_early_stopping_at_the_zero_network_scores_it():
    X = np.random.RandomState(0).randn(200, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = DeepL2Regressor(random_state=0, early_stopping=True).fit(X, np.full(200, 4.0))
    assert est.early_stopping_ and est.best_validation_score_ is not None


def test_constant_inputs_are_reconstructed_without_training():
    X = np.full((80, 4), [1.0, -2.0, 0.0, 3e4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ae = BottleneckAutoencoder(random_state=0).fit(X)
    np.testing.assert_allclose(ae.inverse_transform(ae.transform(X)), X, rtol=1e-6)
    assert ae.stop_reason_ == "converged" and ae.n_iter_ <= 5


def test_a_constant_targets_fit_at_its_penalty_rounding_is_not_above_the_zero_network():
    # a ResNet of three constant outputs ended at 2.0e-8 and 2.4e-7 (predictions
    # within 1.4e-5 of the constant) and warned "above the zero network's 0 ...
    # stopped in a poor region"; an output 1e-2 off the target still warns
    from skrank._grow import above_zero

    assert not above_zero(2.4e-7, 0.0) and not above_zero(2.0e-8, 0.0)
    assert above_zero(1e-4, 0.0)
    assert above_zero(1.01, 1.0) and not above_zero(1.0005, 1.0)


@pytest.mark.parametrize("scale", [1e-50, 1.0, 1e39, 1e308])
def test_uniform_sample_weights_of_any_scale_fit_as_none(scale):
    # float32 overflowed (1e38, 1e39: stopped at the random start as diverged) or
    # np.average did (1e308: "X contains NaN or infinity"); all-ones weights rounded
    # the weighted loss differently, and long fits ended apart (0.085 on 600 rows)
    rng = np.random.RandomState(0)
    X, y = rng.randn(40, 3), rng.randn(40, 2)
    kw = dict(depth=3, width=8, max_iter=50, random_state=0)
    plain = DeepL2Regressor(**kw).fit(X, y)
    weighted = DeepL2Regressor(**kw).fit(X, y, sample_weight=np.full(40, scale))
    assert weighted.stop_reason_ == plain.stop_reason_
    np.testing.assert_array_equal(weighted.loss_curve_, plain.loss_curve_)
    np.testing.assert_array_equal(weighted.predict(X), plain.predict(X))
    # uniform once the rows of weight 0 (rows absent) are dropped
    w = np.r_[0.0, np.full(39, scale)]
    dropped = DeepL2Regressor(**kw).fit(X[1:], y[1:])
    np.testing.assert_array_equal(DeepL2Regressor(**kw).fit(X, y, sample_weight=w)
                                  .predict(X), dropped.predict(X))


# ---- sizes that cannot fit in memory: a clear MemoryError before any allocation ----
@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
def test_network_too_large_for_memory_is_refused_before_allocation(est, monkeypatch):
    # a machine of 1 TiB, whatever this one reports (or fails to)
    monkeypatch.setattr("skrank._device.available_memory", lambda device: 2**40)
    # 10**10 units per layer: terabytes at any depth (the selector's depth 2 too);
    # torch's allocator would fail with a RuntimeError naming no parameter, or the
    # machine would page to a halt
    key = next(k for k in est.get_params() if k.split("__")[-1] == "width")
    est = clone(est).set_params(**{key: 10**10})  # the shared instance stays small
    X, y = data_for(est, n=20)
    with pytest.raises(MemoryError, match=r"width=10000000000.*GiB"):
        est.fit(X, y)


def test_noisy_copies_beyond_memory_are_refused(monkeypatch):
    from skrank import BottleneckAutoencoder
    X = np.random.RandomState(0).rand(50, 3)
    # 1000 copies of 50 rows need ~3 MiB of data alone: refused against 1 MiB free,
    # fitted against the real machine's memory
    monkeypatch.setattr("skrank._device.available_memory", lambda device: 2**20)
    ae = BottleneckAutoencoder(input_noise=0.1, n_noisy_copies=1000, max_iter=2, depth=3,
                               width=4, init="random", warmup_iter=0)
    with pytest.raises(MemoryError, match="50,000 rows"):
        ae.fit(X)
    with pytest.raises(MemoryError, match="50,000 rows"):
        BottleneckAutoencoder(input_noise=0.1, n_noisy_copies=1000, solver="adam",
                              max_iter=1).partial_fit(X)
    monkeypatch.setattr("skrank._device.available_memory", lambda device: None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert ae.fit(X).transform(X).shape[0] == 50


def test_memory_estimate_of_a_default_fit_is_a_lower_bound_of_its_use(monkeypatch):
    import torch

    needed = []
    monkeypatch.setattr(base, "check_memory", lambda n, device, what: needed.append(n))
    # 100,000 rows of 100 features at the defaults: measured 0.37 GiB estimated, and
    # 577 MiB of peak memory for 50,000 rows (the estimate stays below the use)
    DeepL2Regressor()._check_memory((100_000, 100), 1, torch.float32, torch.device("cpu"),
                                    1)
    assert 2**28 < needed[0] < 2**30


def test_a_huge_depth_is_refused_by_its_layers_own_cost(monkeypatch):
    """Each layer costs memory beyond its arrays (measured 17 KB at width 4): an
    audit's depth=10**5 took 2 GB and 105 s, its arrays a few MB, and 10**6
    passed the check. Refused before anything is built."""
    import torch

    monkeypatch.setattr("skrank._device.available_memory", lambda device: 2**30)
    # the check alone: without the layers' cost it passes, and a fit would then
    # build a million layers (a review's mutation ran for minutes)
    with pytest.raises(MemoryError, match=r"depth=1000000, width=1\)"):
        DeepL2Regressor(depth=10**6, width=1)._check_memory(
            (60, 3), 1, torch.float32, torch.device("cpu"), 1)
    X, y = np.random.RandomState(0).rand(60, 3), np.random.RandomState(1).rand(60)
    with pytest.raises(MemoryError, match=r"depth=1000000, width=1\)"):
        DeepL2Regressor(depth=10**6, width=1, max_iter=3).fit(X, y)


def test_diagnose_scales_only_the_rows_it_reads(monkeypatch):
    """``diagnose`` draws its ``n_diagnostic_samples`` rows before scaling: an audit
    measured twice a million rows' size in scaled copies for the thousand read,
    and a denoising autoencoder's spacing read on all of them (4 s)."""
    from skrank import BottleneckAutoencoder

    rng = np.random.RandomState(0)
    X = rng.randn(3000, 3)
    for est, y in ((DeepL2Regressor(depth=3, width=8, max_iter=20, n_diagnostic_samples=50,
                                    random_state=0), X[:, 0]),
                   (BottleneckAutoencoder(depth=3, width=8, max_iter=20, input_noise=0.3,
                                          n_diagnostic_samples=50, random_state=0), None)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X[:200], y if y is None else y[:200])
        seen, real = [], type(est)._scale_inputs

        def scale(self, X, real=real, seen=seen):
            seen.append(len(X))
            return real(self, X)

        monkeypatch.setattr(type(est), "_scale_inputs", scale)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = est.diagnose(X)
        monkeypatch.undo()
        assert seen[-1] == 50 and sum(seen) < 100 and report.bottleneck.rank >= 0
    # yet every row is checked, as predict checks it: a value float32 cannot carry
    # in a row not drawn is refused in the user's units
    est = DeepL2Regressor(depth=3, width=8, max_iter=20, n_diagnostic_samples=50,
                          random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X[:200], X[:200, 0])
    drawn = set(est._reading_sample(X, est._reading_rng())[0][:, 0])
    huge = X.copy()
    row = next(i for i in range(len(X)) if X[i, 0] not in drawn)
    huge[row, 1] = 1e60
    for call in (est.predict, est.diagnose):
        with pytest.raises(ValueError, match="X holds values up to 1e[+]60"):
            call(huge)


def test_only_the_networks_a_fit_trains_are_counted(monkeypatch):
    import torch

    X, y = np.random.RandomState(0).rand(60, 3), np.random.RandomState(1).rand(60)
    kw = dict(depth=4, width=32, max_iter=3, random_state=0)
    one = DeepL2Regressor(**kw)._check_memory(X.shape, 1, torch.float32,
                                              torch.device("cpu"), 1)
    monkeypatch.setattr("skrank._device.available_memory", lambda device: 3 * one)
    with pytest.raises(MemoryError, match="8 network"):
        DeepL2Regressor(**kw, n_init=8).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # partial_fit trains one network, and so does a warm refit
        adam = DeepL2Regressor(**kw, n_init=8, solver="adam")
        one_adam = adam._check_memory(X.shape, 1, torch.float32, torch.device("cpu"), 1)
        monkeypatch.setattr("skrank._device.available_memory", lambda device: 3 * one_adam)
        adam.partial_fit(X, y)
        with pytest.raises(MemoryError, match="8 network"):
            clone(adam).fit(X, y)
        monkeypatch.setattr("skrank._device.available_memory", lambda device: None)
        est = DeepL2Regressor(**kw, n_init=8, warm_start=True).fit(X, y)
        monkeypatch.setattr("skrank._device.available_memory", lambda device: 3 * one)
        est.fit(X, y)


def test_a_huge_n_init_is_refused_before_anything_per_network_is_built(monkeypatch):
    import torch

    built = []
    real = torch.Generator

    def counted(*args, **kwargs):
        built.append(1)
        assert len(built) < 100, "networks were being built before the memory check"
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "Generator", counted)
    X, y = np.random.RandomState(0).rand(30, 3), np.random.RandomState(1).rand(30)
    # 10**9 restarts: one generator each took minutes and gigabytes before the check
    with pytest.raises(MemoryError, match="1000000000 network"):
        DeepL2Regressor(depth=3, width=4, n_init=10**9).fit(X, y)
    assert len(built) < 10


def test_folds_trained_together_are_checked_together(monkeypatch):
    from skrank import RankAwareDepthSelector
    from skrank._base import build_network, fit_many
    X, y = np.random.RandomState(0).rand(60, 3), np.random.RandomState(1).rand(60)
    ests = [DeepL2Regressor(depth=4, width=8, max_iter=3, init="random", random_state=i)
            for i in range(4)]
    one = ests[0]._check_memory(X.shape, 1, __import__("torch").float32,
                                __import__("torch").device("cpu"), 1)
    # room for three networks: each fit alone passes, four batched do not
    monkeypatch.setattr("skrank._device.available_memory", lambda device: 3.5 * one)
    with pytest.raises(MemoryError, match="4 networks trained together"):
        fit_many(ests, [(X, y)] * 4)
    # the four plans' networks, allocated already, are not counted twice (their
    # data is: the batched run copies it, padded)
    net = build_network(ests[0], 3, 1, __import__("torch").float32)
    held = 4 * 4 * sum(p.numel() for p in net.parameters())
    monkeypatch.setattr("skrank._device.available_memory",
                        lambda device: 4 * one - held // 2)
    asked = []
    real = base.check_memory
    monkeypatch.setattr(base, "check_memory", lambda n, *a: asked.append(n) or real(n, *a))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_many([e.set_params(random_state=i) for i, e in enumerate(ests)],
                 [(X, y)] * 4)
    assert asked[-1] == 4 * one - held
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ests[0].fit(X, y)
        RankAwareDepthSelector(ests[1], depths=[3], cv=3, refit=False).fit(X, y)


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
def test_torch_tensors_are_data_like_arrays(est):
    # a tensor straight from a model requires grad, which numpy refuses; bfloat16
    # has no numpy dtype: both are read as the arrays they hold
    torch = pytest.importorskip("torch")
    X, y = data_for(est)
    if y is not None and y.dtype.kind not in "fiu":
        y = (np.arange(len(X)) % 3).astype(float)  # labels in a float tensor
    weight = np.linspace(0.5, 1.5, len(X))

    def tensor(a):
        return torch.tensor(a, requires_grad=np.asarray(a).dtype.kind == "f")

    def fit(Xf, yf, wf):
        args = (Xf,) if y is None else (Xf, yf)
        return clone(est).fit(*args, sample_weight=wf)

    ref, got = fit(X, y, weight), fit(tensor(X), None if y is None else tensor(y),
                                      tensor(weight))
    expected, outs = outputs(ref, X), outputs(got, tensor(X))
    for name, out in outs.items():
        np.testing.assert_array_equal(out, expected[name], err_msg=name)
    if y is not None:
        assert (got.score(tensor(X), tensor(y), sample_weight=tensor(weight))
                == ref.score(X, y, sample_weight=weight))
    low = torch.tensor(X, dtype=torch.bfloat16)
    for name, out in outputs(got, low).items():
        np.testing.assert_array_equal(out, outputs(got, low.float().numpy())[name])


def test_sparse_and_meta_tensors_are_named():
    # torch's own words reached the user ("can't convert Sparse layout tensor to
    # numpy", a NotImplementedError "Cannot copy out of meta tensor")
    torch = pytest.importorskip("torch")
    X = np.random.RandomState(0).randn(40, 3)
    est = DeepL2Regressor(depth=3, width=8, max_iter=5)
    with pytest.raises(TypeError, match="sparse torch tensor.*to_dense"):
        est.fit(torch.tensor(X).to_sparse(), X[:, 0])
    with pytest.raises(ValueError, match="meta tensor"):
        est.fit(torch.empty(40, 3, device="meta"), X[:, 0])


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
def test_memory_order_of_new_inputs_does_not_change_outputs(est):
    # a Fortran-ordered batch ran another matmul kernel: float32 outputs moved in
    # the last bit (18 of 80 rows), so one model answered two ways on one input
    X, y = data_for(est, n=80, d=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = clone(est).fit(X, y) if y is not None else clone(est).fit(X)
    expected = outputs(est, X)
    for name, out in outputs(est, np.asfortranarray(X)).items():
        np.testing.assert_array_equal(out, expected[name], err_msg=name)
    if hasattr(est, "inverse_transform") and "transform" in expected:
        codes = expected["transform"]
        np.testing.assert_array_equal(est.inverse_transform(np.asfortranarray(codes)),
                                      est.inverse_transform(codes))


def test_predict_scales_a_large_float32_input_chunk_by_chunk():
    # the whole of X was copied to float64 (and scaled) before its batches: twice
    # a float32 X's memory on top of it; each batch is scaled alone now, to the
    # same bits
    import tracemalloc

    rng = np.random.RandomState(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = DeepL2Regressor(depth=3, width=8, max_iter=5, random_state=0).fit(
            rng.randn(40, 20), rng.randn(40))
    X = rng.randn(300_000, 20).astype(np.float32)
    whole = est._unscale_outputs(est._batched(est._check_X(X), est.module_)).ravel()
    tracemalloc.start()
    try:
        pred = est.predict(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(pred, whole)
    assert peak < 0.6 * X.size * 8, peak / 2**20  # 48 MB as float64; about 16 now
    codes = est.transform(X[:70_000])
    np.testing.assert_array_equal(
        codes, est._batched(est._check_X(X[:70_000]), lambda c: (
            est.module_.bottleneck_in(c, est.bottleneck_layer_).double()
            - torch.as_tensor(est.bottleneck_mean_)) @ torch.as_tensor(
                est.bottleneck_components_).T))


@pytest.mark.parametrize("est", [e for e in ESTIMATORS if "alpha" in e.get_params()],
                         ids=[i for e, i in zip(ESTIMATORS, IDS) if "alpha" in e.get_params()])
def test_an_alpha_float32_cannot_carry_is_refused(est):
    # alpha=1e19 overflowed the gradient's squared norm at the first step: the fit
    # "diverged" and kept the untrained random network; float64 reaches zero
    X, y = data_for(est)
    args = (X,) if y is None else (X, y)
    with pytest.raises(ValueError, match="too large for float32"):
        clone(est).set_params(alpha=1e19).fit(*args)
    if hasattr(est, "partial_fit"):
        with pytest.raises(ValueError, match="too large for float32"):
            clone(est).set_params(alpha=1e19, solver="adam").partial_fit(
                *args, **({"classes": np.unique(y)} if isinstance(est, ClassifierMixin)
                          else {}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = clone(est).set_params(alpha=1e19, dtype="float64").fit(*args)
    assert fitted.parameter_norm_ < 1e-20
    # and float64's own limit: 1e160 "diverged" at iteration 1 and kept the
    # random start; 1e150 reaches the zero network (found by a break-it audit)
    with pytest.raises(ValueError, match="too large for float64 training"):
        clone(est).set_params(alpha=1e160, dtype="float64").fit(*args)


def test_float64_refuses_what_its_arithmetic_cannot_carry():
    # only float32 was checked: targets of 1e160 with normalize=False trained to
    # NaN ("diverged" at iteration 1, score NaN), and a fitted float64 model
    # answered -inf on inputs of 1e160
    rng = np.random.RandomState(0)
    X, y = rng.randn(40, 3), rng.randn(40)
    kw = dict(depth=3, width=8, max_iter=10, random_state=0, dtype="float64")
    with pytest.raises(ValueError, match=r"y holds values up to .*e\+160.*float64"):
        DeepL2Regressor(**kw, normalize=False).fit(X, y * 1e160)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = DeepL2Regressor(**kw).fit(X, y)
    with pytest.raises(ValueError, match="too large for float64 arithmetic"):
        reg.predict(X * 1e160)
    assert np.isfinite(reg.predict(X * 1e100)).all()


def test_a_warm_refit_from_a_constant_fit_takes_other_features():
    # it starts over, so nothing of the old network must fit ("continues the
    # fitted network" was refused, though nothing was continued)
    rng = np.random.RandomState(0)
    est = DeepL2Regressor(random_state=0, warm_start=True, max_iter=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(rng.randn(60, 3), np.full(60, 1.0))
        est.fit(rng.randn(60, 5), rng.randn(60, 2))
    assert est.n_features_in_ == 5 and est.n_outputs_ == 2


@pytest.mark.parametrize("cls", [DeepL2Regressor, ResNetL2Regressor])
def test_a_warm_refit_from_a_network_an_alpha_collapsed_starts_over(cls):
    # refitted warm at a small alpha, a network of alpha=1e4 (a function constant
    # on the data, weights of 1e-5 to 1e-9) stayed at R^2 0, 'converged' after one
    # iteration, where a new network reaches R^2 1
    rng = np.random.RandomState(0)
    X = rng.randn(100, 4)
    y = np.tanh(X[:, 0]) + X[:, 1] / 2
    est = cls(**small(max_iter=200), alpha=1e4, random_state=0, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
        assert est.bottleneck_rank_ == 0
        est.set_params(alpha=1e-3).fit(X, y)
    assert est.score(X, y) > 0.9 and est.bottleneck_rank_ >= 1


def test_a_warm_refit_after_a_partial_fit_of_one_row_continues():
    # one row reads rank 0 whatever the network learned: the trained network was
    # thrown away by the next warm fit
    rng = np.random.RandomState(0)
    X = rng.randn(100, 4)
    y = np.tanh(X[:, 0]) + X[:, 1] / 2
    est = DeepL2Regressor(**small(), solver="adam", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(20):
            est.partial_fit(X, y)
        est.partial_fit(X[:1], y[:1])
        assert est.bottleneck_rank_ == 0
        before = est.predict(X)
        est.set_params(warm_start=True, max_iter=1).fit(X, y)
    # one more epoch of the same network, not a new one
    assert np.corrcoef(before, est.predict(X))[0, 1] > 0.99


@pytest.mark.parametrize("cls", [DeepL2Regressor, ResNetL2Regressor])
def test_a_warm_refit_ignores_a_negative_slope_no_activation_uses(cls):
    # a ReLU network was refused as "another one" for a new negative_slope
    rng = np.random.RandomState(0)
    X, y = rng.randn(40, 3), rng.randn(40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = cls(**small(max_iter=5), random_state=0, warm_start=True).fit(X, y)
        est.set_params(negative_slope=0.2).fit(X, y)
        leaky = cls(**small(max_iter=5), activation="leaky_relu", random_state=0,
                    warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match="negative_slope 0.01 vs 0.2"):
        leaky.set_params(negative_slope=0.2).fit(X, y)
    # nor does the refusal of another width list it
    with pytest.raises(ValueError, match="width") as refused:
        est.set_params(width=5).fit(X, y)
    assert "negative_slope" not in str(refused.value)
    # nor beside a new activation, whose own difference says it
    with pytest.raises(ValueError, match="activation 'relu' vs 'leaky_relu'") as refused:
        est.set_params(width=small()["width"], activation="leaky_relu").fit(X, y)
    assert "negative_slope" not in str(refused.value)


def test_a_warm_refit_already_at_its_minimum_records_its_objective():
    # it stalled at once: n_iter_ 0, an empty loss_curve_, restart objective inf
    rng = np.random.RandomState(0)
    X = rng.randn(60, 2)
    y = np.sin(X[:, 0]) + X[:, 1]
    est = DeepL2Regressor(depth=3, width=8, tol=0.0, max_iter=3000, warm_start=True,
                          init="random", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
        first = est.restart_objectives_[0]
        est.fit(X, y)
    assert len(est.loss_curve_) >= 1 and np.isfinite(est.restart_objectives_).all()
    assert est.restart_objectives_[0] <= first * (1 + 1e-6)


def test_a_gpus_memory_error_offers_the_cpu(monkeypatch):
    from skrank import _device

    monkeypatch.setattr(_device, "available_memory", lambda device: 2**30)
    with pytest.raises(MemoryError, match=r"GiB available\. .*Or fit with device='cpu'"):
        _device.check_memory(2**31, torch.device("cuda"), "The networks")
    with pytest.raises(MemoryError) as info:
        _device.check_memory(2**31, torch.device("cpu"), "The networks")
    assert "device='cpu'" not in str(info.value)
