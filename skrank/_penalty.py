"""The L2 cost ``alpha * sum_g c_g ||theta_g||^2``: its value and gradient, once.

A network lists its penalty groups ``(tensors, c_g)``; the engine adds the cost to
the data loss, the estimators report it (``cost_``), and every one of them goes
through these functions. The gradient never goes through autograd: it is
``2 alpha c_g theta_g``, added in place (L-BFGS) or handed to the optimizer as
coupled weight decay (Adam, SGD), where torch fuses it into its update kernel.
"""

import torch

__all__ = ["penalty_value", "add_penalty_gradient", "decay_groups", "entry_weights"]


def _squared_norm(tensors):
    """``sum ||p||^2`` as a tensor (one norm kernel per tensor, one sum)."""
    norms = [torch.linalg.vector_norm(p.detach()) for p in tensors]
    return torch.stack(norms).square().sum()


def _active(groups, alpha):
    return [(tensors, c) for tensors, c in groups if alpha and c and tensors]


def penalty_value(groups, alpha):
    """``alpha * sum_g c_g ||theta_g||^2`` as a 0-d tensor (0.0 without a penalty)."""
    total = None
    with torch.no_grad():
        for tensors, c in _active(groups, alpha):
            term = alpha * c * _squared_norm(tensors)
            total = term if total is None else total + term
    return total if total is not None else torch.zeros(())


def add_penalty_gradient(groups, alpha):
    """``p.grad += 2 alpha c_g p`` for every penalized tensor."""
    with torch.no_grad():
        for tensors, c in _active(groups, alpha):
            for p in tensors:
                p.grad.add_(p, alpha=2.0 * alpha * c)


def decay_groups(params, groups, alpha):
    """Optimizer parameter groups whose coupled ``weight_decay`` is the penalty's
    gradient coefficient ``2 alpha c_g``; unpenalized parameters get none."""
    out, seen = [], set()
    for tensors, c in groups:
        out.append({"params": list(tensors), "weight_decay": 2.0 * alpha * c})
        seen.update(id(p) for p in tensors)
    rest = [p for p in params if id(p) not in seen]
    if rest:
        out.append({"params": rest, "weight_decay": 0.0})
    return out


def entry_weights(params, groups, alpha):
    """``alpha * c_g`` for each entry of the flattened ``params``: the penalty is then
    one dot product ``sum w theta^2``, not a norm kernel and a host sync per tensor.
    ``None`` without a penalty, or when a penalized tensor is not in ``params``."""
    if not alpha:
        return None
    index = {id(p): i for i, p in enumerate(params)}
    weights = [torch.zeros_like(p.detach()).reshape(-1) for p in params]
    for tensors, c in groups:
        for p in tensors:
            if id(p) not in index:
                return None
            weights[index[id(p)]] += alpha * c
    return torch.cat(weights)
