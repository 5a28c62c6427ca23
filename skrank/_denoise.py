"""Calibrating a denoiser on noisy data alone: Stein's unbiased risk estimate.

An autoencoder trained on noisy data has no clean copy to be judged against. When
the data are ``y = x + n`` with Gaussian noise ``n ~ N(0, sigma^2 I_D)``, Stein's
lemma gives the expected squared error of any (weakly differentiable) map ``g`` to
the clean points from the noisy ones only (Stein 1981):

    E ||g(y) - x||^2 = E [ ||g(y) - y||^2 - D sigma^2 + 2 sigma^2 div g(y) ],

``div g`` the trace of ``g``'s Jacobian. Along the line ``g_c(y) = y + c (r(y) - y)``
from the identity (``c = 0``) through the network's reconstruction ``r`` (``c = 1``)
the estimate is a quadratic in ``c``, least at

    c* = sigma^2 sum_i (D - div r(y_i)) / sum_i ||r(y_i) - y_i||^2.

Why the line matters: a denoising autoencoder trained on noisy data at noise
``s`` learns ``E[y | y + s e]``, a shrinkage towards the *noisy* data; across
the manifold, with ``s = sigma``, it removes about half the noise (``c* = 2``
would remove all of it, as in Noisier2Noise, Moran et al. 2020), while an
``alpha`` strong against the noise over-smooths (``c* < 1`` mixes the input back
in, measured 0.71 to 0.79 on noisy digits). Stein's lemma needs ``g`` fixed before
``y`` is drawn: on the rows a network was fitted to the estimate is optimistic
(0.01-0.04 against a true 0.25 on a sheet in R^12), so the estimators read it on
rows held out of training.
"""

import warnings

import numpy as np
import torch
from scipy.special import gammaincinv
from torch.func import jvp

from ._device import as_tensor

__all__ = ["divergence", "sure_gain", "sure_risk", "impossibly_low"]

#: Probes of the Jacobian's trace: exact (one per input dimension) up to this many
#: dimensions, Rademacher probes (Hutchinson's estimator) beyond: summed over
#: hundreds of points its error averages out.
N_PROBES = 64
#: A noise level is refused where the rows' spread falls below this quantile of
#: what noise of that level gives (three standard errors of a normal law).
NOISE_LEVEL_QUANTILE = 0.00135

#: Values (rows x features) one chunk of :func:`divergence` holds: 8 MiB of float32
#: per probe. Measured on 20,000 rows of 500 features: 27 s and 303 MB at this size,
#: 33 s and 652 MB in one piece, 73 s in chunks of 2^18 (the passes' overhead).
DIVERGENCE_BATCH_VALUES = 2**21


def divergence(module, X, *, n_probes=N_PROBES, generator=None):
    """The trace of the Jacobian of ``module`` (``R^D -> R^D``) at each row of ``X``.

    Exact when ``D <= n_probes`` (``D`` forward-mode products with the basis
    vectors); otherwise Hutchinson's unbiased estimate ``mean_p v_p^T J v_p`` over
    ``n_probes`` Rademacher vectors per row.

    Parameters
    ----------
    module : torch.nn.Module
    X : ndarray of shape (n_samples, D)
        In the module's units.
    n_probes : int, default=64
    generator : torch.Generator or None
        Draws the Rademacher probes.

    Returns
    -------
    div : ndarray of shape (n_samples,)
    """
    x = as_tensor(X, module)
    D = x.shape[1]
    exact = D <= n_probes
    # rows a chunk at a time: every probe is a forward-mode pass over the chunk, and
    # all rows at once held 15 times the data (60,000 rows of 500 features: 1.7 GB)
    chunk = max(1, DIVERGENCE_BATCH_VALUES // max(D, 1))
    parts = [_divergence_rows(module, x[i:i + chunk], exact, n_probes, generator)
             for i in range(0, x.shape[0], chunk)]
    total = torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64, device="cpu")
    return (total if exact else total / n_probes).numpy()


