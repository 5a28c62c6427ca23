"""Denoising calibrated on noisy data alone (``data_noise``, ``skrank._denoise``)."""

import io
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from skrank import BottleneckAutoencoder
from skrank._denoise import divergence, shrunk_gain, sure_gain
from skrank.persistence import load, save

from ._estimators import small


def _linear(A, b=None):
    layer = torch.nn.Linear(A.shape[1], A.shape[0], dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(A))
        layer.bias.copy_(torch.zeros(A.shape[0]) if b is None else torch.as_tensor(b))
    return layer


def test_divergence_of_a_linear_map_is_its_trace():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((5, 5))
    X = rng.standard_normal((7, 5))
    np.testing.assert_allclose(divergence(_linear(A, rng.standard_normal(5)), X),
                               np.trace(A), rtol=1e-12)


def test_divergence_reads_the_rows_a_chunk_at_a_time(monkeypatch):
    import skrank._denoise as den

    rng = np.random.default_rng(4)
    A = rng.standard_normal((5, 5))
    X = rng.standard_normal((9, 5))
    seen = []
    real = den._divergence_rows

    def counted(module, x, *args):
        seen.append(x.shape[0])
        return real(module, x, *args)

    monkeypatch.setattr(den, "DIVERGENCE_BATCH_VALUES", 10)  # 2 rows of 5 features
    monkeypatch.setattr(den, "_divergence_rows", counted)
    np.testing.assert_allclose(divergence(_linear(A), X), np.trace(A), rtol=1e-12)
    assert seen == [2, 2, 2, 2, 1]
    residual, shrink = den._row_terms(_linear(A), X, None)
    np.testing.assert_allclose(residual, np.sum((X @ A.T - X) ** 2, 1), rtol=1e-12)


def test_divergence_beyond_the_probes_is_hutchinsons_unbiased_estimate():
    rng = np.random.default_rng(1)
    A = np.eye(80) + 0.1 * rng.standard_normal((80, 80))
    X = rng.standard_normal((400, 80))
    div = divergence(_linear(A), X, generator=torch.Generator().manual_seed(0))
    assert div.std() > 0  # estimated per row, not the exact trace
    assert div.mean() == pytest.approx(np.trace(A), rel=0.01)


@pytest.mark.parametrize("a", [0.3, 0.8])
def test_sure_gain_of_a_linear_shrinker_on_pure_noise(a):
    # clean points all 0, r(y) = a y: the least-risk step along y + c (r - y) is
    # sigma^2 N D / ((1 - a) sum ||y||^2), which maps y to about 0, the truth
    rng = np.random.default_rng(2)
    sigma, n, D = 0.5, 2000, 6
    Y = sigma * rng.standard_normal((n, D))
    gain, risk = sure_gain(_linear(a * np.eye(D)), Y, sigma)
    total = np.sum(Y**2)
    best = sigma**2 * n * D / ((1 - a) * total)
    # the sampling variance of that ratio (delta method) is small against (best - 1)^2
    # here: the empirical-Bayes shrinkage towards 1 moves it by var / (best - 1)^2
    z = sigma**2 * (1 - a) * D - best * (1 - a)**2 * np.sum(Y**2, 1)
    var = n * np.var(z, ddof=1) / ((1 - a)**2 * total)**2
    assert var / (best - 1)**2 < 0.01
    assert gain == pytest.approx(best + var / (best - 1)**2 * (1 - best), rel=1e-10)
    assert gain == pytest.approx(1 / (1 - a), rel=0.02)
    R, S = (1 - a)**2 * total, (1 - a) * n * D
    assert risk == pytest.approx((gain**2 * R - 2 * gain * sigma**2 * S) / n
                                 + D * sigma**2, abs=1e-10)
    assert abs(risk) < 0.02 * D * sigma**2  # the estimate of a zero error


