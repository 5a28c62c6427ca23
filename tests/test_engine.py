"""The training engine: the penalty, stopping, divergence, interruption."""

import ast
import inspect
import re
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

import skrank
from skrank import DivergenceWarning, TrainingInterruptedWarning, _engine
from skrank._engine import Settings
from skrank._engine import train as _train
from skrank._networks import FullyConnectedNet

_SETTINGS = set(Settings.__dataclass_fields__)


def train(net, X, Y, **kw):
    """The engine with the solver settings given as keywords."""
    settings = Settings(**{k: kw.pop(k) for k in list(kw) if k in _SETTINGS})
    return _train(net, X, Y, settings=settings, **kw)


def _net(seed=0, **kw):
    net = FullyConnectedNet(3, 2, depth=3, width=5, **kw)
    return net.reset_parameters(generator=torch.Generator().manual_seed(seed))


def _mse(out, y):
    return (out - y).square().sum(1).mean()


@pytest.mark.parametrize("scaling", ["depth", "none"])
@pytest.mark.parametrize("penalize_bias", [True, False])
def test_penalty_gradient_matches_autograd(scaling, penalize_bias):
    """One plain SGD step of the engine equals a step on the autograd objective."""
    X, Y = torch.randn(20, 3), torch.randn(20, 2)
    alpha, lr = 0.7, 0.05
    net = _net(penalty_scaling=scaling, penalize_bias=penalize_bias)
    ref = _net()
    train(net, X, Y, loss_fn=_mse, alpha=alpha, penalty_groups=net.penalty_groups(),
          solver="sgd", momentum=0.0, learning_rate_init=lr, max_iter=1)
    coef = alpha / 3 if scaling == "depth" else alpha
    penalised = [p for n, p in ref.named_parameters() if penalize_bias or "weight" in n]
    objective = _mse(ref(X), Y) + coef * sum(p.square().sum() for p in penalised)
    objective.backward()
    with torch.no_grad():
        for p in ref.parameters():
            p -= lr * p.grad
    for a, b in zip(net.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b)


def test_loss_curve_reports_objective_with_penalty():
    X, Y = torch.randn(30, 3), torch.randn(30, 2)
    net = _net()
    res = train(net, X, Y, loss_fn=_mse, alpha=0.5,
                penalty_groups=net.penalty_groups(), max_iter=5)
    with torch.no_grad():
        expected = _mse(net(X), Y) + 0.5 / 3 * sum(p.square().sum()
                                                    for p in net.parameters())
    assert res.loss_curve[-1] == pytest.approx(float(expected), rel=1e-5)


def test_keyboard_interrupt_leaves_a_usable_model():
    X, Y = torch.randn(30, 3), torch.randn(30, 2)
    net = _net()

    def interrupt(n_iter, module):
        if n_iter == 3:
            raise KeyboardInterrupt

    with pytest.warns(TrainingInterruptedWarning):
        res = train(net, X, Y, loss_fn=_mse, alpha=0.1,
                    penalty_groups=net.penalty_groups(), solver="adam",
                    learning_rate_init=1e-2, max_iter=50, callback=interrupt)
    assert res.stop_reason == "interrupted"
    assert res.n_iter == 3
    assert torch.isfinite(net(X)).all()


def test_lbfgs_converges_on_a_convex_problem():
    # depth-2 identity network with alpha > 0 on tiny data: loss must plateau and
    # stop as converged before max_iter
    X, Y = torch.randn(40, 3, dtype=torch.float64), torch.randn(40, 2, dtype=torch.float64)
    net = FullyConnectedNet(3, 2, depth=2, width=4, activation="identity",
                            dtype=torch.float64).reset_parameters()
    res = train(net, X, Y, loss_fn=_mse, alpha=0.1, penalty_groups=net.penalty_groups(),
                max_iter=2000, tol=1e-10, n_iter_no_change=5)
    assert res.stop_reason == "converged"
    assert res.n_iter < 2000
    assert np.all(np.diff(res.loss_curve) <= 1e-12)


def _flat(net):
    return torch.cat([p.detach().reshape(-1) for p in net.parameters()]).clone()


