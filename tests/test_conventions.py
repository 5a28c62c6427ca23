"""scikit-learn conventions users rely on: set_output and feature names, a fixed
transform width, sample_weight, n_iter_, warnings at the user's line, progress."""

import importlib.metadata
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skrank
from skrank import (
    BottleneckAutoencoder,
    DeepL2Classifier,
    DeepL2Regressor,
    RankAwareDepthSelector,
    ResNetL2Regressor,
)
from skrank import diagnostics as _diag

from ._estimators import all_estimators, data_for, outputs, small


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(60, 4)
    return X, np.tanh(X @ rng.randn(4, 3))


@pytest.mark.parametrize("cls", [DeepL2Regressor, ResNetL2Regressor])
def test_pandas_output_in_a_pipeline(cls, data):
    pytest.importorskip("pandas")
    X, y = data
    kw = small(random_state=0) if cls is DeepL2Regressor else dict(
        depth=2, width=8, max_iter=20, random_state=0)
    pipe = make_pipeline(StandardScaler(), cls(**kw)).set_output(transform="pandas")
    Z = pipe.fit(X, y).transform(X)
    est = pipe[-1]
    prefix = cls.__name__.lower()
    assert Z.columns.tolist() == [f"{prefix}{i}" for i in range(est.n_components_)]
    assert est.get_feature_names_out().tolist() == Z.columns.tolist()


@pytest.mark.parametrize("k", [1, 3])
def test_n_components_pins_the_transform_width(k, data):
    X, y = data
    reg = DeepL2Regressor(**small(random_state=0), n_components=k).fit(X, y)
    assert reg.transform(X).shape == (60, k) and reg.n_components_ == k
    assert reg.bottleneck_components_.shape[0] == k
    # the bottleneck rank is still read, not pinned
    free = DeepL2Regressor(**small(random_state=0)).fit(X, y)
    assert reg.bottleneck_rank_ == free.bottleneck_rank_
    assert free.transform(X).shape[1] == free.bottleneck_rank_


def test_a_constant_network_still_transforms_to_one_column(data):
    # rank 0 (a penalty strong enough to flatten the function): a Pipeline's
    # next step must still get a column, not an empty array
    from sklearn.linear_model import LinearRegression

    X, y = data
    pipe = make_pipeline(DeepL2Regressor(depth=3, width=8, alpha=50.0, max_iter=30,
                                         random_state=0), LinearRegression())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(X, y)
    assert pipe[0].bottleneck_rank_ == 0
    assert pipe[0].transform(X).shape == (60, 1)
    assert pipe.predict(X).shape == (60, 3)


@pytest.mark.parametrize("cls", [DeepL2Regressor, ResNetL2Regressor, BottleneckAutoencoder])
def test_too_many_components_are_refused_before_training(cls, data):
    X, y = data
    est = cls(depth=3, width=8, max_iter=5, n_components=9)
    with pytest.raises(ValueError, match="n_components=9 exceeds"):
        est.fit(X) if cls is BottleneckAutoencoder else est.fit(X, y)
    assert not hasattr(est, "module_")  # nothing trained, nothing half-fitted


