"""Torch networks trained by skrank, and the protocol the rest of the package reads.

A network is an ``nn.Module`` subclassing :class:`Network`. It allocates and
initializes its parameters in ``__init__`` (``reset_parameters`` re-draws them), and
answers the questions training, diagnostics, persistence and the depth selector ask:

======================================  ==============================================
``forward(x)``                          the output ``f(x)``
``forward_layers(x)``                   ``(pre, post)``: every pre-activation and
                                        every hidden representation, one pass
``weight_matrices()``                   the weight matrices, in order
``weight_inputs(x, post)``              each weight's input when it is a layer
                                        representation (offset read), else ``None``
``rank_candidates(x, post)``            ``(W or None, input, layer after)``: where
                                        the function may narrow
``bottleneck_in(x, l)`` / ``_out(z, l)``  the network cut at hidden layer ``l``
``penalty_groups()``                    ``(tensors, c)``: the cost ``sum c ||p||^2``
``penalizes_bias``                      whether biases are in that cost
``deepened(n_new, l, x)``               the same function on ``x``, deeper
``architecture()``                      constructor keywords: rebuilds the shapes
``penalty_keys``                        keywords that weight the cost, not shapes: a
                                        warm or continued fit takes the current ones
======================================  ==============================================

A new architecture is one subclass here plus an estimator that names it (its class
in ``_network`` and the parameters it takes in ``_network_params``): two files.
Any other ``nn.Module`` is read through :func:`as_network`, which runs its leaf
submodules in order (nested ``nn.Sequential`` / ``nn.ModuleList`` opened): an
``nn.Sequential``-style model of ``nn.Linear`` layers and activation modules.
Activations applied functionally in ``forward`` (``F.relu``) are not seen; the
diagnostics that read data check that the chain reproduces the model first.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["Network", "FullyConnectedNet", "ResidualNet", "as_network", "ACTIVATIONS",
           "activation_gain"]


def _leaky(x, negative_slope):
    return F.leaky_relu(x, negative_slope)


def _relu(x, negative_slope):
    return torch.relu(x)


def _identity(x, negative_slope):
    return x


ACTIVATIONS = {"relu": _relu, "leaky_relu": _leaky, "identity": _identity}


def activation_gain(activation, negative_slope=0.0):
    """Kaiming gain that keeps the forward signal's scale constant through depth."""
    if activation == "identity":
        return 1.0
    slope = 0.0 if activation == "relu" else negative_slope
    return math.sqrt(2.0 / (1.0 + slope**2))


def _kaiming_(weight, gain, generator):
    # a meta tensor (the architecture checks of a warm start) holds no values to
    # draw, and torch's first draw on meta imports its meta kernels: 1.1 s on the
    # first warm fit of each process
    if not weight.is_meta:
        weight.normal_(0.0, gain / math.sqrt(weight.shape[1]), generator=generator)


class _Linear(nn.Linear):
    """An ``nn.Linear`` that torch does not initialize: its init draws from the global
    generator, so a seeded fit would move the user's next ``torch.rand``; the
    network's ``reset_parameters`` draws every parameter anyway. (Not
    ``nn.utils.skip_init``: it builds on the meta device, whose first use imports
    ``torch.fx`` and sympy, 485 modules and about 0.4 s on each process's first fit.)"""

    def reset_parameters(self):
        pass


def _linear(n_in, n_out, **kwargs):
    return _Linear(n_in, n_out, **kwargs)


def _fixed_generator(param):
    """A generator of fixed seed on ``param``'s device, never the global one."""
    return torch.Generator(device="cpu" if param.device.type == "meta" else param.device)


