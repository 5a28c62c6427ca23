import numpy as np
import pytest
import torch

from skrank.theory import (
    deep_linear_cost,
    deep_linear_cost_expansion,
    resnet_linear_cost,
    resnet_linear_cost_limit,
)


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


def test_costs_of_a_matrix_whose_singular_value_overflows():
    # s_1 = 2e308 is beyond the largest float although every entry is finite
    A = np.full((2, 2), 1e308)
    log_s = np.log(2.0) + 308 * np.log(10.0)
    assert deep_linear_cost(A, 3) == pytest.approx(3 * np.exp(2 * log_s / 3), rel=1e-13)
    assert deep_linear_cost_expansion(A, 3) == pytest.approx(
        3 + 2 * log_s + 2 * log_s**2 / 3, rel=1e-13)
    with pytest.raises(OverflowError, match=r"cost of c A"):
        deep_linear_cost(A, 1)  # 4e616: no float holds it
    for cost in (lambda bd: resnet_linear_cost(A, 3, 1.0, block_depth=bd),
                 lambda bd: resnet_linear_cost_limit(A, 1.0, block_depth=bd)):
        for bd in (1, 2):
            with pytest.raises(OverflowError, match=r"\(c A, c lam\)"):
                cost(bd)


@pytest.mark.parametrize("c", [1e-300, 1e300, 2.0**-1000])
def test_costs_are_homogeneous_at_extreme_scales(c):
    A0 = np.random.default_rng(0).standard_normal((3, 4))
    for L in (2, 5):  # at L=1 the cost c^2 |A0|^2 over- or underflows
        assert deep_linear_cost(c * A0, L) == pytest.approx(
            c ** (2 / L) * deep_linear_cost(A0, L), rel=1e-12)
    for bd in (1, 2):
        assert resnet_linear_cost(c * A0, 3, c * 0.5, block_depth=bd) == pytest.approx(
            c * resnet_linear_cost(A0, 3, 0.5, block_depth=bd), rel=1e-9)
    tiny = np.full((2, 2), 5e-324)  # s_1 = 2^-1073, a subnormal
    assert deep_linear_cost(tiny, 3) == pytest.approx(3 * 2.0 ** (-2146 / 3), rel=1e-13)


def test_resnet_costs_at_extreme_lam():
    s = np.array([3.0, 0.5])
    A, lam = np.diag(s), 5e-324  # sigma / lam overflows
    # depth-2: (L + 1) lam^(L/(L+1)) s^(1/(L+1)) - L lam per value
    expected = np.sum(4 * np.exp(0.75 * np.log(lam) + 0.25 * np.log(s)) - 3 * lam)
    assert resnet_linear_cost(A, 3, lam, block_depth=2) == pytest.approx(expected,
                                                                         rel=1e-12)
    expected = np.sum(lam * (1 + np.log(s) - np.log(lam)))
    assert resnet_linear_cost_limit(A, lam, block_depth=2) == pytest.approx(expected,
                                                                            rel=1e-12)
    # a huge lam keeps every a at 0: the cost is the nuclear norm
    for bd in (1, 2):
        assert resnet_linear_cost(A, 3, 1e308, block_depth=bd) == pytest.approx(3.5)
        assert resnet_linear_cost_limit(A, 1e308, block_depth=bd) == pytest.approx(3.5)


@pytest.mark.parametrize("cost", [lambda A: deep_linear_cost(A, 2),
                                  lambda A: resnet_linear_cost(A, 3, 0.1)])
def test_complex_matrices_are_refused_not_truncated(cost):
    # casting would drop the imaginary part: diag(3, .5)(1 + i) has singular values
    # sqrt(2) times those of its real part
    with pytest.raises(ValueError, match="Complex"):
        cost(np.diag([3.0, 0.5]) * (1 + 1j))


def test_depth2_resnet_cost_tends_to_its_limit_from_above_at_any_depth():
    # (L+1) r^(1/(L+1)) - L -> 1 + ln r decreasingly; written as a difference it
    # cancelled every digit near L = 1e16 (0.600, then 0.0 at 1e20)
    A = np.diag([3.0, 0.5])
    limit = resnet_linear_cost_limit(A, 0.1, block_depth=2)
    costs = [resnet_linear_cost(A, L, 0.1, block_depth=2)
             for L in (10, 10**4, 10**8, 10**14, 10**16, 10**20)]
    assert all(a >= b for a, b in zip(costs, costs[1:]))
    assert costs[-1] == pytest.approx(limit, rel=1e-12) and costs[-1] >= limit * (1 - 1e-15)


def test_a_tensor_that_requires_grad_is_read_by_value():
    # numpy refuses a tensor with a graph: torch's raw "Can't call numpy()" error
    import torch

    A = torch.tensor([[2.0, 0.0], [0.0, 0.5]], requires_grad=True)
    assert deep_linear_cost(A, 4) == pytest.approx(deep_linear_cost(A.detach().numpy(), 4))


