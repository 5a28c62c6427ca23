"""Closed-form minimal costs: the oracles that tell whether training really minimizes.

References
----------
- A. Jacot, "Bottleneck structure in learned features: low-dimension vs
  regularity tradeoff", Advances in Neural Information Processing Systems 36
  (NeurIPS 2023), sec. 3 (deep linear networks).
- E. Boix-Adsera, "On the inductive bias of infinite-depth ResNets and the
  bottleneck rank", preprint, 2025, Thm. 2.1 and Cor. 2.2-2.3 (linear ResNets).
"""

from numbers import Integral, Real

import numpy as np
import torch
from scipy.optimize import brentq
from sklearn.utils._param_validation import StrOptions, validate_params

from ._device import check_dense
from ._params import Count

__all__ = [
    "deep_linear_cost",
    "deep_linear_cost_expansion",
    "resnet_linear_cost",
    "resnet_linear_cost_limit",
]


#: Matrices whose largest entry lies outside ``[2**-k, 2**k]`` for this ``k`` are
#: scaled by a power of two before their SVD; all others are left as they are.
_SAFE_EXPONENT = 500
_FLOAT_MAX = np.finfo(np.float64).max
_SCALE_HINT = ("compute the cost at (c A, c lam) for some c < 1 instead: it is c times "
               "the cost at (A, lam).")


def _spectrum(A):
    """Singular values of ``A / 2**e`` and the exponent ``e`` (0 for most matrices).

    Finite entries can have a singular value beyond the largest float
    (``np.full((2, 2), 1e308)`` has ``s_1 = 2e308``): the SVD returns inf and the
    rank cut, relative to ``s_1``, then drops every value. Dividing by a power of
    two is exact, and every cost here is homogeneous in ``A``, so the callers
    scale the result back.
    """
    if isinstance(A, torch.Tensor):
        check_dense(A)
        # read by value (numpy refuses a graph), bfloat16 widened (numpy lacks it)
        A = A.detach().cpu()
        A = A if A.is_complex() else A.to(torch.float64)
    A = np.asarray(A)
    if np.iscomplexobj(A):
        raise ValueError("Complex data not supported: A must be a real matrix.")
    try:
        A = A.astype(np.float64)
    except (TypeError, ValueError) as exc:  # strings, objects
        raise ValueError(f"A must be a real matrix of numbers ({exc}).") from None
    if A.ndim != 2:
        raise ValueError(f"A must be a 2-D matrix, got shape {A.shape}.")
    if not np.isfinite(A).all():
        raise ValueError("A contains NaN or infinity.")
    top = np.max(np.abs(A), initial=0.0)
    e = 0
    if top > 0 and not 2.0**-_SAFE_EXPONENT <= top <= 2.0**_SAFE_EXPONENT:
        e = int(np.frexp(top)[1])
        A = np.ldexp(A, -e)
    return np.linalg.svd(A, compute_uv=False), e


class _Depth(Count):
    """A depth of at least 1 that a float holds: the costs compute ``2 / L`` and
    ``a / L`` in floats, and a larger integer cannot be converted (Python raises a
    bare OverflowError). Booleans are refused, as the estimators refuse them."""

    def __init__(self):
        super().__init__(Integral, 1, int(_FLOAT_MAX), closed="both")

    def __str__(self):
        return (f"an int of at least 1 (and at most {_FLOAT_MAX:.4g}, the largest "
                "float: the costs divide by it)")


def _finite(cost, hint):
    """The cost as a float; one beyond the largest float is an error, not inf."""
    if not np.isfinite(cost):
        raise OverflowError(f"The cost exceeds the largest float ({_FLOAT_MAX:.4g}); "
                            f"{hint}")
    return float(cost)


def _singular_values(A):
    """The non-zero singular values of ``A`` itself, each one a finite float."""
    s, e = _spectrum(A)
    with np.errstate(over="ignore", under="ignore"):
        s = np.ldexp(_nonzero(s, A), e)
    if not np.isfinite(s).all():
        raise OverflowError(
            f"A has a singular value beyond the largest float ({_FLOAT_MAX:.4g}); "
            f"{_SCALE_HINT}")
    return s


