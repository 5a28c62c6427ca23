import re
import time
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from skrank import DeepL2Regressor, DivergenceWarning
from skrank.datasets import make_bottleneck_regression, make_low_rank_regression
from skrank.theory import deep_linear_cost

from ._estimators import small

FAST = small(n_jacobian_points=3)


@pytest.fixture(scope="module")
def rank2_data():
    return make_bottleneck_regression(500, rank=2, random_state=0)


# one seed in the default suite, the others with the slow tests (a default fit of
# two starts takes about 15 s on one thread)
@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow),
                                  pytest.param(2, marks=pytest.mark.slow)])
def test_rank2_task_recovered_with_defaults(rank2_data, seed):
    X, y = rank2_data
    reg = DeepL2Regressor(random_state=seed).fit(X, y)
    assert reg.bottleneck_rank_ == 2
    assert reg.jacobian_rank_ == 2
    assert reg.score(X, y) > 0.95
    Z = reg.transform(X)
    assert Z.shape == (500, 2)
    # the two codes carry the signal: a linear read-out of y from the 2-D codes
    # through the remaining layers is what the network does; at least they vary
    assert np.all(Z.std(0) > 0)


@pytest.mark.slow
def test_rank5_task_recovered():
    X, y = make_low_rank_regression(random_state=0)
    reg = DeepL2Regressor(alpha=0.3, max_iter=2500, random_state=0).fit(X, y)
    assert reg.jacobian_rank_ == 5
    assert reg.bottleneck_rank_ == 5


def test_deep_linear_oracle_reaches_closed_form_cost():
    """A deep linear net fitting a rank-3 map reaches R(A; L) = L sum s^(2/L)."""
    rng = np.random.default_rng(0)
    d, L = 6, 4
    A = rng.standard_normal((d, 3)) @ rng.standard_normal((3, d)) / 2
    X = rng.standard_normal((400, d))
    X = (X - X.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(X.T, bias=True))).T
    y = X @ A.T
    # one start (init='auto' trained a random one too, three times the time); the
    # grown one balances its factors closer than a random one (4e-4 against 8e-4)
    reg = DeepL2Regressor(depth=L, width=8, activation="identity", bias=False,
                          init="grow", alpha=1e-4, dtype="float64", max_iter=1000,
                          tol=0,
                          normalize=False, random_state=0).fit(X, y)
    W = [w.detach().numpy() for w in reg.module_.weight_matrices()]
    learned = W[3] @ W[2] @ W[1] @ W[0]
    np.testing.assert_allclose(learned, A, atol=2e-3)
    assert reg.parameter_norm_ == pytest.approx(deep_linear_cost(A, L), rel=0.02)
    # and the norm is the least one for the map it computes (balanced factors)
    assert reg.parameter_norm_ == pytest.approx(deep_linear_cost(learned, L), rel=1e-3)
    assert reg.bottleneck_rank_ == 3
    # A's singular values are 1 : 0.51 : 0.07: the output map alone reads 2 at the
    # default floor (0.1); the inner images (0.07^(l/4) for l < 4) read 3
    assert reg.layer_ranks_[-1] == 2
    assert reg.diagnose(X, rank_tol=0.01).rank == 3


def test_divergence_keeps_finite_parameters_and_warns(rank2_data):
    X, y = rank2_data
    reg = DeepL2Regressor(solver="sgd", learning_rate_init=1e6, max_iter=20,
                          random_state=0, **{k: v for k, v in FAST.items()
                                             if k != "max_iter"})
    with pytest.warns(DivergenceWarning, match="diverged"):
        reg.fit(X, y)
    assert reg.stop_reason_ == "diverged"
    assert np.isfinite(reg.predict(X)).all()
    assert all(np.isfinite(s).all() for s in reg.layer_spectra_)


