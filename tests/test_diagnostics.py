import copy
import warnings

import numpy as np
import pytest
import torch

from skrank import diagnostics as D


@pytest.mark.parametrize(
    "spectrum, rank",
    [
        ([1.0, 0.9, 0.02, 0.01], 2),
        ([1.0, 0.8, 0.09, 0.001], 2),  # third value under the 10% floor
        ([1.0, 0.6, 0.45, 0.3, 0.2, 0.01], 5),  # the clear gap is the one at the floor
        ([3.0, 2.9, 2.8, 1e-6], 3),
        ([5.0], 1),
        ([0.0, 0.0], 0),
        ([], 0),
    ],
)
def test_effective_rank(spectrum, rank):
    assert D.effective_rank(spectrum) == rank


def test_an_exact_zero_after_the_floor_is_an_infinite_gap_without_a_warning():
    # a rank-deficient input (digits' constant pixels) has exact zero singular values
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = D.read_rank([1.0, 0.5, 0.0, 0.0])
    assert (r.rank, r.gap, r.clear) == (2, float("inf"), True)


def test_effective_rank_tolerance_is_a_parameter():
    s = [1.0, 0.5, 0.3, 0.001]
    assert D.effective_rank(s, tol=0.4) == 2
    assert D.effective_rank(s, tol=0.1) == 3
    with pytest.raises(ValueError, match="tol"):
        D.effective_rank(s, tol=1.5)


def test_layer_spectra_of_weight_list_and_module():
    W1 = np.diag([3.0, 2.0])
    W2 = np.array([[1.0, 1.0]])
    spectra = D.layer_spectra([W1, W2])
    np.testing.assert_allclose(spectra[0], [3.0, 2.0])
    np.testing.assert_allclose(spectra[1], [np.sqrt(2.0)])
    net = torch.nn.Sequential(torch.nn.Linear(2, 2, bias=False), torch.nn.ReLU(),
                              torch.nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor(W1))
        net[2].weight.copy_(torch.tensor(W2))
    for a, b in zip(D.layer_spectra(net), spectra):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert D.parameter_norm(net) == pytest.approx(13.0 + 2.0)


def test_parameter_norm_counts_a_shared_layer_once():
    shared = torch.nn.Linear(2, 2)
    with torch.no_grad():
        shared.weight.copy_(torch.eye(2))
        shared.bias.zero_()
    net = torch.nn.Sequential(shared, torch.nn.ReLU(), shared)
    # applied twice, it is still one parameter of the penalty: the spectra list it twice
    assert len(D.layer_spectra(net)) == 2
    assert D.parameter_norm(net, include_bias=False) == pytest.approx(2.0)
    assert D.parameter_norm(net) == pytest.approx(2.0)


def _orthonormal(n, r, g):
    return torch.linalg.qr(torch.randn(n, r, generator=g, dtype=torch.float64))[0].float()


def _linear_chain(ranks, width=6, d=5, seed=0):
    """Bias-free identity-activation network whose weights have the given ranks
    (singular values 1, 0.9, 0.8, ...)."""
    g = torch.Generator().manual_seed(seed)
    layers = []
    sizes = [d] + [width] * (len(ranks) - 1) + [d]
    for i, r in enumerate(ranks):
        s = torch.diag(1.0 - 0.1 * torch.arange(r, dtype=torch.float32))
        A = _orthonormal(sizes[i + 1], r, g) @ s @ _orthonormal(sizes[i], r, g).T
        lin = torch.nn.Linear(sizes[i], sizes[i + 1], bias=False)
        with torch.no_grad():
            lin.weight.copy_(A)
        layers += [lin, torch.nn.Identity()]
    return torch.nn.Sequential(*layers[:-1])


def test_bottleneck_of_known_rank_network():
    net = _linear_chain([5, 2, 5])
    X = torch.randn(200, 5)
    bn = D.bottleneck(net, X)
    assert bn.rank == 2
    # each map is read by its image on the data: after the rank-2 map, only two
    # directions are left for the last one to carry
    assert list(bn.weight_ranks) == [5, 2, 2]
    assert bn.components.shape == (2, 6)
    # the Jacobian of a linear map is the product of its weights
    J = D.jacobian_spectra(net, X[:3])
    product = net[4].weight @ net[2].weight @ net[0].weight
    np.testing.assert_allclose(J[0], D.singular_values(product), rtol=1e-4, atol=1e-5)
    assert D.jacobian_rank(net, X[:3]) == 2


def test_bottleneck_ignores_the_offset_direction():
    # Hidden ReLU representation = a 1-D varying part plus a large constant offset:
    # the second weight carries both (2 singular values of order one) but the
    # function has rank 1.
    torch.manual_seed(0)
    lin1 = torch.nn.Linear(3, 4)
    lin2 = torch.nn.Linear(4, 4)
    lin3 = torch.nn.Linear(4, 3)
    with torch.no_grad():
        lin1.weight.zero_()
        lin1.weight[0, 0] = 1.0
        lin1.bias.copy_(torch.tensor([0.0, 5.0, 0.0, 0.0]))
        lin2.weight.zero_()
        lin2.weight[0, 0] = 1.0
        lin2.weight[1, 1] = 1.0
        lin2.bias.zero_()
        lin3.weight.normal_()
    net = torch.nn.Sequential(lin1, torch.nn.ReLU(), lin2, torch.nn.ReLU(), lin3)
    X = torch.rand(100, 3) + 0.1  # positive first coordinate: ReLU acts linearly
    assert D.effective_rank(D.singular_values(lin2.weight)) == 2
    assert D.bottleneck(net, X).rank == 1


def test_representation_spectra_and_nonlinearity_impact():
    net = _linear_chain([5, 2, 5])
    X = torch.randn(50, 5)
    spectra = D.representation_spectra(net, X)
    assert spectra.shape == (2, 6)
    # second hidden representation is rank 2
    assert D.effective_rank(spectra[1]) == 2
    np.testing.assert_allclose(D.nonlinearity_impact(net, X), [0.0, 0.0])
    relu = torch.nn.Sequential(torch.nn.Linear(1, 1, bias=False), torch.nn.ReLU(),
                               torch.nn.Linear(1, 1))
    with torch.no_grad():
        relu[0].weight.fill_(1.0)
    x = torch.tensor([[1.0], [-1.0]])
    # Z~ = [1, -1], Z = [1, 0]: ||Z~ - Z|| / ||Z~|| = 1 / sqrt(2)
    assert D.nonlinearity_impact(relu, x)[0] == pytest.approx(1 / np.sqrt(2))


def test_singular_values_rejects_non_matrix():
    with pytest.raises(ValueError, match="2-D"):
        D.singular_values(np.ones(3))


@pytest.mark.parametrize("include_bias", [True, False])
def test_offset_free_norm_sums_the_spectra_it_names(include_bias):
    from skrank._networks import FullyConnectedNet
    from skrank.diagnostics import diagnose

    torch.manual_seed(0)
    net = FullyConnectedNet(4, 2, depth=4, width=8)
    X = torch.randn(100, 4)
    r = diagnose(net, X, include_bias=include_bias)
    plain = sum(float(np.sum(s ** 2)) for s in r.layer_spectra)
    free = sum(float(np.sum(s ** 2)) for s in r.offset_free_spectra)
    assert free < plain * 0.999  # ReLU inputs have a mean: something was projected out
    assert r.offset_free_norm == pytest.approx(free if include_bias else plain, rel=1e-9)


def test_count_tripoints_validates_its_arguments():
    from sklearn.utils._param_validation import InvalidParameterError

    from skrank.diagnostics import count_tripoints

    class Const:
        def predict(self, X):
            return np.zeros(len(X))

    with pytest.raises(InvalidParameterError, match="resolution"):
        count_tripoints(Const(), ((0, 1), (0, 1)), resolution=1)
    with pytest.raises(InvalidParameterError, match="estimator"):
        count_tripoints(object(), ((0, 1), (0, 1)))


def test_jacobian_spectra_under_inference_mode_and_for_a_constant_network():
    import torch

    from skrank.diagnostics import jacobian_spectra

    net = torch.nn.Linear(3, 2).double()
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.5, 0.0]]))
    x = torch.randn(4, 3, dtype=torch.float64)
    with torch.inference_mode():
        spectra = jacobian_spectra(net, x)
    np.testing.assert_allclose(spectra, [[2.0, 0.5]] * 4, atol=1e-12)

    class Constant(torch.nn.Module):
        def forward(self, v):
            return torch.ones(v.shape[0], 2, dtype=v.dtype)

    np.testing.assert_array_equal(jacobian_spectra(Constant(), x), np.zeros((4, 2)))