@pytest.mark.parametrize("n, D, moved", [(4, 1, True), (5000, 8, False)])
def test_sure_gain_is_shrunk_towards_one_by_its_sampling_error(n, D, moved):
    # r(y) = y / 2 on pure noise: the least-risk step is 2 (it maps y to 0). On 4
    # rows of one feature the estimate's standard error is of the order of its
    # distance to 1, and the gain moves towards 1; on 40,000 values it does not
    rng = np.random.default_rng(5)
    sigma = 0.5
    Y = sigma * rng.standard_normal((n, D))
    residual, shrink = 0.25 * np.sum(Y**2, 1), np.full(n, D / 2)
    best = sigma**2 * shrink.sum() / residual.sum()
    z = sigma**2 * shrink - best * residual
    var = n * np.var(z, ddof=1) / residual.sum()**2
    gain = sure_gain(_linear(0.5 * np.eye(D)), Y, sigma)[0]
    assert gain == pytest.approx(shrunk_gain(residual, shrink, sigma), rel=1e-12)
    weight = min(1.0, var / (best - 1)**2)
    assert gain == pytest.approx(best + weight * (1 - best), rel=1e-12)
    if moved:
        assert weight > 0.2 and abs(gain - 1) < abs(best - 1)
    else:
        assert weight < 1e-3 and gain == pytest.approx(2, rel=0.02)


def test_shrunk_gain_of_rows_that_agree_is_their_step():
    # every row says the same step: no sampling error, no shrinkage
    assert shrunk_gain(np.full(3, 2.0), np.full(3, 4.0), 0.5) == pytest.approx(0.5)
    assert shrunk_gain(np.zeros(3), np.full(3, 1.0), 0.5) == 1.0  # r is the identity


def test_sure_gain_of_the_identity_and_of_an_expansion():
    Y = np.random.default_rng(3).standard_normal((50, 4))
    assert sure_gain(_linear(np.eye(4)), Y, 0.3)[0] == 1.0
    assert sure_gain(_linear(2 * np.eye(4)), Y, 0.3)[0] == 0.0  # away from it: none


def _noisy_sheet(n, seed, D=12, sigma=0.3):
    """A curved 2-d sheet in R^12 and its noisy copy (not in skrank.datasets)."""
    rng = np.random.default_rng(seed)
    u = rng.uniform(-1, 1, (n, 2))
    Q = np.linalg.qr(np.random.default_rng(99).standard_normal((D, 3)))[0]
    clean = np.column_stack([u, 0.5 * np.sin(2 * u[:, 0]) * u[:, 1]]) @ Q.T
    return clean, clean + sigma * rng.standard_normal(clean.shape)


CALIBRATED = small(depth=4, width=32, max_iter=200, warmup_iter=20, input_noise=0.3,
                   data_noise=0.3, n_jacobian_points=0)


def test_the_step_beats_the_reconstruction_and_the_risk_is_within_its_error():
    raw, den = [], []
    for seed in range(3):
        _, noisy = _noisy_sheet(300, seed)
        clean_test, noisy_test = _noisy_sheet(300, seed + 100)
        ae = BottleneckAutoencoder(random_state=seed, **CALIBRATED).fit(noisy)

        def err(out, clean=clean_test):
            return np.mean(np.sum((out - clean) ** 2, axis=1))

        # the estimate's standard error on n held-out rows of D features is about
        # sigma^2 sqrt(2 D / n) (the noise's own squared norm): 0.08 here
        assert abs(ae.denoising_risk_ - err(ae.denoise(noisy_test))) < 3 * 0.09 * np.sqrt(
            2 * 12 / 30)
        raw.append(err(ae.reconstruct(noisy_test)))
        den.append(err(ae.denoise(noisy_test)))
    assert np.mean(den) < 0.95 * np.mean(raw)  # measured 0.233 against 0.251


def test_the_step_is_read_on_rows_held_out_of_training(monkeypatch):
    # on the rows a network was fitted to Stein's estimate read 0.01-0.04 against a
    # true 0.25 (a step that made held-out points worse)
    trained, held = [], []
    fit_plan = BottleneckAutoencoder._plan

    def plan(self, *args):
        p = fit_plan(self, *args)
        trained.append(p.X_tr)
        return p

    calibration = BottleneckAutoencoder._calibration

    def spy(self, X):
        held.append(X)
        return calibration(self, X)

    monkeypatch.setattr(BottleneckAutoencoder, "_plan", plan)
    monkeypatch.setattr(BottleneckAutoencoder, "_calibration", spy)
    _, noisy = _noisy_sheet(50, 4)
    BottleneckAutoencoder(random_state=0, **small(input_noise=0.3, data_noise=0.3)).fit(noisy)
    assert len(held[0]) == 5 and len(trained[0]) == 45
    rows = {tuple(r) for r in trained[0]}
    assert not any(tuple(r) in rows for r in held[0])


def test_without_data_noise_denoise_is_the_reconstruction():
    _, noisy = _noisy_sheet(60, 0)
    ae = BottleneckAutoencoder(output="reconstruction", random_state=0,
                               **small(input_noise=0.3)).fit(noisy)
    assert ae.denoising_gain_ == 1.0 and ae.denoising_risk_ is None
    np.testing.assert_array_equal(ae.transform(noisy), ae.reconstruct(noisy))


