import numpy as np
import pytest
import torch

from skrank import ResNetL2Regressor
from skrank.datasets import make_bottleneck_regression
from skrank.theory import resnet_linear_cost, resnet_linear_cost_limit


def _learned_map(reg, d):
    with torch.no_grad():
        m = reg.module_
        eye = torch.eye(d, dtype=torch.float64)
        return (m(eye) - m(torch.zeros(1, d, dtype=torch.float64))).T.numpy()


@pytest.mark.slow
@pytest.mark.parametrize("block_depth", [1, 2])
@pytest.mark.parametrize("lam", [0.1, 1.0])
def test_linear_resnet_reaches_theorem_2_1_cost(block_depth, lam):
    rng = np.random.default_rng(0)
    d, L = 4, 3
    A = rng.standard_normal((d, 2)) @ rng.standard_normal((2, d))
    X = rng.standard_normal((300, d))
    X = (X - X.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(X.T, bias=True))).T
    y = X @ A.T
    reg = ResNetL2Regressor(depth=L, block_depth=block_depth, width=6, lam=lam,
                            activation="identity", alpha=1e-3, dtype="float64",
                            max_iter=3000, tol=0, n_jacobian_points=2,
                            normalize=False, random_state=0).fit(X, y)
    learned = _learned_map(reg, d)
    np.testing.assert_allclose(learned, A, atol=0.02 * np.abs(A).max())
    expected = resnet_linear_cost(A, L, lam, block_depth=block_depth)
    assert reg.cost_ == pytest.approx(expected, rel=0.03)
    assert reg.cost_ == pytest.approx(
        resnet_linear_cost(learned, L, lam, block_depth=block_depth), rel=0.03)


def test_theory_limits_of_corollary_2_3():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((5, 3)) @ rng.standard_normal((3, 4))  # rank 3
    nuclear = np.linalg.svd(A, compute_uv=False).sum()
    for bd in (1, 2):
        assert resnet_linear_cost_limit(A, 1e8, block_depth=bd) == pytest.approx(
            nuclear, rel=1e-6)
    # small lambda: cost / (lam log(1/lam)^p) -> rank, p = 2 (depth-1) or 1 (depth-2)
    for bd, p in ((1, 2), (2, 1)):
        ratios = [resnet_linear_cost_limit(A, lam, block_depth=bd)
                  / (lam * np.log(1 / lam) ** p) for lam in (1e-10, 1e-50, 1e-300)]
        errors = np.abs(np.array(ratios) - 3)
        assert np.all(np.diff(errors) < 0)
        assert errors[-1] < (0.1 if bd == 1 else 0.01)


def test_finite_depth_costs_tend_to_the_limits():
    A = np.diag([3.0, 1.0, 0.2])
    for bd in (1, 2):
        limit = resnet_linear_cost_limit(A, 0.5, block_depth=bd)
        gaps = [abs(resnet_linear_cost(A, L, 0.5, block_depth=bd) - limit)
                for L in (4, 32, 256)]
        assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 2e-3 * limit


def test_depth2_closed_form_value():
    # sigma = 3 > lam = 1: (L+1) 3^(1/(L+1)) - L ; sigma = 0.5 <= lam: 0.5
    A = np.diag([3.0, 0.5])
    L = 4
    assert resnet_linear_cost(A, L, 1.0, block_depth=2) == pytest.approx(
        0.5 + (L + 1) * 3 ** (1 / (L + 1)) - L)


def _softplus_teacher(n, k, seed, d=14, m=8):
    """``y = g(A x)`` of rank ``k``, features in mixed units (not a skrank generator)."""
    rng = np.random.default_rng(1000 + seed)
    X = rng.standard_normal((n, d)) * rng.uniform(0.5, 3, d)
    Z = (X / X.std(0)) @ np.linalg.qr(rng.standard_normal((d, k)))[0]
    H = np.logaddexp(0, Z @ rng.standard_normal((k, 20)) + rng.standard_normal(20))
    return X, H @ rng.standard_normal((20, m)) * 3.0 + 10


@pytest.mark.slow
@pytest.mark.parametrize("k, n, seed", [(3, 600, 6), (5, 1500, 4)])
def test_defaults_converge_and_read_the_rank_of_held_out_teachers(k, n, seed):
    # at the former lam=0.01 both stopped at max_iter=2000 (the rank right)
    X, y = _softplus_teacher(n, k, seed)
    reg = ResNetL2Regressor(random_state=0).fit(X, y)
    assert reg.stop_reason_ == "converged"
    assert reg.bottleneck_rank_ == k and reg.jacobian_rank_ == k
    assert reg.bottleneck_gap_ > 10


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rank2_task_recovered_with_small_lambda(seed):
    X, y = make_bottleneck_regression(500, random_state=0)
    reg = ResNetL2Regressor(lam=0.01, random_state=seed).fit(X, y)
    assert reg.bottleneck_rank_ == 2
    assert reg.jacobian_rank_ == 2
    assert reg.transform(X).shape == (500, 2)
    assert reg.stream_ranks_.shape == (reg.depth + 1,)
    assert reg.score(X, y) > 0.95


def test_resnet_cost_attribute_matches_penalty_definition():
    X, y = make_bottleneck_regression(50, random_state=0)
    reg = ResNetL2Regressor(depth=2, block_depth=1, width=8, lam=0.3, max_iter=5,
                            random_state=0).fit(X, y)
    m = reg.module_
    w = [p.detach().double() for p in m.weight_matrices()]
    expected = 0.5 * (w[0].square().sum() + w[-1].square().sum()) + 0.3 * 2 * sum(
        x.square().sum() for x in w[1:-1])
    assert reg.cost_ == pytest.approx(float(expected))
    assert len(reg.layer_spectra_) == 4
    np.testing.assert_array_equal(reg.embedding_spectrum_, reg.layer_spectra_[0])


def test_warm_start_takes_a_new_lam_it_only_weights_the_cost():
    # the nuclear-norm-to-rank sweep over lam warm-starts across values
    X, y = make_bottleneck_regression(60, n_features=4, n_targets=3, random_state=0)
    kw = dict(depth=2, width=8, max_iter=5, dtype="float64", random_state=0)
    with pytest.warns(Warning):
        r = ResNetL2Regressor(**kw, warm_start=True).fit(X, y)
    module = r.module_
    with pytest.warns(Warning):
        r.set_params(lam=0.5).fit(X, y)
    assert r.module_ is module and module.lam == 0.5
    with pytest.raises(ValueError, match="width"):
        r.set_params(width=4).fit(X, y)


def test_a_penalty_beyond_float32_is_a_clear_error():
    X, y = make_bottleneck_regression(30, n_features=3, n_targets=2, random_state=0)
    with pytest.raises(ValueError, match="overflows torch.float32"):
        ResNetL2Regressor(depth=2, width=4, max_iter=5, lam=1e39).fit(X, y)
