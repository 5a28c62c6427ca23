"""The papers' tasks, in the style of ``sklearn.datasets.make_*``.

Every generator is keyword-only after ``n_samples``, takes ``random_state`` and
documents its ground truth (the true rank or dimension).
"""

import math
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._device import check_memory
from ._params import Count

__all__ = [
    "make_bottleneck_regression",
    "make_low_rank_regression",
    "make_shifted_s",
    "make_noisy_curve",
    "make_manifold",
]


def _reserve(name, *shapes):
    """A clear MemoryError before drawing arrays that cannot fit: float64 arrays of
    these shapes, each also transformed once (a product, noise added)."""
    n_bytes = 2 * 8 * sum(math.prod(shape) for shape in shapes)
    check_memory(n_bytes, torch.device("cpu"), f"{name}'s arrays",
                 hint="Draw fewer samples or features.")


def _random_relu_net(rng, n_in, n_out, n_hidden):
    """A random shallow ReLU network ``u -> W2 relu(W1 u + b1)``; ``net(u, True)``
    counts each row's active units instead (its Jacobian's rank is at most that)."""
    W1 = rng.standard_normal((n_in, n_hidden)) / np.sqrt(n_in)
    b1 = 0.5 * rng.standard_normal(n_hidden)
    W2 = rng.standard_normal((n_hidden, n_out)) * np.sqrt(2.0 / n_hidden)

    def net(u, active=False):
        pre = u @ W1 + b1
        return np.count_nonzero(pre > 0, axis=1) if active else np.maximum(pre, 0.0) @ W2
    return net


def _standardize(a):
    a = a - a.mean(0)
    std = a.std()
    # one sample, or a random network whose ReLUs are all off, leaves no spread:
    # dividing would turn the centered zeros into NaN
    return a / std if std > 0 else a


def _add_noise(rng, a, noise):
    # drawn even for no noise, so that the draws after it (a shuffle) are the same
    # with and without noise and a clean and a noisy sample can be paired
    draw = rng.standard_normal(a.shape)
    if not noise:
        # a copy: the clean array is returned beside it, and editing one must not
        # edit the other
        return a.copy()
    with np.errstate(over="ignore"):
        noisy = a + noise * draw
    return _finite(noisy, "noise", noise, "the noisy values")


def _finite(a, name, value, what):
    """``a``, or a ValueError naming the parameter when finite parameters made it
    overflow (a noise of 1e308 times a normal draw of 2 is inf, which numpy only
    warns about)."""
    if not np.isfinite(a).all():
        raise ValueError(f"{name}={value!r} is too large: {what} exceed the largest "
                         f"float ({np.finfo(np.float64).max:.4g}) and would be inf; "
                         f"use a smaller {name}.")
    return a


def _latent_task(rng, n_samples, n_features, n_targets, n_latent, rank, n_hidden, noise):
    """``x = g(z)``, ``y = h(z_1..z_rank)`` for random shallow ReLU networks."""
    if rank > n_latent:
        raise ValueError(f"rank={rank} must not exceed n_latent={n_latent}.")
    _reserve("make_bottleneck_regression", (n_samples, n_latent + 2 * n_hidden + n_features
                                           + n_targets), (n_hidden, n_features + n_targets))
    g = _random_relu_net(rng, n_latent, n_features, n_hidden)
    h = _random_relu_net(rng, rank, n_targets, n_hidden)
    Z = rng.standard_normal((n_samples, n_latent))
    if n_features < n_latent:
        # fewer inputs than latent coordinates: no g is injective
        warnings.warn(
            f"n_features={n_features} < n_latent={n_latent}: g maps R^{n_latent} into "
            f"R^{n_features} and cannot be injective, so y is not a function of X and "
            "the stated rank is not its function's. Use n_features well above "
            "n_latent (the paper's 8 -> 20).", UserWarning, stacklevel=3)
    short = int(np.count_nonzero(g(Z, active=True) < n_latent))
    if short:
        # the samples' X then pins no z: rows of equal X took targets 7.8 apart
        warnings.warn(
            f"{short} of {n_samples} samples have fewer than n_latent={n_latent} active "
            f"units in g (n_hidden={n_hidden}): g is not injective there, so y is not a "
            "function of X and the stated rank is not its function's. Use an n_hidden "
            "well above n_latent (the default 100 left none short for n_latent=8).",
            UserWarning, stacklevel=3)
    X = _standardize(g(Z))
    return X, _add_noise(rng, _standardize(h(Z[:, :rank])), noise), Z


