"""Many networks trained at once: each as it would be alone, independently, and
restarts (``n_init``) keeping the lowest objective."""

import copy
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from skrank import BottleneckAutoencoder, DeepL2Regressor, DivergenceWarning
from skrank._engine import Settings, train, train_many
from skrank._networks import FullyConnectedNet

from ._estimators import small


def _mse(out, y):
    return (out - y).square().sum(1).mean()


def _nets(seeds, **kw):
    return [FullyConnectedNet(4, 2, depth=4, width=8, dtype=torch.float64, **kw)
            .reset_parameters(torch.Generator().manual_seed(s)) for s in seeds]


def _flat(net):
    return torch.cat([p.detach().reshape(-1) for p in net.parameters()])


@pytest.fixture
def data():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(50, 4, generator=g, dtype=torch.float64)
    return X, torch.tanh(X[:, :2] @ torch.randn(2, 2, generator=g, dtype=torch.float64))


SETTINGS = Settings(solver="lbfgs", max_iter=40, tol=0.0)


def test_batched_networks_follow_their_separate_paths(data):
    """Four seeds and four alphas batched = four separate fits, to rounding."""
    X, Y = data
    alphas = [0.0, 0.01, 0.1, 1.0]
    nets = _nets([0, 1, 2, 3])
    alone = [copy.deepcopy(n) for n in nets]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = train_many(nets, X, Y, loss_fn=_mse, alphas=alphas,
                             penalty_groups=nets[0].penalty_groups(), settings=SETTINGS)
        for net, alpha, res in zip(alone, alphas, results):
            own = train(net, X, Y, loss_fn=_mse, alpha=alpha,
                        penalty_groups=net.penalty_groups(), settings=SETTINGS)
            np.testing.assert_allclose(res.loss_curve, own.loss_curve, rtol=1e-9)
            assert res.n_iter == own.n_iter and res.stop_reason == own.stop_reason
    for a, b in zip(nets, alone):
        torch.testing.assert_close(_flat(a), _flat(b), rtol=1e-8, atol=1e-10)
    # the alphas were not shared: their objectives differ
    assert len({round(r.loss_curve[-1], 6) for r in results}) == 4