def test_bottleneck_reading_counts_row_weights_as_repeats():
    # deepen (the grown start) reads the bottleneck of weighted rows this way
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
                              torch.nn.Linear(8, 8), torch.nn.ReLU(),
                              torch.nn.Linear(8, 2)).double()
    X = torch.randn(30, 4, dtype=torch.float64)
    w = np.random.RandomState(0).randint(1, 4, 30)
    weighted = D.bottleneck(net, X, weight=w)
    repeated = D.bottleneck(net, X.repeat_interleave(torch.as_tensor(w), 0))
    plain = D.bottleneck(net, X)
    np.testing.assert_allclose(weighted.spectrum, repeated.spectrum, rtol=1e-10, atol=1e-12)
    assert weighted.layer == repeated.layer
    assert not np.allclose(plain.spectrum, repeated.spectrum)


def test_input_rank_reads_the_span_and_rejects_bad_input():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 2)) @ rng.standard_normal((2, 5))  # a plane in R^5
    assert D.input_rank(X) == 2
    assert D.input_rank(X[:5]) is None  # 5 rows cannot show a span in R^5
    with pytest.raises(ValueError, match="NaN"):
        D.input_rank(np.where(X > 2, np.nan, X))
    with pytest.raises(ValueError, match="2D"):
        D.input_rank(X[:, 0])
    with pytest.raises(ValueError, match="tol"):
        D.input_rank(X, tol=2.0)


# ---- input validation -------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted_regressor():
    from skrank import DeepL2Regressor

    X = np.random.RandomState(0).randn(60, 3)
    y = X[:, 0] + X[:, 1] ** 2
    return DeepL2Regressor(depth=3, width=8, max_iter=10, random_state=0).fit(X, y), X


def _bn(m):
    # read on valid inputs, so that what fails is the call under test
    if isinstance(m, torch.nn.Module):
        return D.bottleneck(m, np.random.RandomState(1).randn(10, 3))
    return None


_WITH_X = {
    "diagnose": lambda m, X: D.diagnose(m, X),
    "bottleneck": lambda m, X: D.bottleneck(m, X),
    "layer_outputs": lambda m, X: D.layer_outputs(m, X),
    "representation_spectra": lambda m, X: D.representation_spectra(m, X),
    "representation_ranks": lambda m, X: D.representation_ranks(m, X),
    "projected_layer_spectra": lambda m, X: D.projected_layer_spectra(m, X),
    "nonlinearity_impact": lambda m, X: D.nonlinearity_impact(m, X),
    "jacobian_spectra": lambda m, X: D.jacobian_spectra(m, X),
    "jacobian_rank": lambda m, X: D.jacobian_rank(m, X),
    "bottleneck_fidelity": lambda m, X: D.bottleneck_fidelity(m, X, _bn(m)),
    "factored_jacobian_spectra": lambda m, X: D.factored_jacobian_spectra(m, X, _bn(m)),
}
_WEIGHTS_ONLY = {
    "layer_spectra": lambda m, X: D.layer_spectra(m),
    "parameter_norm": lambda m, X: D.parameter_norm(m),
    "parameter_norm_weights": lambda m, X: D.parameter_norm(m, include_bias=False),
}


@pytest.mark.parametrize("call", {**_WITH_X, **_WEIGHTS_ONLY}.values(),
                         ids=list({**_WITH_X, **_WEIGHTS_ONLY}))
def test_an_estimator_for_a_network_names_its_module(fitted_regressor, call):
    reg, X = fitted_regressor
    with pytest.raises(TypeError, match=r"DeepL2Regressor.*est\.module_"):
        call(reg, X)
    call(reg.module_, X)  # what the message says to pass works


@pytest.mark.parametrize("call", _WITH_X.values(), ids=list(_WITH_X))
def test_a_network_is_a_module(call):
    with pytest.raises(TypeError, match="torch.nn.Module"):
        call([np.eye(3)], np.ones((4, 3)))


def test_weight_measures_need_a_network_or_weights():
    with pytest.raises(TypeError, match="list of 2-D weight matrices"):
        D.layer_spectra(3.0)


def test_the_module_hint_reads_normalized_inputs(fitted_regressor):
    # what the TypeError tells the user: module_ on scaled inputs is the estimator
    reg, X = fitted_regressor
    scaled = (X - reg.input_mean_) / reg.input_scale_
    np.testing.assert_allclose(D.diagnose(reg.module_, scaled).bottleneck.spectrum,
                               reg.diagnose(X).bottleneck.spectrum, rtol=1e-6)


def _nan(X):
    X = X.copy()
    X[3, 1] = np.nan
    return X


_BAD_X = {
    "n_features": (lambda X: X[:, :2], r"2 features.*takes 3"),
    "1-D": (lambda X: X[:, 0], "2D array"),
    "3-D": (lambda X: X[None], "dim 3"),
    "nan": (_nan, "NaN"),
    "inf": (lambda X: np.where(X > 2, np.inf, X), "infinity"),
    "float32 overflow": (lambda X: X * 1e39, "infinity"),
    "tensor 1-D": (lambda X: torch.tensor(X[:, 0]), r"shape \(60,\)"),
    "tensor nan": (lambda X: torch.tensor(_nan(X)), "NaN"),
    "tensor n_features": (lambda X: torch.tensor(X[:, :2]), r"2 features.*takes 3"),
}


@pytest.mark.parametrize("call", _WITH_X.values(), ids=list(_WITH_X))
@pytest.mark.parametrize("bad, match", _BAD_X.values(), ids=list(_BAD_X))
def test_bad_inputs_get_a_value_error(fitted_regressor, call, bad, match):
    reg, X = fitted_regressor
    with pytest.raises(ValueError, match=match):
        call(reg.module_, bad(X))


@pytest.mark.parametrize("name", ["diagnose", "bottleneck", "projected_layer_spectra",
                                  "bottleneck_fidelity"])
@pytest.mark.parametrize("empty", [np.zeros((0, 3)), torch.zeros(0, 3)],
                         ids=["array", "tensor"])
def test_readings_over_the_data_need_a_sample(fitted_regressor, name, empty):
    reg, X = fitted_regressor
    with pytest.raises(ValueError, match="0 sample"):
        _WITH_X[name](reg.module_, empty)


def test_jacobians_of_no_point_and_no_jacobian_points_stay_valid(fitted_regressor):
    reg, X = fitted_regressor
    assert D.jacobian_rank(reg.module_, np.zeros((0, 3))) == 0
    assert D.diagnose(reg.module_, X, jacobian_points=[]).jacobian_rank is None
    with pytest.raises(ValueError, match="jacobian_points contains NaN"):
        D.diagnose(reg.module_, X, jacobian_points=_nan(X)[:5])
    with pytest.raises(ValueError, match=r"jacobian_points has 2 features"):
        D.diagnose(reg.module_, X, jacobian_points=X[:5, :2])


@pytest.mark.parametrize("name", ["diagnose", "bottleneck", "layer_outputs",
                                  "representation_spectra", "nonlinearity_impact",
                                  "jacobian_spectra", "projected_layer_spectra"])
def test_readings_leave_a_train_mode_network_as_it_was(name):
    # forward passes in train mode updated BatchNorm's running statistics and drew
    # Dropout masks (fidelity read -0.18); each reading now runs in eval mode
    torch.manual_seed(0)
    X = torch.randn(40, 4)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8),
                              torch.nn.ReLU(), torch.nn.Dropout(0.5),
                              torch.nn.Linear(8, 3)).train()
    net[3].eval()  # a submodule's own mode is restored too
    state = {k: v.clone() for k, v in net.state_dict().items()}
    rng = torch.get_rng_state()
    first = getattr(D, name)(net, X)
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in state.items())
    assert torch.equal(rng, torch.get_rng_state())
    assert net.training and net[1].training and not net[3].training
    again = getattr(D, name)(net, X)  # and reads the same twice
    if name == "diagnose":
        assert (first.rank, first.fidelity) == (again.rank, again.fidelity)


def test_a_network_that_overflows_on_finite_inputs_is_a_clear_error():
    # every weight x1e4 and inputs near 1e30: float32 layers overflow; the
    # report came back with fidelity and nonlinearity impact NaN, and no error
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2),
                              torch.nn.ReLU(), torch.nn.Linear(2, 4))
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(1e4)
    X = torch.randn(20, 4) * 1e30
    for read in (D.diagnose, D.bottleneck, D.nonlinearity_impact):
        with pytest.raises(ValueError, match="overflow"):
            read(net, X)