def _projector(a, free_bias, rtol, weight=None):
    """The identity on the span of the rows of ``a`` (centered if ``free_bias``),
    as ``(P, offset)`` with ``P a + offset = a`` for every row. Row weights act as
    repeated rows (the weighted rows have the repeated rows' Gram matrix)."""
    a = a.to(torch.float64)
    if weight is None:
        mean = a.mean(0)
        basis = a - mean if free_bias else a
    else:
        w = torch.as_tensor(weight, dtype=a.dtype, device=a.device)
        mean = (w[:, None] * a).sum(0) / w.sum()
        basis = (a - mean if free_bias else a) * w.sqrt()[:, None]
    _, s, vh = torch.linalg.svd(basis, full_matrices=False)
    keep = vh[s > rtol * s[0]] if s.numel() and s[0] > 0 else vh[:0]
    P = keep.T @ keep
    return P, (mean - P @ mean) if free_bias else torch.zeros_like(mean)


class Network(nn.Module):
    """Base class of skrank's networks: the protocol in the module docstring.

    Subclasses define ``_pass`` (the one layer loop) and the methods below that
    raise ``NotImplementedError``.
    """

    penalizes_bias = False
    penalty_keys = ()

    def _pass(self, a, start, stop, record=None):
        raise NotImplementedError

    def reset_parameters(self, generator=None):
        raise NotImplementedError

    def weight_matrices(self):
        raise NotImplementedError

    def penalty_groups(self):
        raise NotImplementedError

    def architecture(self):
        raise NotImplementedError

    def rank_candidates(self, x, post):
        """Every weight read by its image on its input (the default: a chain)."""
        n = len(post)
        return [(W, a, min(i, n)) for i, (W, a)
                in enumerate(zip(self.weight_matrices(), [x] + list(post)), start=1)]

    def weight_inputs(self, x, post):
        return [x] + list(post)

    def same_architecture(self, other):
        """The same shapes and functions; the cost's weights (``penalty_keys``) may
        differ, and so may a ``negative_slope`` that no leaky ReLU uses."""
        def shapes(net):
            arch = net.effective_architecture()
            return {k: v for k, v in arch.items() if k not in self.penalty_keys}
        return type(self) is type(other) and shapes(self) == shapes(other)

    def effective_architecture(self):
        """:meth:`architecture` without a ``negative_slope`` that no leaky ReLU
        uses (two such networks compute the same functions)."""
        arch = self.architecture()
        if arch.get("activation") != "leaky_relu":
            arch.pop("negative_slope", None)
        return arch


