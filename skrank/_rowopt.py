"""Adam and SGD on the rows of ``x`` of shape (S, P): S networks, one update.

``torch.optim`` updates the tensors of one network. Here each row of ``x`` holds one
network's flattened parameters, with its own moments and its own step count, so
that S networks take a step in a handful of elementwise kernels whatever S is. The
updates are torch's own, written out (``torch.optim.Adam`` with its default betas
and eps; ``torch.optim.SGD`` with Nesterov momentum, no dampening), so that a
network trained in a batch follows the path it follows alone, up to rounding. The
gradient handed to :meth:`step` already holds the penalty's ``2 alpha c theta``
(torch's coupled weight decay).
"""

import torch

__all__ = ["RowAdam", "RowSGD", "row_optimizer"]


class _RowOptimizer:
    """State of shape (S, P), updated for the rows a step names."""

    def __init__(self, x, lr):
        self.lr = lr
        self.steps = [0] * x.shape[0]

    @staticmethod
    def _take(tensor, index, full):
        return tensor if full else tensor[index]

    def step(self, x, grad, rows, index=None):
        """Move ``x[rows]`` (in place) along ``grad``, the gradient at ``x[rows]``.

        ``rows`` is a list of row indices (``index``: the same as a tensor), ``grad``
        of shape (len(rows), P).
        """
        full = len(rows) == x.shape[0] and rows == list(range(x.shape[0]))
        if not full and index is None:
            index = torch.tensor(rows, device=x.device)
        for i in rows:
            self.steps[i] += 1
        new = self._update(self._take(x, index, full), grad, rows, index, full)
        if not full:
            x[index] = new


class RowAdam(_RowOptimizer):
    """Adam: ``m`` and ``v`` per entry, bias corrections per row (its own count)."""

    def __init__(self, x, lr, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(x, lr)
        self.betas, self.eps = betas, eps
        self.m = torch.zeros_like(x)
        self.v = torch.zeros_like(x)

    def _corrections(self, rows, like):
        """The step size and the second moment's correction: numbers when every
        row has taken as many steps (restarts on one data set), else columns."""
        b1, b2 = self.betas
        counts = [self.steps[i] for i in rows]
        first = [self.lr / (1 - b1 ** t) for t in counts]
        second = [(1 - b2 ** t) ** 0.5 for t in counts]
        if len(set(counts)) == 1:
            return first[0], second[0]
        as_column = dict(dtype=like.dtype, device=like.device)
        return (torch.tensor(first, **as_column)[:, None],
                torch.tensor(second, **as_column)[:, None])

    def _update(self, p, grad, rows, index, full):
        b1, b2 = self.betas
        m, v = self._take(self.m, index, full), self._take(self.v, index, full)
        m.lerp_(grad, 1 - b1)
        v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        step_size, root = self._corrections(rows, p)
        denom = v.sqrt().div_(root).add_(self.eps)
        if isinstance(step_size, float):
            p.addcdiv_(m, denom, value=-step_size)  # torch's own expression
        else:
            p.sub_(m / denom * step_size)  # the same, a step size per row
        if not full:
            self.m[index], self.v[index] = m, v
        return p


class RowSGD(_RowOptimizer):
    """SGD with Nesterov momentum (plain SGD at momentum 0); the first step's
    buffer is the gradient itself, as torch's (``0 * momentum + grad``)."""

    def __init__(self, x, lr, momentum):
        super().__init__(x, lr)
        self.momentum = momentum
        self.buf = torch.zeros_like(x) if momentum else None

    def _update(self, p, grad, rows, index, full):
        if self.momentum:
            buf = self._take(self.buf, index, full)
            buf.mul_(self.momentum).add_(grad)
            if not full:
                self.buf[index] = buf
            grad = grad.add(buf, alpha=self.momentum)
        return p.add_(grad, alpha=-self.lr)


def row_optimizer(solver, x, settings):
    """The row optimizer of ``solver`` ('adam' or 'sgd') for the rows of ``x``."""
    if solver == "adam":
        return RowAdam(x, settings.learning_rate_init)
    return RowSGD(x, settings.learning_rate_init, settings.momentum)