def test_transform_denoises_and_the_gain_survives_saving(tmp_path):
    _, noisy = _noisy_sheet(80, 1)
    ae = BottleneckAutoencoder(output="reconstruction", random_state=0,
                               **small(input_noise=0.3, data_noise=0.3)).fit(noisy)
    assert ae.denoising_gain_ != 1.0
    X_hat = ae.reconstruct(noisy)
    np.testing.assert_allclose(ae.transform(noisy),
                               noisy + ae.denoising_gain_ * (X_hat - noisy))
    save(ae, tmp_path / "ae.skrank")
    np.testing.assert_array_equal(load(tmp_path / "ae.skrank").transform(noisy),
                                  ae.transform(noisy))


def test_data_noise_needs_rows_to_hold_out():
    with pytest.raises(ValueError, match=r"data_noise with validation_fraction.*data_noise=0"):
        BottleneckAutoencoder(data_noise=0.1, **small()).fit(np.eye(4)[:3])


def test_partial_fit_does_not_calibrate_on_the_rows_it_trains_on():
    _, noisy = _noisy_sheet(100, 2)
    ae = BottleneckAutoencoder(solver="adam", random_state=0,
                               **small(input_noise=0.3, data_noise=0.3))
    ae.partial_fit(noisy).partial_fit(noisy)
    assert ae.denoising_gain_ == 1.0 and ae.denoising_risk_ is None


def test_a_warm_refit_holds_out_the_same_rows(monkeypatch):
    seen = []
    original = BottleneckAutoencoder._calibration

    def spy(self, X):
        seen.append(None if X is None else X * self.input_scale_ + self.input_mean_)
        return original(self, X)

    monkeypatch.setattr(BottleneckAutoencoder, "_calibration", spy)
    _, noisy = _noisy_sheet(60, 3)
    ae = BottleneckAutoencoder(warm_start=True, n_init=2, random_state=0,
                               **small(input_noise=0.3, data_noise=0.3)).fit(noisy)
    ae.fit(noisy)  # one fresh seed drawn instead of two: the split must not move
    assert len(seen) == 2 and len(seen[0]) == 6
    np.testing.assert_allclose(seen[1], seen[0])


def test_early_stopping_and_data_noise_name_both_in_the_error():
    with pytest.raises(ValueError, match="early_stopping=False and data_noise=0"):
        BottleneckAutoencoder(data_noise=0.1, early_stopping=True,
                              **small()).fit(np.eye(4)[:3])


@pytest.mark.slow  # four denoising fits, about 11 s
def test_risk_on_fresh_rows_tracks_the_error_and_the_score_ranks_settings():
    for seed in range(2):
        _, noisy = _noisy_sheet(300, seed)
        clean_test, noisy_test = _noisy_sheet(300, seed + 100)
        true, scores = [], []
        for alpha in (0.003, 0.03, 0.3):
            ae = BottleneckAutoencoder(random_state=seed, **{**CALIBRATED, "alpha": alpha})
            ae.fit(noisy)
            true.append(np.mean(np.sum((ae.denoise(noisy_test) - clean_test) ** 2, axis=1)))
            # standard error sigma^2 sqrt(2 D / n) = 0.025 on 300 rows of 12 features
            # (measured: within 0.034 of the truth)
            assert abs(ae.denoising_risk(noisy_test) - true[-1]) < 3 * 0.025
            scores.append(ae.score(noisy_test))
        # the reconstruction R^2 of noisy rows would reward the identity instead
        assert np.argmax(scores) == np.argmin(true)


def test_denoising_risk_needs_the_noise_level():
    _, noisy = _noisy_sheet(40, 0)
    ae = BottleneckAutoencoder(**small(input_noise=0.3)).fit(noisy)
    with pytest.raises(ValueError, match="data_noise > 0"):
        ae.denoising_risk(noisy)


