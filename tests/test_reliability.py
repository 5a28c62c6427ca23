"""Issue 10: a diverged fit keeps only sane parameters, devices are checked before
training, Ctrl-C stops the searches around a fit, and errors say what is needed."""

import io
import re
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from skrank import (
    DeepL2Regressor,
    DivergenceWarning,
    RankAwareDepthSelector,
    ResNetL2Regressor,
    TrainingInterruptedWarning,
    load,
    save,
)

from ._estimators import all_estimators, data_for, outputs, small

ESTIMATORS = all_estimators()
IDS = [type(e).__name__ for e in ESTIMATORS]
SMALL = {k: v for k, v in small(width=8, random_state=0).items() if k != "max_iter"}


def _max_abs_param(est):
    with torch.no_grad():
        return max(float(p.abs().max()) for p in est.module_.parameters())


def _teacher(n=60, d=4, scale=1.0):
    X = np.random.RandomState(0).randn(n, d) * scale
    return X, (X[:, 0] - 2 * X[:, 1]) / scale


# ---- divergence ------------------------------------------------------------------
@pytest.mark.parametrize("make, start", [(DeepL2Regressor, {"init": "random"}),
                                         (DeepL2Regressor, {"init": "grow"}),
                                         (ResNetL2Regressor, {})])