@pytest.mark.parametrize(
    "X, y, match",
    [
        (np.array([[np.nan, 1.0], [1.0, 2.0]]), np.array([1.0, 2.0]), "NaN"),
        (np.array([[np.inf, 1.0], [1.0, 2.0]]), np.array([1.0, 2.0]), "infinity"),
        (np.ones((3, 2)), np.array([1.0, np.nan, 2.0]), "NaN"),
        (np.ones((3, 2)), np.ones(4), "inconsistent numbers of samples"),
        (np.ones(3), np.ones(3), "2D array"),
        (np.ones((0, 2)), np.ones(0), "0 sample"),
    ],
)
def test_bad_fit_input_names_the_problem(X, y, match):
    with pytest.raises(ValueError, match=match):
        DeepL2Regressor(**FAST).fit(X, y)


def test_bad_predict_input_names_the_problem(rank2_data):
    X, y = rank2_data
    reg = DeepL2Regressor(**FAST).fit(X[:50], y[:50])
    with pytest.raises(ValueError, match="features"):
        reg.predict(X[:5, :3])
    bad = X[:5].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        reg.predict(bad)
    with pytest.raises(ValueError, match="NaN"):
        reg.transform(bad)


@pytest.mark.parametrize("param, value, match", [
    ("depth", 1, "depth"),
    ("activation", "tanh", "activation"),
    ("solver", "newton", "solver"),
    ("alpha", -1.0, "alpha"),
    ("device", "gpu7", "device"),
])
def test_bad_parameters_are_rejected(param, value, match):
    with pytest.raises(ValueError, match=match):
        DeepL2Regressor(**{**FAST, param: value}).fit(np.ones((4, 2)), np.ones(4))


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a CPU-only machine")
def test_cuda_request_without_cuda_is_a_clear_error():
    with pytest.raises(ValueError, match="CUDA is not available"):
        DeepL2Regressor(**FAST, device="cuda").fit(np.ones((4, 2)), np.ones(4))


def test_single_and_multi_output_shapes(rank2_data):
    X, y = rank2_data
    reg = DeepL2Regressor(**FAST, random_state=0)
    assert reg.fit(X, y[:, 0]).predict(X).shape == (500,)
    assert reg.fit(X, y[:, :3]).predict(X).shape == (500, 3)
    assert reg.n_outputs_ == 3
    assert reg.jacobian_spectra_.shape == (3, 3)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_every_solver_learns(rank2_data, solver):
    X, y = rank2_data
    lr = {"adam": 3e-3, "sgd": 1e-2, "lbfgs": 1e-3}[solver]
    # from the random start: the solver's own iterations, no grown fit beside them
    reg = DeepL2Regressor(depth=4, width=32, alpha=1e-3, solver=solver, max_iter=60,
                          learning_rate_init=lr, batch_size=64, random_state=0,
                          init="random")
    reg.fit(X, y)
    assert reg.score(X, y) > 0.5
    assert reg.n_iter_ <= 60 and len(reg.loss_curve_) == reg.n_iter_
    assert reg.loss_curve_[-1] < reg.loss_curve_[0]


def test_early_stopping_restores_best_validation(rank2_data):
    X, y = rank2_data
    reg = DeepL2Regressor(**{**FAST, "max_iter": 200}, early_stopping=True,
                          n_iter_no_change=3, tol=1e-2, random_state=0).fit(X, y)
    assert reg.validation_scores_ is not None
    # the best mean of 3 consecutive scores of the full-depth stage (the last
    # n_iter_; a grown start's shallow stage comes first)
    deep = reg.validation_scores_[-reg.n_iter_:]
    assert len(deep) >= 3
    means = [deep[i - 2:i + 1].mean() for i in range(2, len(deep))]
    assert reg.best_validation_score_ == pytest.approx(max(means))
    assert reg.n_iter_ < 200


def test_early_stopping_trains_on_the_larger_split(rank2_data, monkeypatch):
    """The engine trains on 1 - validation_fraction of the rows and validates on
    the rest (a swapped split would train on a tenth)."""
    import skrank._grow as grow

    seen = {}
    real = grow.train_many

    def spy(modules, X, Y, **kw):
        seen["train"], seen["validation"] = X.shape[0], kw["validations"][0][0].shape[0]
        return real(modules, X, Y, **kw)

    monkeypatch.setattr(grow, "train_many", spy)
    X, y = rank2_data
    DeepL2Regressor(**FAST, early_stopping=True, validation_fraction=0.2).fit(
        X[:100], y[:100])
    assert seen == {"train": 80, "validation": 20}


