"""Torch modules trained by skrank.

Each module allocates its parameters, re-initializes them in ``reset_parameters``,
and knows three things the rest of the package needs:

* ``forward_layers(x)``: the pre-activations and activations of every layer, the
  single forward pass that diagnostics read (no diagnostic re-implements it);
* ``weight_matrices()``: the weight matrices in layer order;
* ``penalty_groups(...)``: ``(parameters, coefficient)`` pairs whose weighted sum of
  squared norms is the regularization cost the engine adds to the data loss.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["FullyConnectedNet", "ACTIVATIONS", "activation_gain"]


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


class FullyConnectedNet(nn.Module):
    """``f(x) = z_L`` with ``z_l = W_l a_{l-1} + b_l`` and ``a_l = sigma(z_l)``.

    ``depth`` is the number of weight matrices ``L``; all hidden layers have
    ``width`` units. The output layer has no activation.
    """

    def __init__(
        self,
        n_inputs,
        n_outputs,
        *,
        depth,
        width,
        activation="relu",
        negative_slope=0.01,
        bias=True,
        dtype=torch.float32,
        device=None,
    ):
        super().__init__()
        self.depth = depth
        self.activation = activation
        self.negative_slope = negative_slope
        self._sigma = ACTIVATIONS[activation]
        sizes = [n_inputs] + [width] * (depth - 1) + [n_outputs]
        self.layers = nn.ModuleList(
            nn.Linear(sizes[i], sizes[i + 1], bias=bias, dtype=dtype, device=device)
            for i in range(depth)
        )

    def reset_parameters(self, generator=None):
        # torch's default nn.Linear init shrinks the signal layer after layer; at
        # depth the output vanishes and the L2 penalty then wins: Kaiming-normal
        # with the activation's gain keeps it O(1).
        gain = activation_gain(self.activation, self.negative_slope)
        with torch.no_grad():
            for layer in self.layers:
                std = gain / math.sqrt(layer.in_features)
                layer.weight.normal_(0.0, std, generator=generator)
                if layer.bias is not None:
                    layer.bias.zero_()
        return self

    def sigma(self, z):
        return self._sigma(z, self.negative_slope)

    def forward(self, x):
        # F.linear on the parameters directly: at small batch sizes the per-layer
        # nn.Module call overhead is a measurable share of a training step
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = F.linear(x, layer.weight, layer.bias)
            if i < last:
                x = self._sigma(x, self.negative_slope)
        return x

    def forward_layers(self, x):
        """Pre-activations ``[z_1..z_L]`` and hidden activations ``[a_1..a_{L-1}]``."""
        pre, post = [], []
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = layer(x)
            pre.append(x)
            if i < last:
                x = self._sigma(x, self.negative_slope)
                post.append(x)
        return pre, post

    def forward_to(self, x, layer):
        """Hidden activation ``a_layer(x)``, ``1 <= layer <= L - 1``."""
        for layer_module in self.layers[:layer]:
            x = self._sigma(layer_module(x), self.negative_slope)
        return x

    def forward_from(self, a, layer):
        """Network output given the hidden activation ``a = a_layer``."""
        last = len(self.layers) - 1
        for i in range(layer, len(self.layers)):
            a = self.layers[i](a)
            if i < last:
                a = self._sigma(a, self.negative_slope)
        return a

    def bottleneck_in(self, x, layer):
        """Pre-activation ``z_layer(x)``: where a rank-k weight leaves a k-dim image.

        The bottleneck is read here, not after the activation: ``z = W a + b``
        lies on a k-dimensional affine plane when ``W`` has rank k, while
        ``sigma(z)`` bends that plane out of any k-dimensional subspace.
        """
        for layer_module in self.layers[: layer - 1]:
            x = self._sigma(layer_module(x), self.negative_slope)
        return self.layers[layer - 1](x)

    def bottleneck_out(self, z, layer):
        """Network output given the pre-activation ``z = z_layer``."""
        return self.forward_from(self._sigma(z, self.negative_slope), layer)

    def weight_matrices(self):
        return [layer.weight for layer in self.layers]

    def deepened(self, n_new, layer, x, *, free_bias=False, rtol=1e-3):
        """A copy with ``n_new`` identity-like layers inserted after hidden layer ``layer``.

        Each new layer maps every representation ``a = a_layer(x)`` of the data to
        itself, and ReLU leaves the (non-negative) result unchanged, so the deeper
        network computes the same function on the data while paying only for the
        directions in use (paper 000 sec. 4: the middle layers of a deep network
        are such identities). With penalized biases the layer is the orthogonal
        projector onto the span of the ``a`` (the constant offset costs one
        direction); with ``free_bias`` it is the projector ``P`` onto the span of
        the centered ``a`` with bias ``(I - P) mean(a)``, which carries the offset
        for free.
        """
        with torch.no_grad():
            a = self.forward_to(x, layer).to(torch.float64)
            mean = a.mean(0)
            basis = a - mean if free_bias else a
            _, s, vh = torch.linalg.svd(basis, full_matrices=False)
            keep = vh[s > rtol * s[0]] if s.numel() and s[0] > 0 else vh[:0]
            projector = keep.T @ keep
            offset = (mean - projector @ mean) if free_bias else torch.zeros_like(mean)
            dtype = self.layers[0].weight.dtype
            projector, offset = projector.to(dtype), offset.to(dtype)
        w = self.layers[0].weight
        deep = FullyConnectedNet(self.layers[0].in_features, self.layers[-1].out_features,
                                 depth=self.depth + n_new, width=self.layers[0].out_features,
                                 activation=self.activation,
                                 negative_slope=self.negative_slope,
                                 bias=self.layers[0].bias is not None,
                                 dtype=w.dtype, device=w.device)
        sources = list(self.layers[:layer]) + [None] * n_new + list(self.layers[layer:])
        with torch.no_grad():
            for dst, src in zip(deep.layers, sources):
                if src is None:
                    dst.weight.copy_(projector)
                    if dst.bias is not None:
                        dst.bias.copy_(offset)
                else:
                    dst.load_state_dict(src.state_dict())
        return deep

    def biases(self):
        return [layer.bias for layer in self.layers if layer.bias is not None]

    def penalty_groups(self, *, penalty_scaling="depth", penalize_bias=True):
        """Coefficients ``c`` of the cost ``sum c * ||p||^2`` (times ``alpha``)."""
        coef = 1.0 / self.depth if penalty_scaling == "depth" else 1.0
        groups = [(self.weight_matrices(), coef)]
        if penalize_bias and self.biases():
            groups.append((self.biases(), coef))
        return groups


class ResidualNet(nn.Module):
    """``f = f_u o (id + f_L) o ... o (id + f_1) o f_e`` (Boix-Adsera 2025).

    Embedding ``f_e(z) = W_e z + b_e`` into width ``n``, ``depth`` residual blocks
    (``block_depth=1``: ``f_l(z) = sigma(W_l z + b_l)``; ``block_depth=2``:
    ``f_l(z) = W_l2 sigma(W_l1 z + b_l1) + b_l2``) and unembedding
    ``f_u(z) = W_u z + b_u``. The hidden representations are the residual stream
    ``s_0 = f_e(x)``, ``s_l = s_{l-1} + f_l(s_{l-1})``.
    """

    def __init__(self, n_inputs, n_outputs, *, depth, width, block_depth=1,
                 activation="relu", negative_slope=0.01, dtype=torch.float32,
                 device=None):
        super().__init__()
        self.depth = depth
        self.block_depth = block_depth
        self.activation = activation
        self.negative_slope = negative_slope
        self._sigma = ACTIVATIONS[activation]
        kw = dict(dtype=dtype, device=device)
        self.embed = nn.Linear(n_inputs, width, **kw)
        self.blocks = nn.ModuleList(
            nn.ModuleList(nn.Linear(width, width, **kw) for _ in range(block_depth))
            for _ in range(depth)
        )
        self.unembed = nn.Linear(width, n_outputs, **kw)

    def reset_parameters(self, generator=None):
        # Blocks start small (std ~ 1/(sqrt(n) L)) so that the stream starts near
        # identity whatever the depth; the last layer of a depth-2 block starts at
        # zero, as in zero-init residual networks.
        n = self.embed.out_features
        with torch.no_grad():
            for lin, fan in ((self.embed, self.embed.in_features), (self.unembed, n)):
                lin.weight.normal_(0.0, 1.0 / math.sqrt(fan), generator=generator)
                lin.bias.zero_()
            gain = activation_gain(self.activation, self.negative_slope)
            for block in self.blocks:
                for j, lin in enumerate(block):
                    lin.bias.zero_()
                    if self.block_depth == 2 and j == 1:
                        lin.weight.zero_()
                    else:
                        std = gain / math.sqrt(n) / (self.depth if self.block_depth == 1
                                                     else 1.0)
                        lin.weight.normal_(0.0, std, generator=generator)
        return self

    def sigma(self, z):
        return self._sigma(z, self.negative_slope)

    def _block(self, block, s):
        h = self._sigma(block[0](s), self.negative_slope)
        return h if self.block_depth == 1 else block[1](h)

    def forward(self, x):
        s = self.embed(x)
        for block in self.blocks:
            s = s + self._block(block, s)
        return self.unembed(s)

    def forward_layers(self, x):
        """``([s_0..s_L, f(x)], [s_0..s_L])``: the stream is its own pre-activation."""
        s = self.embed(x)
        stream = [s]
        for block in self.blocks:
            s = s + self._block(block, s)
            stream.append(s)
        return stream + [self.unembed(s)], stream

    def forward_to(self, x, layer):
        """Residual stream ``s_{layer-1}`` (``layer`` counts from 1 at ``s_0``)."""
        s = self.embed(x)
        for block in self.blocks[: layer - 1]:
            s = s + self._block(block, s)
        return s

    def forward_from(self, s, layer):
        for block in self.blocks[layer - 1:]:
            s = s + self._block(block, s)
        return self.unembed(s)

    # the stream has no activation: it is read where it flows
    bottleneck_in = forward_to
    bottleneck_out = forward_from

    def weight_matrices(self):
        return ([self.embed.weight] + [lin.weight for b in self.blocks for lin in b]
                + [self.unembed.weight])

    def deepened(self, n_new, layer, x, *, free_bias=True):
        """A copy with ``n_new`` zero residual blocks appended after block ``layer - 1``:
        ``id + 0`` is the identity and costs nothing, so the function is unchanged."""
        w = self.embed.weight
        deep = ResidualNet(self.embed.in_features, self.unembed.out_features,
                           depth=self.depth + n_new, width=self.embed.out_features,
                           block_depth=self.block_depth, activation=self.activation,
                           negative_slope=self.negative_slope, dtype=w.dtype,
                           device=w.device)
        blocks = list(self.blocks[: layer - 1]) + [None] * n_new \
            + list(self.blocks[layer - 1:])
        with torch.no_grad():
            deep.embed.load_state_dict(self.embed.state_dict())
            deep.unembed.load_state_dict(self.unembed.state_dict())
            for dst, src in zip(deep.blocks, blocks):
                if src is None:
                    for lin in dst:
                        lin.weight.zero_()
                        lin.bias.zero_()
                else:
                    dst.load_state_dict(src.state_dict())
        return deep

    def rank_candidates(self, x, stream):
        """(weight, its input, hidden layer after it) where the function can narrow:
        the embedding, the unembedding, and the stream itself (``None``: read the
        representation), since depth-2 blocks can cancel stream directions
        (``W_l2 W_l1 ~ -I`` on a subspace)."""
        return ([(self.embed.weight, x, 1)]
                + [(None, s, i) for i, s in enumerate(stream, start=1)]
                + [(self.unembed.weight, stream[-1], len(stream))])

    def penalty_groups(self, *, lam=1.0):
        """Paper 003's cost: ``1/2 ||W_u||^2 + 1/2 ||W_e||^2 + block term``, biases free."""
        blocks = [lin.weight for b in self.blocks for lin in b]
        coef = lam * self.depth if self.block_depth == 1 else lam / 2.0
        return [([self.embed.weight, self.unembed.weight], 0.5), (blocks, coef)]
