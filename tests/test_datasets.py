import warnings

import numpy as np
import pytest

from skrank.datasets import (
    make_bottleneck_regression,
    make_low_rank_regression,
    make_manifold,
    make_noisy_curve,
    make_shifted_s,
)


def test_bottleneck_regression_ground_truth():
    X, y, Z = make_bottleneck_regression(300, rank=3, return_latent=True, random_state=0)
    assert X.shape == (300, 20) and y.shape == (300, 20) and Z.shape == (300, 8)
    # y depends on the first `rank` latent coordinates only: same z_1..z_3, same y
    X2, y2, Z2 = make_bottleneck_regression(300, rank=3, return_latent=True,
                                            random_state=0)
    np.testing.assert_array_equal(y, y2)
    assert abs(X.std() - 1) < 1e-12 and np.allclose(y.mean(0), 0)


def test_low_rank_regression_has_rank_k_structure():
    X, y = make_low_rank_regression(400, rank=5, random_state=0)
    assert X.shape == (400, 50) and y.shape == (400, 50)
    # a least-squares linear fit of y from X has (at most) rank-5 signal: y depends
    # on X only through a 5-dimensional projection
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    s = np.linalg.svd(coef, compute_uv=False)
    assert s[5] / s[0] < 0.2


def test_dataset_parameters_are_validated():
    with pytest.raises(ValueError, match="rank"):
        make_bottleneck_regression(10, rank=9)
    with pytest.raises(ValueError, match="n_samples"):
        make_low_rank_regression(0)


@pytest.mark.parametrize("make", [make_bottleneck_regression, make_low_rank_regression,
                                  make_shifted_s, make_noisy_curve, make_manifold])
def test_one_sample_is_finite(make):
    # the fewest points: one, or one per class
    n, kw = (2, {"n_classes": 2}) if make is make_shifted_s else (1, {})
    for out in make(n, random_state=0, **kw):
        if isinstance(out, np.ndarray):
            assert len(out) == n and np.isfinite(out).all(), make.__name__


def test_targets_without_spread_stay_finite():
    # with one hidden unit, some seeds switch every ReLU off: a constant target
    for seed in (3, 4, 9, 11):
        kw = dict(n_hidden=1, n_features=2, n_targets=1, random_state=seed)
        X, y = make_bottleneck_regression(20, n_latent=1, rank=1, **kw)
        assert np.isfinite(X).all() and np.isfinite(y).all()
        X, y = make_low_rank_regression(20, rank=1, **kw)
        assert np.isfinite(y).all()
    # one sample is centered: zeros, not NaN
    X, y = make_bottleneck_regression(1, random_state=0)
    assert not X.any() and not y.any()


@pytest.mark.parametrize("make, kwargs, name", [
    (make_bottleneck_regression, dict(n_samples=0), "make_bottleneck_regression"),
    (make_bottleneck_regression, dict(return_latent="yes"), "return_latent"),
    (make_manifold, dict(n_samples=0), "make_manifold"),
    (make_manifold, dict(noise=-1.0), "noise"),
    (make_manifold, dict(kind="torus"), "kind"),
    (make_manifold, dict(n_features=2), "n_features"),
])
def test_every_generator_validates_its_parameters(make, kwargs, name):
    with pytest.raises(ValueError, match=name):
        make(**{"n_samples": 5, **kwargs})


_COUNTS = [(make, name) for make in (make_bottleneck_regression, make_low_rank_regression,
                                     make_shifted_s, make_noisy_curve, make_manifold)
           for name in ("n_samples", "n_features", "n_targets", "n_latent", "rank",
                        "n_hidden", "n_classes")
           if name in make.__wrapped__.__code__.co_varnames]


@pytest.mark.parametrize("make, name", _COUNTS)
def test_a_boolean_count_is_a_parameter_error_not_a_numpy_crash(make, name):
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match=name):
        make(**{"n_samples": 10, name: True}, random_state=0)


@pytest.mark.parametrize("make", [
    lambda: make_manifold(10, n_features=10**9),
    lambda: make_bottleneck_regression(10**9),
    lambda: make_low_rank_regression(10, n_features=10**10, n_targets=1),
    lambda: make_shifted_s(10**11),
    lambda: make_noisy_curve(10**11),
])
def test_arrays_that_cannot_fit_are_a_clear_memory_error(make, monkeypatch):
    # make_manifold(10, n_features=10**9) drew a 10**9 x 3 rotation: the kernel
    # killed the process
    monkeypatch.setattr("skrank._device.available_memory", lambda device: 2**30)
    with pytest.raises(MemoryError, match="arrays need about .* fewer samples or features"):
        make()


