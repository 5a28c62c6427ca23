"""The one training loop behind every skrank estimator.

The engine receives a torch module, tensors already on the device, a data loss and the
module's penalty groups, and minimizes::

    loss(f(X), Y) + alpha * sum_g c_g * ||theta_g||^2

with full-batch L-BFGS (strong Wolfe line search), Adam or SGD with momentum. The
penalty never goes through autograd: its gradient ``2 alpha c_g theta_g`` is added to
the data-loss gradient (inside the optimizer kernel for Adam/SGD, where torch fuses
it as coupled weight decay, and with one ``_foreach_add_`` for L-BFGS).

Training that produces a non-finite loss stops, restores the last parameters whose
loss was finite and warns; a ``KeyboardInterrupt`` does the same. With a validation
set, the parameters with the best validation score are restored at the end.
"""

import math
import time
import warnings
from dataclasses import dataclass, field

import torch
from sklearn.exceptions import ConvergenceWarning

__all__ = ["TrainingResult", "train", "DivergenceWarning", "TrainingInterruptedWarning"]


class DivergenceWarning(RuntimeWarning):
    """Training produced a non-finite loss; the last finite parameters were kept."""


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


class _Snapshot:
    """A preallocated copy of the parameters, refreshed without new allocations."""

    def __init__(self, params):
        self.params = params
        self.copy = [p.detach().clone() for p in params]

    def save(self):
        with torch.no_grad():
            torch._foreach_copy_(self.copy, [p.detach() for p in self.params])

    def restore(self):
        with torch.no_grad():
            torch._foreach_copy_([p.data for p in self.params], self.copy)


def _penalty_value(groups, alpha):
    if alpha == 0:
        return 0.0
    total = 0.0
    with torch.no_grad():
        for params, coef in groups:
            if coef == 0 or not params:
                continue
            norms = torch._foreach_norm([p.detach() for p in params])
            total += coef * float(torch.stack(norms).square().sum())
    return alpha * total


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