class FullyConnectedNet(Network):
    """``f(x) = z_L`` with ``z_l = W_l a_{l-1} + b_l`` and ``a_l = sigma(z_l)``.

    ``depth`` is the number of weight matrices ``L``; all hidden layers have
    ``width`` units; the output layer has no activation. The cost is
    ``c sum_l ||W_l||^2`` (plus the biases when ``penalize_bias``), with
    ``c = 1 / L`` (``penalty_scaling='depth'``, the papers') or 1. The initial
    parameters are drawn from a generator of fixed seed, never torch's global one
    (a seeded fit must leave it where the user's code had it); the estimators
    draw them again with ``reset_parameters(generator)``.
    """

    def __init__(self, n_inputs, n_outputs, *, depth, width, activation="relu",
                 negative_slope=0.01, bias=True, penalty_scaling="depth",
                 penalize_bias=True, dtype=torch.float32, device=None):
        super().__init__()
        self.depth = depth
        self.activation = activation
        self.negative_slope = negative_slope
        self.penalty_scaling = penalty_scaling
        self.penalizes_bias = bool(penalize_bias and bias)
        self._sigma = ACTIVATIONS[activation]
        sizes = [n_inputs] + [width] * (depth - 1) + [n_outputs]
        self.layers = nn.ModuleList(
            _linear(sizes[i], sizes[i + 1], bias=bias, dtype=dtype, device=device)
            for i in range(depth))
        self.reset_parameters(_fixed_generator(self.layers[0].weight))

    def architecture(self):
        first = self.layers[0]
        return {"n_inputs": first.in_features, "n_outputs": self.layers[-1].out_features,
                "depth": self.depth, "width": first.out_features,
                "activation": self.activation, "negative_slope": self.negative_slope,
                "bias": first.bias is not None, "penalty_scaling": self.penalty_scaling,
                "penalize_bias": self.penalizes_bias}

    def reset_parameters(self, generator=None):
        # torch's default nn.Linear init shrinks the signal layer after layer; at
        # depth the output vanishes and the L2 penalty then wins: Kaiming-normal
        # with the activation's gain keeps it O(1).
        gain = activation_gain(self.activation, self.negative_slope)
        with torch.no_grad():
            for layer in self.layers:
                _kaiming_(layer.weight, gain, generator)
                if layer.bias is not None:
                    layer.bias.zero_()
        return self

    def _pass(self, a, start, stop, record=None):
        """Layers ``start+1 .. stop`` from their input ``a``; returns ``z_stop``.

        F.linear on the parameters directly: at small batch sizes the per-layer
        nn.Module call overhead is a measurable share of a training step.
        """
        z = a
        for i in range(start, stop):
            layer = self.layers[i]
            z = F.linear(a, layer.weight, layer.bias)
            if record is not None:
                record[0].append(z)
            if i < stop - 1:
                a = self._sigma(z, self.negative_slope)
                if record is not None:
                    record[1].append(a)
        return z

    def forward(self, x):
        return self._pass(x, 0, self.depth)

    def forward_layers(self, x):
        """Pre-activations ``[z_1..z_L]`` and hidden activations ``[a_1..a_{L-1}]``."""
        record = ([], [])
        self._pass(x, 0, self.depth, record)
        return record

    def bottleneck_in(self, x, layer):
        """Pre-activation ``z_layer(x)``: where a rank-k weight leaves a k-dim image.

        The bottleneck is read here, not after the activation: ``z = W a + b``
        lies on a k-dimensional affine plane when ``W`` has rank k, while
        ``sigma(z)`` bends that plane out of any k-dimensional subspace.
        """
        return self._pass(x, 0, layer)

    def bottleneck_out(self, z, layer):
        """Network output given the pre-activation ``z = z_layer``."""
        return self._pass(self._sigma(z, self.negative_slope), layer, self.depth)

    def weight_matrices(self):
        return [layer.weight for layer in self.layers]

    def biases(self):
        return [layer.bias for layer in self.layers if layer.bias is not None]

    def penalty_groups(self):
        coef = 1.0 / self.depth if self.penalty_scaling == "depth" else 1.0
        groups = [(self.weight_matrices(), coef)]
        if self.penalizes_bias:
            groups.append((self.biases(), coef))
        return groups

    def deepened(self, n_new, layer, x, *, rtol=1e-3, weight=None):
        """A copy with ``n_new`` identity-like layers inserted after hidden layer ``layer``.

        Each new layer maps every representation ``a = a_layer(x)`` of the data to
        itself, and ReLU leaves the (non-negative) result unchanged, so the deeper
        network computes the same function on the data while paying only for the
        directions in use (the middle layers of a deep network are such identities,
        Jacot 2023a, sec. 4). With penalized biases the layer is the orthogonal
        projector onto the span of the ``a`` (the constant offset costs one
        direction); with free biases it is the projector ``P`` onto the span of
        the centered ``a`` with bias ``(I - P) mean(a)``, which carries the offset
        for free; without biases, the projector onto the span of the ``a``.
        Directions of the ``a`` below ``rtol`` times the largest are left out.
        ``weight`` (one per row of ``x``) weighs the rows as repeats. Exact for
        'relu' and 'identity'; 'leaky_relu' changes the negative entries of ``a``.
        """
        free_bias = self.layers[0].bias is not None and not self.penalizes_bias
        with torch.no_grad():
            a = self._sigma(self.bottleneck_in(x, layer), self.negative_slope)
            P, offset = _projector(a, free_bias, rtol, weight)
        w = self.layers[0].weight
        deep = FullyConnectedNet(**{**self.architecture(), "depth": self.depth + n_new},
                                 dtype=w.dtype, device=w.device)
        sources = list(self.layers[:layer]) + [None] * n_new + list(self.layers[layer:])
        with torch.no_grad():
            for dst, src in zip(deep.layers, sources):
                if src is not None:
                    dst.load_state_dict(src.state_dict())
                    continue
                dst.weight.copy_(P.to(w.dtype))
                if dst.bias is not None:
                    dst.bias.copy_(offset.to(w.dtype))
        return deep