@pytest.mark.parametrize("make, kwargs, name", [
    (make_bottleneck_regression, {"noise": 1e308}, "noise"),
    (make_low_rank_regression, {"noise": 1e308}, "noise"),
    (make_noisy_curve, {"noise": 1e308}, "noise"),
    (make_manifold, {"noise": 1e308}, "noise"),
    (make_shifted_s, {"noise": 1e308}, "noise"),
    (make_shifted_s, {"shift": 1e308}, "shift"),
])
def test_parameters_that_overflow_the_output_are_refused(make, kwargs, name):
    # finite parameters made inf values, with only numpy's RuntimeWarning
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=rf"{name}=1e\+308 is too large.*inf"):
            make(20, random_state=0, **kwargs)
        out = make(20, random_state=0, **{name: 1e300})
    assert all(np.isfinite(a).all() for a in out[:2])


# ---- the command line (python -m skrank demo draws make_bottleneck_regression) ---
# no test file covered the command line; its options are the generator's and the
# regressor's parameters, refused by argparse before either runs
@pytest.mark.parametrize("argv, message", [
    (["--n-samples", "0"], "--n-samples: must be an integer at least 1, got 0"),
    (["--depth", "1"], "--depth: must be an integer at least 2, got 1"),
    (["--alpha", "nan"], "--alpha: must be a finite number >= 0, got nan"),
    (["--alpha", "-1"], "--alpha: must be a finite number >= 0, got -1"),
    (["--alpha", "inf"], "--alpha: must be a finite number >= 0, got inf"),
    (["--random-state", "-1"], r"--random-state: must be an integer in \[0, 4294967295\]"),
    (["--random-state", str(2**32)], "--random-state: must be an integer in"),
    (["--alpha", "x"], "--alpha: invalid float value: 'x'"),
    (["--n-samples", "abc"], "--n-samples: invalid int value: 'abc'"),
])
def test_demo_refuses_bad_options_with_a_usage_error(argv, message, capsys):
    import re

    from skrank.__main__ import main

    with pytest.raises(SystemExit) as exit_:
        main(["demo", *argv])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: skrank demo")
    assert "Traceback" not in err
    assert re.search(message, err)


def test_python_m_skrank_demo_exits_2_on_a_bad_option(monkeypatch, capsys):
    # run as ``python -m skrank`` runs it, in this process (a child's imports take
    # seconds)
    import runpy
    import sys

    monkeypatch.setattr(sys, "argv", ["skrank", "demo", "--n-samples", "0"])
    # imported by earlier tests: runpy would warn of running it a second time
    monkeypatch.delitem(sys.modules, "skrank.__main__", raising=False)
    with pytest.raises(SystemExit) as exit_:
        runpy.run_module("skrank", run_name="__main__", alter_sys=True)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "argument --n-samples: must be an integer at least 1" in err


def test_noise_free_data_and_their_clean_copy_are_two_arrays():
    # with noise=0 both were one object: editing X edited the "clean" points
    X, clean, _ = make_manifold(50, random_state=0)
    X -= 1.0
    assert np.abs(clean.mean() - (X.mean() + 1.0)) < 1e-12
    Xc, cc = make_noisy_curve(20, noise=0.0, random_state=0)
    assert Xc is not cc and np.array_equal(Xc, cc)


def test_shifted_s_refuses_fewer_points_than_classes():
    # 3 points for 4 classes dropped a class without a word
    with pytest.raises(ValueError, match="at least one point per class"):
        make_shifted_s(3, n_classes=4)
    assert sorted(set(make_shifted_s(4, n_classes=4, random_state=0)[1].tolist())) == \
        [0, 1, 2, 3]


def test_shifted_s_pairs_a_clean_and_a_noisy_draw():
    # without noise the shuffle drew other numbers: a clean draw and a noisy one of
    # the same seed held different points in different orders
    Xc, yc = make_shifted_s(200, noise=0.0, random_state=3)
    Xn, yn = make_shifted_s(200, noise=1e-3, random_state=3)
    np.testing.assert_array_equal(yc, yn)
    assert np.abs(Xn - Xc).max() < 0.01


def test_a_generator_too_narrow_to_be_injective_warns():
    # 5 hidden units for 8 latents: every sample's g had rank 5 at most, and rows
    # of equal X took targets 7.8 apart, with no word
    import warnings

    with pytest.warns(UserWarning, match="500 of 500 samples have fewer than "
                                         "n_latent=8 active units"):
        make_bottleneck_regression(500, n_hidden=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_bottleneck_regression(500, random_state=0)


def test_fewer_features_than_latent_coordinates_warn():
    # g: R^8 -> R^6 cannot be injective: y is then no function of X, and the
    # stated rank no function's (a held-out audit: silent)
    with pytest.warns(UserWarning, match="n_features=6 < n_latent=8"):
        make_bottleneck_regression(50, n_features=6, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_bottleneck_regression(50, n_features=8, random_state=0)