def test_a_start_lbfgs_cannot_leave_is_not_called_converged(make, start):
    # float32 cannot resolve a decrease of an objective near 1e16: every line
    # search fails from the first step, which used to end as 'converged' (grown:
    # the deep stage starts from a network its stalled shallow stage never moved)
    X = np.random.RandomState(0).randn(40, 3)
    est = make(depth=4, width=8, max_iter=20, normalize=False, random_state=0, **start)
    with pytest.warns(ConvergenceWarning, match="could not decrease the objective"):
        est.fit(X, X[:, 0] * 1e8)
    assert est.stop_reason_ == "stalled" and est.n_iter_ == 0
    # normalized, the same data train
    est.set_params(normalize=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(X, X[:, 0] * 1e8)
    assert est.n_iter_ > 0 and est.stop_reason_ != "stalled"
    assert not any("could not decrease" in str(w.message) for w in caught)


@pytest.mark.parametrize("warmup_iter", [0, 3])
def test_a_warm_refit_that_cannot_improve_has_converged(warmup_iter):
    # refits of a converged network start where no step lowers the objective:
    # a stationary point, not a start L-BFGS cannot leave
    rng = np.random.RandomState(0)
    X = rng.randn(60, 3)
    y = X[:, 0] + 0.1 * rng.randn(60)
    est = DeepL2Regressor(depth=2, width=8, max_iter=50, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    est.set_params(warm_start=True, warmup_iter=warmup_iter)
    n_iter = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(4):
            est.fit(X, y)
            assert est.stop_reason_ == "converged"
            n_iter.append(est.n_iter_)
    # a refit where no L-BFGS step was accepted (with the warm-up, Adam moves
    # first): one iteration, recording the objective it stopped at
    assert 1 in n_iter or warmup_iter
    assert not any("could not decrease" in str(w.message) for w in caught)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_divergence_keeps_parameters_whose_loss_was_finite(dtype):
    # lr=1e3 full batch: the second step explodes the weights (float32: to 1e30,
    # then inf; float64: through a finite 1e162 objective). What comes back must be
    # the last point whose own loss was sane, not the exploded step after it.
    X, y = _teacher()
    reg = DeepL2Regressor(depth=4, width=12, max_iter=30, solver="sgd", alpha=0,
                          learning_rate_init=1e3, batch_size=10**6, dtype=dtype,
                          random_state=0)
    with pytest.warns(DivergenceWarning, match="diverged"):
        reg.fit(X, y)
    assert reg.stop_reason_ == "diverged"
    assert np.isfinite(reg.predict(X)).all()
    assert _max_abs_param(reg) < 1e8


@pytest.mark.parametrize("make, scale", [
    (lambda: ResNetL2Regressor(max_iter=30, solver="sgd", learning_rate_init=10,
                               batch_size=10**6, normalize=False, **SMALL), 1.0),
    (lambda: ResNetL2Regressor(max_iter=30, solver="sgd", learning_rate_init=10,
                               batch_size=10**6, **SMALL), 1.0),
    (lambda: DeepL2Regressor(max_iter=30, solver="sgd", dtype="float64",
                             normalize=False, **{**SMALL, "depth": 4}), 1e10),
], ids=["resnet", "resnet-normalized", "deep-huge-X"])
def test_diverged_fit_gives_finite_diagnostics(make, scale):
    # these crashed in the diagnostics (linalg.svd on non-finite representations)
    X, y = _teacher(scale=scale)
    reg = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(X, y)
    assert reg.stop_reason_ == "diverged"
    assert np.isfinite(reg.predict(X)).all()
    assert all(np.isfinite(s).all() for s in reg.layer_spectra_)
    assert np.isfinite(reg.representation_spectra_).all()


# ---- devices ---------------------------------------------------------------------
def _with_device(est, device):
    # a clone: the shared ESTIMATORS left at 'mps' failed every later test of them
    key = "estimator__device" if "estimator__device" in est.get_params() else "device"
    return clone(est).set_params(**{key: device})


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="needs a machine without MPS")
@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
def test_unavailable_mps_is_a_clear_error_before_training(est):
    X, y = data_for(est)
    est = _with_device(est, "mps")
    with pytest.raises(ValueError, match=r"device='mps'.*supports 'auto', 'cpu'"):
        est.fit(X, y) if y is not None else est.fit(X)


def test_mps_is_refused_before_training_even_where_available(monkeypatch):
    # accepted where available, every fit trained, then failed in its float64 readings
    from skrank import _device

    monkeypatch.setattr(_device, "_available", lambda: (0, True))
    X, y = _teacher()
    with pytest.raises(ValueError, match=r"device='mps' is not supported.*float64"):
        DeepL2Regressor(device="mps", **SMALL).fit(X, y)


def test_a_gpu_named_without_its_index_resolves_to_the_current_card(monkeypatch):
    # device_ recorded 'cuda', which does not say which card of several held the fit
    from skrank import _device

    monkeypatch.setattr(_device, "_available", lambda: (2, False))
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    for name in ("cuda", "auto"):
        assert _device.resolve_device(name) == torch.device("cuda", 1)
    assert _device.resolve_device("cuda:0") == torch.device("cuda", 0)
    assert _device.resolve_device("cpu") == torch.device("cpu")


@pytest.fixture
def default_device_meta():
    """torch's default device set elsewhere by the user (to a GPU; here the meta
    device, which fails as loudly wherever a tensor is made without a device)."""
    torch.set_default_device("meta")
    yield
    torch.set_default_device(None)


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
def test_torchs_default_device_does_not_place_a_fits_tensors(est, default_device_meta):
    # networks were built, and readings made, on the default device: with
    # set_default_device("cuda"), every fit failed on its CPU generators
    X, y = data_for(est)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = clone(est).fit(X, y) if y is not None else clone(est).fit(X)
        assert len(outputs(est, X)) > 0
        blob = io.BytesIO()
        save(est, blob)
        blob.seek(0)
        load(blob).score(X, y) if y is not None else load(blob).score(X)


def test_torchs_default_device_does_not_place_the_autoencoders_readings(
        default_device_meta):
    from skrank import BottleneckAutoencoder

    X = np.random.RandomState(0).rand(40, 3)
    ae = BottleneckAutoencoder(**small(width=8, max_iter=5), data_noise=0.1,
                               input_noise="auto", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ae.fit(X)  # the calibrated gain draws probes
        for read in (ae.denoise, ae.denoising_risk, ae.local_dimension,
                     lambda X: ae.inverse_transform(ae.transform(X))):
            assert np.isfinite(read(X)).all()


def test_every_tensor_a_fit_makes_from_scratch_names_its_device():
    # torch's default device (set_default_device, thread-local, or a
    # torch.device(...) block around the user's code) placed these: with 'cuda', a
    # network drawn from a CPU generator failed every fit; the meta device of the
    # tests above accepts CPU generators, so it cannot see all of them
    import traceback

    from torch.overrides import TorchFunctionMode

    from skrank import BottleneckAutoencoder, DeepL2Classifier

    factories = {torch.zeros, torch.ones, torch.empty, torch.randn, torch.rand,
                 torch.randint, torch.randperm, torch.arange, torch.full, torch.eye,
                 torch.linspace, torch.tensor, torch.as_tensor}
    found = []

    class Placement(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func in factories and kwargs.get("device") is None \
                    and not (args and isinstance(args[0], torch.Tensor)):
                ours = [f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}"
                        for f in traceback.extract_stack() if "/skrank/" in f.filename]
                found.extend(ours[-1:])
            return func(*args, **kwargs)

    X, _ = _teacher(n=40)
    y = X[:, 0]
    fits = [(DeepL2Regressor(**SMALL, n_init=2), y), (ResNetL2Regressor(**SMALL), y),
            (DeepL2Classifier(**SMALL), y > 0),
            (DeepL2Regressor(**SMALL, solver="adam", early_stopping=True), y),
            (BottleneckAutoencoder(**small(depth=4, width=8, max_iter=5), data_noise=0.1,
                                   input_noise="auto"), None),
            # over 64 features the calibration draws random probes; partial_fit
            # draws each call's noise
            (BottleneckAutoencoder(**small(depth=4, width=8, max_iter=5), data_noise=0.1,
                                   input_noise=0.1, solver="adam"), "wide")]
    wide = np.random.RandomState(0).randn(80, 70)
    with warnings.catch_warnings(), Placement():
        warnings.simplefilter("ignore")
        for est, target in fits:
            if isinstance(target, str):
                X, target = wide, None
            est.fit(X, target) if target is not None else est.fit(X)
            est.diagnose(X)
            outputs(est, X)
            if target is None:
                est.denoise(X), est.local_dimension(X), est.denoising_risk(X)
            if est.solver == "adam":
                est.partial_fit(X, target) if target is not None else est.partial_fit(X)
    assert not found, sorted(set(found))


def test_unknown_device_lists_the_supported_ones():
    X, y = _teacher()
    with pytest.raises(ValueError, match=r"device='tpu' is not a device name.*'cpu'"):
        DeepL2Regressor(device="tpu", **SMALL).fit(X, y)


# ---- Ctrl-C ----------------------------------------------------------------------
@pytest.fixture
def interrupt_once(monkeypatch):
    """The 6th loss evaluation raises KeyboardInterrupt (as Ctrl-C would); records
    the depth of every fit started (a sweep batches the folds of one depth)."""
    calls, fits = {"n": 0}, []
    task, plan = DeepL2Regressor._task, DeepL2Regressor._plan
    loss = task.loss

    def interrupting_loss(*args):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return loss(*args)

    def counting_plan(self, *args, **kwargs):
        fits.append(self.depth)
        return plan(self, *args, **kwargs)

    monkeypatch.setattr(task, "loss", interrupting_loss)
    monkeypatch.setattr(DeepL2Regressor, "_plan", counting_plan)
    return fits


def test_interrupted_fit_reraises_with_a_complete_usable_model(interrupt_once):
    X, y = _teacher()
    reg = DeepL2Regressor(max_iter=50, **SMALL)
    with pytest.warns(TrainingInterruptedWarning), pytest.raises(KeyboardInterrupt):
        reg.fit(X, y)
    assert reg.stop_reason_ == "interrupted"
    assert reg.bottleneck_rank_ >= 0
    for value in outputs(reg, X).values():
        assert np.isfinite(value).all()


def test_one_ctrl_c_warns_once_for_every_restart_with_the_depth(interrupt_once):
    X, y = _teacher()
    reg = DeepL2Regressor(max_iter=50, n_init=3, init="random", **SMALL)
    with warnings.catch_warnings(record=True) as caught, \
            pytest.raises(KeyboardInterrupt):
        warnings.simplefilter("always")
        reg.fit(X, y)
    said = [str(w.message) for w in caught
            if issubclass(w.category, TrainingInterruptedWarning)]
    assert len(said) == 1, said
    assert f"at depth {reg.depth} (the longest of 3 networks)" in said[0]
    assert reg.stop_reason_ == "interrupted"


@pytest.mark.parametrize("warm_start, started", [
    (False, [2, 2]),  # the interrupted (batched) folds were the last fits started
    ("auto", [2]),    # the first fold's chain stopped at its first depth
])
def test_interrupt_stops_the_depth_sweep(interrupt_once, warm_start, started):
    X, y = _teacher()
    sel = RankAwareDepthSelector(DeepL2Regressor(max_iter=50, **SMALL),
                                 depths=[2, 3], cv=2, warm_start=warm_start)
    with warnings.catch_warnings(record=True) as caught, \
            pytest.raises(KeyboardInterrupt):
        warnings.simplefilter("always")
        sel.fit(X, y)
    assert interrupt_once == started
    assert not hasattr(sel, "depth_results_")
    # one word, the selector's: a fold's fit said "the model ... is usable", of a
    # network the selector discards
    said = [str(w.message) for w in caught
            if issubclass(w.category, TrainingInterruptedWarning)]
    assert len(said) == 1 and "RankAwareDepthSelector" in said[0] \
        and "not fitted" in said[0], said


def test_interrupt_stops_grid_search(interrupt_once):
    X, y = _teacher()
    search = GridSearchCV(DeepL2Regressor(max_iter=50, **SMALL),
                          {"alpha": [0.01, 0.1]}, cv=2)
    with pytest.warns(TrainingInterruptedWarning), pytest.raises(KeyboardInterrupt):
        search.fit(X, y)
    assert len(interrupt_once) == 1
    assert not hasattr(search, "cv_results_")


def _interrupting(monkeypatch, owner, name, after=0):
    """``owner.name`` raises KeyboardInterrupt (as one Ctrl-C would) on its call
    after ``after`` calls, once."""
    real, calls = getattr(owner, name), {"n": 0}

    def interrupting(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == after + 1:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, interrupting)


@pytest.mark.parametrize("warm", [False, True])
def test_ctrl_c_outside_the_training_loop_leaves_the_estimator_as_before(monkeypatch,
                                                                        warm):
    # while the fitted network was read: a fresh fit was left with a network and
    # no bottleneck_rank_, a warm refit with a trained network beside the previous
    # fit's readings, with no word
    X, y = _teacher()
    reg = DeepL2Regressor(max_iter=20, warm_start=warm, **SMALL)
    if warm:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reg.fit(X, y)
        before = {k: v for k, v in vars(reg).items() if k.endswith("_")}
        pred = reg.predict(X)
    _interrupting(monkeypatch, DeepL2Regressor, "_diagnose")
    with pytest.warns(TrainingInterruptedWarning, match="as it was before"), \
            pytest.raises(KeyboardInterrupt):
        reg.fit(X, y)
    if not warm:
        assert not [k for k in vars(reg) if k.endswith("_")]
        return
    after = {k: v for k, v in vars(reg).items() if k.endswith("_")}
    assert after.keys() == before.keys()
    assert all(after[k] is before[k] for k in before)
    np.testing.assert_array_equal(reg.predict(X), pred)  # the parameters restored


@pytest.mark.parametrize("make", ["regressor", "classifier", "autoencoder", "resnet"])
def test_a_refit_that_raises_leaves_the_previous_fit(make):
    # a ConvergenceWarning made an error by a warnings filter (pytest -W error)
    # left the new data's classes and scalings beside the old network: a
    # classifier of 3 new classes answered 2 columns, a regressor of 5 new
    # features failed in torch ("mat1 and mat2 shapes cannot be multiplied")
    from skrank import BottleneckAutoencoder, DeepL2Classifier, ResNetL2Regressor

    rng = np.random.RandomState(0)
    X, X5 = rng.randn(60, 3), rng.randn(60, 5)
    cls = {"regressor": DeepL2Regressor, "classifier": DeepL2Classifier,
           "autoencoder": BottleneckAutoencoder, "resnet": ResNetL2Regressor}[make]
    est = cls(depth=3, width=8, max_iter=5, random_state=0)
    first = (X[:, 0] > 0).astype(int) if make == "classifier" else X[:, 0]
    second = (np.array(list("abc"))[(X5[:, 1] > 0).astype(int) + (X5[:, 2] > 0)]
              if make == "classifier" else X5[:, :2] * 100)
    fit = (lambda A, b: est.fit(A)) if make == "autoencoder" else est.fit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit(X, first)
    before = {k: v for k, v in vars(est).items() if k.endswith("_")}
    answer = est.transform(X) if make == "autoencoder" else est.predict(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning):
            fit(X5, second)
    after = {k: v for k, v in vars(est).items() if k.endswith("_")}
    assert after.keys() == before.keys() and all(after[k] is before[k] for k in before)
    again = est.transform(X) if make == "autoencoder" else est.predict(X)
    np.testing.assert_array_equal(again, answer)


def test_a_warm_refit_that_raises_puts_the_trained_network_back():
    # a warm start trains the same network in place: its parameters must come
    # back too, not only the attributes
    X, y = _teacher()
    est = DeepL2Regressor(max_iter=5, warm_start=True, **SMALL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    answer = est.predict(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning):
            est.fit(X, 3 * y)
    np.testing.assert_array_equal(est.predict(X), answer)


def test_a_failed_restore_raises_the_fits_own_error(monkeypatch):
    # when the network cannot be put back, the user must see why the fit failed
    # (with its own cause), not the restore's failure
    X, y = _teacher()
    est = DeepL2Regressor(max_iter=5, warm_start=True, **SMALL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    cause = RuntimeError("the fit's own cause")
    own = ValueError("the fit's own error")

    def failing(*args, **kwargs):
        raise own from cause

    def refusing(*args, **kwargs):
        raise RuntimeError("the restore's failure")

    monkeypatch.setattr(DeepL2Regressor, "_diagnose", failing)
    monkeypatch.setattr(type(est.module_), "load_state_dict", refusing)
    with pytest.raises(ValueError, match="own error") as caught:
        est.fit(X, y)
    assert caught.value is own and caught.value.__cause__ is cause


def test_a_refused_batch_keeps_partial_fits_optimizer():
    # restoring after any error dropped the Adam moments and the batch stream of
    # a stream that only met a batch of another width
    X, y = _teacher()
    est = DeepL2Regressor(solver="adam", **SMALL)
    twin = DeepL2Regressor(solver="adam", **SMALL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for model in (est, twin):
            model.partial_fit(X, y)
        stepper = est._stepper
        with pytest.raises(ValueError):
            est.partial_fit(np.ones((5, X.shape[1] + 1)), np.ones(5))
        assert est._stepper is stepper
        est.partial_fit(X, y)
        twin.partial_fit(X, y)
    np.testing.assert_array_equal(est.predict(X), twin.predict(X))


@pytest.mark.parametrize("mode", [torch.inference_mode, torch.no_grad])
def test_fit_under_a_no_gradient_mode_trains_as_outside_it(mode):
    # under torch.inference_mode() the first backward pass failed inside torch
    X, y = _teacher()
    kw = dict(max_iter=10, **SMALL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = DeepL2Regressor(**kw).fit(X, y)
        streamed = DeepL2Regressor(solver="adam", **SMALL).partial_fit(X, y)
        with mode():
            inside = DeepL2Regressor(**kw).fit(X, y)
            streamed_inside = DeepL2Regressor(solver="adam", **SMALL).partial_fit(X, y)
        np.testing.assert_array_equal(streamed_inside.predict(X), streamed.predict(X))
        streamed_inside.partial_fit(X, y)  # its network trains on outside too
    np.testing.assert_array_equal(inside.predict(X), plain.predict(X))
    assert streamed_inside.n_iter_ == 2
    # a sweep (batched folds, warm chains) and a network loaded under the mode
    from skrank import RankAwareDepthSelector, load, save

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with mode():
            for warm in (False, True):
                RankAwareDepthSelector(DeepL2Regressor(**kw), depths=(3, 4), cv=2,
                                       warm_start=warm).fit(X, y)
            from skrank._base import fit_many

            fit_many([DeepL2Regressor(**kw), DeepL2Regressor(**kw)], [(X, y), (X, 2 * y)])
            buffer = io.BytesIO()
            save(streamed, buffer)
            buffer.seek(0)
            loaded = load(buffer)
        loaded.partial_fit(X, y)  # its parameters are ordinary tensors
    assert loaded.n_iter_ == 2


@pytest.mark.parametrize("prior_calls", [0, 2])
def test_ctrl_c_in_partial_fit_leaves_the_estimator_as_before_the_call(monkeypatch,
                                                                      prior_calls):
    # the interrupt went through unhandled: a half-trained epoch, stale readings,
    # or on a first call a network without bottleneck_layer_ (transform failed)
    from skrank._engine import Stepper

    X, y = _teacher()
    reg = DeepL2Regressor(solver="adam", **SMALL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(prior_calls):
            reg.partial_fit(X, y)
    state = ({k: v.clone() for k, v in reg.module_.state_dict().items()}
             if prior_calls else None)
    n_iter = getattr(reg, "n_iter_", None)
    _interrupting(monkeypatch, Stepper, "epoch")
    with pytest.warns(TrainingInterruptedWarning), pytest.raises(KeyboardInterrupt):
        reg.partial_fit(X, y)
    if not prior_calls:
        assert not hasattr(reg, "module_") and not hasattr(reg, "n_features_in_")
        return
    assert reg.n_iter_ == n_iter and reg.stop_reason_ == "partial_fit"
    for k, v in reg.module_.state_dict().items():
        assert torch.equal(v, state[k])
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.partial_fit(X, y)  # a fresh optimizer goes on from there
    assert reg.n_iter_ == n_iter + 1


def test_a_divergence_among_restarts_names_the_network():
    # n_init=3 gave three identical warnings, none saying which restart, so a
    # fit whose kept restart trained well still read as diverged; then one
    # warning per restart (eight for n_init=8): now one per batch, naming each
    said = _divergences(solver="adam", n_init=2)
    assert len(said) == 1
    assert re.search(r"diverged at depth \d+ \(non-finite or exploding loss or "
                     r"parameters\) in 2 of 2 networks trained at once: network 1 at "
                     r"iteration \d+, network 2 at iteration \d+; the last parameters", said[0])
    assert "Lower learning_rate_init" in said[0]


def test_a_diverged_warm_up_is_told_once_with_its_own_advice():
    # told at the end of its phase: L-BFGS goes on from the restored parameters,
    # and the warm-up's divergence is neither told again nor lost
    said = _divergences(solver="lbfgs", warmup_iter=5)
    assert len(said) == 1 and "L-BFGS goes on from them" in said[0]


def _divergences(**params):
    """The DivergenceWarnings of a random start fitted at a learning rate that
    diverges at once."""
    X, y = _teacher()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        DeepL2Regressor(**small(max_iter=5, random_state=0), init="random",
                        learning_rate_init=1e10, **params).fit(X, y)
    return [str(w.message) for w in caught if w.category is DivergenceWarning]


def test_a_divergence_is_told_when_an_error_stops_the_batch_later(monkeypatch):
    from skrank import _engine

    adam = _engine.SOLVERS["adam"]

    def then_fail(*args):
        adam(*args)
        raise RuntimeError("out of memory")

    monkeypatch.setitem(_engine.SOLVERS, "adam", then_fail)
    X, y = _teacher()
    reg = DeepL2Regressor(**small(max_iter=5, random_state=0), solver="adam",
                          init="random", learning_rate_init=1e10)
    with pytest.warns(DivergenceWarning, match="diverged"), \
            pytest.raises(RuntimeError, match="out of memory"):
        reg.fit(X, y)
    # a filter that turns the warning into an error leaves the error as it was
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        with pytest.raises(RuntimeError, match="out of memory"):
            reg.fit(X, y)


def test_partial_fit_tells_its_divergence():
    X, y = _teacher()
    reg = DeepL2Regressor(**small(random_state=0), solver="adam", learning_rate_init=1e10)
    with pytest.warns(DivergenceWarning, match=r"at iteration 1 \(non-finite"):
        reg.partial_fit(X, y)
    assert reg.stop_reason_ == "diverged"


@pytest.mark.parametrize("cls", [DeepL2Regressor, ResNetL2Regressor])
def test_ctrl_c_in_the_warm_up_counts_no_iteration(monkeypatch, cls):
    # n_warmup was set only when the warm-up ended: n_iter_ counted its epochs
    # (3 here) though L-BFGS never ran, and n_iter_ never counts the warm-up
    _interrupting(monkeypatch, cls._task, "loss", after=3)
    X, y = _teacher()
    est = cls(**small(max_iter=15, warmup_iter=10, random_state=0))
    # the warning said "after 3 iterations" of a fit whose n_iter_ is 0
    with pytest.warns(TrainingInterruptedWarning, match="after 3 warm-up epochs"), \
            pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    assert est.stop_reason_ == "interrupted" and est.n_iter_ == 0
    assert len(est.loss_curve_) == 3  # the warm-up's epochs stay in the record


def test_ctrl_c_in_the_selectors_refit_keeps_the_usable_refit(monkeypatch):
    # the refit kept a usable network before re-raising, but the selector dropped
    # it: predict said "refit=False: no estimator was refitted" under refit=True
    X, y = _teacher()
    sel = RankAwareDepthSelector(DeepL2Regressor(max_iter=30, **SMALL), depths=[2], cv=2,
                                 warm_start=False)
    real = DeepL2Regressor._fit_data

    def interrupted(self, *args):
        # the cold sweep's folds do not come here (they train batched); the refit
        # does: its training cut short by Ctrl-C, the engine's way
        real(self, *args)
        self.stop_reason_ = "interrupted"
        raise KeyboardInterrupt

    monkeypatch.setattr(DeepL2Regressor, "_fit_data", interrupted)
    with pytest.raises(KeyboardInterrupt), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel.fit(X, y)
    assert sel.best_estimator_.stop_reason_ == "interrupted"
    assert np.isfinite(sel.predict(X)).all()


# ---- messages --------------------------------------------------------------------
@pytest.mark.parametrize("fraction, need", [(0.1, 15), (0.25, 6), (0.9, 16)])
def test_early_stopping_says_how_many_samples_it_needs(fraction, need):
    X, y = _teacher(n=need - 1)
    reg = DeepL2Regressor(early_stopping=True, validation_fraction=fraction, **SMALL)
    with pytest.raises(ValueError, match=f"at least {need} samples; got {need - 1}"):
        reg.fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.set_params(max_iter=2).fit(*_teacher(n=need))  # enough: no error


def test_early_stopping_leaves_what_fit_needs_to_train_on():
    """The training split keeps two rows, and a classifier's two classes, as fit
    does: an audit's ``validation_fraction=0.99`` trained a constant regressor
    on one row and a classifier on one row of one class, silently."""
    from skrank import DeepL2Classifier

    X, y = _teacher(n=60)
    with pytest.raises(ValueError, match="two to train on"):
        DeepL2Regressor(early_stopping=True, validation_fraction=0.99, **SMALL).fit(X, y)
    labels = np.r_[np.zeros(57), np.ones(3)].astype(int)
    clf = DeepL2Classifier(early_stopping=True, validation_fraction=0.95, **SMALL)
    with pytest.raises(ValueError, match="rows of one class.*at least 2 classes"):
        clf.fit(X, labels)


def test_auto_early_stopping_holds_out_only_where_a_split_leaves_what_fit_needs():
    """'auto' resolves to False where holding out would leave fewer than two
    training rows, or a stratified share without a rare class (a review: 21 rows
    at validation_fraction=0.96, and 24 rows of classes 21/3 at 0.9, failed
    where the earlier version fitted)."""
    from skrank import DeepL2Classifier

    X, y = _teacher(n=24)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = DeepL2Regressor(validation_fraction=0.96, **SMALL).fit(X[:21], y[:21])
        assert reg.early_stopping_ is False
        labels = np.r_[np.zeros(21), np.ones(3)].astype(int)
        clf = DeepL2Classifier(early_stopping="auto", validation_fraction=0.9, **SMALL)
        assert clf.fit(X, labels).early_stopping_ is False
        # where a split can leave both, 'auto' still holds out
        reg = DeepL2Regressor(validation_fraction=0.9, **SMALL).fit(X[:22], y[:22])
        assert reg.early_stopping_ is True
        # a class of 2 among 40 rows: half held out leaves it a training row (2 x 20
        # rows' share is 40: the boundary), 21 held out may not (2 x 19 < 40)
        X, _ = _teacher(n=40)
        rare = np.r_[np.zeros(38), np.ones(2)].astype(int)
        for fraction, holds in ((0.5, True), (0.525, False)):
            clf = DeepL2Classifier(early_stopping="auto", validation_fraction=fraction,
                                   **SMALL)
            assert clf.fit(X, rare).early_stopping_ is holds, fraction


def test_too_few_samples_names_the_rows_of_weight_zero():
    X, y = _teacher(n=20)
    weight = np.r_[np.ones(10), np.zeros(10)]
    reg = DeepL2Regressor(early_stopping=True, **SMALL)
    with pytest.raises(ValueError, match=r"at least 15 samples; got 10 \(10 rows of "
                                         r"sample_weight 0 left out\)"):
        reg.fit(X, y, sample_weight=weight)
    with pytest.raises(ValueError, match=r"samples; got 10\. Pass"):
        reg.fit(X[:10], y[:10])


@pytest.mark.parametrize("cls", [DeepL2Regressor, ResNetL2Regressor])
def test_text_targets_are_refused_by_name(cls):
    X, _ = _teacher(n=6)
    with pytest.raises(ValueError, match=f"{cls.__name__} needs numeric targets, but y "
                                         "holds 'a'.*DeepL2Classifier"):
        cls(**SMALL).fit(X, list("abcabc"))


def test_none_in_object_targets_is_reported_as_missing():
    # validate_data does not look for NaN inside object arrays; this one trained on NaN
    X, _ = _teacher(n=4)
    with pytest.raises(ValueError, match="NaN"):
        DeepL2Regressor(**SMALL).fit(X, np.array([1.0, None, 2.0, 3.0], dtype=object))


@pytest.mark.parametrize("cls", [DeepL2Regressor, ResNetL2Regressor])
def test_pandas_missing_targets_are_reported_as_missing(cls):
    # a frame of nullable columns with pd.NA was refused as "text" targets, with
    # advice to use the classifier
    pd = pytest.importorskip("pandas")
    X, _ = _teacher(n=6)
    a = pd.array([1, 2, None, 4, 5, 6], dtype="Int64")
    for y in (pd.DataFrame({"a": a, "b": np.ones(6)}),
              pd.Series([1.0, pd.NA, 2.0, 3.0, 4.0, 5.0], dtype=object)):
        with pytest.raises(ValueError, match="Input y contains NaN"):
            cls(**SMALL).fit(X, y)


def test_selector_refuses_depths_the_estimator_refuses(interrupt_once):
    X, y = _teacher()
    sel = RankAwareDepthSelector(DeepL2Regressor(**SMALL), depths=[1, 3], cv=2)
    with pytest.raises(ValueError, match=r"depths=\[1, 3\] holds 1, which "
                                         r"DeepL2Regressor refuses.*range \[2, inf\)"):
        sel.fit(X, y)
    assert interrupt_once == []  # refused before any fit


def test_selector_accepts_depths_the_estimator_accepts():
    # a ResNet's depth counts blocks and may be 1
    X, y = _teacher()
    sel = RankAwareDepthSelector(ResNetL2Regressor(max_iter=3, **SMALL), depths=[1, 2],
                                 cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel.fit(X, y)
    assert sel.best_depth_ in (1, 2)


# ---- early stopping ------------------------------------------------------------------
def test_a_classifier_validation_split_holds_every_class():
    # 6 of 60 samples in the minority class, a tenth held out: a random split
    # leaves the minority out on some seeds, and the validation accuracy then
    # rewards predicting the majority; the split is stratified (as MLPClassifier's)
    from skrank import DeepL2Classifier

    X = np.random.RandomState(0).randn(60, 3)
    Y = np.r_[np.zeros(54), np.ones(6)].astype(int).reshape(-1, 1)
    clf = DeepL2Classifier(early_stopping=True, validation_fraction=0.1)
    clf.early_stopping_ = clf._stops_early(Y, 2)  # as fit resolves it
    for seed in range(8):
        *_, Y_val, _, _ = clf._split(X, Y, np.random.RandomState(seed))
        assert set(Y_val.ravel()) == {0, 1}


@pytest.mark.parametrize("weighted", [False, True])
def test_validation_r2_of_a_constant_column_is_against_unit_variance(weighted):
    """A held-out column without spread scores ``1 - mse`` (the normalized targets'
    unit variance), not scikit-learn's 0-or-1, which ties every iteration that
    misses it and made early stopping keep the first."""
    from sklearn.metrics import r2_score

    from skrank._tasks import Reconstruction, Regression

    target = np.c_[np.arange(1.0, 5.0), np.zeros(4)]
    out = target.copy()
    out[:, 0] += 0.1
    out[:, 1] = 0.5  # the constant column missed by 0.5: 1 - 0.25
    expected = (r2_score(target[:, 0], out[:, 0]) + 0.75) / 2
    w = torch.ones(4, dtype=torch.float64) if weighted else None
    for rows in (1, 10):  # the same score however many rows repeat
        t, o = torch.tensor(np.tile(target, (rows, 1))), torch.tensor(np.tile(out, (rows, 1)))
        wt = None if w is None else torch.ones(4 * rows, dtype=torch.float64)
        assert float(Regression().score(o, t, wt)) == pytest.approx(expected)
    closer = out.copy()
    closer[:, 1] = 0.25
    assert float(Regression().score(torch.tensor(closer), torch.tensor(target))) > \
        float(Regression().score(torch.tensor(out), torch.tensor(target)))
    # the autoencoder's validation score pools the features, as its score() does
    t, o = torch.tensor(target), torch.tensor(out)
    pooled = 1 - np.sum((target - out) ** 2) / np.sum((target - target.mean(0)) ** 2)
    assert float(Reconstruction().score(o, t, w)) == pytest.approx(pooled)


def test_validation_r2_of_a_float32_constant_column_is_finite():
    """float32 rounding of a constant column's mean is no spread (it scored -1.8e12)."""
    from skrank._tasks import Regression

    t = torch.full((30, 1), 0.1234567)
    assert float(Regression().score(t + 0.01, t)) == pytest.approx(1 - 1e-4, abs=1e-6)
    assert float(Regression().score(t, t)) == 1.0
    # a column constant up to float64 rounding, beside a varying one (it scored -1e31)
    a = np.random.RandomState(0).randn(40)
    t = torch.tensor(np.c_[a, (a + 0.3) - a - 0.3])
    out = t.clone()
    out[:, 0] += 0.1
    assert float(Regression().score(out, t)) > 0.99


@pytest.mark.parametrize("value", [3.7, 1e6])
def test_a_constant_target_is_predicted_at_defaults(value):
    """Early stopping on held-out rows of one value kept the first window: 0.8% off
    the constant, and a false warning of a fit above the zero network's objective."""
    X = np.random.RandomState(51).rand(200, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg = DeepL2Regressor(random_state=0).fit(X, np.full(200, value))
    assert reg.early_stopping_
    np.testing.assert_allclose(reg.predict(X[:5]), value, rtol=1e-4)


def test_validation_scores_are_weighted_like_the_training_loss():
    from sklearn.metrics import accuracy_score, r2_score

    from skrank._tasks import Classification, Regression

    rng = np.random.RandomState(0)
    out, target, w = rng.randn(30, 3), rng.randn(30, 3), rng.randint(0, 4, 30) * 1.0
    got = Regression().score(torch.tensor(out), torch.tensor(target), torch.tensor(w))
    assert float(got) == pytest.approx(r2_score(target, out, sample_weight=w))
    labels = rng.randint(0, 3, 30)
    got = Classification().score(torch.tensor(out), torch.tensor(labels.reshape(-1, 1)),
                                 torch.tensor(w))
    assert float(got) == pytest.approx(accuracy_score(labels, out.argmax(1),
                                                      sample_weight=w))
    # end to end: corrupted rows of weight 0 no longer decide when to stop
    X, y = _teacher(n=80)
    bad = np.arange(0, 80, 2)
    y_bad = y.copy()
    y_bad[bad] = rng.randn(40) * 10
    w = np.ones(80)
    w[bad] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = DeepL2Regressor(early_stopping=True, validation_fraction=0.25, max_iter=60,
                              **SMALL).fit(X, y_bad, sample_weight=w)
    assert reg.best_validation_score_ > 0.5


def test_n_init_with_early_stopping_keeps_the_best_validation_score(monkeypatch):
    import skrank._base as base

    seen = []
    keep = base._DeepL2Base._keep_best

    def spy(self, modules, results, X, weight=None, stuck=()):
        seen.append([r.best_validation_score for r in results])
        return keep(self, modules, results, X, weight, stuck)

    monkeypatch.setattr(base._DeepL2Base, "_keep_best", spy)
    X, y = _teacher(n=80)
    y = y + 0.5 * np.random.RandomState(1).randn(80)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = DeepL2Regressor(early_stopping=True, validation_fraction=0.3, n_init=3,
                              max_iter=40, **SMALL).fit(X, y)
    scores = seen[-1]
    assert len(set(scores)) == 3  # the restarts differ
    assert reg.best_restart_ == int(np.argmax(scores))
    assert reg.best_validation_score_ == max(scores)


def test_a_diverged_warm_up_hands_over_to_lbfgs():
    # the Adam warm-up explodes at this step size; L-BFGS, the solver asked for,
    # goes on from the warm-up's last sane parameters instead of being skipped
    X, y = _teacher(n=60)
    reg = DeepL2Regressor(solver="lbfgs", warmup_iter=5, learning_rate_init=1e6,
                          init="random", max_iter=60, **SMALL)
    with pytest.warns(DivergenceWarning, match="L-BFGS goes on from them"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y)
    assert reg.stop_reason_ != "diverged" and reg.n_iter_ > 0
    assert reg.score(X, y) > 0.9


@pytest.mark.parametrize("early_stopping", [False, True])
def test_zero_weight_rows_are_absent_before_the_split(early_stopping):
    # held-out rows of weight 0 scored nothing (every validation R^2 was 0 and the
    # first iterate was restored); rows of weight 0 are now rows removed, split too
    X, y = _teacher(n=60)
    w = np.r_[np.zeros(40), np.ones(20)]
    kw = small(dtype="float64", random_state=0, early_stopping=early_stopping,
               validation_fraction=0.2, max_iter=40, n_jacobian_points=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = DeepL2Regressor(**kw).fit(X, y, sample_weight=w)
        b = DeepL2Regressor(**kw).fit(X[20 * 2:], y[20 * 2:])
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-8)
    np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=1e-6, atol=1e-8)


def test_rank_records_read_the_rows_that_count():
    # the weighted rows lie on a line in R^3, the zero-weight rows fill the space:
    # every rank reading counts the rows the loss counts
    rng = np.random.RandomState(0)
    X = rng.randn(100, 3)
    X[:50, 1:] = 0
    X[50:, 1:] *= 5
    y = np.tanh(X[:, 0])
    w = np.r_[np.ones(50), np.zeros(50)]
    kw = small(dtype="float64", random_state=2, track_rank_every=1, init="random",
               tol=0.0, alpha=0.01, max_iter=50, n_init=2, n_jacobian_points=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = DeepL2Regressor(**kw).fit(X, y, sample_weight=w)
        ref = DeepL2Regressor(**kw).fit(X[:50], y[:50])
    assert est.restart_ranks_[est.best_restart_] == est.bottleneck_rank_
    assert est.rank_history_["bottleneck_rank"][-1] == est.bottleneck_rank_
    np.testing.assert_array_equal(est.restart_ranks_, ref.restart_ranks_)
    np.testing.assert_array_equal(est.rank_history_["bottleneck_rank"],
                                  ref.rank_history_["bottleneck_rank"])


def test_early_stopping_without_a_finite_score_keeps_the_trained_network(monkeypatch):
    from skrank._tasks import Regression

    X, y = _teacher(n=60)
    kw = small(dtype="float64", random_state=0, early_stopping=True, max_iter=30,
               init="random", n_jacobian_points=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trained = DeepL2Regressor(**kw).fit(X, y)
    monkeypatch.setattr(Regression, "score",
                        lambda self, out, target, weight=None: torch.tensor(np.nan))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = DeepL2Regressor(**kw).fit(X, y)
    assert any("No validation score was finite" in str(w.message) for w in caught)
    assert np.isnan(est.best_validation_score_)
    # the snapshot taken at the start was not restored: the fit is a trained one
    assert est.score(X, y) > 0.5 and trained.score(X, y) > 0.5


def test_an_lbfgs_divergence_advises_what_lbfgs_can_change():
    # the mini-batch advice ("use solver='lbfgs'") made no sense for L-BFGS itself
    # (alpha=1e300 in float64 reached this path before float64's limits refused
    # such an alpha; the message is read here directly)
    from types import SimpleNamespace

    from skrank._engine import _diverged, warn_if_diverged

    def run():
        return SimpleNamespace(guard=SimpleNamespace(restore=lambda: None), index=0, of=1,
                               diverged_at=None,
                               result=SimpleNamespace(stop_reason="max_iter", n_iter=4))

    def diverge(**how):
        _diverged(r := run(), **how)
        warn_if_diverged([r])
        return r

    with pytest.warns(DivergenceWarning, match="Lower alpha") as caught:
        r = diverge(lbfgs=True)
    # the iteration it diverged at: the one after the n_iter completed
    assert "Training diverged at iteration 5 (non-finite" in str(caught[0].message)
    assert r.result.stop_reason == "diverged"
    assert not any("solver='lbfgs'" in str(w.message) for w in caught)
    with pytest.warns(DivergenceWarning, match="solver='lbfgs'"):
        diverge()
    with pytest.warns(DivergenceWarning, match="L-BFGS goes on"):
        diverge(warmup=True)


def test_a_class_of_zero_weight_rows_stays_among_the_classes():
    from skrank import DeepL2Classifier

    X = np.random.RandomState(0).randn(60, 3)
    y = np.repeat([0, 1, 2], 20)
    w = np.where(y == 0, 0.0, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = DeepL2Classifier(**small(max_iter=5, random_state=0)).fit(X, y, sample_weight=w)
    assert clf.classes_.tolist() == [0, 1, 2] and clf.predict_proba(X).shape == (60, 3)



def test_restart_ranks_read_the_rows_bottleneck_rank_reads(monkeypatch):
    # above n_diagnostic_samples a reading samples rows: the restarts' ranks were
    # read on another draw than bottleneck_rank_, so the kept restart's entry could
    # differ from it
    import skrank.diagnostics as diag

    seen = []
    read = diag._bottleneck

    def spy(model, x, *args, **kwargs):
        seen.append(np.asarray(x.detach().cpu()))
        return read(model, x, *args, **kwargs)

    monkeypatch.setattr(diag, "_bottleneck", spy)
    X, y = _teacher(n=80)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        DeepL2Regressor(n_init=2, n_diagnostic_samples=30,
                        **small(random_state=0)).fit(X, y)
    restarts, final = seen[-3:-1], seen[-1]
    assert final.shape[0] == 30
    for x in restarts:
        np.testing.assert_array_equal(x, final)


def test_columns_in_units_1e170_apart_still_warn():
    # the subnormal guard first silenced every spread check once one column's
    # spread underflowed against the largest entry
    rng = np.random.RandomState(0)
    X = rng.randn(60, 4) * np.array([1e160, 1e-10, 1e-10, 1e-10])
    with pytest.warns(UserWarning, match="input columns have spreads below"):
        DeepL2Regressor(max_iter=5, **SMALL).fit(X, rng.randn(60))


def test_subnormal_inputs_train_without_nan():
    # the one scale of entries of 5e-324 underflowed to 0: inputs became NaN and
    # the fit a DivergenceWarning then a ValueError about data that were finite
    X = np.zeros((50, 3))
    X[::2, 0] = X[1::3, 1] = 5e-324
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        reg = DeepL2Regressor(max_iter=200, **SMALL).fit(X, X[:, :2])
    assert reg.input_scale_ == 5e-324
    assert reg.score(X, X[:, :2]) > 0.99


def test_a_fit_above_the_zero_network_suggests_what_the_estimator_has():
    # the advice named init='grow' to a ResNet (which has no init) and n_init > 1
    # to a fit of two restarts, and never learning_rate_init to a diverging SGD
    from skrank import DeepL2Classifier, ResNetL2Regressor

    X = np.random.RandomState(0).randn(100, 3)
    y = X[:, 0] + X[:, 1] ** 2

    def advice(est, target):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            est.fit(X, target)
        said = [str(w.message) for w in caught if "zero network's" in str(w.message)]
        assert len(said) == 1
        return said[0].split("Try ")[1]

    assert "init=" not in advice(ResNetL2Regressor(depth=3, max_iter=20, random_state=0), y)
    sgd = advice(DeepL2Classifier(solver="sgd", learning_rate_init=5.0, n_init=2, depth=3,
                                  width=8, max_iter=10, random_state=0), y > 0)
    assert "learning_rate_init" in sgd and "n_init" not in sgd and "init=" not in sgd
    assert "init='grow'" in advice(DeepL2Regressor(init="random", depth=12, max_iter=30,
                                                   random_state=0), np.c_[y, y])
    # where growing changes nothing: leaky ReLU, or no deeper than the grown start
    for est in (DeepL2Regressor(init="random", activation="leaky_relu", depth=12,
                                max_iter=30, random_state=0),
                DeepL2Regressor(init="random", depth=3, alpha=1.0, max_iter=2,
                                random_state=0)):
        assert "init=" not in advice(est, np.c_[y, y])


def test_divergences_of_a_grown_starts_two_stages_are_told_apart():
    # the shallow stage's divergences were merged with the full depth's: "in 4 of
    # 2 networks trained at once", and one restart told twice the same way
    X = np.random.RandomState(0).randn(200, 4)
    y = X[:, 0] + X[:, 1] ** 2
    for n_init in (2, 1):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            DeepL2Regressor(solver="sgd", learning_rate_init=1.0, n_init=n_init,
                            max_iter=30, random_state=0, early_stopping=False).fit(X, y)
        said = [str(w.message) for w in caught if issubclass(w.category, DivergenceWarning)]
        assert len(said) == 2
        assert "at depth 3" in said[0] and "at depth 12" in said[1]
        if n_init == 2:
            assert all("2 of 2 networks" in s for s in said)


@pytest.mark.parametrize("third", [True, False])
def test_a_spread_that_underflows_is_the_smallest_in_the_unit_checks(third):
    # a column 1e-320 of the largest read spread 0: "differ by a factor of inf"
    # after a divide-by-zero RuntimeWarning; dropping it instead silenced the
    # check for two columns
    from skrank._base import _column_spreads, _warn_if_outputs_unbalanced

    rng = np.random.RandomState(0)
    Y = np.c_[rng.randn(50) * 1e160, rng.randn(50) * 1e-160, rng.randn(50)]
    Y = Y if third else Y[:, :2]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("always", UserWarning)
        spreads = _column_spreads(Y)
        _warn_if_outputs_unbalanced(Y)
    assert len(spreads) == Y.shape[1] and (spreads > 0).all()
    assert [w for w in caught if "factor of more than 1e300" in str(w.message)]


def test_spreads_near_the_largest_float_check_their_balance_without_a_warning():
    # 10 times the smallest spread of 1e307 overflowed: numpy's RuntimeWarning
    from skrank._base import _warn_if_outputs_unbalanced

    rng = np.random.RandomState(0)
    Y = rng.randn(50, 2) * 1e307
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _warn_if_outputs_unbalanced(Y)