class ResidualNet(Network):
    """``f = f_u o (id + f_L) o ... o (id + f_1) o f_e`` (Boix-Adsera 2025).

    Embedding ``f_e(z) = W_e z + b_e`` into width ``n``, ``depth`` residual blocks
    (``block_depth=1``: ``f_l(z) = sigma(W_l z + b_l)``; ``block_depth=2``:
    ``f_l(z) = W_l2 sigma(W_l1 z + b_l1) + b_l2``) and unembedding
    ``f_u(z) = W_u z + b_u``. The hidden representations are the residual stream
    ``s_0 = f_e(x)``, ``s_l = s_{l-1} + f_l(s_{l-1})``. The cost (biases free) is
    ``1/2 ||W_u||^2 + 1/2 ||W_e||^2 + c sum ||W_block||^2`` with ``c = lam L``
    (``block_depth=1``) or ``lam / 2``. The initial parameters are drawn as
    :class:`FullyConnectedNet`'s.
    """

    penalty_keys = ("lam",)

    def __init__(self, n_inputs, n_outputs, *, depth, width, block_depth=1,
                 activation="relu", negative_slope=0.01, lam=1.0, dtype=torch.float32,
                 device=None):
        super().__init__()
        self.depth = depth
        self.block_depth = block_depth
        self.activation = activation
        self.negative_slope = negative_slope
        self.lam = lam
        self._sigma = ACTIVATIONS[activation]
        kw = dict(dtype=dtype, device=device)
        self.embed = _linear(n_inputs, width, **kw)
        self.blocks = nn.ModuleList(
            nn.ModuleList(_linear(width, width, **kw) for _ in range(block_depth))
            for _ in range(depth))
        self.unembed = _linear(width, n_outputs, **kw)
        self.reset_parameters(_fixed_generator(self.embed.weight))

    def architecture(self):
        return {"n_inputs": self.embed.in_features, "n_outputs": self.unembed.out_features,
                "depth": self.depth, "width": self.embed.out_features,
                "block_depth": self.block_depth, "activation": self.activation,
                "negative_slope": self.negative_slope, "lam": self.lam}

    def reset_parameters(self, generator=None):
        # Blocks start small (std ~ 1/(sqrt(n) L)) so that the stream starts near
        # identity whatever the depth; the last layer of a depth-2 block starts at
        # zero, as in zero-init residual networks.
        gain = activation_gain(self.activation, self.negative_slope)
        shrink = self.depth if self.block_depth == 1 else 1.0
        with torch.no_grad():
            for lin in (self.embed, self.unembed):
                _kaiming_(lin.weight, 1.0, generator)
                lin.bias.zero_()
            for block in self.blocks:
                for j, lin in enumerate(block):
                    lin.bias.zero_()
                    if self.block_depth == 2 and j == 1:
                        lin.weight.zero_()
                    else:
                        _kaiming_(lin.weight, gain / shrink, generator)
        return self

    def _pass(self, s, start, stop, record=None):
        """Blocks ``start+1 .. stop`` applied to the stream ``s``."""
        for block in self.blocks[start:stop]:
            h = self._sigma(block[0](s), self.negative_slope)
            s = s + (h if self.block_depth == 1 else block[1](h))
            if record is not None:
                record.append(s)
        return s

    def forward(self, x):
        return self.unembed(self._pass(self.embed(x), 0, self.depth))

    def forward_layers(self, x):
        """``([s_0..s_L, f(x)], [s_0..s_L])``: the stream is its own pre-activation."""
        stream = [self.embed(x)]
        self._pass(stream[0], 0, self.depth, stream)
        return stream + [self.unembed(stream[-1])], list(stream)

    def bottleneck_in(self, x, layer):
        """Residual stream ``s_{layer-1}`` (``layer`` counts from 1 at ``s_0``); the
        stream has no activation: it is read where it flows."""
        return self._pass(self.embed(x), 0, layer - 1)

    def bottleneck_out(self, s, layer):
        return self.unembed(self._pass(s, layer - 1, self.depth))

    def weight_matrices(self):
        return ([self.embed.weight] + [lin.weight for b in self.blocks for lin in b]
                + [self.unembed.weight])

    def weight_inputs(self, x, post):
        # the blocks' inputs are not the layer representations in order: no
        # offset direction to attribute to them
        return [None] * len(self.weight_matrices())

    def rank_candidates(self, x, post):
        """The embedding, the stream itself (``None``: read the representation),
        since depth-2 blocks can cancel stream directions (``W_l2 W_l1 ~ -I`` on a
        subspace), and the unembedding."""
        return ([(self.embed.weight, x, 1)]
                + [(None, s, i) for i, s in enumerate(post, start=1)]
                + [(self.unembed.weight, post[-1], len(post))])

    def penalty_groups(self):
        blocks = [lin.weight for b in self.blocks for lin in b]
        coef = self.lam * self.depth if self.block_depth == 1 else self.lam / 2.0
        return [([self.embed.weight, self.unembed.weight], 0.5), (blocks, coef)]

    def deepened(self, n_new, layer, x, *, rtol=None, weight=None):
        """A copy with ``n_new`` zero residual blocks inserted before block ``layer``:
        ``id + 0`` is the identity and costs nothing, so the function is unchanged."""
        w = self.embed.weight
        deep = ResidualNet(**{**self.architecture(), "depth": self.depth + n_new},
                           dtype=w.dtype, device=w.device)
        blocks = list(self.blocks[: layer - 1]) + [None] * n_new \
            + list(self.blocks[layer - 1:])
        with torch.no_grad():
            deep.embed.load_state_dict(self.embed.state_dict())
            deep.unembed.load_state_dict(self.unembed.state_dict())
            for dst, src in zip(deep.blocks, blocks):
                for lin in dst if src is None else ():
                    lin.weight.zero_()
                    lin.bias.zero_()
                if src is not None:
                    dst.load_state_dict(src.state_dict())
        return deep


