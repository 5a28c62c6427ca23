"""Spectra and ranks of what a network learned.

Every function takes either a fitted skrank estimator's ``module_``, any
``nn.Sequential``-style torch model whose submodules, run in order, compute it (nested
``nn.Sequential`` / ``nn.ModuleList`` are opened; the functions that read inputs ``X``
check it on the first rows and raise a ``TypeError`` otherwise: activations applied
functionally in ``forward``, ``F.relu``, are not seen), or for the weight-only
measures a list of weight matrices (numpy arrays or tensors). The
estimator itself is refused with a ``TypeError``: its ``module_`` reads inputs in the
estimator's normalized units, ``(X - est.input_mean_) / est.input_scale_``, and
``est.diagnose(X)`` reads it on raw inputs. Every public function that reads inputs
``X`` checks them (2-D, finite, as many columns as the network's first layer takes).

The rank of a spectrum is decided by :func:`effective_rank`: singular values below
``tol * s_max`` never count, and among the others the cut is placed at the largest
ratio gap ``s_k / s_{k+1}`` when that gap is clear (at least ``min_gap``). A spectrum
``[1, 0.9, 0.02, 0.01]`` therefore has rank 2 for any ``tol`` between 0.02 and 0.9,
and a slowly decaying spectrum with no gap is cut where it falls below ``tol``.

References
----------
.. [1] A. Jacot, "Implicit bias of large depth networks: a notion of rank for
   nonlinear functions", ICLR 2023.
.. [2] A. Jacot, "Bottleneck structure in learned features: low-dimension vs
   regularity tradeoff", NeurIPS 2023.
"""

import functools
from contextlib import contextmanager
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
import scipy.sparse
import torch
from scipy import ndimage
from sklearn.base import BaseEstimator, is_classifier
from sklearn.utils import check_array
from sklearn.utils._param_validation import HasMethods, Interval, validate_params
from torch import nn

from ._device import as_tensor, check_dense
from ._networks import Network, as_network
from ._params import Count

__all__ = [
    "DEFAULT_RANK_TOL",
    "DEFAULT_MIN_GAP",
    "FIDELITY_SLACK",
    "effective_rank",
    "read_rank",
    "input_rank",
    "RankReading",
    "diagnose",
    "Report",
    "factored_jacobian_spectra",
    "bottleneck_fidelity",
    "singular_values",
    "layer_spectra",
    "layer_outputs",
    "representation_spectra",
    "representation_ranks",
    "bottleneck",
    "principal_components",
    "projected_layer_spectra",
    "Bottleneck",
    "jacobian_spectra",
    "jacobian_rank",
    "local_dimension",
    "parameter_norm",
    "nonlinearity_impact",
    "count_tripoints",
    "MAX_RESOLUTION",
]

#: Default relative tolerance of :func:`effective_rank` (singular values below
#: ``DEFAULT_RANK_TOL * s_max`` never count towards the rank).
DEFAULT_RANK_TOL = 0.1
#: Default ``min_gap`` of :func:`effective_rank`.
DEFAULT_MIN_GAP = 3.0


def _to_numpy(a, name="weights"):
    # a complex weight would lose its imaginary part to the cast, with a warning
    if (a.is_complex() if isinstance(a, torch.Tensor) else np.iscomplexobj(a)):
        raise TypeError("Complex weights are not supported: the networks and "
                        "readings here are real.")
    return _real_array(a, name)


def _real_array(a, name):
    """``a`` as a float64 array, refused by ``name`` when it is not real numbers
    (numpy's "could not convert string to float", "setting an array element
    with a sequence" for a sparse matrix, or a complex cast)."""
    if scipy.sparse.issparse(a):
        raise TypeError(f"{name} is a sparse matrix; pass a dense array "
                        "(.toarray()).")
    if isinstance(a, torch.Tensor):
        check_dense(a, name)
        if a.is_complex():
            raise TypeError(f"{name} must be real numbers, got dtype {a.dtype}.")
        # bfloat16, which numpy lacks, widened on the way
        return a.detach().to("cpu", torch.float64).numpy()
    try:
        if np.iscomplexobj(a):
            raise TypeError("complex")
        return np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be real numbers, got {_kind(a)} ({exc}).") \
            from None


def _kind(a):
    return type(a).__name__ if not hasattr(a, "dtype") else f"dtype {a.dtype}"


def _check_model(model, *, weights=False):
    """Refuse anything but a network (or, with ``weights``, an iterable of weights);
    an estimator is refused by name, since its inputs are not its network's."""
    what = ("a torch network or a list of 2-D weight matrices" if weights
            else "a torch network (torch.nn.Module)")
    if isinstance(model, nn.Module):
        return
    if isinstance(model, BaseEstimator):
        raise TypeError(
            f"Expected {what}, got the estimator {type(model).__name__}. Pass its "
            "fitted network, est.module_ (it reads inputs in the estimator's normalized "
            "units, (X - est.input_mean_) / est.input_scale_), or call est.diagnose(X) "
            "to read the estimator on raw inputs."
        )
    if not (weights and np.iterable(model)):
        raise TypeError(f"Expected {what}, got {type(model).__name__}.")


def _n_inputs(model):
    """How many features the network takes; ``None`` when its first layer does not say
    (then torch's own error is all there is)."""
    if isinstance(model, Network):
        weights = model.weight_matrices()
        return weights[0].shape[1] if weights else None
    chain = as_network(model).children_
    return chain[0].in_features if chain and isinstance(chain[0], nn.Linear) else None


def _detached(a):
    """A tensor without its autograd graph (numpy refuses one that requires grad);
    anything else as it is."""
    return a.detach() if isinstance(a, torch.Tensor) else a


def _check_parameters(model):
    """Refuse parameters the readings cannot use: non-finite ones, and bfloat16,
    whose rounding (1/128) the readings take for no variation (a cut that kept
    0.75 of the output read fidelity 1.0; outputs spread by 0.03-0.11 read as
    constant)."""
    for pname, t in model.named_parameters():
        _check_finite(t.detach(), f"The network's parameter {pname!r}")
        if t.dtype == torch.bfloat16:
            raise TypeError(
                f"The network's parameter {pname!r} is bfloat16, whose rounding the "
                "readings cannot tell from the network's variation; read a float32 "
                "copy (copy.deepcopy(model).float()).")


def _check_input(model, X, *, name="X", min_samples=1, chain=True):
    """``X`` as a tensor in the network's device and dtype, validated.

    Only the public functions call it: the private helpers behind them take
    tensors already checked (``diagnose`` reads the same ``X`` five ways). With
    ``chain``, a model that is not a :class:`Network` must be computed by its
    chain reading (:func:`as_network`) on the first rows of ``X``.
    """
    _check_model(model)
    _check_parameters(model)
    if isinstance(X, torch.Tensor):
        # as numpy inputs are: a sparse tensor failed deep in torch, a complex one
        # was cast to real with torch's warning only
        check_dense(X, name)
        if X.is_complex():
            raise ValueError(f"Complex data not supported: {name} has dtype {X.dtype}.")
        if X.ndim != 2:
            raise ValueError(
                f"Expected {name} of shape (n_samples, n_features), got a tensor of "
                f"shape {tuple(X.shape)}; reshape a single sample with "
                f"{name}.reshape(1, -1), a single feature with {name}.reshape(-1, 1)."
            )
        if X.shape[0] < min_samples:
            raise ValueError(f"Found {name} with {X.shape[0]} sample(s) (shape="
                             f"{tuple(X.shape)}) while a minimum of {min_samples} is "
                             "required.")
    else:
        # finiteness is checked once, below, in the network's dtype: a float64
        # value beyond float32's range only turns infinite there
        X = check_array(X, dtype="numeric", ensure_all_finite=False,
                        ensure_min_samples=min_samples, input_name=name)
    # readings, not training: a tensor that requires grad (an nn.Parameter) is
    # read by value
    x = as_tensor(_detached(X), model)
    # without the chain, model(x) is all that is read: its first registered
    # Linear need not be the one X enters (a module that registers its output
    # layer first, or slices X, was refused)
    n_in = _n_inputs(model) if chain or isinstance(model, Network) else None
    if n_in is not None and x.shape[1] != n_in:
        raise ValueError(
            f"{name} has {x.shape[1]} features, but the network takes {n_in} (the "
            "in_features of its first layer); pass inputs with the columns it was "
            "trained on."
        )
    if not torch.isfinite(x).all():
        raise ValueError(
            f"{name} contains NaN or infinity (in the network's dtype, {x.dtype}); "
            "drop or impute those values."
        )
    if chain and not isinstance(model, Network):
        as_network(model).check(x)
    return x


