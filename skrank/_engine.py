"""The one training loop behind every skrank estimator.

The engine receives one or several torch modules of one architecture, tensors already
on the device, a data loss and the penalty groups, and minimizes for each network::

    loss(f(X), Y) + alpha * sum_g c_g * ||theta_g||^2

with full-batch L-BFGS (strong Wolfe line search; all networks batched, each on its
own path: :mod:`skrank._lbfgs`, :mod:`skrank._stack`), Adam or SGD with momentum
(torch's fused updates, several networks batched on their flat parameters:
:mod:`skrank._rowopt`). The penalty never goes through autograd: its gradient
``2 alpha c_g theta_g`` is added in closed form (:mod:`skrank._penalty`; inside the
optimizer kernel for a single network's Adam/SGD, where torch fuses it as coupled
weight decay).

Divergence: the engine only ever keeps parameters at which the loss was evaluated and
found sane, that is finite and below ``EXPLOSION`` times the first loss. A non-finite
or exploded loss, or non-finite parameters after a step (a non-finite gradient), stop
training: the last sane parameters are restored, ``stop_reason`` is 'diverged' and a
:class:`DivergenceWarning` is issued. Whatever evaluated the loss (predictions and
diagnostics on the training data) is therefore finite on the model that comes back.

Interruption: a ``KeyboardInterrupt`` restores the same parameters, warns with
:class:`TrainingInterruptedWarning` and returns with ``stop_reason='interrupted'``.
The caller completes its own state, then calls
:meth:`TrainingResult.raise_if_interrupted`, so that Ctrl-C still stops whatever runs
the fit (a search) while the fitted object stays usable.

With a validation set, the parameters at the end of the window of best mean
validation score are restored at the end.
"""

import collections
import contextlib
import math
import sys
import time
from dataclasses import dataclass, field
from functools import partial

import torch
from sklearn.exceptions import ConvergenceWarning

from ._lbfgs import BatchedLBFGS
from ._networks import Network
from ._penalty import decay_groups, entry_weights, penalty_value
from ._rowopt import NetworkOptimizer, RowOptimizer
from ._stack import StackedObjective
from ._warn import warn_user

__all__ = ["TrainingResult", "Settings", "train", "train_many", "warn_if_capped", "Stepper",
           "Callback",
           "DivergenceWarning", "tell_divergences",
           "TrainingInterruptedWarning", "SOLVERS"]

#: An objective this many times its first value (or 1) has diverged, even while
#: floats still hold it: on normalized data no penalized fit grows its loss six
#: orders of magnitude on the way to a minimum (the zero network's objective is the
#: number of outputs), and Adam at learning rate 10 on a ResNet went from 463 to
#: 6e27, predicting 1e14 for targets near 2, without tripping the earlier 1e30.
EXPLOSION = 1e6

#: A validation-monitored plateau compares means of ``n_iter_no_change`` held-out
#: scores over this many such windows. Measured over ten single-output data sets
#: (5-fold CV, early stopping): over one window, low-noise fits stopped at R^2
#: 0.979 / 0.991 (a sine surface, a Swiss roll's position) where three reached
#: 0.995 / 0.997, as training on every row does; noisy sets moved by -0.03 to +0.11.
VALIDATION_PATIENCE = 3


class DivergenceWarning(RuntimeWarning):
    """Training diverged; the last parameters with a sane loss were kept."""


class TrainingInterruptedWarning(RuntimeWarning):
    """Training was interrupted by the user; the last good parameters were kept."""


class _Diverged(Exception):
    """A solver met a non-finite or exploded loss or parameters."""


@dataclass
class TrainingResult:
    loss_curve: list = field(default_factory=list)
    validation_scores: list = field(default_factory=list)
    n_iter: int = 0
    n_warmup: int = 0
    stop_reason: str = "max_iter"
    best_validation_score: float = None
    train_time: float = 0.0
    interrupt: BaseException = field(default=None, repr=False, compare=False)
    #: fits of the same network that were trained and not kept (``init='auto'``'s
    #: other start): ``(module, final objective)``
    rivals: list = field(default_factory=list, repr=False, compare=False)

    def raise_if_interrupted(self):
        """Re-raise the user's ``KeyboardInterrupt`` caught during training.

        The engine catches Ctrl-C so that the model is left in a good state; the
        caller finishes its own state (fitted attributes) first and then calls this,
        so that loops around the fit (a search, a script) still stop.
        """
        if self.stop_reason == "interrupted":
            raise self.interrupt if self.interrupt is not None else KeyboardInterrupt


class _Flat:
    """Gathers the parameters into one flat tensor and scatters it back.

    The flat views of the parameters' storage are made once: gathering is then a
    single ``torch.cat`` call, where rebuilding the views each time cost more than
    the copy itself on small networks (measured on a GPU). A parameter that is not
    contiguous has no such view and is reshaped (copied) at every gather instead.
    """

    def __init__(self, params):
        self.params = params
        self.sizes = [p.numel() for p in params]
        self.views = [p.detach().view(-1) for p in params] \
            if all(p.is_contiguous() for p in params) else None

    def gather(self, out=None):
        views = self.views or [p.detach().reshape(-1) for p in self.params]
        with torch.no_grad():
            return torch.cat(views, out=out)

    def scatter(self, flat):
        with torch.no_grad():
            for p, c in zip(self.params, torch.split(flat, self.sizes)):
                p.copy_(c.view_as(p))


class _Snapshot:
    """A preallocated flat copy of the parameters, refreshed without new allocations.

    A refresh fills a spare buffer and then swaps it in, so that a Ctrl-C landing
    halfway through the copy leaves the last complete copy in place.
    """

    def __init__(self, params):
        self.flat = _Flat(params)
        self.copy = self.flat.gather()
        self.spare = torch.empty_like(self.copy)

    def save(self):
        self.flat.gather(out=self.spare)
        self.copy, self.spare = self.spare, self.copy

    def restore(self):
        self.flat.scatter(self.copy)


