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
        device="cpu",
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
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = layer(x)
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

    def weight_matrices(self):
        return [layer.weight for layer in self.layers]

    def biases(self):
        return [layer.bias for layer in self.layers if layer.bias is not None]

    def penalty_groups(self, *, penalty_scaling="depth", penalize_bias=True):
        """Coefficients ``c`` of the cost ``sum c * ||p||^2`` (times ``alpha``)."""
        coef = 1.0 / self.depth if penalty_scaling == "depth" else 1.0
        groups = [(self.weight_matrices(), coef)]
        if penalize_bias and self.biases():
            groups.append((self.biases(), coef))
        return groups