_COSTS_WITH_DEPTH = {
    "deep_linear_cost": lambda A, depth: deep_linear_cost(A, depth),
    "deep_linear_cost_expansion": lambda A, depth: deep_linear_cost_expansion(A, depth),
    "resnet_linear_cost": lambda A, depth: resnet_linear_cost(A, depth, 1.0),
    "resnet_linear_cost_2": lambda A, depth: resnet_linear_cost(A, depth, 1.0,
                                                                block_depth=2),
}


@pytest.mark.parametrize("cost", list(_COSTS_WITH_DEPTH.values()), ids=list(_COSTS_WITH_DEPTH))
def test_a_depth_beyond_floats_or_a_bool_is_refused(cost):
    # 10**400 met the float arithmetic as a bare "int too large to convert to
    # float"; True was read as depth 1
    for depth in (10**400, True, np.True_):
        with pytest.raises(ValueError, match=r"'depth' parameter .* an int of at least 1 "
                                             r"\(and at most 1.798e\+308"):
            cost(np.eye(2), depth)
    assert np.isfinite(cost(np.eye(2), 10**300))


def test_an_expansion_beyond_the_largest_float_names_its_cause():
    with pytest.raises(OverflowError, match="exceeds the largest float.*smaller depth"):
        deep_linear_cost_expansion(np.eye(2), 10**308)


def test_theory_refuses_booleans_for_order_block_depth_and_lam():
    A = np.diag([3.0, 0.5])
    with pytest.raises(ValueError, match="'order' parameter"):
        deep_linear_cost_expansion(A, 3, order=True)
    with pytest.raises(ValueError, match="'block_depth' parameter"):
        resnet_linear_cost(A, 3, 1.0, block_depth=True)
    for cost in (lambda lam: resnet_linear_cost(A, 3, lam),
                 lambda lam: resnet_linear_cost_limit(A, lam)):
        with pytest.raises(ValueError, match="'lam' parameter"):
            cost(True)
        assert cost(1) == pytest.approx(cost(1.0))


@pytest.mark.parametrize("lam", [0.05, 0.2, 3.0])
def test_depth1_resnet_limit_is_the_lambert_closed_form(lam):
    # per singular value, min_a s e^-a + lam a^2 is stationary at a e^a = s / (2 lam):
    # a = W(s / 2 lam), and there s e^-a = 2 lam a, so the cost is lam (2a + a^2)
    from scipy.special import lambertw

    from skrank.theory import resnet_linear_cost_limit

    s = np.array([3.0, 0.5, 0.01])
    a = lambertw(s / (2 * lam)).real
    expected = float(np.sum(lam * (2 * a + a**2)))
    assert resnet_linear_cost_limit(np.diag(s), lam) == pytest.approx(expected, rel=1e-9)


# --- theory: depth-1 ResNet at finite depth (only homogeneity/a=0 were tested) ---
@pytest.mark.parametrize("s, L, lam, expected", [
    # stationarity -s/(1+a/L)^(L+1) + 2 lam a = 0 solved by hand at a nice a:
    (4.0, 1, 0.5, 2.5),      # a=1: 4/2 + 0.5*1
    (4.0, 2, 0.125, 1.5),    # a=2: 4/(1+1)^2 + 0.125*4
])
def test_depth1_resnet_cost_hand_values(s, L, lam, expected):
    assert resnet_linear_cost(np.array([[s]]), L, lam) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("s, L, lam", [(3.0, 3, 0.1), (0.5, 4, 1.0)])
def test_depth1_resnet_cost_is_the_minimum_over_explicit_weights(s, L, lam):
    # an explicit scalar ResNet u (1+w_L)...(1+w_1) e = s with cost
    # u^2/2 + e^2/2 + lam L sum w_l^2; min over u, e gives s / |prod(1 + w)|.
    # No balancing assumption: every w_l free.
    def f(w):
        return s / abs(np.prod(1 + w)) + lam * L * np.sum(w ** 2)

    from scipy.optimize import minimize

    best = min((minimize(f, np.full(L, a0) + 0.01 * np.arange(L), method="Nelder-Mead",
                         options=dict(xatol=1e-12, fatol=1e-15, maxiter=50000))
                for a0 in (0.0, 0.5, 2.0)), key=lambda r: r.fun)
    assert resnet_linear_cost(np.array([[s]]), L, lam) == pytest.approx(best.fun, rel=1e-8)


# --- theory: the numerical-rank cut is max(shape) * eps * s_1, as matrix_rank ---
def test_rank_cut_uses_the_larger_dimension():
    eps = np.finfo(float).eps
    A = np.zeros((2, 10))
    A[0, 0], A[1, 1] = 1.0, 5 * eps     # 2 eps < 5 eps < 10 eps: cut, as matrix_rank
    assert np.linalg.matrix_rank(A) == 1
    assert deep_linear_cost(A, 1000) == pytest.approx(1000.0, rel=1e-12)  # L * 1^(2/L)