def _nonzero(s, A):
    # numerical rank, as numpy's matrix_rank decides it: at large depth every
    # rounding-level singular value would otherwise add s^(2/L) ~ 1 to the cost
    tol = max(np.shape(A)) * np.finfo(float).eps * (s[0] if s.size else 0.0)
    return s[s > tol]


@validate_params(
    {"A": ["array-like"], "depth": [_Depth()]},
    prefer_skip_nested_validation=True,
)
def deep_linear_cost(A, depth):
    """Least ``||theta||^2`` of a depth-``L`` linear network (no biases) computing ``A``.

    Parameters
    ----------
    A : array-like of shape (n_out, n_in)
        The linear map ``x -> A x``.
    depth : int
        Number of weight matrices ``L``, at most the largest float (``1.8e308``).

    Returns
    -------
    cost : float
        ``R(A; L) = L * sum_i s_i(A)^(2/L)`` over the non-zero singular values,
        reached by balanced factors ``W_l = U_l diag(s^(1/L)) U_{l-1}^T``. As
        ``numpy.linalg.matrix_rank`` decides, values below ``max(A.shape) * eps *
        s_1`` count as zero: at large depth each would add ``s^(2/L)``, near 1, to
        the cost, though rounding alone can make them.

    Raises
    ------
    ValueError
        If ``depth`` is not an int from 1 to the largest float (a bool is refused).
    OverflowError
        If the cost exceeds the largest float (``R(c A; L) = c^(2/L) R(A; L)``:
        compute it for a scaled-down ``A``).

    See Also
    --------
    deep_linear_cost_expansion : Its large-depth expansion.

    Notes
    -----
    As ``L -> oo``, ``R(A; L) / L -> rank(A)``: the parameter norm per layer of a
    deep network counts the rank of the map it computes.

    References
    ----------
    A. Jacot, "Bottleneck structure in learned features: low-dimension vs
    regularity tradeoff", NeurIPS 2023, sec. 3.

    Examples
    --------
    >>> import numpy as np
    >>> from skrank.theory import deep_linear_cost
    >>> float(deep_linear_cost(np.diag([4.0, 1.0, 0.0]), depth=2))
    10.0
    """
    s, e = _spectrum(A)
    s = _nonzero(s, A)
    # R(2^e B; L) = 2^(2e/L) R(B; L): ldexp applies the integer part of 2e/L (so
    # only a cost truly beyond the largest float overflows), exp2 the exact rest
    # a Python int: numpy integer depths (uint64, int8) broke ldexp or overflowed
    whole, rest = divmod(2 * e, int(depth))
    with np.errstate(over="ignore", under="ignore"):
        cost = np.ldexp(depth * np.sum(s ** (2.0 / depth)) * np.exp2(rest / depth), whole)
    return _finite(cost, "compute the cost of c A for some c < 1 instead: "
                         "deep_linear_cost(c A, L) = c**(2/L) deep_linear_cost(A, L).")