@pytest.mark.slow  # a child process (its imports) and a fit, about 8 s
def test_the_divergence_raises_no_warning_of_torch_internals():
    """torch's first forward-mode product (in a fresh process) loads decompositions
    through its own deprecated ``torch.jit.script``: a user who turns warnings into
    errors must still get a divergence."""
    import subprocess
    import sys

    code = ("import torch\n"
            "from skrank._denoise import divergence\n"
            "print(divergence(torch.nn.Linear(3, 3), torch.randn(5, 3).numpy()).shape)\n")
    only_that = "error:`torch.jit.script` is deprecated:DeprecationWarning"
    out = subprocess.run([sys.executable, "-W", only_that, "-c", code],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "(5,)"


@pytest.mark.parametrize("level", [3.0, 1e100, 1e200])
def test_a_noise_level_above_the_datas_spread_is_a_clear_error(level, monkeypatch):
    """Noise of level sigma in every feature gives the data a spread of at least
    sigma: a larger data_noise is a mistake (1e100 overflowed in Stein's estimate;
    1e200's square overflows a Python float, an OverflowError, in the check)."""
    import skrank._base

    X = np.random.RandomState(0).randn(80, 4)
    trained, real = [], skrank._base.train_grown
    monkeypatch.setattr(skrank._base, "train_grown",
                        lambda *a, **k: trained.append(1) or real(*a, **k))
    with pytest.raises(ValueError, match="times the spread of the rows"):
        BottleneckAutoencoder(**small(max_iter=5), data_noise=level).fit(X)
    assert not trained  # refused before training, not after it
    # pure noise at its own level is allowed: the spread's sampling error is
    # within the bound
    BottleneckAutoencoder(**small(max_iter=5), data_noise=1.0).fit(X)


def test_the_risk_and_the_step_are_in_the_units_of_the_data():
    # the same noisy sheet, its noise level and its noise in units ten times
    # smaller: the step is unit-free, the risk (a squared distance) 100 times
    _, noisy = _noisy_sheet(200, 5)
    kw = {**CALIBRATED, "max_iter": 40, "dtype": "float64", "random_state": 0}
    a = BottleneckAutoencoder(**kw).fit(noisy)
    kw.update(input_noise=3.0, data_noise=3.0)
    b = BottleneckAutoencoder(**kw).fit(10 * noisy)
    assert b.denoising_gain_ == pytest.approx(a.denoising_gain_, rel=1e-6)
    assert b.denoising_risk_ == pytest.approx(100 * a.denoising_risk_, rel=1e-6)
    np.testing.assert_allclose(b.denoise(10 * noisy), 10 * a.denoise(noisy), rtol=1e-6,
                               atol=1e-9)


def test_the_divergence_is_exact_up_to_n_probes_dimensions():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((64, 64))
    X = rng.standard_normal((5, 64))
    div = divergence(_linear(A), X, generator=torch.Generator().manual_seed(0))
    np.testing.assert_allclose(div, np.trace(A), rtol=1e-10)


def test_denoising_risk_refuses_rows_quieter_than_the_noise():
    X = np.random.RandomState(0).randn(80, 4)
    ae = BottleneckAutoencoder(**small(max_iter=5), data_noise=0.5).fit(X)
    with pytest.raises(ValueError, match="times the spread of the rows"):
        ae.denoising_risk(0.01 * X)


@pytest.mark.parametrize("true_noise, warns", [(0.01, True), (0.1, False)])
def test_a_noise_level_the_data_do_not_hold_warns(true_noise, warns):
    """``data_noise=0.1`` on rows of noise 0.01: Stein's risk reads -0.11 per point (a
    squared error cannot be negative) and the step over-smooths, so fit says so; on
    rows of noise 0.1 it reads +0.02 and says nothing."""
    import warnings

    rng = np.random.RandomState(0)
    t = rng.rand(300)
    clean = np.c_[np.cos(3 * t), np.sin(3 * t), t, 2 * t, -t, t ** 2]
    X = clean + true_noise * rng.randn(300, 6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ae = BottleneckAutoencoder(data_noise=0.1, input_noise=0.1, width=16, depth=4,
                                   max_iter=60, random_state=0).fit(X)
    said = [str(w.message) for w in caught if "less noise than data_noise=0.1" in
            str(w.message)]
    assert len(said) == int(warns)
    assert (ae.denoising_risk_ < 0) is warns
    if warns:  # the number quoted is the attribute's, in the data's units
        assert f"reads {ae.denoising_risk_:.3g} per point on the held-out rows" in said[0]
        with pytest.warns(UserWarning, match="on the rows given, below zero"):
            assert ae.denoising_risk(X[:100]) < 0


def test_the_noise_level_check_reads_the_spread_with_n_minus_1_degrees_of_freedom():
    """Pure noise of the stated level is never refused as too quiet for it (with
    ``n`` in the divisor: 41 of 50 draws of 20 rows of 500 features were)."""
    from skrank._denoise import _check_level

    rng = np.random.default_rng(0)
    for n in (2, 20, 100):
        for _ in range(20):
            _check_level(0.1 * rng.standard_normal((n, 500)), 0.1)
    with pytest.raises(ValueError, match="needs at least 2 rows"):
        _check_level(np.zeros((1, 5)), 0.1)


def test_pure_noise_of_the_stated_level_is_refused_at_the_stated_rate():
    # the bound 1 + 3 sqrt(2 / dof) on the inverse ratio refused 4 rows of one
    # feature one draw in six (chi-square skew); the quantile refuses 1 in 740
    from skrank._denoise import _check_level

    rng = np.random.default_rng(1)
    for shape in ((4, 1), (2, 1), (20, 5)):
        refused = 0
        for _ in range(2000):
            try:
                _check_level(rng.standard_normal(shape), 1.0)
            except ValueError:
                refused += 1
        assert refused <= 12, (shape, refused)  # 2.7 expected
    # noise far above the rows' spread is still refused
    with pytest.raises(ValueError, match="times the spread of the rows"):
        _check_level(0.1 * rng.standard_normal((20, 5)), 1.0)


def test_copies_of_a_held_out_record_count_once_in_the_calibration():
    # copies share their noise: 20 records repeated 30 times chose a step of 3.9
    # on the copies of two (16 times the error of c = 1), and 10 records failed
    # after training ("data_noise is 4e14 times the spread of the rows")
    import warnings

    _, noisy = _noisy_sheet(80, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ae = BottleneckAutoencoder(random_state=0,
                                   **small(input_noise=0.3, data_noise=0.3)).fit(noisy)
    rows = ae._scale_inputs(noisy[:12])
    once = ae._calibration(rows)
    assert ae._calibration(np.repeat(rows, 5, axis=0)) == once
    ae.n_diagnostic_samples = 6  # the copies count once before the subsample too
    assert ae._calibration(np.repeat(rows, 5, axis=0)) == ae._calibration(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ae._calibration(np.repeat(rows[:2], 15, axis=0))["denoising_risk_"] \
            is not None  # two points are enough to read the noise by
    with pytest.warns(UserWarning, match="hold 1 distinct point"):
        alone = ae._calibration(np.repeat(rows[:1], 30, axis=0))
    assert alone == {"denoising_gain_": 1.0, "denoising_risk_": None}
    for n_records, copies in ((10, 30), (5, 60)):
        # 10 records: one held out; 5: every record repeated more often than the
        # 30 rows held out, which are then copies of training rows (a step of 66)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fitted = BottleneckAutoencoder(
                random_state=0, **small(input_noise=0.3, data_noise=0.3)).fit(
                np.repeat(noisy[:n_records], copies, axis=0))
        assert fitted.denoising_gain_ == 1.0 and fitted.denoising_risk_ is None
        assert [w for w in caught if "distinct point" in str(w.message)]


@pytest.mark.parametrize("data_noise", [0.0, 0.1])
def test_scores_and_risks_hold_in_units_near_float64s_limits(data_noise):
    # an audit: the fit was the same at 1e300, score() overflowed to NaN
    rng = np.random.default_rng(0)
    t = rng.uniform(0, 2 * np.pi, 120)
    X = np.column_stack([np.cos(t), np.sin(t), t / 5]) + 0.1 * rng.normal(size=(120, 3))
    kw = small(random_state=0, input_noise=0.1, data_noise=data_noise,
               n_jacobian_points=0)
    read = {}
    for unit in (1.0, 1e300, 1e-300):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("error", RuntimeWarning)
            ae = BottleneckAutoencoder(**{**kw, "data_noise": data_noise * unit,
                                          "input_noise": 0.1 * unit}).fit(X[:90] * unit)
            read[unit] = (ae.score(X[90:] * unit), ae.score(X[:90] * unit))
            if data_noise:
                # in the data's units: beyond float64 at 1e300 (inf, no error)
                risks = [ae.denoising_risk(X[90:] * unit), ae.denoising_risk_]
                assert all(np.isinf(r) if unit > 1 else np.isfinite(r) for r in risks)
                # what fit leaves, a file keeps (a review: an infinite risk was refused)
                buf = io.BytesIO()
                save(ae, buf)
                buf.seek(0)
                assert load(buf).denoising_risk_ == ae.denoising_risk_
    for unit in (1e300, 1e-300):
        np.testing.assert_allclose(read[unit], read[1.0], rtol=1e-9)
