"""scikit-learn plumbing shared by every skrank estimator.

An estimator composes a task (:mod:`skrank._tasks`: targets, loss, score) with a
network (:mod:`skrank._networks`: named by the class attribute ``_network`` and
built from the parameters listed in ``_network_params``). ``_DeepL2Base`` validates
parameters and data, normalizes them, builds the network, hands it to the engine
and copies :func:`skrank.diagnostics.diagnose`'s report to fitted attributes.

What a subclass may add: ``_validate_fit_data`` (its own input checks),
``_training_pairs`` (data augmentation), ``_n_codes`` (how many bottleneck
coordinates ``transform`` returns), ``_holds_out`` (rows held out of training for
a reading of its own) and ``_extra_attributes`` (attributes of its own from the
report and the held-out rows, returned as a dict: nothing overwrites the shared
ones).
"""

import contextlib
import copy
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import (
    _check_sample_weight,
    _num_samples,
    check_array,
    check_is_fitted,
    validate_data,
)

from . import diagnostics as _diag
from ._device import (
    as_tensor,
    auto_threads,
    available_memory,
    check_memory,
    device_or_cpu,
    placement,
    resolve_device,
    threads,
    user_array,
)
from ._engine import (
    Callback,
    Settings,
    Stepper,
    TrainingInterruptedWarning,
    tell_divergences,
    warn_if_capped,
)
from ._grow import (
    GROWS,
    START_DEPTH,
    above_zero,
    grow_start,
    growth_layer,
    objectives,
    start_depth,
    train_deep,
    train_grown,
    zero_objective,
)
from ._networks import FullyConnectedNet
from ._params import Count as _Count
from ._scaling import IsotropicScaling
from ._warn import dropped_warnings, held_warnings, labelled_warnings, warn_user

_DTYPES = {"float32": torch.float32, "float64": torch.float64}

#: Rows per forward pass at predict time: memory stays bounded on huge inputs.
PREDICT_BATCH_ROWS = 65536
#: ``early_stopping='auto'`` holds rows out only when at least this many would be
#: held out: the R^2 of fewer rows swings by more than early stopping gains.
AUTO_VALIDATION_ROWS = 20
#: Inputs beyond this magnitude overflow float32 within a few layers.
_FLOAT32_SAFE = 1e15
#: An ``alpha`` beyond this makes the squared norm of the penalty's gradient
#: overflow float32 (measured: 1e19 stopped at iteration 1 as diverged, keeping the
#: random start, where 1e18 and float64 reached the zero network).
_FLOAT32_ALPHA = 1e17
#: Per dtype: the largest normalized input or target, and the largest ``alpha``.
#: float64's: squares overflow from 1e154 (targets of 1e160 with
#: ``normalize=False`` "diverged" at iteration 1, keeping the random start, and
#: scored NaN), and ``alpha`` 1e150 reached the zero network where 1e160 diverged.
_DTYPE_LIMITS = {"float32": (_FLOAT32_SAFE, _FLOAT32_ALPHA), "float64": (1e150, 1e150)}


def build_network(estimator, n_inputs, n_outputs, dtype, device=None, depth=None):
    """The network an estimator's parameters describe (also used by persistence);
    ``depth`` overrides the estimator's (the first stage of a grown fit)."""
    kwargs = {name: getattr(estimator, name) for name in estimator._network_params}
    if depth is not None:
        kwargs["depth"] = depth
    return estimator._network(n_inputs, n_outputs, dtype=dtype, device=device, **kwargs)


def _stochastic(estimator):
    """``partial_fit`` exists for the mini-batch solvers, as in scikit-learn's MLPs."""
    if estimator.solver not in ("adam", "sgd"):
        raise AttributeError(f"partial_fit is only available for the mini-batch solvers "
                             f"'adam' and 'sgd', not solver={estimator.solver!r}.")
    return True


def _mix64(z):
    """SplitMix64's finalizer on uint64 words (wrapping modulo 2^64): every input
    bit moves every output bit, so values differing only in their sign or exponent
    (words equal in their low bits) do not cancel when summed."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _row_groups(rows, chunk_values=2**20):
    """Group ids of the rows of float ``rows`` (at least one): the partition into
    equal rows (``-0.0 == 0.0``), as ``np.unique(rows, axis=0)``'s. The rows are
    read as float64, so integers beyond 2^53 would merge: the callers pass
    validated float data.

    Each row's 64-bit words are mixed (:func:`_mix64`, with a salt per column)
    and summed into a key, chunk by chunk; rows of one key are then checked equal
    to its first row, and only if two differ (a collision) does the exact sort
    run. ``np.unique(rows, axis=0)`` sorts the rows field by field: 1.6 s and 12
    times the data's memory for 20,000 rows of 2,000 features.
    """
    a = np.ascontiguousarray(rows.reshape(len(rows), -1), dtype=np.float64)
    salt = _mix64(np.arange(1, a.shape[1] + 1, dtype=np.uint64))
    step = max(1, chunk_values // max(a.shape[1], 1))
    keys = np.empty(len(a), dtype=np.uint64)
    for start in range(0, len(a), step):
        # + 0.0 turns -0.0 into 0.0; products and sums wrap modulo 2^64
        words = (a[start:start + step] + 0.0).view(np.uint64)
        keys[start:start + step] = _mix64(words + salt).sum(axis=1, dtype=np.uint64)
    _, first, group = np.unique(keys, return_index=True, return_inverse=True)
    group = group.ravel()
    for start in range(0, len(a), step):
        part = a[start:start + step]
        if not (part == a[first[group[start:start + step]]]).all():
            return np.unique(a + 0.0, axis=0, return_inverse=True)[1].ravel()
    return group


def _unseen_split(rows, perm, n_val, least=2):
    """Held-out and training rows, in the order of ``perm``: at most ``n_val``
    rows, none of which has a copy among the training rows.

    ``rows`` are the data's rows, inputs and targets side by side: a record
    repeated in the data is no unseen row when its copy was trained on (the
    held-out score then reads the fit of the training rows, early stopping stops
    late, and Stein's estimate of a denoiser's error reads optimistic, as on the
    training rows: ``skrank._denoise``); replicates, one input with other
    targets, are rows of their own. The groups of copies are taken in the order
    their first row comes in ``perm``, each whole or not at all: a group that
    would take the held-out rows past ``n_val`` stays in training (a record
    repeated throughout the data would otherwise empty it). Without repeats the
    split is ``perm[:n_val]``; where fewer than ``least`` rows could be held out
    so, it is too (no split is free of copies).
    """
    group = _row_groups(rows)[perm]
    counts = np.bincount(group)
    if counts.max() == 1:
        return perm[:n_val], perm[n_val:]
    _, first = np.unique(group, return_index=True)
    taken, total = [], 0
    for g in group[np.sort(first)]:
        if total + counts[g] <= n_val:
            taken.append(g)
            total += counts[g]
            if total == n_val:
                break
    if total < least:
        return perm[:n_val], perm[n_val:]
    held = np.isin(group, taken)
    return perm[held], perm[~held]


def _side_by_side(X, Y):
    """Inputs and targets as one row each: a record, for the tests of copies."""
    return np.hstack([X.reshape(len(X), -1), Y.reshape(len(Y), -1)])


def _distinct_rows(rows):
    """``rows`` without their copies, each kept where it first comes."""
    if not len(rows):
        return rows
    _, first = np.unique(_row_groups(rows), return_index=True)
    return rows[np.sort(first)]


def _unseen_rows(X_val, Y_val, X_tr, Y_tr):
    """The held-out inputs without a copy among the training rows, inputs and
    targets side by side as in :func:`_unseen_split` (``None``: none held out).
    Where no split is free of copies (its fallback, every record repeated more
    often than ``n_val``), the held-out rows are copies of rows the network was
    fitted to: Stein's estimate read on them chose steps of 26 to 318 (5, 8 and 3
    records repeated 60, 40 and 100 times)."""
    if X_val is None or not len(X_val) or not len(X_tr):
        return X_val
    group = _row_groups(np.concatenate([_side_by_side(X_val, Y_val),
                                        _side_by_side(X_tr, Y_tr)]))
    return X_val[~np.isin(group[:len(X_val)], group[len(X_val):])]


def _stratified_unseen_split(rows, labels, rng, n_val):
    """A stratified :func:`_unseen_split`: each class holds out its share of
    ``n_val`` rows (:func:`_class_quotas`), groups of copies whole, or where no
    group of a class's copies fits its share, a plain cut of its rows."""
    _, code, counts = np.unique(labels, return_inverse=True, return_counts=True)
    quota = _class_quotas(counts, n_val)
    val, tr = [], []
    for c, share in enumerate(quota):
        idx = np.flatnonzero(code.ravel() == c)
        v, t = _unseen_split(rows[idx], rng.permutation(len(idx)), share, least=1)
        val.append(idx[v])
        tr.append(idx[t])
    return np.concatenate(val), np.concatenate(tr)


def _class_quotas(counts, n_val):
    """Held-out rows per class, ``n_val`` in all: proportional shares rounded by
    largest remainders, at least one and at most ``count - 1`` per class (the
    caller checked that ``n_val`` allows it: ``stratifiable``)."""
    share = n_val * counts / counts.sum()
    quota = np.clip(np.floor(share).astype(int), 1, counts - 1)
    order = np.argsort(-(share - np.floor(share)), kind="stable")
    while quota.sum() != n_val:
        step = 1 if quota.sum() < n_val else -1
        movable = [c for c in order if (quota[c] < counts[c] - 1 if step > 0
                                        else quota[c] > 1)]
        if not movable:
            break
        quota[movable[0] if step > 0 else movable[-1]] += step
    return quota