def test_a_network_with_nan_parameters_is_a_clear_error(fitted_regressor):
    # diagnose failed in numpy's SVD and parameter_norm returned NaN
    reg, X = fitted_regressor
    net = copy.deepcopy(reg.module_)
    with torch.no_grad():
        next(net.parameters())[0, 0] = float("nan")
    with pytest.raises(ValueError, match="parameter .* contains NaN.*diverge"):
        D.diagnose(net, X)
    for model in (net, [np.array([[np.nan]])], [np.eye(2), np.full((2, 2), np.inf)]):
        with pytest.raises(ValueError, match="NaN or infinity.*diverge"):
            D.parameter_norm(model)


@pytest.mark.parametrize("spectrum, match", [
    ([1.0, 0.5, np.nan], "NaN"),
    ([np.inf, 1.0], "infinity"),
    ([1.0, -0.5], "negative"),
])
def test_effective_rank_rejects_what_no_spectrum_holds(spectrum, match):
    with pytest.raises(ValueError, match=match):
        D.effective_rank(spectrum)


@pytest.mark.parametrize("spectrum", [[1.0, 0.5, np.nan], [np.inf, 1.0]])
def test_read_rank_rejects_non_finite_spectra(spectrum):
    with pytest.raises(ValueError, match="NaN or infinity"):
        D.read_rank(spectrum)


def test_read_rank_reads_absolute_values_as_documented():
    assert D.read_rank([1.0, -0.9, 0.01]) == D.read_rank([1.0, 0.9, 0.01])


@pytest.mark.parametrize("kwargs, name", [
    ({"tol": 2.0}, "tol"), ({"tol": np.nan}, "tol"), ({"tol": -1.0}, "tol"),
    ({"tol": 0.0}, "tol"), ({"tol": 1.0}, "tol"), ({"min_gap": 0.0}, "min_gap"),
    ({"min_gap": 0.5}, "min_gap"), ({"min_gap": np.nan}, "min_gap"),
])
@pytest.mark.parametrize("func", ["read_rank", "diagnose", "bottleneck"])
def test_the_rank_rule_checks_its_range(fitted_regressor, func, kwargs, name):
    reg, X = fitted_regressor
    call = {"read_rank": lambda **kw: D.read_rank([1.0, 0.5], **kw),
            "diagnose": lambda **kw: D.diagnose(reg.module_, X, **kw),
            "bottleneck": lambda **kw: D.bottleneck(reg.module_, X, **kw)}[func]
    with pytest.raises(ValueError, match=name):
        call(**kwargs)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("as_tensor", [False, True])
def test_singular_values_rejects_non_finite_matrices(bad, as_tensor):
    m = np.array([[1.0, bad], [0.0, 1.0]])
    with pytest.raises(ValueError, match="NaN or infinity"):
        D.singular_values(torch.tensor(m) if as_tensor else m)


@pytest.mark.parametrize("rep, k, error, match", [
    (np.ones((5, 3)), -1, ValueError, "'k' parameter"),
    (np.ones((5, 3)), 1.5, TypeError, "'k' parameter"),
    (np.ones((5, 3)), 4, ValueError, "at most min"),
    (np.ones((2, 3)), 3, ValueError, "at most min"),
    (np.ones(3), 1, ValueError, "2D array"),
    (_nan(np.ones((5, 3))), 1, ValueError, "NaN"),
    (torch.tensor(_nan(np.ones((5, 3)))), 1, ValueError, "NaN"),
    (torch.ones(3), 1, ValueError, "shape"),
])
def test_principal_components_checks_its_arguments(rep, k, error, match):
    with pytest.raises(error, match=match):
        D.principal_components(rep, k)


def test_principal_components_of_none_is_an_empty_array():
    # a rank-0 bottleneck has (0, width) components
    assert D.principal_components(np.random.RandomState(0).randn(5, 3), 0).shape == (0, 3)


@pytest.mark.parametrize("threshold", [np.nan, 0.0, 1.0, -1.0, np.inf])
def test_local_dimension_threshold_is_in_the_unit_interval(threshold):
    with pytest.raises(ValueError, match="threshold"):
        D.local_dimension([[1.0, 0.2]], threshold=threshold)


def test_local_dimension_rejects_non_finite_spectra():
    with pytest.raises(ValueError, match="NaN"):
        D.local_dimension([[1.0, np.nan]])


def test_count_tripoints_needs_a_classifier():
    from sklearn.linear_model import LinearRegression

    X = np.random.RandomState(0).randn(50, 2)
    reg = LinearRegression().fit(X, X[:, 0])
    with pytest.raises(TypeError, match="needs a classifier.*LinearRegression"):
        D.count_tripoints(reg, ((-1, 1), (-1, 1)), resolution=10)