def test_random_state_reproducible_and_warm_start_continues(rank2_data):
    X, y = rank2_data
    a = DeepL2Regressor(**FAST, random_state=3).fit(X, y).predict(X)
    b = DeepL2Regressor(**FAST, random_state=3).fit(X, y).predict(X)
    np.testing.assert_array_equal(a, b)
    reg = DeepL2Regressor(**FAST, random_state=3, warm_start=True).fit(X, y)
    first = reg.loss_curve_[-1]
    reg.fit(X, y)
    assert reg.loss_curve_[0] <= first * 1.01


@pytest.mark.parametrize("scaling", ["depth", "none"])
@pytest.mark.parametrize("penalize_bias", [True, False])
def test_float64_and_penalty_options(rank2_data, scaling, penalize_bias):
    """The reported objective is the data loss plus the penalty the options name,
    recomputed here from the trained parameters by the formula."""
    X, y = rank2_data
    X, y = X[:60], y[:60]
    alpha = 0.3
    reg = DeepL2Regressor(**FAST, dtype="float64", alpha=alpha, penalty_scaling=scaling,
                          penalize_bias=penalize_bias, normalize=False,
                          random_state=0).fit(X, y)
    assert next(reg.module_.parameters()).dtype == torch.float64
    assert reg.predict(X).dtype == np.float64
    net = reg.module_
    weights = sum(float((lin.weight ** 2).sum()) for lin in net.layers)
    biases = sum(float((lin.bias ** 2).sum()) for lin in net.layers)
    coef = alpha / net.depth if scaling == "depth" else alpha
    penalty = coef * (weights + (biases if penalize_bias else 0.0))
    data = float(((reg.predict(X) - y) ** 2).sum(1).mean())
    assert reg.loss_curve_[-1] == pytest.approx(data + penalty, rel=1e-9)
    expected_norm = weights + (biases if penalize_bias else 0.0)
    assert reg.parameter_norm_ == pytest.approx(expected_norm, rel=1e-9)


def test_rank_tol_reaches_every_reading(rank2_data):
    """A floor above every singular value but the largest leaves rank 1 in every
    reading (a reading that ignored rank_tol would keep the default's answer)."""
    X, y = rank2_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        default = DeepL2Regressor(**FAST, random_state=0).fit(X[:80], y[:80])
        high = DeepL2Regressor(**FAST, rank_tol=0.999, random_state=0).fit(X[:80], y[:80])
    assert default.bottleneck_rank_ >= 2
    assert high.bottleneck_rank_ == 1 and high.jacobian_rank_ <= 1
    assert set(high.layer_ranks_) == {1}
    report = default.diagnose(X[:80], rank_tol=0.999)
    assert report.rank == 1 and report.tol == 0.999
    assert default.bottleneck_rank_ >= 2  # re-reading leaves the attributes alone


def _documented_attributes(cls):
    doc = cls.__doc__
    section = doc.split("Attributes\n    ----------\n")[1].split("\n\n    See Also")[0]
    return re.findall(r"^    (\w+_) :", section, flags=re.M)


def test_every_documented_attribute_exists_after_fit(rank2_data):
    X, y = rank2_data
    X = X[:60]
    reg = DeepL2Regressor(**FAST).fit(X, y[:60])
    names = _documented_attributes(DeepL2Regressor)
    assert len(names) > 20
    for name in names:
        if name == "feature_names_in_":
            continue
        assert hasattr(reg, name), name
    L = reg.depth
    assert reg.representation_spectra_.shape == (L - 1, 16)
    assert len(reg.layer_spectra_) == L and reg.layer_ranks_.shape == (L,)
    assert reg.nonlinearity_impact_.shape == (L - 1,)
    assert reg.regularity_ == pytest.approx(reg.offset_free_norm_
                                            - L * reg.bottleneck_rank_)