@validate_params(
    {
        "A": ["array-like"],
        "depth": [_Depth()],
        "order": [Count(Integral, 0, 2, closed="both")],
    },
    prefer_skip_nested_validation=True,
)
def deep_linear_cost_expansion(A, depth, *, order=2):
    """Large-depth expansion of :func:`deep_linear_cost`.

    ``R(A; L) = L R0 + R1 + R2 / L + O(L^-2)`` with ``R0 = rank(A)``,
    ``R1 = 2 log|A|_+ = 2 sum_i log s_i`` and ``R2 = (1/2)||log_+ A^T A||^2 =
    2 sum_i (log s_i)^2``, sums over the non-zero singular values. It needs
    ``L >> 2 |log s|`` for each: a leftover ``s = 1e-12`` breaks it at any
    practical depth (``diag(2, 0.5, 1e-12)``: 463 at ``L = 3``, exactly 6.65);
    cut such values first (:func:`skrank.diagnostics.effective_rank`).

    Parameters
    ----------
    A : array-like of shape (n_out, n_in)
        The linear map ``x -> A x``.
    depth : int
        Number of weight matrices ``L``, at most the largest float (``1.8e308``).
    order : {0, 1, 2}, default=2
        Number of correction terms kept after ``L * rank(A)``.

    Returns
    -------
    cost : float
        The truncated expansion of the least ``||theta||^2``.

    Raises
    ------
    ValueError
        If ``depth`` is not an int from 1 to the largest float, or ``order`` not
        one of 0, 1, 2 (booleans are refused).
    OverflowError
        If the expansion exceeds the largest float (``L * rank(A)`` does at a
        depth near it).

    See Also
    --------
    deep_linear_cost : The exact cost.

    References
    ----------
    A. Jacot, "Bottleneck structure in learned features: low-dimension vs
    regularity tradeoff", NeurIPS 2023, sec. 3.

    Examples
    --------
    >>> import numpy as np
    >>> from skrank.theory import deep_linear_cost, deep_linear_cost_expansion
    >>> A = np.diag([2.0, 0.5])
    >>> exact = deep_linear_cost(A, depth=50)
    >>> approx = deep_linear_cost_expansion(A, depth=50)
    >>> abs(exact - approx) < 1e-3
    True
    """
    s, e = _spectrum(A)
    s = _nonzero(s, A)
    logs = np.log(s) + e * np.log(2.0)  # log of the unscaled values
    # float(depth): an int product beyond the largest float fails to convert with a
    # bare OverflowError, where _finite names the cause
    terms = [float(depth) * s.size, 2.0 * logs.sum(), 2.0 * np.sum(logs**2) / depth]
    return _finite(sum(terms[: order + 1]),
                   "its leading term is depth * rank(A): use a smaller depth.")


def _depth1_singular_cost(sigma, lam, depth):
    """``min_{a >= 0} sigma / (1 + a/L)^L + lam a^2`` (``depth=None``: ``sigma e^-a``).

    The objective is convex in ``a``; its minimizer solves ``sigma (1 + a/L)^-(L+1)
    = 2 lam a``, solved for ``u = log a`` in logarithms, where every term is a
    float: ``sigma e^-a`` underflows long before the root when ``sigma / lam`` is
    large (1e300 / 1e-300 read 5e-18 for 5e-82), and ``2 lam`` overflows for a
    ``lam`` over half the largest float. At the root the decay term equals
    ``2 lam a (1 + a/L)`` (``2 lam a`` in the limit), so the cost needs no
    power of it either.
    """
    if sigma <= 0:
        return 0.0
    depth = None if depth is None else float(depth)  # np.log refuses huge ints
    target = np.log(sigma) - np.log(2.0) - np.log(lam)

    def excess(u):
        # log(2 lam a) + (L+1) log(1 + a/L) - log(sigma), increasing in u
        if depth is None:
            grow = np.exp(u) if u < 709.0 else np.inf
        else:
            grow = (depth + 1) * np.logaddexp(0.0, u - np.log(depth))
        return u + grow - target

    hi = target + 1.0  # excess(hi) > 1 > 0
    lo, step = hi - 1.0, 1.0
    while excess(lo) >= 0:
        lo, step = lo - step, 2.0 * step
    u = brentq(excess, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps)
    a = np.exp(u)
    # the objective itself where every term is a normal float: the root's error
    # enters it at second order only (the identity below passes it on whole)
    log_decay = -a if depth is None else -depth * np.log1p(a / depth)
    tiny = np.finfo(float).tiny
    with np.errstate(over="ignore", under="ignore"):
        power = np.exp(log_decay)
        # a subnormal power has lost its digits: the product in one exponent then
        decay = sigma * power if power > tiny else np.exp(np.log(sigma) + log_decay)
        penalty = lam * a * a
    log_penalty = np.log(lam) + 2.0 * u
    if tiny < decay < np.inf and log_penalty < np.log(decay) - 40.0:
        return float(decay)  # a penalty below the decay's last digit (a tiny a)
    if np.isfinite(decay + penalty) and min(decay, penalty) > tiny:
        return float(decay + penalty)
    # at the root the decay term is 2 lam a (1 + a/L): the cost without a power of
    # it, lam last (2 lam overflows for a lam near the largest float), and in
    # logarithms where a passes the square root of the largest float or the least
    inner = 2.0 * (1.0 if depth is None else 1.0 + a / depth) + a
    with np.errstate(over="ignore"):
        cost = lam * (a * inner)
    if np.isfinite(cost) and a > 1e-300:
        return float(cost)
    return float(np.exp(np.log(lam) + u + np.log(inner)))