# ---- models read as a chain of their submodules ------------------------------------
class _FunctionalReLU(torch.nn.Module):
    """The most common PyTorch style: layers as attributes, F.relu in forward."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc1 = torch.nn.Linear(3, 8)
        self.fc2 = torch.nn.Linear(8, 8)
        self.fc3 = torch.nn.Linear(8, 2)

    def forward(self, x):
        relu = torch.nn.functional.relu
        return self.fc3(relu(self.fc2(relu(self.fc1(x)))))


def _sequential_twin(model):
    """The same function as an nn.Sequential (the same Linear modules)."""
    return torch.nn.Sequential(model.fc1, torch.nn.ReLU(), model.fc2, torch.nn.ReLU(),
                               model.fc3)


class _Wrapped(torch.nn.Module):
    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return self.body(x)


_CHAIN_READINGS = {
    "diagnose": lambda m, X, bn: D.diagnose(m, X),
    "bottleneck": lambda m, X, bn: D.bottleneck(m, X),
    "layer_outputs": lambda m, X, bn: D.layer_outputs(m, X),
    "layer_outputs no row": lambda m, X, bn: D.layer_outputs(m, X[:0]),
    "representation_spectra": lambda m, X, bn: D.representation_spectra(m, X),
    "representation_ranks": lambda m, X, bn: D.representation_ranks(m, X),
    "projected_layer_spectra": lambda m, X, bn: D.projected_layer_spectra(m, X),
    "nonlinearity_impact": lambda m, X, bn: D.nonlinearity_impact(m, X),
    "bottleneck_fidelity": lambda m, X, bn: D.bottleneck_fidelity(m, X, bn),
    "factored_jacobian_spectra": lambda m, X, bn: D.factored_jacobian_spectra(m, X, bn),
}


@pytest.mark.parametrize("call", _CHAIN_READINGS.values(), ids=list(_CHAIN_READINGS))
def test_a_chain_reading_that_misses_functional_activations_is_refused(call):
    # read as fc1 -> fc2 -> fc3, the network was a linear map: zero nonlinearity,
    # another bottleneck, a fidelity near 1, all silently
    model, X = _FunctionalReLU(), torch.randn(40, 3)
    twin = _sequential_twin(model)
    torch.testing.assert_close(twin(X), model(X))
    bn = D.bottleneck(twin, X)
    with pytest.raises(TypeError, match=r"(?s)_FunctionalReLU as the chain of its "
                       r"submodules.*F\.relu.*nn\.Sequential of modules.*skrank network"):
        call(model, X, bn)
    call(twin, X, bn)  # what the message says to pass works


def test_readings_that_need_no_chain_still_read_a_functional_model():
    model, X = _FunctionalReLU(), torch.randn(10, 3)
    twin = _sequential_twin(model)
    np.testing.assert_allclose(D.jacobian_spectra(model, X), D.jacobian_spectra(twin, X))
    assert len(D.layer_spectra(model)) == 3  # its weights, in order, need no data


def test_the_chain_check_runs_dropout_in_training_mode_with_the_same_masks():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Dropout(0.5),
                              torch.nn.Linear(8, 2)).train()
    state = torch.get_rng_state()
    D.layer_outputs(net, torch.randn(0, 3))  # the check alone, on its probe
    assert torch.equal(torch.get_rng_state(), state)  # the caller's draws unchanged
    D.bottleneck(net, torch.randn(20, 3))


def test_a_chain_without_a_linear_layer_is_refused():
    with pytest.raises(TypeError, match="finds no nn.Linear"):
        D.bottleneck(_Wrapped(torch.nn.Sequential(torch.nn.Tanh())), torch.randn(5, 3))


class _Looped(torch.nn.Module):
    def __init__(self, blocks):
        super().__init__()
        self.blocks = torch.nn.ModuleList(blocks)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return x


def test_nested_containers_read_as_the_chain_they_run():
    # a wrapped Sequential read as one child had no nn.Linear: no spectra, and
    # bottleneck said "no hidden layer"
    torch.manual_seed(0)
    inner = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(),
                                torch.nn.Sequential(torch.nn.Linear(8, 1), torch.nn.Tanh()),
                                torch.nn.Linear(1, 3))
    X = torch.randn(40, 3)
    flat = torch.nn.Sequential(*inner[:2], *inner[2], inner[3])
    expected = D.diagnose(flat, X)
    for model in (_Wrapped(inner), _Looped(list(inner))):
        for a, b in zip(D.layer_spectra(model), expected.layer_spectra, strict=True):
            np.testing.assert_allclose(a, b)
        report = D.diagnose(model, X)
        assert (report.rank, report.bottleneck.layer) == (1, expected.bottleneck.layer)
        np.testing.assert_allclose(report.bottleneck.spectrum, expected.bottleneck.spectrum)
        np.testing.assert_allclose(report.nonlinearity_impact, expected.nonlinearity_impact)
        assert report.fidelity == pytest.approx(1.0)


def test_fidelity_reads_the_output_after_a_final_activation():
    # the chain's last pre-activation is not the output of a network ending in Sigmoid
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(),
                              torch.nn.Linear(8, 2), torch.nn.Sigmoid())
    X = torch.randn(50, 3)
    report = D.diagnose(net, X)
    assert report.fidelity == pytest.approx(D.bottleneck_fidelity(net, X, report.bottleneck))
    assert report.fidelity == pytest.approx(1.0)


_BAD_WEIGHTS = {
    "short": (np.ones(29), r"shape \(30,\).*\(29,\)"),
    "2-D": (np.ones((30, 1)), r"1-D"),
    "scalar": (2.0, r"1-D"),
    "negative": (np.r_[-1.0, np.ones(29)], "negative"),
    "nan": (np.r_[np.nan, np.ones(29)], "NaN"),
    "inf": (np.r_[np.inf, np.ones(29)], "infinity"),
    "all zero": (np.zeros(30), "all zero"),
    "tensor short": (torch.ones(29), r"\(29,\)"),
    "strings": (np.array(["a"] * 30), "numbers"),
}


@pytest.mark.parametrize("weight, match", _BAD_WEIGHTS.values(), ids=list(_BAD_WEIGHTS))
def test_bottleneck_row_weights_are_checked(weight, match):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    X = torch.randn(30, 4)
    with pytest.raises(ValueError, match=f"(?s)weight.*{match}|{match}.*weight"):
        D.bottleneck(net, X, weight=weight)
    # zero rows among positive ones, as a tensor: the rows with weight count
    w = torch.ones(30)
    w[:5] = 0
    np.testing.assert_allclose(D.bottleneck(net, X, weight=w).spectrum,
                               D.bottleneck(net, X[5:]).spectrum, rtol=1e-5, atol=1e-6)


def test_a_sequential_that_reuses_one_activation_module_is_read():
    # nn.Sequential runs a repeated module each time; children() lists it once,
    # and the chain reading refused an ordinary model
    act = torch.nn.Tanh()
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 6), act, torch.nn.Linear(6, 1), act,
                              torch.nn.Linear(1, 2))
    bn = D.bottleneck(net, torch.randn(40, 3))
    assert bn.rank == 1


def test_a_chain_that_does_not_start_with_linear_is_refused():
    # every reading takes X as the first nn.Linear's input: a leading ReLU read
    # rank 3 for a function of rank 2
    net = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(3, 8), torch.nn.Tanh(),
                              torch.nn.Linear(8, 2))
    with pytest.raises(TypeError, match="starts with ReLU"):
        D.bottleneck(net, torch.randn(20, 3))


def test_inputs_that_require_grad_are_read_by_value():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.Tanh(), torch.nn.Linear(6, 2))
    X = torch.randn(20, 3, requires_grad=True)
    assert D.bottleneck(net, X).rank == D.bottleneck(net, X.detach()).rank
    assert D.diagnose(net, X, jacobian_points=X[:3]).jacobian_rank is not None
    assert D.principal_components(torch.randn(5, 3, requires_grad=True), 1).shape == (1, 3)
    assert D.effective_rank(torch.tensor([1.0, 0.01], requires_grad=True)) == 1


def test_diagnose_under_the_callers_inference_mode():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.Tanh(), torch.nn.Linear(6, 2))
    X = np.random.RandomState(0).randn(20, 3)
    ref = D.diagnose(net, X, jacobian_points=X[:3])
    with torch.inference_mode():
        got = D.diagnose(net, X, jacobian_points=X[:3])
    np.testing.assert_allclose(got.jacobian_spectra, ref.jacobian_spectra)


def test_jacobian_arguments_are_validated_and_empty_points_keep_their_columns():
    from sklearn.utils._param_validation import InvalidParameterError

    net = torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.Tanh(), torch.nn.Linear(6, 2))
    X = torch.randn(20, 3)
    for bad in (0, -1, True):  # True is an int to Python, a mistake here
        with pytest.raises(InvalidParameterError, match="chunk_size"):
            D.jacobian_spectra(net, X, chunk_size=bad)
    with pytest.raises(InvalidParameterError, match="jacobian_rank"):
        D.jacobian_rank(net, X[:0], tol=-1)
    with pytest.raises(InvalidParameterError, match="representation_ranks"):
        D.representation_ranks(net, X, tol=2.0)
    assert D.jacobian_spectra(net, np.zeros((0, 3))).shape == (0, 2)


# ---- the rank rule at its boundaries (each case fails a mutant that survived the
# suite: expected values from the rule as documented, not from the code) ----------
@pytest.mark.parametrize("spectrum, kw, expected", [
    # 0.1 sits exactly on the floor 0.1 * 1.0: it never counts; the three gaps
    # left (2, 2, 2.5) are all below 3
    ([1.0, 0.5, 0.25, 0.1], {}, (3, 2.5, False)),
    # a ratio of exactly rank_gap is clear, with nothing under the floor ...
    ([3.0, 1.0], {}, (1, 3.0, True)),
    # ... and with values under it (floor 0.6: gaps 3, then 2 to the first value
    # under the floor)
    ([3.0, 1.0, 0.5, 0.2], {"tol": 0.2}, (1, 3.0, True)),
    # nothing under the floor and no clear internal gap: full rank, and a flat
    # full-rank spectrum is a clear reading (no warning on it)
    ([1.0, 0.9, 0.8], {}, (3, np.inf, True)),
    # no clear gap: the evidence is the ratio at the cut (0.3 / 0.2), not the
    # largest one (0.4 / 0.35 ... 1 / 0.4 = 2.5)
    ([1.0, 0.4, 0.35, 0.3, 0.2], {"tol": 0.25}, (4, 1.5, False)),
    # two clear gaps (8.33, then 6): the largest wins, not the deepest
    ([1.0, 0.12, 0.02], {}, (1, 1 / 0.12, True)),
    # equal ratios (4, 4, 4): the smallest rank, as documented
    ([16.0, 4.0, 1.0, 0.25], {"tol": 0.05}, (1, 4.0, True)),
])
def test_read_rank_at_its_boundaries(spectrum, kw, expected):
    r = D.read_rank(spectrum, **kw)
    assert (r.rank, r.clear) == (expected[0], expected[2])
    assert r.gap == pytest.approx(expected[1])


def _linear(W):
    layer = torch.nn.Linear(W.shape[1], W.shape[0], bias=False).double()
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(np.asarray(W, dtype=np.float64)))
    return layer


def _orthonormal_rows(n, d, seed=0):
    Q = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, d)))[0]
    return torch.tensor(Q * np.sqrt(n))


def test_public_jacobian_rank_reads_the_callers_rule():
    X = _orthonormal_rows(50, 3)[:3]
    net = _linear(np.diag([1.0, 0.5, 0.2]))
    # 0.2 is under the floor at tol=0.3, and 1 / 0.5 is no clear gap: rank 2
    assert D.jacobian_rank(net, X, tol=0.3) == 2
    assert D.jacobian_rank(net, X) == 3
    # a ratio of 4 is clear at the default gap, not at min_gap=5
    net = _linear(np.diag([1.0, 0.25]))
    assert D.jacobian_rank(net, X[:, :2]) == 1
    assert D.jacobian_rank(net, X[:, :2], min_gap=5.0) == 2


def test_diagnose_reads_the_jacobian_with_the_callers_gap():
    X = _orthonormal_rows(200, 2)
    net = torch.nn.Sequential(_linear(np.diag([1.0, 0.25])), torch.nn.Identity(),
                              _linear(np.eye(2)))
    r = D.diagnose(net, X, jacobian_points=X[:4])
    assert (r.rank, r.jacobian_rank) == (1, 1)
    # the singular values 1 and 1/4 are a clear gap at 3, not at 5: both readings
    # follow the caller's rule
    r = D.diagnose(net, X, jacobian_points=X[:4], min_gap=5.0)
    assert (r.rank, r.jacobian_rank) == (2, 2)


@pytest.mark.parametrize("first, second, layer, gap", [
    # both images have rank 2; the first's gap (1 / 0.05) is the sharper
    ([1, 1, 0.05], [1, 1, 4.0], 1, 20.0),
    # images (1, 1, 0.2) then (1, 1, 0.05): the second's is
    ([1, 1, 0.2], [1, 1, 0.25], 2, 20.0),
])
def test_bottleneck_ties_go_to_the_sharpest_gap(first, second, layer, gap):
    X = _orthonormal_rows(300, 3, seed=1)
    net = torch.nn.Sequential(_linear(np.diag(first)), torch.nn.Identity(),
                              _linear(np.diag(second)), torch.nn.Identity(),
                              _linear(np.eye(3)))
    b = D.bottleneck(net, X)
    assert (b.rank, b.layer) == (2, layer)
    # centering the orthonormal columns moves the spectrum by a few percent
    assert b.reading.gap == pytest.approx(gap, rel=0.05)


def test_complex_weights_and_stacked_spectra_are_refused():
    # the imaginary part was dropped with a ComplexWarning only; a 2-D "spectrum"
    # was flattened into one (effective_rank([[1, .5], [.2, .1]]) read 3)
    for model in ([np.eye(2) * (1 + 1j)], [torch.eye(2, dtype=torch.complex64)]):
        with pytest.raises(TypeError, match="Complex"):
            D.parameter_norm(model)
    with pytest.raises(TypeError, match="Complex"):
        D.layer_spectra([np.eye(2) * (1 + 1j)])
    for read in (D.effective_rank, D.read_rank):
        with pytest.raises(ValueError, match="one spectrum"):
            read([[1.0, 0.5], [0.2, 0.1]])
    # spectra in a tensor that requires grad are read by value, as elsewhere
    spectra = torch.tensor([[1.0, 0.9, 0.1]], requires_grad=True)
    assert D.local_dimension(spectra).tolist() == [2]


def test_spectra_and_matrices_that_are_not_real_numbers_are_named():
    # numpy's own words reached the user: "could not convert string to float",
    # "setting an array element with a sequence" (a sparse matrix), a complex cast
    import scipy.sparse

    for read in (D.effective_rank, D.read_rank):
        with pytest.raises(TypeError, match="spectrum must be real numbers"):
            read(["a", "b"])
        with pytest.raises(TypeError, match="spectrum must be real numbers"):
            read([1 + 1j, 0.5])
    with pytest.raises(TypeError, match="matrix is a sparse matrix.*toarray"):
        D.singular_values(scipy.sparse.eye(3).tocsr())
    with pytest.raises(TypeError, match="matrix must be real numbers"):
        D.singular_values([["a", "b"]])
    # torch tensors: sparse and meta ones by name, bfloat16 read as its values
    with pytest.raises(TypeError, match="spectrum is a sparse torch tensor"):
        D.read_rank(torch.tensor([1.0, 0.5]).to_sparse())
    with pytest.raises(ValueError, match="matrix is a meta tensor"):
        D.singular_values(torch.empty(3, 3, device="meta"))
    assert D.read_rank(torch.tensor([1.0, 0.5, 0.01], dtype=torch.bfloat16)).rank == 2


def test_an_activation_that_changes_the_width_is_a_clear_error():
    # nn.GLU halves the width: Z~ - Z raised torch's own size-mismatch error
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.GLU(), torch.nn.Linear(8, 2))
    X = torch.randn(20, 4)
    for reading in (D.nonlinearity_impact, D.diagnose):
        with pytest.raises(ValueError, match="changes the width from 16 to 8"):
            reading(net, X)
    # the readings that do not compare a layer with its activation still read it
    assert D.bottleneck(net, X).rank == 4
    assert D.jacobian_rank(net, X) == 2


class _LSTMOver(torch.nn.Module):
    """An LSTM over a 2-D input, which it reads as one sequence (rows coupled),
    returning its output tensor or, with ``raw``, its (output, (h, c)) tuple."""

    def __init__(self, raw=False):
        super().__init__()
        self.lstm, self.raw = torch.nn.LSTM(4, 3), raw

    def forward(self, x):
        out = self.lstm(x)
        return out if self.raw else out[0]


@pytest.mark.parametrize("reading", [D.jacobian_spectra, D.jacobian_rank])
def test_a_network_without_a_jacobian_per_point_is_a_clear_error(reading):
    torch.manual_seed(0)
    X = torch.randn(6, 4)
    with pytest.raises(TypeError, match="got a tuple"):
        reading(_LSTMOver(raw=True), X)
    # each row's output depends on the rows before it: per-row Jacobians of the
    # summed outputs were silently wrong
    with pytest.raises(ValueError, match="depends on the other points"):
        reading(_LSTMOver(), X)
    with pytest.raises(ValueError, match="fails on an empty batch"):
        reading(_LSTMOver(), X[:0])


@pytest.mark.parametrize("module", [torch.nn.Conv1d(1, 2, 3), torch.nn.Embedding(4, 3)])
def test_a_network_that_does_not_take_rows_is_a_clear_error(module):
    # torch's own error spoke of channels and index types
    X = torch.randn(5, 3)
    for reading in (D.jacobian_spectra, D.jacobian_rank):
        with pytest.raises(ValueError, match=r"fails on X of shape \(5, 3\)"):
            reading(module, X)
    # no nn.Linear to read: an empty list of spectra looked like an empty network
    with pytest.raises(TypeError, match="has no nn.Linear layer"):
        D.layer_spectra(torch.nn.Sequential(module))


class _Failing(torch.nn.Module):
    def __init__(self, error):
        super().__init__()
        self.error = error

    def forward(self, x):
        raise self.error


@pytest.mark.parametrize("error", [torch.cuda.OutOfMemoryError("CUDA out of memory"),
                                   RuntimeError("DefaultCPUAllocator: can't allocate "
                                                "memory"),
                                   NotImplementedError("no forward")])
def test_a_network_out_of_resources_keeps_its_own_error(error):
    # memory, not the shape of X: a message about rows of X would mislead
    with pytest.raises(type(error), match=str(error)):
        D.jacobian_rank(_Failing(error), torch.randn(5, 3))


def test_no_spectra_have_no_local_dimensions():
    assert D.local_dimension([]).shape == (0,)
    assert D.local_dimension(np.zeros((0, 3))).shape == (0,)
    assert D.local_dimension([1.0, 0.2]).tolist() == [1]  # one point's spectrum
    # a tensor numpy cannot take as it is (here bfloat16; on a GPU, any)
    assert D.local_dimension(torch.tensor([[1.0, 0.2]], dtype=torch.bfloat16)).tolist() \
        == [1]


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")
def test_a_network_with_no_output_has_jacobians_of_rank_zero():
    # torch.stack of no output rows raised torch's own error
    X = torch.randn(5, 4)
    for net in (torch.nn.Linear(4, 0),
                torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(),
                                    torch.nn.Linear(3, 0))):
        assert D.jacobian_spectra(net, X).shape == (5, 0)
        assert D.jacobian_spectra(net, X[:0]).shape == (0, 0)
        # an empty spectrum reads as rank 0 by the library's rule
        assert D.jacobian_rank(net, X) == D.read_rank([]).rank == 0


def test_a_network_that_squeezes_its_output_has_a_jacobian_per_point():
    # one output squeezed away: a batch of one gives a scalar, the batch a vector;
    # the per-point check once took that for rows depending on each other
    class Squeeze(torch.nn.Module):
        def forward(self, x):
            return x.squeeze()

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(),
                              torch.nn.Linear(4, 1), Squeeze())
    for n in (10, 1, 257):  # 257: a last chunk of one point
        assert D.jacobian_spectra(net, torch.randn(n, 3)).shape == (n, 1)
    assert D.jacobian_rank(net, torch.randn(10, 3)) == 1
    two = torch.nn.Sequential(torch.nn.Linear(3, 2), Squeeze())  # (1, 2) -> (2,)
    for n in (10, 1, 257):
        assert D.jacobian_spectra(two, torch.randn(n, 3)).shape == (n, 2)


def test_ties_go_to_the_layer_whose_coordinates_carry_the_output():
    # both hidden maps read rank 1; the first has the sharper gap, but the small
    # direction it cuts is amplified after it and carries half of the output: the
    # function factors through the second map's top direction, not the first's
    torch.manual_seed(0)
    X = torch.randn(200, 3, dtype=torch.float64)
    maps = [torch.nn.Linear(n_in, n_out, bias=False).double()
            for n_in, n_out in ((3, 2), (2, 2), (2, 2))]
    with torch.no_grad():
        maps[0].weight.copy_(torch.tensor([[1.0, 0, 0], [0, 0.01, 0]]))
        maps[1].weight.copy_(torch.tensor([[1.0, 100.0], [0.05, 0.0]]))
        maps[2].weight.copy_(torch.eye(2))
    net = torch.nn.Sequential(maps[0], torch.nn.Identity(), maps[1], torch.nn.Identity(),
                              maps[2])
    bn = D.bottleneck(net, X)
    assert bn.rank == 1 and bn.weight_ranks.tolist() == [1, 1, 1]
    gaps = [s[1] / s[0] for s in bn.spectra[:2]]
    assert gaps[0] < gaps[1]  # the first map's gap is the sharper one
    assert bn.layer == 2
    assert D.bottleneck_fidelity(net, X, bn) > 0.99


# ---- a bottleneck, a grid and Jacobian points that do not fit ---------------------
@pytest.mark.parametrize("read", [D.bottleneck_fidelity, D.factored_jacobian_spectra])
def test_a_bottleneck_of_another_network_is_refused(read, fitted_regressor):
    import dataclasses

    reg, X = fitted_regressor
    bn = D.bottleneck(reg.module_, X)
    other = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU(),
                                torch.nn.Linear(5, 2))
    with pytest.raises(ValueError, match=r"bn does not match.*hidden layer 1 is 5 wide"):
        read(other, X, bn)
    for bad in (None, "x", {"layer": 1}):
        with pytest.raises(TypeError, match="bn must be a Bottleneck"):
            read(reg.module_, X, bad)
    for layer in (0, 3, 1.5, True):
        with pytest.raises(ValueError, match="is not a hidden layer"):
            read(reg.module_, X, dataclasses.replace(bn, layer=layer))
    wide = dataclasses.replace(bn, components=np.zeros((1, 9)))
    with pytest.raises(ValueError, match="bn does not match"):
        read(reg.module_, X, wide)
    assert np.all(np.isfinite(read(reg.module_, X, bn)))


def test_factored_jacobians_check_the_bottleneck_without_points(fitted_regressor):
    reg, X = fitted_regressor
    bn = D.bottleneck(reg.module_, X)
    assert D.factored_jacobian_spectra(reg.module_, X[:0], bn).shape == (0, 1)
    with pytest.raises(TypeError, match="bn must be a Bottleneck"):
        D.factored_jacobian_spectra(reg.module_, X[:0], None)


def test_readings_of_huge_inputs_to_a_float32_network_stay_finite():
    # values near 1e19 are finite in float32, their squares are not: the norms of
    # nonlinearity_impact read NaN (inf / inf) in the network's dtype
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU(),
                              torch.nn.Linear(5, 2))
    X = np.random.RandomState(0).randn(40, 3) * 1e19
    wide = copy.deepcopy(net).double()
    expected = D.nonlinearity_impact(wide, X)
    np.testing.assert_allclose(D.nonlinearity_impact(net, X), expected, rtol=1e-4)
    report = D.diagnose(net, X, jacobian_points=X[:3])
    np.testing.assert_allclose(report.nonlinearity_impact, expected, rtol=1e-4)
    assert np.isfinite(report.fidelity)
    assert np.isfinite(report.representation_spectra).all()
    assert np.isfinite(report.jacobian_spectra).all()


def test_constant_outputs_near_float32s_largest_read_rank_0():
    # a float32 mean of 40 values near 3e38 overflows: the spread read inf, and a
    # constant network was not read as constant
    net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(),
                              torch.nn.Linear(3, 1))
    with torch.no_grad():
        for layer in (net[0], net[2]):
            layer.weight.zero_()
        net[0].bias.fill_(1.0)
        net[2].bias.fill_(3e38)
    assert D._constant(net(torch.randn(40, 2)))
    assert D.bottleneck(net, np.random.RandomState(0).randn(40, 2)).rank == 0


def test_count_tripoints_bounds_its_grid():
    class Const:
        def predict(self, X):
            return np.zeros(len(X))

    from sklearn.utils._param_validation import InvalidParameterError

    # a million points per axis was a 7 TiB allocation
    with pytest.raises(InvalidParameterError, match=r"resolution.*\[3, 4096\]"):
        D.count_tripoints(Const(), ((-3, 3), (-3, 3)), 10**6)
    with pytest.raises(InvalidParameterError, match="resolution"):
        D.count_tripoints(Const(), ((-3, 3), (-3, 3)), D.MAX_RESOLUTION + 1)
    # finite bounds whose span is not: the grid's step was inf, its points NaN
    with pytest.raises(ValueError, match="bounds .* span more than the largest float"):
        D.count_tripoints(Const(), ((-1e308, 1e308), (-1e308, 1e308)), 20)
    assert D.count_tripoints(Const(), ((-1e307, 1e307), (0, 1)), 20) == 0


def test_diagnose_needs_an_array_of_jacobian_points(fitted_regressor):
    reg, X = fitted_regressor
    for bad in (5, 2.5, "points"):
        with pytest.raises(ValueError, match="'jacobian_points' parameter of diagnose "
                                             "must be an array-like or None"):
            D.diagnose(reg.module_, X, jacobian_points=bad)
    with pytest.raises(ValueError, match="jacobian_points of shape"):
        D.diagnose(reg.module_, X, jacobian_points=torch.tensor(5.0))
    with pytest.raises(ValueError, match="Expected 2D array"):
        D.diagnose(reg.module_, X, jacobian_points=np.array(5.0))
    assert D.diagnose(reg.module_, X, jacobian_points=X[:2]).jacobian_rank is not None


def test_factored_spectra_equal_those_of_the_full_jacobian():
    """The spectrum read from the two halves (k reverse passes, k forward-mode
    products, a k x k core) is the full Jacobian's, on a smooth network whose
    cut leaves a factored map different from the network, and on a network with
    a rank-1 middle layer whose Jacobian is known in closed form."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(),
                              torch.nn.Linear(8, 6), torch.nn.Tanh(),
                              torch.nn.Linear(6, 7)).double()
    X = torch.randn(40, 5, dtype=torch.float64)
    bn = D.bottleneck(net, X, tol=0.3)
    factored = D._factored(net, bn.layer, bn.mean, bn.components)
    full = torch.stack([torch.autograd.functional.jacobian(factored, x[None])[0, :, 0]
                        for x in X[:6]])
    np.testing.assert_allclose(D.factored_jacobian_spectra(net, X[:6], bn),
                               torch.linalg.svdvals(full).numpy(), atol=1e-12)
    # identity activations, W2 = u v^T: J = W3 u v^T W1 at every point
    lin = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Identity(),
                              torch.nn.Linear(3, 3), torch.nn.Identity(),
                              torch.nn.Linear(3, 5)).double()
    u, v = torch.randn(3, 1, dtype=torch.float64), torch.randn(3, 1, dtype=torch.float64)
    with torch.no_grad():
        lin[2].weight.copy_(u @ v.T)
    X = torch.randn(30, 4, dtype=torch.float64)
    bn = D.bottleneck(lin, X)
    expected = float(torch.linalg.norm(lin[4].weight @ u)
                     * torch.linalg.norm(v.T @ lin[0].weight))
    got = D.factored_jacobian_spectra(lin, X[:3], bn)
    assert bn.rank == 1 and got.shape == (3, 4)
    np.testing.assert_allclose(got[:, 0], expected, rtol=1e-10)
    np.testing.assert_array_equal(got[:, 1:], 0.0)


