"""The one training loop behind every skrank estimator.

The engine receives a torch module, tensors already on the device, a data loss and the
module's penalty groups, and minimizes::

    loss(f(X), Y) + alpha * sum_g c_g * ||theta_g||^2

with full-batch L-BFGS (strong Wolfe line search), Adam or SGD with momentum. The
penalty never goes through autograd: its gradient ``2 alpha c_g theta_g`` is added to
the data-loss gradient (inside the optimizer kernel for Adam/SGD, where torch fuses
it as coupled weight decay, and with one in-place add per tensor for L-BFGS).

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

With a validation set, the parameters with the best validation score are restored at
the end.
"""

import math
import time
import warnings
from dataclasses import dataclass, field

import torch
from sklearn.exceptions import ConvergenceWarning

__all__ = ["TrainingResult", "train", "DivergenceWarning", "TrainingInterruptedWarning"]

#: An objective this many times its first value has diverged, even while floats (in
#: float64, up to 1e308) still hold it: no penalized fit grows its loss thirty orders
#: of magnitude on the way to a minimum, and the parameters behind such a loss make
#: predictions and diagnostics overflow.
EXPLOSION = 1e30


class DivergenceWarning(RuntimeWarning):
    """Training diverged; the last parameters with a sane loss were kept."""


class TrainingInterruptedWarning(RuntimeWarning):
    """Training was interrupted by the user; the last good parameters were kept."""


class _Stop(Exception):
    """Ends training from inside a phase."""


@dataclass
class TrainingResult:
    loss_curve: list = field(default_factory=list)
    validation_scores: list = field(default_factory=list)
    n_iter: int = 0
    stop_reason: str = "max_iter"
    best_validation_score: float = None
    train_time: float = 0.0
    interrupt: BaseException = field(default=None, repr=False, compare=False)

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
        """Finite and not exploded; the first positive loss sets the explosion limit."""
        if not math.isfinite(loss_value) or loss_value > self.limit:
            return False
        if self.limit == math.inf and loss_value > 0:
            self.limit = EXPLOSION * loss_value
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


def _squared_norm(params):
    """``sum ||p||^2`` as a tensor (one norm kernel per tensor, one sum)."""
    norms = [torch.linalg.vector_norm(p.detach()) for p in params]
    return torch.stack(norms).square().sum()


def _penalty_value(groups, alpha):
    if alpha == 0:
        return 0.0
    total = 0.0
    with torch.no_grad():
        for params, coef in groups:
            if coef == 0 or not params:
                continue
            total += coef * float(_squared_norm(params))
    return alpha * total


def _penalty_weights(params, groups, alpha):
    """``alpha * c_g`` for each entry of the flat parameters (see :class:`_Flat`): the
    penalty is then one dot product, not a norm kernel and a host sync per tensor.
    None without a penalty, or when a penalized tensor is not trained (not in the
    flat layout)."""
    if alpha == 0:
        return None
    index = {id(p): i for i, p in enumerate(params)}
    weights = [torch.zeros_like(p.detach()).reshape(-1) for p in params]
    for p_list, coef in groups:
        for p in p_list:
            if id(p) not in index:
                return None
            weights[index[id(p)]] += alpha * coef
    return torch.cat(weights)


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


