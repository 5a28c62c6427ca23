"""torch's Adam and SGD updates, on one network's tensors or on the rows of ``x``.

The updates are torch's own, called through its functional API
(``torch.optim.adam.adam``, ``torch.optim.sgd.sgd``), fused where torch has the
kernel. One network steps as ``torch.optim.Adam(fused=True)`` or
``torch.optim.SGD(nesterov=True, fused=True)`` would, to the bit, without their
``Optimizer`` wrapper, which imports ``torch._dynamo`` on first use (1.5-2 s once per
process: the first autoencoder fit paid it for its Adam warm-up). Several networks
trained at once hold their flattened parameters as the rows of one tensor ``x`` of
shape (S, P); each row is one tensor of the update's lists, with its own moments and
step count, so that S networks take one fused step and each follows the path it
follows alone. Weight decay is coupled (added to the gradient), as the penalty's
gradient ``2 alpha c theta``.
"""

import torch
from torch.optim.adam import adam as _adam
from torch.optim.sgd import sgd as _sgd

__all__ = ["NetworkOptimizer", "RowOptimizer"]

#: torch's Adam defaults, which skrank's solver='adam' uses
BETAS, EPS = (0.9, 0.999), 1e-8


class _Update:
    """One solver's state per tensor (moments, step counts, momentum buffers),
    stepped through torch's functional API."""

    def __init__(self, solver, momentum):
        self.solver, self.momentum = solver, momentum
        self.fused = True  # until torch has no fused kernel for these tensors

    def new_state(self, tensor):
        if self.solver == "adam":
            step = torch.zeros((), dtype=torch.float32, device=tensor.device)
            return {"step": step, "exp_avg": torch.zeros_like(tensor),
                    "exp_avg_sq": torch.zeros_like(tensor)}
        return {"buf": None}  # torch's first SGD step takes the gradient itself

    def __call__(self, params, grads, states, *, lr, weight_decay):
        """Step ``params`` in place along ``grads``; ``states`` one per tensor."""
        if not params:
            return
        if self.fused:
            steps = [s["step"].clone() for s in states] if self.solver == "adam" else []
            try:
                self._call(params, grads, states, lr, weight_decay, fused=True)
                return
            except torch.cuda.OutOfMemoryError:  # torch.OutOfMemoryError from torch 2.5
                # a RuntimeError too, but no missing kernel: the unfused step would
                # need as much memory, and the fit should stop with torch's error
                raise
            except (RuntimeError, TypeError):
                # no fused kernel (dtype, device, torch version): the steps were
                # counted before the kernel refused, nothing else moved
                for s, before in zip(states, steps):
                    s["step"].copy_(before)
                self.fused = False
        self._call(params, grads, states, lr, weight_decay, fused=False)

    def _call(self, params, grads, states, lr, weight_decay, fused):
        # named only when asked for: a torch whose sgd() has no fused argument runs
        # the plain update
        fused = {"fused": True} if fused else {}
        with torch.no_grad():
            if self.solver == "adam":
                _adam(params, grads, [s["exp_avg"] for s in states],
                      [s["exp_avg_sq"] for s in states], [],
                      [s["step"] for s in states], foreach=False, **fused,
                      amsgrad=False, beta1=BETAS[0], beta2=BETAS[1], lr=lr,
                      weight_decay=weight_decay, eps=EPS, maximize=False)
                return
            bufs = [s["buf"] for s in states]
            _sgd(params, grads, bufs, foreach=False, **fused,
                 weight_decay=weight_decay, momentum=self.momentum, lr=lr,
                 dampening=0.0, nesterov=self.momentum > 0, maximize=False)
            for s, buf in zip(states, bufs):
                s["buf"] = buf


class NetworkOptimizer:
    """Adam or SGD over one network's parameter groups (``param_groups``: dicts of
    ``params``, ``weight_decay`` and ``lr``, which may change between steps), each
    parameter's state kept by position; ``step`` reads the parameters' ``.grad``."""

    def __init__(self, solver, param_groups, lr, momentum):
        self.update = _Update(solver, momentum)
        self.param_groups = [dict(g, lr=lr) for g in param_groups]
        self.states = [[self.update.new_state(p) for p in g["params"]]
                       for g in self.param_groups]

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    def step(self):
        for group, states in zip(self.param_groups, self.states):
            live = [(p, s) for p, s in zip(group["params"], states) if p.grad is not None]
            self.update([p for p, _ in live], [p.grad for p, _ in live],
                        [s for _, s in live], lr=group["lr"],
                        weight_decay=group["weight_decay"])


class RowOptimizer:
    """Adam or SGD over the rows of ``x`` (S, P), one network per row, each with
    its own state; the gradients handed to :meth:`step` hold the penalty's."""

    def __init__(self, solver, x, lr, momentum):
        self.update = _Update(solver, momentum)
        self.lr = lr
        self.states = [self.update.new_state(x[i]) for i in range(x.shape[0])]

    def step(self, x, grad, rows):
        """Move the rows ``rows`` of ``x`` in place along ``grad`` (one row of
        ``grad`` per entry of ``rows``)."""
        self.update([x[i] for i in rows], list(grad.unbind(0)),
                    [self.states[i] for i in rows], lr=self.lr, weight_decay=0.0)