def _reference_cost(s, lam, depth, block_depth):
    """The ResNet cost of one singular value in 80-digit arithmetic: the depth-1
    minimum by bisection on log a of its increasing derivative, the depth-2 closed
    form as written (no float underflows or cancels there)."""
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 80
    s, lam = mp.mpf(s), mp.mpf(lam)
    if block_depth == 2:
        if s <= lam:
            return s
        if depth is None:
            return lam * (1 + mp.log(s / lam))
        return lam * ((depth + 1) * (s / lam) ** (mp.mpf(1) / (depth + 1)) - depth)
    decay = (lambda a: mp.e ** -a) if depth is None else (lambda a: (1 + a / depth) ** -depth)
    slope = (lambda a: -s * mp.e ** -a + 2 * lam * a) if depth is None else (
        lambda a: -s * (1 + a / depth) ** (-depth - 1) + 2 * lam * a)
    lo, hi = mp.mpf(-1700), mp.mpf(1700)
    for _ in range(400):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if slope(mp.e ** mid) < 0 else (lo, mid)
    a = mp.e ** ((lo + hi) / 2)
    return s * decay(a) + lam * a * a


_EXTREME = 1e-12  # a logarithm of 700 carries its rounding into the exponent
_ORDINARY = 2e-15  # the objective itself: the root's error enters at second order


@pytest.mark.parametrize("s, lam, depth, block_depth, rel", [
    (1e300, 1e-300, None, 1, _EXTREME), (1e300, 1e-300, 1, 1, _EXTREME),
    (1e300, 1e-100, 50, 1, _EXTREME), (1e100, 1e-300, 50, 1, _EXTREME),
    (1e200, 1e-200, 10**5, 1, _EXTREME), (1e-300, 1e300, 3, 1, _EXTREME),
    (1e-100, 1e300, None, 1, _EXTREME), (2.0, 1e-300, None, 1, _EXTREME),
    # e^-a subnormal at the root: its digits were lost (8e-4 off)
    (2.3699095377940135e277, 1.1220096463447222e-49, 10**30, 1, _EXTREME),
    (3.8178110692660405e-263, 3.167516615801676e130, None, 1, _EXTREME),
    (1e300, 1e-300, 10**15, 2, _EXTREME), (1e100, 1e-300, 10**15, 2, _EXTREME),
    (3.0, 0.5, 4, 1, _ORDINARY), (66.82238687337563, 0.009067218743331851, 2, 1,
                                  _ORDINARY),
    (767.0371663588487, 0.0010738712968367766, 100, 1, _ORDINARY),
    (0.3, 2.0, None, 1, _ORDINARY), (3.0, 0.5, 4, 2, _ORDINARY)])
def test_resnet_costs_match_80_digit_arithmetic(s, lam, depth, block_depth, rel):
    # the depth-1 minimum read sigma e^-a after it underflowed (1e300 / 1e-300 at
    # L = 50: 5e-18 for 5e-82; a tiny sigma against a huge lam: 0), and the
    # depth-2 form cancelled 8e-4 of the cost at L = 1e15; ordinary values keep
    # the precision of the objective evaluated at its minimum
    A = np.array([[s]])
    got = (resnet_linear_cost_limit(A, lam, block_depth=block_depth) if depth is None
           else resnet_linear_cost(A, depth, lam, block_depth=block_depth))
    # no absolute tolerance: pytest's default 1e-12 passes any tiny cost
    assert got == pytest.approx(float(_reference_cost(s, lam, depth, block_depth)),
                                rel=rel, abs=0)


def test_a_matrix_of_strings_is_named():
    # numpy's "could not convert string to float: np.str_('a')" reached the user
    with pytest.raises(ValueError, match="A must be a real matrix of numbers"):
        deep_linear_cost([["a"]], 2)
    with pytest.raises(TypeError, match="A is a sparse torch tensor"):
        resnet_linear_cost(torch.eye(2).to_sparse(), 3, 1.0)
    assert deep_linear_cost(torch.eye(2, dtype=torch.bfloat16), 2) == 4.0


@pytest.mark.parametrize("scale", [1.0, 1e300, 1e-300])
@pytest.mark.parametrize("depth", [np.uint64(3), np.int8(3), np.uint32(3), np.int64(3)])
def test_numpy_integer_depths_cost_what_a_python_int_does(depth, scale):
    # uint64 broke np.ldexp; int8 and uint32 overflowed in the rescaling path
    A = np.array([[2.0, 0.0], [0.0, 0.5]]) * scale
    assert deep_linear_cost(A, depth) == deep_linear_cost(A, 3)
