"""The package's shape: estimators compose a task and a network behind one
protocol, and the code keeps the rules the redesign set (short functions, public
torch API, no duck-typed dispatch)."""

import ast
import inspect
import pathlib

import numpy as np
import pytest
import torch

import skrank
from skrank import BottleneckAutoencoder, DeepL2Classifier, DeepL2Regressor, ResNetL2Regressor
from skrank._networks import FullyConnectedNet, Network, ResidualNet, as_network
from skrank._tasks import Classification, Reconstruction, Regression

SOURCES = sorted(pathlib.Path(skrank.__file__).parent.glob("*.py"))
ESTIMATORS = [DeepL2Regressor, DeepL2Classifier, BottleneckAutoencoder, ResNetL2Regressor]


def _functions(path):
    tree = ast.parse(path.read_text())
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef,
                                                        ast.AsyncFunctionDef))]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_no_function_over_60_lines(path):
    long = [(f.name, f.end_lineno - f.lineno + 1) for f in _functions(path)
            if f.end_lineno - f.lineno + 1 > 60]
    assert long == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_no_duck_typed_dispatch_on_networks(path):
    """Networks are asked through their protocol (``as_network``), never probed
    with hasattr/getattr for what they can do."""
    probes = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in ("hasattr", "getattr") and node.args:
            target = ast.unparse(node.args[0])
            if any(word in target for word in ("module", "model", "net")):
                probes.append(ast.unparse(node))
    assert probes == []


def test_estimators_compose_a_task_and_a_network():
    tasks = {DeepL2Regressor: Regression, ResNetL2Regressor: Regression,
             DeepL2Classifier: Classification, BottleneckAutoencoder: Reconstruction}
    for cls in ESTIMATORS:
        assert type(cls._task) is tasks[cls]
        assert issubclass(cls._network, Network)
        init = inspect.signature(cls).parameters
        assert set(cls._network_params) <= set(init)
        assert set(init) <= set(cls._parameter_constraints) | {"estimator"}


def test_resnet_is_a_sibling_not_a_subclass():
    assert not issubclass(ResNetL2Regressor, DeepL2Regressor)
    params = ResNetL2Regressor().get_params()
    assert not {"penalize_bias", "penalty_scaling", "bias"} & set(params)
    assert ResNetL2Regressor._network is ResidualNet


def _networks():
    g = torch.Generator().manual_seed(0)
    kw = dict(dtype=torch.float64)
    return [
        FullyConnectedNet(3, 2, depth=4, width=6, **kw).reset_parameters(g),
        FullyConnectedNet(3, 2, depth=3, width=5, activation="leaky_relu",
                          penalize_bias=False, **kw).reset_parameters(g),
        ResidualNet(3, 2, depth=3, width=5, block_depth=1, **kw).reset_parameters(g),
        ResidualNet(3, 2, depth=2, width=5, block_depth=2, **kw).reset_parameters(g),
    ]


@pytest.mark.parametrize("net", _networks(), ids=lambda n: repr(n.architecture()))
def test_network_protocol(net):
    x = torch.randn(20, 3, dtype=torch.float64)
    y = net(x)
    pre, post = net.forward_layers(x)
    torch.testing.assert_close(pre[-1], y)
    for layer in range(1, len(post) + 1):
        z = net.bottleneck_in(x, layer)
        torch.testing.assert_close(net.bottleneck_out(z, layer), y)
    rebuilt = type(net)(**net.architecture(), dtype=torch.float64)
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == \
        {k: v.shape for k, v in net.state_dict().items()}
    assert net.same_architecture(rebuilt)
    assert len(net.weight_inputs(x, post)) == len(net.weight_matrices())
    candidates = net.rank_candidates(x, post)
    assert all(1 <= layer <= len(post) for _, _, layer in candidates)


@pytest.mark.parametrize("net", _networks(), ids=lambda n: repr(n.architecture()))
def test_deepened_network_computes_the_same_function(net):
    if net.activation == "leaky_relu":
        pytest.skip("identity layers are exact for ReLU and identity activations only: "
                    "leaky ReLU changes the negative entries they pass")
    x = torch.randn(30, 3, dtype=torch.float64)
    deep = net.deepened(2, 1, x, rtol=1e-9)
    assert deep.depth == net.depth + 2
    torch.testing.assert_close(deep(x), net(x), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("bias, penalize_bias", [(False, False), (True, False), (True, True)])
def test_deepened_keeps_an_affine_representation_off_the_origin(bias, penalize_bias):
    """Representations on an affine line that misses the origin: without biases
    the inserted layer must span the line's points, not only its direction."""
    net = FullyConnectedNet(2, 1, depth=3, width=6, bias=bias, penalize_bias=penalize_bias,
                            dtype=torch.float64).reset_parameters(
        torch.Generator().manual_seed(0))
    with torch.no_grad():
        net.layers[0].weight.abs_()
    t = torch.linspace(0, 1, 25, dtype=torch.float64)[:, None]
    x = torch.cat([torch.ones_like(t), t], dim=1)
    deep = net.deepened(2, 1, x, rtol=1e-9)
    torch.testing.assert_close(deep(x), net(x), rtol=1e-6, atol=1e-8)


def test_penalty_groups_follow_the_network_options():
    with_bias, free_bias = _networks()[:2]
    assert sum(len(t) for t, _ in with_bias.penalty_groups()) == 8  # 4 W + 4 b
    assert [c for _, c in with_bias.penalty_groups()] == [0.25, 0.25]
    assert sum(len(t) for t, _ in free_bias.penalty_groups()) == 3  # weights only
    assert with_bias.penalizes_bias and not free_bias.penalizes_bias


def test_networks_initialize_themselves_kaiming_normal():
    """``__init__`` draws the weights (no separate call needed), Kaiming-normal:
    torch's default init has a sqrt(6) smaller spread and collapses deep ReLU nets."""
    torch.manual_seed(0)
    net = FullyConnectedNet(200, 1, depth=3, width=200)
    std = float(net.layers[1].weight.detach().std())
    assert std == pytest.approx(np.sqrt(2 / 200), rel=0.05)
    assert all(float(b.abs().max()) == 0 for b in net.biases())


def test_any_sequential_reads_as_a_chain():
    seq = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    view = as_network(seq)
    x = torch.randn(5, 3)
    torch.testing.assert_close(view.bottleneck_out(view.bottleneck_in(x, 1), 1), seq(x))
    assert [w.shape for w in view.weight_matrices()] == [(4, 3), (2, 4)]
    assert as_network(view) is view


def test_task_losses_follow_their_formulas():
    out, target = torch.randn(6, 3), torch.randn(6, 3)
    sq = ((out - target) ** 2).sum()
    torch.testing.assert_close(Regression().loss(out, target), sq / 6)
    torch.testing.assert_close(Reconstruction().loss(out, target), sq / 18)
    Y, attrs = Classification().encode(np.array(["b", "a", "c", "a"]))
    assert Y.ravel().tolist() == [1, 0, 2, 0]
    assert attrs["classes_"].tolist() == ["a", "b", "c"] and attrs["n_outputs_"] == 3
    Y, attrs = Regression().encode(np.arange(4.0))
    assert Y.shape == (4, 1) and attrs == {"n_outputs_": 1, "_y_ndim": 1}