def _divergence_rows(module, x, exact, n_probes, generator):
    """Sum over the probes of ``v' J v`` at each row of ``x`` (one chunk)."""
    total = torch.zeros(x.shape[0], dtype=torch.float64, device="cpu")
    for p in range(x.shape[1] if exact else n_probes):
        if exact:
            v = torch.zeros_like(x)
            v[:, p] = 1
        else:
            signs = torch.randint(0, 2, x.shape, generator=generator, device="cpu")
            v = (2 * signs - 1).to(x)
        with torch.no_grad(), warnings.catch_warnings():
            # torch's first forward-mode product loads decompositions through its
            # own deprecated torch.jit.script (torch 2.13): not the user's to fix
            warnings.filterwarnings("ignore", r"`torch\.jit\.script` is deprecated",
                                    DeprecationWarning)
            _, jv = jvp(module, (x,), (v,))
        total += (v * jv).sum(1).to("cpu", torch.float64)
    return total


def _row_terms(module, X, generator):
    """``||r(y) - y||^2`` and ``D - div r(y)`` at each row of ``X``."""
    y = np.asarray(X, dtype=np.float64)
    chunk = max(1, DIVERGENCE_BATCH_VALUES // max(y.shape[1], 1))
    residual = np.empty(len(y))
    for i in range(0, len(y), chunk):
        with torch.no_grad():
            r = module(as_tensor(y[i:i + chunk], module)).to("cpu", torch.float64).numpy()
        residual[i:i + chunk] = np.sum((r - y[i:i + chunk]) ** 2, axis=1)
    shrink = y.shape[1] - divergence(module, X, generator=generator)
    return residual, shrink


def _terms(module, X, generator):
    """``sum ||r(y) - y||^2`` and ``sum (D - div r(y))`` over the rows of ``X``."""
    residual, shrink = _row_terms(module, X, generator)
    return float(np.sum(residual)), float(np.sum(shrink))


#: The fewest rows Stein's estimate reads the noise on (their spread needs two).
MIN_ROWS = 2


def _check_level(X, sigma):
    """A clear error for a noise level the rows cannot carry: Gaussian noise of
    level ``sigma`` in every coordinate gives the rows a spread (root mean square
    about the mean, with ``n - 1`` degrees of freedom: the mean is read from the
    same rows) whose square over ``sigma**2`` follows a chi-square law over its
    degrees of freedom. Refused below its 0.135% quantile (where a normal law puts
    three standard errors): pure noise of the stated level is refused once in 740.
    Measured with ``n`` in the divisor, pure noise of the right level was refused
    at 100 rows of 500 features (4 draws of 50), and at 20 rows on 41 of 50; with
    the bound ``1 + 3 sqrt(2 / dof)`` on the ratio's inverse, at 4 rows of one
    feature one draw in six."""
    X = np.asarray(X, dtype=np.float64)
    if X.shape[0] < MIN_ROWS:
        raise ValueError(f"Stein's estimate needs at least {MIN_ROWS} rows to read the "
                         f"noise against their spread; got {X.shape[0]}.")
    dof = (X.shape[0] - 1) * X.shape[1]
    # read in units of the largest value: squares of data near 1e300 overflow
    unit = float(np.abs(X).max()) or 1.0
    X, sigma = X / unit, sigma / unit
    spread = float(np.sqrt(np.sum((X - X.mean(0)) ** 2) / dof))
    # the chi-square quantile: 2 * gammaincinv(dof / 2, p); compared unsquared, as
    # a level 1e200 times the data's is a float whose square overflows
    if not sigma * np.sqrt(2 * gammaincinv(dof / 2, NOISE_LEVEL_QUANTILE) / dof) <= spread:
        ratio = sigma / spread if spread > 0 else np.inf
        raise ValueError(f"data_noise is {ratio:.3g} times the spread of the rows "
                         "(root mean square about their mean): noise that large "
                         "cannot be in them. Pass the standard deviation of the "
                         "noise in each feature of X.")


def _risk(gain, residual, shrink, sigma, n, D):
    """Stein's estimate per point of ``y + gain (r(y) - y)``: the quadratic
    ``c^2 |r-y|^2 - 2 c sigma^2 (D - div r) + N D sigma^2``, over ``N``."""
    return (gain**2 * residual - 2 * gain * sigma**2 * shrink + n * D * sigma**2) / n


def sure_risk(module, X, sigma, gain, *, generator=None):
    """Stein's estimate of the mean squared error of ``y + gain (r(y) - y)`` to the
    clean points under the noisy rows ``X`` (which ``module`` and ``gain`` must not
    have been fitted to), per point; arguments as :func:`sure_gain`'s."""
    _check_level(X, sigma)
    residual, shrink = _terms(module, X, generator)
    return _risk(gain, residual, shrink, sigma, *np.shape(X))


def shrunk_gain(residual, shrink, sigma):
    """``c*`` from the per-row terms, shrunk towards 1 by its sampling error.

    ``c* = sigma^2 sum s_i / sum r_i`` is read on a few held-out rows (a tenth of
    the training data): on 30 rows of a curve in R^2 its standard error was
    0.2-0.5, and the step it chose ranged over 1.0-3.9 where the best was 1.5,
    up to 60% more error than ``c = 1``. Its variance, by the delta method for a
    ratio, is ``n var(sigma^2 s_i - c* r_i) / (sum r_i)^2``; the gain is moved
    towards 1 (the network's own output) by the empirical-Bayes weight ``min(1,
    var / (c* - 1)^2)``: a normal prior around 1 whose spread is read by moments
    from the same estimate (James and Stein's positive part). Where the rows
    settle ``c*`` (64 features of noisy digits: 0.7, standard error 0.02) it
    moves by less than 1%.

    Parameters
    ----------
    residual, shrink : ndarray of shape (n_samples,)
        ``||r(y_i) - y_i||^2`` and ``D - div r(y_i)`` (at least 2 rows).
    sigma : float
        The noise level, in the rows' units.

    Returns
    -------
    gain : float
        At least 0; 1 when the reconstruction is the identity on the rows.

    Examples
    --------
    >>> import numpy as np
    >>> from skrank._denoise import shrunk_gain
    >>> sigma, shrink = 0.5, np.full(4, 2.0)
    >>> float(shrunk_gain(np.full(4, 0.25), shrink, sigma))  # rows agree: c* itself
    2.0
    >>> residual = np.array([0.1, 0.2, 0.3, 0.4])  # rows disagree: towards 1
    >>> c_star = float(sigma**2 * shrink.sum() / residual.sum())
    >>> round(c_star, 3), round(shrunk_gain(residual, shrink, sigma), 3)
    (2.0, 1.733)
    >>> float(shrunk_gain(np.array([0.05, 0.1, 0.2, 0.65]), shrink, sigma))  # all the way
    1.0
    """
    total = float(np.sum(residual))
    if not total > 0:
        return 1.0
    gain = sigma**2 * float(np.sum(shrink)) / total
    z = sigma**2 * np.asarray(shrink) - gain * np.asarray(residual)
    var = len(z) * float(np.var(z, ddof=1)) / total**2
    gap = (gain - 1.0) ** 2
    weight = 1.0 if gap <= var else var / gap
    return max(gain + weight * (1.0 - gain), 0.0)


def sure_gain(module, X, sigma, *, generator=None):
    """The step ``c`` along ``y + c (r(y) - y)`` of least Stein risk, shrunk towards
    1 by its sampling error (:func:`shrunk_gain`), and its risk.

    Parameters
    ----------
    module : torch.nn.Module
        The reconstruction ``r``, ``R^D -> R^D``.
    X : ndarray of shape (n_samples, D)
        Noisy points, in the module's units.
    sigma : float
        The standard deviation of their Gaussian noise, in the same units.
    generator : torch.Generator or None
        Draws :func:`divergence`'s probes when ``D`` is large.

    Returns
    -------
    gain : float
        ``c``, at least 0 (a negative step moves away from the reconstruction:
        then the input itself is the estimate); 1 when ``r`` is the identity on
        ``X``.
    risk : float
        The estimated mean squared error ``||g_c(y) - x||^2`` per point.
    """
    _check_level(X, sigma)
    rows = _row_terms(module, X, generator)
    gain = shrunk_gain(*rows, sigma)
    residual, shrink = (float(np.sum(t)) for t in rows)
    return gain, _risk(gain, residual, shrink, sigma, *np.shape(X))


def impossibly_low(risk, sigma, n, D):
    """Whether a risk estimate per point (in the units of ``sigma``) lies below zero by
    more than three of its standard errors, about ``sigma^2 sqrt(2 D / n)`` over
    ``n`` rows of ``D`` features: a squared error cannot, so the rows hold less noise
    than ``sigma`` (or noise that is not Gaussian in every feature, or rows the
    network was fitted to)."""
    return risk < -3 * sigma**2 * np.sqrt(2 * D / n)