@pytest.mark.slow  # fits at two depths to convergence, about 5 s
def test_regularity_does_not_grow_with_depth():
    # R1 of ||theta||^2 = L R0 + R1 + O(1/L) does not depend on L; counted on
    # ||theta||^2 (which grows by k + 1 per layer with penalized biases) it rose
    # about 1.2 per layer here (16.4 / 26.0 at depths 4 / 12)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((150, 3))
    t = X @ np.array([1.0, 0.5, -0.3])
    Y = np.column_stack([np.tanh(t), np.sin(t), t**2 / 3, np.cos(t)])
    fits = [DeepL2Regressor(depth=L, width=16, max_iter=300, random_state=0).fit(X, Y)
            for L in (4, 12)]
    assert [f.bottleneck_rank_ for f in fits] == [1, 1]
    assert abs(fits[1].regularity_ - fits[0].regularity_) < 1.0
    assert fits[1].parameter_norm_ - fits[0].parameter_norm_ > 8 * 1.5  # k + 1 a layer


def test_verbose_prints_progress(rank2_data, capsys):
    X, y = rank2_data
    DeepL2Regressor(**FAST, verbose=2).fit(X[:50], y[:50])
    assert "objective" in capsys.readouterr().out


def test_converged_fit_raises_no_warning(rank2_data):
    X, y = rank2_data
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        DeepL2Regressor(**{**FAST, "max_iter": 5000}, tol=1e-1,
                        n_iter_no_change=2).fit(X[:50], y[:50])


def test_rank_history_tracks_training(rank2_data):
    X, y = rank2_data
    reg = DeepL2Regressor(**FAST, track_rank_every=5).fit(X[:80], y[:80])
    h = reg.rank_history_
    assert list(h["n_iter"]) == list(range(5, reg.n_iter_ + 1, 5))
    assert np.all(np.diff(h["time"]) > 0)
    assert h["bottleneck_rank"][-1] == reg.bottleneck_rank_
    assert h["parameter_norm"][-1] == pytest.approx(reg.parameter_norm_, rel=1e-6)



def test_rank_history_times_exclude_tracking(rank2_data, monkeypatch):
    """Each record's time is training time: a slow measurement must not add to it."""
    import skrank._base as base

    real = base._diag.bottleneck
    pause = 0.05

    def slow(*args, **kwargs):
        time.sleep(pause)
        return real(*args, **kwargs)

    monkeypatch.setattr(base._diag, "bottleneck", slow)
    X, y = rank2_data
    reg = DeepL2Regressor(**FAST, track_rank_every=1).fit(X[:50], y[:50])
    h = reg.rank_history_
    assert len(h["n_iter"]) >= 10
    # train_time_ holds the pauses; the records' times must not
    assert h["time"][-1] < reg.train_time_ - 0.5 * len(h["n_iter"]) * pause


def test_n_components_is_checked_against_the_rows_the_bottleneck_is_read_on():
    # it was checked against all rows: the fit trained, then failed reading the
    # components on the rows left after the validation split (or the sample)
    rng = np.random.RandomState(0)
    X, y = rng.randn(10, 3), rng.randn(10)
    with pytest.raises(ValueError, match="n_components=8 exceeds"):
        DeepL2Regressor(n_components=8, width=8, early_stopping=True,
                        validation_fraction=0.5, depth=3, max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="n_components=5 exceeds"):
        DeepL2Regressor(n_components=5, n_diagnostic_samples=3, width=8, depth=3,
                        max_iter=2).fit(np.vstack([X] * 3), np.tile(y, 3))
    with pytest.raises(ValueError, match="n_diagnostic_samples"):
        DeepL2Regressor(n_diagnostic_samples=1).fit(X, y)