@pytest.mark.parametrize("batch_size, lr", [(5, 10.0), (None, 100.0), (None, 3.0)])
def test_divergence_keeps_parameters_at_which_the_loss_was_finite(batch_size, lr):
    """The parameters kept are ones the loss was evaluated at and found finite, never
    the step taken after that evaluation."""
    X, Y = torch.randn(30, 3), torch.randn(30, 2)
    net = _net()
    finite_at = []

    def recording_mse(out, y):
        loss = _mse(out, y)
        if torch.isfinite(loss):
            finite_at.append(_flat(net))
        return loss

    with pytest.warns(DivergenceWarning):
        res = train(net, X, Y, loss_fn=recording_mse, alpha=0.0,
                    penalty_groups=net.penalty_groups(), solver="sgd",
                    batch_size=batch_size, learning_rate_init=lr, max_iter=50)
    assert res.stop_reason == "diverged"
    kept = _flat(net)
    assert torch.isfinite(kept).all()
    assert any(torch.equal(kept, p) for p in finite_at)
    if batch_size is None:  # full batch: the kept loss is the training loss, and sane
        assert _mse(net(X), Y) < 1e30 * _mse(_net()(X), Y)


@pytest.mark.parametrize("make", [
    lambda: skrank.BottleneckAutoencoder(alpha=1e5, random_state=0),  # Adam warm-up
    lambda: skrank.DeepL2Regressor(alpha=1e5, solver="adam", depth=6, max_iter=30,
                                   random_state=0),
])
def test_a_penalty_far_above_the_data_term_is_no_explosion(make):
    """Mini-batch epochs read the data term of their first batch: the explosion
    limit comes from the starting objective, penalty included. An alpha whose
    penalty is 10^6 times the data term shrinks the network and is no
    divergence."""
    X = np.random.RandomState(0).randn(90, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = make().fit(X, X[:, 0])
    assert est.stop_reason_ != "diverged"
    assert est.loss_curve_[-1] < 0.5 * est.loss_curve_[0]


@pytest.mark.parametrize("max_iter", [10, 3])  # 3: the poisoned epoch is the last
def test_non_finite_gradient_behind_a_finite_loss_is_divergence(max_iter):
    X, Y = torch.randn(30, 3), torch.randn(30, 2)
    net = _net()
    calls = {"n": 0}

    def poisoned_mse(out, y):
        calls["n"] += 1
        loss = _mse(out, y)
        if calls["n"] == 3:
            # value 0, gradient NaN (d|u|/du = 0 times d sqrt(v)/dv = inf at 0)
            loss = loss + (out * 0).abs().sqrt().sum()
        return loss

    with pytest.warns(DivergenceWarning):
        # alpha=0: no penalty value computed on the poisoned parameters to give it away
        res = train(net, X, Y, loss_fn=poisoned_mse, alpha=0.0,
                    penalty_groups=net.penalty_groups(), solver="sgd",
                    learning_rate_init=1e-3, max_iter=max_iter)
    assert res.stop_reason == "diverged"
    assert all(torch.isfinite(p).all() for p in net.parameters())
    assert torch.isfinite(net(X)).all()


def test_interrupt_is_reraised_when_the_caller_asks():
    X, Y = torch.randn(30, 3), torch.randn(30, 2)
    net = _net()
    signal = KeyboardInterrupt("from the user")

    def interrupt(n_iter, module):
        if n_iter == 2:
            raise signal

    with pytest.warns(TrainingInterruptedWarning):
        res = train(net, X, Y, loss_fn=_mse, alpha=0.1,
                    penalty_groups=net.penalty_groups(), solver="sgd",
                    learning_rate_init=1e-2, max_iter=50, callback=interrupt)
    with pytest.raises(KeyboardInterrupt) as info:
        res.raise_if_interrupted()
    assert info.value is signal
    done = train(net, X, Y, loss_fn=_mse, alpha=0.1, penalty_groups=net.penalty_groups(),
                 max_iter=3, n_iter_no_change=1)
    done.raise_if_interrupted()  # nothing to re-raise


def _private_torch_uses(tree):
    """Attribute chains rooted at ``torch`` with a private part, ``.data``, and
    ``.state.clear()`` (an optimizer's internal state): code, not docstrings."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        chain, root = [node.attr], node.value
        while isinstance(root, ast.Attribute):
            chain.append(root.attr)
            root = root.value
        if isinstance(root, ast.Name) and root.id == "torch" \
                and any(part.startswith("_") for part in chain):
            found.append("torch." + ".".join(reversed(chain)))
        if node.attr == "data" or (node.attr == "clear" and chain[1:2] == ["state"]):
            found.append(ast.unparse(node))
    return found


def test_package_uses_only_public_torch_api():
    import pkgutil

    for info in pkgutil.iter_modules(skrank.__path__, "skrank."):
        source = inspect.getsource(__import__(info.name, fromlist=["_"]))
        assert _private_torch_uses(ast.parse(source)) == [], info.name
    # the check sees what it guards
    bad = "torch._foreach_add_(a, b)\np.data.zero_()\nopt.state.clear()\n"
    assert len(_private_torch_uses(ast.parse(bad))) == 3


def test_interrupt_mid_epoch_keeps_the_last_complete_epoch():
    X, Y = torch.randn(30, 3), torch.randn(30, 2)
    net = _net()
    at_call = []

    def interrupting_mse(out, y):
        at_call.append(_flat(net))
        if len(at_call) == 6 * 3 + 2:  # batch 2 of epoch 4 (6 batches an epoch)
            raise KeyboardInterrupt
        return _mse(out, y)

    with pytest.warns(TrainingInterruptedWarning):
        res = train(net, X, Y, loss_fn=interrupting_mse, alpha=0.1,
                    penalty_groups=net.penalty_groups(), solver="sgd", batch_size=5,
                    learning_rate_init=1e-2, max_iter=50)
    assert res.n_iter == 3
    assert torch.equal(_flat(net), at_call[6 * 3])  # where epoch 4 started


def test_validation_restores_the_best_parameters():
    """The parameters that come back are those of the best validation score, not
    the last ones (scores scripted: best at iteration 2 of 5)."""
    X, Y = torch.randn(30, 3), torch.randn(30, 2)
    net = _net()
    scripted = iter([0.1, 0.9, 0.5, 0.4, 0.3])
    seen = []

    def score(output, target):
        return next(scripted)

    def record(n_iter, module):
        seen.append(_flat(module))

    # a window of one iteration: the raw scores decide
    res = train(net, X, Y, loss_fn=_mse, alpha=0.1, penalty_groups=net.penalty_groups(),
                solver="sgd", learning_rate_init=1e-2, max_iter=5, tol=0.0,
                n_iter_no_change=1, validation=(X[:5], Y[:5], score), callback=record)
    assert res.validation_scores == [0.1, 0.9, 0.5, 0.4, 0.3]
    assert res.best_validation_score == 0.9
    assert not torch.equal(seen[1], seen[-1])
    assert torch.equal(_flat(net), seen[1])


def test_validation_keeps_the_best_window_not_one_lucky_score():
    """Scores are judged by their mean over the last ``n_iter_no_change`` (2)
    iterations: one lucky score (0.95 at iteration 2) among poor ones loses to a
    run of good ones (window means 0.525, 0.525, 0.075, 0.425, 0.8)."""
    X, Y = torch.randn(30, 3), torch.randn(30, 2)
    net = _net()
    scripted = iter([0.1, 0.95, 0.1, 0.05, 0.8, 0.8])
    seen = []

    def score(output, target):
        return next(scripted)

    def record(n_iter, module):
        seen.append(_flat(module))

    res = train(net, X, Y, loss_fn=_mse, alpha=0.1, penalty_groups=net.penalty_groups(),
                solver="sgd", learning_rate_init=1e-2, max_iter=6, tol=0.0,
                n_iter_no_change=2, validation=(X[:5], Y[:5], score), callback=record)
    assert res.best_validation_score == pytest.approx(0.8)
    assert torch.equal(_flat(net), seen[5])


def test_validation_counts_full_windows_once_there_is_one():
    """A first score (0.9) is no mean of three: once a full window exists, only
    full windows compete (best 0.6, at the last iteration)."""
    X, Y = torch.randn(30, 3), torch.randn(30, 2)
    net = _net()
    scripted = iter([0.9, 0.1, 0.1, 0.5, 0.6, 0.6, 0.6, 0.6])
    seen = []

    def score(output, target):
        return next(scripted)

    def record(n_iter, module):
        seen.append(_flat(module))

    res = train(net, X, Y, loss_fn=_mse, alpha=0.1, penalty_groups=net.penalty_groups(),
                solver="sgd", learning_rate_init=1e-2, max_iter=8, tol=-1.0,
                n_iter_no_change=3, validation=(X[:5], Y[:5], score), callback=record)
    assert len(seen) == 8
    assert res.best_validation_score == pytest.approx(0.6)
    assert torch.equal(_flat(net), seen[6])


def test_progress_shows_elapsed_time_and_time_left(capsys):
    X, Y = torch.randn(30, 3), torch.randn(30, 2)
    net = _net()
    train(net, X, Y, loss_fn=_mse, alpha=0.1, penalty_groups=net.penalty_groups(),
          max_iter=4, tol=0.0, verbose=2)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 5  # one line per iteration, then the summary
    assert re.search(r"iter\s+4 .*elapsed \d+\.\d+s\s+at most \d+\.\ds left", out[3])
    assert out[-1].startswith("stopped after 4 iterations (max_iter)")


def test_convergence_warning_points_at_the_callers_line():
    X, Y = torch.randn(30, 3), torch.randn(30, 2)
    net = _net()
    with pytest.warns(ConvergenceWarning) as record:
        train(net, X, Y, loss_fn=_mse, alpha=0.1, penalty_groups=net.penalty_groups(),
              max_iter=2, tol=0.0)
    assert record[0].filename == __file__


def test_adam_stops_on_the_plateau_rule():
    """Adam has no stall rule of its own: only the plateau rule can stop it."""
    X, Y = torch.randn(40, 3, dtype=torch.float64), torch.randn(40, 2, dtype=torch.float64)
    net = FullyConnectedNet(3, 2, depth=2, width=4, activation="identity",
                            dtype=torch.float64).reset_parameters(
        generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = train(net, X, Y, loss_fn=_mse, alpha=0.1, penalty_groups=net.penalty_groups(),
                    solver="adam", learning_rate_init=1e-2, max_iter=3000,
                    tol=1e-4, n_iter_no_change=10)
    assert res.stop_reason == "converged"
    assert res.n_iter < 3000


def _autograd_penalty(groups, alpha):
    return sum(alpha * c * sum(p.square().sum() for p in ts) for ts, c in groups)


@pytest.mark.parametrize("scaling", ["depth", "none"])
@pytest.mark.parametrize("penalize_bias", [True, False])
def test_add_penalty_gradient_is_the_gradient_of_the_penalty(scaling, penalize_bias):
    from skrank._penalty import add_penalty_gradient

    net = _net(penalty_scaling=scaling, penalize_bias=penalize_bias)
    groups, alpha = net.penalty_groups(), 0.7
    params = list(net.parameters())
    expected = torch.autograd.grad(_autograd_penalty(groups, alpha), params,
                                   allow_unused=True)
    for p in params:
        p.grad = torch.zeros_like(p)
    add_penalty_gradient(groups, alpha)
    for p, g in zip(params, expected):
        torch.testing.assert_close(p.grad, torch.zeros_like(p) if g is None else g)


def test_lbfgs_stops_at_a_stationary_point_of_the_objective():
    X, Y = torch.randn(40, 3, dtype=torch.float64), torch.randn(40, 2, dtype=torch.float64)
    net = FullyConnectedNet(3, 2, depth=2, width=4, activation="identity",
                            dtype=torch.float64)
    groups = net.penalty_groups()
    train(net, X, Y, loss_fn=_mse, alpha=0.1, penalty_groups=groups, max_iter=2000,
          tol=1e-10, n_iter_no_change=5)
    objective = _mse(net(X), Y) + _autograd_penalty(groups, 0.1)
    grads = torch.autograd.grad(objective, list(net.parameters()))
    assert max(float(g.abs().max()) for g in grads) < 1e-5


# ---- boundaries a mutation run found untested ----------------------------------
def test_a_tiny_first_loss_still_allows_losses_up_to_the_explosion_limit():
    g = _engine._Guard([torch.zeros(2)])
    assert g.sane(1e-9) and g.sane(0.5)


def test_a_loss_1e7_times_the_first_is_an_explosion():
    g = _engine._Guard([torch.zeros(2)])
    assert g.sane(2.0) and not g.sane(2.0e7)


def test_tol_is_a_fall_per_iteration_over_the_window():
    u = _engine._stopping(0.01, 2)  # falls 0.5% per iteration < tol=1%: converged
    assert [u(v) for v in (1.0, 0.995, 0.99)] == [False, False, True]


def test_a_weighted_minibatch_loss_curve_is_the_weighted_objective():
    torch.manual_seed(0)
    X, Y = torch.randn(12, 3), torch.randn(12, 2)
    W = torch.tensor([1.0, 5.0] * 6)
    net = _net()

    def wmse(out, y, w=None):
        return ((out - y).square().sum(1) * w).sum() / w.sum()

    with torch.no_grad():
        expected = float(wmse(net(X), Y, W))
    res = train(net, X, Y, loss_fn=wmse, alpha=0.0, penalty_groups=net.penalty_groups(),
                solver="sgd", learning_rate_init=0.0, momentum=0.0, batch_size=1,
                max_iter=1, sample_weight=W)
    assert res.loss_curve[0] == pytest.approx(expected, rel=1e-5)


def _lbfgs_state_of_one(moved):
    """A one-network L-BFGS phase state whose ``_after`` can be driven by hand."""
    from types import SimpleNamespace

    # n_iter=1: a phase past its first record (at 0 a stop records the start)
    run = SimpleNamespace(result=SimpleNamespace(stop_reason=None, n_iter=1),
                          guard=SimpleNamespace(sane=lambda v: True),
                          reads_module=False, record=lambda v: False)
    state = object.__new__(_engine._LBFGSState)
    state.runs, state.active, state.prev = [run], [True], [1.0]
    state.stalls, state.moved = [0], [moved]
    state.x = state.good = torch.zeros(1, 2)
    return state, run


def test_lbfgs_restarts_once_and_stops_at_the_second_failure_in_a_row():
    """A failed line search restarts the memory; only a second failure in a row
    (no progress from steepest descent either) ends the phase."""
    state, run = _lbfgs_state_of_one(moved=True)
    assert state._after(0, "no_progress", 1.0) is True  # restart, not the end
    assert state.active == [True] and run.result.stop_reason is None
    assert state._after(0, "ok", 0.5) is False  # progress: the count starts again
    assert state._after(0, "no_progress", 0.5) is True and state.active == [True]
    assert state._after(0, "ok", 0.6) is True  # accepted, but no decrease: a failure
    assert state.active == [False] and run.result.stop_reason == "converged"


def test_lbfgs_that_never_moved_ends_stalled_not_converged():
    state, run = _lbfgs_state_of_one(moved=False)
    state._after(0, "no_progress", 1.0)
    state._after(0, "no_progress", 1.0)
    assert state.active == [False] and run.result.stop_reason == "stalled"


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("fused", [True, False])
def test_network_optimizer_steps_as_torchs_optimizer(solver, fused, monkeypatch):
    """torch's functional update, without torch's Optimizer: the same bits as
    torch.optim.Adam / SGD(nesterov) with coupled weight decay per group; where
    torch has no fused kernel, its single-tensor update, the step counts intact."""
    import skrank._rowopt as rowopt
    from skrank._rowopt import NetworkOptimizer

    if not fused:  # a torch without the fused kernel refuses it after counting steps
        real = {"adam": rowopt._adam, "sgd": rowopt._sgd}[solver]

        def refusing(*args, fused=None, **kwargs):
            if fused:
                for step in (args[5] if solver == "adam" else []):
                    step += 1
                raise RuntimeError("no fused kernel")
            return real(*args, fused=fused, **kwargs)

        monkeypatch.setattr(rowopt, "_" + solver, refusing)
    g = torch.Generator().manual_seed(0)
    mine = [torch.randn(5, 3, generator=g, dtype=torch.float64) for _ in range(3)]
    theirs = [torch.nn.Parameter(t.clone()) for t in mine]
    mine = [torch.nn.Parameter(t) for t in mine]
    groups = lambda ps: [{"params": ps[:2], "weight_decay": 0.3},  # noqa: E731
                         {"params": ps[2:], "weight_decay": 0.0}]
    kw = {"lr": 0.05} if solver == "adam" else {"lr": 0.05, "momentum": 0.9,
                                                 "nesterov": True}
    cls = torch.optim.Adam if solver == "adam" else torch.optim.SGD
    ref = cls(groups(theirs), fused=fused, **kw)
    opt = NetworkOptimizer(solver, groups(mine), 0.05, 0.9)
    for _ in range(6):
        grads = [torch.randn(5, 3, generator=g, dtype=torch.float64) for _ in range(3)]
        for p, q, grad in zip(mine, theirs, grads):
            p.grad, q.grad = grad.clone(), grad.clone()
        opt.step()
        ref.step()
    for p, q in zip(mine, theirs):
        assert torch.equal(p.detach(), q.detach())
    assert opt.update.fused is fused


def test_network_optimizer_does_not_take_out_of_memory_for_a_missing_kernel(monkeypatch):
    # torch's OutOfMemoryError is a RuntimeError: it was taken for "no fused kernel",
    # swallowed, and the rest of the fit ran unfused
    import skrank._rowopt as rowopt
    from skrank._rowopt import NetworkOptimizer

    def out_of_memory(*args, fused=None, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(rowopt, "_adam", out_of_memory)
    p = torch.nn.Parameter(torch.ones(3, 2))
    opt = NetworkOptimizer("adam", [{"params": [p], "weight_decay": 0.0}], 0.05, 0.9)
    p.grad = torch.ones(3, 2)
    with pytest.raises(torch.OutOfMemoryError):
        opt.step()
    assert opt.update.fused


@pytest.mark.parametrize("n_init", [1, 4])  # one network alone; restarts batched
@pytest.mark.parametrize("cls", ["DeepL2Regressor", "ResNetL2Regressor"])
def test_an_exploding_last_epoch_is_divergence(cls, n_init):
    """An epoch's end point is read by the next epoch's first batch: the last
    one's was kept unread. One SGD epoch at a learning rate of 100 predicted
    4e8 (the ResNet 1e17, with only a ConvergenceWarning) for targets within 5."""
    rng = np.random.RandomState(0)
    X = rng.randn(100, 3)
    y = X[:, 0] - X[:, 1]
    est = getattr(skrank, cls)(solver="sgd", learning_rate_init=100.0, depth=6, width=32,
                               max_iter=1, n_init=n_init, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with pytest.warns(DivergenceWarning, match="restored"):
            est.fit(X, y)
    assert est.stop_reason_ == "diverged"
    assert np.abs(est.predict(X)).max() < 100


def test_the_end_point_is_read_on_a_bounded_sample(monkeypatch):
    # a forward pass over every row cost a review's partial_fit on 100,000 rows of
    # width 512 600 MB and half its time; the guard needs a sample's loss only
    seen = []
    real = _engine._data_loss

    def recording(loss_fn, output, Y, W):
        seen.append(output.shape[0])
        return real(loss_fn, output, Y, W)

    monkeypatch.setattr(_engine, "_data_loss", recording)
    rng = np.random.RandomState(0)
    X = rng.randn(3 * _engine.END_CHECK_ROWS, 3)
    est = skrank.DeepL2Regressor(depth=3, width=8, solver="adam", batch_size=1000,
                                 max_iter=2, early_stopping=False, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, X[:, 0])
        est.partial_fit(X, X[:, 0])
    assert max(seen) <= _engine.END_CHECK_ROWS
    assert seen.count(_engine.END_CHECK_ROWS) == 2  # one end point each, every third row