def _leaves(module):
    """The modules a chain reading runs, in order: containers (``nn.Sequential``,
    ``nn.ModuleList``, any module with children but ``nn.Linear``) are opened,
    recursively; a module without children is its own chain. ``nn.Sequential``
    and ``nn.ModuleList`` are iterated as they run, so one activation module used
    twice appears twice (``children()`` lists it once)."""
    sequence = isinstance(module, (nn.Sequential, nn.ModuleList))
    children = list(module) if sequence else list(module.children())
    if isinstance(module, nn.Linear) or not children:
        return [module]
    return [leaf for child in children for leaf in _leaves(child)]


#: What a chain reading that does not compute its model is told.
_CHAIN_HINT = (
    "skrank reads {name} as the chain of its submodules run in order (nn.Sequential "
    "style), {why}: activations applied functionally in forward (F.relu, torch.tanh) "
    "are not seen, nor any other computation forward does beyond running the "
    "submodules in order. Pass an nn.Sequential of modules (nn.Linear, nn.ReLU, ...) "
    "or a skrank network."
)


def _same(chain, full):
    """Whether the chain's output is the model's, to the precision of its dtype."""
    if not (isinstance(chain, torch.Tensor) and isinstance(full, torch.Tensor)) \
            or chain.shape != full.shape or chain.dtype != full.dtype:
        return False
    if not full.is_floating_point():
        return torch.equal(chain, full)
    tol = float(torch.finfo(full.dtype).eps) ** 0.5
    scale = max(1.0, float(full.abs().max())) if full.numel() else 1.0
    return torch.allclose(chain, full, rtol=tol, atol=tol * scale, equal_nan=True)


