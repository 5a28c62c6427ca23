"""The papers' tasks, in the style of ``sklearn.datasets.make_*``.

Every generator is keyword-only after ``n_samples``, takes ``random_state`` and
documents its ground truth (the true rank or dimension).
"""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params

__all__ = [
    "make_bottleneck_regression",
    "make_low_rank_regression",
    "make_shifted_s",
]


def _random_relu_net(rng, n_in, n_out, n_hidden):
    """A random shallow ReLU network ``u -> W2 relu(W1 u + b1)``."""
    W1 = rng.standard_normal((n_in, n_hidden)) / np.sqrt(n_in)
    b1 = 0.5 * rng.standard_normal(n_hidden)
    W2 = rng.standard_normal((n_hidden, n_out)) * np.sqrt(2.0 / n_hidden)
    return lambda u: np.maximum(u @ W1 + b1, 0.0) @ W2


def _standardize(a):
    a = a - a.mean(0)
    return a / a.std()


def _add_noise(rng, a, noise):
    return a + noise * rng.standard_normal(a.shape) if noise else a


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "n_targets": [Interval(Integral, 1, None, closed="left")],
        "n_latent": [Interval(Integral, 1, None, closed="left")],
        "rank": [Interval(Integral, 1, None, closed="left")],
        "n_hidden": [Interval(Integral, 1, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "return_latent": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_bottleneck_regression(
    n_samples=500,
    *,
    n_features=20,
    n_targets=20,
    n_latent=8,
    rank=2,
    n_hidden=100,
    noise=0.0,
    return_latent=False,
    random_state=None,
):
    """The rank-k regression task of Jacot (2023b), App. E.

    A latent ``z ~ N(0, I_{n_latent})`` is drawn; inputs are ``x = g(z)`` and
    targets ``y = h(z_1, ..., z_rank)`` for two random shallow ReLU networks
    ``g: R^n_latent -> R^n_features`` and ``h: R^rank -> R^n_targets``. When ``g``
    is injective (almost surely for ``n_features >= n_latent``), the true function
    ``f* = h o g^{-1}`` has bottleneck rank ``rank``. Inputs and targets are
    centered and scaled to unit overall standard deviation (affine maps, which do
    not change the rank).

    Parameters
    ----------
    n_samples : int, default=500
    n_features : int, default=20
    n_targets : int, default=20
    n_latent : int, default=8
    rank : int, default=2
        The bottleneck rank of the true function; must not exceed ``n_latent``.
    n_hidden : int, default=100
        Width of the random networks ``g`` and ``h``.
    noise : float, default=0.0
        Standard deviation of Gaussian noise added to the (scaled) targets.
    return_latent : bool, default=False
        Also return the latent ``z``.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples, n_targets)
    Z : ndarray of shape (n_samples, n_latent)
        Only when ``return_latent=True``.

    References
    ----------
    A. Jacot, "Bottleneck structure in learned features: low-dimension vs
    regularity tradeoff", NeurIPS 2023, App. E.

    Examples
    --------
    >>> from skrank.datasets import make_bottleneck_regression
    >>> X, y = make_bottleneck_regression(100, random_state=0)
    >>> X.shape, y.shape
    ((100, 20), (100, 20))
    """
    if rank > n_latent:
        raise ValueError(f"rank={rank} must not exceed n_latent={n_latent}.")
    rng = check_random_state(random_state)
    g = _random_relu_net(rng, n_latent, n_features, n_hidden)
    h = _random_relu_net(rng, rank, n_targets, n_hidden)
    Z = rng.standard_normal((n_samples, n_latent))
    X = _standardize(g(Z))
    y = _add_noise(rng, _standardize(h(Z[:, :rank])), noise)
    return (X, y, Z) if return_latent else (X, y)


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "n_targets": [Interval(Integral, 1, None, closed="left")],
        "rank": [Interval(Integral, 1, None, closed="left")],
        "n_hidden": [Interval(Integral, 1, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_low_rank_regression(
    n_samples=300,
    *,
    n_features=50,
    n_targets=50,
    rank=5,
    n_hidden=100,
    noise=0.0,
    random_state=None,
):
    """The rank-5 task of Jacot (2023a), Fig. 1: ``f*: R^50 -> R^50`` of rank 5.

    Inputs ``x ~ N(0, I)``; targets ``y = h(P x)`` where ``P`` has ``rank``
    random orthonormal rows and ``h`` is a random shallow ReLU network. The true
    function has Jacobian rank and bottleneck rank ``rank``.

    Parameters
    ----------
    n_samples : int, default=300
    n_features : int, default=50
    n_targets : int, default=50
    rank : int, default=5
        Must not exceed ``n_features``.
    n_hidden : int, default=100
    noise : float, default=0.0
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples, n_targets)

    References
    ----------
    A. Jacot, "Implicit bias of large depth networks: a notion of rank for
    nonlinear functions", ICLR 2023, Fig. 1.

    Examples
    --------
    >>> from skrank.datasets import make_low_rank_regression
    >>> X, y = make_low_rank_regression(random_state=0)
    >>> X.shape, y.shape
    ((300, 50), (300, 50))
    """
    if rank > n_features:
        raise ValueError(f"rank={rank} must not exceed n_features={n_features}.")
    rng = check_random_state(random_state)
    P = np.linalg.qr(rng.standard_normal((n_features, rank)))[0]
    h = _random_relu_net(rng, rank, n_targets, n_hidden)
    X = rng.standard_normal((n_samples, n_features))
    y = _add_noise(rng, _standardize(h(X @ P)), noise)
    return X, y


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_classes": [Interval(Integral, 2, None, closed="left")],
        "shift": [Interval(Real, 0, None, closed="neither")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_shifted_s(n_samples=400, *, n_classes=4, shift=0.6, noise=0.05,
                   random_state=None):
    """Classes drawn from identical inverted 'S' curves translated along x.

    The task of Jacot (2023a), Fig. 2. Class ``c`` samples points on the curve
    ``x = -sin(t) / 2 + c * shift``, ``y = sign(t) (cos(t) - 1) / 2``,
    ``t ~ U(-3 pi / 2, 3 pi / 2)``, plus Gaussian noise. For ``shift`` below the
    width of an S (1.0) the curves interleave: a shallow network then separates them
    with boundaries that meet at tripoints; a deep one, biased towards rank 1,
    with curves that never meet three at a time.

    Parameters
    ----------
    n_samples : int, default=400
        Total number of points, split as evenly as possible among classes.
    n_classes : int, default=4
    shift : float, default=0.6
        Translation between consecutive classes.
    noise : float, default=0.05
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
    y : ndarray of shape (n_samples,)
        Class index 0..n_classes - 1.

    Examples
    --------
    >>> from skrank.datasets import make_shifted_s
    >>> X, y = make_shifted_s(8, random_state=0)
    >>> X.shape, sorted(set(y.tolist()))
    ((8, 2), [0, 1, 2, 3])
    """
    rng = check_random_state(random_state)
    y = np.arange(n_samples) % n_classes
    t = rng.uniform(-1.5 * np.pi, 1.5 * np.pi, n_samples)
    X = np.column_stack([-np.sin(t) / 2 + y * shift, np.sign(t) * (np.cos(t) - 1) / 2])
    X = _add_noise(rng, X, noise)
    perm = rng.permutation(n_samples)
    return X[perm], y[perm]