def _spread_warnings(Y, **fit_kw):
    X = np.random.RandomState(0).randn(len(Y), 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        DeepL2Regressor(**small(max_iter=3)).fit(X, Y, **fit_kw)
    return [str(w.message) for w in caught if "spreads differ" in str(w.message)]


def test_a_column_a_tenth_the_spread_of_another_is_said():
    # a held-out audit: a column 12x smaller than the other was fitted to R^2 0.01
    # and the rank read 1 for 2, at defaults, converged, with no warning
    rng = np.random.RandomState(0)
    Y = rng.randn(50, 2) * [1.0, 12.0]
    assert len(_spread_warnings(Y)) == 1
    assert not _spread_warnings(Y * [1.0, 0.4])  # 4.8 times


def test_target_columns_of_very_different_spread_are_said():
    # one scale per array keeps the geometry, so the squared error weighs each
    # column by its variance: a column in units 1000x larger made a held-out rank-2
    # teacher read rank 1 with no other sign
    rng = np.random.RandomState(1)
    Y = rng.randn(50, 3) * [1.0, 1000.0, 3.0]
    said = _spread_warnings(Y)
    assert len(said) == 1 and "StandardScaler" in said[0]
    assert len(_spread_warnings(Y, sample_weight=rng.rand(50) + 0.5)) == 1
    # within a factor 10, a constant column, one output, huge but balanced
    # columns (their squares overflow), one weighted row: no word, no numpy warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert not _spread_warnings(Y[:, [0, 2]] * 1e160)
        # one row of positive weight is refused before any reading of spreads
        with pytest.raises(ValueError, match="at least 2 samples of positive weight"):
            _spread_warnings(Y, sample_weight=np.r_[1.0, np.zeros(49)])
    assert not _spread_warnings(Y * [1.0, 0.005, 1.0])  # spreads 1, 5 and 3
    assert not _spread_warnings(np.c_[Y[:, :1], np.full(50, 7.0)])
    # a constant column whose mean rounds (a spread of 2e-14 read a 1e14 ratio);
    # a tiny column that does vary is still said
    assert not _spread_warnings(np.c_[rng.randn(500, 7), np.full(500, 3.0)])
    assert not _spread_warnings(np.c_[rng.randn(5000, 3), np.full(5000, 0.3)])
    assert len(_spread_warnings(np.c_[1e6 * rng.randn(50), 1e-9 * rng.randn(50)])) == 1
    assert not _spread_warnings(Y[:, 1])


def test_a_capped_fit_says_what_to_do():
    # an audit met the bare "Maximum iterations reached" on every capped
    # regression and autoencoder fit: only the classifier's said what to try
    from skrank import BottleneckAutoencoder

    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    with pytest.warns(ConvergenceWarning, match="Raise max_iter .*track_rank_every"):
        DeepL2Regressor(**{**FAST, "max_iter": 3}).fit(X, X[:, 0] * X[:, 1])
    with pytest.warns(ConvergenceWarning, match="Raise max_iter .*track_rank_every"):
        BottleneckAutoencoder(**{**FAST, "max_iter": 3}).fit(X)
    # with training noise the tail is the noisy copies': their number helps too
    with pytest.warns(ConvergenceWarning, match="noisy copies.*raise max_iter .*"
                      "converged at 2,296"):
        BottleneckAutoencoder(**{**FAST, "max_iter": 3}, input_noise=0.2).fit(X)


@pytest.mark.parametrize("name", ["DeepL2Regressor", "ResNetL2Regressor"])
def test_fit_on_one_row_is_refused(name):
    # one row fitted a constant and read rank 0, silently (an audit); a stream's
    # first partial_fit of one row still goes on
    import skrank

    est = getattr(skrank, name)(**{k: v for k, v in FAST.items()
                                   if k in getattr(skrank, name)().get_params()})
    with pytest.raises(ValueError, match="needs at least 2 samples of positive "
                       "weight to fit, got n_samples = 1"):
        est.fit(np.ones((1, 3)), [1.0])
    # one row of positive weight among rows of weight 0 is one row
    with pytest.raises(ValueError, match="got n_samples = 1"):
        est.fit(np.arange(15.0).reshape(5, 3), np.arange(5.0),
                sample_weight=[5, 0, 0, 0, 0])
    est.set_params(solver="adam").partial_fit(np.ones((1, 3)), [1.0])
    assert est.n_features_in_ == 3