def train(
    module,
    X,
    Y,
    *,
    loss_fn,
    alpha,
    penalty_groups,
    solver="lbfgs",
    max_iter=200,
    batch_size=None,
    learning_rate_init=1e-3,
    momentum=0.9,
    tol=1e-6,
    n_iter_no_change=10,
    X_val=None,
    Y_val=None,
    score_fn=None,
    generator=None,
    verbose=0,
    callback=None,
    warmup_iter=0,
):
    """Minimize ``loss_fn(module(X), Y) + alpha * penalty``; return a :class:`TrainingResult`.

    ``score_fn(module, X_val, Y_val)`` returns a validation score (higher is better);
    when validation data are given, stopping follows the validation score and the
    best parameters are restored. ``callback(n_iter, module)`` runs after every
    iteration (in eval mode, without gradients) and may return True to stop.
    ``warmup_iter`` Adam epochs on mini-batches run before L-BFGS: their gradient
    noise carries the parameters out of the flat regions where full-batch L-BFGS
    stalls (measured on autoencoders).
    """
    params = [p for p in module.parameters() if p.requires_grad]
    good = _Snapshot(params)
    good.save()
    best = _Snapshot(params) if X_val is not None else None
    result = TrainingResult()
    state = {"best_val": -math.inf}
    should_stop = _stopping(tol, n_iter_no_change)
    start = time.perf_counter()

    def end_of_iteration(loss_value):
        """Bookkeeping after one epoch / iteration; returns True to stop."""
        if not math.isfinite(loss_value):
            good.restore()
            warnings.warn(
                f"Training diverged at iteration {result.n_iter + 1} (non-finite loss);"
                " the last parameters with a finite loss were restored. Lower "
                "learning_rate_init or use solver='lbfgs'.",
                DivergenceWarning,
                stacklevel=3,
            )
            result.stop_reason = "diverged"
            return True
        good.save()
        result.n_iter += 1
        result.loss_curve.append(loss_value)
        if X_val is not None:
            module.eval()
            with torch.no_grad():
                score = float(score_fn(module, X_val, Y_val))
            module.train()
            result.validation_scores.append(score)
            if score > state["best_val"]:
                state["best_val"] = score
                best.save()
            stop = should_stop(-score)
        else:
            stop = should_stop(loss_value)
        if verbose and (result.n_iter % max(1, verbose_every) == 0 or stop):
            msg = f"iter {result.n_iter:5d}  objective {loss_value:.6g}"
            if result.validation_scores:
                msg += f"  validation {result.validation_scores[-1]:.4f}"
            print(msg, flush=True)
        if stop:
            result.stop_reason = "converged"
        if callback is not None:
            with torch.no_grad():
                if callback(result.n_iter, module) and not stop:
                    result.stop_reason = "callback"
                    stop = True
        return stop

    verbose_every = 1 if verbose > 1 else max(1, max_iter // 20)
    module.train()
    try:
        if solver == "lbfgs" and warmup_iter:
            _run_minibatch(module, params, X, Y, loss_fn, alpha, penalty_groups, "adam",
                           warmup_iter, batch_size, learning_rate_init, momentum,
                           generator, end_of_iteration, result)
            if result.stop_reason in ("diverged", "callback"):
                raise _Stop
            should_stop = _stopping(tol, n_iter_no_change)
            result.stop_reason = "max_iter"
        if solver == "lbfgs":
            _run_lbfgs(module, params, X, Y, loss_fn, alpha, penalty_groups, max_iter,
                       end_of_iteration, result)
        else:
            _run_minibatch(module, params, X, Y, loss_fn, alpha, penalty_groups, solver,
                           max_iter, batch_size, learning_rate_init, momentum,
                           generator, end_of_iteration, result)
    except _Stop:
        pass
    except KeyboardInterrupt:
        good.restore()
        result.stop_reason = "interrupted"
        warnings.warn(
            f"Training interrupted after {result.n_iter} iterations; the model keeps "
            "the last parameters with a finite loss and is usable.",
            TrainingInterruptedWarning,
            stacklevel=2,
        )
    if best is not None and result.validation_scores and result.stop_reason != "diverged":
        best.restore()
        result.best_validation_score = state["best_val"]
    module.eval()
    result.train_time = time.perf_counter() - start
    if result.stop_reason == "max_iter":
        warnings.warn(
            f"Maximum iterations ({max_iter}) reached and the optimization hasn't "
            "converged yet.",
            ConvergenceWarning,
            stacklevel=2,
        )
    return result


def _run_lbfgs(module, params, X, Y, loss_fn, alpha, groups, max_iter,
               end_of_iteration, result):
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
    coefs = [(p_list, 2.0 * alpha * c) for p_list, c in groups if c and alpha and p_list]
    cache = {"x": None, "loss": None, "grads": None}

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
        for p_list, c2 in coefs:
            torch._foreach_add_([p.grad for p in p_list], [p.detach() for p in p_list],
                                alpha=c2)
            norms = torch._foreach_norm([p.detach() for p in p_list])
            total = total + 0.5 * c2 * torch.stack(norms).square().sum()
        cache["x"] = x
        cache["loss"] = total
        cache["grads"] = [p.grad.detach().clone() for p in params]
        return total

    prev, stalls = math.inf, 0
    for _ in range(max_iter):
        optimizer.step(closure)
        loss_value = float(closure())
        if not math.isfinite(loss_value):
            end_of_iteration(loss_value)  # restores the last finite parameters, warns
            return
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
                result.stop_reason = "converged"
                return
            continue
        prev = loss_value
        if end_of_iteration(loss_value):
            return


def _run_minibatch(module, params, X, Y, loss_fn, alpha, groups, solver, max_iter,
                   batch_size, lr, momentum, generator, end_of_iteration, result):
    n = X.shape[0]
    batch_size = n if batch_size is None else max(1, min(batch_size, n))
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
    fused = X.device.type in ("cuda", "cpu")
    if solver == "adam":
        optimizer = _make(torch.optim.Adam, param_groups, fused, lr=lr)
    else:
        optimizer = _make(torch.optim.SGD, param_groups, fused, lr=lr, momentum=momentum,
                          nesterov=momentum > 0)
    full_batch = batch_size >= n
    for _ in range(max_iter):
        epoch_loss = torch.zeros((), dtype=X.dtype, device=X.device)
        if full_batch:
            Xs, Ys = X, Y
        else:
            # one gather per epoch, then contiguous slices (views, no copies)
            perm = torch.randperm(n, generator=generator, device="cpu").to(X.device)
            Xs, Ys = X[perm], Y[perm]
        for start in range(0, n, batch_size):
            xb, yb = Xs[start:start + batch_size], Ys[start:start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(module(xb), yb)
            loss.backward()
            optimizer.step()
            epoch_loss += loss.detach() * xb.shape[0]
        loss_value = float(epoch_loss) / n + _penalty_value(groups, alpha)
        if end_of_iteration(loss_value):
            return


def _make(cls, groups, fused, **kwargs):
    if fused:
        try:
            return cls(groups, fused=True, **kwargs)
        except (RuntimeError, ValueError, TypeError):
            pass
    return cls(groups, **kwargs)