def test_one_network_diverging_or_stopping_early_leaves_the_others_alone(data):
    """Per-network data: network 1 sees a non-finite input (diverges at once),
    network 2 a constant target with a huge penalty (converges early)."""
    X, Y = data
    Xs, Ys = X.expand(4, -1, -1).clone(), Y.expand(4, -1, -1).clone()
    Xs[1, 0, 0] = float("inf")
    Ys[2] = 0.0
    alphas = [0.1, 0.1, 100.0, 0.01]
    nets = _nets([0, 1, 2, 3])
    start = [_flat(n).clone() for n in nets]
    with pytest.warns(DivergenceWarning):
        results = train_many(nets, Xs, Ys, loss_fn=_mse, alphas=alphas,
                             penalty_groups=nets[0].penalty_groups(), per_network=True,
                             settings=Settings(solver="lbfgs", max_iter=60))
    assert results[1].stop_reason == "diverged"
    assert torch.equal(_flat(nets[1]), start[1])  # back to its last sane point
    reasons = {results[i].stop_reason for i in (0, 2, 3)}
    assert reasons == {"converged", "max_iter"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in (0, 2, 3):
            net = _nets([i])[0]
            own = train(net, Xs[i], Ys[i], loss_fn=_mse, alpha=alphas[i],
                        penalty_groups=net.penalty_groups(),
                        settings=Settings(solver="lbfgs", max_iter=60))
            np.testing.assert_allclose(results[i].loss_curve, own.loss_curve, rtol=1e-9)
            torch.testing.assert_close(_flat(nets[i]), _flat(net), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("seed", [0, 1])
def test_n_init_keeps_the_lowest_objective_and_records_every_restart(seed):
    rng = np.random.RandomState(0)
    X = rng.randn(80, 5)
    y = np.maximum(X[:, :2] @ rng.randn(2, 3), 0)
    kw = small(depth=4, max_iter=60, dtype="float64", random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        many = DeepL2Regressor(**kw, n_init=4).fit(X, y)
        one = DeepL2Regressor(**kw).fit(X, y)
    obj = many.restart_objectives_
    assert obj.shape == (4,) and many.restart_ranks_.shape == (4,)
    assert many.best_restart_ == int(np.argmin(obj))
    assert many.loss_curve_[-1] == obj.min()
    assert len(set(np.round(obj, 8))) > 1  # the restarts differ
    # restart 0 is the single fit (same seed, trained as it would be alone); the
    # single fit runs its module directly, the batch through vmap: the last bits
    # differ, and 60 L-BFGS iterations amplify them to ~1e-9
    assert obj[0] == pytest.approx(one.loss_curve_[-1], rel=1e-7)
    # the kept network is the one whose objective was recorded (seed 1: not the first)
    net = many.module_
    Xs = torch.tensor(many._scale_inputs(X))
    Ys = torch.tensor((y - many.target_mean_) / many.target_scale_)
    with torch.no_grad():
        penalty = sum(float((p ** 2).sum()) for p in net.parameters()) * 0.1 / 4
        assert float(_mse(net(Xs), Ys)) + penalty == pytest.approx(obj.min(), rel=1e-8)
    if seed == 1:
        assert many.best_restart_ != 0 and obj.min() < one.loss_curve_[-1]


def test_n_threads_applies_during_fit_and_is_restored(monkeypatch):
    import skrank._device as device
    import skrank._grow as grow

    seen = []
    real = grow.train_many

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(grow, "train_many", spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # so that 'auto' has a choice to make
    X = np.random.RandomState(0).randn(30, 3)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for n_threads in (1, None, "auto"):
                DeepL2Regressor(**small(max_iter=3, init="grow"), device="cpu",
                                n_threads=n_threads).fit(X, X[:, 0])
            # a step larger than auto_threads' bound keeps torch's setting
            monkeypatch.setattr(device, "SMALL_WORK", 30 * 16 - 1)
            DeepL2Regressor(**small(max_iter=3, init="grow"), device="cpu").fit(X, X[:, 0])
            # more threads than cores are not started (10**6 ran out of memory)
            import skrank._base as base

            monkeypatch.setattr(base, "_n_cores", lambda: 3)
            DeepL2Regressor(**small(max_iter=3, init="grow"), device="cpu",
                            n_threads=10**6).fit(X, X[:, 0])
        # two stages each: the shallow start, then full depth
        assert seen == [1, 1, 2, 2, 1, 1, 2, 2, 3, 3]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_auto_threads_rule():
    from skrank._device import SMALL_WORK, auto_threads

    cpu = torch.device("cpu")
    assert auto_threads(SMALL_WORK, cpu) == 1
    assert auto_threads(SMALL_WORK + 1, cpu) is None
    assert auto_threads(10, torch.device("cuda")) is None  # off the CPU: as set
    est = DeepL2Regressor(width=64, device="cpu")  # on a GPU 'auto' leaves threads be
    assert est._threads(np.zeros((1024, 3))) == 1
    assert est._threads(np.zeros((1025, 3))) is None
    assert est.set_params(n_init=2)._threads(np.zeros((600, 3))) is None
    # a mini-batch step takes batch_size rows, whatever the data's size
    assert est.set_params(n_init=1, solver="adam")._threads(np.zeros((10**6, 3))) == 1
    # the autoencoder's steps take its noisy copies of every row
    assert BottleneckAutoencoder(input_noise=0.1, n_noisy_copies=4, device="cpu")._threads(
        np.zeros((300, 3))) is None
    assert BottleneckAutoencoder(input_noise=0.1, n_noisy_copies=4, device="cpu")._threads(
        np.zeros((200, 3))) == 1


def test_overlapping_thread_blocks_leave_the_process_as_they_found_it():
    # fits in threads of one process share torch's setting: one that ends must not
    # restore what it found while another still runs, nor leave its own behind
    from skrank._device import threads

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        a, b = threads(1), threads(3)
        a.__enter__()
        b.__enter__()
        a.__exit__(None, None, None)
        assert torch.get_num_threads() == 3  # b still runs
        b.__exit__(None, None, None)
        assert torch.get_num_threads() == 2
        c, d = threads(1), threads(1)
        c.__enter__()
        d.__enter__()
        d.__exit__(None, None, None)
        c.__exit__(None, None, None)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_sweep_folds_and_alphas_batched_equal_separate_fits():
    """The selector trains the folds and alphas of one depth in one batched run;
    each gives the score and rank of a separate fit on its fold."""
    from sklearn.base import clone
    from sklearn.metrics import check_scoring
    from sklearn.model_selection import KFold

    from skrank import RankAwareDepthSelector

    rng = np.random.RandomState(0)
    X = rng.randn(61, 4)  # folds of unequal size: padded rows of weight zero
    y = np.tanh(X[:, :2] @ rng.randn(2, 3))
    base = DeepL2Regressor(**small(max_iter=40, dtype="float64", random_state=0))
    cv = KFold(3, shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = RankAwareDepthSelector(base, depths=[3], alphas=[0.05, 0.3], cv=cv,
                                     refit=False).fit(X, y)
        scorer = check_scoring(base)
        for row, alpha in enumerate([0.05, 0.3]):
            scores, ranks = [], []
            for tr, te in cv.split(X):
                est = clone(base).set_params(alpha=alpha, depth=3).fit(X[tr], y[tr])
                scores.append(scorer(est, X[te], y[te]))
                ranks.append(est.bottleneck_rank_)
            assert sel.depth_results_["rank_per_fold"][row].tolist() == ranks
            assert sel.depth_results_["mean_test_score"][row] == pytest.approx(
                np.mean(scores), rel=1e-7)


def test_a_trial_step_that_overflows_backtracks_instead_of_diverging(data):
    """Every fourth evaluation overflows (as a long trial step can): the line
    search treats it as a very high cost and backtracks; the fit goes on."""
    X, Y = data
    calls = {"n": 0}

    def overflowing(out, y):
        calls["n"] += 1
        loss = _mse(out, y)
        return loss * float("inf") if calls["n"] % 4 == 3 else loss

    net = _nets([0])[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        res = train(net, X, Y, loss_fn=overflowing, alpha=0.1,
                    penalty_groups=net.penalty_groups(),
                    settings=Settings(solver="lbfgs", max_iter=30, tol=0.0))
    assert res.stop_reason != "diverged" and res.n_iter > 10
    assert np.all(np.isfinite(res.loss_curve))
    assert res.loss_curve[-1] < res.loss_curve[0]


def test_one_convergence_warning_for_a_batch(data):
    X, Y = data
    nets = _nets([0, 1, 2])
    with pytest.warns(ConvergenceWarning) as record:
        train_many(nets, X, Y, loss_fn=_mse, alphas=[0.1] * 3,
                   penalty_groups=nets[0].penalty_groups(),
                   settings=Settings(solver="lbfgs", max_iter=3, tol=0.0))
    capped = [r for r in record if r.category is ConvergenceWarning]
    assert len(capped) == 1 and "by 3 of 3 networks" in str(capped[0].message)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("solver", [
    dict(max_iter=30),
    dict(max_iter=20, solver="adam", batch_size=16, learning_rate_init=0.01, init="random"),
    dict(max_iter=20, solver="sgd", batch_size=16, learning_rate_init=0.01, init="random"),
], ids=["lbfgs", "adam", "sgd"])
def test_batched_restarts_on_cuda_match_the_cpu(solver):
    rng = np.random.RandomState(0)
    X = rng.randn(80, 5)
    y = np.maximum(X[:, :2] @ rng.randn(2, 3), 0)
    kw = small(depth=4, dtype="float64", random_state=0, n_init=3, **solver)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cpu = DeepL2Regressor(**kw, device="cpu").fit(X, y)
        gpu = DeepL2Regressor(**kw, device="cuda").fit(X, y)
    assert gpu.device_.startswith("cuda")
    np.testing.assert_allclose(gpu.restart_objectives_, cpu.restart_objectives_, rtol=1e-6)
    np.testing.assert_allclose(gpu.predict(X), cpu.predict(X), rtol=1e-5, atol=1e-8)


def test_scatter_writes_a_row_unless_the_network_already_holds_it():
    # a single network's evaluation loads its parameters; writing a point back
    # may be skipped only when it is that very point (the line search accepts
    # an earlier trial too)
    from skrank._stack import StackedObjective

    torch.manual_seed(0)
    net = FullyConnectedNet(3, 2, depth=3, width=5)
    X, Y = torch.randn(20, 3), torch.randn(20, 2)
    obj = StackedObjective([net], X, Y, None, lambda o, y: (o - y).square().mean(),
                           [0.1], net.penalty_groups())
    x = obj.gather()
    trial = x + 0.5
    obj(trial)
    assert torch.equal(obj.gather(), trial)
    obj.scatter(0, x[0])
    assert torch.equal(obj.gather(), x)
    obj(trial)
    obj.scatter(0, trial[0])
    assert torch.equal(obj.gather(), trial)


def test_a_callback_reads_each_accepted_point_of_a_batched_network(data):
    # batched L-BFGS writes the accepted points into the networks only for
    # callbacks that read them; such a callback must see every one, and the
    # objective it recomputes from the network equals the recorded one
    X, Y = data
    nets = _nets([0, 1])
    seen = [[], []]

    def reader(i):
        def fn(n_iter, module):
            out = module(X)
            penalty = sum(p.square().sum() for p in module.parameters()) * 0.1 / 4
            seen[i].append(float(_mse(out, Y) + penalty))
            return False
        return fn

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = train_many(nets, X, Y, loss_fn=_mse, alphas=[0.1, 0.1],
                             penalty_groups=nets[0].penalty_groups(),
                             settings=Settings(solver="lbfgs", max_iter=15, tol=0.0),
                             callbacks=[reader(0), reader(1)])
    for i, res in enumerate(results):
        np.testing.assert_allclose(seen[i], res.loss_curve, rtol=1e-9)


def _alone(i, X, Y, W, alpha, settings, seed, callback=None):
    """Network ``i`` (its seed ``i``) trained by itself, on torch's optimizer."""
    net = _nets([i])[0]
    result = train(net, X, Y, loss_fn=_weighted_mse, alpha=alpha,
                   penalty_groups=net.penalty_groups(), settings=settings,
                   generator=torch.Generator().manual_seed(seed), sample_weight=W,
                   callback=callback)
    return net, result


def _weighted_mse(out, y, w=None):
    per_row = (out - y).square().sum(1)
    return per_row.mean() if w is None else (w * per_row).sum() / w.sum()


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_adam_and_sgd_batched_follow_their_separate_paths(data, solver):
    """Mini-batch epochs of four networks at once: each its own seed, alpha,
    shuffling and rows (per-network weights with zeros: 50, 49, 37 and 23 rows
    in batches of 8, so their last batches differ in size and count) = each
    network trained alone with torch's own optimizer, to rounding."""
    X, Y = data
    W = torch.ones(4, 50, dtype=X.dtype)
    W[1, :1] = 0.0
    W[2, 10:23] = 0.0
    W[3, 3:30] = 0.0
    W[3, 30:] = 3.0  # weights other than 1 count as repeats
    alphas = [0.0, 0.01, 0.1, 1.0]
    settings = Settings(solver=solver, max_iter=12, tol=0.0, batch_size=8,
                        learning_rate_init=0.01)
    nets = _nets([0, 1, 2, 3])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = train_many(
            nets, X.expand(4, -1, -1), Y.expand(4, -1, -1), loss_fn=_weighted_mse,
            alphas=alphas, penalty_groups=nets[0].penalty_groups(), settings=settings,
            generators=[torch.Generator().manual_seed(10 + i) for i in range(4)],
            sample_weight=W, per_network=True)
        for i in range(4):
            net, own = _alone(i, X, Y, W[i], alphas[i], settings, 10 + i)
            np.testing.assert_allclose(results[i].loss_curve, own.loss_curve, rtol=1e-12)
            torch.testing.assert_close(_flat(nets[i]), _flat(net), rtol=1e-12, atol=1e-14)
    # the networks moved, each its own way
    assert len({round(r.loss_curve[-1], 8) for r in results}) == 4


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_batched_epochs_stop_and_diverge_per_network(data, solver):
    """Network 1 meets a non-finite input (diverges, back to its start); of the
    others, some converge early and some run to max_iter, each as it would alone."""
    X, Y = data
    Xs, Ys = X.expand(4, -1, -1).clone(), Y.expand(4, -1, -1).clone()
    Xs[1, 7, 0] = float("inf")
    Ys[2] = 0.0
    alphas = [0.1, 0.1, 50.0, 0.01]
    # tolerances at which, alone, some of networks 0, 2, 3 converge and some do not
    tol = {"adam": 3e-2, "sgd": 1e-2}[solver]
    settings = Settings(solver=solver, max_iter=40, tol=tol, n_iter_no_change=3,
                        batch_size=16, learning_rate_init=0.01)
    nets = _nets([0, 1, 2, 3])
    start = _flat(nets[1]).clone()
    gens = [torch.Generator().manual_seed(i) for i in range(4)]
    with pytest.warns(DivergenceWarning, match="network 2 of 4"):
        results = train_many(nets, Xs, Ys, loss_fn=_weighted_mse, alphas=alphas,
                             penalty_groups=nets[0].penalty_groups(), settings=settings,
                             generators=gens, per_network=True)
    assert results[1].stop_reason == "diverged" and results[1].n_iter == 0
    assert torch.equal(_flat(nets[1]), start)
    reasons = {results[i].stop_reason for i in (0, 2, 3)}
    assert reasons == {"converged", "max_iter"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in (0, 2, 3):
            net, own = _alone(i, Xs[i], Ys[i], None, alphas[i], settings, i)
            assert results[i].n_iter == own.n_iter
            assert results[i].stop_reason == own.stop_reason
            np.testing.assert_allclose(results[i].loss_curve, own.loss_curve, rtol=1e-12)
            torch.testing.assert_close(_flat(nets[i]), _flat(net), rtol=1e-12, atol=1e-14)


def test_batched_epochs_write_the_network_for_a_callback_that_reads_it(data):
    X, Y = data
    nets = _nets([0, 1])
    seen = [[], []]

    def reader_into(record, i):
        def fn(n_iter, module):
            record[i].append(_flat(module).clone())
            return n_iter == 3 + i  # network 0 stops after 3 epochs, 1 after 4
        return fn

    settings = Settings(solver="adam", max_iter=10, tol=0.0, batch_size=16)
    gens = [torch.Generator().manual_seed(i) for i in range(2)]
    results = train_many(nets, X, Y, loss_fn=_weighted_mse, alphas=[0.1, 0.1],
                         penalty_groups=nets[0].penalty_groups(), settings=settings,
                         generators=gens, callbacks=[reader_into(seen, 0),
                                                     reader_into(seen, 1)])
    assert [r.n_iter for r in results] == [3, 4]
    assert [r.stop_reason for r in results] == ["callback", "callback"]
    for i in range(2):
        mine = [[], []]
        _alone(i, X, Y, None, 0.1, settings, i, callback=reader_into(mine, i))
        mine = mine[i]
        assert len(seen[i]) == len(mine) == 3 + i
        for a, b in zip(seen[i], mine):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
        # a stopped network keeps the point its callback saw last
        torch.testing.assert_close(_flat(nets[i]), seen[i][-1], rtol=0, atol=0)


def test_adam_restarts_of_an_estimator_train_at_once(monkeypatch):
    """``n_init`` with Adam takes the batched epochs, and restart 0 is the single
    fit of the same seed."""
    import skrank._engine as engine

    calls = []
    real = engine._Epochs.train

    def spy(self, max_iter):
        calls.append(len(self.live))
        return real(self, max_iter)

    monkeypatch.setattr(engine._Epochs, "train", spy)
    rng = np.random.RandomState(0)
    X = rng.randn(60, 4)
    y = np.tanh(X[:, :2] @ rng.randn(2, 3))
    # the restarts in one batch, not in two groups (see _restart_groups)
    monkeypatch.setattr("skrank._base._restart_groups", lambda *args: None)
    kw = small(depth=4, max_iter=15, dtype="float64", random_state=0, solver="adam",
               batch_size=16, learning_rate_init=0.01, tol=0.0, init="random")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        many = DeepL2Regressor(**kw, n_init=3).fit(X, y)
        assert calls == [3]
        one = DeepL2Regressor(**kw).fit(X, y)
    assert calls == [3]  # a single network trains on torch's optimizer
    assert many.restart_objectives_[0] == pytest.approx(one.loss_curve_[-1], rel=1e-10)
    assert len(set(np.round(many.restart_objectives_, 8))) == 3


@pytest.mark.parametrize("make", [
    lambda: BottleneckAutoencoder(**small(depth=4, max_iter=20, warmup_iter=5,
                                          dtype="float64", random_state=0)),
    lambda: DeepL2Regressor(**small(depth=4, max_iter=15, dtype="float64", solver="sgd",
                                    batch_size=16, learning_rate_init=0.01,
                                    random_state=0)),
], ids=["autoencoder-warm-up", "sgd"])
def test_sweep_folds_batched_with_every_solver_equal_separate_fits(make):
    """A selector's folds of one depth train at once whatever the solver (the
    autoencoder's Adam warm-up, then L-BFGS; SGD): each fold as its separate fit."""
    from sklearn.base import clone
    from sklearn.model_selection import KFold

    from skrank._base import _batchable, fit_many

    rng = np.random.RandomState(0)
    X = rng.randn(90, 4)
    y = np.tanh(X[:, :2] @ rng.randn(2, 3))
    folds = [(X[tr], y[tr]) for tr, _ in KFold(3, shuffle=True, random_state=0).split(X)]
    base = make()
    ests = [clone(base) for _ in folds]
    data = [(Xf, None if isinstance(base, BottleneckAutoencoder) else yf)
            for Xf, yf in folds]
    assert _batchable([e._plan(Xf, yf, None) for e, (Xf, yf) in zip(ests, data)], ests)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batched = fit_many(ests, data)
        separate = [clone(base).fit(Xf, yf) for Xf, yf in data]
    objectives = [b.loss_curve_[-1] for b in batched]
    for b, s in zip(batched, separate):
        assert b.n_iter_ == s.n_iter_
        assert b.loss_curve_[-1] == pytest.approx(s.loss_curve_[-1], rel=1e-7)
    assert len(set(np.round(objectives, 8))) == 3


def test_fits_whose_resolved_settings_differ_do_not_share_a_batch():
    """batch_size='auto' is min(200, rows): Adam folds of 68 and 69 rows take
    batches of 68 and 69, which one batched run (the first fit's settings) would
    not; L-BFGS without warm-up reads no batch size, and batches them."""
    from sklearn.base import clone
    from sklearn.model_selection import KFold

    from skrank._base import _batchable, fit_many

    rng = np.random.RandomState(0)
    X = rng.randn(103, 4)
    y = np.tanh(X[:, :2] @ rng.randn(2, 3))
    folds = [(X[tr], y[tr]) for tr, _ in KFold(3).split(X)]
    assert sorted({len(Xf) for Xf, _ in folds}) == [68, 69]
    for solver, batched in (("adam", False), ("lbfgs", True)):
        base = DeepL2Regressor(**small(depth=3, max_iter=10, dtype="float64",
                                       random_state=0, solver=solver, tol=0.0))
        ests = [clone(base) for _ in folds]
        plans = [e._plan(Xf, yf, None) for e, (Xf, yf) in zip(ests, folds)]
        assert _batchable(plans, ests) is batched
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            many = fit_many([clone(base) for _ in folds], folds)
            alone = [clone(base).fit(Xf, yf) for Xf, yf in folds]
        for m, a in zip(many, alone):
            assert m.loss_curve_[-1] == pytest.approx(a.loss_curve_[-1], rel=1e-7)
    # other settings than those the selector varies never share a batch either
    ests = [clone(base), clone(base).set_params(max_iter=4)]
    plans = [e._plan(X, y, None) for e in ests]
    assert not _batchable(plans, ests)


@pytest.fixture
def two_cores(monkeypatch):
    """Two cores and torch threads, no OMP_NUM_THREADS, no GPU: restarts then train
    in two groups (on a CUDA machine device='auto' would pick the GPU, where they
    train as one batch)."""
    import skrank._base as base
    from skrank import _device

    monkeypatch.setattr(base, "_n_cores", lambda: 2)
    monkeypatch.setattr(_device, "_available", lambda: (0, False))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def _moons(n=120):
    from sklearn.datasets import make_moons

    return make_moons(n, noise=0.2, random_state=0)


def test_restart_groups_are_two_halves_whatever_the_threads(two_cores, monkeypatch):
    """The groups never follow the threads (a sweep's worker has one: n_jobs must
    not change a fit); the threads decide whether they train at once."""
    import skrank._base as base
    from skrank import DeepL2Classifier

    X = torch.zeros(50, 2)
    nets = [FullyConnectedNet(2, 2, depth=3, width=4) for _ in range(5)]
    clf = DeepL2Classifier(n_init=5)
    assert base._restart_groups(clf, nets, X) == ([[0, 1, 2], [3, 4]], 1)
    assert base._restart_groups(clf, nets[:1], X) is None
    assert base._restart_groups(clf.set_params(n_threads=1), nets, X) == (
        [[0, 1, 2], [3, 4]], 1)
    assert not base._groups_at_once(clf)
    monkeypatch.setattr(base, "_n_cores", lambda: 8)
    assert base._restart_groups(clf.set_params(n_threads=8), nets, X) == (
        [[0, 1, 2], [3, 4]], 4)
    assert base._groups_at_once(clf)
    # at once, unless one stream of progress or rank records is kept
    assert not base._groups_at_once(clf.set_params(verbose=1))
    assert not base._groups_at_once(clf.set_params(verbose=0, track_rank_every=5))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # one thread of each process
    assert not base._groups_at_once(clf.set_params(n_threads="auto", track_rank_every=0))


def test_restart_groups_at_once_are_the_fit_in_turn(two_cores, monkeypatch, capsys):
    """Restarts in two groups, in two threads at once or one after the other
    (verbose, or one thread: a sweep's worker): the same fit to the bit, one
    ConvergenceWarning for all, and the same fit as one batch to rounding."""
    import skrank._base as base
    from skrank import DeepL2Classifier

    spy, real = [], base._train_split
    monkeypatch.setattr(base, "_train_split", lambda *a: spy.append(a[6]) or real(*a))
    X, y = _moons()
    kw = small(depth=4, max_iter=25, dtype="float64", tol=0.0, random_state=0, n_init=4)
    with pytest.warns(ConvergenceWarning, match="by 4 of 4 networks") as caught:
        at_once = DeepL2Classifier(**kw).fit(X, y)
    assert sum(w.category is ConvergenceWarning for w in caught) == 1
    assert all(w.filename == __file__ for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        in_turn = DeepL2Classifier(**kw, verbose=1).fit(X, y)
        one_thread = DeepL2Classifier(**kw, n_threads=1).fit(X, y)
        monkeypatch.setattr(base, "_restart_groups", lambda *args: None)
        batch = DeepL2Classifier(**kw).fit(X, y)
    assert spy == [[[0, 1], [2, 3]]] * 3
    assert "[3] iter" in capsys.readouterr().out  # restarts numbered among all
    for other in (in_turn, one_thread):
        np.testing.assert_array_equal(at_once.restart_objectives_, other.restart_objectives_)
        np.testing.assert_array_equal(at_once.predict_proba(X), other.predict_proba(X))
    np.testing.assert_allclose(at_once.restart_objectives_, batch.restart_objectives_,
                               rtol=1e-8)
    assert at_once.best_restart_ == batch.best_restart_


def test_ctrl_c_while_restart_groups_train_ends_the_fit(two_cores, monkeypatch):
    """Ctrl-C reaches the fit's thread while the other group trains in its own:
    that group stops, the fit ends usable and Ctrl-C goes on to the caller; no
    thread is left running, torch's thread count is restored."""
    import _thread
    import threading
    import time

    import skrank._base as base
    from skrank import DeepL2Classifier
    from skrank._engine import TrainingInterruptedWarning

    slow = base._Stop.on_iteration

    def slow_beside(self, run, loss_value):
        if threading.current_thread() is not threading.main_thread():
            time.sleep(0.02)
        return slow(self, run, loss_value)

    monkeypatch.setattr(base._Stop, "on_iteration", slow_beside)
    X, y = _moons()
    clf = DeepL2Classifier(**small(depth=4, max_iter=400, tol=0.0), random_state=0,
                           n_init=2)
    timer = threading.Timer(1.5, _thread.interrupt_main)
    start = time.perf_counter()
    timer.start()
    try:
        with pytest.warns(TrainingInterruptedWarning), pytest.raises(KeyboardInterrupt):
            clf.fit(X, y)
    finally:
        timer.cancel()
    assert time.perf_counter() - start < 6  # the slowed group alone takes over 8 s
    assert clf.stop_reason_ == "interrupted" and np.isfinite(clf.predict_proba(X)).all()
    assert not any(t.name == "skrank restarts" for t in threading.enumerate())
    assert torch.get_num_threads() == 2


def test_a_warning_of_a_restart_groups_thread_points_at_the_users_line(two_cores,
                                                                        monkeypatch):
    import threading

    import skrank._base as base
    from skrank import DeepL2Classifier
    from skrank._warn import warn_user

    real = base.train_grown

    def warning(*args, **kwargs):
        if threading.current_thread() is not threading.main_thread():
            warn_user("from the other group", UserWarning)
        return real(*args, **kwargs)

    monkeypatch.setattr(base, "train_grown", warning)
    X, y = _moons()
    with pytest.warns(UserWarning, match="from the other group") as caught:
        DeepL2Classifier(**small(depth=4, max_iter=5), random_state=0, n_init=2).fit(X, y)
    assert [w.filename for w in caught if "other group" in str(w.message)] == [__file__]


def test_networks_trained_in_groups_are_numbered_among_all(data):
    X, Y = data
    Xs = X.expand(2, -1, -1).clone()
    Xs[1, 0, 0] = float("inf")
    nets = _nets([0, 1])
    with pytest.warns(DivergenceWarning, match="network 6 of 8 trained at once"):
        train_many(nets, Xs, Y.expand(2, -1, -1), loss_fn=_mse, alphas=[0.1, 0.1],
                   penalty_groups=nets[0].penalty_groups(), per_network=True,
                   settings=Settings(solver="lbfgs", max_iter=5), numbering=(4, 8))


@pytest.mark.parametrize("verbose", [0, 1])
def test_restart_groups_tell_their_divergences_in_one_warning(two_cores, monkeypatch,
                                                              verbose):
    import skrank._base as base

    spy, real = [], base._train_split
    monkeypatch.setattr(base, "_train_split", lambda *a: spy.append(a[6]) or real(*a))
    rng = np.random.RandomState(0)
    X = rng.randn(60, 4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        DeepL2Regressor(**small(max_iter=5, random_state=0), init="random", n_init=3,
                        solver="adam", learning_rate_init=1e10, verbose=verbose).fit(
                            X, X[:, 0])
    said = [str(w.message) for w in caught if w.category is DivergenceWarning]
    assert spy == [[[0, 1], [2]]]
    assert len(said) == 1, said
    assert "in 3 of 3 networks trained at once: network 1 at iteration" in said[0]
    assert "network 3 at iteration" in said[0]


@pytest.mark.slow  # waits on a second thread's fit, about 6 s
def test_ctrl_c_while_waiting_for_the_other_group_ends_the_fit_uncapped(two_cores,
                                                                       monkeypatch):
    """Ctrl-C in the fit's thread once its group ended, while the other trains on:
    the other stops, the fit ends interrupted and usable, with no ConvergenceWarning
    (the stopped group did not run out of iterations)."""
    import skrank._base as base
    from skrank import DeepL2Classifier
    from skrank._engine import TrainingInterruptedWarning

    real = base._wait
    calls = []

    def interrupted_wait(done, worker=None):
        calls.append(worker)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return real(done, worker)

    monkeypatch.setattr(base, "_wait", interrupted_wait)
    X, y = _moons()
    clf = DeepL2Classifier(**small(depth=4, max_iter=300, tol=0.0), random_state=0,
                           n_init=3)
    with warnings.catch_warnings(record=True) as caught, \
            pytest.raises(KeyboardInterrupt):
        warnings.simplefilter("always")
        clf.fit(X, y)
    categories = [w.category for w in caught]
    assert TrainingInterruptedWarning in categories
    assert ConvergenceWarning not in categories
    assert clf.stop_reason_ == "interrupted" and np.isfinite(clf.predict_proba(X)).all()
