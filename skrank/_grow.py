"""Growing a deep network from a shallow one (``init='grow'``).

A deep network drawn at random (Kaiming-normal) carries ``||theta||^2`` near
``2 * width * depth``; a fitted one, about ``depth`` per unit of rank. Under
``(alpha / L) ||theta||^2`` the unused weights decay at the rate ``2 alpha / L``,
far slower than the data term's curvature, so L-BFGS spends its steps on the data.
Where the data term is weak against the penalty (one output, a classifier's
cross-entropy) the fit grows the network's gains instead of shrinking its
weights and stops in a sharp region, its objective above the zero function's
(measured: ``||theta||^2`` 817 to 1,252 on six single-output data sets at the
regressor's defaults, against 15 to 22 when grown; benchmarks/bench_regression.py).

Growing starts the deep fit from a fitted function instead: a network of depth
:data:`START_DEPTH` is trained, identity-like layers are inserted at its
bottleneck (:meth:`skrank._networks.FullyConnectedNet.deepened`: the deeper
network computes nearly the same function on the training data, the directions
weaker than :data:`DEEPEN_RTOL` of the strongest left out, and pays only for the
directions in use, as the middle layers of a deep network do, Jacot 2023a,
sec. 4), and the deep network is trained from there.

Growing is not the better start everywhere: where the data term is strong
(many outputs), the random start reaches lower objectives (by 1 to 7% on
rank-k teachers with 12 outputs) and the shallow stage's extra directions can
outlive the deep stage (a rank-4 polynomial teacher read 6 when grown, 4 from
random). Nor is the random start: it stops in sharp regions, on one output
(above the zero function's objective, :func:`zero_objective`) and on many (a
rank-5 teacher stopped at 9.6, rank 1, test R^2 0.67, where the grown fit reached
1.08, rank 5, R^2 0.98; a rank-4 teacher of Gaussian bumps at 1.43, rank 2, R^2
0.81, against 0.86, rank 4, R^2 0.98). No cheap bar told these apart: the
deepened start before training scored above the stuck fit on the second. So the
estimators' ``init='auto'`` trains both, the random start and the grown one
(:func:`grow_start`, then :func:`train_deep`), and keeps the lower objective: on
30 held-out teachers of rank 1 to 5 it converged on all 30 and read the rank on
25 (random alone: 28 converged, 24 right; grown alone: 30 and 24), for about a
third more time than the random fit alone; on 94 more (new teacher families, 8
outputs) it read 76 where the grown fit alone read 65, most of its misses too
high. That is with several outputs; with one
output, or a classifier's cross-entropy, the random fit ends above the zero
network's objective and is never kept (the grown fit won 57 folds of 57 on 15
single-output data sets), so ``'auto'`` trains the grown start alone there
(``auto_trains_random`` of :mod:`skrank._tasks`).
"""

from dataclasses import replace

import numpy as np
import torch

from . import diagnostics as _diag
from ._device import as_tensor
from ._engine import train_many
from ._stack import StackedObjective

__all__ = ["START_DEPTH", "DEEPEN_RTOL", "GROWS", "start_depth", "zero_objective",
           "above_zero", "growth_layer", "deepen", "train_grown", "grow_start",
           "train_deep", "objectives"]

#: The depth a grown network is fitted at first: two hidden layers, so that the
#: network has a bottleneck to insert the identity layers at.
START_DEPTH = 3

#: Directions of the bottleneck representation below this fraction of its largest
#: singular value are left out of inserted identity layers: they are the small
#: curvature of the representation, and keeping them would cost a full unit of
#: ||theta||^2 per layer that training then has to remove (measured: the norm slope
#: of a warm depth sweep read 2.97 instead of 2.11 with them).
DEEPEN_RTOL = 0.05


#: Activations whose identity-like layers are exact (leaky ReLU would change the
#: negative entries the inserted layer passes on).
GROWS = ("relu", "identity")