class _OnceDifferentiableReLU(torch.autograd.Function):
    """A user's layer without a second derivative."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x > 0)


class _OnceReLU(torch.nn.Module):
    def forward(self, x):
        return _OnceDifferentiableReLU.apply(x)


def test_factored_spectra_of_a_layer_without_a_second_derivative():
    """The forward-mode products differentiate twice; a layer marked
    once_differentiable after the cut falls back to reverse passes: the full
    Jacobian's spectrum, not zeros."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 8), _OnceReLU(), torch.nn.Linear(8, 8),
                              _OnceReLU(), torch.nn.Linear(8, 4)).double()
    X = torch.randn(30, 5, dtype=torch.float64)
    bn = D.bottleneck(net, X)
    factored = D._factored(net, bn.layer, bn.mean, bn.components)
    expected = D._jacobian_svdvals(factored, X[:3], 256)
    got = D.factored_jacobian_spectra(net, X[:3], bn)
    assert expected[:, 0].min() > 1e-3
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_a_wide_autoencoders_jacobian_reading_never_forms_the_full_jacobian(monkeypatch):
    """300 features in and out: the reading takes SVDs of k x k cores, never of
    300 x 300 Jacobians (at 2,000 features those took 73 s of a 76 s fit and
    1.6 GB; at 6,000, 14 GB)."""
    from skrank import BottleneckAutoencoder

    shapes = []
    real = torch.linalg.svdvals

    def spy(A, *args, **kwargs):
        shapes.append(tuple(A.shape[-2:]))
        return real(A, *args, **kwargs)

    monkeypatch.setattr(torch.linalg, "svdvals", spy)
    rng = np.random.RandomState(0)
    X = rng.randn(40, 2) @ rng.randn(2, 300)
    ae = BottleneckAutoencoder(depth=4, width=16, max_iter=30, random_state=0).fit(X)
    assert ae.jacobian_spectra_.shape == (40, 300)  # n_jacobian_points=50, 40 rows
    assert shapes and not [s for s in shapes if min(s) >= 300]