class _Guard:
    """Keeps ``good``: the last parameters at which the loss was evaluated and found
    sane (finite, and below ``EXPLOSION`` times the first loss).

    Three flat buffers, filled by one ``torch.cat`` each and exchanged by swaps, so
    that a Ctrl-C landing halfway through a copy never leaves ``good`` half written:
    ``good``; ``staged``, the latest copy of the parameters; ``held``, a mini-batch
    epoch's starting point, whose loss (``first``) is read only at the epoch's end,
    in the one host sync the epoch already pays for.
    """

    def __init__(self, params):
        self.flat = _Flat(params)
        # the starting point: the fallback if even the first loss is not sane
        self.good = self.flat.gather()
        self.staged = torch.empty_like(self.good)
        self.held = torch.empty_like(self.good)
        self.first = None
        self.limit = math.inf

    def sane(self, loss_value):
        """Finite and not exploded; the first loss sets the explosion limit."""
        if not math.isfinite(loss_value) or loss_value > self.limit:
            return False
        if self.limit == math.inf:
            # at least EXPLOSION: a first loss near 0 (one centered row fitted
            # exactly, a mini-batch's data term without the penalty) would
            # otherwise make every later loss look exploded
            self.limit = EXPLOSION * max(loss_value, 1.0)
        return True

    def stage(self):
        """Copy the parameters aside, flat; the copy's sum (NaN, infinities and
        exploded magnitudes reach it) tells whether they are finite."""
        return self.flat.gather(out=self.staged)

    def keep_staged(self):
        self.good, self.staged = self.staged, self.good

    def hold_staged(self):
        """The staged parameters start an epoch; they wait for their loss."""
        self.held, self.staged = self.staged, self.held

    def settle(self, first_loss):
        """The held parameters' loss is known: keep them if it is sane."""
        self.first = None
        if not self.sane(first_loss):
            return False
        self.good, self.held = self.held, self.good
        return True

    def restore(self):
        if self.first is not None:  # stopped mid-epoch, after the held point's loss
            self.settle(float(self.first))
        self.flat.scatter(self.good)


@dataclass
class Settings:
    """How to train: the solver and its stopping rule (the estimators' parameters)."""

    solver: str = "lbfgs"
    max_iter: int = 200
    tol: float = 1e-4
    n_iter_no_change: int = 20
    batch_size: int = None
    learning_rate_init: float = 1e-3
    momentum: float = 0.9
    warmup_iter: int = 0
    #: what to try, appended to the ConvergenceWarning of a fit stopped at max_iter
    capped_hint: str = ""


# ---- callbacks: small objects around the loop ---------------------------------------
class Callback:
    """Hooks around the training loop (skorch's callbacks are the model).

    ``on_iteration`` returns True to stop; callbacks run in order, so one may read
    what an earlier one recorded on the run (the validation score, say). A callback
    that reads the network's parameters during training says so (``reads_module``):
    batched L-BFGS then writes each accepted point into the network, which it
    otherwise does once, at the end.
    """

    reads_module = False

    def on_phase(self, run):
        """A solver phase starts (the warm-up, then L-BFGS)."""

    def on_iteration(self, run, loss_value):
        return False

    def on_end(self, run):
        """Training ended (converged, capped, diverged or interrupted)."""


def _stopping(tol, n_iter_no_change):
    """Stop once the cost fell by less than ``tol`` (relative) per iteration, on
    average over the last ``n_iter_no_change`` iterations.

    Relative, so that the rule means the same on any objective scale; averaged
    over a window, because L-BFGS and mini-batch epochs alternate large and tiny
    steps and a count of consecutive small steps resets on noise.
    """
    history = []

    def update(value):
        # value is a cost (lower is better)
        history.append(value)
        if len(history) <= n_iter_no_change:
            return False
        old = history[-1 - n_iter_no_change]
        best_before = min(history[:-n_iter_no_change])
        gain = best_before - min(history[-n_iter_no_change:])
        del history[: -n_iter_no_change - 1]
        history[0] = min(best_before, old)
        scale = max(abs(value), 1e-12)
        return gain < tol * n_iter_no_change * scale

    return update


def _smoothed(update, n):
    """``update`` fed the mean of the last ``n`` values: a held-out score swings
    from one iteration to the next, and the least of a window of swings is a
    lucky draw, not progress."""
    window = collections.deque(maxlen=n)

    def smoothed(value):
        window.append(value)
        return len(window) == n and update(sum(window) / n)

    return smoothed


class Plateau(Callback):
    """Convergence: the monitored cost (the objective, or the validation regret
    ``1 - score`` when there is one) stopped falling; a new phase starts a new
    window.

    Every validation score here is at most 1, at 1 for a perfect fit (R^2,
    accuracy): its regret, not minus the score, is the cost whose relative fall
    means the same near a perfect fit as far from it. The held-out score swings
    from one L-BFGS iteration to the next far more than the objective does
    (0.98 to 0.91 and back on a sine surface), so it is watched over
    :data:`VALIDATION_PATIENCE` windows.
    """

    def __init__(self, tol, n_iter_no_change, smooth=False):
        self.tol, self.n, self.smooth = tol, n_iter_no_change, smooth

    def on_phase(self, run):
        if self.smooth:
            self.update = _smoothed(_stopping(self.tol, self.n * VALIDATION_PATIENCE),
                                    self.n)
        else:
            self.update = _stopping(self.tol, self.n)

    def on_iteration(self, run, loss_value):
        scores = run.result.validation_scores
        if self.update(1.0 - scores[-1] if scores else loss_value):
            run.result.stop_reason = "converged"
            return True
        return False


class Validation(Callback):
    """Scores held-out data after every iteration and restores the best parameters
    at the end (unless training diverged: then the last sane ones stay).

    "Best" is by the mean score of the last ``window`` iterations, as
    :class:`Plateau` reads it: the single best score of a long run on a few held-out
    rows is a lucky draw (measured on diabetes, 35 rows held out: a best score of
    0.46 whose parameters scored 0.06 on the test rows). Means of fewer scores
    count only until the first full window (a run shorter than one window keeps
    the best of them).
    """

    reads_module = True

    def __init__(self, X, Y, score_fn, params, weight=None, window=1):
        self.X, self.Y, self.score_fn, self.weight = X, Y, score_fn, weight
        self.best = _Snapshot(params)
        self.best_score = -math.inf
        self.recent = collections.deque(maxlen=window)
        self.full = False

    def on_iteration(self, run, loss_value):
        run.module.eval()
        with torch.no_grad():
            out = run.module(self.X)
            score = float(self.score_fn(out, self.Y) if self.weight is None
                          else self.score_fn(out, self.Y, self.weight))
        run.module.train()
        run.result.validation_scores.append(score)
        self.recent.append(score)
        smoothed = sum(self.recent) / len(self.recent)
        if not self.full and len(self.recent) == self.recent.maxlen:
            self.full, self.best_score = True, -math.inf  # full windows from here
        if smoothed > self.best_score:
            self.best_score = smoothed
            self.best.save()
        return False

    def on_end(self, run):
        if not run.result.validation_scores or run.result.stop_reason == "diverged":
            return
        if self.best_score == -math.inf:
            # no finite score: the snapshot is the start, not a best point
            warn_user("No validation score was finite (NaN on every iteration): "
                      "early stopping could not choose, and the last parameters are "
                      "kept.", UserWarning)
            run.result.best_validation_score = math.nan
            return
        self.best.restore()
        run.result.best_validation_score = self.best_score