class _Run:
    """What the solvers share: the result, the kept parameters, the stopping rule."""

    def __init__(self, module, params, *, max_iter, tol, n_iter_no_change, X_val, Y_val,
                 score_fn, verbose, callback):
        self.module = module
        self.guard = _Guard(params)
        self.best = _Snapshot(params) if X_val is not None else None
        self.best_val = -math.inf
        self.result = TrainingResult()
        self.tol, self.n_iter_no_change = tol, n_iter_no_change
        self.should_stop = _stopping(tol, n_iter_no_change)
        self.X_val, self.Y_val, self.score_fn = X_val, Y_val, score_fn
        self.verbose, self.callback = verbose, callback
        self.verbose_every = 1 if verbose > 1 else max(1, max_iter // 20)
        self.max_iter = max_iter

    def restart_stopping(self):
        """A new phase (L-BFGS after the warm-up) starts with a fresh stopping rule."""
        self.should_stop = _stopping(self.tol, self.n_iter_no_change)
        self.result.stop_reason = "max_iter"

    def end_of_iteration(self, loss_value):
        """Bookkeeping after one sane epoch / iteration; returns True to stop."""
        result = self.result
        result.n_iter += 1
        result.loss_curve.append(loss_value)
        if self.X_val is not None:
            stop = self.should_stop(-self._validate())
        else:
            stop = self.should_stop(loss_value)
        if self.verbose and (result.n_iter % self.verbose_every == 0 or stop):
            msg = f"iter {result.n_iter:5d}  objective {loss_value:.6g}"
            if result.validation_scores:
                msg += f"  validation {result.validation_scores[-1]:.4f}"
            print(msg, flush=True)
        if stop:
            result.stop_reason = "converged"
        if self.callback is not None:
            with torch.no_grad():
                if self.callback(result.n_iter, self.module) and not stop:
                    result.stop_reason = "callback"
                    stop = True
        return stop

    def _validate(self):
        self.module.eval()
        with torch.no_grad():
            score = float(self.score_fn(self.module, self.X_val, self.Y_val))
        self.module.train()
        self.result.validation_scores.append(score)
        if score > self.best_val:
            self.best_val = score
            self.best.save()
        return score

    def diverge(self):
        """Restore the last sane parameters and say so; ends the solver's loop."""
        self.guard.restore()
        self.result.stop_reason = "diverged"
        warnings.warn(
            f"Training diverged at iteration {self.result.n_iter + 1} (non-finite or "
            "exploding loss or parameters); the last parameters with a finite loss "
            "were restored. Lower learning_rate_init or use solver='lbfgs'.",
            DivergenceWarning,
            stacklevel=4,
        )
        return True

    def interrupted(self, exc):
        self.guard.restore()
        self.result.stop_reason = "interrupted"
        self.result.interrupt = exc
        warnings.warn(
            f"Training interrupted after {self.result.n_iter} iterations; the model keeps "
            "the last parameters with a finite loss and is usable.",
            TrainingInterruptedWarning,
            stacklevel=3,
        )

    def finish(self):
        result = self.result
        if self.best is not None and result.validation_scores \
                and result.stop_reason != "diverged":
            self.best.restore()
            result.best_validation_score = self.best_val
        self.module.eval()
        if result.stop_reason == "max_iter":
            warnings.warn(
                f"Maximum iterations ({self.max_iter}) reached and the optimization "
                "hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return result


def train(module, X, Y, *, loss_fn, alpha, penalty_groups, solver="lbfgs", max_iter=200,
          batch_size=None, learning_rate_init=1e-3, momentum=0.9, tol=1e-6,
          n_iter_no_change=10, X_val=None, Y_val=None, score_fn=None, generator=None,
          verbose=0, callback=None, warmup_iter=0):
    """Minimize ``loss_fn(module(X), Y) + alpha * penalty``; return a :class:`TrainingResult`.

    ``score_fn(module, X_val, Y_val)`` returns a validation score (higher is better);
    when validation data are given, stopping follows the validation score and the
    best parameters are restored. ``callback(n_iter, module)`` runs after every
    iteration (in eval mode, without gradients) and may return True to stop.
    ``warmup_iter`` Adam epochs on mini-batches run before L-BFGS: their gradient
    noise carries the parameters out of the flat regions where full-batch L-BFGS
    stalls (measured on autoencoders). A ``KeyboardInterrupt`` returns normally with
    ``stop_reason='interrupted'``; see :meth:`TrainingResult.raise_if_interrupted`.
    """
    params = [p for p in module.parameters() if p.requires_grad]
    run = _Run(module, params, max_iter=max_iter, tol=tol,
               n_iter_no_change=n_iter_no_change, X_val=X_val, Y_val=Y_val,
               score_fn=score_fn, verbose=verbose, callback=callback)
    start = time.perf_counter()
    module.train()
    minibatch = dict(batch_size=batch_size, lr=learning_rate_init, momentum=momentum,
                     generator=generator)
    try:
        if solver == "lbfgs" and warmup_iter:
            _run_minibatch(run, params, X, Y, loss_fn, alpha, penalty_groups, "adam",
                           warmup_iter, **minibatch)
            if run.result.stop_reason in ("diverged", "callback"):
                raise _Stop
            run.restart_stopping()
        if solver == "lbfgs":
            _run_lbfgs(run, params, X, Y, loss_fn, alpha, penalty_groups, max_iter)
        else:
            _run_minibatch(run, params, X, Y, loss_fn, alpha, penalty_groups, solver,
                           max_iter, **minibatch)
    except _Stop:
        pass
    except KeyboardInterrupt as exc:
        run.interrupted(exc)
    result = run.finish()
    result.train_time = time.perf_counter() - start
    return result


def _run_lbfgs(run, params, X, Y, loss_fn, alpha, groups, max_iter):
    # unit steps: the strong Wolfe line search chooses the length
    optimizer = torch.optim.LBFGS(
        params,
        lr=1.0,
        max_iter=1,
        # torch caps the line search at max_eval minus the evaluations already
        # spent in the step; one iteration per step needs an explicit budget
        max_eval=26,
        history_size=20,
        tolerance_grad=1e-9,
        tolerance_change=1e-12,
        line_search_fn="strong_wolfe",
    )
    cache = {"x": None}
    closure = _lbfgs_closure(run.module, params, X, Y, loss_fn, alpha, groups,
                             optimizer, cache)
    prev, stalls = math.inf, 0
    for _ in range(max_iter):
        optimizer.step(closure)
        # the objective at the parameters the step produced (cached, not recomputed),
        # read in one sync with the parameters' sum
        params_sum = run.guard.stage().sum()
        loss_value, params_sum = torch.stack([closure(), params_sum]).tolist()
        if not (run.guard.sane(loss_value) and math.isfinite(params_sum)):
            return run.diverge()
        if loss_value < prev:
            stalls = 0
        else:
            # The line search found no decrease along the quasi-Newton direction
            # (ReLU kinks and float32 rounding corrupt the curvature pairs); torch's
            # L-BFGS would then repeat that direction forever. Restart its memory
            # from steepest descent; two restarts in a row without progress mean
            # a stationary point.
            stalls += 1
            optimizer.state.clear()
            cache["x"] = None
            if stalls >= 2:
                run.result.stop_reason = "converged"
                return
            continue
        prev = loss_value
        run.guard.keep_staged()
        if run.end_of_iteration(loss_value):
            return


def _lbfgs_closure(module, params, X, Y, loss_fn, alpha, groups, optimizer, cache):
    coefs = [(p_list, 2.0 * alpha * c) for p_list, c in groups if c and alpha and p_list]

    def flat():
        return torch.cat([p.detach().reshape(-1) for p in params])

    def closure():
        # torch's L-BFGS re-evaluates at the start of each step the point its line
        # search just accepted; reuse that evaluation instead of paying for it twice.
        x = flat()
        if cache["x"] is not None and torch.equal(x, cache["x"]):
            for p, g in zip(params, cache["grads"]):
                p.grad = g.clone()
            return cache["loss"]
        optimizer.zero_grad(set_to_none=False)
        loss = loss_fn(module(X), Y)
        loss.backward()
        total = loss.detach()
        with torch.no_grad():
            for p_list, c2 in coefs:
                for p in p_list:
                    p.grad.add_(p, alpha=c2)
                total = total + 0.5 * c2 * _squared_norm(p_list)
        cache["x"] = x
        cache["loss"] = total
        cache["grads"] = [p.grad.detach().clone() for p in params]
        return total

    return closure


def _run_minibatch(run, params, X, Y, loss_fn, alpha, groups, solver, max_iter,
                   batch_size, lr, momentum, generator):
    n = X.shape[0]
    batch_size = n if batch_size is None else max(1, min(batch_size, n))
    optimizer = _minibatch_optimizer(params, groups, alpha, solver, lr, momentum,
                                     fused=X.device.type in ("cuda", "cpu"))
    guard = run.guard
    guard.stage()
    guard.hold_staged()
    weights = _penalty_weights(params, groups, alpha)
    for _ in range(max_iter):
        total, first, worst = _epoch(run.module, optimizer, loss_fn, X, Y, batch_size,
                                     generator, guard)
        # One host sync per epoch reads the loss at the epoch's starting point (kept
        # if sane), the largest batch loss, the penalty and the sum of the end point's
        # parameters (non-finite after a non-finite gradient); any of them going
        # wrong, or the epoch's objective, is divergence.
        end = guard.stage()
        penalty = torch.dot(end * weights, end) if weights is not None else 0 * total
        first, worst, total, penalty, params_sum = torch.stack(
            [first, worst, total, penalty, end.sum()]).tolist()
        if not guard.settle(first):
            return run.diverge()
        guard.hold_staged()
        if weights is None:
            penalty = _penalty_value(groups, alpha)
        loss_value = total / n + penalty
        if not (guard.sane(worst) and guard.sane(loss_value)
                and math.isfinite(params_sum)):
            return run.diverge()
        if run.end_of_iteration(loss_value):
            return


def _epoch(module, optimizer, loss_fn, X, Y, batch_size, generator, guard):
    """One pass over mini-batches: the sum of size x batch loss, the first batch's
    loss (at the held parameters) and the largest batch loss, as tensors."""
    n = X.shape[0]
    if batch_size >= n:
        Xs, Ys = X, Y
    else:
        # one gather per epoch, then contiguous slices (views, no copies)
        perm = torch.randperm(n, generator=generator, device="cpu").to(X.device)
        Xs, Ys = X[perm], Y[perm]
    total = torch.zeros((), dtype=X.dtype, device=X.device)
    first = worst = None
    for start in range(0, n, batch_size):
        xb, yb = Xs[start:start + batch_size], Ys[start:start + batch_size]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(module(xb), yb)
        loss.backward()
        optimizer.step()
        value = loss.detach()
        total += value * xb.shape[0]
        if first is None:
            # the guard reads it if Ctrl-C comes before the epoch's end
            first = worst = guard.first = value
        else:
            worst = torch.maximum(worst, value)  # NaN propagates; no host sync
    return total, first, worst


def _minibatch_optimizer(params, groups, alpha, solver, lr, momentum, fused):
    # Coupled L2: the optimizer adds weight_decay * p to the gradient inside its
    # (fused where available) kernel, so the penalty costs no autograd work.
    param_groups = []
    seen = set()
    for p_list, c in groups:
        param_groups.append({"params": list(p_list), "weight_decay": 2.0 * alpha * c})
        seen.update(id(p) for p in p_list)
    rest = [p for p in params if id(p) not in seen]
    if rest:
        param_groups.append({"params": rest, "weight_decay": 0.0})
    if solver == "adam":
        return _make(torch.optim.Adam, param_groups, fused, lr=lr)
    return _make(torch.optim.SGD, param_groups, fused, lr=lr, momentum=momentum,
                 nesterov=momentum > 0)


def _make(cls, groups, fused, **kwargs):
    if fused:
        try:
            return cls(groups, fused=True, **kwargs)
        except (RuntimeError, ValueError, TypeError):
            pass
    return cls(groups, **kwargs)