def start_depth(init, depth, activation):
    """The depth a fresh network is drawn at: :data:`START_DEPTH` when grown."""
    return min(START_DEPTH, depth) if init == "grow" and activation in GROWS else depth


def zero_objective(loss_fn, Y, weight, n_outputs, dtype):
    """The objective of the zero network (every parameter 0: no penalty and a zero
    output, which is the targets' mean when they are normalized): the bar every
    fit must clear."""
    out = torch.zeros(Y.shape[0], n_outputs, dtype=dtype, device=Y.device)
    with torch.no_grad():
        return float(loss_fn(out, Y, weight))


def above_zero(final, zero):
    """Whether a final objective is above the zero network's (beyond rounding).

    A constant target's zero network costs 0, and a float32 fit of it ends at the
    rounding of its penalty, 1e-11 or so in normalized units, which is the same
    fit; a ResNet's, whose parameters decay slowly, at 2e-8 to 2.4e-7 after
    800-3,000 iterations (three outputs, a held-out audit: predictions within
    1.4e-5 of the constant). Only then is the slack absolute, 1e-6 (an output
    within 1e-3 of the target's spread): with ``normalize=False`` a zero
    network's objective may itself be that small.
    """
    return final > zero * (1 + 1e-3) + (1e-6 if zero == 0 else 1e-12)


def growth_layer(module, x, weight=None):
    """The layer where ``module`` is deepened on the inputs ``x``: its bottleneck by
    the default rank rule (:data:`skrank.diagnostics.DEFAULT_RANK_TOL` and
    ``DEFAULT_MIN_GAP``), not an estimator's ``rank_tol`` and ``rank_gap``. Those
    say how a fitted network is read; a refit at other values trains the same
    network (a held-out audit's refit at ``rank_gap=8`` grew at another layer, its
    predictions up to 17% of the targets' spread apart). Rows of zero ``weight``
    are left out, the others count as repeats."""
    if weight is not None:
        keep = np.flatnonzero(np.asarray(weight) > 0)
        x, weight = x[keep], weight[keep]
    return _diag._bottleneck_layer(module, x, tol=_diag.DEFAULT_RANK_TOL,
                                   min_gap=_diag.DEFAULT_MIN_GAP, weight=weight)


def deepen(module, depth, x, *, weight=None, rtol=DEEPEN_RTOL):
    """``module`` deepened to ``depth`` at its :func:`growth_layer` on the inputs
    ``x`` (rows weighed as there, in the inserted layers too)."""
    if weight is not None:
        keep = np.flatnonzero(weight > 0)
        x, weight = x[keep], weight[keep]
    return module.deepened(depth - module.architecture()["depth"],
                           growth_layer(module, x, weight), x, rtol=rtol, weight=weight)


