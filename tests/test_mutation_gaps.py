"""Boundaries and formulas a mutation run found untested (the scaling, the tasks'
losses and scores, the rank rule's helpers, the warning filters): each test fails
under the mutation named in its name, and its expected value comes from a closed
form or scikit-learn, not from the code under test."""

import warnings

import numpy as np
import pytest
import torch


def test_S01_constant_within_n_roundings():
    from skrank._scaling import IsotropicScaling
    eps = np.finfo(float).eps
    # a column constant up to rounding (values 4 ulps apart, 10 rows): no spread
    s = IsotropicScaling.fit(np.array([[1.0], [1.0 + 4 * eps]] * 5))
    assert s.scale == pytest.approx(1.0)


def test_S05_partial_fit_zero_weight_row_is_absent():
    from skrank import DeepL2Regressor
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = DeepL2Regressor(max_iter=2, solver="adam").partial_fit(
            np.array([[3.0, 4.0], [30.0, 40.0]]), np.array([1.0, 2.0]),
            sample_weight=np.array([1.0, 0.0]))
    assert reg.input_scale_ == pytest.approx(np.sqrt(12.5))


def test_D16_no_own_jacobian_reading_at_rank_equal_outputs():
    from skrank import diagnostics as D
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.Identity(),
                              torch.nn.Linear(2, 2)).double()
    X = torch.randn(50, 4, dtype=torch.float64)
    r = D.diagnose(net, X, jacobian_points=X[:5])
    assert r.rank == 2 and r.network_jacobian_rank is None


def test_D11_output_spread_of_20_eps_is_not_constant():
    from skrank import diagnostics as D
    eps = np.finfo(np.float64).eps
    net = torch.nn.Sequential(torch.nn.Linear(1, 1, bias=False), torch.nn.Identity(),
                              torch.nn.Linear(1, 1, bias=False)).double()
    with torch.no_grad():
        net[0].weight.fill_(1.0)
        net[2].weight.fill_(40 * eps)
    X = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    assert D.bottleneck(net, X).rank == 1


def test_W06_nested_drop_keeps_the_outer_one():
    from skrank._warn import dropped_warnings, warn_user
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with dropped_warnings(RuntimeWarning):
            with dropped_warnings(UserWarning):
                pass
            warn_user("dropped", RuntimeWarning)
    assert caught == []


def test_T02_pooled_r2_of_a_flat_target():
    from skrank._tasks import r2_score
    out = torch.full((5, 3), 0.1, dtype=torch.float64)
    tgt = torch.zeros(5, 3, dtype=torch.float64)
    assert float(r2_score(out, tgt, pooled=True)) == pytest.approx(0.99)


def test_T04_weighted_reconstruction_loss_is_per_entry():
    from skrank._tasks import Reconstruction
    out, tgt = torch.zeros(2, 4), torch.ones(2, 4)
    assert float(Reconstruction().loss(out, tgt, torch.ones(2))) == pytest.approx(1.0)


def test_T06_auto_holds_out_at_the_boundary():
    from skrank._tasks import Classification
    # class 0 has 2 rows; 3 of 6 held out: its training share keeps 1 row
    assert Classification().auto_holds_out(np.array([0, 0, 1, 1, 1, 1]), 2, 3)


def test_T08_stratifiable_with_one_held_out_row_per_class():
    from skrank._tasks import Classification
    assert Classification.stratifiable(np.array([0, 0, 1, 1]), 2)


def test_T09_weighted_accuracy():
    from skrank._tasks import Classification
    logits = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    target = torch.tensor([[0], [1]])
    assert float(Classification().score(logits, target, torch.tensor([3.0, 1.0]))) == 0.75


def test_T10_weighted_r2_is_r2_of_repeated_rows():
    from skrank._tasks import r2_score
    out = torch.tensor([[0.5], [0.5]], dtype=torch.float64)
    tgt = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    # = sklearn r2_score([0, 0, 1], [.5, .5, .5]) = 1 - 0.75 / (2/3)
    assert float(r2_score(out, tgt, torch.tensor([2.0, 1.0]))) == pytest.approx(-0.125)


def test_T11_weighted_cross_entropy_is_a_weighted_mean():
    from skrank._tasks import Classification
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    target = torch.tensor([[0], [0]])
    plain = float(Classification().loss(logits, target))
    weighted = float(Classification().loss(logits, target, torch.tensor([2.0, 2.0])))
    assert weighted == pytest.approx(plain)


def test_T01_a_target_flat_up_to_48_roundings_is_flat():
    from skrank._tasks import r2_score
    eps = np.finfo(np.float64).eps
    tgt = torch.tensor([[1 - 48 * eps], [1 + 48 * eps]], dtype=torch.float64)
    assert float(r2_score(torch.ones(2, 1, dtype=torch.float64), tgt)) == pytest.approx(1.0)


def test_D21_a_layer_1_5_points_less_faithful_is_not_equally_faithful(monkeypatch):
    """Two hidden maps of rank 1; the first scored keeps 98.5% of the output, the
    second 100%: 0.985 < 1.0 - FIDELITY_SLACK (0.01), so only the second qualifies."""
    from skrank import diagnostics as D
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Identity(),
                              torch.nn.Linear(3, 3), torch.nn.Identity(),
                              torch.nn.Linear(3, 3)).double()
    with torch.no_grad():
        net[0].weight[1:] = 0.0
        net[2].weight[:, 1:] = 0.0
    X = torch.randn(40, 3, dtype=torch.float64)
    order, real_factored = [], D._factored
    monkeypatch.setattr(D, "_factored", lambda m, layer, *a: order.append(layer)
                        or real_factored(m, layer, *a))
    scores = iter([0.985, 1.0])
    monkeypatch.setattr(D, "_kept_variance", lambda *a: next(scores))
    bn = D.bottleneck(net, X)
    assert bn.rank == 1 and len(order) == 2 and bn.layer == order[1]


def test_D20_the_mean_keeps_none_of_a_variance_twice_the_floor():
    from skrank.diagnostics import _kept_variance
    eps = np.finfo(np.float64).eps
    d = 2 * 64 * eps * np.sqrt(2)   # den = d^2/2 = 2 * floor (floor = 2 (64 eps)^2)
    full = torch.tensor([[0.0], [d]], dtype=torch.float64)
    cut = torch.full_like(full, d / 2)
    assert _kept_variance(full, cut, eps) == pytest.approx(0.0, abs=1e-9)