@pytest.mark.parametrize("cls", [DeepL2Regressor, DeepL2Classifier, BottleneckAutoencoder])
def test_integer_sample_weight_equals_repeating_rows(cls, data):
    X, y = data
    if cls is DeepL2Classifier:
        y = (y[:, 0] > 0).astype(int)
    w = np.random.RandomState(1).randint(0, 3, len(X))
    kw = small(dtype="float64", n_jacobian_points=0, random_state=0, warmup_iter=0)
    if cls is not DeepL2Classifier:
        # 30 iterations leave the random fit above the grown start, which 'auto'
        # then trains on; at the deepened start units outside the span sit at
        # zero up to rounding, so rounding flips their ReLU masks and with them
        # the gradient: weights and repeats part by 3e-8 after one iteration. The
        # classifier covers the grown path ('grow' by default) where it agrees.
        kw["init"] = "random"
    args = (X,) if cls is BottleneckAutoencoder else (X, y)
    rep = (np.repeat(X, w, 0),) + (() if cls is BottleneckAutoencoder
                                    else (np.repeat(y, w, 0),))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = cls(**kw).fit(*args, sample_weight=w)
        b = cls(**kw).fit(*rep)
        c = cls(**kw).fit(*args)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-8)
    assert not np.allclose(a.loss_curve_, c.loss_curve_)  # the weights do something
    # the bottleneck is read with the weights too: its coordinates (transform)
    # are those of the repeated rows
    assert a.bottleneck_rank_ == b.bottleneck_rank_
    np.testing.assert_allclose(a.bottleneck_mean_, b.bottleneck_mean_, atol=1e-8)
    if hasattr(a, "transform"):  # up to the sign of each direction
        np.testing.assert_allclose(np.abs(a.transform(X)), np.abs(b.transform(X)),
                                   atol=1e-6 * np.abs(b.transform(X)).max())


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_zero_weight_rows_are_absent_with_mini_batches(solver, data):
    # a batch of zero-weight rows alone had a 0/0 loss and stopped the fit as
    # diverged; rows of weight 0 are now rows absent, as repeats count them
    X, y = data
    w = np.r_[np.ones(10), np.zeros(50)]
    kw = dict(depth=3, width=8, max_iter=10, solver=solver, batch_size=10,
              dtype="float64", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = DeepL2Regressor(**kw).fit(X, y, sample_weight=w)
        b = DeepL2Regressor(**kw).fit(X[:10], y[:10])
    assert a.stop_reason_ == "max_iter"
    np.testing.assert_allclose(a.predict(X), b.predict(X), atol=1e-10)


def test_sample_weight_errors(data):
    X, y = data
    reg = DeepL2Regressor(**small())
    with pytest.raises(ValueError, match="sample_weight"):
        reg.fit(X, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="non-zero"):
        reg.fit(X, y, sample_weight=np.zeros(len(X)))
    with pytest.raises(ValueError, match="(?i)negative"):
        reg.fit(X, y, sample_weight=-np.ones(len(X)))


def test_sample_weight_follows_the_folds_of_a_sweep(data):
    X, y = data
    w = np.r_[np.ones(30), np.full(30, 2.0)]
    with skrank_routing():
        est = DeepL2Regressor(**small(random_state=0)).set_fit_request(sample_weight=True)
        sel = RankAwareDepthSelector(est, depths=[2, 3], cv=2).fit(X, y, sample_weight=w)
    assert sel.best_depth_ in (2, 3)


def skrank_routing():
    import sklearn

    return sklearn.config_context(enable_metadata_routing=True)


def test_n_iter_counts_solver_iterations_only(data):
    X, _ = data
    kw = small(max_iter=7, tol=0.0, warmup_iter=5)
    ae = BottleneckAutoencoder(**kw, init="random").fit(X)
    assert ae.n_iter_ == 7
    assert len(ae.loss_curve_) == 5 + 7
    # grown: the shallow stage (the warm-up and its iterations) comes first
    ae = BottleneckAutoencoder(**kw).fit(X)
    assert ae.n_iter_ == 7
    assert len(ae.loss_curve_) == 5 + 7 + 7


def test_max_iter_caps_the_warm_up_epochs(data):
    # an epoch runs over every noisy copy: 100 of them over 200 copies of the
    # rows were 100 x 200 Adam passes however small max_iter was
    X, _ = data
    kw = small(max_iter=3, tol=0.0, warmup_iter=100, input_noise=0.1, n_noisy_copies=200)
    ae = BottleneckAutoencoder(**kw, init="random").fit(X)
    assert ae.n_iter_ == 3
    assert len(ae.loss_curve_) == 3 + 3


def test_convergence_warning_points_at_the_users_line(data):
    X, y = data
    with pytest.warns(ConvergenceWarning) as record:
        DeepL2Regressor(**small(max_iter=2, tol=0.0)).fit(X, y)
    assert {r.filename for r in record if r.category is ConvergenceWarning} == {__file__}


def test_verbose_fit_and_sweep_report_time(data, capsys):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        DeepL2Regressor(**small(max_iter=4, tol=0.0), verbose=2).fit(X, y)
        out = capsys.readouterr().out
        assert "elapsed" in out and "left" in out and "stopped after 4 iterations" in out
        RankAwareDepthSelector(DeepL2Regressor(**small(max_iter=4)), depths=[2, 3], cv=2,
                               verbose=1).fit(X, y)
    out = capsys.readouterr().out
    assert out.count("depth   ") == 2 and "<- chosen" in out and "sweep of 2" in out


def test_one_version_string():
    assert skrank.__version__ == importlib.metadata.version("skrank")


def test_progress_bar_on_a_terminal(data, monkeypatch):
    """On a terminal, verbose=1 redraws one line with a bar (carriage returns)."""
    import io

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    X, y = data
    out = Terminal()
    monkeypatch.setattr("sys.stdout", out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        DeepL2Regressor(**small(max_iter=5, tol=0.0, init="random"), verbose=1).fit(X, y)
    text = out.getvalue()
    assert "\r" in text and "[" + "#" * 30 + "]" in text and "left" in text
    assert text.rstrip().splitlines()[-1].startswith("stopped after 5 iterations")


@pytest.mark.parametrize("warm_start", [False, "auto"])
def test_sweep_reports_each_job_as_it_completes(data, capsys, warm_start):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = RankAwareDepthSelector(DeepL2Regressor(**small(max_iter=4)), depths=[2, 3, 4],
                                     cv=2, verbose=1, warm_start=warm_start).fit(X, y)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("[")]
    means = sel.depth_results_["mean_test_score"]
    # a depth's folds (cold), or a fold's chain of depths (warm), as each ends
    expected = ([f"[{i + 1}/3] depth {d}: mean score {means[i]:.4f}, "
                 for i, d in enumerate([2, 3, 4])] if warm_start is False else
                [f"[{i}/2] fold {i}: chain of depths [2, 3, 4]: " for i in (1, 2)])
    assert len(lines) == len(expected)
    assert all(ln.startswith(e) for ln, e in zip(lines, expected)), lines
    assert all("elapsed" in ln and "left" in ln for ln in lines)


@pytest.mark.parametrize("cls, param", [(DeepL2Regressor, "width"),
                                        (DeepL2Regressor, "depth"),
                                        (BottleneckAutoencoder, "max_iter"),
                                        (ResNetL2Regressor, "depth")])
def test_a_boolean_is_not_a_count(cls, param, data):
    X, y = data
    with pytest.raises(ValueError, match=f"'{param}' parameter .* Got True"):
        cls(**{param: True}).fit(X, y)


def test_warm_start_refuses_what_it_cannot_continue(data):
    # MLPClassifier's convention: a warm start that cannot reuse the network is
    # an error, not a silent fresh start (nor output units reused for new labels)
    X, y = data
    kw = dict(depth=3, width=8, max_iter=5, random_state=0, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = DeepL2Regressor(n_init=3, **kw).fit(X, y)
        assert len(reg.restart_objectives_) == 3  # n_init holds on a first fit
        reg.fit(X, y)
        with pytest.raises(ValueError, match="expecting 4 features"):
            reg.fit(X[:, :2], y)
        with pytest.raises(ValueError, match="n_outputs 3 vs 1"):
            reg.fit(X, y[:, 0])
        with pytest.raises(ValueError, match="depth 3 vs 4"):
            reg.set_params(depth=4).fit(X, y)
        assert reg.n_features_in_ == 4 and reg.predict(X).shape == y.shape
        clf = DeepL2Classifier(**kw).fit(X, np.array(list("abc") * 20))
        with pytest.raises(ValueError, match="classes"):
            clf.fit(X, np.array(list("zbc") * 20))
        assert clf.classes_.tolist() == ["a", "b", "c"]


@pytest.mark.parametrize("how", ["fresh", "warm"])
def test_a_refused_fit_leaves_the_fitted_model_as_it_was(data, how):
    # the split's and n_components' checks come after the scalings, the output
    # count and the feature count are set: a refused fit left the fitted network
    # beside them (15 predictions for 5 rows, or a crash inside torch)
    X, y = data
    Y = np.c_[y, 2 * y + 1, -y]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = DeepL2Regressor(**small(max_iter=5, random_state=0),
                              warm_start=how == "warm").fit(X, Y)
    before = {k: v for k, v in vars(reg).items() if k.endswith("_")}
    pred = reg.predict(X)
    reg.set_params(early_stopping=True)
    with pytest.raises(ValueError, match="holds out"):
        reg.fit(X[:3] * 100, Y[:3] if how == "warm" else y[:3, 0])
    reg.set_params(early_stopping=False, n_components=10**3)
    with pytest.raises(ValueError, match="n_components"):
        reg.fit(X * 7, Y)
    assert {k: v for k, v in vars(reg).items() if k.endswith("_")}.keys() == before.keys()
    assert reg.n_outputs_ == 9 and reg.n_features_in_ == X.shape[1]
    np.testing.assert_array_equal(reg.input_scale_, before["input_scale_"])
    np.testing.assert_array_equal(reg.predict(X), pred)


def test_a_refused_warm_refit_on_another_device_leaves_the_network_where_it_was(
        data, monkeypatch):
    """A warm refit continues the fitted network on the new ``device``: moved before
    the split's check refuses, it went back neither to its device nor to the one
    ``device_`` names. Two devices simulated on a CPU: the moves are recorded."""
    import skrank._base as base

    X, y = data
    Y = np.c_[y, 2 * y + 1, -y]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = DeepL2Regressor(**small(max_iter=5, random_state=0), warm_start=True,
                              early_stopping=True).fit(X, Y)
    module, moves = reg.module_, []

    def to(*args, **kwargs):
        moves.append(torch.device(kwargs["device"]))
        return module

    monkeypatch.setattr(module, "to", to)
    monkeypatch.setattr(base, "resolve_device", lambda device: torch.device("cuda", 0))
    monkeypatch.setattr(base, "check_memory", lambda *args, **kwargs: None)
    reg.set_params(device="cuda", validation_fraction=0.01)
    with pytest.raises(ValueError, match="holds out"):
        reg.fit(X, Y)
    assert moves[0] == torch.device("cuda", 0)  # the refit did move it
    assert moves[-1] == torch.device("cpu") and reg.device_ == "cpu"


def test_a_refused_partial_fit_trains_nothing_and_changes_nothing(data):
    # rows of weight 0 are not read: n_components above the rows that count was
    # refused after the epoch had trained, with the old codes left in place
    X, y = data
    reg = DeepL2Regressor(**small(random_state=0), solver="adam", n_components=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.partial_fit(X, y)
    n_iter, state = reg.n_iter_, {k: v.clone() for k, v in reg.module_.state_dict().items()}
    w = np.zeros(6)
    w[:2] = 1.0
    with pytest.raises(ValueError, match="n_components=3"):
        reg.partial_fit(X[:6], y[:6], sample_weight=w)
    assert reg.n_iter_ == n_iter
    for k, v in reg.module_.state_dict().items():
        assert torch.equal(v, state[k])
    fresh = DeepL2Regressor(**small(random_state=0), solver="adam", n_components=3)
    with pytest.raises(ValueError, match="n_components=3"):
        fresh.partial_fit(X[:6], y[:6], sample_weight=w)
    assert not hasattr(fresh, "module_") and not hasattr(fresh, "n_features_in_")


def test_partial_fit_takes_a_new_solver_or_momentum(data):
    # the optimizer built on the first call was kept whatever set_params said
    X, y = data
    reg = DeepL2Regressor(**small(random_state=0), solver="adam")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.partial_fit(X, y)
        reg.set_params(solver="sgd", momentum=0.0).partial_fit(X, y)
        assert reg._stepper.epochs.optimizer.update.solver == "sgd"
        reg.set_params(momentum=0.5).partial_fit(X, y)
        assert reg._stepper.epochs.optimizer.update.momentum == 0.5
        # Adam has no momentum to take: its moments carry over
        reg.set_params(solver="adam").partial_fit(X, y)
        adam = reg._stepper.epochs.optimizer
        reg.set_params(momentum=0.1).partial_fit(X, y)
        assert reg._stepper.epochs.optimizer is adam
    assert reg.n_iter_ == 5


def test_codes_beyond_the_rank_count_weights_as_repeats(data):
    # n_components other than the rank read its extra codes without the weights,
    # against a weighted mean: transform changed with n_components alone
    X, y = data
    w = np.r_[np.full(len(X) // 3, 4), np.ones(len(X) - len(X) // 3)].astype(int)
    kw = small(dtype="float64", random_state=0, max_iter=15, n_components=4,
               n_jacobian_points=0, n_diagnostic_samples=10**4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = DeepL2Regressor(**kw).fit(X, y, sample_weight=w)
    # the codes of the repeated rows, read on the fitted network
    bn = _diag.bottleneck(a.module_, a._scale_inputs(np.repeat(X, w, 0)))
    expected = _diag.principal_components(bn.representation, 4)
    np.testing.assert_allclose(np.abs(np.sum(a.bottleneck_components_ * expected, 1)),
                               1.0, atol=1e-6)


def test_integer_weights_equal_repeats_in_every_rank_reading(data):
    # weights above 1 (not only 0/1, whose zero rows fit drops first) must reach
    # the rank tracker and the restarts' rank readings as repeats do
    X, y = data
    w = np.r_[np.full(len(X) // 2, 3), np.ones(len(X) - len(X) // 2)].astype(int)
    kw = small(dtype="float64", random_state=0, init="random", track_rank_every=1,
               n_init=2, max_iter=20, n_jacobian_points=0, n_diagnostic_samples=10**4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = DeepL2Regressor(**kw).fit(X, y, sample_weight=w)
        b = DeepL2Regressor(**kw).fit(np.repeat(X, w, 0), np.repeat(y, w, 0))
    seen = []
    real = _diag.bottleneck

    def spy(*args, weight=None, **kw):
        seen.append(weight)
        return real(*args, weight=weight, **kw)

    with warnings.catch_warnings(), pytest.MonkeyPatch.context() as mp:
        warnings.simplefilter("ignore")
        mp.setattr(_diag, "bottleneck", spy)
        DeepL2Regressor(**kw).fit(X, y, sample_weight=w)
    assert seen and all(s is not None and len(s) == len(X) for s in seen)
    np.testing.assert_array_equal(a.restart_ranks_, b.restart_ranks_)
    np.testing.assert_array_equal(a.rank_history_["bottleneck_rank"],
                                  b.rank_history_["bottleneck_rank"])


def test_a_weighted_diagnostic_sample_keeps_its_weights(data, monkeypatch):
    X, y = data
    w = np.arange(1, len(X) + 1, dtype=float)
    seen = []
    real = _diag.diagnose

    def spy(model, Xs, **kw):
        seen.append((len(Xs), kw.get("weight")))
        return real(model, Xs, **kw)

    monkeypatch.setattr(_diag, "diagnose", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        DeepL2Regressor(**small(max_iter=3, n_diagnostic_samples=20,
                                random_state=0)).fit(X, y, sample_weight=w)
    (n, weight), = seen
    assert n == 20 and weight is not None and len(weight) == 20
    # the sample's weights are those of its rows (mean-1 scaled), not a prefix
    assert len(set(np.round(weight / weight.min(), 6))) > 1


def test_partial_fit_reads_its_bottleneck_with_the_weights(data):
    X, y = data
    n = len(X) // 2
    w = np.r_[np.full(n, 2), np.ones(len(X) - n)].astype(int)
    kw = small(solver="adam", dtype="float64", random_state=0, batch_size=10**4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = DeepL2Regressor(**kw).partial_fit(X, y, sample_weight=w)
        b = DeepL2Regressor(**kw).partial_fit(np.repeat(X, w, 0), np.repeat(y, w, 0))
    np.testing.assert_allclose(a.bottleneck_mean_, b.bottleneck_mean_, atol=1e-8)


@pytest.mark.parametrize("est", all_estimators(), ids=lambda e: type(e).__name__)
def test_a_fit_leaves_torchs_global_generator_alone(est):
    """Networks draw from the estimator's seeded generator only: torch's default
    init of nn.Linear once moved the user's next torch.rand after any fit."""
    import torch

    X, y = data_for(est)
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y) if y is not None else est.fit(X)
    outputs(est, X)
    assert torch.equal(torch.rand(3), expected)


def test_a_fit_does_not_import_torch_compilers():
    # nn.utils.skip_init (the meta device) and autograd.grad with a grad_outputs
    # tensor imported torch.fx and sympy on a process's first fit: 485 modules,
    # about 0.4 s, half of a small classifier's fit; torch.optim's Optimizer
    # imported torch._dynamo on its first step (1.5-2 s once per process: every
    # first autoencoder fit paid it for its warm-up). One child process for all
    # solvers: each child's imports take seconds
    import subprocess
    import sys

    code = (
        "import sys, warnings, numpy as np\n"
        "warnings.simplefilter('ignore')\n"
        "from skrank import DeepL2Classifier, DeepL2Regressor\n"
        "X = np.random.RandomState(0).rand(60, 3)\n"
        "before = set(sys.modules)\n"
        "DeepL2Regressor(depth=4, width=8, max_iter=5).fit(X, X[:, :2])\n"
        "DeepL2Classifier(depth=4, width=8, max_iter=5).fit(X, X[:, 0] > 0.5)\n"
        # a warm start checks the architecture on the meta device, where torch's
        # first random draw imported 828 modules (1.1 s per process)
        "reg = DeepL2Regressor(depth=4, width=8, max_iter=5, warm_start=True)\n"
        "reg.fit(X, X[:, :2]).fit(X, X[:, :2])\n"
        "from skrank import BottleneckAutoencoder\n"
        "BottleneckAutoencoder(depth=3, width=8, max_iter=2, warmup_iter=2).fit(X)\n"
        "DeepL2Regressor(depth=3, width=8, max_iter=2, solver='sgd').fit(X, X[:, 0])\n"
        "DeepL2Regressor(depth=3, width=8, max_iter=2, solver='adam', n_init=2).fit(X, X)\n"
        # a sweep trains its folds' Adam epochs as one batch (another code path)
        "from skrank import RankAwareDepthSelector\n"
        "RankAwareDepthSelector(DeepL2Regressor(depth=3, width=8, max_iter=2,\n"
        "    solver='adam'), depths=[2], cv=2, refit=False).fit(X, X[:, :2])\n"
        "new = set(sys.modules) - before\n"
        "print(sorted(m for m in new"
        " if m.startswith(('sympy', 'torch.fx', 'torch._dynamo'))))\n"
        # and not by the import either (before was taken after it)
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["[]", "False"], out.stdout[:300]


def _integer_params(est):
    """The parameters of ``est`` whose constraints admit an integer interval."""
    from numbers import Integral

    from sklearn.utils._param_validation import Interval

    return [name for name, rules in type(est)._parameter_constraints.items()
            if any(isinstance(r, Interval) and r.type is Integral for r in rules)]


@pytest.mark.parametrize("est", all_estimators(), ids=lambda e: type(e).__name__)
def test_a_bool_for_an_integer_parameter_is_refused(est):
    # True is an int to Python: n_jacobian_points=True reached numpy as a size and
    # failed with a raw TypeError; warmup_iter=True silently ran one epoch
    from sklearn.base import clone
    from sklearn.utils._param_validation import InvalidParameterError

    X, y = data_for(est)
    names = _integer_params(est)
    assert len(names) >= 2
    for name in names:
        for flag in (True, np.bool_(False)):
            bad = clone(est).set_params(**{name: flag})
            with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
                bad.fit(X) if y is None else bad.fit(X, y)