def train_grown(modules, inputs, depth, X, Y, *, weights=None, callbacks=None,
                warn_capped=True, trained=False, shallow_callbacks=None,
                **kwargs):
    """Train ``modules``; when they are shallower than ``depth``, grow them first.

    Parameters
    ----------
    modules : list of Network
        One architecture; shallower than ``depth`` for a grown fit.
    inputs : list of ndarray
        Each network's own training inputs (normalized): its identity layers are
        fitted to their representations.
    weights : list of (ndarray or None) or None
        Each network's row weights (None: all ones).
    depth : int
        The depth the networks end at.
    X, Y, **kwargs
        As :func:`skrank._engine.train_many` takes them, without
        ``penalty_groups`` (each stage reads its own networks').
    callbacks : list or None
        Per-network callbacks, called in the deep stage only.
    shallow_callbacks : list or None
        Per-network callbacks of the shallow stage (a stop signal; rank records
        start at full depth).
    warn_capped : bool, default=True
        Warn of networks stopped at ``max_iter`` (the deep stage's cap only).
    trained : bool, default=False
        ``modules`` hold trained parameters (a warm start; not grown then), see
        :func:`skrank._engine.train_many`.

    Returns
    -------
    modules : list of Network
        The trained networks, of depth ``depth``.
    results : list of TrainingResult
        One per network; the shallow stage counts as warm-up (its objectives
        come first in ``loss_curve``, and ``n_iter - n_warmup`` counts the deep
        stage's iterations only).
    """
    if modules[0].architecture()["depth"] >= depth:
        return modules, train_many(modules, X, Y, callbacks=callbacks,
                                   penalty_groups=modules[0].penalty_groups(),
                                   warn_capped=warn_capped, trained=trained, **kwargs)
    deep, first = grow_start(modules, inputs, depth, X, Y, weights=weights,
                             callbacks=shallow_callbacks, **kwargs)
    if any(r.stop_reason == "interrupted" for r in first):
        # Ctrl-C: the deepened networks compute what the shallow ones did
        return deep, [replace(r, n_warmup=r.n_iter) for r in first]
    return deep, train_deep(deep, first, X, Y, callbacks=callbacks,
                            warn_capped=warn_capped, **kwargs)


def grow_start(modules, inputs, depth, X, Y, *, weights=None, **kwargs):
    """The shallow stage of :func:`train_grown`: ``modules`` trained, then deepened
    to ``depth``. Returns the deepened networks and the shallow stage's results."""
    # the shallow stage only prepares a start: its iteration cap is no news
    shallow = modules[0].architecture()["depth"]
    first = train_many(modules, X, Y, penalty_groups=modules[0].penalty_groups(),
                       warn_capped=False, label=f"depth {shallow}: ", **kwargs)
    weights = weights or [None] * len(modules)
    deep = [deepen(m, depth, as_tensor(x, m), weight=w)
            for m, x, w in zip(modules, inputs, weights)]
    return deep, first


def train_deep(deep, first, X, Y, *, callbacks=None, warn_capped=True, **kwargs):
    """The deep stage of :func:`train_grown`, from :func:`grow_start`'s networks;
    one result per network, the shallow stage's as warm-up."""
    # the Adam warm-up (warmup_iter) moves a random start: the deep stage starts
    # from a fitted function
    kwargs["settings"] = replace(kwargs["settings"], warmup_iter=0)
    second = train_many(deep, X, Y, callbacks=callbacks,
                        label=f"depth {deep[0].architecture()['depth']}: ",
                        penalty_groups=deep[0].penalty_groups(), warn_capped=warn_capped,
                        # grown from a shallow fit that moved; one that never left
                        # its start (stalled) grew an untrained network
                        trained=[r.stop_reason != "stalled" for r in first], **kwargs)
    return [_joined(a, b) for a, b in zip(first, second)]


def objectives(modules, X, Y, *, loss_fn, alphas, sample_weight=None, per_network=False,
               **_):
    """The objective of each network where it stands (one batched evaluation)."""
    obj = StackedObjective(modules, X, Y, sample_weight, loss_fn, list(alphas),
                           modules[0].penalty_groups(), per_network=per_network)
    return obj(obj.gather())[0].tolist()


def _joined(first, second):
    """One record of both stages, the first as warm-up (as Adam epochs before
    L-BFGS are); a divergence in either stage is the fit's (it was warned of)."""
    k = len(first.loss_curve)
    diverged = "diverged" in (first.stop_reason, second.stop_reason)
    # validation scores stay aligned with the objectives, the first stage's first
    scores = second.validation_scores
    if first.validation_scores is not None and scores is not None:
        scores = list(first.validation_scores) + list(scores)
    return replace(second, loss_curve=first.loss_curve + second.loss_curve,
                   validation_scores=scores,
                   n_iter=k + second.n_iter, n_warmup=k + second.n_warmup,
                   train_time=first.train_time + second.train_time,
                   stop_reason="diverged" if diverged else second.stop_reason)
