"""S networks of one architecture as one objective of flat parameters ``(S, P)``.

The batched L-BFGS (:mod:`skrank._lbfgs`) asks for ``f(x), g(x)`` of all S problems at
once. Here the S networks' parameters are the rows of ``x``; one call runs every
network on its data with ``torch.func.vmap`` over ``torch.func.functional_call`` (a
batched matrix product per layer, not S Python loops), each network with its own
penalty strength ``alpha_s``. Gradients of the data losses come from one backward
pass through their sum (the networks share nothing); the penalty's gradient is
added in closed form, ``2 alpha_s c theta`` (:mod:`skrank._penalty`).

Data are shared by all networks or given per network (a leading axis of size S):
restarts share them, cross-validation folds give each network its own weights (zero
outside its training rows) and, with normalization, its own scaled copy.
"""

import torch
from torch.func import functional_call, vmap

__all__ = ["StackedObjective"]


class StackedObjective:
    """``fun(x) -> (f, g)`` over the rows of ``x``, one per network.

    Parameters
    ----------
    modules : list of torch.nn.Module
        S networks of one architecture (their parameters in the same order).
    X, Y : Tensor
        Inputs and targets, shared (``(N, d)``) or per network (``(S, N, d)``,
        with ``per_network=True``).
    W : Tensor or None
        Sample weights, shared ``(N,)`` or per network ``(S, N)``.
    loss_fn : callable
        ``loss_fn(output, target[, weight])``, the data loss of one network.
    alphas : sequence of float
        The penalty strength of each network.
    groups : list of (list of Tensor, float)
        Network 0's penalty groups; every network has the same structure.
    """

    def __init__(self, modules, X, Y, W, loss_fn, alphas, groups, *, per_network=False):
        self.modules = list(modules)
        base = self.modules[0]
        self.base = base
        named = [(k, p) for k, p in base.named_parameters() if p.requires_grad]
        self.names = [k for k, _ in named]
        self.shapes = [tuple(p.shape) for _, p in named]
        self.sizes = [p.numel() for _, p in named]
        where = dict(device=named[0][1].device, dtype=named[0][1].dtype)
        coef = {id(p): c for tensors, c in groups for p in tensors}
        top = max(map(abs, coef.values()), default=0.0)
        if top > torch.finfo(where["dtype"]).max:
            raise ValueError(f"A penalty coefficient of {top:g} (from lam or alpha and "
                             f"the depth) overflows {where['dtype']}: use a smaller "
                             "value, or dtype='float64'.")
        self.coef = torch.cat([torch.full((p.numel(),), float(coef.get(id(p), 0.0)),
                                          **where) for _, p in named])
        self.alphas = torch.tensor([float(a) for a in alphas], **where)
        self.X, self.Y, self.W = X, Y, W
        self.loss_fn = loss_fn
        self.dims = (0, 0 if per_network else None, 0 if per_network else None,
                     None if W is None else (0 if per_network else None))

    @property
    def n_networks(self):
        return len(self.modules)

    def subset(self, rows):
        """The objective of the networks ``rows`` only (networks that stopped cost
        nothing more)."""
        part = object.__new__(StackedObjective)
        part.__dict__.update(self.__dict__)
        part.modules = [self.modules[i] for i in rows]
        index = torch.tensor(rows, device=self.alphas.device)
        part.alphas = self.alphas[index]
        part._decay = None
        if self.dims[1] == 0:  # per-network data
            part.X, part.Y = self.X[index], self.Y[index]
            part.W = None if self.W is None else self.W[index]
        return part

    def _params(self, m):
        return [p for p in m.parameters() if p.requires_grad]

    def gather(self):
        """The networks' current parameters as rows ``(S, P)``."""
        with torch.no_grad():
            return torch.stack([torch.cat([p.detach().reshape(-1) for p in self._params(m)])
                                for m in self.modules])

    def scatter(self, i, row):
        """Write row ``i`` into network ``i``'s parameters."""
        held = self.__dict__.get("_held")
        if held is not None and self.n_networks == 1 and torch.equal(held, row):
            # the last evaluation left them there: the accepted point of a line
            # search is usually its last trial (a copy per parameter tensor cost 5%
            # of a single fit)
            return
        self._held = None
        with torch.no_grad():
            for p, chunk in zip(self._params(self.modules[i]), torch.split(row, self.sizes)):
                p.copy_(chunk.view_as(p))

    def _unflatten(self, x):
        chunks = torch.split(x, self.sizes, dim=1)
        return {k: c.reshape((x.shape[0],) + s)
                for k, c, s in zip(self.names, chunks, self.shapes)}

    def data_losses(self, x):
        """The S data losses at the rows of ``x`` (differentiable in ``x``)."""
        return self._losses(x, self.X, self.Y, self.W, self.dims)

    def batch_losses(self, x, X, Y, W=None, stacked=True):
        """The data losses at the rows of ``x``, row s on its own rows ``X[s]``,
        ``Y[s]`` (and weights ``W[s]``): the mini-batches of a batched epoch; with
        ``stacked=False`` every row on the same ``X``, ``Y``, ``W``."""
        axis = 0 if stacked else None
        return self._losses(x, X, Y, W, (0, axis, axis, None if W is None else axis))

    def _losses(self, x, X, Y, W, dims):
        loss_fn, base = self.loss_fn, self.base

        def one(params, X, Y, W):
            out = functional_call(base, params, (X,))
            return loss_fn(out, Y) if W is None else loss_fn(out, Y, W)

        return vmap(one, in_dims=dims)(self._unflatten(x), X, Y, W)

    def decay(self):
        """``alpha_s c`` per entry, one row per network: the penalty of row s is
        ``sum decay_s x_s^2`` and its gradient ``2 decay_s x_s``."""
        decay = self.__dict__.get("_decay")
        if decay is None or decay.shape[0] != self.n_networks:
            decay = self._decay = self.alphas[:, None] * self.coef
        return decay

    def _single(self, x):
        """One network: its own module on its parameters, without vmap's overhead
        (half the time of a batch of one, measured at depth 12, width 64)."""
        module = self.modules[0]
        cached = self.__dict__.get("_single_cache")
        if cached is None or cached[0] is not module:
            # parameters() walks the module tree: 3% of a fit when called per evaluation
            cached = self._single_cache = (module, self._params(module))
        params = cached[1]
        X, Y, W = (a if a is None or self.dims[1] is None else a[0]
                   for a in (self.X, self.Y, self.W))
        with torch.no_grad():
            for p, chunk in zip(params, torch.split(x[0], self.sizes)):
                p.copy_(chunk.view_as(p))
        self._held = x[0].clone()
        for p in params:
            p.grad = None
        with torch.enable_grad():
            out = module(X)
            loss = self.loss_fn(out, Y) if W is None else self.loss_fn(out, Y, W)
            grads = torch.autograd.grad(loss, params, allow_unused=True)
        grad = torch.cat([torch.zeros_like(p).reshape(-1) if g is None else g.reshape(-1)
                          for p, g in zip(params, grads)])[None]
        return loss.detach().reshape(1), grad

    def __call__(self, x):
        if x.shape[0] == 1:
            losses, grad = self._single(x)
        else:
            xg = x.detach().requires_grad_(True)
            with torch.enable_grad():
                losses = self.data_losses(xg)
                (grad,) = torch.autograd.grad(losses.sum(), xg)
        with torch.no_grad():
            scaled = self.decay() * x
            penalty = (scaled * x).sum(1)
            # 2 (decay x) is 2 decay x to the last bit: doubling is exact
            return losses.detach() + penalty, grad.add_(scaled.mul_(2.0))