class _ChildrenInOrder(Network):
    """Any module read as a chain: its leaf submodules (:func:`_leaves`) run in
    order, the l-th ``nn.Linear`` giving ``z_l`` and its input ``a_{l-1}``. Only
    valid when that chain computes the module: :meth:`check` says so on data."""

    def __init__(self, module):
        super().__init__()
        self.module = module
        self.children_ = _leaves(module)
        self.linear = [i for i, c in enumerate(self.children_) if isinstance(c, nn.Linear)]
        self.depth = len(self.linear)
        self.penalizes_bias = True

    def forward(self, x):
        return self.module(x)

    def _run(self, x, mods):
        for m in mods:
            x = m(x)
        return x

    def check(self, x, n_rows=8):
        """Raise a ``TypeError`` unless the chain has an ``nn.Linear`` and
        reproduces the module on the first ``n_rows`` rows of ``x`` (on a seeded
        random probe when ``x`` has none)."""
        name = type(self.module).__name__
        if not self.linear:
            raise TypeError(_CHAIN_HINT.format(name=name, why="and finds no nn.Linear"))
        if self.linear[0] != 0:
            # every reading takes X as the first nn.Linear's input
            raise TypeError(_CHAIN_HINT.format(
                name=name, why=f"and it starts with {type(self.children_[0]).__name__},"
                " not nn.Linear (apply it to X first, and pass the rest)"))
        rows = x[:n_rows]
        if rows.shape[0] == 0:
            g = torch.Generator().manual_seed(0)
            rows = torch.randn(n_rows, x.shape[1], generator=g, device="cpu").to(x)
        # both runs from the same random state (a Dropout in training mode draws
        # the same masks), which is left as it was
        devices = [rows.device] if rows.device.type == "cuda" else []
        with torch.no_grad(), torch.random.fork_rng(devices):
            full = self.module(rows)
        with torch.no_grad(), torch.random.fork_rng(devices):
            try:
                chain = self._run(rows, self.children_)
            except Exception as exc:  # the chain does not even run: not the model
                raise TypeError(_CHAIN_HINT.format(
                    name=name, why=f"and that chain fails on X ({exc})")) from exc
        if not _same(chain, full):
            raise TypeError(_CHAIN_HINT.format(
                name=name, why=f"and that chain does not reproduce {name}(x) on the "
                "first rows of X"))

    def forward_layers(self, x):
        pre, post = [], []
        for child in self.children_:
            if isinstance(child, nn.Linear) and pre:
                post.append(x)
            x = child(x)
            if isinstance(child, nn.Linear):
                # a copy: an in-place activation next (ReLU(inplace=True)) would
                # overwrite the kept pre-activations (fidelity read 0.887 for 1.0,
                # nonlinearity_impact 0 for 0.69-0.84)
                pre.append(x)
                x = x.clone()
        return pre, post

    def weight_matrices(self):
        return [self.children_[i].weight for i in self.linear]

    def bottleneck_in(self, x, layer):
        return self._run(x, self.children_[: self.linear[layer - 1] + 1])

    def bottleneck_out(self, z, layer):
        return self._run(z, self.children_[self.linear[layer - 1] + 1:])

    def penalty_groups(self):
        return [(list(self.module.parameters()), 1.0)]


def as_network(model):
    """``model`` itself when it is a :class:`Network`, else a chain reading of it."""
    if isinstance(model, Network):
        return model
    return _ChildrenInOrder(model)