def _diagonal_net(gains):
    net = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Identity(),
                              torch.nn.Linear(3, 3), torch.nn.Identity(),
                              torch.nn.Linear(3, 3)).double()
    with torch.no_grad():
        for layer, g in zip(net[::2], gains):
            layer.weight.copy_(torch.diag(torch.tensor(g, dtype=torch.float64)))
            layer.bias.zero_()
    return net


@pytest.mark.parametrize("spread, gains, rank, own", [
    # the first map's image (1, 1, 0.2) reads 2, the next map amplifies the third
    # direction five times, the output map shrinks it back: the identity, rank 3
    ([1, 1, 0.2], ([1, 1, 1], [1, 1, 5], [1, 1, 0.2]), 2, 3),
    # the first image (1, 0.15, 0.03) reads 1, the function uses two directions
    ([1, 0.15, 0.03], ([1, 1, 1], [1, 1 / 0.15, 1 / 0.03], [1, 0.15, 1e-5]), 1, 2),
])
def test_the_networks_own_jacobian_rank_shows_a_cut_below_it(spread, gains, rank, own):
    """A function that factors through ``k`` coordinates has a Jacobian of rank at
    most ``k``: the report carries the network's own Jacobian rank at the points
    beside the spectral bottleneck it contradicts, and an estimator whose Jacobian
    reads its function's rank warns of the contradiction (the number stays)."""
    from skrank import AmbiguousRankWarning
    from skrank._base import _warn_if_unclear

    rng = np.random.RandomState(0)
    Q = np.linalg.qr(rng.randn(400, 3))[0]
    X = torch.tensor(Q * np.sqrt(400) * spread)
    net = _diagonal_net(gains)
    assert D.diagnose(net, X, jacobian_points=[]).network_jacobian_rank is None
    r = D.diagnose(net, X, jacobian_points=X[:5])
    assert (r.rank, r.network_jacobian_rank) == (rank, own)
    assert r.jacobian_rank <= r.rank
    with pytest.warns(AmbiguousRankWarning, match=rf"own Jacobian \(read without the "
                      rf"cut: diagnose\(X\)\.network_jacobian_rank\) reads rank {own}"):
        _warn_if_unclear(r, 0.1, jacobian_bounds=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _warn_if_unclear(r, 0.1, jacobian_bounds=False)


def test_principal_components_have_one_sign_convention():
    """Each direction's largest entry is positive (scikit-learn's svd_flip), so
    rows counted by a weight and the same rows repeated give the same
    directions, not a column negated by SVD's arbitrary choice."""
    rng = np.random.RandomState(0)
    for _ in range(10):
        A = rng.randn(30, 5) @ np.diag([3.0, 2.0, 1.5, 1.0, 0.5])
        C = D.principal_components(A, 4)
        assert (C[np.arange(4), np.abs(C).argmax(1)] > 0).all()
    w = rng.randint(1, 4, 30)
    weighted = D._principal_components(torch.tensor(A), 4, weight=w.astype(float))
    repeated = D._principal_components(torch.tensor(np.repeat(A, w, axis=0)), 4)
    np.testing.assert_allclose(weighted, repeated, atol=1e-10)


def test_the_own_jacobian_rank_is_not_read_where_it_cannot_exceed_the_bottleneck(
        monkeypatch):
    """One output: no Jacobian can read more than rank 1, so a bottleneck of rank 1
    needs no check, and the reverse passes it would cost are not spent."""
    calls = []
    real = D._jacobian_svdvals
    monkeypatch.setattr(D, "_jacobian_svdvals",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(),
                              torch.nn.Linear(8, 1)).double()
    X = torch.randn(50, 4, dtype=torch.float64)
    r = D.diagnose(net, X, jacobian_points=X[:5])
    assert r.jacobian_rank == 1 and calls == []
    # a rank-1 map into a layer of two units, three outputs: checked
    wide = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(),
                               torch.nn.Linear(8, 2), torch.nn.Identity(),
                               torch.nn.Linear(2, 3)).double()
    with torch.no_grad():
        wide[2].weight[1] = 0.5 * wide[2].weight[0]
        wide[2].bias.zero_()
    r = D.diagnose(wide, X, jacobian_points=X[:5])
    assert (r.rank, r.jacobian_rank, calls) == (1, 1, [1])
    # more outputs than twice the bottleneck's width: a reverse pass per output
    # would cost more than the reading is worth there (an autoencoder's)
    many = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Identity(),
                               torch.nn.Linear(3, 7)).double()
    with torch.no_grad():
        many[0].weight[1:] = many[0].weight[0]
    r = D.diagnose(many, X, jacobian_points=X[:5])
    assert r.rank == 1 and r.network_jacobian_rank is None and calls == [1]