@validate_params(
    {
        "n_samples": [Count(Integral, 1, None, closed="left")],
        "n_features": [Count(Integral, 1, None, closed="left")],
        "n_targets": [Count(Integral, 1, None, closed="left")],
        "n_latent": [Count(Integral, 1, None, closed="left")],
        "rank": [Count(Integral, 1, None, closed="left")],
        "n_hidden": [Count(Integral, 1, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "return_latent": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_bottleneck_regression(n_samples=500, *, n_features=20, n_targets=20, n_latent=8,
                               rank=2, n_hidden=100, noise=0.0, return_latent=False,
                               random_state=None):
    """The rank-k regression task of Jacot (2023b), App. E.

    A latent ``z ~ N(0, I_{n_latent})`` is drawn; inputs are ``x = g(z)`` and
    targets ``y = h(z_1, ..., z_rank)`` for two random shallow ReLU networks
    ``g: R^n_latent -> R^n_features`` and ``h: R^rank -> R^n_targets``. Where ``g``
    is injective (likely for ``n_features`` well above ``n_latent``, as 8 -> 20; near
    it ``g`` often folds, silently; below it, it warns), ``f* = h o g^{-1}`` has rank
    ``rank``. Inputs and targets are centered and scaled to unit overall spread.

    Parameters
    ----------
    n_samples : int, default=500
        Number of samples.
    n_features, n_targets : int, default=20
        Dimensions of the inputs ``x = g(z)`` and of the targets ``y = h(z_1..z_rank)``.
    n_latent : int, default=8
        Dimension of the latent ``z``.
    rank : int, default=2
        The true function's bottleneck rank (at most ``n_latent``; ``h`` caps it
        at ``n_targets`` and ``n_hidden``, without an error).
    n_hidden : int, default=100
        Width of ``g`` and ``h``; well above ``n_latent``, or ``g`` is not injective (it warns).
    noise : float, default=0.0
        Standard deviation of Gaussian noise added to the (scaled) targets.
    return_latent : bool, default=False
        Also return the latent ``z``.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for reproducible output (scikit-learn glossary: random_state).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The inputs, centered and scaled (affine maps keep the rank; one sample: zeros).
    y : ndarray of shape (n_samples, n_targets)
        The targets, centered and scaled (plus ``noise``).
    Z : ndarray of shape (n_samples, n_latent)
        The latent variables; only when ``return_latent=True``.

    Raises
    ------
    ValueError
        If ``rank > n_latent``, or ``noise`` makes the output overflow (checked finite).

    References
    ----------
    A. Jacot, "Bottleneck structure in learned features: low-dimension vs regularity
    tradeoff", Advances in Neural Information Processing Systems 36 (NeurIPS 2023), App. E.

    Examples
    --------
    >>> from skrank.datasets import make_bottleneck_regression
    >>> [a.shape for a in make_bottleneck_regression(100, random_state=0)]
    [(100, 20), (100, 20)]
    """
    X, y, Z = _latent_task(check_random_state(random_state), n_samples, n_features,
                           n_targets, n_latent, rank, n_hidden, noise)
    return (X, y, Z) if return_latent else (X, y)


@validate_params(
    {
        "n_samples": [Count(Integral, 1, None, closed="left")],
        "n_features": [Count(Integral, 1, None, closed="left")],
        "n_targets": [Count(Integral, 1, None, closed="left")],
        "rank": [Count(Integral, 1, None, closed="left")],
        "n_hidden": [Count(Integral, 1, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_low_rank_regression(n_samples=300, *, n_features=50, n_targets=50, rank=5,
                             n_hidden=100, noise=0.0, random_state=None):
    """Generate the rank-5 task of Jacot (2023a), Fig. 1: ``R^50 -> R^50``, rank 5.

    Inputs ``x ~ N(0, I)``; targets ``y = h(P x)`` where ``P`` has ``rank``
    random orthonormal rows and ``h`` is a random shallow ReLU network. The true
    function has Jacobian rank and bottleneck rank ``rank``. Targets are centered
    and scaled to unit overall standard deviation; targets without spread (a
    single sample) are left centered, all zeros.

    Parameters
    ----------
    n_samples : int, default=300
        Number of samples.
    n_features : int, default=50
        Dimension of the inputs.
    n_targets : int, default=50
        Dimension of the targets.
    rank : int, default=5
        Rank of the projection ``P``, the true function's rank; must not exceed
        ``n_features``. With ``n_targets`` or ``n_hidden`` below it, ``h`` caps the
        rank at the smaller of the two (no error).
    n_hidden : int, default=100
        Width of the random network ``h``.
    noise : float, default=0.0
        Standard deviation of Gaussian noise added to the (scaled) targets.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for reproducible output; see the scikit-learn
        glossary entry for ``random_state``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The inputs, standard normal.
    y : ndarray of shape (n_samples, n_targets)
        The targets, centered and scaled (plus ``noise``).

    Raises
    ------
    ValueError
        If ``noise`` is so large that the noisy values overflow (are inf): the
        output is checked to be finite.

    References
    ----------
    A. Jacot, "Implicit bias of large depth networks: a notion of rank for
    nonlinear functions", International Conference on Learning Representations
    (ICLR) 2023, Fig. 1.

    Examples
    --------
    >>> from skrank.datasets import make_low_rank_regression
    >>> X, y = make_low_rank_regression(random_state=0)
    >>> X.shape, y.shape
    ((300, 50), (300, 50))
    """
    return _low_rank_task(check_random_state(random_state), n_samples, n_features,
                          n_targets, rank, n_hidden, noise)


def _low_rank_task(rng, n_samples, n_features, n_targets, rank, n_hidden, noise):
    """``x ~ N(0, I)``, ``y = h(P x)`` for a random projection ``P`` of rank ``rank``."""
    if rank > n_features:
        raise ValueError(f"rank={rank} must not exceed n_features={n_features}.")
    _reserve("make_low_rank_regression", (n_samples, n_features + n_hidden + n_targets),
             (n_features, rank), (n_hidden, n_targets))
    P = np.linalg.qr(rng.standard_normal((n_features, rank)))[0]
    h = _random_relu_net(rng, rank, n_targets, n_hidden)
    X = rng.standard_normal((n_samples, n_features))
    y = _add_noise(rng, _standardize(h(X @ P)), noise)
    return X, y


@validate_params(
    {
        "n_samples": [Count(Integral, 1, None, closed="left")],
        "n_classes": [Count(Integral, 2, None, closed="left")],
        "shift": [Interval(Real, 0, None, closed="neither")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_shifted_s(n_samples=400, *, n_classes=4, shift=0.6, noise=0.05,
                   random_state=None):
    """Draw classes from identical inverted 'S' curves translated along x.

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
        Number of classes (curves).
    shift : float, default=0.6
        Translation between consecutive classes.
    noise : float, default=0.05
        Standard deviation of Gaussian noise added to both coordinates.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for reproducible output; see the scikit-learn
        glossary entry for ``random_state``.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
        The points.
    y : ndarray of shape (n_samples,)
        Class index 0..n_classes - 1.

    Raises
    ------
    ValueError
        If ``shift`` or ``noise`` is so large that the points overflow (are
        inf): the output is checked to be finite; if ``n_samples`` is below
        ``n_classes`` (a class would have no point).

    Examples
    --------
    >>> from skrank.datasets import make_shifted_s
    >>> X, y = make_shifted_s(8, random_state=0)
    >>> X.shape, sorted(set(y.tolist()))
    ((8, 2), [0, 1, 2, 3])
    """
    if n_samples < n_classes:
        raise ValueError(f"make_shifted_s needs at least one point per class: "
                         f"n_samples={n_samples} < n_classes={n_classes}.")
    _reserve("make_shifted_s", (n_samples, 6))
    rng = check_random_state(random_state)
    y = np.arange(n_samples) % n_classes
    t = rng.uniform(-1.5 * np.pi, 1.5 * np.pi, n_samples)
    with np.errstate(over="ignore"):
        X = np.column_stack([-np.sin(t) / 2 + y * shift, np.sign(t) * (np.cos(t) - 1) / 2])
    _finite(X, "shift", shift, f"the curves, translated by up to {n_classes - 1} * shift,")
    X = _add_noise(rng, X, noise)
    perm = rng.permutation(n_samples)
    return X[perm], y[perm]


@validate_params(
    {
        "n_samples": [Count(Integral, 1, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_noisy_curve(n_samples=300, *, noise=0.05, random_state=None):
    """Sample points near a 1-D curve in the plane (Jacot 2023a, Fig. 3B).

    The clean curve is ``(t, sin(2 t) / 2 + t^2 / 4)`` for ``t ~ U(-1.5, 1.5)``,
    a bent arc of intrinsic dimension 1; Gaussian noise of standard deviation
    ``noise`` is added to both coordinates.

    Parameters
    ----------
    n_samples : int, default=300
        Number of points.
    noise : float, default=0.05
        Standard deviation of Gaussian noise added to both coordinates.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for reproducible output; see the scikit-learn
        glossary entry for ``random_state``.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
        Noisy points.
    X_clean : ndarray of shape (n_samples, 2)
        The same points before noise: the denoising target.

    Raises
    ------
    ValueError
        If ``noise`` is so large that the noisy values overflow (are inf): the
        output is checked to be finite.

    Examples
    --------
    >>> from skrank.datasets import make_noisy_curve
    >>> X, X_clean = make_noisy_curve(5, random_state=0)
    >>> X.shape, X_clean.shape
    ((5, 2), (5, 2))
    """
    _reserve("make_noisy_curve", (n_samples, 6))
    rng = check_random_state(random_state)
    t = rng.uniform(-1.5, 1.5, n_samples)
    clean = np.column_stack([t, np.sin(2 * t) / 2 + t**2 / 4])
    return _add_noise(rng, clean, noise), clean


def _swiss_roll(rng, n):
    # one turn of a roll, radius growing with the angle, scaled to unit size
    t = np.pi * (0.5 + 2.0 * rng.uniform(size=n))
    h = rng.uniform(-1.0, 1.0, size=n)
    return np.column_stack([t * np.cos(t), h * t.max(), t * np.sin(t)]) / t.max(), 2


def _helix(rng, n):
    t = rng.uniform(0, 3 * np.pi, n)
    return np.column_stack([np.cos(t), np.sin(t), t / (1.5 * np.pi) - 1.0]), 1


def _sphere_cap(rng, n):
    v = rng.standard_normal((n, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    v[:, 2] = np.abs(v[:, 2])
    return v, 2


_MANIFOLDS = {"swiss_roll": _swiss_roll, "curve": _helix, "sphere": _sphere_cap}


@validate_params(
    {
        "n_samples": [Count(Integral, 1, None, closed="left")],
        "kind": [StrOptions({"swiss_roll", "curve", "sphere"})],
        "n_features": [Count(Integral, 3, None, closed="left"), None],
        "noise": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_manifold(n_samples=500, *, kind="swiss_roll", n_features=None, noise=0.0,
                  random_state=None):
    """Sample points on a nonlinear manifold of known dimension, optionally noisy.

    ``'curve'``: a helix of 1.5 turns, dimension 1; ``'swiss_roll'``: one turn of
    a rolled sheet ``(t cos t, h, t sin t)``, ``t in [pi/2, 5 pi/2]``, divided by
    the sample's largest ``t`` (its size moves slightly with the draw), dimension
    2 (the middle coordinate ``h in [-1, 1]`` is not divided); ``'sphere'``: a
    hemisphere cap, dimension 2. The sample is centered (its mean is
    subtracted: the cap's points then lie 0.5 to 1.1 from the origin). The
    points live in R^3, or in R^n_features through a random isometric embedding
    when ``n_features`` is larger; the embedding is drawn after the points, so
    another ``n_samples`` with the same ``random_state`` embeds in another
    subspace (draw training and test points in one call, then split).

    Parameters
    ----------
    n_samples : int, default=500
        Number of points.
    kind : {'swiss_roll', 'curve', 'sphere'}, default='swiss_roll'
        Which manifold (see above).
    n_features : int or None, default=None
        Ambient dimension (at least 3); ``None`` means 3.
    noise : float, default=0.0
        Standard deviation of Gaussian noise added in the ambient space.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for reproducible output; see the scikit-learn
        glossary entry for ``random_state``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The (noisy) points.
    X_clean : ndarray of shape (n_samples, n_features)
        The points on the manifold.
    dimension : int
        The manifold's intrinsic dimension.

    Raises
    ------
    ValueError
        If ``noise`` is so large that the noisy values overflow (are inf): the
        output is checked to be finite.

    Examples
    --------
    >>> from skrank.datasets import make_manifold
    >>> X, X_clean, dim = make_manifold(100, kind="swiss_roll", random_state=0)
    >>> X.shape, dim
    ((100, 3), 2)
    """
    _reserve("make_manifold", (n_samples, 2 * (n_features or 3)), (n_features or 3, 3))
    rng = check_random_state(random_state)
    clean, dim = _MANIFOLDS[kind](rng, n_samples)
    clean = clean - clean.mean(0)
    if n_features is not None and n_features > 3:
        Q = np.linalg.qr(rng.standard_normal((n_features, 3)))[0]
        clean = clean @ Q.T
    return _add_noise(rng, clean, noise), clean, dim