class Progress(Callback):
    """Prints the objective, the validation score, elapsed time and an estimate of
    the time left (to ``max_iter``, an upper bound: fits usually stop earlier).

    On a terminal (``verbose=1``) one line is redrawn in place, with a bar; elsewhere
    (a log, a notebook's captured output) a line every ``max_iter // 20`` iterations.
    """

    def __init__(self, verbose, max_iter, label=""):
        self.bar = verbose == 1 and sys.stdout.isatty()
        self.every = 1 if verbose > 1 or self.bar else max(1, max_iter // 20)
        self.max_iter = max_iter
        self.label = label
        self.start = self.drawn = time.perf_counter()

    def _draw(self, n, loss_value, elapsed, left):
        now = time.perf_counter()
        if now - self.drawn < 0.1 and n < self.max_iter:
            return  # redraw at most ten times a second
        self.drawn = now
        done = int(30 * min(n, self.max_iter) / self.max_iter)
        sys.stdout.write(f"\r{self.label}[{'#' * done}{'.' * (30 - done)}] iter {n:5d}  "
                         f"objective {loss_value:.6g}  elapsed {elapsed:.1f}s  at most "
                         f"{left:.1f}s left ")
        sys.stdout.flush()

    def on_iteration(self, run, loss_value):
        n = run.result.n_iter
        if self.bar:
            elapsed = time.perf_counter() - self.start
            self._draw(n, loss_value, elapsed, elapsed / n * max(0, self.max_iter - n))
        elif n % self.every == 0:
            elapsed = time.perf_counter() - self.start
            left = elapsed / n * max(0, self.max_iter - n)
            msg = f"{self.label}iter {n:5d}  objective {loss_value:.6g}"
            if run.result.validation_scores:
                msg += f"  validation {run.result.validation_scores[-1]:.4f}"
            print(f"{msg}  elapsed {elapsed:.1f}s  at most {left:.1f}s left", flush=True)
        return False

    def on_end(self, run):
        result = run.result
        if self.bar:
            sys.stdout.write("\n")
        print(f"{self.label}stopped after {result.n_iter} iterations ({result.stop_reason}) in "
              f"{time.perf_counter() - self.start:.1f}s", flush=True)


class UserCallback(Callback):
    """``fn(n_iter, module)`` after every iteration, in eval mode without
    gradients; returning True stops training (``stop_reason='callback'``)."""

    reads_module = True

    def __init__(self, fn):
        self.fn = fn

    def on_iteration(self, run, loss_value):
        run.module.eval()
        with torch.no_grad():
            stop = bool(self.fn(run.result.n_iter, run.module))
        run.module.train()
        if stop and run.result.stop_reason != "converged":
            run.result.stop_reason = "callback"
        return stop


# ---- solvers: each yields the objective after every sane iteration ------------------
def _data_loss(loss_fn, output, Y, W):
    """``loss_fn(output, Y)``, or with sample weights ``loss_fn(output, Y, W)``."""
    return loss_fn(output, Y) if W is None else loss_fn(output, Y, W)


#: Rows the end point of a mini-batch phase is read on, at most (evenly spaced).
END_CHECK_ROWS = 4096


def _end_is_sane(run, X, Y, W, loss_fn, penalty):
    """Read the objective at a mini-batch phase's end point and keep it if sane.

    An epoch's end point is held until the next epoch's first batch reads its loss;
    at the end of training no batch comes, so a last step that exploded was kept
    unchecked (one SGD epoch at a learning rate of 1e3 predicted 1e9 for targets
    within 3, without a warning; ``partial_fit``'s next call then took it as its
    start). Read, as that first batch would read it, on a sample of the rows: the
    guard asks for a finite loss within ``EXPLOSION`` times the first, which a
    sample tells as well as every row, and a forward pass over all of them cost a
    review's ``partial_fit`` on 100,000 rows of width 512 600 MB and half its time."""
    step = -(-X.shape[0] // END_CHECK_ROWS)
    rows = slice(None, None, step)
    with torch.no_grad():
        data = _data_loss(loss_fn, run.module(X[rows]), Y[rows],
                          None if W is None else W[rows])
    return run.guard.settle(float(data) + penalty)


def _present(X, Y, W):
    """The rows of positive weight: a row of weight 0 is a row absent (weights
    count as repeats); kept, it could fill a whole batch, whose weighted mean loss
    is then 0/0."""
    if W is not None and not bool((W > 0).all()):
        keep = W > 0
        X, Y, W = X[keep], Y[keep], W[keep]
    return X, Y, W


class _Minibatch:
    """Adam or SGD (Nesterov momentum) on shuffled mini-batches, one epoch a step."""

    def __init__(self, run, X, Y, W, loss_fn, alpha, groups, settings, solver, generator):
        X, Y, W = _present(X, Y, W)
        n = X.shape[0]
        bs = settings.batch_size
        self.run, self.X, self.Y, self.W, self.loss_fn = run, X, Y, W, loss_fn
        self.batch_size = n if bs is None else max(1, min(bs, n))
        self.generator = generator
        self.alpha, self.groups = alpha, groups
        # coupled L2: the optimizer adds weight_decay * p to the gradient inside
        # its (fused where available) kernel, so the penalty costs no autograd work
        self.optimizer = NetworkOptimizer(solver, decay_groups(run.params, groups, alpha),
                                          settings.learning_rate_init, settings.momentum)
        self.weights = entry_weights(run.params, groups, alpha)

    def _penalty(self, flat):
        """The penalty at ``flat``, the module's parameters gathered."""
        return (torch.dot(flat * self.weights, flat) if self.weights is not None
                else penalty_value(self.groups, self.alpha).to(flat.device))

    def iterations(self, max_iter):
        guard, n = self.run.guard, self.X.shape[0]
        # the first batch's loss is a data term alone; the start's objective, the
        # first a guard sees and its explosion limit, has the penalty too (a large
        # alpha: 4.4 against 1.2e7, whose first epoch then read as an explosion)
        start_penalty = float(self._penalty(guard.stage()))
        guard.hold_staged()
        for _ in range(max_iter):
            total, first, worst = self._epoch()
            # one host sync per epoch reads the loss at the epoch's starting point
            # (kept if sane), the largest batch loss, the penalty and the end
            # point's parameter sum (non-finite after a non-finite gradient)
            end = guard.stage()
            first, worst, total, penalty, params_sum = torch.stack(
                [first, worst, total, self._penalty(end).to(total.dtype),
                 end.sum()]).tolist()
            if not guard.settle(first + start_penalty):
                raise _Diverged
            start_penalty = penalty
            guard.hold_staged()
            loss_value = total / n + penalty
            if not (guard.sane(worst) and guard.sane(loss_value)
                    and math.isfinite(params_sum)):
                raise _Diverged
            yield loss_value

    def end_is_sane(self):
        """:func:`_end_is_sane` at the parameters the last epoch ended on."""
        penalty = float(self._penalty(self.run.guard.held))
        return _end_is_sane(self.run, self.X, self.Y, self.W, self.loss_fn, penalty)

    def _epoch(self):
        """One pass over mini-batches: the sum of size x batch loss, the first batch's
        loss (at the held parameters) and the largest batch loss, as tensors."""
        X, Y, W, bs, n = self.X, self.Y, self.W, self.batch_size, self.X.shape[0]
        if bs < n:
            # one gather per epoch, then contiguous slices (views, no copies)
            perm = torch.randperm(n, generator=self.generator, device="cpu").to(X.device)
            X, Y, W = X[perm], Y[perm], (None if W is None else W[perm])
        total = torch.zeros((), dtype=X.dtype, device=X.device)
        first = worst = None
        for start in range(0, n, bs):
            xb, yb = X[start:start + bs], Y[start:start + bs]
            wb = None if W is None else W[start:start + bs]
            self.optimizer.zero_grad(set_to_none=True)
            loss = _data_loss(self.loss_fn, self.run.module(xb), yb, wb)
            loss.backward()
            self.optimizer.step()
            value = loss.detach()
            total += value * (xb.shape[0] if wb is None else wb.sum() / W.mean())
            if first is None:
                # the guard reads it if Ctrl-C comes before the epoch's end
                first = worst = self.run.guard.first = value
            else:
                worst = torch.maximum(worst, value)  # NaN propagates; no host sync
        return total, first, worst


# ---- phases: one solver over every network still training ----------------------------
@dataclass
class _Data:
    """What the networks train on: shared rows, or one copy per network."""

    X: torch.Tensor
    Y: torch.Tensor
    W: torch.Tensor
    loss_fn: object
    alphas: list
    groups: list
    per_network: bool = False

    def row(self, i):
        if not self.per_network:
            return self.X, self.Y, self.W
        return self.X[i], self.Y[i], None if self.W is None else self.W[i]


def _groups_for(module, base, groups):
    """``groups`` (named on ``base``'s tensors) on ``module``'s tensors, by position."""
    if module is base:
        return groups
    index = {id(p): i for i, p in enumerate(base.parameters())}
    own = list(module.parameters())
    return [([own[index[id(p)]] for p in tensors], c) for tensors, c in groups]


def _minibatch_phase(solver, runs, data, settings, max_iter, generators):
    """Adam or SGD: several live networks at once (:class:`_Epochs`), a single one
    on its own module (vmap's overhead would cost it)."""
    live = [i for i, run in enumerate(runs) if not run.finished]
    if len(live) > 1:
        _Epochs(runs, live, data, settings, solver, generators).train(max_iter)
        return
    base = runs[0].module
    for i, (run, generator) in enumerate(zip(runs, generators)):
        if run.finished:
            continue
        run.start_phase()
        groups = _groups_for(run.module, base, data.groups)
        epochs = _Minibatch(run, *data.row(i), data.loss_fn, data.alphas[i], groups,
                            settings, solver, generator)
        try:
            for loss_value in epochs.iterations(max_iter):
                if run.record(loss_value):
                    break
            if not epochs.end_is_sane():
                raise _Diverged
        except _Diverged:
            # a mini-batch phase before L-BFGS is its warm-up
            _diverged(run, warmup=settings.solver == "lbfgs")


class _Epochs:
    """Adam or SGD epochs of several networks at once, each as it would run alone.

    Each network keeps its own shuffling (its generator), rows, ``alpha``, optimizer
    state and stopping; their parameters are the rows of one flat tensor, and the
    networks that have a mini-batch of one size at a step take it in one vmapped
    pass (:meth:`skrank._stack.StackedObjective.batch_losses`) and one optimizer
    update (:mod:`skrank._rowopt`). The epoch's bookkeeping is :class:`_Minibatch`'s,
    per network, with one host sync per epoch for all of them.
    """

    def __init__(self, runs, live, data, settings, solver, generators):
        self.runs, self.live, self.generators = runs, list(live), generators
        self.objective = StackedObjective([r.module for r in runs], data.X, data.Y,
                                          data.W, data.loss_fn, data.alphas,
                                          data.groups, per_network=data.per_network)
        self.rows = [_present(*data.row(i)) for i in range(len(runs))]
        # shared rows (restarts): one copy of the data, gathered per step for all
        self.shared = not data.per_network
        self._indices = {}
        if self.rows[0][2] is not None:
            self.weight_means = torch.stack([W.mean() for _, _, W in self.rows])
        bs = settings.batch_size
        self.sizes = [len(X) if bs is None else max(1, min(bs, len(X)))
                      for X, _, _ in self.rows]
        self.x = self.objective.gather()
        self.decay = self.objective.decay()
        self.optimizer = RowOptimizer(solver, self.x, settings.learning_rate_init,
                                      settings.momentum)
        self.warmup = settings.solver == "lbfgs"
        start = self._penalties().tolist()
        self.start_penalty = {}
        for i in self.live:
            runs[i].start_phase()
            runs[i].guard.staged.copy_(self.x[i])
            runs[i].guard.hold_staged()
            self.start_penalty[i] = start[i]

    def _penalties(self):
        return (self.decay * self.x * self.x).sum(1)

    def train(self, max_iter):
        started = list(self.live)
        try:
            for _ in range(max_iter):
                if not self.live:
                    break
                self._bookkeep(*self._epoch())
        finally:
            # the end, or Ctrl-C (whose handler restores the last sane points)
            for i in self.live:
                self.objective.scatter(i, self.x[i])
        # each network's last end point, read on its own rows (fold rows differ)
        penalties = self._penalties().tolist()
        for i in started:
            run = self.runs[i]
            if run.result.stop_reason != "diverged" and not _end_is_sane(
                    run, *self.rows[i], self.objective.loss_fn, penalties[i]):
                _diverged(run, warmup=self.warmup)

    def _order(self, i):
        """Network ``i``'s row order this epoch, drawn from its own generator as its
        separate fit draws it; None for one batch of every row (no shuffling)."""
        n = len(self.rows[i][0])
        if self.sizes[i] >= n:
            return None
        return torch.randperm(n, generator=self.generators[i], device="cpu").to(
            self.x.device)

    def _index(self, members):
        key = tuple(members)
        if key not in self._indices:
            self._indices[key] = torch.tensor(members, device=self.x.device)
        return self._indices[key]

    def _epoch(self):
        """One epoch of every live network: its summed loss, first and largest
        batch loss, as tensors of shape (S,) (rows of other networks unused)."""
        orders = {i: self._order(i) for i in self.live}
        total = self.x.new_zeros(self.x.shape[0])
        first, worst = total.clone(), total.clone()
        steps = max(-(-len(self.rows[i][0]) // self.sizes[i]) for i in self.live)
        for j in range(steps):
            groups = collections.defaultdict(list)
            for i in self.live:
                n, bs = len(self.rows[i][0]), self.sizes[i]
                if j * bs < n:
                    groups[min(bs, n - j * bs)].append(i)
            for members in groups.values():
                index = self._index(members)
                values, weights = self._step(members, index, self._batch(members, orders, j))
                total.index_add_(0, index, values * weights)
                if j == 0:
                    first[index] = values
                    worst[index] = values
                    for k, i in enumerate(members):
                        self.runs[i].guard.first = values[k]
                else:
                    worst[index] = torch.maximum(worst[index], values)  # NaN stays
        return total, first, worst

    def _batch(self, members, orders, j):
        """Mini-batch ``j`` of each of ``members``: ``(X, Y, W, stacked)``, stacked
        (a leading axis per network) or, on shared rows taken whole, the rows as
        they are. Gathered per step, so that no network holds a shuffled copy of
        its data."""
        picks = [slice(j * self.sizes[i], (j + 1) * self.sizes[i]) if orders[i] is None
                 else orders[i][j * self.sizes[i]:(j + 1) * self.sizes[i]]
                 for i in members]
        if self.shared:
            X, Y, W = self.rows[members[0]]
            if orders[members[0]] is None:  # shared rows, every one in this batch
                return X, Y, W, False
            idx = torch.stack(picks)
            return X[idx], Y[idx], None if W is None else W[idx], True
        parts = [[None if a is None else a[pick] for a in self.rows[i]]
                 for i, pick in zip(members, picks)]
        X, Y = (torch.stack([p[k] for p in parts]) for k in (0, 1))
        W = None if parts[0][2] is None else torch.stack([p[2] for p in parts])
        return X, Y, W, True

    def _step(self, members, index, batch):
        """One mini-batch step of ``members``: their batch losses and the weights
        their epoch sums them with (rows, or weight sums over the mean weight)."""
        X, Y, W, stacked = batch
        full = len(members) == self.x.shape[0]
        # every network at once: the rows themselves, no gathered copy
        x = (self.x.detach() if full else self.x[index]).requires_grad_(True)
        with torch.enable_grad():
            losses = self.objective.batch_losses(x, X, Y, W, stacked=stacked)
            (grad,) = torch.autograd.grad(losses.sum(), x)
        with torch.no_grad():
            decay = self.decay if full else self.decay[index]
            grad.add_(2.0 * decay * x.detach())
            self.optimizer.step(self.x, grad, members)
        values = losses.detach()
        if W is None:
            return values, float(X.shape[-2])
        return values, W.sum(-1) / self.weight_means[index]

    def _bookkeep(self, total, first, worst):
        """Each live network's epoch as :meth:`_Minibatch.iterations` reads it:
        the held start kept if sane, the objective recorded, stops and divergences."""
        table = torch.stack([first, worst, total, self._penalties().to(total.dtype),
                             self.x.sum(1)]).tolist()
        for i in list(self.live):
            run, guard = self.runs[i], self.runs[i].guard
            f, w, t, penalty, params_sum = (row[i] for row in table)
            guard.staged.copy_(self.x[i])
            if guard.settle(f + self.start_penalty[i]):
                self.start_penalty[i] = penalty
                guard.hold_staged()
                value = t / len(self.rows[i][0]) + penalty
                if guard.sane(w) and guard.sane(value) and math.isfinite(params_sum):
                    if run.reads_module:
                        self.objective.scatter(i, self.x[i])
                    if run.record(value):
                        self.objective.scatter(i, self.x[i])
                        self.live.remove(i)
                    continue
            self.live.remove(i)
            _diverged(run, warmup=self.warmup)


SOLVERS = {
    "lbfgs": lambda runs, data, settings, max_iter, generators: _lbfgs_phase(
        runs, data, max_iter),
    "adam": partial(_minibatch_phase, "adam"),
    "sgd": partial(_minibatch_phase, "sgd"),
}



# ---- the loop -----------------------------------------------------------------------
class _Run:
    """One network's training: module, parameters, guard, callbacks and result."""

    def __init__(self, module, callbacks, trained=False):
        self.module = module
        #: the network starts from trained parameters (see ``train_many``)
        self.trained = trained
        self.params = [p for p in module.parameters() if p.requires_grad]
        self.guard = _Guard(self.params)
        self.callbacks = callbacks
        self.reads_module = any(cb.reads_module for cb in callbacks)
        self.result = TrainingResult()
        #: which of the networks trained at once this is, and how many (its
        #: divergence is told as "network 2 of 8")
        self.index, self.of = 0, 1
        #: (iteration, advice) where training diverged: told once per batch
        self.diverged_at = None

    @property
    def finished(self):
        """Stopped for good (a converged or capped warm-up hands over to L-BFGS)."""
        return self.result.stop_reason in ("diverged", "callback", "interrupted")

    def start_phase(self):
        self.result.stop_reason = "max_iter"
        for cb in self.callbacks:
            cb.on_phase(self)

    def record(self, loss_value):
        """Bookkeeping after one sane iteration; True to stop."""
        self.result.n_iter += 1
        self.result.loss_curve.append(loss_value)
        # every callback sees every iteration, even after one asked to stop
        stops = [cb.on_iteration(self, loss_value) for cb in self.callbacks]
        return any(stops)

    def keep(self):
        """The module's current parameters become the ones a restore returns to."""
        self.guard.stage()
        self.guard.keep_staged()


def _lbfgs_phase(runs, data, max_iter):
    """Full-batch L-BFGS (strong Wolfe) on every live network at once.

    Each network keeps its own curvature pairs, line search and stopping; one
    objective evaluation serves all of them (:mod:`skrank._stack`). The module of
    each network holds its latest sane iterate at the end, and after every
    iteration when a callback reads it (``Callback.reads_module``).
    """
    objective = StackedObjective([r.module for r in runs], data.X, data.Y, data.W,
                                 data.loss_fn, data.alphas, data.groups,
                                 per_network=data.per_network)
    state = _LBFGSState(runs, objective)
    try:
        for _ in range(max_iter):
            if not any(state.active):
                break
            state.step()
    finally:
        # Ctrl-C or the end: every module holds its last sane iterate
        for i, run in enumerate(runs):
            objective.scatter(i, state.good[i])
            run.keep()


class _LBFGSState:
    """The per-network bookkeeping of the batched L-BFGS phase."""

    def __init__(self, runs, objective):
        self.runs, self.objective = runs, objective
        self.x = objective.gather()
        self.f, self.g = objective(self.x)
        self.good = self.x.clone()
        self.prev = self.f.tolist()
        self.stalls = [0] * len(runs)
        # a step accepted before (an Adam warm-up) or trained parameters: a phase
        # that cannot lower the objective from there found a stationary point
        self.moved = [run.trained or run.result.n_iter > 0 for run in runs]
        self.active = []
        self._parts = {}
        self.optimizer = BatchedLBFGS(history_size=20, max_ls=25, tolerance_grad=1e-9,
                                      tolerance_change=1e-12)
        for i, run in enumerate(runs):
            live = not run.finished
            if live:
                run.start_phase()
            if live and not (run.guard.sane(self.prev[i])
                             and math.isfinite(float(self.g[i].sum()))):
                _diverged(run, lbfgs=True)
                live = False
            self.active.append(live)

    def _fun(self, x):
        """The objectives at the optimizer's trial points, a trial that overflows
        read as a very high cost: the line search then backtracks, as from any
        point without decrease, instead of the fit being stopped for a step length
        it was only trying (a network is declared diverged by the checks on the
        points it accepts, in ``_after``)."""
        f, g = self._evaluate(x)
        bad = ~(torch.isfinite(f) & torch.isfinite(g).all(dim=1))
        if bool(bad.any()):
            high = (self.f.abs() + 1.0) * 1e6
            f = torch.where(bad & torch.isfinite(self.f), high.to(f.dtype), f)
            g = torch.where(bad[:, None], torch.zeros_like(g), g)
        return f, g

    def _evaluate(self, x):
        """All networks' objectives, computed only for the rows the optimizer moved:
        a network that stopped, or whose line search has ended this round, keeps
        its last values (the optimizer reads nothing else from those rows)."""
        moved = (x != self.x).any(dim=1).tolist()
        rows = [i for i, m in enumerate(moved) if m]
        if len(rows) == len(moved):
            return self.objective(x)
        f, g = self.f.clone(), self.g.clone()
        if not rows:
            return f, g
        key = tuple(rows)
        if key not in self._parts:
            self._parts = {key: self.objective.subset(rows)}
        index = torch.tensor(rows, device=x.device)
        f_part, g_part = self._parts[key](x[index])
        f[index], g[index] = f_part.to(f.dtype), g_part
        return f, g

    def step(self):
        step = self.optimizer.step(self.x, self._fun, self.f, self.g,
                                   active=self.active)
        self.x, self.f, self.g = step.x, step.f, step.g
        values = self.f.tolist()
        resets = [False] * len(self.runs)
        for i, status in enumerate(step.status):
            if self.active[i]:
                resets[i] = self._after(i, status, values[i])
        self.optimizer.reset(resets)

    def _after(self, i, status, value):
        """Network ``i``'s outcome of one iteration; True to reset its memory."""
        run = self.runs[i]
        if status == "nonfinite" or (status == "ok" and not run.guard.sane(value)):
            self.objective.scatter(i, self.good[i])
            run.keep()
            _diverged(run, lbfgs=True)
            self.active[i] = False
            return False
        if status == "converged":
            run.result.stop_reason = "converged"
            self.active[i] = False
            if run.result.n_iter == 0:
                # converged where it started (the zero network of constant
                # targets): its objective is the fit's, and early stopping's
                # score of it the best (an empty record read as never trained)
                if run.reads_module:
                    self.objective.scatter(i, self.x[i])
                run.record(value)
            return False
        if status != "ok" or value >= self.prev[i]:
            # No decrease along the quasi-Newton direction (ReLU kinks and float32
            # rounding corrupt the curvature pairs): restart from steepest descent;
            # two restarts without progress mean a stationary point, unless no
            # step was ever accepted: a start L-BFGS cannot leave (an objective
            # too large for the dtype's precision to resolve a decrease) is not one.
            self.stalls[i] += 1
            if self.stalls[i] >= 2:
                run.result.stop_reason = "converged" if self.moved[i] else "stalled"
                self.active[i] = False
                if self.moved[i] and run.result.n_iter == 0:
                    # a warm refit already at its minimum: its objective is the
                    # fit's (the record was empty, the restart's objective inf)
                    self.objective.scatter(i, self.good[i])
                    run.record(self.prev[i])
            return True
        self.prev[i], self.stalls[i], self.moved[i] = value, 0, True
        self.good[i] = self.x[i]
        if run.reads_module:
            self.objective.scatter(i, self.x[i])
        if run.record(value):
            self.active[i] = False
        return False


def _phases(settings):
    """(solver, iterations): the Adam warm-up before L-BFGS, when asked for.

    ``max_iter`` caps the warm-up's epochs too: an epoch runs over every training
    row (an autoencoder's noisy copies included), so a small ``max_iter`` must
    bound the whole fit, not only its L-BFGS part.
    """
    if settings.solver == "lbfgs" and settings.warmup_iter:
        return [("adam", min(settings.warmup_iter, settings.max_iter)),
                ("lbfgs", settings.max_iter)]
    return [(settings.solver, settings.max_iter)]


def train(module, X, Y, *, loss_fn, alpha, penalty_groups, settings, validation=None,
          generator=None, verbose=0, callback=None, sample_weight=None):
    """Minimize ``loss_fn(module(X), Y) + alpha * penalty``; return a :class:`TrainingResult`.

    ``sample_weight`` (a tensor of one weight per row, or None) is handed to
    ``loss_fn(output, target, weight)``, which averages with it.
    ``validation=(X_val, Y_val, score_fn[, W_val])``, ``score_fn(output, target[,
    weight])`` higher is better: stopping follows the validation score and the best
    parameters are restored. ``callback(n_iter, module)`` runs after every iteration and may
    return True to stop. A ``KeyboardInterrupt`` returns normally with
    ``stop_reason='interrupted'``; see :meth:`TrainingResult.raise_if_interrupted`.
    """
    return train_many([module], X, Y, loss_fn=loss_fn, alphas=[alpha],
                      penalty_groups=penalty_groups, settings=settings,
                      validations=[validation], generators=[generator], verbose=verbose,
                      callbacks=[callback], sample_weight=sample_weight)[0]


def train_many(modules, X, Y, *, loss_fn, alphas, penalty_groups, settings,
               validations=None, generators=None, verbose=0, callbacks=None,
               sample_weight=None, per_network=False, warn_capped=True, label="",
               trained=False, numbering=None, told=None):
    """Train S networks of one architecture together; one result per network.

    Each network follows the path it would follow alone (:func:`train` with its
    own ``alpha``, generator, validation and callback), up to floating-point
    rounding: L-BFGS runs batched (one evaluation for all), each network with its
    own curvature pairs, line search and stopping; Adam and SGD epochs too (one
    vmapped step for the networks whose mini-batches have one size, each network
    with its own shuffling, moments and stopping). ``penalty_groups`` name the
    first network's tensors.
    With ``per_network``, ``X``, ``Y`` and ``sample_weight`` carry a leading axis
    of size S (cross-validation folds: each its own weights and scaling).
    ``warn_capped=False`` silences the ConvergenceWarning of networks stopped at
    ``max_iter`` (a stage that only prepares a start); ``label`` prefixes the
    progress lines of ``verbose``. ``trained`` (one bool, or one per network): the
    networks start from trained parameters (a warm start, a grown network whose
    shallow stage moved), so an L-BFGS phase that cannot
    lower their objective ends 'converged'; from a fresh start it ends 'stalled'
    (an objective too large for the dtype's precision), with a ConvergenceWarning.
    ``numbering=(first, total)``: these networks are numbers ``first`` on of
    ``total`` trained at once in groups (the divergence warning's numbers), whose
    divergences ``told`` collects (see :func:`warn_if_diverged`).
    """
    n = len(modules)
    validations = validations or [None] * n
    generators = generators or [None] * n
    callbacks = callbacks or [None] * n
    trained = [trained] * n if isinstance(trained, bool) else list(trained)
    first, total = numbering or (0, n)
    runs = [_Run(m, _callbacks(m, settings, v, verbose, c,
                               label + (f"[{first + i}] " if total > 1 else "")), t)
            for i, (m, v, c, t) in enumerate(zip(modules, validations, callbacks, trained))]
    for i, run in enumerate(runs):
        run.index, run.of = first + i, total
    data = _Data(X, Y, sample_weight, loss_fn, list(alphas), penalty_groups, per_network)
    start = time.perf_counter()
    for m in modules:
        m.train()
    _run_phases(runs, data, settings, generators, told)
    elapsed = time.perf_counter() - start
    results = [_finish(run, elapsed) for run in runs]
    if warn_capped:
        warn_if_capped(results, settings)
    return results


def _run_phases(runs, data, settings, generators, told=None):
    """``train_many``'s solvers in turn (an Adam warm-up, then L-BFGS), each over
    every network still training; Ctrl-C stops them all at their last sane
    parameters (``'interrupted'``: the caller re-raises it)."""
    phases, k = _phases(settings), 0
    try:
        for k, (name, max_iter) in enumerate(phases):
            try:
                SOLVERS[name](runs, data, settings, max_iter, generators)
            except BaseException:
                # a divergence before the error is still news, but a warning an
                # "error" filter raises must not replace the error (nor Ctrl-C,
                # whose handler below restores the networks)
                with contextlib.suppress(Warning):
                    warn_if_diverged(runs, told)
                raise
            # each phase's divergences, with its solver's advice (a warm-up's
            # would be overwritten by an L-BFGS divergence of the same network)
            warn_if_diverged(runs, told)
            if k < len(phases) - 1:
                for run in runs:
                    run.result.n_warmup = run.result.n_iter
                    if run.result.stop_reason == "diverged":
                        # a diverged warm-up left its last sane parameters:
                        # L-BFGS, the solver asked for, starts from them
                        run.result.stop_reason = "max_iter"
    except KeyboardInterrupt as exc:
        in_warmup = k < len(phases) - 1
        if in_warmup:
            # Ctrl-C in the warm-up: its epochs are no iterations (n_iter_ 0)
            for run in runs:
                run.result.n_warmup = run.result.n_iter
        _interrupted(runs, exc, in_warmup)


def warn_if_capped(results, settings):
    """One ConvergenceWarning for the networks of a batch stopped at ``max_iter``,
    one for those L-BFGS could not move from their start ('stalled')."""
    capped, n = sum(r.stop_reason == "max_iter" for r in results), len(results)
    if capped:
        who = "" if n == 1 else f" by {capped} of {n} networks"
        warn_user(f"Maximum iterations ({settings.max_iter}) reached{who} and the "
                  f"optimization hasn't converged yet.{settings.capped_hint}",
                  ConvergenceWarning)
    stalled = sum(r.stop_reason == "stalled" for r in results)
    if stalled:
        who = "" if n == 1 else f" ({stalled} of {n} networks)"
        warn_user(f"L-BFGS could not decrease the objective from its starting point{who}: "
                  "no step along its direction lowered it, so the parameters were left "
                  "where training started. An objective too large for the dtype's "
                  "precision does this (data far from unit scale with normalize=False): "
                  "keep normalize=True, or use dtype='float64' or solver='adam'.",
                  ConvergenceWarning)


def _finish(run, elapsed):
    for cb in run.callbacks:
        cb.on_end(run)
    run.module.eval()
    run.result.train_time = elapsed
    return run.result


def _callbacks(module, settings, validation, verbose, callback, label=""):
    params = [p for p in module.parameters() if p.requires_grad]
    # (X_val, Y_val, score_fn) or, with sample weights, (X_val, Y_val, score_fn, W_val)
    out = [] if validation is None else [Validation(
        *validation[:3], params, *validation[3:4], window=settings.n_iter_no_change)]
    out.append(Plateau(settings.tol, settings.n_iter_no_change,
                       smooth=validation is not None))
    if callback is not None:
        # a Callback of skrank's own (a stop signal) is used as it is
        out.append(callback if isinstance(callback, Callback) else UserCallback(callback))
    if verbose:
        out.append(Progress(verbose, sum(n for _, n in _phases(settings)), label))
    return out


def _diverged(run, warmup=False, lbfgs=False):
    """Restore the last sane parameters; :func:`warn_if_diverged` says so."""
    run.guard.restore()
    run.result.stop_reason = "diverged"
    if lbfgs:
        # no step size to lower: the objective itself overflowed
        then = (". Lower alpha, keep normalize=True for data of extreme scale, or "
                "use dtype='float64'")
    elif warmup:
        then = "; L-BFGS goes on from them. Lower learning_rate_init or warmup_iter"
    else:
        then = ". Lower learning_rate_init or use solver='lbfgs'"
    run.diverged_at = (run.result.n_iter + 1, then)


def warn_if_diverged(runs, told=None):
    """One DivergenceWarning for the networks of a batch that diverged since the
    last call (eight restarts diverging gave eight warnings), naming each one and
    its iteration. Called once per phase: one solver, one advice. ``told``: a list
    that collects them instead (networks trained in groups: :func:`tell_divergences`
    then tells them all at once)."""
    hit = [run for run in runs if run.diverged_at is not None]
    entries = [(run.index, *run.diverged_at, run.of, _depth_of(run)) for run in hit]
    for run in hit:
        run.diverged_at = None
    if told is not None:
        told.extend(entries)
    else:
        tell_divergences(entries)


def _depth_of(run):
    module = vars(run).get("module")
    return module.depth if isinstance(module, Network) else None


def tell_divergences(entries):
    """The DivergenceWarnings of ``entries``, ``(index, iteration, advice, of,
    depth)`` per network: one per advice (solver phase) and depth (a grown
    start's shallow stage and its full depth are other networks: merged, two
    restarts read "4 of 2 networks"), naming each network and the depth."""
    groups = {}
    for entry in sorted(entries, key=lambda e: (e[4] or 0, e[0], e[1])):
        groups.setdefault((entry[2], entry[4]), []).append(entry)
    cause = "(non-finite or exploding loss or parameters)"
    for (advice, depth), hit in groups.items():
        (index, iteration, _, n, _) = hit[0]
        where = "" if depth is None else f" at depth {depth}"
        if len(hit) > 1:
            what = (f"{where} {cause} in {len(hit)} of {n} networks trained at once: "
                    + ", ".join(f"network {i + 1} at iteration {it}"
                                for i, it, *_ in hit))
        elif n > 1:
            what = (f"{where} in network {index + 1} of {n} trained at once, at "
                    f"iteration {iteration} {cause}")
        else:
            what = f"{where}{',' if where else ''} at iteration {iteration} {cause}"
        warn_user(f"Training diverged{what}; the last parameters with a finite loss "
                  f"were restored{advice}.", DivergenceWarning)


def _interrupted(runs, exc, in_warmup=False):
    """Restore every network of the batch to its last sane parameters, and say so
    once (one Ctrl-C, one warning, whatever ``n_init``); ``in_warmup``: in the
    Adam warm-up, whose epochs ``n_iter_`` does not count."""
    for run in runs:
        run.guard.restore()
        run.result.stop_reason = "interrupted"
        run.result.interrupt = exc
    n_iter = max((run.result.n_iter for run in runs), default=0)
    depth = runs[0].module.depth if runs and isinstance(runs[0].module, Network) else None
    # a grown start's shallow stage is not counted in n_iter_: name the depth
    where = "" if depth is None else f" at depth {depth}"
    n = runs[0].of if runs else 0  # in groups: of all the networks trained at once
    many = f" (the longest of {n} networks)" if n > 1 else ""
    done = (f"{n_iter} warm-up epochs (no L-BFGS iteration yet)" if in_warmup else
            f"{n_iter} iterations")
    warn_user(
        f"Training interrupted after {done}{where}{many}; the model "
        "keeps the last parameters with a finite loss and is usable.",
        TrainingInterruptedWarning)


class Stepper:
    """Mini-batch epochs on data handed over one call at a time (``partial_fit``).

    The optimizer's state (Adam's moments, SGD's momentum) and the divergence guard
    carry over from call to call, as if the calls' data were consecutive epochs.
    """

    def __init__(self, module, *, loss_fn, alpha, penalty_groups, settings, generator):
        self.run = _Run(module, [])
        self.generator = generator  # the batches' shuffling stream
        self.args = (loss_fn, alpha, penalty_groups, settings, settings.solver, generator)
        self.epochs = None

    def set_objective(self, alpha, penalty_groups, settings):
        """Train on from here with this penalty and these settings (a changed
        ``alpha``, ``lam`` or learning rate), keeping the optimizer's state; another
        solver or momentum starts a fresh optimizer (its state would not carry)."""
        loss_fn, _, _, before, *_, generator = self.args
        self.args = (loss_fn, alpha, penalty_groups, settings, settings.solver, generator)
        epochs = self.epochs
        def optimizer(st):  # momentum only matters to SGD
            return st.solver, (st.momentum if st.solver == "sgd" else None)

        if epochs is not None and optimizer(settings) != optimizer(before):
            self.epochs = None  # the next epoch builds the optimizer asked for
            return
        if epochs is None:
            return
        epochs.alpha, epochs.groups = alpha, penalty_groups
        epochs.weights = entry_weights(self.run.params, penalty_groups, alpha)
        for group, new in zip(epochs.optimizer.param_groups,
                              decay_groups(self.run.params, penalty_groups, alpha)):
            group["weight_decay"] = new["weight_decay"]
            group["lr"] = settings.learning_rate_init

    def epoch(self, X, Y, W=None):
        """One epoch over ``(X, Y)``; returns its objective (NaN after divergence)."""
        run = self.run
        # each call's rows set their own explosion limit: the first call's held on
        # and flagged as diverged every call on rows of a wider range, which then
        # never trained
        run.guard.limit = math.inf
        if self.epochs is None:
            self.epochs = _Minibatch(run, X, Y, W, *self.args)
        else:
            bs = self.args[3].batch_size
            X, Y, W = _present(X, Y, W)
            self.epochs.X, self.epochs.Y, self.epochs.W = X, Y, W
            self.epochs.batch_size = len(X) if bs is None else max(1, min(bs, len(X)))
        run.module.train()
        run.result.stop_reason = "max_iter"
        try:
            value = next(self.epochs.iterations(1))
            if not self.epochs.end_is_sane():
                raise _Diverged
            run.result.n_iter += 1
            run.result.loss_curve.append(value)
        except _Diverged:
            _diverged(run)
            warn_if_diverged([run])
            # the moments (momentum, Adam's averages) hold the non-finite steps:
            # kept, every later call would diverge at once; the next call builds
            # a fresh optimizer
            self.epochs = None
            value = math.nan
        finally:
            run.module.eval()
        return value