def _identity_chain(weights, dtype=torch.float64):
    """Bias-free linear maps with Identity activations between them."""
    layers = []
    for i, W in enumerate(weights):
        lin = torch.nn.Linear(W.shape[1], W.shape[0], bias=False, dtype=dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(W, dtype=dtype))
        layers += [lin] + ([torch.nn.Identity()] if i < len(weights) - 1 else [])
    return torch.nn.Sequential(*layers)


def test_representation_ranks_of_layers_of_unequal_width():
    # a 3 -> 6 -> 3 chain: the second representation's values are (1, 1, 0.2), a
    # clear gap of 5: rank 2; the zeros padding it to the first layer's width read
    # as an infinite gap behind 0.2, and it read 3
    W1 = np.vstack([np.eye(3), np.zeros((3, 3))])
    W2 = np.hstack([np.diag([1.0, 1.0, 0.2]), np.zeros((3, 3))])
    net = _identity_chain([W1, W2, np.eye(3)])
    Q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((300, 3)))
    X = (Q - Q.mean(0)) * np.sqrt(300)
    assert D.representation_ranks(net, X).tolist() == [3, 2]


def test_equal_singular_values_are_no_gap_even_at_min_gap_one():
    assert D.read_rank([1.0, 1.0, 1.0], min_gap=1.0).rank == 3
    assert D.read_rank([2.0, 2.0, 2.0, 2.0], min_gap=1.0).rank == 4
    assert D.read_rank([2.0, 2.0, 1.0], min_gap=1.0).rank == 2


def test_a_ratio_that_overflows_is_an_infinite_gap_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reading = D.read_rank([1e300, 1e-300])
    assert reading.rank == 1 and reading.gap == np.inf