def _n_cores():
    """The cores this process may run on (its affinity, where the system says)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on every system
        return os.cpu_count() or 1


def _checked_weight(sample_weight, X):
    """Validated sample weights with mean 1 (None stays None, as uniform weights do).

    Every use is scale-free (weighted means), but float32 is not: uniform weights
    of 1e38 overflowed the loss and stopped the fit at its random start."""
    if sample_weight is None:
        return None
    # refuses negative weights and all-zero ones by name
    w = _check_sample_weight(user_array(sample_weight), X, dtype=np.float64,
                             ensure_non_negative=True)
    return _mean_one(w)


def _mean_one(w):
    """Weights scaled to mean 1, or None when they are uniform: uniform weights are
    no weights, and the weighted loss rounds otherwise (a long fit amplifies the
    last bits: predictions 0.085 apart on a 600-row fit)."""
    if w.size and np.all(w == w[0]):
        return None
    w = w / w.max()  # first: the mean of huge weights overflows
    return w / w.mean()


#: Target columns whose spreads differ by this factor or more are said to: the
#: smaller ones then weigh 1% or less of the squared error, per unit of spread.
#: At 100 (1e-4) a held-out audit's column 12 times smaller than the other was
#: fitted to R^2 0.01 (held out -0.02, MLPRegressor's 0.80) and the rank read 1
#: for 2, with no word; 4 times smaller, to 0.93.
OUTPUT_SPREAD_RATIO = 10.0


#: An input column whose spread is below this fraction of the one scale all inputs
#: share costs 100 times the penalty or more per unit of effect: nearly invisible.
INPUT_SPREAD_FRACTION = 0.1
#: the central 80% of the rows spreading less than this fraction of all of them:
#: a few rows set the one scale (see :func:`_warn_if_rows_dominate`)
ROW_SPREAD_FRACTION = 0.1


@contextmanager
def _as_before_if_refused(est):
    """Put the estimator's attributes back as they were when the block raises.

    A fit's checks run between attribute updates (``n_features_in_``, the
    scalings, ``classes_`` are set before the split's and the memory's checks):
    a refused fit left the fitted network beside another fit's attributes, and
    ``predict`` answered 15 values for 5 rows. Nothing in the block trains, so
    the network's parameters are untouched; a warm refit may have moved it to a
    new ``device`` (the fitted one is continued there), and it goes back to where
    ``device_`` says it is.
    """
    before = dict(est.__dict__)
    module = before.get("module_")
    where = None if module is None else placement(module)
    try:
        yield
    except BaseException as exc:
        est.__dict__.clear()
        est.__dict__.update(before)
        _REFUSED.exc = exc  # put back whole: an enclosing restore has nothing to do
        if where is not None:
            module.to(**where)
        raise


#: The last exception :func:`_as_before_if_refused` restored the estimator for.
_REFUSED = threading.local()


@contextmanager
def _grad_enabled():
    """Training needs gradients whatever the caller's mode: under
    ``torch.no_grad()`` or ``torch.inference_mode()`` around ``fit`` the first
    backward pass failed inside torch ("element 0 of tensors does not require
    grad")."""
    with torch.inference_mode(False), torch.enable_grad():
        yield


@contextmanager
def _as_before_if_interrupted(est, forget=()):
    """Put the estimator back as it was, its network's parameters included, when
    Ctrl-C lands outside the training loops (which keep the last good parameters
    themselves): between the stages of a grown start, or while the fitted network
    is read; and when the fit raises (a ``ConvergenceWarning`` a warnings filter
    turned into an error, a torch error). The fit was left half done (a network
    without ``bottleneck_rank_``, or a refit's network and readings beside the new
    data's classes and scalings: wrong predictions, or a shape error in torch).
    ``forget``: state the block may have changed in place, dropped (an
    optimizer's moments)."""
    before = {k: v for k, v in est.__dict__.items() if k not in forget}
    module = before.get("module_")
    saved = None if module is None else {k: v.detach().clone()
                                         for k, v in module.state_dict().items()}
    try:
        yield
    except BaseException as exc:
        if getattr(_REFUSED, "exc", None) is exc:
            # refused before training (a batch of another width): nothing changed,
            # and partial_fit's optimizer goes on with the next batch
            _REFUSED.exc = None
            raise
        est.__dict__.clear()
        est.__dict__.update(before)
        if saved is not None:
            try:
                with torch.no_grad():
                    module.load_state_dict(saved)
            except Exception:
                # the fit's error (with its own cause), not the restore's failure
                raise exc from exc.__cause__
        if isinstance(exc, KeyboardInterrupt):
            warn_user("Interrupted outside the training loop (or in an epoch of "
                      "partial_fit); the estimator is left as it was before the "
                      "call.", TrainingInterruptedWarning)
        raise


def _warn_if_inputs_unbalanced(X, weight=None):
    """Say when most input columns are in units far smaller than the one scale all
    inputs share. One feature of four in units 30 times the others' made the
    default regressor learn a constant (y = x0 + x1^2, R^2 0.00, 'converged', no
    warning; 10 times: R^2 0.96), and columns in units from 1e-3 to 1e3 gave test
    R^2 near -1 behind a right rank reading. A few small columns (the border
    pixels of an image, in the units of the others) are not warned of: only when
    half the varying columns or more are that small."""
    spreads = _column_spreads(X, weight)
    if len(spreads) < 2:
        return
    scale = float(np.sqrt(np.mean((spreads / spreads.max()) ** 2))) * spreads.max()
    small = spreads < INPUT_SPREAD_FRACTION * scale
    if 2 * small.sum() < len(spreads):
        return
    warn_user(
        f"{small.sum()} of the {len(spreads)} input columns have spreads below "
        f"{INPUT_SPREAD_FRACTION:g} of the one scale all inputs share (standard "
        f"deviations {spreads.min():.3g} to {spreads.max():.3g}): skrank rescales the "
        "inputs by one factor, which keeps their geometry, so a column in small units "
        "costs 100 times the penalty or more to use and can be ignored (a fit can "
        "even be constant). If the features' units are arbitrary, standardize X "
        "first (StandardScaler).", UserWarning)


def _warn_if_rows_dominate(A, name, weight=None):
    """Say when a few rows set the one scale ``A`` is normalized by: over the
    columns that vary within their central 80% of rows, the root mean square of
    that central spread (the 10-90% range over 2.56, a normal column's standard
    deviation) is below :data:`ROW_SPREAD_FRACTION` of the root mean square
    standard deviation, which the scale follows. One row of X multiplied by 1000
    (300 rows) inflated the scale about 60-fold and compressed every other row:
    held-out default fits learned a constant (R^2 0.00 and 0.005, 'converged', no
    warning) where RidgeCV scored 0.75 and 0.48. Columns constant over their
    central rows (rare events, sparse counts) compress nothing and are not
    counted; nor are rows at a baseline, which stay inside the central 80%.
    Measured ratios: normal data 1, Student-t with 3 degrees of freedom 0.74,
    lognormal with sigma 2 about 0.2, one row of 300 times 100 0.17, times 1000
    0.017."""
    if weight is not None:
        A, weight = A[weight > 0], weight[weight > 0]
    spreads = _column_spreads(A, weight, varying_only=False)
    if A.ndim < 2 or A.shape[0] < 3 or not len(spreads):
        return
    central = _central_spreads(A, weight)
    counted = (spreads > 0) & (central > 0)
    if not counted.any():
        return
    top = spreads[counted].max()  # in its units: squares of huge spreads overflow
    ratio = float(np.sqrt(np.mean((central[counted] / top) ** 2))
                  / np.sqrt(np.mean((spreads[counted] / top) ** 2)))
    if ratio >= ROW_SPREAD_FRACTION:
        return
    warn_user(
        f"A few rows of {name} set the one scale skrank normalizes it by: the "
        f"central 80% of the rows spread {ratio:.2g} times as much as all of them. "
        "The other rows are compressed and cost more penalty to use (a fit can even "
        "be constant). Check the far rows for errors or outliers (remove or clip "
        "them); transform heavy-tailed data (a logarithm, QuantileTransformer).",
        UserWarning)


#: at most this many rows read the central spreads: quantiles settle on a
#: sample, and a sort of every row costs 16 bytes an entry on large data
CENTRAL_SAMPLE_ROWS = 10_000


def _central_spreads(A, weight=None):
    """Per column, the range of its central 80% of rows (weighted) over 2.563, a
    normal column's standard deviation, which a few far rows leave as it is; read
    on evenly spaced rows when there are more than :data:`CENTRAL_SAMPLE_ROWS`."""
    if A.shape[0] > CENTRAL_SAMPLE_ROWS:
        rows = np.linspace(0, A.shape[0] - 1, CENTRAL_SAMPLE_ROWS).astype(int)
        A, weight = A[rows], None if weight is None else weight[rows]
    order = np.argsort(A, axis=0, kind="stable")
    values = np.take_along_axis(A, order, axis=0)
    w = np.ones(A.shape[0]) if weight is None else np.asarray(weight, dtype=float)
    cum = np.cumsum(w[order], axis=0)
    cum /= cum[-1]
    cols = np.arange(A.shape[1])
    low = values[np.argmax(cum >= 0.1, axis=0), cols]
    high = values[np.argmax(cum >= 0.9, axis=0), cols]
    with np.errstate(over="ignore", invalid="ignore"):
        return np.nan_to_num((high - low) / 2.563, posinf=np.finfo(float).max)


def _warn_if_rows_bound_the_rank(est, X, weight=None):
    """Say when ``partial_fit``'s readings, taken on the call's rows, may be bound
    by their number: ``n`` centred rows span at most ``n - 1`` directions, so a
    batch of one read rank 0 whatever the network learned on earlier calls.
    Distinct rows count: 50 copies of two rows read 1 on a rank-4 network.
    Returns whether it warned."""
    rows = X if weight is None else X[weight > 0]
    enough = est.bottleneck_rank_ + 2  # distinct rows that leave the reading free
    # a prefix settles it for most chunks: sorting 100,000 rows took 40% of a call
    if len(rows) >= enough and len(np.unique(rows[:8 * enough], axis=0)) >= enough:
        return False
    n = len(np.unique(rows, axis=0)) if len(rows) else 0
    if n >= enough:
        return False
    distinct = " distinct" if n < len(rows) else ""
    warn_user(f"partial_fit read the network on this call's {n}{distinct} row(s), which can "
              f"show a rank of at most {max(n - 1, 0)}: bottleneck_rank_="
              f"{est.bottleneck_rank_} may understate the network's. Call "
              "diagnose(X) on more rows to read it.", AmbiguousRankWarning)
    return True


def _warn_if_no_unit(A, name, normalize):
    """The first ``partial_fit`` call fixes the units of every later one: data of
    zeros there have none to give (scale 1), and rows all alike have no spread (the
    scale falls back to their values' size). A stream that began with a row of
    zeros, then went on in units of 1000, trained to R^2 -3,000, with no word; one
    that began with 100 rows of targets 5, then went on with a spread of 0.45,
    ended at R^2 -20. A single row is a one-sample stream's first call: its
    values' size is the unit it has."""
    if not normalize:
        return
    if not np.any(A):
        what = "is all zero: the scale is set to 1"
    elif len(A) > 1 and not np.ptp(A.reshape(len(A), -1), axis=0).any():
        what = ("is the same in every row: it has no spread, and the scale is set to "
                "the size of its values")
    else:
        return
    warn_user(
        f"The first call to partial_fit fixes the units {name} is normalized "
        f"by, and its {name} {what}, and later calls "
        "train in those units (alpha then means what it means for data of "
        "spread 1; far larger or smaller data may fit poorly). Start with rows "
        "that show the data's spread, or normalize the data yourself and pass "
        "normalize=False.", UserWarning)


def _column_spreads(A, weight=None, varying_only=True):
    """Standard deviations of the varying columns of ``A`` (rows weighted); of
    every column, 0 for a constant one, with ``varying_only=False``."""
    if weight is not None:
        A, weight = A[weight > 0], weight[weight > 0]
    if A.ndim < 2 or A.shape[0] < 2:
        return np.zeros(0)
    # in units of the largest value first: squares of huge data overflow
    peak = float(np.max(np.abs(A)))
    if not 0 < peak < np.inf:
        return np.zeros(0)
    A = A / peak
    mean = np.average(A, axis=0, weights=weight)
    spread = peak * np.sqrt(np.average((A - mean) ** 2, axis=0, weights=weight))
    # constant columns by their range, exactly: the rounding of their mean reads
    # a spread of about 1e-14 of the peak, which grows with the rows
    varying = np.ptp(A, axis=0) > 0
    # a varying column whose spread underflows (1e-320 of the largest entry) is
    # smaller than any other, not absent: the unit checks exist for it
    spread = np.where(varying & (spread == 0), np.finfo(np.float64).tiny, spread)
    return spread[varying] if varying_only else np.where(varying, spread, 0.0)


def _warn_if_outputs_unbalanced(Y, weight=None):
    """Say when the targets' columns differ greatly in spread. The squared error
    (and so the fit and the rank) weighs each column by its variance: one column
    in units 1000 times larger made a rank-2 teacher read rank 1, with the other
    columns' held-out R^2 between -0.09 and 0.76, and no other sign of it."""
    varying = _column_spreads(Y, weight)
    if len(varying) < 2:
        return
    with np.errstate(over="ignore"):  # spreads of 1e307: the ratio is what counts
        ratio = varying.max() / varying.min()
    if ratio < OUTPUT_SPREAD_RATIO:
        return
    warn_user(
        f"The target columns' spreads differ by a factor of "
        f"{f'{ratio:.3g}' if np.isfinite(ratio) else 'more than 1e300'} (standard "
        f"deviations {varying.min():.3g} to {varying.max():.3g}): the squared error "
        "weighs each column by its variance, so the small columns barely count in "
        "the fit or in the rank readings, and their predictions can be worse than "
        "their mean. If every output matters alike, standardize y (for example "
        "TransformedTargetRegressor(regressor, transformer=StandardScaler())).",
        UserWarning)


def warm_deeper(previous, estimator, X, *, rtol, weight=None):
    """Start ``estimator`` (an unfitted, deeper clone) from ``previous``'s network.

    Identity-like layers are inserted at ``previous``'s bottleneck on ``X`` by the
    default rank rule (:func:`skrank._grow.growth_layer`, whatever ``rank_tol`` it
    is read at; ``deepened`` in :mod:`skrank._networks`): the deeper network
    computes nearly the same function on ``X`` (the directions weaker than
    ``rtol`` of the strongest are left out), and with ``warm_start`` the next fit
    continues from it (the
    scikit-learn convention: a warm start reuses ``module_``). ``weight`` (one per
    row of ``X``) weighs the rows as repeats, so rows of weight zero count for
    nothing; a scalar weighs every row alike.
    """
    weight = np.asarray(weight, dtype=float) if np.ndim(weight) else None
    x = as_tensor(previous._scale_inputs(X), previous.module_)
    estimator.module_ = previous.module_.deepened(
        estimator.depth - previous.depth, growth_layer(previous.module_, x, weight), x,
        rtol=rtol, weight=weight)
    # the warm fit checks its data against these (validate_data without reset):
    # absent, a DataFrame read as unnamed and warned at every depth
    for name in ("n_features_in_", "feature_names_in_"):
        if hasattr(previous, name):
            setattr(estimator, name, getattr(previous, name))
    return estimator


def _tensors(task, X, Y, module):
    where = placement(module)
    target = dict(where, dtype=task.target_dtype(where["dtype"]))
    return torch.tensor(X, **where), torch.tensor(Y, **target)


@dataclass
class _Plan:
    """A fit between preparation and completion: what the engine needs."""

    X_tr: np.ndarray
    X_fit: np.ndarray
    Y_fit: np.ndarray
    W_fit: np.ndarray
    validation: tuple
    modules: list
    generators: list
    trackers: list
    rng: np.random.RandomState
    task: object
    #: rows held out of training (``early_stopping``, an autoencoder's
    #: ``data_noise`` calibration), scaled; None when none are
    X_held: np.ndarray = None
    #: the sample weights of ``X_tr`` (None: none), for the diagnostics
    W_tr: np.ndarray = None
    #: bytes one network's training needs at least (``_check_memory``)
    memory: float = 0.0

    def training_tensors(self):
        return _tensors(self.task, self.X_fit, self.Y_fit, self.modules[0])

    def weight_tensor(self):
        if self.W_fit is None:
            return None
        return torch.tensor(self.W_fit, **placement(self.modules[0]))

    def train(self, est):
        """Train the plan's networks (see :func:`train_started`); the plan then
        holds the trained ones."""
        n = len(self.modules)
        self.modules, results = train_started(
            est, self.modules, [self.X_fit] * n, [self.W_fit] * n,
            *self.training_tensors(), self.trackers, per_network=False,
            **self.train_kwargs(est))
        return results

    def train_kwargs(self, est):
        n = len(self.modules)
        return dict(loss_fn=self.task.loss, alphas=[est.alpha] * n,
                    settings=est._settings(len(self.X_tr)),
                    validations=[self.validation] * n, generators=self.generators,
                    verbose=est.verbose, callbacks=[t.callback for t in self.trackers],
                    sample_weight=self.weight_tensor())


#: Bytes a layer costs beyond its arrays (its module, parameters and a pass's
#: autograd records), a lower estimate: measured 17 KB per layer of width 4 on a
#: CPU (depths 5,000 and 20,000).
LAYER_OVERHEAD = 12_000


class AmbiguousRankWarning(UserWarning):
    """Warning issued when a bottleneck rank reading is ambiguous.

    A rank was read where the spectrum shows no clear gap, or the network does
    not factor through the rank it read: the number moves with ``rank_tol``. Or a
    fit trained and not kept (another start or restart) ended as low at another
    rank: the number moves with the start. An
    autoencoder also warns when its bottleneck rank reaches the data's linear
    span (every input dimension, or what PCA keeps): it then found no bottleneck
    of its own, and its rank is only an upper bound of the manifold's. A
    reading at the most the function can need (``min(n_features, n_outputs)``, a
    classifier's ``n_classes - 1``) stands as a rank, but warns when the network
    does not narrow to it at the layer read: that layer's components and gap
    then do not describe the network.
    """


#: Below this fidelity the network passed through its bottleneck coordinates no
#: longer reproduces the network (a tenth of its variance lost): the cut
#: directions still matter and the reading understates the rank.
MIN_FIDELITY = 0.9


def _warn_if_unclear(report, tol, name="bottleneck_rank_", jacobian_bounds=False,
                     weak=0.0, bound=None, cut_advice=None):
    """The fit's warning, and :meth:`_DeepL2Base.diagnose`'s (``name`` the rank's);
    returns whether it warned (see :func:`_unclear`; ``weak``: see
    :func:`_weak_direction`, 0 for none; ``bound``: ``(value, what, why)`` of
    :meth:`_DeepL2Base._function_bound`, None to read it off the Jacobians;
    ``cut_advice``: the estimator's own end of the warning that the network's
    Jacobian reads above the cut, None for a regression's)."""
    at_bound = bound is not None and report.bottleneck.rank >= bound[0]
    message = _above_function_bound(report, name, bound) or _unclear(
        report, tol, name, jacobian_bounds, at_bound, cut_advice)
    if message is None and weak:
        message = _weak_direction(report, tol, weak, name)
    if message:
        warn_user(message, AmbiguousRankWarning)
    return bool(message)


def _above_function_bound(report, name, bound=None):
    """A bottleneck reading above ``bound = (value, what, why)`` of
    :meth:`_DeepL2Base._function_bound`, or None: every function of
    ``n_features`` inputs and ``n_outputs`` outputs factors through
    ``min(n_features, n_outputs)`` dimensions (through its own output), a
    classifier's through ``n_classes - 1`` (its centered logits), so the reading
    is the network's, not its function's (five outputs of pure noise on ten
    features read 6, with a gap of 10; three classes read 3 with a gap of 4 to 6).
    Without ``bound`` it is the Jacobians' size, and with no Jacobian points read
    there is none to bound by."""
    if bound is None:
        if report.jacobian_spectra is None or len(report.jacobian_spectra) == 0:
            return None
        bound = (_jacobian_size(report), *FUNCTION_BOUND)
    value, what, why = bound
    if report.bottleneck.rank <= value:
        return None
    return (
        f"{name}={report.bottleneck.rank} is above {what} = {value}: {why}. The "
        "network's narrowest hidden map carries directions the learned function "
        f"does not use, and the function's rank is at most {value}. A longer fit or "
        "a larger alpha lets the network drop them.")


#: How a regressor's bound is named and why it holds (see ``_above_function_bound``).
FUNCTION_BOUND = ("min(n_features, n_outputs)",
                  "every function of that many inputs and outputs passes through "
                  "that many dimensions (through its own output)")


def _unclear(report, tol, name, jacobian_bounds, at_bound=False, cut_advice=None):
    """What makes the reading in ``report`` unclear, or None.

    ``at_bound``: the reading equals the most the estimator's function can need
    (:meth:`_DeepL2Base._function_bound`), so a low fidelity cannot mean that it
    understates the function's rank: it is told as a cut the network does not
    pass through (:func:`_loose_cut_at_bound`).

    ``jacobian_bounds``: the Jacobian rank reads the same function's rank (a
    regressor's), so a Jacobian rank below the bottleneck's leaves the rank between
    them. An autoencoder's does not: a learned projection onto a curved manifold
    has a Jacobian rank below its bottleneck rank by design. ``'above'`` (an
    autoencoder's): only a Jacobian above the cut, or flat everywhere, says the
    reading is unclear; ``'outputs'`` (a classifier's, see
    :data:`skrank.DeepL2Classifier._jacobian_bounds`): so does a Jacobian below the
    cut with the outputs' image below it too (:func:`_output_and_jacobian_below`).
    """
    bn = report.bottleneck
    if bn.reading is not None and not bn.reading.clear:
        return (
            f"The bottleneck spectrum has no clear gap (no ratio of consecutive "
            f"singular values reaches rank_gap; {bn.reading.gap:.2g} at the cut): "
            f"{name}={bn.rank} counts the "
            f"values above rank_tol={tol} and changes with it. Train longer, raise "
            "alpha or depth, or read est.diagnose(X, rank_tol=...).")
    elif np.isfinite(report.fidelity) and report.fidelity < MIN_FIDELITY:
        # a negative fidelity (R^2): further from the network than its mean output
        kept = (f"only {report.fidelity:.0%}" if report.fidelity >= 0 else
                f"none (fidelity {report.fidelity:.3g})")
        if at_bound:
            # the rank cannot be understated there (a held-out audit's single-output
            # ResNets were told so on 4 data sets of 9), but the cut's layer and
            # coordinates still do not carry the network (a classifier on two
            # moons: fidelity -0.23 at layer 5, the layers after it wider again)
            return _loose_cut_at_bound(report, name, kept)
        # measured (a held-out check: a rank-1 teacher of 5 outputs at
        # signal-to-noise 3, 300 rows): right readings of 1 warned here at fidelity
        # 0.83-0.86, the network spending a weak direction on the noise
        return (
            f"The network passed through its {bn.rank} bottleneck coordinates keeps "
            f"{kept} of its output variance: the directions the "
            "rank reading cut still matter, so bottleneck_rank_ understates what the "
            "network computes, as do the coordinates read through the cut "
            "(transform's output at the default n_components, where the estimator "
            "has one). A clear gap may lie below rank_tol of the largest value "
            "(est.diagnose(X, rank_tol=...) reads it without refitting). On noisy "
            "targets the cut directions may be fitted noise (a right reading of the "
            "data's rank then warns too): compare held-out scores at larger alphas "
            "(RankAwareDepthSelector(alphas=...)).")
    return _jacobian_unclear(report, name, below=jacobian_bounds is True,
                             outputs=jacobian_bounds == "outputs",
                             advice=cut_advice) if jacobian_bounds else None


def _loose_cut_at_bound(report, name, kept):
    """:func:`_unclear`'s low-fidelity warning for a reading at the function's
    bound: right as a rank, but read at a cut the network does not pass through."""
    bn = report.bottleneck
    plural = "s" if bn.rank != 1 else ""
    return (
        f"{name}={bn.rank} is the most the learned function can need, but the network "
        f"passed through its {bn.rank} coordinate{plural} at hidden layer {bn.layer} "
        f"keeps {kept} of its output variance: the network does not narrow to "
        f"{bn.rank} dimension{plural} there, so the cut's layer, components and gap "
        "(bottleneck_layer_, bottleneck_components_, bottleneck_gap_) and the "
        "coordinates read through it do not describe it. layer_ranks_ shows what the "
        "other layers read; a larger alpha (chosen by cross-validation) makes the "
        "network narrow (an audit's two-moons classifier: at alpha=0.03 no fold "
        "warned, and its held-out log loss fell).")


def _jacobian_unclear(report, name, below=True, outputs=False, advice=None):
    """:func:`_unclear` for a regressor's or classifier's Jacobian readings, which
    read the same function's rank as its bottleneck; ``below``: a Jacobian rank
    below the bottleneck's warns too; ``outputs``: so does one with the outputs'
    image below it too (:func:`_output_and_jacobian_below`); ``advice``: what
    follows the first sentence of the warning that the network's own Jacobian
    reads above the cut (None: a regression's)."""
    bn = report.bottleneck
    if (report.network_jacobian_rank or 0) > bn.rank:
        # measured: on inputs in three clusters the first map's image is dominated
        # by the plane of the cluster centres and was cut below the directions a
        # rank-3 or rank-4 teacher uses (4 fits of 4 read 1 or 2, fidelity 0.92 to
        # 0.98, silent), while every middle map and the network's Jacobian read the
        # teacher's rank; on a sine teacher of rank 1 the same pattern read right
        # (the network's Jacobian read 2): the warning, not a raised number
        # and (a held-out check) a rank-1 teacher at signal-to-noise 3 read 1 and
        # warned here twice in four fits: the network spent a weak direction on the
        # noise, and the reading was the teacher's
        return (
            f"{name}={bn.rank} but the network's own Jacobian (read without the cut: "
            "diagnose(X).network_jacobian_rank) reads rank "
            f"{report.network_jacobian_rank} at the Jacobian points: a function that "
            f"factors through {bn.rank} coordinate{'s' if bn.rank != 1 else ''} "
            "cannot, so the cut at hidden "
            f"layer {bn.layer} drops directions the network uses (its coordinates "
            f"keep {report.fidelity:.1%} of the output variance). "
            + (advice or "The learned "
            "function's rank lies between the two. On inputs in clusters such cuts "
            "read below a teacher's rank; on noisy targets the dropped directions "
            "may be fitted noise, and the reading the data's rank. layer_ranks_ "
            "shows what the other layers read."))
    elif report.jacobian_rank == 0 and bn.rank > 0:
        # measured: a rank-4 teacher on Student-t inputs read 1 with Jacobian 0,
        # fidelity 1.0, held-out R^2 0.61, on two draws of its data
        return (
            f"{name}={bn.rank} but the network is flat at every Jacobian point "
            "(Jacobian rank 0): its output varies only on other rows (far-out inputs, "
            "on heavy-tailed data), and the rank is read from them. More "
            "n_jacobian_points, or inputs transformed to lighter tails, settle it.")
    elif below and 0 < (report.jacobian_rank or 0) < min(
            bn.rank, _jacobian_size(report)):
        # measured (bench_rank, 153 default fits of held-out teachers): the two
        # readings disagreed 13 times, the bottleneck's the wrong one in 10; a
        # clear gap and full fidelity did not tell them apart (gaps up to 8,000).
        # A later probe (96 fits, new teacher families, noisy targets): 27 times,
        # the bottleneck's wrong in 26 (too high), the Jacobian's right in 19.
        # A Jacobian read at its full size (one output: rank 1) adds nothing here:
        # a bottleneck above that size is above every function's rank, which
        # _above_function_bound says first
        return _jacobian_below(report, name)
    elif outputs and _output_and_jacobian_below(report):
        return _output_below(report, name)
    return None


def _output_and_jacobian_below(report):
    """Whether the function's own two readings both fall below the bottleneck's: its
    output's image on the data (the output map's reading, an upper bound of its
    rank by the same rule: the function factors through its output) and its
    Jacobian rank. A classifier's Jacobian alone reads low inside its class
    regions where the bottleneck is right; with the output low too, the bottleneck
    passes a direction the outputs barely use."""
    bn = report.bottleneck
    ranks = bn.weight_ranks
    return (0 < (report.jacobian_rank or 0) < bn.rank and ranks is not None
            and len(ranks) > 1 and ranks[-1] < bn.rank)


def _output_below(report, name):
    """:func:`_jacobian_unclear`'s warning of :func:`_output_and_jacobian_below`."""
    bn = report.bottleneck
    out = int(bn.weight_ranks[-1])
    return (
        f"{name}={bn.rank} but both of the function's own readings are lower: its "
        f"outputs vary over the data in {out} direction{'s' if out != 1 else ''} "
        f"(the output map's reading, layer_ranks_[-1] of a fit) and its Jacobian "
        f"rank is {report.jacobian_rank}. A "
        f"function factors through its outputs, so by this rule its rank is at most "
        f"{out}: the bottleneck passes a direction the outputs barely use. Measured "
        "on held-out classifiers, 8 silent readings of this kind: 4 one above the "
        "teacher's rank (four ordered classes of one coordinate read 2 on three "
        "seeds), 2 equal to it and 2 (digits) one above the other folds' reading. "
        "est.diagnose(X, rank_tol=...) re-reads without refitting; a larger alpha "
        "(chosen by cross-validation) drops such directions.")


def _jacobian_below(report, name):
    """:func:`_jacobian_unclear`'s warning of a Jacobian rank below the
    bottleneck's."""
    bn = report.bottleneck
    values = _highest_jacobian(report)
    return (
        f"{name}={bn.rank} but the Jacobian rank is {report.jacobian_rank} (the "
        "largest over the Jacobian points"
        + ("" if values is None else f"; singular values {values} at one that read it")
        + "): the rank of the learned function lies between the two. Either "
        "the bottleneck passes a direction the function barely uses, or the "
        "Jacobian's rank_tol cuts a weak direction the function uses, or its "
        "points miss one. Both were "
        "measured: on held-out regression teachers with noisy targets the "
        "bottleneck reading was the wrong one in 36 of 40 such cases (mostly too "
        "high) "
        "and the Jacobian rank the teacher's in 29; on an audit's linear maps of "
        "3 outputs whose directions differ 1 : 0.23 : 0.13 the bottleneck was "
        "right in 10 of 10 (the Jacobian reading 1 or 2). More rows settle it "
        "(2,000 rows read 3 and 3 there); est.diagnose(X, rank_tol=...) re-reads "
        "both without refitting.")


def _highest_jacobian(report):
    """The Jacobian spectrum (as text, None if no point's reads it) of the first
    point that read the Jacobian rank: whether the rule cut a drop to zero or a
    weaker direction above it is the user's to see (a linear map whose directions
    differ 1 : 0.23 : 0.13 read 1 or 2 against a right bottleneck of 3; the
    held-out noisy teachers' Jacobians read their rank against bottlenecks too
    high)."""
    for s in report.jacobian_spectra:
        s = np.sort(np.abs(np.asarray(s, dtype=np.float64)))[::-1]
        if _diag._read_rank(s, tol=report.tol, min_gap=report.min_gap).rank == \
                report.jacobian_rank:
            return "[" + ", ".join(f"{v:.2g}" for v in s[:report.jacobian_rank + 3]) + "]"
    return None


def _weak_direction(report, tol, factor, name):
    """The warning for a kept bottleneck direction weaker than ``factor * tol`` of
    the strongest (the reading would cut it at ``rank_tol = factor * tol``), or None.

    Measured on noisy multi-output regression teachers (``bench_rank.py``'s fifth
    table, draws 0-3 and 5, 168 default fits): at ``factor * tol = 0.2`` it flagged 6
    of the 23 readings too high that no other warning flagged, and none of the 66
    right ones; on 24 clean teachers of rank 1 to 5 the weakest kept direction was
    0.375 of the strongest or more.
    """
    bn = report.bottleneck
    spectrum = np.asarray(bn.spectrum if bn.spectrum is not None else [])
    if bn.rank < 2 or len(spectrum) < bn.rank or not spectrum[0] > 0:
        return None
    ratio = spectrum[bn.rank - 1] / spectrum[0]
    if ratio >= factor * tol:
        return None
    return (
        f"{name}={bn.rank}, but its weakest bottleneck direction is {ratio:.2f} of "
        f"the strongest, within {factor:g} times rank_tol={tol}: at rank_tol="
        f"{factor * tol:g} the reading would cut it. On held-out tasks such weak "
        "directions were mostly ones the function did not need (noise fitted on "
        "regression targets; a direction too many on classes). Read "
        "est.diagnose(X, rank_tol=...), or raise alpha (chosen by cross-validation).")


#: Two fits of one network whose final objectives lie within this fraction of each
#: other answer the training problem equally well (stuck starts end 10% to 20 times
#: higher)
RIVAL_MARGIN = 0.05


def _close(objective, reference):
    """Whether two final objectives lie within :data:`RIVAL_MARGIN` of each other
    (both finite)."""
    return bool(np.isfinite(objective) and np.isfinite(reference)
                and abs(objective - reference) <= RIVAL_MARGIN * abs(reference))


def _warn_if_rivals_disagree(rank, objective, rivals):
    """Warn when a fit not kept (``rivals``: its rank and final objective) ended
    within :data:`RIVAL_MARGIN` of the kept fit's ``objective`` at a lower rank;
    returns whether it warned.

    Only a lower rank counts: the penalty prefers the lower rank, so a kept fit
    of lower objective and lower rank than its rival is read with both on its
    side. Measured on multi-output teachers of known rank, most with noisy targets
    (198 default fits, three sets of generators): a rival within 5% read a lower
    rank 15 times, the kept reading too high every time (6 of them flagged by no
    other warning); a higher rank 15 times, the kept reading right in 7. On one
    of the three sets (68 fits) the starts nearly always agreed: it never fired.
    Later audits: once more on a too-high noisy reading, and three times on right
    readings of noise-free teachers, so the warning names both ranks and no
    direction.
    """
    close = [(r, o) for r, o in rivals if r < rank and _close(o, objective)]
    if not close:
        return False
    r, o = min(close)
    warn_user(
        f"bottleneck_rank_={rank}, but another fit of this network trained by this "
        "fit and not kept (the other start of init='auto', or another n_init restart) "
        f"ended within {RIVAL_MARGIN:.0%} of the kept fit's objective ({o:.4g} "
        f"against {objective:.4g}) at rank {r}: a "
        f"function of rank {r} fits about as well, so the reading is not settled "
        f"between {r} and {rank}. On noisy targets the kept reading was too high "
        "each time this was measured (the extra directions fitted the noise); on "
        "noise-free targets it was right each time. Compare held-out scores at both "
        "ranks (n_init and restart_ranks_, or RankAwareDepthSelector over alpha) "
        "before reading either.", AmbiguousRankWarning)
    return True


def _jacobian_size(report):
    """The largest rank a Jacobian of the network can have: min(outputs, inputs)."""
    spectra = report.jacobian_spectra
    return 0 if spectra is None or len(spectra) == 0 else len(spectra[0])


def _stuck(results, loss_fn, Y, W, n_outputs, dtype, per_network):
    """Indices of the results that ended above the zero network's objective."""
    out = []
    for i, r in enumerate(results):
        if not r.loss_curve or r.stop_reason in ("diverged", "interrupted"):
            continue
        Y_i, W_i = (Y[i], None if W is None else W[i]) if per_network else (Y, W)
        if above_zero(r.loss_curve[-1], zero_objective(loss_fn, Y_i, W_i, n_outputs, dtype)):
            out.append(i)
    return out


def _subset(kwargs, rows, per_network):
    """``train_many``'s per-network arguments for the networks in ``rows``."""
    sub = dict(kwargs)
    for name in ("alphas", "validations", "generators", "callbacks"):
        if kwargs.get(name) is not None:
            sub[name] = [kwargs[name][i] for i in rows]
    weight = kwargs.get("sample_weight")
    if per_network and weight is not None:
        sub["sample_weight"] = weight[torch.tensor(rows, device=weight.device)]
    return sub


def train_started(est, modules, inputs, weights, X, Y, trackers, *, per_network,
                  **kwargs):
    """Train fresh or reused ``modules`` (``skrank._grow.train_grown``).

    With ``init='auto'`` (several regression outputs: ``_regrows``) every fresh
    network is also grown: a network of depth 3
    trained and deepened (``skrank._grow.grow_start``), then trained at full depth;
    of the random fit and the grown one the lower objective is kept, or when
    early-stopped the better held-out score (:func:`_better`; a random fit
    stops in sharp regions that no cheap bar detects, ``skrank._grow``). An
    estimator with ``_trains_both_starts = False`` trains on from the grown start
    only a random fit that ended above its objective before the deep stage, or
    above the zero network's.
    """
    warm = getattr(est, "module_", None) is modules[0]
    regrows = not warm and est._regrows(modules[0].architecture()["n_outputs"])
    each = _threads_each(est, X) if regrows else 0
    if each and _at_once(est, modules, X):
        return _train_beside(est, modules, inputs, weights, X, Y, trackers, each,
                             per_network=per_network, **kwargs)
    split = None if regrows or per_network else _restart_groups(est, modules, X)
    if split:
        return _train_split(est, modules, inputs, weights, X, Y, *split, kwargs)
    # the starts on as many threads as at once: the same fit whichever way
    with threads(each or None):
        return _train_in_turn(est, modules, inputs, weights, X, Y, trackers, regrows,
                              warm, per_network, kwargs)


#: An interrupt in ``init='auto'``'s grown start, after its random start ended.
_KEPT_RANDOM = ("Training interrupted in the grown start (the second of init='auto''s "
                "two starts); the model keeps the random start's fit, which had ended, "
                "and is usable.")


def _train_in_turn(est, modules, inputs, weights, X, Y, trackers, regrows, warm,
                   per_network, kwargs):
    """:func:`train_started` with the starts one after the other."""
    # a random attempt that is replaced is no fit of the user's: warn of the kept ones
    modules, results = train_grown(modules, inputs, est.depth, X, Y, weights=weights,
                                   per_network=per_network, warn_capped=not regrows,
                                   trained=warm, **kwargs)
    if not regrows or any(r.stop_reason == "interrupted" for r in results):
        return modules, results
    stage = {k: v for k, v in kwargs.items() if k != "callbacks"}
    # an interrupt here keeps the random fits: the grown start's word of its own
    # parameters would describe a network the model does not keep
    with dropped_warnings(TrainingInterruptedWarning):
        starts, first = grow_start(_shallow(est, modules, kwargs["generators"]), inputs,
                                   est.depth, X, Y, weights=weights,
                                   per_network=per_network, **stage)
    if any(f.stop_reason == "interrupted" for f in first):
        _add_time(results, first)
        warn_user(_KEPT_RANDOM, TrainingInterruptedWarning)
        return modules, [replace(r, stop_reason="interrupted") for r in results]
    rows = _random_fits_to_compare(results)
    if not est._trains_both_starts:
        reference = objectives(starts, X, Y, per_network=per_network, **stage)
        zero = set(_stuck(results, kwargs["loss_fn"], Y, kwargs.get("sample_weight"),
                          modules[0].architecture()["n_outputs"], X.dtype, per_network))
        rows = [i for i in rows
                if i in zero or above_zero(results[i].loss_curve[-1], reference[i])]
    # every grown start trains on where a random fit has a rival (a batch the same
    # as the starts at once train: its size changes its rounding)
    trained = list(range(len(modules))) if rows and est._trains_both_starts else rows
    # the rank records start over for the grown fit, and come back if it loses; a
    # grown fit without a rival records none (its network keeps the random fit's)
    kept = {i: trackers[i].restart() for i in rows}
    calls = kwargs.get("callbacks") or [None] * len(modules)
    kwargs = {**kwargs, "callbacks": [c if i in kept else None for i, c in enumerate(calls)]}
    deep = dict(zip(trained, _deep_stage(starts, first, trained, X, Y, per_network,
                                         kwargs) if trained else []))
    return _both_kept(modules, results, starts, first, rows, [deep[i] for i in rows],
                      kept, trackers, X, Y, per_network, kwargs)


def _threads_each(est, X):
    """Threads for each of ``init='auto'``'s two starts, at once or one after the
    other (0: torch's setting as it stands): half the threads to spend, at least
    one, where there are two or more (``'auto'`` counts the cores, or
    ``OMP_NUM_THREADS``). Products over other thread counts round differently, so
    the starts train on this many either way: ``verbose`` does not change the fit.

    On the CPU, by L-BFGS without the Adam warm-up (which draws from the
    generator the grown start is drawn from), where every random fit has a grown
    rival (not the autoencoder's, whose grown start depends on its random fit).
    """
    if (X.device.type != "cpu" or est.solver != "lbfgs" or est.warmup_iter
            or not est._trains_both_starts):
        return 0
    budget = _thread_budget(est)
    return max(1, min(torch.get_num_threads(), budget // 2)) if budget >= 2 else 0


def _thread_budget(est):
    """The CPU threads a fit may spend: ``n_threads``, where ``'auto'`` counts the
    cores, or ``OMP_NUM_THREADS`` (one thread of each process, for jobs in
    processes), and ``None`` torch's setting."""
    if est.n_threads == "auto":
        return min(_n_cores(), _omp_threads() or _n_cores())
    if est.n_threads is None:
        return torch.get_num_threads()
    return min(est.n_threads, _n_cores())


def _restart_groups(est, modules, X):
    """``n_init`` restarts of one start (no grown rival) on a CPU in two groups,
    and the torch threads of each: ``(groups, threads)``, or None (one batch).

    Two batches on one core each, in threads of their own, pay no barrier of a
    product split over two threads (see :func:`_at_once`), which stalls beside
    another busy process: ``DeepL2Classifier(n_init=8)`` on two moons in 18-20 s
    as two groups against 146-239 s as one batch on both threads, beside other
    work; about the same (10.7 s against 9.7 s) on a quiet machine. The groups do
    not follow the threads to spend, so that a fit is the same in any process (a
    sweep's worker has one thread: ``n_jobs`` must not change it), at once or
    one after the other (:func:`_groups_at_once`).
    """
    if len(modules) < 2 or X.device.type != "cpu":
        return None
    half = (len(modules) + 1) // 2
    return ([list(range(half)), list(range(half, len(modules)))],
            max(1, _thread_budget(est) // 2))


def _groups_at_once(est):
    """Whether :func:`_restart_groups`' groups train at once, each in a thread: with
    two threads or more to spend, not with one stream of progress and rank records
    to keep, nor in a job of a sweep whose jobs run in parallel (then one after
    the other, on as many threads: the same fit)."""
    return not (_thread_budget(est) < 2 or est.verbose
                or getattr(est, "track_rank_every", 0) or getattr(_ALONE, "sweep", False))


def _at_once(est, modules, X):
    """Whether ``init='auto'``'s two starts train at once, the random fit in the
    fit's thread and the grown one in a thread of its own (:func:`_threads_each`
    threads each).

    Two fits in two threads use two cores without the barriers of one product
    split over two threads, which stall beside another busy process (see
    :data:`skrank._device.SMALL_WORK`). Measured on 2 cores, beside another busy
    process: the default fit of the rank-2 task on 500 rows in 8.9 s against 12.9
    s, the same fit to the bit. Not with one stream of progress and rank records to
    keep (``verbose``, ``track_rank_every``), in a job of a sweep whose jobs run in
    parallel, nor unless both starts fit in a quarter of the free memory.
    """
    if est.verbose or getattr(est, "track_rank_every", 0) \
            or getattr(_ALONE, "sweep", False):
        return False
    n_params = sum(p.numel() for m in modules for p in m.parameters())
    # both starts: their parameters, gradients and L-BFGS pairs, and one pass
    need = 2 * X.element_size() * (44 * n_params
                                   + X.shape[-2] * est.depth * est.width * len(modules))
    free = available_memory(X.device)
    return free is None or need <= free / 4


#: ``_ALONE.sweep``: this thread runs one job of a sweep whose jobs run in
#: parallel: its fits take no second thread (:func:`one_thread_per_job`).
_ALONE = threading.local()


@contextmanager
def one_thread_per_job(parallel=True):
    """Fits in this block train ``init='auto'``'s starts one after the other when
    ``parallel``: the jobs beside them already use the other cores."""
    before = getattr(_ALONE, "sweep", False)
    _ALONE.sweep = before or parallel
    try:
        yield
    finally:
        _ALONE.sweep = before


def _omp_threads():
    """``OMP_NUM_THREADS``' outer level ("4,2" nests: 4), None when unset."""
    try:
        return max(int(os.environ.get("OMP_NUM_THREADS", "").split(",")[0]), 1)
    except ValueError:
        return None


class _Stop(Callback):
    """Ends a run once ``event`` is set: the other start was interrupted or failed."""

    def __init__(self, event):
        self.event = event

    def on_iteration(self, run, loss_value):
        return self.event.is_set()


def _grow_beside(out, stop, each, est, shallow, inputs, weights, X, Y, per_network,
                 kwargs):
    """The grown start of :func:`_train_beside`, in its own thread: ``out`` gets
    its shallow stage (``'first'``), its deep stage (``'deep'``) or the error."""
    try:
        with threads(each), held_warnings() as out["warnings"]:
            out["first"] = grow_start(shallow, inputs, est.depth, X, Y, weights=weights,
                                      per_network=per_network, **kwargs)
            if not stop.is_set() and not any(f.stop_reason == "interrupted"
                                             for f in out["first"][1]):
                out["deep"] = _deep_stage(*out["first"], list(range(len(shallow))), X,
                                          Y, per_network, kwargs)
    except BaseException as exc:  # raised again in the fit's thread
        out["error"] = exc
    finally:
        if "deep" not in out or any(r.stop_reason == "interrupted" for r in out["deep"]):
            stop.set()  # the random fit ends with the grown one
        out["done"].set()


def _train_beside(est, modules, inputs, weights, X, Y, trackers, each, *, per_network,
                  **kwargs):
    """:func:`train_started`'s two starts at once (see :func:`_at_once`), each on
    ``each`` threads; then the choice made one after the other."""
    stop, out = threading.Event(), {"done": threading.Event()}
    # no rank records here: the callbacks are the stop signal of the other start
    kwargs = {**kwargs, "callbacks": [_Stop(stop)] * len(modules)}
    worker = threading.Thread(
        target=_grow_beside, name="skrank grown start", daemon=True,
        args=(out, stop, each, est, _shallow(est, modules, kwargs["generators"]),
              inputs, weights, X, Y, per_network, kwargs))
    results, start = None, time.perf_counter()
    with threads(each):
        try:
            worker.start()
            modules, results = train_grown(modules, inputs, est.depth, X, Y,
                                           weights=weights, per_network=per_network,
                                           warn_capped=False, **kwargs)
            if any(r.stop_reason == "interrupted" for r in results):
                stop.set()
            _wait(out["done"])
        except BaseException as exc:
            stop.set()
            _wait(out["done"], worker)  # the grown start stops at its next iteration
            _issue(out.get("warnings", ()))
            if results is None or not isinstance(exc, KeyboardInterrupt):
                raise
            # Ctrl-C while the grown start trained on: the random fit is the model
            warn_user(_KEPT_RANDOM, TrainingInterruptedWarning)
            results = [replace(r, stop_reason="interrupted", interrupt=exc)
                       for r in results]
        else:
            # on the threads the starts trained on, as one after the other
            modules, results = _chosen_beside(out, modules, results, trackers, X, Y,
                                              per_network, kwargs)
    for r in results:  # the starts overlapped: the wall time, not their sum
        r.train_time = time.perf_counter() - start
    return modules, results


def _chosen_beside(out, modules, results, trackers, X, Y, per_network, kwargs):
    """After :func:`_train_beside`'s two starts: the grown start's warnings and
    error, then the choice :func:`_train_in_turn` makes."""
    _issue(out.get("warnings", ()))
    if "error" in out:
        raise out["error"]
    if any(r.stop_reason == "interrupted" for r in results):
        return modules, results
    starts, first = out["first"]
    if "deep" not in out:  # its shallow stage was interrupted
        return modules, [replace(r, stop_reason="interrupted") for r in results]
    rows = _random_fits_to_compare(results)
    kept = {i: trackers[i].restart() for i in rows}
    return _both_kept(modules, results, starts, first, rows,
                      [out["deep"][i] for i in rows], kept, trackers, X, Y,
                      per_network, kwargs)


def _issue(held):
    """Issue the warnings a worker thread held (``held_warnings``), here."""
    for message, category in held:
        warn_user(message, category)


def _wait(done, worker=None):
    """Wait for ``done`` in steps that Ctrl-C can interrupt (an interrupted
    ``Thread.join`` marks a running thread stopped on Python 3.11 and earlier);
    after a first Ctrl-C (``worker`` given, told to stop) the wait goes on through
    more, until the worker has ended: no thread of the fit outlives it."""
    while True:
        try:
            if done.wait(0.05) or (worker is not None and not worker.is_alive()):
                return
        except KeyboardInterrupt:
            if worker is None:
                raise


def _fit_group(est, stop, modules, inputs, weights, X, Y, rows, kwargs):
    """The restarts ``rows`` of :func:`_train_split`, numbered among all of them
    (their divergences collected in ``kwargs['told']``); at once (``stop`` an
    event) a Ctrl-C here stops the other groups, and their callbacks are the stop
    signal, not rank records."""
    sub = {**_subset(kwargs, rows, False), "numbering": (rows[0], len(modules))}
    if stop is not None:
        sub["callbacks"] = sub["shallow_callbacks"] = [_Stop(stop)] * len(rows)
    out = train_grown([modules[i] for i in rows], [inputs[i] for i in rows], est.depth,
                      X, Y, weights=[weights[i] for i in rows], per_network=False,
                      warn_capped=False, **sub)
    if stop is not None and any(r.stop_reason == "interrupted" for r in out[1]):
        stop.set()
    return out


def _group_beside(out, stop, *args):
    """:func:`_fit_group` in a thread of its own: ``out`` gets its networks and
    results, or the error, and the warnings it held."""
    try:
        with held_warnings() as out["warnings"]:
            out["fit"] = _fit_group(*args[:1], stop, *args[1:])
    except BaseException as exc:  # raised again in the fit's thread
        out["error"] = exc
        stop.set()
    finally:
        out["done"].set()


def _train_split(est, modules, inputs, weights, X, Y, groups, each, kwargs):
    """:func:`train_started`'s restarts in ``groups`` (see :func:`_restart_groups`)
    on ``each`` torch threads: at once, the first in the fit's thread, or one after
    the other (:func:`_groups_at_once`); one ConvergenceWarning for all of them,
    as one batch gives."""
    start, stop = time.perf_counter(), threading.Event()
    kwargs = {**kwargs, "told": []}  # one DivergenceWarning for all groups
    if not _groups_at_once(est):
        fits = []
        with threads(each):
            for rows in groups:
                # after a Ctrl-C the groups left stop at their first iteration
                fits.append(_fit_group(est, stop if stop.is_set() else None, modules,
                                       inputs, weights, X, Y, rows, kwargs))
                if any(r.stop_reason == "interrupted" for r in fits[-1][1]):
                    stop.set()
        return _merged(fits, kwargs, start)
    outs = [{"done": threading.Event()} for _ in groups[1:]]
    workers = [threading.Thread(target=_group_beside, name="skrank restarts", daemon=True,
                                args=(out, stop, est, modules, inputs, weights, X, Y, rows,
                                      kwargs))
               for out, rows in zip(outs, groups[1:])]
    fits = None
    with threads(each):
        try:
            for worker in workers:
                worker.start()
            fits = [_fit_group(est, stop, modules, inputs, weights, X, Y, groups[0],
                               kwargs)]
            for out in outs:
                _wait(out["done"])
        except BaseException as exc:
            stop.set()
            for out, worker in zip(outs, workers):
                _wait(out["done"], worker)  # each stops at its next iteration
                _issue(out.get("warnings", ()))
            if (fits is None or not isinstance(exc, KeyboardInterrupt)
                    or any("error" in out for out in outs)):
                with contextlib.suppress(Warning):  # an "error" filter: the error first
                    tell_divergences(kwargs["told"])
                raise
            # Ctrl-C while the other groups trained on: they stopped, every restart
            # is usable, the fit ends as interrupted
            warn_user("Training interrupted; every restart keeps its last parameters "
                      "and the model is usable.", TrainingInterruptedWarning)
            modules, results = _merged(fits + [out["fit"] for out in outs], kwargs, start,
                                       interrupted=True)
            return modules, [replace(r, interrupt=exc) for r in results]
    for out in outs:
        _issue(out.get("warnings", ()))
    for out in outs:
        if "error" in out:
            with contextlib.suppress(Warning):
                tell_divergences(kwargs["told"])
            raise out["error"]
        fits.append(out["fit"])
    return _merged(fits, kwargs, start)


def _merged(fits, kwargs, start, interrupted=False):
    """The groups' networks and results in order, each result's time the wall
    time since ``start`` (as one batch's: the fit's time); all of them
    'interrupted' when one was, or the fit was (``interrupted``), and then no
    ConvergenceWarning: the groups it stopped did not run out of iterations."""
    modules = [m for group, _ in fits for m in group]
    results = [r for _, group in fits for r in group]
    for r in results:
        r.train_time = time.perf_counter() - start
    told, kwargs["told"][:] = list(kwargs["told"]), []
    tell_divergences(told)
    if interrupted or any(r.stop_reason == "interrupted" for r in results):
        # one Ctrl-C ends the fit: the other groups stopped at their next iteration
        return modules, [replace(r, stop_reason="interrupted") for r in results]
    warn_if_capped(results, kwargs["settings"])
    return modules, results


def _shallow(est, modules, generators):
    """The depth-3 networks the grown starts train first, one per network, drawn
    from its generator (after the random one: L-BFGS draws nothing while it
    trains, so the draws are the same whichever start trains first)."""
    arch, where = modules[0].architecture(), placement(modules[0])
    return [build_network(est, arch["n_inputs"], arch["n_outputs"], where["dtype"],
                          "cpu", depth=START_DEPTH)
            .reset_parameters(generator=generators[i])
            .to(where["device"]) for i in range(len(modules))]


def _add_time(results, first):
    for r, f in zip(results, first):
        r.train_time += f.train_time


def _random_fits_to_compare(results):
    """The random fits the grown ones are compared with: those that trained and
    neither diverged (kept, as warned) nor were interrupted."""
    return [i for i, r in enumerate(results)
            if r.loss_curve and r.stop_reason not in ("diverged", "interrupted")]


def _deep_stage(starts, first, rows, X, Y, per_network, kwargs):
    """The deep stage of the grown ``starts`` in ``rows``; their results."""
    index = torch.tensor(rows, device=X.device)
    X_sub, Y_sub = (X[index], Y[index]) if per_network else (X, Y)
    return train_deep([starts[i] for i in rows], [first[i] for i in rows], X_sub,
                      Y_sub, per_network=per_network, warn_capped=False,
                      **_subset(kwargs, rows, per_network))


def _both_kept(modules, results, starts, first, rows, regrown, kept, trackers, X, Y,
               per_network, kwargs):
    """Of each random fit and its grown one (``regrown``, for ``rows``) the better
    kept; the warnings and the interruption of both."""
    _add_time(results, first)
    if rows:
        _keep_lower(starts, first, modules, results, rows, regrown, kept, trackers, X,
                    Y, per_network, kwargs)
    warn_if_capped(results, kwargs["settings"])
    if any(r.stop_reason == "interrupted" for r in results):
        # Ctrl-C in the deep stage ends the user's fit, whichever fit is kept
        results = [replace(r, stop_reason="interrupted") for r in results]
    return modules, results


def _keep_lower(starts, first, modules, results, rows, regrown, kept, trackers, X, Y,
                per_network, kwargs):
    """Of the networks in ``rows``, keep the grown fit where it beats the random
    one (in place: ``modules`` and ``results``; the random fit's rank records
    ``kept`` come back where it wins)."""
    stuck = _stuck_test(kwargs["loss_fn"], Y, kwargs.get("sample_weight"),
                        modules[0].architecture()["n_outputs"], X.dtype, per_network)
    for i, result in zip(rows, regrown):
        spent = results[i].train_time - first[i].train_time + result.train_time
        if result.stop_reason == "interrupted":
            results[i].stop_reason = "interrupted"
        if _better(result, results[i], stuck(i, result), stuck(i, results[i])):
            result.rivals.append((modules[i], _final(results[i])))
            modules[i], results[i] = starts[i], result
        else:
            results[i].rivals.append((starts[i], _final(result)))
            trackers[i].resume(kept[i])
        results[i].train_time = spent


def _final(result):
    """A fit's final objective (infinite when it never trained)."""
    return result.loss_curve[-1] if result.loss_curve else np.inf


def _stuck_test(loss_fn, Y, W, n_outputs, dtype, per_network):
    """``stuck(i, result)``: whether ``result``, a fit of network ``i``, ended above
    the zero network's objective (each network's own zero with ``per_network``)."""
    zeros = {}

    def stuck(i, result):
        if not result.loss_curve:
            return False
        if i not in zeros:
            Y_i, W_i = (Y[i], None if W is None else W[i]) if per_network else (Y, W)
            zeros[i] = zero_objective(loss_fn, Y_i, W_i, n_outputs, dtype)
        return above_zero(result.loss_curve[-1], zeros[i])

    return stuck


def _better(new, old, new_stuck=False, old_stuck=False):
    """Whether the fit ``new`` beats ``old``. A fit that ended above the zero
    network's objective stopped in a poor region and loses to one that did not
    (an early-stopped random start, 80 iterations from ``||theta||^2`` near 1,400,
    scored as well as the grown fit on 44 held-out rows of diabetes with
    ``||theta||^2`` still near 400). Then by best validation score when both were
    early-stopped (the parameters each keeps), a tie (accuracy on a few held-out
    rows takes few values) or no score by final objective."""
    if new_stuck != old_stuck:
        return old_stuck
    a, b = new.best_validation_score, old.best_validation_score
    if a is not None and b is not None:
        # a fit with no finite score has none to show
        a, b = (v if np.isfinite(v) else -np.inf for v in (a, b))
        if a != b:
            return a > b
    return bool(new.loss_curve) and new.loss_curve[-1] < old.loss_curve[-1]


def _warn_if_above_zero_network(est, plan, module, result):
    """A fit that still ends above the objective of the zero network stopped in a
    poor region."""
    if not result.loss_curve or result.stop_reason in ("diverged", "interrupted"):
        return
    X, Y = plan.training_tensors()
    zero = zero_objective(plan.task.loss, Y, plan.weight_tensor(),
                          module.architecture()["n_outputs"], X.dtype)
    final = result.loss_curve[-1]
    if above_zero(final, zero):
        # a mini-batch solver's curve holds each epoch's mean over its steps
        what = "objective" if est.solver == "lbfgs" else "mean objective of its last epoch"
        warn_user(
            f"The fit ended at {what} {final:.4g}, above the zero network's {zero:.4g} "
            "(every parameter 0): the optimizer stopped in a poor region. Try "
            + _or_list(_poor_region_hints(est, result)) + ".",
            ConvergenceWarning)


def _zero_is_optimal(Y, normalize):
    """Whether the zero network fits the targets ``Y`` (the rows that count)
    exactly: all zero, or, centered, constant columns. Judged by each column's
    range, not its centered values: a weighted mean of a constant column is not
    always bit-exact (182 draws of 300 of random weights left it 1e-17 off zero)."""
    return not np.any(Y) or bool(normalize and not np.ptp(Y, axis=0).any())


def _collapsed(module):
    """Every parameter exactly 0 (the start of constant targets): a saddle no
    gradient leaves. A network an alpha shrank towards it (a first layer of
    1e-9, other layers not small) is as stuck, but no weight-based test tells
    it from a residual network's unused blocks: its reading of rank 0 does
    (:meth:`_DeepL2Base._continues`)."""
    return not any(p.detach().any() for p in module.parameters())


def _start_at_zero(modules):
    """Every parameter 0: the exact optimum when the centered targets are all 0.

    The zero network then answers the targets' mean with no penalty, so no fit
    does better. From a random start the optimizer only approaches it: a residual
    network of constant targets (200 rows) ran its 3,000 iterations, the objective
    falling 4% per iteration, and warned it had not converged.
    """
    with torch.no_grad():
        for module in modules:
            for p in module.parameters():
                p.zero_()


def _warn_if_constant(est, Y, weight):
    """A fit that reads rank 0 answers one value for every input: silent, it
    read as a rank (a deep network of width 1, an alpha of 100 against targets
    of spread 1: R^2 0.00, 'converged'). Not for constant targets, where one
    value is the answer."""
    if est.bottleneck_rank_ != 0:
        return
    Y = np.asarray(Y)
    rows, w = Y, None
    if weight is not None:
        w = np.asarray(weight, dtype=np.float64)
        rows, w = Y[w > 0], w[w > 0] / w.max()
    # one row weighing 1e300 times the others is the data: its value the answer
    n_eff = len(rows) if w is None else w.sum() ** 2 / np.square(w).sum()
    if n_eff < 2 or not np.ptp(rows.reshape(len(rows), -1), axis=0).max() > 0:
        return
    narrow = (f", or the network too narrow to carry it (width={est.width}: a deep "
              "ReLU network of width 1 passes nothing once a unit is inactive)"
              if est.width == 1 else "")
    why = (f"alpha={est.alpha:g} outweighs what the data's spread would repay (try "
           "a smaller alpha)" if est._task.kind == "inputs" else
           f"the targets do not depend on X, or alpha={est.alpha:g} outweighs what "
           "they explain (try a smaller alpha)")
    warn_user(
        "The fitted network is constant on the training rows (bottleneck_rank_=0): "
        "it learned no function of the inputs and answers one value for all of "
        f"them. Either {why}{narrow}.", UserWarning)


#: Input directions spread less than this fraction of the widest are directions the
#: data do not vary in (rounding of float32 inputs, a plane in R^3), not thin ones.
FLAT_SPREAD = 1e-4


def _rank_in_span(module, report, X, points):
    """The network's own Jacobian rank along the directions the data span (where it
    reads above the cut): a network is not trained in directions no row varies in,
    and there its Jacobian is whatever the penalty has left (data in a 3-d
    subspace of R^6 read 4 above a cut of 3 after a short fit)."""
    own, bn = report.network_jacobian_rank, report.bottleneck
    if own is None or own <= bn.rank:
        return own
    x = torch.as_tensor(np.asarray(X, dtype=np.float64))
    _, values, directions = torch.linalg.svd(x - x.mean(0), full_matrices=False)
    # the directions no row varies in, not those the rank rule cuts: a thin side
    # that the rule cuts is what this reading is for
    span = int((values > FLAT_SPREAD * values[0]).sum())
    if span >= x.shape[1]:
        return own
    basis = directions[:span].T
    return _diag._own_jacobian_rank(module, as_tensor(points, module), bn, report.tol,
                                    report.min_gap, basis=basis)


def _warn_if_unpredictive(est, n_held):
    """An early-stopped regression whose ``n_held`` held-out rows scored ``R^2 <= 0``
    at best: the network predicts them no better than their mean, so nothing says
    its rank is more than that of a fit of noise. A function of one output has rank
    0 or 1; measured on pure noise (12 draws, 200 to 500 rows, six standardized
    features), 7 fits read 1 silently, their held-out rows scoring -0.37 to 0.02 at
    best (6 of 7 at or below 0); 4 collapsed to rank 0, which warns. On a weak
    signal (test R^2 of the teacher 0.26) it fired on 2 fits of 12, of test R^2
    -0.11 and 0.13. A review on data of its own: no alarm on 20 fits of test R^2
    above 0.1, and 11 of 13 noise fits of rank 1 or more flagged (one held nothing
    out, at 150 rows; one scored 0.007). 0 is the score of the held-out mean, not a
    tuned bar. Few rows make it a coin with a bias: an audit's 60 diabetes folds
    (35 held-out rows each) warned on 2, of test R^2 0.50 and 0.57, the rows
    themselves hard (RidgeCV scored -0.002 on one set), while the two folds of test
    R^2 below 0 were silent; the training rows' mean as the baseline instead of the
    held-out rows' own (-0.16 and -0.07 there) did not change that, so the message
    says what was measured and how many rows it rests on. Told beside any other rank
    warning: an "above the bound" or "loose cut" reads as if a function had been
    fitted."""
    best = est.best_validation_score_
    # None without held-out rows
    if (est._task.kind != "real" or not est.bottleneck_rank_ or best is None
            or not np.isfinite(best) or best > 0):
        return False
    warn_user(
        f"The {n_held} rows held out for early stopping (early_stopping_, "
        f"validation_fraction={est.validation_fraction:g}) scored a best mean R^2 of "
        f"{best:.3g} (best_validation_score_): the network predicts them no better "
        "than their mean, so they give no evidence that the targets depend on X, and "
        f"bottleneck_rank_={est.bottleneck_rank_} may be the rank of a fit of noise. "
        "A held-out score swings by chance with the rows it is read on (an audit's "
        "folds of 35 rows read 0 or less on 2 fits of 60 that predicted, test R^2 "
        "0.50 and 0.57): score more held-out rows (cross_val_score) before reading "
        "the rank; a larger alpha or more rows may leave a function that predicts.",
        AmbiguousRankWarning)
    return True


def _poor_region_hints(est, result):
    """What may help a fit that ended above the zero network, among the
    estimator's own parameters and not what it already does."""
    hints = []
    if result.stop_reason == "max_iter":
        hints.append("more max_iter")
    if est.solver != "lbfgs":
        hints.append("a smaller learning_rate_init")
    if est.n_init == 1:
        hints.append("n_init > 1")
    hints.append("another random_state or alpha")
    if getattr(est, "init", None) == "random" and start_depth(
            "grow", est.depth, est.activation) < est.depth:
        hints.append("init='grow' (a network grown from depth 3)")
    return hints


def _or_list(items):
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


class _RankTracker:
    """Records the bottleneck rank during training (``track_rank_every`` > 0).

    Times exclude the tracking itself, so they read as training time to a rank.
    """

    def __init__(self, X, every, tol, n_samples, rng, include_bias, min_gap, weight=None):
        self.include_bias = include_bias
        self.every = every
        self.tol = tol
        self.min_gap = min_gap
        self.rows = []
        if every:
            if X.shape[0] > n_samples:
                rows = rng.choice(X.shape[0], n_samples, replace=False)
                X, weight = X[rows], (None if weight is None else weight[rows])
            # the sample weights count, as in bottleneck_rank_
            self.X, self.weight = X, weight
            self.start = time.perf_counter()
            self.overhead = 0.0
        self.callback = self._record if every else None

    def restart(self):
        """Forget the records (the network is trained again from a new start);
        returns them for :meth:`resume`."""
        kept = dict(vars(self))
        self.rows = []
        if self.every:
            self.start = time.perf_counter()
            self.overhead = 0.0
        return kept

    def resume(self, kept):
        """Take back the records :meth:`restart` returned (the new start lost)."""
        vars(self).update(kept)

    def _record(self, n_iter, module):
        if n_iter % self.every:
            return False
        t0 = time.perf_counter()
        bn = _diag.bottleneck(module, self.X, tol=self.tol, min_gap=self.min_gap,
                              weight=self.weight)
        norm = _diag.parameter_norm(module, include_bias=self.include_bias)
        self.rows.append((n_iter, t0 - self.start - self.overhead, bn.rank, norm))
        self.overhead += time.perf_counter() - t0
        return False

    def history(self):
        if not self.every:
            return None
        rows = np.array(self.rows, dtype=np.float64).reshape(-1, 4)
        return {
            "n_iter": rows[:, 0].astype(int),
            "time": rows[:, 1],
            "bottleneck_rank": rows[:, 2].astype(int),
            "parameter_norm": rows[:, 3],
        }


class _DeepL2Base(BaseEstimator):
    """Shared fit/predict machinery: a task and a network over one engine."""

    #: Whether the diagnostics also read the inputs' linear span (an SVD of the
    #: diagnostic sample; only the autoencoder compares its rank with it).
    _reads_input_span = False

    #: ``init='auto'``: train the grown start of every fresh network to full depth
    #: and keep the lower of the two fits (see ``train_started``).
    _trains_both_starts = True

    #: ``RankAwareDepthSelector(warm_start='auto')`` chains the depths (each
    #: deeper fit from the shallower one): only where that was measured to read
    #: the cold sweep's ranks about as often, in a fraction of its time.
    _sweeps_warm = False

    #: Why a warm depth sweep cannot train this estimator (None: it can).
    _no_warm_sweep = None

    #: Parameters every skrank estimator has; each adds its network's own.
    _parameter_constraints = {
        "depth": [_Count(Integral, 2, None, closed="left")],
        "width": [_Count(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"relu", "leaky_relu", "identity"})],
        "negative_slope": [Interval(Real, -1, 1, closed="neither")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "solver": [StrOptions({"lbfgs", "adam", "sgd"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "batch_size": [_Count(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "max_iter": [_Count(Integral, 1, None, closed="left")],
        "warmup_iter": [_Count(Integral, 0, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [_Count(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "warm_start": ["boolean"],
        "rank_tol": [Interval(Real, 0, 1, closed="neither")],
        "rank_gap": [Interval(Real, 1, None, closed="left")],
        "n_diagnostic_samples": [_Count(Integral, 2, None, closed="left")],
        "n_jacobian_points": [_Count(Integral, 0, None, closed="left")],
        "track_rank_every": [_Count(Integral, 0, None, closed="left")],
        "normalize": ["boolean"],
        "dtype": [StrOptions({"float32", "float64"})],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "n_init": [_Count(Integral, 1, None, closed="left")],
        "n_threads": [_Count(Integral, 1, None, closed="left"), StrOptions({"auto"}),
                      None],
    }

    #: The fully connected network's own parameters (``_FullyConnected`` below).
    _fc_constraints = {
        "init": [StrOptions({"auto", "grow", "random"})],
        "penalty_scaling": [StrOptions({"depth", "none"})],
        "penalize_bias": ["boolean"],
        "bias": ["boolean"],
    }

    #: The task (:mod:`skrank._tasks`) and network (:mod:`skrank._networks`) this
    #: estimator composes; ``_network_params`` go to the network's constructor.
    _task = None
    _network = None
    _network_params = ()
    #: whether a Jacobian rank below the bottleneck rank is warned of (a
    #: regressor's two readings of one function's rank; see ``_warn_if_unclear``)
    _jacobian_bounds = False
    #: a kept bottleneck direction weaker than this many times ``rank_tol`` warns
    #: (:func:`_weak_direction`; 0: never, where it was not measured)
    _weak_direction_factor = 0.0
    #: the end of the warning that the network's own Jacobian reads above the cut
    #: (:func:`_jacobian_unclear`; None: a regression's)
    _cut_advice = None

    # ---- what a subclass may add ------------------------------------------------
    def _validate_fit_data(self, X, y, reset=True, partial=False):
        if sp.issparse(y):
            # multi_output validation lets a sparse y through, to fail in numpy
            raise TypeError("A sparse y was passed, but dense targets are required: "
                            "use y.toarray().")
        return validate_data(self, user_array(X), user_array(y), multi_output=True,
                             y_numeric=True, dtype=[np.float64, np.float32], reset=reset)

    def _training_pairs(self, X, Y, W, rng):
        """The (input, target, weight) rows the engine trains on; diagnostics use ``X``."""
        return X, Y, W

    def _n_codes(self, bn):
        """How many bottleneck coordinates :meth:`transform` returns: at least one,
        so that a step after it in a Pipeline gets a column even from a network
        that collapsed to a constant (rank 0)."""
        n_components = getattr(self, "n_components", None)
        return max(1, bn.rank) if n_components is None else n_components

    def _check_warm_start(self, n_inputs, n_outputs, attrs):
        """With ``warm_start``, refuse (before any fitted attribute changes) a fit
        that the fitted network cannot continue: starting over silently would hide
        that nothing carried over."""
        if not self._continues():
            return  # a fresh fit (a collapsed network is not continued)
        old = getattr(self, "classes_", None)
        if old is not None and "classes_" in attrs \
                and not np.array_equal(old, attrs["classes_"]):
            raise ValueError(
                f"warm_start=True continues a network whose outputs are the classes "
                f"{old.tolist()}, but y holds {attrs['classes_'].tolist()}; set "
                "warm_start=False to start over.")
        self._check_continues(self.module_, n_inputs, n_outputs,
                              "warm_start=True continues the fitted network",
                              "set warm_start=False to start over")

    def _check_continues(self, module, n_inputs, n_outputs, who, fix):
        """Refuse to go on training ``module`` when the parameters (``set_params``
        since) ask for another architecture."""
        with torch.device("meta"):
            wanted = build_network(self, n_inputs, n_outputs, _DTYPES[self.dtype])
        # the precision too: training on would silently keep the fitted one
        have_dtype = placement(module)["dtype"]
        if not module.same_architecture(wanted) or have_dtype != _DTYPES[self.dtype]:
            have = {**module.effective_architecture(),
                    "dtype": str(have_dtype).split(".")[-1]}
            want = {**wanted.effective_architecture(), "dtype": self.dtype}
            # a key of one side only (negative_slope beside a new leaky ReLU) is
            # told by the activation's own difference
            diff = ", ".join(f"{k} {have[k]!r} vs {v!r}" for k, v in want.items()
                             if k in have and have[k] != v)
            raise ValueError(
                f"{who}, but the parameters now describe another one (fitted vs "
                f"needed: {diff}); {fix}.")

    def _n_training_rows(self, n_rows):
        """Rows the solver trains on (the autoencoder's noisy copies multiply them)."""
        return n_rows

    def _check_memory(self, shape, n_outputs, dtype, device, n_networks):
        """A clear MemoryError before building networks that cannot fit.

        A lower estimate, so that it never refuses a fit that would run, and read
        off ``depth`` and ``width`` without building anything: the weight matrices
        of every architecture here (at least ``depth - 2`` of ``width x width``,
        an input and an output layer), their gradients and the solver's copies
        (L-BFGS keeps 20 curvature pairs) per restart, one pass's activations over
        the training rows (L-BFGS takes all of them at once) and the training data,
        and :data:`LAYER_OVERHEAD` per layer (an audit's ``depth=10**5``, width 4,
        took 2 GB, its arrays a few MB).
        """
        depth, width = self.depth, self.width
        n_params = (shape[1] + n_outputs) * width + max(depth - 2, 0) * width**2
        rows = self._n_training_rows(shape[0])
        lbfgs = self.solver == "lbfgs"
        mini = 200 if self.batch_size == "auto" else self.batch_size
        batch = rows if lbfgs else min(rows, mini)
        itemsize = torch.finfo(dtype).bits // 8
        per_network = itemsize * (n_params * (2 + (42 if lbfgs else 3))
                                  + batch * depth * width) + LAYER_OVERHEAD * depth
        data = 8 * rows * (shape[1] + n_outputs)
        check_memory(n_networks * per_network + data, device,
                     f"{n_networks} network(s) of at least {n_params:,} parameters "
                     f"(depth={depth}, width={width}) trained on {rows:,} rows")
        return per_network + data

    def _check_n_components(self, n_samples):
        """Refuse, before training, more codes than the bottleneck can hold: its
        coordinates are read on at most ``n_diagnostic_samples`` training rows."""
        n_components = getattr(self, "n_components", None)
        n_rows = min(n_samples, self.n_diagnostic_samples)
        if n_components is not None and n_components > min(self.width, n_rows):
            raise ValueError(
                f"n_components={n_components} exceeds what the bottleneck layer can "
                f"hold: min(width={self.width}, training rows={n_samples}, "
                f"n_diagnostic_samples={self.n_diagnostic_samples})."
            )

    def _extra_attributes(self, report, X_held=None):
        """Estimator-specific fitted attributes from the report (and the scaled
        held-out rows ``X_held``, see :meth:`_holds_out`), as a dict."""
        return {}

    # ---- fit --------------------------------------------------------------------
    def _fit(self, X, y, sample_weight=None):
        with threads(self._threads(X)):
            return self._fit_data(X, y, sample_weight)

    def _threads(self, X, n_networks=None):
        """``n_threads`` for training on the rows of ``X`` (a count of rows, or a
        tuple of arrays trained together; ``'auto'`` resolved by
        :func:`skrank._device.auto_threads` from the rows a step takes)."""
        if self.n_threads != "auto":
            # more threads than cores only wait for each other (10**6 of them ran
            # out of memory)
            return None if self.n_threads is None else min(self.n_threads, _n_cores())
        try:
            if isinstance(X, tuple):
                rows = sum(_num_samples(x) for x in X)
            else:
                rows = X if isinstance(X, Integral) else _num_samples(X)
            device = resolve_device(self.device)
        except (TypeError, ValueError, RuntimeError):
            return None  # the fit's own checks name the problem
        rows = self._n_training_rows(rows)
        if self.solver != "lbfgs":
            rows = min(rows, 200 if self.batch_size == "auto" else self.batch_size)
        if n_networks is None:
            n_networks = 1 if self._continues() else self.n_init
        return auto_threads(rows * self.width * n_networks, device)

    def _continues(self):
        """Whether ``fit`` trains the fitted network on (``warm_start``): one network,
        whatever ``n_init``.

        Not a network collapsed to zero (constant targets), nor one whose function
        was constant on its training rows (``bottleneck_rank_`` 0: an ``alpha``
        shrank it towards zero): no gradient leaves either. Refitted warm at a
        small ``alpha``, a network of ``alpha=1e4`` stayed at R^2 0, "converged"
        after one iteration, where a new one reaches 1.0."""
        fitted = self.__dict__.get("module_")
        # a partial_fit call reads the rank on its own rows: one row reads 0
        constant = (self.__dict__.get("bottleneck_rank_") == 0
                    and self.__dict__.get("stop_reason_") != "partial_fit")
        return (self.warm_start and fitted is not None and not _collapsed(fitted)
                and not constant)

    def _check_alpha(self):
        """Refuse an ``alpha`` that training in the network's dtype cannot carry (a
        clear error, not a divergence that keeps an untrained network)."""
        _, largest = _DTYPE_LIMITS[self.dtype]
        if self.alpha > largest:
            raise ValueError(
                f"alpha={self.alpha:.3g} is too large for {self.dtype} training (the "
                "penalty's gradient overflows): on normalized data the fit is the "
                "zero network far below it. Use a smaller alpha"
                + (" or dtype='float64'." if self.dtype == "float32" else "."))

    def _fit_data(self, X, y, sample_weight):
        with _grad_enabled(), _as_before_if_interrupted(self):
            with _as_before_if_refused(self):
                plan = self._plan(X, y, sample_weight)
            kept = self._completed(plan, plan.train(self))
        # Ctrl-C during training: the model above is complete and usable; callers
        # (a search, a sweep) must still stop
        kept.raise_if_interrupted()
        return self

    def _plan(self, X, y, sample_weight):
        """Everything before training: validated, normalized, split data; networks."""
        self._check_alpha()
        self.__dict__.pop("_stepper", None)  # a full fit starts over
        warm = self._continues()
        # a warm start keeps the fitted feature count and names: checked, not reset
        X, y = self._validate_fit_data(X, y, reset=not warm)
        sample_weight = _checked_weight(sample_weight, X)
        # the classes of every row, weighted 0 or not (as scikit-learn's)
        Y, target_attrs = self._task.encode(y)
        n_given = X.shape[0]
        if sample_weight is not None and not (sample_weight > 0).all():
            # rows of weight 0 are rows absent (as repeats count them): before the
            # split, so that held-out rows and the rank readings are rows that count
            keep = sample_weight > 0
            X, Y, sample_weight = X[keep], Y[keep], _mean_one(sample_weight[keep])
        if X.shape[0] < 2:
            # one row (or one of positive weight) fitted a constant and read rank 0
            # with no word (an audit); a stream's first partial_fit of one row goes
            # on, its later rows counting
            raise ValueError(f"{type(self).__name__} needs at least 2 samples of "
                             f"positive weight to fit, got n_samples = {X.shape[0]}"
                             + (f" (of {n_given} rows)." if n_given > X.shape[0] else "."))
        n_outputs = self._task.n_outputs(Y, target_attrs)
        self._check_warm_start(X.shape[1], n_outputs, target_attrs)
        for name, value in target_attrs.items():
            setattr(self, name, value)
        self.early_stopping_ = self._stops_early(Y, n_outputs)
        X, Y = self._normalize_fit_data(X, Y, sample_weight)
        device, dtype = resolve_device(self.device), _DTYPES[self.dtype]
        rng = check_random_state(self.random_state)
        n_networks = 1 if warm else self.n_init  # a warm refit trains the fitted one
        # before anything per network is built: n_init=10**9 would hang here first
        memory = self._check_memory(X.shape, n_outputs, dtype, device, n_networks)
        generators = [torch.Generator().manual_seed(int(rng.randint(np.iinfo(np.int32).max)))
                      for _ in range(n_networks)]
        modules = self._networks(X.shape[1], n_outputs, dtype, device, generators,
                                 depth=self._first_depth(n_outputs))
        if not warm and self._task.kind != "labels" and _zero_is_optimal(Y, self.normalize):
            _start_at_zero(modules)
        X_tr, Y_tr, X_val, Y_val, W_tr, W_val = self._split(
            X, Y, rng, sample_weight, dropped=n_given - X.shape[0])
        # the rows held out leave fewer to read the bottleneck's coordinates on
        self._check_n_components(X_tr.shape[0])
        X_fit, Y_fit, W_fit = self._training_pairs(X_tr, Y_tr, W_tr, rng)
        trackers = [_RankTracker(X_tr, self.track_rank_every, self.rank_tol,
                                 self.n_diagnostic_samples, rng, m.penalizes_bias,
                                 self.rank_gap, W_tr) for m in modules]
        validation = None if X_val is None or not self.early_stopping_ else (
            *self._tensors(X_val, Y_val, modules[0]), self._task.score) + (
            () if W_val is None else (torch.tensor(W_val, **placement(modules[0])),))
        return _Plan(X_tr, X_fit, Y_fit, W_fit, validation, modules, generators,
                     trackers, rng, self._task,
                     X_held=_unseen_rows(X_val, Y_val, X_tr, Y_tr),
                     W_tr=W_tr, memory=memory)

    def _complete(self, plan, results):
        """:meth:`_completed`, then the user's Ctrl-C during training re-raised."""
        self._completed(plan, results).raise_if_interrupted()
        return self

    def _completed(self, plan, results):
        """Everything after training: the kept network, the record, the
        diagnostics; returns the kept fit's result."""
        stuck = set()
        if self.early_stopping_ and len(results) > 1:
            X, Y = plan.training_tensors()
            stuck = set(_stuck(results, plan.task.loss, Y, plan.weight_tensor(),
                               plan.modules[0].architecture()["n_outputs"], X.dtype,
                               False))
        best = self._keep_best(plan.modules, results, plan.X_tr, plan.W_tr,
                               stuck)
        self._record_training(results[best], plan.trackers[best])
        _warn_if_above_zero_network(self, plan, self.module_, results[best])
        warned = self._set_diagnostics(
            self._diagnose(plan.X_tr, self._reading_rng(), weight=plan.W_tr), plan.X_held)
        _warn_if_constant(self, plan.Y_fit, plan.W_fit)
        held = plan.validation[0].shape[0] if plan.validation is not None else 0
        warned = _warn_if_unpredictive(self, held) or warned
        if not (warned or self.early_stopping_ or results[best].stop_reason == "interrupted"):
            # early-stopped fits keep parameters their final objectives do not score;
            # an interrupted fit's objectives are not final
            _warn_if_rivals_disagree(self.bottleneck_rank_, _final(results[best]),
                                     self._rival_readings(plan, results, best))
        return results[best]

    def _partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch of the mini-batch solver on ``(X, y)`` (see ``partial_fit``)."""
        if hasattr(self, "module_"):
            # scikit-learn validates parameters on the first partial_fit only; a
            # later set_params (a negative alpha) would train another objective
            self._validate_params()
        self._check_alpha()
        with _grad_enabled(), _as_before_if_interrupted(self, forget=("_stepper",)):
            return self._partial_epoch(X, y, sample_weight, classes)

    def _partial_epoch(self, X, y, sample_weight, classes):
        """:meth:`_partial_fit`'s checks, epoch and readings."""
        with threads(self._threads(X, n_networks=1)), _as_before_if_refused(self):
            # a network of zeros (constant targets) cannot be trained on: the
            # stream starts over
            first = "module_" not in self.__dict__ or _collapsed(self.module_)
            X, y = self._validate_fit_data(X, y, reset=first, partial=True)
            sample_weight = _checked_weight(sample_weight, X)
            if sample_weight is not None:
                # the bottleneck is read on the rows that count: after the epoch,
                # refusing would leave the trained network with stale codes
                self._check_n_components(int(np.count_nonzero(sample_weight > 0)))
            X, Y, attrs = self._partial_data(X, y, sample_weight, classes, first)
            rng = check_random_state(self.random_state)
            self._ready_stepper(first, X, Y, attrs, rng)
            X_in, Y_in, W_in = self._partial_pairs(X, Y, sample_weight)
            X_t, Y_t = self._tensors(X_in, Y_in, self.module_)
            W = None if W_in is None else torch.tensor(W_in, **placement(self.module_))
        with threads(self._threads(X, n_networks=1)):
            start = time.perf_counter()
            self._stepper.epoch(X_t, Y_t, W)
            result = self._stepper.run.result
            self.early_stopping_ = False  # one epoch holds no rows out
            # the record goes on over the network's whole life, as MLPRegressor's:
            # after fit, or in a loaded copy, the fresh optimizer's epochs follow
            # the iterations before
            before = None if first else getattr(self, "train_time_", None)
            result.train_time = (before or 0.0) + time.perf_counter() - start
            self._record_training(result, _RankTracker(X, 0, 0, 0, rng, False, 0))
            curve, n_iter, history = self._stepper.before
            self.loss_curve_ = np.concatenate([curve, self.loss_curve_])
            self.n_iter_ += n_iter
            if history is not None:
                self.rank_history_ = history  # the epochs add no records to it
            self.stop_reason_ = "diverged" if result.stop_reason == "diverged" \
                else "partial_fit"
            self.restart_objectives_, self.best_restart_, self.restart_ranks_ = \
                np.array(result.loss_curve[-1:] or [np.nan]), 0, None
            self._set_diagnostics(self._diagnose(X, self._reading_rng(),
                                                 weight=sample_weight))
            if not _warn_if_rows_bound_the_rank(self, X, sample_weight):
                # rows that bound the reading at 0 say nothing of the network
                _warn_if_constant(self, Y, sample_weight)
        return self

    def _partial_pairs(self, X, Y, W):
        """The (input, target, weight) rows one ``partial_fit`` call trains on."""
        return X, Y, W

    def _ready_stepper(self, first, X, Y, attrs, rng):
        """The mini-batch stepper for this ``partial_fit`` call: new on a first call,
        or after ``fit`` or ``load`` (a fresh optimizer), which then records the
        ``loss_curve_`` and ``n_iter_`` its epochs follow (``before``)."""
        if first:
            self._start_partial(X, self._task.n_outputs(Y, attrs), rng)
            self._stepper.before = (np.zeros(0), 0, None)
            return True
        self._check_continues(self.module_, X.shape[1], self._task.n_outputs(Y, attrs),
                              "partial_fit continues the fitted network",
                              "call fit to start over")
        self._sync_penalty(self.module_)
        if getattr(self, "_stepper", None) is None:
            # after fit, or loaded: continue from the network, a fresh optimizer
            self._new_stepper(torch.Generator().manual_seed(
                int(rng.randint(np.iinfo(np.int32).max))), len(X))
            # a file saved before loss_curve_ was kept has no record to go on from
            curve, n_iter = (getattr(self, name, None) for name in ("loss_curve_", "n_iter_"))
            self._stepper.before = (
                np.zeros(0) if curve is None else np.asarray(curve, float).ravel(),
                0 if n_iter is None else int(n_iter), getattr(self, "rank_history_", None))
            return True
        # each call trains on the current objective (alpha, lam changed by
        # set_params take effect, as in MLPRegressor); the optimizer's moments
        # carry over
        self._stepper.set_objective(self.alpha, self.module_.penalty_groups(),
                                    self._settings(len(X)))
        return False

    def _partial_data(self, X, y, sample_weight, classes, first):
        """The call's data encoded and normalized: by this data on the first call,
        by the first call's scaling afterwards."""
        task = self._task
        extra = {}
        if task.kind == "labels":
            known = classes if first else self.classes_
            if known is None:
                raise ValueError("classes must be passed on the first call to "
                                 "partial_fit (all labels the calls will hold).")
            if not first and classes is not None and not np.array_equal(
                    np.unique(classes), self.classes_):
                # as MLPClassifier: the network has one output per first-call class
                raise ValueError(f"classes={np.asarray(classes).tolist()} are not the "
                                 f"classes the network was built for "
                                 f"({self.classes_.tolist()}, by fit or the first call "
                                 f"to partial_fit); fit starts over.")
            extra = {"classes": known}
        Y, attrs = task.encode(y, **extra)
        if first:
            for name, value in attrs.items():
                setattr(self, name, value)
            _warn_if_no_unit(X, "X", self.normalize)
            if task.kind == "real":
                _warn_if_no_unit(Y, "y", self.normalize)
            return (*self._normalize_fit_data(X, Y, sample_weight), attrs)
        if "n_outputs_" in attrs and attrs["n_outputs_"] != self.n_outputs_:
            raise ValueError(f"y has {attrs['n_outputs_']} outputs; the fitted network "
                             f"(fit, or the first call to partial_fit) has "
                             f"{self.n_outputs_}.")
        Xn = self._scale_inputs(X)
        self._check_representable(Xn, "X", raw=X)
        if task.kind == "labels":
            return Xn, Y, attrs
        if task.kind == "inputs":
            return Xn, Xn.copy(), attrs
        with np.errstate(over="ignore"):
            Yn = (np.asarray(Y, dtype=np.float64) - self.target_mean_) / self.target_scale_
        self._check_representable(Yn, "y", raw=Y)
        return Xn, Yn, attrs

    def _start_partial(self, X, n_outputs, rng):
        device, dtype = resolve_device(self.device), _DTYPES[self.dtype]
        generator = torch.Generator().manual_seed(int(rng.randint(np.iinfo(np.int32).max)))
        self._check_memory(X.shape, n_outputs, dtype, device, 1)
        self.module_ = self._networks(X.shape[1], n_outputs, dtype, device, [generator])[0]
        self._new_stepper(generator, len(X))

    def _sync_penalty(self, module):
        """The cost's weights are parameters, not shapes: a warm or continued fit
        takes their current values."""
        for key in module.penalty_keys:
            setattr(module, key, getattr(self, key))

    def _new_stepper(self, generator, n_samples):
        self._stepper = Stepper(self.module_, loss_fn=self._task.loss, alpha=self.alpha,
                                penalty_groups=self.module_.penalty_groups(),
                                settings=self._settings(n_samples), generator=generator)

    def _rival_readings(self, plan, results, best):
        """``(bottleneck rank, final objective)`` of the fits trained and not kept:
        every other restart (``restart_ranks_``), and each start not kept that
        ended within :data:`RIVAL_MARGIN` of the kept objective (read here, on the
        rows ``bottleneck_rank_`` is read on; the others are not read)."""
        # the other restarts were read for restart_ranks_ already
        read = [(int(self.restart_ranks_[j]), _final(r)) for j, r in enumerate(results)
                if j != best]
        reference = _final(results[best])
        close = [(m, o) for r in results for m, o in r.rivals
                 if _close(o, reference)]
        if not close:
            return read
        X, w = self._reading_sample(plan.X_tr, self._reading_rng(), plan.W_tr)
        return read + [(_diag.bottleneck(m, X, tol=self.rank_tol, min_gap=self.rank_gap,
                                         weight=w).rank, o) for m, o in close]

    def _keep_best(self, modules, results, X, weight=None, stuck=()):
        """Keep the restart of lowest final objective, or with ``early_stopping`` of
        best validation score (the parameters each restart keeps) among those not
        ``stuck`` above the zero network's objective when there are any; record
        every restart's objective."""
        objectives = np.array([_final(r) for r in results])
        lowest = np.where(np.isfinite(objectives), objectives, np.inf)
        best = int(np.argmin(lowest))
        scores = np.array([-np.inf if r.best_validation_score is None
                           else r.best_validation_score for r in results])
        if self.early_stopping_ and np.isfinite(scores).any():
            # not stuck first, then best score; among equal scores, the lowest
            # objective
            scores = np.where(np.isfinite(scores), scores, -np.inf)
            above = np.array([i in stuck for i in range(len(results))])
            best = int(np.lexsort((lowest, -scores, above))[0])
        self.module_ = modules[best]
        self.restart_objectives_ = objectives
        self.best_restart_ = best
        if len(modules) > 1:
            # read on the rows bottleneck_rank_ is read on, weights counted: the
            # kept restart's entry is bottleneck_rank_ above n_diagnostic_samples too
            X, w = self._reading_sample(X, self._reading_rng(), weight)
            self.restart_ranks_ = np.array([_diag.bottleneck(
                m, X, tol=self.rank_tol, min_gap=self.rank_gap, weight=w).rank
                for m in modules])
        else:
            self.restart_ranks_ = None
        return best

    def _first_depth(self, n_outputs):
        """The depth a fresh network of ``fit`` is drawn at (see ``_grow``)."""
        return self.depth

    def _regrows(self, n_outputs):
        """Whether a fresh network's random fit is measured against a grown start."""
        return False

    def _networks(self, n_inputs, n_outputs, dtype, device, generators, depth=None):
        """Fresh networks (one per restart, of ``depth`` if given), or with
        ``warm_start`` the fitted one if its shape fits."""
        module = getattr(self, "module_", None)
        self.device_ = str(device)
        if self._continues():
            with torch.device("meta"):
                wanted = build_network(self, n_inputs, n_outputs, dtype)
            if module.same_architecture(wanted):  # checked in _check_warm_start
                self._sync_penalty(module)
                return [module.to(device=device, dtype=dtype)]
        # drawn on the CPU (its generators' device) whatever torch's default device
        return [build_network(self, n_inputs, n_outputs, dtype, "cpu", depth=depth)
                .reset_parameters(generator=g).to(device) for g in generators]

    def _tensors(self, X, Y, module):
        return _tensors(self._task, X, Y, module)

    def _settings(self, n_train):
        return Settings(
            solver=self.solver, max_iter=self.max_iter, tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            batch_size=min(200, n_train) if self.batch_size == "auto" else self.batch_size,
            learning_rate_init=self.learning_rate_init, momentum=self.momentum,
            warmup_iter=self.warmup_iter, capped_hint=self._capped_hint())

    def _capped_hint(self):
        """Advice for a fit stopped at ``max_iter`` (the ConvergenceWarning's end): an
        audit found the bare sentence on every capped regression and autoencoder
        fit, the classifier's alone saying what to do."""
        return (" Raise max_iter (a fit that converges stops on tol before it); a rank "
                "read before convergence can still change (track_rank_every records it "
                "as training goes).")

    def _record_training(self, result, tracker):
        self.rank_history_ = tracker.history()
        self.loss_curve_ = np.asarray(result.loss_curve, dtype=np.float64)
        # scikit-learn's n_iter_: the solver's iterations (at most max_iter); the
        # warm-up epochs come first in loss_curve_ and are not counted
        self.n_iter_ = result.n_iter - result.n_warmup
        self.validation_scores_ = (np.asarray(result.validation_scores)
                                   if self.early_stopping_ else None)
        self.best_validation_score_ = result.best_validation_score
        self.stop_reason_ = result.stop_reason
        self.train_time_ = result.train_time

    def _normalize_fit_data(self, X, Y, weight=None):
        """Center and scale ``X`` and ``Y`` isotropically (see ``skrank._scaling``).

        Stores ``input_mean_``, ``input_scale_``, ``target_mean_`` and
        ``target_scale_``; class codes are never rescaled and a reconstruction
        target takes the inputs' scaling.
        """
        kind = self._task.kind
        sx = IsotropicScaling.fit(X, weight) if self.normalize else \
            IsotropicScaling.identity(X.shape[1])
        if kind == "inputs":
            sy = sx
        elif kind == "real" and self.normalize:
            sy = IsotropicScaling.fit(Y, weight)
        else:
            sy = IsotropicScaling.identity(Y.shape[1])
        self.input_mean_, self.input_scale_ = sx.mean, sx.scale
        self.target_mean_, self.target_scale_ = sy.mean, sy.scale
        Xn, Yn = sx.forward(X), (Y if kind == "labels" else sy.forward(Y))
        # huge values after centering and scaling, not in the data: the spread
        # they were divided by is tiny next to them (weights on a few rows)
        why = "" if not self.normalize else (
            " once centered and divided by its spread" + (
                " (sample_weight concentrated on a few rows makes that spread tiny "
                "next to the other rows)" if weight is not None else ""))
        self._check_representable(Xn, "X", why)
        _warn_if_inputs_unbalanced(X, weight)
        if self.normalize:  # the warning speaks of the one scale
            _warn_if_rows_dominate(X, "X", weight)
        if kind == "real":
            self._check_representable(Yn, "y", why)
            _warn_if_outputs_unbalanced(Y, weight)
            if self.normalize:
                _warn_if_rows_dominate(Y, "y", weight)
        return np.ascontiguousarray(Xn), np.ascontiguousarray(Yn)

    def _scale_inputs(self, X):
        # overflow is refused by the callers (_check_representable), not warned
        with np.errstate(over="ignore"):
            return (np.asarray(X, dtype=np.float64) - self.input_mean_) / self.input_scale_

    def _unscale_outputs(self, out):
        """Network outputs back in the targets' units (logits stay as they are)."""
        if self._task.kind == "labels":
            return out
        with np.errstate(over="ignore", invalid="ignore"):
            out = out * self.target_scale_ + self.target_mean_
        if not np.isfinite(out).all():
            # finite network outputs times a target scale near float64's limit
            raise ValueError(
                "The predictions overflow float64 in the targets' units (non-finite "
                "values) on these inputs; they are far outside the training data's "
                "scale, or the targets are near float64's limit.")
        return out

    def _split(self, X, Y, rng, W=None, dropped=0):
        """Training and held-out rows (``early_stopping``, see :meth:`_holds_out`),
        and their weights; ``dropped`` rows of weight 0 were left out before (an
        error about too few samples names them).

        A classifier's split is stratified when every class has two samples (as
        MLPClassifier's): a random one can leave a rare class out of the validation
        rows, which then reward predicting the majority.
        """
        why = self._holds_out()
        if why is None:
            return X, Y, None, None, W, None
        if isinstance(self.random_state, Integral):
            # a stream of its own: the rows held out do not move with n_init or a
            # warm start (the fit's stream draws one seed per fresh network), so a
            # warm refit on the same data is not judged on rows it was trained on
            rng = np.random.RandomState(self.random_state)
        frac = self.validation_fraction
        n_val = int(round(frac * X.shape[0]))
        if n_val < 2 or X.shape[0] - n_val < 2:
            # the least n with round(frac * n) in [2, n - 2]: start below it (each
            # split needs about a sample's share), then step over rounding ties
            need = max(4, int(1.5 // frac), int(1.5 // (1 - frac)))
            while not 2 <= round(frac * need) <= need - 2:
                need += 1
            raise ValueError(
                f"{why[0]} with validation_fraction={frac} holds out "
                f"round({frac} * n_samples) samples and needs at least two in the "
                f"validation split (a score of one sample says nothing) and two to "
                f"train on (as fit does), hence at least {need} samples; got "
                f"{X.shape[0]}"
                + (f" ({dropped} rows of sample_weight 0 left out)" if dropped else "")
                + f". Pass more samples, another validation_fraction or "
                f"{why[0]}={why[1]}."
            )
        val, tr = self._validation_rows(X, Y, n_val, rng)
        # rows of one class are fitted as fit fits them (weights of 0 on every
        # other class leave one): only a split that lost a class is refused
        if is_classifier(self) and np.unique(Y[tr]).size < 2 <= np.unique(Y).size:
            raise ValueError(
                f"{why[0]} with validation_fraction={frac} left the training split "
                f"{tr.size} rows of one class, and a classifier needs at least 2 "
                f"classes (as fit does). Pass more samples, a smaller "
                f"validation_fraction or {why[0]}={why[1]}.")
        # each split's weights to mean 1 again: a row of nearly all the weight held
        # out left the training rows' weights to underflow to 0 in float32 (an
        # audit's 1e60 among ones: "diverged" at the first iteration)
        pick = (lambda rows: None) if W is None else (lambda rows: _mean_one(W[rows]))
        return X[tr], Y[tr], X[val], Y[val], pick(tr), pick(val)

    def _holds_out(self):
        """The parameter that holds ``validation_fraction`` of the rows out of
        training and its value that would not, or None."""
        return ("early_stopping", "False") if self.early_stopping_ else None

    def _resolve_early_stopping(self, y, sample_weight=None):
        """What ``early_stopping`` means for a fit on the targets ``y``:
        :meth:`_stops_early` on their encoding, rows of weight 0 left out (as
        ``fit`` leaves them)."""
        Y, attrs = self._task.encode(y)
        if sample_weight is not None:
            Y = Y[np.asarray(sample_weight) > 0]
        return self._stops_early(Y, self._task.n_outputs(Y, attrs))

    def _stops_early(self, Y, n_outputs):
        """Whether this fit holds rows out and stops on their score: as
        ``early_stopping`` says, or for ``'auto'`` (DeepL2Regressor's default,
        the classifier's option) when the task asks for it and at least
        :data:`AUTO_VALIDATION_ROWS` rows would be held out.

        Where the penalty does not keep a deep network from fitting noise, held-out
        rows do. With one regression output the penalty only chooses between rank
        0 and rank 1, and a rank-1 network fits noise through a wiggly profile at
        almost no extra cost: ``(alpha / L) ||theta||^2`` barely sees regularity.
        Measured (5-fold CV after StandardScaler, seeds 0-2): diabetes 0.03-0.13
        on every row, 0.36-0.42 held out (RidgeCV 0.48); on ten single-output sets
        (seeds 1 and 2) the five noisy ones gained 0.04 to 0.39 (a noisy sine
        surface -0.17 to 0.10, make_regression 0.51 to 0.73) and the low-noise
        ones moved by at most 0.011, in 0.4x to 1.2x the time. With several
        outputs the noise spreads over directions the penalty prices (rank), and
        training on every row did as well (30% noise on 12 outputs, ranks 1 to 5);
        on a held-out probe's noisy teachers held-out rows read the rank more often
        (30 of 60 against 24), on their clean ones less often (25 of 36 against 29).
        The classifier accepts ``'auto'`` but defaults to False: cross-entropy
        keeps falling as a network scales its logits, noisy labels included
        (held-out rows gained 1.5 to 5 points of accuracy on five noisy sets,
        but -7.2 to +2.0, -1.8 on average, on seven others),
        but on clean data that needs the long fit held-out rows cost 4 to 9
        points (the paper's shifted S curves).
        """
        if self.early_stopping != "auto":
            return bool(self.early_stopping)
        n_val = round(self.validation_fraction * len(Y))
        # two training rows at least, as fit needs (and _split asks of a split)
        return (AUTO_VALIDATION_ROWS <= n_val <= len(Y) - 2
                and self._task.auto_holds_out(Y, n_outputs, n_val))

    def _validation_rows(self, X, Y, n_val, rng):
        rows = _side_by_side(X, Y)
        if self._task.kind == "labels" and self._task.stratifiable(Y, n_val):
            if _row_groups(rows).max() + 1 < len(rows):
                return _stratified_unseen_split(rows, Y.ravel(), rng, n_val)
            split = StratifiedShuffleSplit(1, test_size=n_val, random_state=rng)
            tr, val = next(split.split(Y, Y.ravel()))
            return val, tr
        return _unseen_split(rows, rng.permutation(Y.shape[0]), n_val)

    # ---- diagnostics ------------------------------------------------------------
    def _reading_rng(self):
        """The draws of a reading (its sample rows, its Jacobian points), afresh from
        ``random_state`` for ``fit`` and :meth:`diagnose` alike: with an integer
        ``random_state``, ``diagnose`` on the rows a fit was read on re-reads the
        same points (drawn from the fit's stream, the Jacobian rank of one
        network read differently in 4 fits of 66 of a held-out check)."""
        return check_random_state(self.random_state)

    def _reading_sample(self, X, rng, weight=None):
        """The rows a reading reads: those of positive ``weight``, at most
        ``n_diagnostic_samples`` of them drawn from ``rng``; with their weights."""
        if weight is not None:
            X, weight = X[weight > 0], weight[weight > 0]
        if X.shape[0] > self.n_diagnostic_samples:
            rows = rng.choice(X.shape[0], self.n_diagnostic_samples, replace=False)
            X, weight = X[rows], (None if weight is None else weight[rows])
        return X, weight

    def _diagnose(self, X, rng, rank_tol=None, rank_gap=None, weight=None):
        """:func:`skrank.diagnostics.diagnose` over a sample of the (scaled) ``X``;
        with sample ``weight``, the bottleneck counts rows as repeats (as the loss
        does: ``transform`` is then the same as on repeated rows), and rows of
        weight 0 are not read at all."""
        X, weight = self._reading_sample(X, rng, weight)
        n_jac = min(self.n_jacobian_points, X.shape[0])
        points = X[rng.choice(X.shape[0], n_jac, replace=False)] if n_jac else None
        tol = self.rank_tol if rank_tol is None else rank_tol
        min_gap = self.rank_gap if rank_gap is None else rank_gap
        report = _diag.diagnose(self.module_, X, jacobian_points=points, tol=tol,
                                min_gap=min_gap, include_bias=self.module_.penalizes_bias,
                                weight=weight)
        if self._reads_input_span:
            report.input_rank = _diag.input_rank(X, tol=tol, min_gap=min_gap)
            report.network_jacobian_rank = _rank_in_span(self.module_, report, X, points)
        return report

    def _set_diagnostics(self, report, X_held=None):
        """Copy the report to fitted attributes (the one place that sets them);
        ``X_held``: scaled rows the network was not fitted to (None: none), for
        attributes read on them."""
        bn = report.bottleneck
        k = self._n_codes(bn)
        self.layer_spectra_ = report.layer_spectra
        self.representation_spectra_ = report.representation_spectra
        self.layer_ranks_ = bn.weight_ranks
        # the spectra the ranks are read from; C order, kept as the fitted arrays
        self.image_spectra_ = [np.ascontiguousarray(sp, dtype=np.float64)
                               for sp in bn.spectra]
        self.bottleneck_rank_ = bn.rank
        self.bottleneck_layer_ = bn.layer
        self.bottleneck_mean_ = bn.mean
        self.bottleneck_gap_ = bn.reading.gap
        self.bottleneck_fidelity_ = report.fidelity
        # more or fewer codes than the rank: read with the rows' weights, as the
        # mean they are centered on and the rank's own components
        self.bottleneck_components_ = bn.components if k == bn.rank \
            else _diag._principal_components(bn.representation, k, bn.weight)
        self.jacobian_spectra_ = report.jacobian_spectra
        self.jacobian_rank_ = report.jacobian_rank
        self.parameter_norm_ = report.parameter_norm
        self.offset_free_norm_ = report.offset_free_norm
        self.norm_per_depth_ = self.parameter_norm_ / self.depth
        self.nonlinearity_impact_ = report.nonlinearity_impact
        # the theory's R1 = ||theta||^2 - L R0 counts the offset-free norm: with
        # penalized biases ||theta||^2 grows by k + 1 per layer, not k
        self.regularity_ = self.offset_free_norm_ - self.depth * self.bottleneck_rank_
        span = self._span_message(report)
        if span:
            warn_user(span, AmbiguousRankWarning)
        for name, value in self._extra_attributes(report, X_held).items():
            setattr(self, name, value)
        # one warning about the rank is enough: a rival's is not added to it
        return _warn_if_unclear(report, self.rank_tol,
                                jacobian_bounds=self._jacobian_bounds,
                                weak=self._weak_direction_factor,
                                cut_advice=self._cut_advice,
                                bound=self._function_bound()) or bool(span)

    def _function_bound(self):
        """``(value, what, why)``: ``min(n_features, n_outputs)`` of the network,
        the most any function it computes needs to pass through (read without
        Jacobian points too), how the warning names it and why it holds."""
        return (min(int(self.n_features_in_),
                    int(self.module_.weight_matrices()[-1].shape[0])), *FUNCTION_BOUND)

    def _span_message(self, report):
        """A warning that the bottleneck is no narrower than the data (an
        autoencoder's), or None."""
        return None

    def diagnose(self, X, *, rank_tol=None, rank_gap=None):
        """Re-read the fitted network over ``X`` at other rank settings, without refitting.

        The sample (when ``X`` has more than ``n_diagnostic_samples`` rows) and the
        Jacobian points are drawn afresh from ``random_state``, as ``fit`` draws
        its own: with an integer ``random_state``, on the rows the fit was read on,
        at the fitted ``rank_tol`` and ``rank_gap``, it reproduces the fitted
        attributes of a fit without ``sample_weight`` (the fit reads weighted rows
        as repeats; ``diagnose`` reads every row once). A fit that held rows out
        (``early_stopping_``, or an autoencoder's ``data_noise``) read the others,
        and the split is not stored: ``diagnose`` on all the rows reads the same
        network over more of them, so its gap and fidelity can differ from the
        fitted ones (a held-out check: the ranks agreed on 10 of 10 such fits,
        the gaps did not, e.g. 40.5 against 51.9).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs over which to measure (e.g. the training inputs); at most
            ``n_diagnostic_samples`` rows, drawn first, are read (all of them:
            a denoising autoencoder's ``input_spacing`` too, where fit's is on all).
        rank_tol, rank_gap : float or None
            The rank rule's floor and gap; ``None`` keeps the estimator's.

        Returns
        -------
        report : skrank.diagnostics.Report
            Spectra, ranks with their evidence, Jacobians and norm; the fitted
            attributes are left as they are. An ``AmbiguousRankWarning`` says when
            the reading has no clear gap or the cut directions still matter, as
            ``fit``'s does.

        Examples
        --------
        >>> import numpy as np
        >>> from skrank import DeepL2Regressor
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(200, 6))
        >>> Y = np.tanh(X[:, :2] @ rng.normal(size=(2, 4)))  # a rank-2 function
        >>> reg = DeepL2Regressor(depth=4, width=16, max_iter=200,
        ...                       random_state=0).fit(X, Y)
        >>> report = reg.diagnose(X)  # at the fitted rank_tol: the fitted reading
        >>> report.rank == reg.bottleneck_rank_
        True
        >>> strict = reg.diagnose(X, rank_tol=0.3)  # a higher floor, no refit
        >>> bool(strict.rank <= report.rank)
        True
        """
        given = {k: v for k, v in (("rank_tol", rank_tol), ("rank_gap", rank_gap))
                 if v is not None}
        # checked under the names the user typed (the rule's own are tol, min_gap)
        validate_parameter_constraints(
            {k: self._parameter_constraints[k] for k in given}, given,
            caller_name=f"{type(self).__name__}.diagnose")
        report = self._diagnose(*self._scaled_sample(X), rank_tol, rank_gap)
        _warn_if_unclear(report, report.tol, name="report.rank",
                         jacobian_bounds=self._jacobian_bounds,
                         weak=self._weak_direction_factor, bound=self._function_bound(),
                         cut_advice=self._cut_advice)
        return report

    def _scaled_sample(self, X):
        """The rows of ``X`` a reading reads (the fit's draw), drawn before anything
        is scaled (a million rows cost twice their size in scaled copies for the
        thousand read: an audit), and the draws' generator, for the rest."""
        rng = self._reading_rng()
        X = self._check_X(X, scaled=False)
        # every row's values checked, as predict checks them, from each column's
        # extremes (the scaling is affine): no scaled copy of the rest
        ends = np.stack([X.min(axis=0), X.max(axis=0)]) if len(X) else X
        self._check_representable(self._scale_inputs(ends), "X", raw=ends)
        X, _ = self._reading_sample(X, rng)
        return self._scale_inputs(X), rng

    # ---- inference ----------------------------------------------------------------
    def _check_X(self, X, scaled=True):
        """Validated inputs in the network's (normalized) units; as given with
        ``scaled=False``, for :meth:`_batched` to scale chunk by chunk (a large
        float32 ``X`` is then never copied whole to float64)."""
        check_is_fitted(self)
        X = validate_data(self, user_array(X), reset=False, dtype=[np.float64, np.float32])
        if not scaled:
            return X
        Xn = self._scale_inputs(X)
        self._check_representable(Xn, "X", raw=X)
        return Xn

    def _check_representable(self, X, name, why="", raw=None):
        """Refuse normalized values the network's dtype cannot carry through it;
        with ``raw`` (new inputs of a fitted model), name the user's own values."""
        safe, _ = _DTYPE_LIMITS[self.dtype]
        if not (X.size and np.abs(X).max() > safe):
            return
        # float64 has no wider dtype to turn to: rescaling is the way
        instead = " or use dtype='float64'" if self.dtype == "float32" else ""
        if raw is not None and self.normalize:
            times = np.abs(X).max()
            times = f"{times:.3g}" if np.isfinite(times) else "more than 1e308"
            raise ValueError(
                f"{name} holds values up to {np.abs(raw).max():.3g}, "
                f"{times} times the training data's spread away from "
                f"its mean: too large for {self.dtype} arithmetic. Such values lie far "
                "outside the training data (check their units)"
                + (", or fit with dtype='float64'." if instead else "."))
        raise ValueError(
            f"{name} holds values up to {np.abs(X).max():.3g}{why}: too large "
            f"for {self.dtype} arithmetic; rescale it (e.g. StandardScaler){instead}."
        )

    def _batched(self, X, fn, scale=False):
        """Apply ``fn`` to bounded chunks of rows of a validated ``X`` (with
        ``scale``, inputs in the user's units, normalized chunk by chunk)."""
        where = placement(self.module_)
        outs = []
        with torch.no_grad():
            for start in range(0, X.shape[0], PREDICT_BATCH_ROWS):
                rows = X[start : start + PREDICT_BATCH_ROWS]
                if scale:
                    raw, rows = rows, self._scale_inputs(rows)
                    self._check_representable(rows, "X", raw=raw)
                # C order: a Fortran-ordered chunk runs another matmul kernel,
                # whose result differs in the last bit
                rows = np.ascontiguousarray(rows)
                chunk = torch.tensor(rows, **where)
                out = fn(chunk)
                if not torch.isfinite(out).all():
                    raise ValueError(
                        "The network's output overflowed (non-finite values) on these "
                        "inputs; they are far outside the training data's scale."
                    )
                outs.append(out.to("cpu", torch.float64).numpy())
        return np.concatenate(outs, axis=0)

    def _forward(self, X):
        return self._outputs_of(self._check_X(X, scaled=False))

    def _outputs_of(self, X):
        """The network's outputs, in the user's units, on rows already checked."""
        return self._unscale_outputs(self._batched(X, self.module_, scale=True))

    def _bottleneck_codes(self, X):
        X = self._check_X(X, scaled=False)
        layer = self.bottleneck_layer_
        comps = torch.as_tensor(self.bottleneck_components_, device="cpu")
        mean = torch.as_tensor(self.bottleneck_mean_, device="cpu")

        def codes(chunk):
            a = self.module_.bottleneck_in(chunk, layer).to("cpu", torch.float64)
            return (a - mean) @ comps.T

        return self._batched(X, codes, scale=True)

    def _decode_codes(self, Z):
        """Map bottleneck coordinates back through the layers after the bottleneck."""
        check_is_fitted(self)
        Z = check_array(user_array(Z), dtype=[np.float64, np.float32])
        k = self.bottleneck_components_.shape[0]
        if Z.shape[1] != k:
            raise ValueError(
                f"Codes have {Z.shape[1]} columns but the bottleneck has {k} "
                "coordinates (transform's output)."
            )
        where = placement(self.module_)
        comps = torch.as_tensor(self.bottleneck_components_, **where)
        mean = torch.as_tensor(self.bottleneck_mean_, **where)
        layer = self.bottleneck_layer_

        def decode(chunk):
            return self.module_.bottleneck_out(chunk @ comps + mean, layer)

        return self._unscale_outputs(self._batched(Z, decode))

    # ---- pickling --------------------------------------------------------------
    def __getstate__(self):
        # The network travels on the CPU so that a model trained on a GPU unpickles
        # on a machine without one; __setstate__ moves it back when it can.
        # BaseEstimator's state can be the live __dict__: edit a copy, or pickling
        # would drop the optimizer of the model being pickled too
        state = dict(super().__getstate__())
        # the optimizer of partial_fit is not kept, as skrank.load keeps none (and
        # the network may travel as a copy, which the optimizer does not hold): a
        # partial_fit after loading starts a fresh one (Adam's moments, SGD's
        # momentum)
        state.pop("_stepper", None)
        module = state.get("module_")
        if module is not None and placement(module)["device"].type != "cpu":
            state["module_"] = copy.deepcopy(module).to("cpu")
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if state.get("module_") is None:
            return
        self.device_ = str(device_or_cpu(self.device_))
        self.module_ = self.module_.to(self.device_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


class _FullyConnected:
    """Mixin naming the fully connected network and the parameters it takes."""

    def _start(self, n_outputs):
        """``init``, with ``'auto'`` resolved for a network of ``n_outputs``: the
        grown start alone where the task says a random one never wins
        (``auto_trains_random``), both starts otherwise."""
        if self.init == "auto" and not self._task.auto_trains_random(n_outputs):
            return "grow"
        return self.init

    def _first_depth(self, n_outputs):
        return start_depth(self._start(n_outputs), self.depth, self.activation)

    def _regrows(self, n_outputs):
        return (self._start(n_outputs) == "auto" and self.activation in GROWS
                and self.depth > START_DEPTH)

    _network = FullyConnectedNet
    _network_params = ("depth", "width", "activation", "negative_slope", "bias",
                       "penalty_scaling", "penalize_bias")
    _parameter_constraints = {**_DeepL2Base._parameter_constraints,
                              **_DeepL2Base._fc_constraints}


def _batchable(plans, estimators):
    """Whether these fits can share one batched run (L-BFGS, Adam or SGD, with or
    without a warm-up: every solver trains several networks at once): one
    architecture and the same training settings, resolved on each fit's rows (a
    batch takes the first fit's: ``batch_size='auto'`` is ``min(200, rows)``, so
    folds of 68 and 69 rows train on different batches)."""
    first = estimators[0]
    settings = [_batch_settings(e, p) for e, p in zip(estimators, plans)]
    return (all(len(p.modules) == 1 for p in plans)
            and all(s == settings[0] for s in settings)
            and all((e.rank_tol, e.rank_gap, e.verbose)
                    == (first.rank_tol, first.rank_gap, first.verbose) for e in estimators)
            and all(p.modules[0].same_architecture(plans[0].modules[0]) for p in plans)
            and all(type(e) is type(first) and e.dtype == first.dtype
                    and e.depth == first.depth
                    and e.get_params().get("init") == first.get_params().get("init")
                    for e in estimators))


def _batch_settings(est, plan):
    """The training settings of ``plan``'s fit, its batch size only where a
    mini-batch solver or warm-up reads it."""
    settings = est._settings(len(plan.X_tr))
    if settings.solver == "lbfgs" and not settings.warmup_iter:
        settings = replace(settings, batch_size=None)
    return settings


def _padded(arrays, n):
    """Rows of each array padded with zeros to ``n``, stacked: (S, n, ...)."""
    return np.stack([np.concatenate([a, np.zeros((n - len(a),) + a.shape[1:], a.dtype)])
                     for a in arrays])


def _held(plan):
    """Bytes of a plan's networks, allocated already (its data is not: the batched
    run trains on padded copies of it)."""
    return sum(t.numel() * t.element_size() for m in plan.modules for t in m.parameters())


def fit_many(estimators, datasets, labels=None):
    """Fit unfitted skrank estimators, each on its own ``(X, y)``, batched when they
    can be (one architecture and solver; an early-stopped fit on its own held-out
    rows, beside fits on every row).

    Each network trains on its own rows (padded to a common length with rows of
    weight zero) and its own normalization, as a separate ``fit`` would, up to
    floating-point rounding; cross-validation folds and an alpha grid of one depth
    then cost one batched run. ``labels`` (one per estimator) begin the warnings
    each fit's readings give. Returns the fitted estimators.
    """
    labels = labels or [""] * len(estimators)
    # the networks trained together decide the threads together
    with _grad_enabled(), threads(
            estimators[0]._threads(tuple(X for X, _ in datasets), n_networks=1)):
        plans = []
        for est, (X, y), label in zip(estimators, datasets, labels):
            with labelled_warnings(label):
                plans.append(est._plan(X, y, None))
        if len(estimators) == 1 or not _batchable(plans, estimators):
            for est, plan, label in zip(estimators, plans, labels):
                with labelled_warnings(label):
                    est._complete(plan, plan.train(est))
            return estimators
        # each plan was checked alone; batched, their networks train at once (the
        # plans' networks are allocated already; their data is copied, padded)
        check_memory(sum(p.memory - _held(p) for p in plans),
                     placement(plans[0].modules[0])["device"],
                     f"{len(plans)} networks trained together (the folds and alphas of "
                     "one depth)")
        n = max(len(p.X_fit) for p in plans)
        weights = [np.ones(len(p.X_fit)) if p.W_fit is None else p.W_fit for p in plans]
        modules = [p.modules[0] for p in plans]
        X, Y = _tensors(plans[0].task, _padded([p.X_fit for p in plans], n),
                        _padded([p.Y_fit for p in plans], n), modules[0])
        kwargs = plans[0].train_kwargs(estimators[0])
        kwargs.update(alphas=[e.alpha for e in estimators],
                      validations=[p.validation for p in plans],
                      generators=[p.generators[0] for p in plans],
                      callbacks=[p.trackers[0].callback for p in plans],
                      sample_weight=torch.tensor(_padded(weights, n),
                                                 **placement(modules[0])))
        modules, results = train_started(
            estimators[0], modules, [p.X_fit for p in plans], [p.W_fit for p in plans],
            X, Y, [p.trackers[0] for p in plans], per_network=True, **kwargs)
        for est, plan, module, result, label in zip(estimators, plans, modules, results,
                                                    labels):
            plan.modules = [module]
            with labelled_warnings(label):
                est._complete(plan, [result])
        return estimators