def _depth2_singular_cost(sigma, lam, depth):
    """``sigma`` up to ``lam``, beyond it the closed form of Boix-Adsera, Thm. 2.1.

    Written with ``sigma / lam`` where that ratio is a float; for a ``lam`` so
    small that it overflows, with logarithms (``depth=None``) or as
    ``lam^(L/(L+1)) sigma^(1/(L+1))``, which lies between ``lam`` and ``sigma``.
    """
    if sigma <= lam:
        return float(sigma)
    ratio = sigma / lam
    if depth is None:
        log_ratio = np.log(ratio) if np.isfinite(ratio) else np.log(sigma) - np.log(lam)
        return float(lam * (1.0 + log_ratio))
    if np.isfinite(ratio):
        # (L+1) r^(1/(L+1)) - L = 1 + (L+1) (r^(1/(L+1)) - 1): written with expm1,
        # since at large L the difference of the first form cancels every digit
        return float(lam * (1.0 + (depth + 1) * np.expm1(np.log(ratio) / (depth + 1))))
    # the same in logarithms: (L+1) lam^(L/(L+1)) sigma^(1/(L+1)) - L lam cancels
    # at large L (8e-4 of the cost lost at L = 1e15)
    t = (np.log(sigma) - np.log(lam)) / (depth + 1)
    with np.errstate(over="ignore"):
        growth = lam * ((depth + 1.0) * np.expm1(t))
    if np.isfinite(growth) and growth > np.finfo(float).tiny:
        return float(lam + growth)
    log_growth = np.log(np.expm1(t)) if t < 700.0 else t + np.log(-np.expm1(-t))
    return float(lam + np.exp(np.log(lam) + np.log(depth + 1.0) + log_growth))


_RESNET_PARAMS = {
    "A": ["array-like"],
    # Count refuses booleans, which a Real or Integral interval reads as 0 or 1
    "lam": [Count(Real, 0, None, closed="neither")],
    "block_depth": [StrOptions({"1", "2"}), Count(Integral, 1, 2, closed="both")],
}