@contextmanager
def _inference(model):
    """Forward passes that read ``model`` and leave it as it was: in eval mode
    (BatchNorm's running statistics and Dropout's random masks untouched), each
    submodule's mode restored afterwards."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


def _reads_network(fn):
    """Run a public reading of a network under :func:`_inference`."""
    @functools.wraps(fn)
    def reading(model, *args, **kwargs):
        if not isinstance(model, nn.Module):
            return fn(model, *args, **kwargs)
        with _inference(model):
            return fn(model, *args, **kwargs)
    return reading


def _check_finite(a, name):
    finite = torch.isfinite(a).all() if isinstance(a, torch.Tensor) else np.isfinite(a).all()
    if not finite:
        raise ValueError(
            f"{name} contains NaN or infinity, where singular values are undefined "
            "(did a network diverge?); drop or replace those values."
        )
    return a


def singular_values(matrix):
    """Singular values of a 2-D array or tensor, in decreasing order, as float64.

    Parameters
    ----------
    matrix : array-like or torch.Tensor of shape (m, n)
        The matrix, finite; a tensor is detached and copied to the CPU.

    Returns
    -------
    s : ndarray of shape (min(m, n),)
        The singular values, largest first (empty for an empty matrix).

    Examples
    --------
    >>> import numpy as np
    >>> from skrank.diagnostics import singular_values
    >>> singular_values(np.diag([3.0, 1.0])).round(6).tolist()
    [3.0, 1.0]
    """
    m = _to_numpy(matrix, "matrix")
    if m.ndim != 2:
        raise ValueError(f"Expected a 2-D matrix, got an array of shape {m.shape}.")
    if m.size == 0:
        return np.zeros(0)
    return np.linalg.svd(_check_finite(m, "matrix"), compute_uv=False)


@dataclass(frozen=True)
class RankReading:
    """A rank with its evidence, as :func:`read_rank` returns it.

    Parameters
    ----------
    rank : int
        The effective rank ``k`` of the spectrum.
    gap : float
        The ratio ``s_k / s_{k+1}`` at the cut (``inf`` when ``s_{k+1}`` is zero
        or missing, ``nan`` for rank 0).
    clear : bool
        Whether ``gap`` reached ``min_gap``: when it did not, the spectrum decays
        without a gap and ``rank`` only counts the values above the floor, a
        number that moves with ``tol``. With no value under the floor, the rank is
        the number of values, ``gap`` is ``inf`` and the reading counts as clear:
        there is no cut to doubt.

    Examples
    --------
    >>> from skrank.diagnostics import read_rank
    >>> r = read_rank([3.0, 2.5, 0.1, 0.05])
    >>> r.rank, r.clear  # a gap of 25 between the second and third values
    (2, True)
    """

    rank: int
    gap: float
    clear: bool


@validate_params(
    {
        "spectrum": ["array-like"],
        "tol": [Interval(Real, 0, 1, closed="neither")],
        "min_gap": [Interval(Real, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def read_rank(spectrum, *, tol=DEFAULT_RANK_TOL, min_gap=DEFAULT_MIN_GAP):
    """The rule behind every rank in skrank, with its evidence (see :func:`effective_rank`).

    Parameters
    ----------
    spectrum : array-like of shape (n,)
        Finite singular values (any order; their absolute values are read).
    tol : float in (0, 1), default=0.1
        Relative floor: values at or below ``tol * max(spectrum)`` never count.
    min_gap : float >= 1, default=3.0
        Least ratio ``s_k / s_{k+1}`` that counts as a clear gap.

    Returns
    -------
    reading : RankReading
        The rank, the gap at the cut and whether that gap is clear.

    Examples
    --------
    >>> from skrank.diagnostics import read_rank
    >>> r = read_rank([1.0, 0.8, 0.05, 0.001])
    >>> r.rank, round(r.gap, 1), r.clear
    (2, 16.0, True)
    >>> r = read_rank([1.0, 0.7, 0.5, 0.35, 0.25, 0.15, 0.09])  # no gap
    >>> r.rank, r.clear
    (6, False)
    """
    return _read_rank(_checked_spectrum(spectrum), tol=tol, min_gap=min_gap)


def _checked_spectrum(spectrum):
    s = _check_finite(_real_array(_detached(spectrum), "spectrum"), "spectrum")
    if s.ndim != 1:
        raise ValueError(f"Expected one spectrum (a 1-D array of singular values), got "
                         f"shape {s.shape}.")
    return s


def _read_rank(spectrum, *, tol, min_gap):
    """:func:`read_rank` unchecked, for spectra skrank computed itself (a diverged
    network's non-finite spectrum reads as rank 0 there)."""
    s = np.sort(np.abs(np.asarray(spectrum, dtype=np.float64).ravel()))[::-1]
    if s.size == 0 or not np.isfinite(s).all() or s[0] <= 0:
        return RankReading(rank=0, gap=float("nan"), clear=True)
    K = int(np.count_nonzero(s > tol * s[0]))
    if K == s.size:
        # nothing under the floor: the last value has no gap to measure (a ratio to
        # a missing zero would win over every real gap); the internal gaps decide,
        # and without a clear one every value counts
        gaps = s[: K - 1] / s[1:K]
        k = int(np.argmax(gaps)) if gaps.size else 0
        # equal values are no gap, whatever min_gap (at 1 a flat spectrum read 1)
        if gaps.size and gaps[k] >= min_gap and gaps[k] > 1:
            return RankReading(rank=k + 1, gap=float(gaps[k]), clear=True)
        return RankReading(rank=K, gap=float("inf"), clear=True)
    with np.errstate(divide="ignore", over="ignore"):
        # an exact zero after the floor is an infinite gap (a rank-deficient input),
        # and so is a subnormal one (the ratio overflows)
        gaps = s[:K] / s[1 : K + 1]
    k = int(np.argmax(gaps))
    if gaps[k] >= min_gap:
        return RankReading(rank=k + 1, gap=float(gaps[k]), clear=True)
    return RankReading(rank=K, gap=float(gaps[K - 1]), clear=False)


@validate_params(
    {
        "spectrum": ["array-like"],
        "tol": [Interval(Real, 0, 1, closed="neither")],
        "min_gap": [Interval(Real, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def effective_rank(spectrum, *, tol=DEFAULT_RANK_TOL, min_gap=DEFAULT_MIN_GAP):
    """Rank of a spectrum: cut at its largest clear gap above a relative floor.

    Parameters
    ----------
    spectrum : array-like of shape (n,)
        Non-negative finite singular values (any order).
    tol : float in (0, 1), default=0.1
        Singular values at or below ``tol * max(spectrum)`` never count; ``K``
        values remain, ``s_1 >= ... >= s_K``.
    min_gap : float >= 1, default=3.0
        If the largest ratio ``s_k / s_{k+1}`` (``k <= K``, ``s_{K+1}`` being the
        first value under the floor; ``k < K`` when no value is under it) is at
        least ``min_gap``, the rank is that ``k`` (the smallest such ``k`` when
        ratios tie); otherwise the rank is ``K`` (a spectrum that decays without
        a clear gap, or a flat full-rank one).

    Returns
    -------
    rank : int

    See Also
    --------
    read_rank : the same rule, with the gap at the cut as evidence.

    Notes
    -----
    In the bottleneck of a deep L2-regularized network the spectrum has ``k``
    values of order one and the rest of order ``L^{-1/2}`` or smaller (Jacot
    2023b, Thm. 6), so a gap rule is robust where a bare threshold is not; the
    floor keeps numerical noise far below the signal from creating spurious gaps,
    and ``min_gap`` keeps a smoothly decaying (full-rank) spectrum from being cut
    after its first value.

    Examples
    --------
    >>> from skrank.diagnostics import effective_rank
    >>> effective_rank([1.0, 0.8, 0.09, 0.001])
    2
    >>> effective_rank([1.0, 0.6, 0.45, 0.3, 0.2, 0.01])
    5
    >>> effective_rank([1.0, 1.0, 0.14])  # a clear gap above the floor
    2
    >>> effective_rank([0.0, 0.0])
    0
    """
    s = _checked_spectrum(spectrum)
    if (s < 0).any():
        raise ValueError(
            "spectrum holds negative values, which singular values never are; pass "
            "singular values (read_rank reads absolute values, if that is meant)."
        )
    return _read_rank(s, tol=tol, min_gap=min_gap).rank


def _weights(model):
    _check_model(model, weights=True)
    if isinstance(model, nn.Module):
        return list(as_network(model).weight_matrices())
    return list(model)


def layer_spectra(model):
    """Singular values of every weight matrix, in layer order.

    Parameters
    ----------
    model : torch.nn.Module or list of 2-D arrays
        A network (its ``nn.Linear`` weights in order; a fitted estimator's
        ``module_``, not the estimator) or the weight matrices.

    Returns
    -------
    spectra : list of ndarray
        ``spectra[l]`` holds the ``min(n_out, n_in)`` singular values of ``W_{l+1}``.

    Examples
    --------
    >>> import numpy as np
    >>> from skrank.diagnostics import layer_spectra
    >>> [s.round(3).tolist() for s in layer_spectra([np.eye(2), 2 * np.eye(2)])]
    [[1.0, 1.0], [2.0, 2.0]]
    """
    weights = _weights(model)
    if not weights and isinstance(model, nn.Module) and any(True for _ in model.parameters()):
        # weights of other layers (convolutions) would read as a network without any
        raise TypeError(f"{type(model).__name__} has no nn.Linear layer: layer_spectra "
                        "reads nn.Linear weight matrices (or a list of 2-D weights).")
    return [singular_values(w) for w in weights]


@_reads_network
def layer_outputs(model, X):
    """Compute the pre-activations and hidden activations of a network over ``X``.

    Uses the model's own ``forward_layers`` when it has one; any other module is
    read as the chain of its submodules run in order (nested containers opened),
    ``z_l`` being the output of the l-th ``nn.Linear`` and ``a_l`` the input of the
    next one; a ``TypeError`` says when that chain does not compute the model.

    Parameters
    ----------
    model : torch.nn.Module
        A network (a fitted estimator's ``module_``, not the estimator, or any
        ``nn.Sequential`` of ``nn.Linear`` layers and activations).
    X : array-like of shape (n_samples, n_features)
        Finite inputs, converted to the model's device and dtype.

    Returns
    -------
    pre : list of torch.Tensor
        The pre-activations ``[z_1 .. z_L]``, ``z_L`` being the output of the last
        ``nn.Linear``: the network's output unless modules follow it (a final
        ``nn.Sigmoid``).
    post : list of torch.Tensor
        The hidden activations ``[a_1 .. a_{L-1}]``.

    Examples
    --------
    >>> import torch
    >>> from skrank.diagnostics import layer_outputs
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(),
    ...                           torch.nn.Linear(4, 2))
    >>> pre, post = layer_outputs(net, torch.randn(5, 3))
    >>> [z.shape[1] for z in pre], [a.shape[1] for a in post]
    ([4, 2], [4])
    """
    return _layer_outputs(model, _check_input(model, X, min_samples=0))


def _layer_outputs(model, x):
    with torch.no_grad():
        outputs = as_network(model).forward_layers(x)
    if not all(bool(torch.isfinite(a).all()) for part in outputs for a in part):
        raise _overflow()
    return outputs


def _overflow():
    # finite parameters and inputs (both checked): the arithmetic overflowed
    return ValueError("The network's layers overflow (non-finite values) on these "
                      "inputs: they are far outside the scale it computes in.")


def _spectra_of(reps, center):
    out = []
    for a in reps:
        a = a.to(torch.float64)
        if center:
            a = a - a.mean(0, keepdim=True)
        out.append(_svdvals(a))
    return out


@_reads_network
def representation_spectra(model, X, *, center=False, outputs=None):
    """Singular values of each hidden representation ``A_l`` over the inputs ``X``.

    Parameters
    ----------
    model : torch.nn.Module
    X : array-like of shape (n_samples, n_features)
    center : bool, default=False
        Subtract the mean representation first. Uncentered spectra are Jacot (2023a)'s
        Fig. 1; centered ones drop the constant offset direction, so that a
        representation lying on a k-dimensional affine plane shows k values.
    outputs : tuple or None, default=None
        ``layer_outputs(model, X)`` when already computed (saves a forward pass).

    Returns
    -------
    spectra : ndarray of shape (L - 1, min(n_samples, width))
        Rows of narrower layers are padded with zeros.

    Examples
    --------
    >>> import torch
    >>> from skrank.diagnostics import representation_spectra
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(),
    ...                           torch.nn.Linear(4, 2))
    >>> representation_spectra(net, torch.randn(10, 3)).shape
    (1, 4)
    """
    _, post = outputs if outputs is not None else layer_outputs(model, X)
    spectra = _spectra_of(post, center)
    # layers of unequal width: pad with zeros (a narrower layer has no more values)
    out = np.zeros((len(spectra), max((s.size for s in spectra), default=0)))
    for row, s in zip(out, spectra):
        row[: s.size] = s
    return out


@validate_params(
    {"tol": [Interval(Real, 0, 1, closed="neither")]}, prefer_skip_nested_validation=True
)
@_reads_network
def representation_ranks(model, X, *, tol=DEFAULT_RANK_TOL, outputs=None):
    """Effective rank of each centered hidden representation (see :func:`effective_rank`).

    Parameters
    ----------
    model : torch.nn.Module
        A network with at least one hidden layer.
    X : array-like of shape (n_samples, n_features)
        Inputs over which the representations are measured.
    tol : float in (0, 1), default=0.1
        Relative floor of the rank rule (:func:`effective_rank`).
    outputs : tuple or None, default=None
        ``layer_outputs(model, X)`` when already computed (saves a forward pass).

    Returns
    -------
    ranks : ndarray of int of shape (L - 1,)
        The rank of each hidden representation ``a_1 .. a_{L-1}``.

    Examples
    --------
    >>> import torch
    >>> from skrank.diagnostics import representation_ranks
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Identity(),
    ...                           torch.nn.Linear(1, 3))
    >>> representation_ranks(net, torch.randn(20, 3)).tolist()
    [1]
    """
    _, post = outputs if outputs is not None else layer_outputs(model, X)
    # each layer's own values: the zeros that pad a narrower layer in
    # representation_spectra would read as an infinite gap behind its last value
    return np.array([effective_rank(s, tol=tol) for s in _spectra_of(post, True)],
                    dtype=int)


#: A layer input counts as carrying a constant offset when its mean holds at least
#: this fraction of its mean squared norm (ReLU layers: typically 0.3-0.9; centered
#: linear layers: about 1 / n_samples).
OFFSET_FRACTION = 0.1


def _offset_free_spectrum(W, a, tol=DEFAULT_RANK_TOL):
    """Singular values of ``W`` with the input's mean direction projected out.

    With penalized biases, a deep network carries its constant offset through a
    weight direction of its own: middle weight matrices show ``k + 1`` singular
    values of order one. Projecting out the mean of the layer input ``a`` (only
    when that mean is a real offset, see ``OFFSET_FRACTION``) leaves ``k``.
    """
    W = W.detach().to(torch.float64)
    a = a.to(device=W.device, dtype=torch.float64)
    m = a.mean(0)
    mm = float(m @ m)
    s = torch.linalg.svdvals(W)
    if mm > OFFSET_FRACTION * float(a.square().sum(1).mean()) and mm > 0:
        projected = torch.linalg.svdvals(W - torch.outer(W @ m, m) / mm)
        # when the mean is the only direction W sees (a 1-D input, say), it is
        # the signal, not an offset beside it
        if s.numel() and projected[0] > tol * s[0]:
            s = projected
    return s.cpu().numpy()


@validate_params(
    {"tol": [Interval(Real, 0, 1, closed="neither")]}, prefer_skip_nested_validation=True
)
@_reads_network
def projected_layer_spectra(model, X, *, tol=DEFAULT_RANK_TOL, outputs=None):
    """Singular values of each ``W_l`` with its input's offset direction removed.

    Parameters
    ----------
    model : torch.nn.Module
    X : array-like of shape (n_samples, n_features)
        Inputs over which each layer's mean input is measured.
    tol : float in (0, 1), default=0.1
        The mean direction is removed only when the spectrum without it keeps a
        value above ``tol`` times the largest singular value of ``W_l`` (when the
        mean is all ``W_l`` sees, it is the signal, not an offset).
    outputs : tuple or None, default=None
        ``layer_outputs(model, X)`` when already computed (saves a forward pass).

    Returns
    -------
    spectra : list of ndarray
        One per weight matrix, in layer order (see :func:`bottleneck`).

    Examples
    --------
    >>> import torch
    >>> from skrank.diagnostics import projected_layer_spectra
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(),
    ...                           torch.nn.Linear(4, 2))
    >>> [s.shape for s in projected_layer_spectra(net, torch.randn(20, 3))]
    [(3,), (2,)]
    """
    return _projected_spectra(model, _check_input(model, X), tol, outputs)


def _projected_spectra(model, x, tol, outputs):
    _, post = outputs if outputs is not None else _layer_outputs(model, x)
    net = as_network(model)
    return [_offset_free_spectrum(W, a, tol) if a is not None else singular_values(W)
            for W, a in zip(net.weight_matrices(), net.weight_inputs(x, post))]


@validate_params(
    {"representation": ["array-like"], "k": [Count(Integral, 0, None, closed="left")]},
    prefer_skip_nested_validation=True,
)
def principal_components(representation, k):
    """Top ``k`` principal directions (k, width) of a centered representation.

    Parameters
    ----------
    representation : array-like or torch.Tensor of shape (n_samples, width)
        A layer's finite representation over the data (at least one row); its
        mean is subtracted first.
    k : int
        Number of directions, from 0 (no rows) to ``min(n_samples, width)``.

    Returns
    -------
    components : ndarray of shape (k, width)
        Orthonormal rows, the directions of largest variance first, each signed
        so that its entry of largest magnitude is positive.

    Examples
    --------
    >>> import numpy as np
    >>> from skrank.diagnostics import principal_components
    >>> A = np.outer(np.arange(5.0), [0.0, 1.0, 0.0]) + 7.0  # a line in R^3
    >>> np.abs(principal_components(A, 1)).round(6).tolist()
    [[0.0, 1.0, 0.0]]
    """
    if isinstance(representation, torch.Tensor):
        a = representation.detach().to(torch.float64)
        if a.ndim != 2 or a.shape[0] < 1:
            raise ValueError("Expected a representation of shape (n_samples, width) "
                             f"with at least one row, got shape {tuple(a.shape)}.")
        _check_finite(a, "representation")
    else:
        a = torch.as_tensor(check_array(representation, dtype=np.float64,
                                        input_name="representation"), device="cpu")
    if k > min(a.shape):
        raise ValueError(f"Asked for k={k} components of a representation of shape "
                         f"{tuple(a.shape)}; k can be at most min(n_samples, width).")
    return _principal_components(a, k)


def _weighted_mean(a, weight=None):
    """The mean row of ``a``, rows counted ``weight`` times (None: once)."""
    if weight is None:
        return a.mean(0)
    w = torch.as_tensor(weight, dtype=a.dtype, device=a.device)[:, None]
    return (w * a).sum(0) / w.sum()


def _principal_components(a, k, weight=None):
    """:func:`principal_components` of a float64 tensor, unchecked (a diverged
    network's representation reads as zeros); rows counted ``weight`` times."""
    centered = a - _weighted_mean(a, weight)
    if weight is not None:
        centered = centered * torch.as_tensor(weight, dtype=a.dtype,
                                              device=a.device)[:, None].sqrt()
    if not torch.isfinite(centered).all():
        # a diverged network: no directions to read
        centered = torch.zeros_like(centered)
    _, _, vh = torch.linalg.svd(centered, full_matrices=False)
    if k > vh.shape[0]:
        raise ValueError(
            f"Asked for {k} components of a representation with only {vh.shape[0]}."
        )
    # vh[:k] is a Fortran-ordered view: a fitted array must be C-contiguous, or
    # a pickle round trip (which makes it so) changes matmul kernels and results
    rows = vh[:k].cpu().numpy()
    # a sign per direction, as scikit-learn's svd_flip: the largest entry of each
    # positive, so that one function gives one set of codes (an integer weight
    # and the repeated rows gave a column negated, SVD's arbitrary choice)
    if k:
        rows = rows * np.sign(rows[np.arange(k), np.abs(rows).argmax(1)])[:, None]
    return np.ascontiguousarray(rows)


@dataclass
class Bottleneck:
    """Where a network is narrowest, as :func:`bottleneck` returns it.

    Parameters
    ----------
    rank : int
        The least effective rank ``k`` over the candidate maps, each read by its
        centered image on the data.
    layer : int
        The hidden layer (1-based) just after the narrowest map.
    components : ndarray of shape (k, width)
        The principal directions of that layer's representation; with ``mean``
        they map ``a_layer(x)`` to ``k`` bottleneck coordinates.
    mean : ndarray of shape (width,)
        The mean of that layer's representation over the data.
    weight_ranks : ndarray of int of shape (n_candidates,)
        The effective rank of every candidate map.
    reading : RankReading, default=None
        The rank's evidence, read on ``spectrum``.
    spectrum : ndarray, default=None
        The narrowest map's spectrum.
    spectra : list of ndarray, default=None
        Every candidate's spectrum, in the order of ``weight_ranks``.
    representation : torch.Tensor of shape (n_samples, width), default=None
        The representation ``components`` and ``mean`` were read from (float64;
        left out of the ``repr``).
    weight : ndarray of shape (n_samples,) or None, default=None
        The row weights they were read with (None: every row once; left out of
        the ``repr``).

    Examples
    --------
    >>> import torch
    >>> from skrank.diagnostics import bottleneck
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(),
    ...                           torch.nn.Linear(8, 2), torch.nn.ReLU(),
    ...                           torch.nn.Linear(2, 5))
    >>> b = bottleneck(net, torch.randn(100, 5))
    >>> b.layer, b.components.shape[0] == b.rank  # after the 2-wide map
    (2, True)
    """

    rank: int
    layer: int
    components: np.ndarray
    mean: np.ndarray
    weight_ranks: np.ndarray
    reading: RankReading = None
    spectrum: np.ndarray = None
    spectra: list = None
    representation: object = field(default=None, repr=False)
    weight: object = field(default=None, repr=False)


def _output(model, x, pre):
    """The network's output on ``x``: a chain's last pre-activation is not it when
    modules follow its last ``nn.Linear`` (a final ``nn.Sigmoid`` saturated to
    exactly 1 on every row read rank 2)."""
    if isinstance(model, Network):
        return pre[-1]
    with torch.no_grad():
        return model(x)


def _constant(out):
    """Whether a network's outputs over the data are equal to working precision."""
    out = out.detach()
    if out.shape[0] < 2 or not torch.isfinite(out).all():
        return False
    eps = torch.finfo(out.dtype).eps
    # the mean in float64: a float32 sum of values near its largest overflows
    out = out.to(torch.float64)
    spread = float((out - out.mean(0)).abs().max())
    return spread <= 16 * eps * max(1.0, float(out.abs().max()))


def _candidate_spectrum(W, a, tol, weight=None):
    """Singular values of the image ``(a - mean a) W^T`` of a map on the data.

    The image, not the weight alone: a direction the weight shrinks but its input
    carries at a large scale still passes (measured: an autoencoder whose middle
    weights read rank 2 passed a third direction this way and kept only 68% of
    its output through two coordinates). Centering drops the constant offset,
    which with penalized biases occupies a weight direction of its own. ``W=None``
    reads the centered representation ``a`` itself. Row weights count as
    repeats: weighted mean, rows scaled by their square roots.
    """
    a = a.to(torch.float64)
    if weight is None:
        a = a - a.mean(0, keepdim=True)
    else:
        w = torch.as_tensor(weight, dtype=torch.float64, device=a.device)[:, None]
        a = (a - (w * a).sum(0, keepdim=True) / w.sum()) * w.sqrt()
    z = a if W is None else a @ W.detach().to(device=a.device, dtype=torch.float64).T
    return _svdvals(z)


def _svdvals(z):
    """Singular values; a diverged network's non-finite values read as zero (SVD
    would fail on them) rather than crash a diagnostic."""
    if not torch.isfinite(z).all():
        return np.zeros(min(z.shape[-2:]))
    return torch.linalg.svdvals(z).cpu().numpy()


#: Among candidate maps of the least rank, those whose ``k`` coordinates keep at
#: least the best candidate's fidelity less this much count as equally faithful;
#: the sharpest gap decides between them.
FIDELITY_SLACK = 0.01


def _narrowest(candidates, tol, min_gap, weight=None, read_output=True):
    """The candidate maps of least rank, sharpest gap first: ``(k, [(layer,
    reading, spectrum), ...])``, and every candidate's rank and spectrum (but the
    output map's without ``read_output``)."""
    readings, ranks, spectra = [], [], []
    # the output map is read and reported, but never chosen (unless it is the only
    # map): its rank is at most n_outputs by construction, and there is no hidden
    # layer after it to read the bottleneck coordinates from
    inner = len(candidates) - 1 if len(candidates) > 1 else 1
    if not read_output:
        # only the layer is wanted (growing a network): the output map's image is
        # rows x outputs, 7 s of SVD for 20,000 rows of 2,000 classes
        candidates = candidates[:inner]
    for i, (W, a, after) in enumerate(candidates):
        s = _candidate_spectrum(W, a, tol, weight)
        reading = _read_rank(s, tol=tol, min_gap=min_gap)
        ranks.append(reading.rank)
        spectra.append(s)
        k = reading.rank
        sharp = s[k] / s[k - 1] if 0 < k < s.size else 0.0
        if i < inner:
            readings.append(((k, sharp), i, (after, reading, s)))
    k = min(r[0][0] for r in readings)
    tied = [r[2] for r in sorted(r for r in readings if r[0][0] == k)]
    return k, tied, ranks, spectra


def _most_faithful(model, x, pre, k, tied, weight):
    """Of the tied candidates, the sharpest gap among those whose ``k`` coordinates
    carry the network's output as well as the best one's (:data:`FIDELITY_SLACK`).

    The function factors through a ``k``-dimensional image where cutting to ``k``
    coordinates loses nothing; a sharp gap is only a sign of it. In a residual
    stream the sharpest gap can sit where only the linear unembedding reads the
    stream, and the small directions cut there still carry the outputs' nonlinear
    parts (measured on two seeds: fidelity 0.73 and 0.16 at the end of the stream,
    0.94 and 1.0 after its first and second block, the same rank).
    """
    if k == 0 or len({layer for layer, _, _ in tied}) == 1:
        return tied[0]
    kept, seen = [], {}
    with torch.no_grad():
        full = pre[-1] if isinstance(model, Network) else model(x)
        eps = torch.finfo(full.dtype).eps
        full = full.to(torch.float64)
        for layer, _, _ in tied:
            if layer not in seen:
                a = pre[layer - 1].to(torch.float64)
                mean = _weighted_mean(a, weight)
                cut = _factored(model, layer, mean, _principal_components(a, k, weight))(x)
                seen[layer] = _kept_variance(full, cut.to(torch.float64), eps)
            f = seen[layer]
            if f >= 1 - FIDELITY_SLACK and all(g < f - FIDELITY_SLACK for g in kept):
                # no candidate keeps more than everything, so this one is within
                # the slack of the best, and the sharper ones are not
                return tied[len(kept)]
            kept.append(f)
    best = max((f for f in kept if np.isfinite(f)), default=float("nan"))
    if not np.isfinite(best):
        return tied[0]
    return next(t for t, f in zip(tied, kept) if f >= best - FIDELITY_SLACK)


@validate_params(
    {
        "tol": [Interval(Real, 0, 1, closed="neither")],
        "min_gap": [Interval(Real, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
@_reads_network
def bottleneck(model, X, *, tol=DEFAULT_RANK_TOL, min_gap=DEFAULT_MIN_GAP, outputs=None,
               weight=None):
    """The bottleneck rank and layer of a network over the inputs ``X``.

    Every weight matrix ``W_l`` is read by its image on the data: the singular
    values of the centered pre-activations ``(a_{l-1} - mean) W_l^T`` (centering
    drops the constant offset, which with penalized biases occupies a weight
    direction of its own and is not part of the function's rank). The function
    factors through each of these images, so the bottleneck rank is the least of
    their effective ranks, the output map's excepted (it is read but never chosen,
    unless it is the only map). It is the narrowest hidden map's rank, and may
    exceed the function's, even ``min(n_features, n_outputs)`` (the estimators warn
    there; compare :func:`jacobian_rank`). Of the maps of that rank ``k``, the layer
    is one whose ``k`` coordinates carry the network's output best (its
    :func:`bottleneck_fidelity` within :data:`FIDELITY_SLACK` of the best), of those
    the sharpest spectral gap, then the first such layer. An effective rank reads
    the image's spread, so the data's own anisotropy counts: an identity layer on
    inputs whose second coordinate spreads 20 times less reads rank 1 (fidelity
    0.997) while its Jacobian reads 2; ``bottleneck_fidelity`` and the network's own
    Jacobian rank say how much the cut directions still carry. A skrank network
    names the maps where its function can narrow (``rank_candidates``; a residual
    network: its embedding, its stream and its unembedding). A network whose outputs
    vary over ``X`` by less than rounding (16 machine epsilons of its dtype,
    relative to outputs larger than 1, absolute below) reads as constant, rank 0:
    the readings assume outputs of order one, as a fitted estimator's normalized
    units are; rescale a network with tiny outputs before reading it.

    Parameters
    ----------
    model : torch.nn.Module
        A network with at least one hidden layer (an estimator's ``module_``).
    X : array-like of shape (n_samples, n_features)
        At least one finite row.
    tol, min_gap : float
        Passed to :func:`read_rank`, for every candidate and for the offset test.
    outputs : tuple or None, default=None
        ``layer_outputs(model, X)`` when already computed (saves a forward pass).
    weight : array-like of shape (n_samples,) or None, default=None
        Row weights for the rank reading, counted as repeats of the rows: finite,
        non-negative, not all zero (as scikit-learn's ``sample_weight``).

    Returns
    -------
    result : Bottleneck

    Examples
    --------
    >>> import torch
    >>> from skrank.diagnostics import bottleneck
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(torch.nn.Linear(5, 6), torch.nn.Identity(),
    ...                           torch.nn.Linear(6, 1, bias=False), torch.nn.Identity(),
    ...                           torch.nn.Linear(1, 5))
    >>> bottleneck(net, torch.randn(50, 5)).rank
    1
    """
    x = _check_input(model, X)
    if weight is not None:
        weight = _check_weight(weight, x.shape[0])
    return _bottleneck(model, x, tol, min_gap, outputs, weight)


def _bottleneck_layer(model, X, *, tol, min_gap, weight=None):
    """:func:`bottleneck`'s ``layer`` alone, without reading the output map (which
    is never chosen): what growing a network needs."""
    x = _check_input(model, X)
    if weight is not None:
        weight = _check_weight(weight, x.shape[0])
    return _bottleneck(model, x, tol, min_gap, weight=weight, read_output=False).layer


def _check_weight(weight, n_samples):
    """Row weights as a float64 array, checked as scikit-learn checks sample weights."""
    if isinstance(weight, torch.Tensor):
        weight = weight.detach().cpu()
    try:
        w = np.asarray(weight, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"weight must be an array of numbers; got {weight!r}.") from exc
    if w.shape != (n_samples,):
        raise ValueError(f"weight must be 1-D with one value per row of X, shape "
                         f"({n_samples},); got shape {w.shape}.")
    if not np.isfinite(w).all():
        raise ValueError("weight contains NaN or infinity; row weights must be finite.")
    if (w < 0).any():
        raise ValueError("weight contains negative values; row weights must be >= 0.")
    if not (w > 0).any():
        raise ValueError("weight is all zero: no row would count; give at least one "
                         "row a positive weight.")
    return w


def _bottleneck(model, x, tol, min_gap, outputs=None, weight=None, read_output=True):
    pre, post = outputs if outputs is not None else _layer_outputs(model, x)
    if not post:
        raise ValueError("The network has no hidden layer (depth 1): no bottleneck.")
    k, tied, ranks, spectra = _narrowest(as_network(model).rank_candidates(x, post),
                                         tol, min_gap, weight, read_output)
    layer, reading, spectrum = _most_faithful(model, x, pre, k, tied, weight)
    if _constant(pre[-1]) or _constant(_output(model, x, pre)):
        # the function is constant on the data: rank 0, whatever round-off the
        # inner maps carry
        k, reading = 0, RankReading(rank=0, gap=float("nan"), clear=True)
    # the pre-activation: a rank-k map's image is a k-dim affine plane there
    a = pre[layer - 1].to(torch.float64)
    mean = _weighted_mean(a, weight)
    return Bottleneck(rank=int(k), layer=layer,
                      components=_principal_components(a, k, weight),
                      mean=np.ascontiguousarray(mean.cpu().numpy()),
                      weight_ranks=np.array(ranks, dtype=int), reading=reading,
                      spectrum=spectrum, spectra=spectra, representation=a,
                      weight=weight)


@validate_params(
    {"chunk_size": [Count(Integral, 1, None, closed="left")]},
    prefer_skip_nested_validation=True,
)
@_reads_network
def jacobian_spectra(model, X, *, chunk_size=256):
    """Singular values of the Jacobian ``Jf(x)`` at each row of ``X``, in batch.

    One forward pass per chunk of points and one reverse pass per output
    coordinate over the whole chunk; rows are read as independent, as in any
    feed-forward network without batch statistics.

    Parameters
    ----------
    model : torch.nn.Module
        The network ``f``.
    X : array-like of shape (n_points, n_features)
        The points where the Jacobians are taken.
    chunk_size : int, default=256
        Points per forward pass (bounds the memory used).

    Returns
    -------
    spectra : ndarray of shape (n_points, min(n_outputs, n_features))
        The singular values of ``Jf(x)`` at each point, largest first (no
        columns for a network without outputs: its Jacobians have rank 0).

    Raises
    ------
    TypeError
        If the network's output is not a tensor (an ``nn.LSTM`` returns a tuple).
    ValueError
        If the output is not one row per point, or a point's row depends on the
        other points (a recurrent layer reading ``X`` as one sequence): no
        Jacobian per point then. Also when ``X`` is empty and the network fails
        on an empty batch.

    Examples
    --------
    >>> import torch
    >>> from skrank.diagnostics import jacobian_spectra
    >>> lin = torch.nn.Linear(3, 2, bias=False)
    >>> with torch.no_grad():
    ...     _ = lin.weight.copy_(torch.tensor([[2.0, 0, 0], [0, 1.0, 0]]))
    >>> jacobian_spectra(lin, torch.randn(4, 3)).round(4).tolist()[0]
    [2.0, 1.0]
    """
    # model(x) itself: any module, no chain reading to check
    return _jacobian_svdvals(model, _check_input(model, X, min_samples=0, chain=False),
                             chunk_size)


@validate_params(
    {"tol": [Interval(Real, 0, 1, closed="neither")],
     "min_gap": [Interval(Real, 1, None, closed="left")]},
    prefer_skip_nested_validation=True,
)
@_reads_network
def jacobian_rank(model, X, *, tol=DEFAULT_RANK_TOL, min_gap=DEFAULT_MIN_GAP):
    """``max_x rank Jf(x)`` over the rows of ``X`` (Jacot 2023a, Def. 1).

    Parameters
    ----------
    model : torch.nn.Module
        The network ``f``.
    X : array-like of shape (n_points, n_features)
        The points where the Jacobians are taken.
    tol : float in (0, 1), default=0.1
        Relative floor of the rank rule (:func:`effective_rank`).
    min_gap : float >= 1, default=3.0
        Least ratio of consecutive singular values that counts as a clear gap.

    Returns
    -------
    rank : int
        The largest effective rank of the Jacobians (0 when ``X`` is empty or
        the network has no outputs).

    Raises
    ------
    TypeError, ValueError
        As :func:`jacobian_spectra`, for a network without a Jacobian per point.

    Examples
    --------
    >>> import torch
    >>> from skrank.diagnostics import jacobian_rank
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.Tanh(),
    ...                           torch.nn.Linear(2, 4))
    >>> jacobian_rank(net, torch.randn(3, 4))
    2
    """
    spectra = jacobian_spectra(model, X)
    return max((effective_rank(s, tol=tol, min_gap=min_gap) for s in spectra), default=0)


@validate_params(
    {"spectra": ["array-like"], "threshold": [Interval(Real, 0, 1, closed="neither")]},
    prefer_skip_nested_validation=True,
)
def local_dimension(spectra, *, threshold=0.5):
    """Local dimension of a learned projection: its Jacobian's singular values above 1/2.

    A denoising autoencoder learns to map a point near the data onto the data;
    at a point of a ``d``-dimensional manifold its Jacobian is then the projection
    onto the tangent space, singular values 1 along the manifold and 0 across
    it. Counting the values above ``threshold`` (the midpoint of a projection's
    two values) reads ``d`` without a data-dependent cut, whatever the largest
    value (unlike :func:`read_rank`, which measures relative to it).

    Parameters
    ----------
    spectra : array-like of shape (n_points, n_values)
        Finite Jacobian singular values at each point (:func:`jacobian_spectra`,
        :func:`factored_jacobian_spectra`).
    threshold : float in (0, 1), default=0.5
        Values above it count; a projection's values are 0 and 1, so a threshold
        outside (0, 1) would count all or none of them.

    Returns
    -------
    dimensions : ndarray of int of shape (n_points,)

    Examples
    --------
    >>> from skrank.diagnostics import local_dimension
    >>> local_dimension([[1.02, 0.91, 0.08], [0.97, 0.35, 0.02]]).tolist()
    [2, 1]
    """
    spectra = _real_array(spectra, "spectra")  # a GPU or bfloat16 tensor too
    # one point's spectrum may come as a vector; no points is no dimensions
    spectra = check_array(spectra.reshape(0, 0) if spectra.shape == (0,) else
                          np.atleast_2d(spectra), ensure_min_samples=0,
                          ensure_min_features=0, input_name="spectra")
    return (spectra > threshold).sum(axis=1)


def _factored(model, layer, mean, components):
    """``x -> g(P_k a_layer(x))``: the network passed through its k bottleneck
    coordinates, ``P_k`` the projection onto ``components`` around ``mean``."""
    net = as_network(model)

    def f(v):
        # made here, where the Jacobian is taken: made under a caller's
        # inference_mode they could not be saved for the backward pass
        C, m = as_tensor(components, model), as_tensor(mean, model)
        z = net.bottleneck_in(v, layer)
        return net.bottleneck_out(((z - m) @ C.T) @ C + m, layer)

    return f


@validate_params(
    {"chunk_size": [Count(Integral, 1, None, closed="left")]},
    prefer_skip_nested_validation=True,
)
@_reads_network
def factored_jacobian_spectra(model, X, bn, *, chunk_size=256):
    """Jacobian spectra of the network passed through its bottleneck coordinates.

    ``bn`` is :func:`bottleneck`'s result: the function ``x -> g(P_k a(x))``, with
    ``a`` the bottleneck layer's representation and ``P_k`` the projection onto its
    ``k`` principal directions, is what the bottleneck rank says the network
    computes; its Jacobian has rank at most ``k`` by construction, so the Jacobian
    rank read on it never contradicts the bottleneck rank.

    Parameters
    ----------
    model : torch.nn.Module
        The network.
    X : array-like of shape (n_points, n_features)
        The points where the Jacobians are taken.
    bn : Bottleneck
        :func:`bottleneck`'s result for ``model``.
    chunk_size : int, default=256
        Points per forward pass (bounds the memory used).

    Returns
    -------
    spectra : ndarray of shape (n_points, min(n_outputs, n_features))
        The singular values of the factored network's Jacobian at each point.

    Raises
    ------
    TypeError
        If ``bn`` is not a :class:`Bottleneck`.
    ValueError
        If ``bn`` does not fit ``model``: its layer is not one of the network's
        hidden layers, or its mean and components are not as wide as that layer.

    Examples
    --------
    >>> import torch
    >>> from skrank.diagnostics import bottleneck, factored_jacobian_spectra
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(),
    ...                           torch.nn.Linear(8, 1), torch.nn.Tanh(),
    ...                           torch.nn.Linear(1, 4))
    >>> X = torch.randn(30, 4)
    >>> bn = bottleneck(net, X)
    >>> bool((factored_jacobian_spectra(net, X[:3], bn)[:, 1:] < 1e-5).all())
    True
    """
    x = _check_input(model, X, min_samples=0)
    _check_bottleneck(model, x, bn)
    return _factored_svdvals(model, bn, x, chunk_size)


def _factored_svdvals(model, bn, x, chunk_size):
    """The singular values of the factored network's Jacobians, from its halves.

    ``J = D E``: ``E`` (``k x n_features``) the Jacobian of the ``k`` bottleneck
    coordinates, ``D`` (``n_outputs x k``) that of the output in them. ``k``
    reverse passes give ``E``, ``k`` forward-mode products (double backward) give
    ``D``, and the spectrum of ``J`` is that of the ``k x k`` core of their QR
    factors: ``O((n_outputs + n_features) k^2)`` a point, where the full Jacobian
    costs ``n_outputs`` reverse passes and an SVD of ``n_outputs x n_features``
    (an autoencoder of 2,000 features spent 73 s of a 76 s fit there, 1.6 GB).
    Exact, up to rounding: the values past ``k`` are zeros.
    """
    net, f = as_network(model), _factored(model, bn.layer, bn.mean, bn.components)
    width = min(_n_outputs(f, x), x.shape[1])
    blocks = []
    for start in range(0, x.shape[0], chunk_size):
        with torch.inference_mode(False), torch.enable_grad():
            v = x[start:start + chunk_size].clone().requires_grad_(True)
            _point_outputs(f, v.detach())  # one output row per point, else refused
            C, m = as_tensor(bn.components, model), as_tensor(bn.mean, model)
            codes = (net.bottleneck_in(v, bn.layer) - m) @ C.T
            E = _rows(codes, v)                                  # (n, k, n_features)
            c = codes.detach().requires_grad_(True)
            out = net.bottleneck_out(c @ C + m, bn.layer).reshape(len(v), -1)
            D = _rows(out, c, forward=True).transpose(1, 2)      # (n, n_outputs, k)
        blocks.append(_core_svdvals(D.detach(), E.detach(), width))
    if not blocks:
        return np.zeros((0, width))
    return np.concatenate(blocks)


def _rows(out, v, forward=False):
    """Jacobian rows ``d out[:, j] / d v`` (reverse mode), or with ``forward``
    its columns ``d out / d v[:, j]`` by the double-backward trick: the
    vector-Jacobian product is linear in its vector ``w``, and its gradient in
    ``w`` along ``e_j`` is the ``j``-th column. Zeros where ``out`` does not
    depend on ``v``."""
    n_cols = v.shape[1] if forward else out.shape[1]
    if not out.requires_grad or n_cols == 0:
        size = out.shape[1] if forward else v.shape[1]
        return v.new_zeros(v.shape[0], n_cols, size)
    if not forward:
        return torch.stack([_input_gradient(out[:, j], v) for j in range(n_cols)], dim=1)
    w = torch.zeros_like(out, requires_grad=True)
    # scalar outputs, not grad_outputs: a tensor there makes torch import torch.fx
    # and sympy (about 0.4 s on a process's first fit)
    (vjp,) = torch.autograd.grad((out * w).sum(), v, create_graph=True,
                                 allow_unused=True)
    if vjp is None:  # out does not depend on v
        return v.new_zeros(v.shape[0], n_cols, out.shape[1])
    try:
        cols = [torch.autograd.grad(vjp[:, j].sum(), w, retain_graph=True)[0]
                for j in range(n_cols)]
    except RuntimeError:
        # a layer without a second derivative (a custom autograd Function, one
        # marked once_differentiable): the rows, one reverse pass per output
        return _rows(out, v).transpose(1, 2)
    return torch.stack(cols, dim=1)


def _core_svdvals(D, E, width):
    """Singular values of ``D @ E`` per point, padded with zeros to ``width``."""
    D, E = D.to(torch.float64), E.to(torch.float64)
    if not (torch.isfinite(D).all() and torch.isfinite(E).all()):
        raise _overflow()
    n = D.shape[0]
    if D.shape[2] == 0:
        return np.zeros((n, width))
    R_d = torch.linalg.qr(D, mode="r")[1]
    R_e = torch.linalg.qr(E.transpose(1, 2), mode="r")[1]
    values = torch.linalg.svdvals(R_d @ R_e.transpose(1, 2)).cpu().numpy()
    out = np.zeros((n, width))
    k = min(width, values.shape[1])
    out[:, :k] = values[:, :k]
    return out


def _check_bottleneck(model, x, bn):
    """Refuse a ``bn`` that is not a :class:`Bottleneck` of ``model``'s shape: its
    layer a hidden layer, its mean and components as wide as that layer's
    pre-activation (else torch fails inside the factored network)."""
    if not isinstance(bn, Bottleneck):
        raise TypeError(f"bn must be a Bottleneck (the result of bottleneck(model, X)), "
                        f"got {type(bn).__name__}.")
    # one row is enough for the shapes (zeros when X has none)
    probe = x[:1] if x.shape[0] else x.new_zeros(1, x.shape[1])
    with torch.no_grad():
        pre, post = as_network(model).forward_layers(probe)
    layer = bn.layer
    if (isinstance(layer, (bool, np.bool_)) or not isinstance(layer, Integral)
            or not 1 <= layer <= len(post)):
        raise ValueError(f"bn.layer={layer!r} is not a hidden layer of this network, "
                         f"which has {len(post)} (1 to {len(post)}): was bn read from "
                         "another network?")
    width = pre[layer - 1].shape[1]
    mean, comps = np.shape(_detached(bn.mean)), np.shape(_detached(bn.components))
    if mean != (width,) or len(comps) != 2 or comps[1] != width:
        raise ValueError(f"bn does not match this network: hidden layer {layer} is "
                         f"{width} wide, but bn.mean has shape {mean} and "
                         f"bn.components {comps} (expected ({width},) and (k, {width})): "
                         "was bn read from another network?")


def _jacobian_svdvals(fn, x, chunk_size, basis=None):
    # One forward pass per chunk of points and one backward pass per output
    # coordinate, rows read as independent (as in any feed-forward network). Plain
    # autograd, not torch.func: its first call in a process costs a second, a
    # sixth of a default fit.
    blocks = []
    for start in range(0, x.shape[0], chunk_size):
        # a fresh tensor with autograd on, even under the caller's inference_mode
        with torch.inference_mode(False), torch.enable_grad():
            v = x[start:start + chunk_size].clone().requires_grad_(True)
            out = _point_outputs(fn, v)
            rows = [torch.zeros_like(v)] * out.shape[1]
            if out.requires_grad:   # else the output does not depend on the input
                rows = [_input_gradient(out[:, j], v) for j in range(out.shape[1])]
        # no output features: each Jacobian is (0, n_features), of rank 0
        blocks.append(torch.stack(rows, dim=1) if rows
                      else v.new_zeros(v.shape[0], 0, v.shape[1]))
    if not blocks:
        # no points: no rows, but the documented columns
        return np.zeros((0, min(x.shape[1], _n_outputs(fn, x))))
    J = torch.cat(blocks).detach().to(torch.float64)
    if not torch.isfinite(J).all():
        raise _overflow()
    if basis is not None:  # the Jacobians along these input directions only
        J = J @ torch.as_tensor(basis, dtype=J.dtype, device=J.device)
    return torch.linalg.svdvals(J).cpu().numpy()


def _point_outputs(fn, v):
    """``fn(v)`` as one row of outputs per point, refused (rather than misread)
    when it is not one: a tuple (an ``nn.LSTM``'s), or rows that depend on
    other rows (an ``nn.LSTM`` reads a 2-D input as one sequence)."""
    try:
        out = fn(v)
    except RuntimeError as exc:
        if _not_about_the_input(exc):
            raise
        # torch's own message names channels or indices, not what to pass
        raise ValueError(
            f"The network fails on X of shape {tuple(v.shape)} ({exc}); the Jacobian "
            "readings take networks that map rows of X, (n_points, n_features), to "
            "rows of outputs.") from exc
    out = _tensor_output(out)
    if v.shape[0] == 1:
        out = out.reshape(1, -1)  # a network that squeezes its output, on one point
    if out.ndim == 0 or out.shape[0] != v.shape[0]:
        raise ValueError(
            f"The network maps {v.shape[0]} points to an output of shape "
            f"{tuple(out.shape)}, not one row per point; jacobian_spectra needs "
            "f(X)[i] to be f(X[i])."
        )
    with torch.no_grad():
        ends = [(fn(v[:1]), out[:1]), (fn(v[-1:]), out[-1:])]
    if not all(_alike(alone, together.detach()) for alone, together in ends):
        raise ValueError(
            "The network's output at a point depends on the other points of the "
            "batch (a recurrent layer reading X as one sequence, batch statistics), "
            "so it has no Jacobian per point: jacobian_spectra reads networks that "
            "map each row of X on its own."
        )
    return out.reshape(v.shape[0], -1)


def _not_about_the_input(exc):
    """Whether a network's RuntimeError is about resources or the module itself
    (memory, a device, a missing forward), not the shape or type of X."""
    resource = tuple(getattr(torch, name) for name in ("OutOfMemoryError",
                                                       "AcceleratorError")
                     if hasattr(torch, name))
    if isinstance(exc, (NotImplementedError, torch.cuda.OutOfMemoryError) + resource):
        return True
    text = str(exc).lower()
    return "out of memory" in text or "allocate" in text or "cuda" in text


def _alike(alone, together):
    """Whether a point's output alone matches its output in the batch. Loose (1%
    of the output scale): a batch of one may run other kernels (TF32 on a GPU),
    while a recurrent layer's coupling moves outputs by far more."""
    if not isinstance(alone, torch.Tensor):
        return False
    # one point's outputs, whatever its batch's shape (a squeezed batch of one is
    # a scalar)
    alone, together = alone.reshape(-1), together.reshape(-1)
    if alone.shape != together.shape:
        return False
    if not together.is_floating_point():
        return torch.equal(alone, together)
    scale = max(1.0, float(together.abs().max())) if together.numel() else 1.0
    tol = max(1e-2, float(torch.finfo(together.dtype).eps) ** 0.5) * scale
    return torch.allclose(alone.to(together.dtype), together, rtol=0, atol=tol,
                          equal_nan=True)


def _tensor_output(out):
    if not isinstance(out, torch.Tensor):
        raise TypeError(
            "jacobian_spectra differentiates the network's output, which must be a "
            f"tensor of shape (n_points, n_outputs); got a {type(out).__name__} (an "
            "nn.LSTM returns (output, (h, c))). Wrap the network in a module whose "
            "forward returns one tensor."
        )
    return out


def _n_outputs(fn, x):
    """How many output features ``fn`` has, read on no point."""
    with torch.no_grad():
        try:
            out = fn(x[:0])
        except Exception as exc:  # an nn.LSTM refuses an empty sequence
            raise ValueError(
                f"The network fails on an empty batch ({exc}), so jacobian_spectra "
                "cannot tell its number of outputs without a point; pass at least "
                "one row of X."
            ) from exc
    out = _tensor_output(out)
    return out.shape[-1] if out.ndim > 1 else 1


def _input_gradient(output, v):
    (grad,) = torch.autograd.grad(output.sum(), v, retain_graph=True, allow_unused=True)
    return torch.zeros_like(v) if grad is None else grad


@_reads_network
def bottleneck_fidelity(model, X, bn, *, outputs=None):
    """How well the network passed through its bottleneck coordinates reproduces it.

    ``1 - ||g(P_k a(X)) - f(X)||^2 / ||f(X) - mean f(X)||^2`` over the rows of
    ``X``: 1 when the ``k`` coordinates carry everything the network computes,
    lower when the directions cut by the rank reading still matter (then the
    bottleneck rank understates what the network does).

    Parameters
    ----------
    model : torch.nn.Module
        The network ``f``.
    X : array-like of shape (n_samples, n_features)
        Inputs over which the two networks are compared.
    bn : Bottleneck
        :func:`bottleneck`'s result for ``model``.
    outputs : tuple or None, default=None
        ``layer_outputs(model, X)`` when already computed (saves a forward pass).

    Returns
    -------
    fidelity : float
        The fraction of the output variance kept (1 for a network constant on
        ``X``, ``nan`` for a diverged one).

    Raises
    ------
    TypeError, ValueError
        As :func:`factored_jacobian_spectra`, for a ``bn`` that is not a
        :class:`Bottleneck` of ``model``.

    Examples
    --------
    >>> import torch
    >>> from skrank.diagnostics import bottleneck, bottleneck_fidelity
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(),
    ...                           torch.nn.Linear(8, 1), torch.nn.Tanh(),
    ...                           torch.nn.Linear(1, 4))
    >>> X = torch.randn(30, 4)
    >>> round(bottleneck_fidelity(net, X, bottleneck(net, X)), 6)
    1.0
    """
    x = _check_input(model, X)
    _check_bottleneck(model, x, bn)
    return _fidelity(model, x, bn, outputs)


def _fidelity(model, x, bn, outputs=None):
    # a chain's last pre-activation is not its output when modules (a final
    # nn.Sigmoid) follow its last nn.Linear: only a Network's outputs are reused
    reuse = outputs is not None and isinstance(model, Network)
    with torch.no_grad():
        full = outputs[0][-1] if reuse else model(x)
        eps = torch.finfo(full.dtype).eps
        full = full.to(torch.float64)
        cut = _factored(model, bn.layer, bn.mean, bn.components)(x).to(torch.float64)
    return _kept_variance(full, cut, eps)


def _kept_variance(full, cut, eps):
    """``1 - ||cut - full||^2 / ||full - mean full||^2`` (float64 tensors; ``eps``:
    the machine epsilon of the network's own outputs)."""
    den = float((full - full.mean(0)).square().sum())
    num = float((cut - full).square().sum())
    if not np.isfinite(num) or not np.isfinite(den):
        return float("nan")
    # a constant network (round-off spread only, at the network's own precision: a
    # float64 network of outputs near 1e-6 read 1.0 at float32's) has no variance
    # to lose
    floor = full.numel() * (64 * eps * max(1.0, float(full.abs().max()))) ** 2
    return 1.0 - num / den if den > floor else 1.0


def parameter_norm(model, *, include_bias=True):
    """``||theta||^2``: the squared Frobenius norm of all parameters.

    Parameters
    ----------
    model : torch.nn.Module or list of 2-D arrays
        A network (a fitted estimator's ``module_``, not the estimator) or its
        weight matrices (numpy arrays or tensors).
    include_bias : bool, default=True
        For a module, whether the biases (all parameters) count, or only the
        weight matrices.

    Returns
    -------
    norm : float
        The sum of the squares of every counted parameter.

    Examples
    --------
    >>> import numpy as np
    >>> from skrank.diagnostics import parameter_norm
    >>> parameter_norm([np.eye(3), np.ones((2, 3))])
    9.0
    """
    if isinstance(model, nn.Module) and include_bias:
        tensors = list(model.parameters())
    elif isinstance(model, nn.Module):
        # a layer applied twice is one parameter: the penalty counts it once
        tensors = list({id(w): w for w in _weights(model)}.values())
    else:
        tensors = _weights(model)
    arrays = [_to_numpy(t) for t in tensors]
    if not all(np.isfinite(a).all() for a in arrays):
        raise ValueError("The parameters contain NaN or infinity, whose norm is "
                         "undefined (did a network diverge?).")
    return float(sum(np.sum(a ** 2) for a in arrays))


@_reads_network
def nonlinearity_impact(model, X, *, outputs=None):
    """``||Z~_l - Z_l||_F / ||Z~_l||_F`` per hidden layer (Jacot 2023a, Fig. 1 middle).

    ``Z~_l`` are the pre-activations and ``Z_l`` the activations over ``X``; values
    near 0 mean the layer acts linearly on the data (the identity-like middle
    layers of a bottleneck).

    Parameters
    ----------
    model : torch.nn.Module
        A network with at least one hidden layer.
    X : array-like of shape (n_samples, n_features)
        Inputs over which the layers are measured.
    outputs : tuple or None, default=None
        ``layer_outputs(model, X)`` when already computed (saves a forward pass).

    Returns
    -------
    impact : ndarray of shape (L - 1,)
        One value per hidden layer. For a skrank residual network (the
        ``module_`` of :class:`~skrank.ResNetL2Regressor`), whose hidden
        representations are the residual stream, which no activation touches:
        zeros, one per stream position (``depth + 1``).

    Raises
    ------
    ValueError
        If an activation changes the width (``nn.GLU`` halves it): its output
        cannot be compared with its input entry by entry.

    Examples
    --------
    >>> import torch
    >>> from skrank.diagnostics import nonlinearity_impact
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Identity(),
    ...                           torch.nn.Linear(3, 1))
    >>> nonlinearity_impact(net, torch.randn(4, 2)).tolist()
    [0.0]
    """
    pre, post = outputs if outputs is not None else layer_outputs(model, X)
    out = []
    for layer, (z, a) in enumerate(zip(pre, post), start=1):
        if z.shape != a.shape:
            raise ValueError(
                f"nonlinearity_impact compares hidden layer {layer}'s pre-activation "
                f"with its activation entry by entry, but the activation changes the "
                f"width from {z.shape[1]} to {a.shape[1]} (as nn.GLU does), where "
                "that ratio is undefined. Use activations that keep the width; the "
                "readings that do not compare them (layer_spectra, bottleneck, "
                "jacobian_spectra) still read this network."
            )
        # float64: a float32 network's finite values (up to 3e38) square far
        # beyond float32's range, and the norm would be inf / inf = NaN
        z, a = z.to(torch.float64), a.to(torch.float64)
        denom = torch.linalg.norm(z)
        out.append(float(torch.linalg.norm(z - a) / denom) if denom > 0 else 0.0)
    return np.array(out)



@dataclass
class Report:
    """Everything skrank reads from one network over one sample, at one setting.

    Built by :func:`diagnose`; estimators copy its fields to their fitted
    attributes (``layer_spectra_``, ``bottleneck_rank_``, ...). Every rank in it
    comes from :func:`read_rank` at the same ``tol`` and ``min_gap``, and
    ``jacobian_rank <= bottleneck.rank`` always (the Jacobians are those of the
    network passed through its bottleneck coordinates; ``fidelity`` says how
    well that factored network reproduces the network).

    Parameters
    ----------
    layer_spectra : list of ndarray
        Singular values of every weight matrix (:func:`layer_spectra`).
    representation_spectra : ndarray of shape (L - 1, min(n_samples, width))
        Singular values of the uncentered hidden representations
        (:func:`representation_spectra`).
    offset_free_spectra : list of ndarray
        Singular values of every weight matrix with its input's offset direction
        removed (:func:`projected_layer_spectra`).
    bottleneck : Bottleneck
        The bottleneck rank, layer and coordinates (:func:`bottleneck`).
    fidelity : float
        How well the network passed through its bottleneck coordinates reproduces
        it (:func:`bottleneck_fidelity`).
    jacobian_spectra : ndarray of shape (n_points, min(n_outputs, n_features))
        Jacobian spectra of the factored network (:func:`factored_jacobian_spectra`);
        of shape (0, 0) without Jacobian points.
    jacobian_rank : int or None
        The largest rank of those Jacobians; ``None`` without Jacobian points.
    parameter_norm : float
        ``||theta||^2`` (:func:`parameter_norm`).
    offset_free_norm : float
        Sum of the squared singular values of ``offset_free_spectra`` (with
        penalized biases) or of ``layer_spectra`` (without).
    nonlinearity_impact : ndarray of shape (L - 1,)
        Per hidden layer (:func:`nonlinearity_impact`).
    tol : float
        The relative floor of the rank rule used for every rank.
    min_gap : float
        The least clear gap of the rank rule used for every rank.
    input_rank : int or None
        The rank of the centered inputs by the same rule (:func:`input_rank`),
        set by the estimators that compare with it (the autoencoder); ``None``
        otherwise.
    input_spacing : float or None
        The median distance from an input to its nearest other input, in the
        network's normalized units, over the rows read (a fit's: every training
        row; ``diagnose``: its sample, sparser), set by the estimators that
        compare their noise with it (a denoising autoencoder); ``None`` otherwise.
    network_jacobian_rank : int or None
        The largest rank of the network's own Jacobians at the Jacobian points,
        where it could exceed the bottleneck's rank and the network has at most
        twice its bottleneck layer's width in outputs (``None`` elsewhere): above
        ``bottleneck.rank`` it contradicts the cut (regressors and classifiers
        warn).

    Examples
    --------
    >>> import torch
    >>> from skrank.diagnostics import diagnose
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(),
    ...                           torch.nn.Linear(8, 1), torch.nn.Tanh(),
    ...                           torch.nn.Linear(1, 4))
    >>> X = torch.randn(40, 4)
    >>> report = diagnose(net, X, jacobian_points=X[:5])
    >>> report.rank, report.jacobian_rank <= report.rank
    (1, True)
    """

    layer_spectra: list
    representation_spectra: np.ndarray
    offset_free_spectra: list
    bottleneck: Bottleneck
    fidelity: float
    jacobian_spectra: np.ndarray
    jacobian_rank: object
    parameter_norm: float
    offset_free_norm: float
    nonlinearity_impact: np.ndarray
    tol: float
    min_gap: float
    input_rank: object = None
    input_spacing: object = None
    network_jacobian_rank: object = None

    @property
    def rank(self):
        """The bottleneck rank."""
        return self.bottleneck.rank


def _own_jacobian_rank(model, points, bn, tol, min_gap, basis=None):
    """The network's own Jacobian rank at ``points`` (``max`` over them), or None
    without points, for a constant function (rank 0), or where it cannot exceed
    the bottleneck's rank: a function
    that factors through ``k`` coordinates has at most rank ``k``, so a higher one
    says the cut dropped directions the function uses.

    Read with a reverse pass per output; not read (None) with more outputs than
    twice the bottleneck layer's width (an autoencoder of many features, which
    does not warn of it): its cost would grow with the outputs (measured, 784
    features: 0.32 s an epoch of ``partial_fit`` against 0.14 s). ``basis``
    (``n_features x r``, orthonormal columns): read along those input directions
    only (see :meth:`skrank.BottleneckAutoencoder`'s span).
    """
    if points is None or len(points) == 0 or bn.rank == 0:
        # rank 0: the outputs are constant on the data, and a Jacobian of
        # round-off reads a rank by the relative rule
        return None
    width, n_out = bn.mean.shape[0], _n_outputs(model, points)
    if bn.rank >= min(width, n_out, points.shape[1]) or n_out > 2 * width:
        return None  # no Jacobian through that layer can read more, or too dear
    spectra = _jacobian_svdvals(model, points, 256, basis)
    return max(_read_rank(s, tol=tol, min_gap=min_gap).rank for s in spectra)


def _jacobian_reading(model, points, bn, tol, min_gap, width):
    """Spectra and rank (``max`` over the points) of the factored network's Jacobians;
    without points, no rows of ``width`` (``min(n_inputs, n_outputs)``) values."""
    if points is None or len(points) == 0:
        return np.zeros((0, width)), None
    jac = _factored_svdvals(model, bn, points, 256)
    return jac, max(_read_rank(s, tol=tol, min_gap=min_gap).rank for s in jac)


@validate_params(
    {
        "X": ["array-like"],
        "tol": [Interval(Real, 0, 1, closed="neither")],
        "min_gap": [Interval(Real, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def input_rank(X, *, tol=DEFAULT_RANK_TOL, min_gap=DEFAULT_MIN_GAP):
    """The dimension of the affine span of the rows of ``X``, by :func:`read_rank`.

    The rows are centered first. What PCA would keep: an autoencoder whose
    bottleneck rank reaches it compressed nothing that a linear map could not.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    tol, min_gap : float
        The rank rule.

    Returns
    -------
    rank : int or None
        ``None`` when ``X`` has no more rows than columns: the rows, not the
        data, then bound the span.

    Examples
    --------
    >>> import numpy as np
    >>> from skrank.diagnostics import input_rank
    >>> t = np.linspace(0, 1, 50)
    >>> input_rank(np.column_stack([t, 2 * t, np.sin(6 * t)]))
    2
    """
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    x = torch.as_tensor(check_array(X, dtype=np.float64, input_name="X"), device="cpu")
    if x.shape[0] <= x.shape[1]:
        return None
    # float64: a constant column then centers to exact zeros (rank 0, not 1)
    return _read_rank(_svdvals(x - x.mean(0)), tol=tol, min_gap=min_gap).rank


@validate_params(
    {
        "tol": [Interval(Real, 0, 1, closed="neither")],
        "min_gap": [Interval(Real, 1, None, closed="left")],
        "include_bias": ["boolean"],
        "jacobian_points": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
@_reads_network
def diagnose(model, X, *, jacobian_points=None, tol=DEFAULT_RANK_TOL,
             min_gap=DEFAULT_MIN_GAP, include_bias=True, weight=None):
    """Read a network over the inputs ``X``: spectra, ranks, norm, in one pass.

    A pure function of its arguments (nothing is stored on ``model``), so the
    same network can be re-read at other settings without refitting.

    Parameters
    ----------
    model : torch.nn.Module
        A network with at least one hidden layer: a fitted estimator's ``module_``
        (in its normalized input units), not the estimator, which reads itself on
        raw inputs with its own ``diagnose``.
    X : array-like of shape (n_samples, n_features)
        Inputs over which representations are measured: at least one finite row.
    jacobian_points : array-like of shape (n_points, n_features) or None
        Where Jacobians are taken (finite); ``None`` or empty skips them.
    tol, min_gap : float
        The rank rule (:func:`read_rank`), used for every rank.
    include_bias : bool, default=True
        Whether ``parameter_norm`` counts the biases.
    weight : array-like of shape (n_samples,) or None, default=None
        Row weights for the bottleneck (its rank, mean and components), counted
        as repeats of the rows, as scikit-learn's ``sample_weight``: what an
        estimator fitted with sample weights reads. The other readings count
        each row of ``X`` once.

    Returns
    -------
    report : Report

    Raises
    ------
    ValueError
        If ``jacobian_points`` is not an array of points (``None``, or 2-D with
        as many columns as ``X``), or ``X`` or the points are not valid inputs.

    Examples
    --------
    >>> import torch
    >>> from skrank.diagnostics import diagnose
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(),
    ...                           torch.nn.Linear(8, 1), torch.nn.Tanh(),
    ...                           torch.nn.Linear(1, 4))
    >>> X = torch.randn(40, 4)
    >>> r = diagnose(net, X, jacobian_points=X[:5])
    >>> r.rank, r.jacobian_rank
    (1, 1)
    """
    x = _check_input(model, X)
    points = None
    if _has_points(jacobian_points):
        points = _check_input(model, jacobian_points, name="jacobian_points",
                              chain=False)  # the chain was checked on X
    if weight is not None:
        weight = _check_weight(weight, x.shape[0])
    return _report(model, x, points, tol, min_gap, include_bias, weight)


def _has_points(points):
    """Whether Jacobians are to be read at ``points``: ``None`` or no row skips them;
    a 0-d array, which has no rows to count, goes on to be refused as inputs."""
    return points is not None and (getattr(points, "ndim", 1) == 0 or len(points) > 0)


def _report(model, x, points, tol, min_gap, include_bias, weight=None):
    """:func:`diagnose` over checked tensors: each reading unchecked, once."""
    outputs = _layer_outputs(model, x)
    bn = _bottleneck(model, x, tol, min_gap, outputs=outputs, weight=weight)
    jac, jac_rank = _jacobian_reading(model, points, bn, tol, min_gap,
                                      min(x.shape[1], outputs[0][-1].shape[1]))
    own = _own_jacobian_rank(model, points, bn, tol, min_gap)
    free = _projected_spectra(model, x, tol, outputs)
    plain = layer_spectra(model)
    # with penalized biases the offset takes a weight direction per layer (read
    # out); with free biases the biases carry it and every direction counts
    counted = free if include_bias else plain
    return Report(
        layer_spectra=plain,
        offset_free_norm=float(sum(np.sum(sp ** 2) for sp in counted)),
        offset_free_spectra=free,
        representation_spectra=representation_spectra(model, x, outputs=outputs),
        bottleneck=bn,
        fidelity=_fidelity(model, x, bn, outputs),
        jacobian_spectra=jac,
        jacobian_rank=jac_rank,
        network_jacobian_rank=own,
        parameter_norm=parameter_norm(model, include_bias=include_bias),
        nonlinearity_impact=nonlinearity_impact(model, x, outputs=outputs),
        tol=tol,
        min_gap=min_gap,
    )


def _check_bounds(bounds):
    try:
        b = np.asarray(bounds, dtype=np.float64)
    except (TypeError, ValueError):
        b = None
    if b is None or b.shape != (2, 2) or not np.isfinite(b).all() or np.any(b[:, 0] >= b[:, 1]):
        raise ValueError(
            "bounds must be ((x_min, x_max), (y_min, y_max)) with finite min < max; "
            f"got {bounds!r}."
        )
    with np.errstate(over="ignore"):
        spans = b[:, 1] - b[:, 0]
    if not np.isfinite(spans).all():
        # the grid's step would be infinite, its points NaN
        raise ValueError(f"bounds {bounds!r} span more than the largest float "
                         f"({np.finfo(np.float64).max:.4g}) on an axis: the grid over "
                         "them is not finite; narrow them.")
    return b


def _check_classifier(estimator):
    """A classifier of 2 features; duck-typed objects with ``predict`` pass, since
    only an estimator says what it is."""
    if isinstance(estimator, BaseEstimator) and not is_classifier(estimator):
        raise TypeError(
            f"count_tripoints needs a classifier, got {type(estimator).__name__}, which "
            "does not predict class labels (a regressor's outputs are not regions); "
            "pass a fitted classifier such as skrank.DeepL2Classifier."
        )
    n_in = getattr(estimator, "n_features_in_", 2)
    if n_in != 2:
        raise ValueError(f"count_tripoints needs a classifier of 2 features; got {n_in}.")


def _three_class_cells(labels):
    """Grid cells whose four corners carry at least three distinct labels."""
    _, codes = np.unique(labels, return_inverse=True)
    grid = codes.reshape(labels.shape)
    corners = np.stack([grid[:-1, :-1], grid[1:, :-1], grid[:-1, 1:], grid[1:, 1:]])
    srt = np.sort(corners, axis=0)
    return 1 + (np.diff(srt, axis=0) != 0).sum(axis=0) >= 3


def _grid_labels(estimator, b, resolution):
    """The grid's axes over the bounds ``b`` and the classifier's labels on it, one
    row per y value."""
    xs, ys = (np.linspace(lo, hi, resolution) for lo, hi in b)
    gx, gy = np.meshgrid(xs, ys)
    labels = np.asarray(estimator.predict(np.column_stack([gx.ravel(), gy.ravel()])))
    return xs, ys, labels.reshape(resolution, resolution)


def _centres(marked, components, n, xs, ys):
    """The (x, y) centre of each connected group of marked grid cells."""
    centres = ndimage.center_of_mass(marked, components, range(1, n + 1))
    step = np.array([xs[1] - xs[0], ys[1] - ys[0]])
    return np.array([[xs[0] + (c + 0.5) * step[0], ys[0] + (r + 0.5) * step[1]]
                     for r, c in centres]).reshape(-1, 2)


#: Largest ``resolution`` of :func:`count_tripoints`: its grid of ``resolution**2``
#: points takes about 48 bytes a point at once (0.8 GB at this cap) before the
#: classifier reads them; without a cap, a resolution of 10**6 asked for 7 TiB.
MAX_RESOLUTION = 4096


@validate_params(
    {
        "estimator": [HasMethods(["predict"])],
        "bounds": ["array-like"],
        "resolution": [Count(Integral, 3, MAX_RESOLUTION, closed="both")],
        "return_locations": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def count_tripoints(estimator, bounds, resolution=200, *, return_locations=False):
    """Count the points where three or more classes meet, for a 2-D input space.

    The classifier is evaluated on a ``resolution x resolution`` grid over
    ``bounds``; every 2x2 block of grid points holding three or more labels
    marks a meeting point, and adjacent marked blocks (8-connectivity) count as one.

    Parameters
    ----------
    estimator : fitted classifier with ``predict`` on 2 features
        Any object with ``predict``; a scikit-learn estimator that is not a
        classifier (a regressor, say) raises a ``TypeError``.
    bounds : ((x_min, x_max), (y_min, y_max))
    resolution : int in [3, 4096], default=200
        Grid points per axis (at most :data:`MAX_RESOLUTION`). Boundaries closer
        than ``sqrt(2) * span / (resolution - 1)`` can meet in one 2x2 block: a
        stripe that narrow reads as spurious tripoints.
    return_locations : bool, default=False
        Also return the (x, y) centre of each tripoint.

    Returns
    -------
    n_tripoints : int
    locations : ndarray of shape (n_tripoints, 2)
        Only when ``return_locations=True``.

    Raises
    ------
    ValueError
        If ``bounds`` are not two finite intervals, or one spans more than the largest
        float (no finite grid); if ``resolution`` is outside ``[3, MAX_RESOLUTION]``.

    Notes
    -----
    A classifier of bottleneck rank 1 factors as ``x -> g(x) in R -> class``; a
    point on a line has at most two neighbouring classes, so the class regions of
    such a classifier have no tripoints (Jacot 2023a, sec. 5, Fig. 2).

    Examples
    --------
    >>> import numpy as np
    >>> from skrank.diagnostics import count_tripoints
    >>> class Sectors:  # three sectors meeting at the origin
    ...     def predict(self, X):
    ...         return (np.floor((np.arctan2(X[:, 1], X[:, 0]) + np.pi) / (2 * np.pi / 3))
    ...                 .astype(int) % 3)
    >>> count_tripoints(Sectors(), ((-1, 1), (-1, 1)), resolution=51)
    1
    >>> class Stripes:  # a rank-1 classifier
    ...     def predict(self, X):
    ...         return np.digitize(X[:, 0] + X[:, 1], [-0.5, 0.5])
    >>> count_tripoints(Stripes(), ((-1, 1), (-1, 1)))
    0
    """
    b = _check_bounds(bounds)
    _check_classifier(estimator)
    xs, ys, labels = _grid_labels(estimator, b, resolution)
    marked = _three_class_cells(labels)
    components, n = ndimage.label(marked, structure=np.ones((3, 3)))
    return (int(n), _centres(marked, components, n, xs, ys)) if return_locations else int(n)
