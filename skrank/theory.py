"""Closed-form minimal costs: the oracles that tell whether training really minimizes.

References
----------
.. [1] A. Jacot, "Bottleneck structure in learned features: low-dimension vs
   regularity tradeoff", NeurIPS 2023, sec. 3.
"""

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params

__all__ = ["deep_linear_cost", "deep_linear_cost_expansion"]


def _spectrum(A):
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2:
        raise ValueError(f"A must be a 2-D matrix, got shape {A.shape}.")
    if not np.isfinite(A).all():
        raise ValueError("A contains NaN or infinity.")
    return np.linalg.svd(A, compute_uv=False)


def _nonzero(s, A):
    # numerical rank, as numpy's matrix_rank decides it: at large depth every
    # rounding-level singular value would otherwise add s^(2/L) ~ 1 to the cost
    tol = max(np.shape(A)) * np.finfo(float).eps * (s[0] if s.size else 0.0)
    return s[s > tol]


@validate_params(
    {"A": ["array-like"], "depth": [Interval(Integral, 1, None, closed="left")]},
    prefer_skip_nested_validation=True,
)
def deep_linear_cost(A, depth):
    """Least ``||theta||^2`` of a depth-``L`` linear network (no biases) computing ``A``.

    Parameters
    ----------
    A : array-like of shape (n_out, n_in)
        The linear map ``x -> A x``.
    depth : int
        Number of weight matrices ``L``.

    Returns
    -------
    cost : float
        ``R(A; L) = L * sum_i s_i(A)^(2/L)``, reached by balanced factors
        ``W_l = U_l diag(s^(1/L)) U_{l-1}^T``.

    See Also
    --------
    deep_linear_cost_expansion : its large-depth expansion.

    Notes
    -----
    As ``L -> oo``, ``R(A; L) / L -> rank(A)``: the parameter norm per layer of a
    deep network counts the rank of the map it computes.

    Examples
    --------
    >>> import numpy as np
    >>> from skrank.theory import deep_linear_cost
    >>> float(deep_linear_cost(np.diag([4.0, 1.0, 0.0]), depth=2))
    10.0
    """
    s = _nonzero(_spectrum(A), A)
    return float(depth * np.sum(s ** (2.0 / depth)))


@validate_params(
    {
        "A": ["array-like"],
        "depth": [Interval(Integral, 1, None, closed="left")],
        "order": [Interval(Integral, 0, 2, closed="both")],
    },
    prefer_skip_nested_validation=True,
)
def deep_linear_cost_expansion(A, depth, *, order=2):
    """Large-depth expansion of :func:`deep_linear_cost`.

    ``R(A; L) = L R0 + R1 + R2 / L + O(L^-2)`` with ``R0 = rank(A)``,
    ``R1 = 2 log|A|_+ = 2 sum_i log s_i`` and ``R2 = (1/2)||log_+ A^T A||^2 =
    2 sum_i (log s_i)^2``, sums over the non-zero singular values.

    Parameters
    ----------
    A : array-like of shape (n_out, n_in)
    depth : int
    order : {0, 1, 2}, default=2
        Number of correction terms kept after ``L * rank(A)``.

    Returns
    -------
    cost : float

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
    s = _nonzero(_spectrum(A), A)
    logs = np.log(s)
    terms = [depth * s.size, 2.0 * logs.sum(), 2.0 * np.sum(logs**2) / depth]
    return float(sum(terms[: order + 1]))