def test_fidelity_of_a_float64_network_with_small_outputs_is_its_own():
    # an identity on inputs of spreads 1 and 0.5, cut to its first direction, loses
    # 0.25 / 1.25 = 20% of the variance, at any output scale; with float32's
    # round-off floor a float64 network of outputs near 1e-6 read 1.0
    X = np.random.default_rng(0).standard_normal((4000, 2)) * [1.0, 0.5]
    for scale in (1.0, 1e-6):
        net = _identity_chain([np.eye(2), np.eye(2) * scale])
        bn = D.bottleneck(net, X, min_gap=1.5)
        assert bn.rank == 1
        assert D.bottleneck_fidelity(net, X, bn) == pytest.approx(0.8, abs=0.02)


# --- diagnostics: fidelity divides by the *centered* output variance -------------
def _identity_pair(scale=1.0):
    net = torch.nn.Sequential(torch.nn.Linear(2, 2, bias=False), torch.nn.Identity(),
                              torch.nn.Linear(2, 2, bias=False)).double()
    with torch.no_grad():
        net[0].weight.copy_(torch.eye(2, dtype=torch.float64))
        net[2].weight.copy_(scale * torch.eye(2, dtype=torch.float64))
    return net


def test_fidelity_closed_form_on_uncentered_data():
    # rows with exact covariance diag(1, 0.25) and mean (5, 5): an identity cut to its
    # first principal direction keeps 1 / 1.25 = 0.8 of the centered variance
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((400, 2))
    Z = (Z - Z.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(Z.T, bias=True))).T
    X = Z * [1.0, 0.5] + 5.0
    net = _identity_pair()
    bn = D.bottleneck(net, X, min_gap=1.5)
    assert bn.rank == 1
    assert D.bottleneck_fidelity(net, X, bn) == pytest.approx(0.8, rel=1e-9)


# --- diagnostics: the offset direction is projected out exactly -----------------
def test_offset_free_spectrum_hand_example():
    # inputs (1, t): mean m = e1 (a real offset: |m|^2 = 1 > 0.1 * (1 + var t)),
    # W = diag(1, 2): W (I - e1 e1^T) = diag(0, 2) -> singular values (2, 0)
    t = np.linspace(-1, 1, 21)
    X = np.column_stack([np.ones_like(t), t])
    net = torch.nn.Sequential(torch.nn.Linear(2, 2, bias=False), torch.nn.Identity(),
                              torch.nn.Linear(2, 1, bias=False)).double()
    with torch.no_grad():
        net[0].weight.copy_(torch.diag(torch.tensor([1.0, 2.0], dtype=torch.float64)))
        net[2].weight.copy_(torch.tensor([[1.0, 1.0]], dtype=torch.float64))
    first = D.projected_layer_spectra(net, X)[0]
    np.testing.assert_allclose(first, [2.0, 0.0], atol=1e-12)


# --- diagnostics: loose assertions made exact ------------------------------------
@pytest.mark.parametrize("tol, min_gap, rank", [(1e-9, 1.0, 2), (0.999, 1e9, 1), (0.5, 3, 1)])
def test_every_estimator_rank_setting_reads_the_documented_rank(tol, min_gap, rank):
    # [1, .5, .01]: tol 1e-9 keeps all, gaps (2, 50): cut at 50 -> 2;
    # tol .999 keeps only 1.0 -> 1; tol .5 (0.5 is on the floor) keeps 1.0 -> 1
    assert D.read_rank([1.0, 0.5, 0.01], tol=tol, min_gap=min_gap).rank == rank


# --- count_tripoints: the exact count and place, from the classifier's own maths --
@pytest.mark.parametrize("shift", [(0.0, 0.0), (-0.3, 0.2)])
def test_logistic_tripoint_is_where_the_three_scores_meet(shift):
    from sklearn.linear_model import LogisticRegression

    X = np.random.RandomState(0).randn(300, 2)
    y = np.digitize(np.arctan2(X[:, 1], X[:, 0]), [-np.pi / 3, np.pi / 3])
    clf = LogisticRegression().fit(X + shift, y)
    W, b = clf.coef_, clf.intercept_
    # scores equal: (w0 - w1) x = b1 - b0, (w1 - w2) x = b2 - b1
    p = np.linalg.solve(np.array([W[0] - W[1], W[1] - W[2]]),
                        np.array([b[1] - b[0], b[2] - b[1]]))
    assert np.all(np.abs(p) < 0.8)
    n, locs = D.count_tripoints(clf, ((-1, 1), (-1, 1)), 101, return_locations=True)
    assert n == 1
    np.testing.assert_allclose(locs[0], p, atol=0.01)   # half a grid step (0.02)


@pytest.mark.parametrize("final, bias", [(torch.nn.Sigmoid, 40.0), (torch.nn.ReLU, -100.0),
                                         (torch.nn.Tanh, 40.0)])
def test_a_network_made_constant_by_its_last_module_reads_rank_0(final, bias):
    # the constant-output check read the last nn.Linear's output: a final sigmoid
    # saturated to exactly 1 on every row read bottleneck rank 2
    from skrank.diagnostics import bottleneck, diagnose

    torch.manual_seed(1)
    X = torch.randn(300, 4, dtype=torch.float64)
    net = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 2),
                              torch.nn.Tanh(), torch.nn.Linear(2, 3), final()).double()
    with torch.no_grad():
        net[4].bias.fill_(bias)
        assert float((net(X) - net(X).mean(0)).abs().max()) == 0.0
    assert bottleneck(net, X).rank == 0
    assert diagnose(net, X, jacobian_points=X[:5]).rank == 0


@pytest.mark.parametrize("act", [torch.nn.ReLU, torch.nn.LeakyReLU, torch.nn.SiLU])
def test_in_place_activations_read_as_their_out_of_place_twins(act):
    # the kept pre-activations were overwritten by the in-place activation after
    # them: fidelity 0.887 for 1.0, nonlinearity_impact [0, 0] for [0.69, 0.84]
    X = torch.randn(300, 5, generator=torch.Generator().manual_seed(2))

    def network(inplace):
        torch.manual_seed(2)
        net = torch.nn.Sequential(torch.nn.Linear(5, 8), act(inplace=inplace),
                                  torch.nn.Linear(8, 8), act(inplace=inplace),
                                  torch.nn.Linear(8, 4))
        with torch.no_grad():
            net[2].weight.copy_(torch.randn(8, 2) @ torch.randn(2, 8) / 3)
        return net

    plain, inplace = (D.diagnose(network(ip), X, jacobian_points=X[:20])
                      for ip in (False, True))
    assert inplace.fidelity == pytest.approx(plain.fidelity, abs=1e-6)
    np.testing.assert_allclose(inplace.nonlinearity_impact, plain.nonlinearity_impact,
                               atol=1e-6)
    assert inplace.nonlinearity_impact.min() > 0.1


def test_the_jacobian_reads_any_module_whatever_its_layers_order():
    # the input width was taken from the first registered Linear: a module that
    # registers its output layer first, or slices X, was refused
    class OutputFirst(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.out, self.inp = torch.nn.Linear(8, 2), torch.nn.Linear(4, 8)

        def forward(self, x):
            return self.out(torch.relu(self.inp(x)))

    class Slicing(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 2)

        def forward(self, x):
            return self.lin(x[:, :4])

    x = torch.randn(10, 4)
    assert D.jacobian_rank(OutputFirst(), x) == 2
    spectra = D.jacobian_spectra(Slicing(), torch.randn(10, 6))
    assert spectra.shape == (10, 2)
    np.testing.assert_allclose(spectra[0], spectra[-1], rtol=1e-5)  # a linear map


def test_sparse_and_complex_torch_inputs_are_refused_by_name():
    # a sparse tensor failed deep in torch ("aten::ne.Scalar ... SparseCPU"), a
    # complex one was read as its real part with torch's warning only
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    x = torch.randn(10, 3)
    with pytest.raises(TypeError, match="X is a sparse torch tensor"):
        D.bottleneck(net, x.to_sparse())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="Complex data not supported: X"):
            D.bottleneck(net, x.to(torch.complex64))


def test_a_bfloat16_network_is_refused_not_misread():
    # its rounding passed for no variation: fidelity 1.0 for 0.75, a network of
    # outputs spread by 0.03-0.11 read rank 0
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(),
                              torch.nn.Linear(4, 2)).to(torch.bfloat16)
    with pytest.raises(TypeError, match="'0.weight' is bfloat16.*float32 copy"):
        D.bottleneck(net, torch.randn(20, 3))
    assert D.bottleneck(copy.deepcopy(net).float(), torch.randn(20, 3)).rank >= 0
