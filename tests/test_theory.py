import numpy as np
import pytest

from skrank.theory import deep_linear_cost, deep_linear_cost_expansion


def test_deep_linear_cost_closed_form():
    A = np.diag([4.0, 1.0, 0.0])
    # L * sum s^(2/L): L=2 -> 2 * (4 + 1) = 10 ; L=1 -> Frobenius norm squared 17
    assert deep_linear_cost(A, 2) == pytest.approx(10.0)
    assert deep_linear_cost(A, 1) == pytest.approx(17.0)
    # invariant under orthogonal changes of basis
    rng = np.random.default_rng(0)
    Q1 = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    Q2 = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    assert deep_linear_cost(Q1 @ A @ Q2, 5) == pytest.approx(deep_linear_cost(A, 5))


@pytest.mark.parametrize("depth", [20, 50, 200])
def test_expansion_error_shrinks_like_L_minus_2(depth):
    A = np.diag([2.0, 0.5, 1.3])
    err = abs(deep_linear_cost(A, depth) - deep_linear_cost_expansion(A, depth))
    # next term is O(L^-2): (4/3) sum (log s)^3 / L^2
    bound = 2 * (4 / 3) * np.sum(np.abs(np.log([2.0, 0.5, 1.3])) ** 3) / depth**2
    assert err <= bound


def test_cost_per_depth_tends_to_rank():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((6, 3)) @ rng.standard_normal((3, 5))  # rank 3
    assert deep_linear_cost(A, 10_000) / 10_000 == pytest.approx(3.0, abs=1e-3)
    assert deep_linear_cost_expansion(A, 7, order=0) == 21


def test_theory_rejects_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        deep_linear_cost(np.ones(3), 2)
    with pytest.raises(ValueError, match="NaN"):
        deep_linear_cost(np.array([[np.nan]]), 2)
    with pytest.raises(ValueError, match="depth"):
        deep_linear_cost(np.eye(2), 0)