@validate_params(
    {**_RESNET_PARAMS, "depth": [_Depth()]},
    prefer_skip_nested_validation=True,
)
def resnet_linear_cost(A, depth, lam, *, block_depth=1):
    """Least cost of a depth-``L`` linear ResNet computing ``A`` (Boix-Adsera, Thm. 2.1).

    The cost is ``1/2 ||W_u||^2 + 1/2 ||W_e||^2 + lam L sum_l ||W_l||^2`` for
    depth-1 blocks and ``... + lam/2 sum_{l,j} ||W_lj||^2`` for depth-2 blocks;
    its minimum decomposes over the singular values ``s_i`` of ``A`` (values
    below ``max(A.shape) * eps * s_1`` count as zero, as in
    :func:`deep_linear_cost`: rounding alone can make them):

    * depth-1: ``sum_i min_{a >= 0} s_i / (1 + a/L)^L + lam a^2``;
    * depth-2: ``sum_{s_i <= lam} s_i + sum_{s_i > lam} lam ((L+1)(s_i/lam)^(1/(L+1)) - L)``.

    Parameters
    ----------
    A : array-like of shape (n_out, n_in)
        The linear map ``x -> A x``.
    depth : int
        Number of residual blocks ``L``, at most the largest float (``1.8e308``).
    lam : float > 0
        Weight of the residual blocks against the embedding and unembedding.
    block_depth : {1, 2}, default=1
        Number of weight matrices per residual block.

    Returns
    -------
    cost : float
        The least cost over all weights computing ``A``.

    Raises
    ------
    ValueError
        If ``depth`` is not an int from 1 to the largest float, ``lam`` not a
        finite positive float or ``block_depth`` not 1 or 2 (booleans are refused).
    OverflowError
        If a singular value of ``A`` or the cost exceeds the largest float (the
        cost at ``(c A, c lam)`` is ``c`` times the cost at ``(A, lam)``: compute
        it for scaled-down ``A`` and ``lam``).

    See Also
    --------
    resnet_linear_cost_limit : The infinite-depth limit.

    References
    ----------
    E. Boix-Adsera, "On the inductive bias of infinite-depth ResNets and the
    bottleneck rank", preprint, 2025, Thm. 2.1.

    Examples
    --------
    >>> import numpy as np
    >>> from skrank.theory import resnet_linear_cost
    >>> A = np.diag([3.0, 0.5])
    >>> round(resnet_linear_cost(A, 4, 1.0, block_depth=2), 6)  # 0.5 + (5 * 3**0.2 - 4)
    2.728655
    """
    s = _singular_values(A)
    one = _depth1_singular_cost if int(block_depth) == 1 else _depth2_singular_cost
    return _finite(sum(one(float(v), float(lam), int(depth)) for v in s), _SCALE_HINT)


@validate_params(_RESNET_PARAMS, prefer_skip_nested_validation=True)
def resnet_linear_cost_limit(A, lam, *, block_depth=1):
    """Infinite-depth limit of :func:`resnet_linear_cost` (Boix-Adsera, Cor. 2.2).

    depth-1: ``sum_i min_{a >= 0} s_i e^{-a} + lam a^2``; depth-2:
    ``sum_{s_i <= lam} s_i + sum_{s_i > lam} lam (1 + log(s_i / lam))``. For large
    ``lam`` both tend to the nuclear norm ``sum_i s_i``; for small ``lam`` the
    depth-1 cost over ``lam log(1/lam)^2`` and the depth-2 cost over
    ``lam log(1/lam)`` tend to ``rank(A)`` (Cor. 2.3).

    Parameters
    ----------
    A : array-like of shape (n_out, n_in)
        The linear map ``x -> A x``.
    lam : float > 0
        Weight of the residual blocks against the embedding and unembedding.
    block_depth : {1, 2}, default=1
        Number of weight matrices per residual block.

    Returns
    -------
    cost : float
        The limit of the least cost as the number of blocks grows.

    Raises
    ------
    ValueError
        If ``lam`` is not a finite positive float or ``block_depth`` not 1 or 2
        (booleans are refused).
    OverflowError
        As :func:`resnet_linear_cost`.

    See Also
    --------
    resnet_linear_cost : The cost at a finite depth.

    Notes
    -----
    The depth-1 ratio reaches the rank slowly, like
    ``(1 - log log(1/lam) / log(1/lam))^2`` (per singular value the optimal
    ``a`` is the Lambert function ``W(s_i / 2 lam)``).

    References
    ----------
    E. Boix-Adsera, "On the inductive bias of infinite-depth ResNets and the
    bottleneck rank", preprint, 2025, Cor. 2.2-2.3.

    Examples
    --------
    >>> import numpy as np
    >>> from skrank.theory import resnet_linear_cost_limit
    >>> A = np.diag([2.0, 1.0, 0.0])
    >>> round(resnet_linear_cost_limit(A, 1e6, block_depth=2), 6)  # nuclear norm
    3.0
    """
    s = _singular_values(A)
    one = _depth1_singular_cost if int(block_depth) == 1 else _depth2_singular_cost
    return _finite(sum(one(float(v), float(lam), None) for v in s), _SCALE_HINT)
