"""skrank.plotting: each test fails when the feature it names breaks (Agg backend)."""

import sys
import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from skrank.plotting import DepthSweepDisplay, SpectraDisplay  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


class _Fitted(BaseEstimator):
    """An estimator to sklearn's check_is_fitted, holding only the given attributes."""

    def __init__(self, **attributes):
        vars(self).update(attributes)

    def fit(self, X=None, y=None):
        return self


def _fitted(depth=5, k=2, width=6, n_points=4):
    """A stand-in for a fitted estimator: the attributes the displays read."""
    layer = [np.r_[np.ones(k), np.full(width - k, 1e-3)] * (1 + 0.1 * i)
             for i in range(depth)]
    reps = [np.r_[np.full(k, 3.0), np.full(width - k, 1e-2)] for _ in range(depth - 1)]
    jac = np.tile(np.r_[2.0, 1.0, np.full(4, 1e-4)], (n_points, 1))
    images = [np.r_[np.full(k, 2.0), np.full(width - k, 1e-3)] for _ in range(depth)]
    return _Fitted(layer_spectra_=layer, representation_spectra_=reps,
                   image_spectra_=images, layer_ranks_=np.full(depth, k),
                                 jacobian_spectra_=jac, bottleneck_layer_=3,
                                 bottleneck_rank_=k, jacobian_rank_=2, rank_tol=0.1)


def _selector(alpha=None):
    results = {"depth": np.array([4, 6, 8, 12]),
               "mean_test_score": np.array([0.80, 0.90, 0.93, 0.92]),
               "std_test_score": np.array([0.02, 0.01, 0.01, 0.03]),
               "parameter_norm": np.array([20.0, 25.0, 29.0, 37.0]),
               "offset_free_norm": np.array([16.0, 19.0, 21.0, 26.0]),
               "bottleneck_rank": np.array([3, 2, 2, 2])}
    if alpha is not None:
        results = {k: np.r_[v, v] for k, v in results.items()}
        results["alpha"] = np.r_[np.full(4, alpha[0]), np.full(4, alpha[1])]
    return _Fitted(depth_results_=results, best_depth_=6)


# -- SpectraDisplay -------------------------------------------------------------

@pytest.mark.parametrize("kind, word", [("weights", "layer"),
                                        ("representations", "hidden layer"),
                                        ("jacobian", "sample point")])
def test_spectra_x_label_names_the_rows(kind, word):
    disp = SpectraDisplay.from_estimator(_fitted(), kind=kind)
    label = disp.ax_.get_xlabel()
    assert word in label
    if kind == "jacobian":
        assert "layer" not in label


def test_spectra_colour_encodes_the_value_index_not_the_layer():
    est = _fitted(depth=5, width=6)
    disp = SpectraDisplay.from_estimator(est)
    coll = disp.ax_.collections[0]
    colours = np.asarray(coll.get_array())
    # every layer has values 1..6: the colour array repeats the index per layer
    assert colours.tolist() == list(range(1, 7)) * 5
    assert disp.colorbar_ is not None
    assert "index" in disp.colorbar_.ax.get_ylabel()


def test_spectra_all_values_by_default_and_n_values_caps():
    est = _fitted(width=30)
    disp = SpectraDisplay.from_estimator(est)
    assert len(disp.ax_.collections[0].get_offsets()) == 30 * 5
    plt.close("all")
    disp = SpectraDisplay.from_estimator(est, n_values=4)
    assert len(disp.ax_.collections[0].get_offsets()) == 4 * 5


def test_spectra_values_normalized_per_row():
    disp = SpectraDisplay.from_estimator(_fitted())
    y = disp.ax_.collections[0].get_offsets()[:, 1]
    assert np.max(y) == pytest.approx(1.0)
    assert disp.ax_.get_yscale() == "log"


def test_spectra_draws_the_rank_tol_floor():
    disp = SpectraDisplay.from_estimator(_fitted())
    floors = [ln for ln in disp.ax_.get_lines() if "rank_tol" in ln.get_label()]
    assert len(floors) == 1
    assert floors[0].get_ydata()[0] == pytest.approx(0.1)


def test_spectra_marks_the_bottleneck_layer():
    disp = SpectraDisplay.from_estimator(_fitted())
    labels = disp.ax_.get_legend_handles_labels()[1]
    assert any("bottleneck (layer 3, rank 2)" in lab for lab in labels)
    band = [p for p in disp.ax_.patches if "bottleneck" in p.get_label()]
    x0, width = band[0].get_x(), band[0].get_width()
    assert x0 < 3 < x0 + width


def test_spectra_jacobian_has_no_bottleneck_band_but_names_its_rank():
    disp = SpectraDisplay.from_estimator(_fitted(), kind="jacobian")
    labels = disp.ax_.get_legend_handles_labels()[1]
    assert not any("bottleneck" in lab for lab in labels)
    assert any("Jacobian rank 2" in lab for lab in labels)


def test_spectra_y_label_does_not_overlap_tick_labels():
    disp = SpectraDisplay.from_estimator(_fitted())
    fig = disp.figure_
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    label_box = disp.ax_.yaxis.label.get_window_extent(renderer)
    for tick in disp.ax_.get_yticklabels():
        if tick.get_text():
            assert not label_box.overlaps(tick.get_window_extent(renderer))


def test_spectra_raw_values_floor_per_row():
    disp = SpectraDisplay.from_estimator(_fitted(), normalize=False)
    floors = [c for c in disp.ax_.collections if "rank_tol" in str(c.get_label())]
    assert len(floors) == 1
    assert len(floors[0].get_segments()) == 5


def test_spectra_bad_kind():
    with pytest.raises(ValueError, match="kind"):
        SpectraDisplay.from_estimator(_fitted(), kind="nope")


def test_spectra_draws_on_given_axes():
    fig, ax = plt.subplots()
    disp = SpectraDisplay.from_estimator(_fitted(), ax=ax)
    assert disp.ax_ is ax and disp.figure_ is fig


# -- DepthSweepDisplay -----------------------------------------------------------

def test_sweep_plots_the_score_per_depth():
    disp = DepthSweepDisplay.from_estimator(_selector())
    assert disp.ax_score_ is not None and disp.ax_score_ is not disp.ax_
    (line,) = [ln for ln in disp.ax_score_.get_lines() if ln.get_marker() == "o"]
    assert np.asarray(line.get_xdata()).tolist() == [4, 6, 8, 12]
    assert np.allclose(line.get_ydata(), [0.80, 0.90, 0.93, 0.92])
    assert "score" in disp.ax_score_.get_ylabel()


def test_sweep_score_axes_without_norm_axes_is_refused():
    # a new figure of both panels left the given score axes empty, silently
    _, (left, right) = plt.subplots(1, 2)
    with pytest.raises(ValueError, match="score_ax needs ax"):
        DepthSweepDisplay.from_estimator(_selector(), score_ax=right)
    disp = DepthSweepDisplay.from_estimator(_selector(), ax=left, score_ax=right)
    assert disp.ax_ is left and disp.ax_score_ is right
    plt.close("all")


def test_sweep_over_an_alpha_grid_names_the_chosen_alpha():
    # the chosen depth's line passed every alpha's series, and best_alpha_ was
    # nowhere; the error bars of two alphas at one depth lay on top of each other
    disp = DepthSweepDisplay([4, 6, 4, 6], [30.0, 34.0, 20.0, 24.0], [2, 2, 1, 1],
                             [0.9, 0.95, 0.8, 0.85], 6, alpha=[0.1, 0.1, 1.0, 1.0],
                             std_test_score=[0.01] * 4, best_alpha=0.1).plot()
    labels = disp.ax_.get_legend_handles_labels()[1]
    assert "chosen depth 6, alpha=0.1" in labels
    xs = [ln.get_xdata().tolist() for ln in disp.ax_score_.get_lines()
          if ln.get_marker() == "o"]
    assert len(xs) == 2 and xs[0] != xs[1]
    with pytest.raises(ValueError, match="best_alpha"):
        DepthSweepDisplay([4], [1.0], [1], best_alpha="large")
    plt.close("all")


def test_sweep_rank_only_at_fitted_depths_no_steps():
    disp = DepthSweepDisplay.from_estimator(_selector())
    (rank_line,) = [ln for ln in disp.ax_rank_.get_lines()
                    if "rank" in ln.get_label()]
    assert rank_line.get_xdata().tolist() == [4, 6, 8, 12]
    assert rank_line.get_ydata().tolist() == [3, 2, 2, 2]
    assert rank_line.get_linestyle() == "None"
    assert rank_line.get_drawstyle() == "default"
    assert rank_line.get_marker() not in (None, "", "None")


def test_sweep_norm_has_markers_at_fitted_depths():
    disp = DepthSweepDisplay.from_estimator(_selector())
    norm = disp.ax_.get_lines()[0]
    assert norm.get_xdata().tolist() == [4, 6, 8, 12]
    assert norm.get_marker() == "o"


def test_sweep_draws_the_offset_free_norm_that_norm_slope_fits():
    disp = DepthSweepDisplay.from_estimator(_selector())
    (free,) = [ln for ln in disp.ax_.get_lines() if "offset-free" in ln.get_label()]
    assert free.get_xdata().tolist() == [4, 6, 8, 12]
    assert free.get_ydata().tolist() == [16.0, 19.0, 21.0, 26.0]
    assert free.get_linestyle() == "--" and free.get_marker() == "o"
    texts = [t.get_text() for t in disp.ax_.get_legend().get_texts()]
    assert any("offset-free" in t for t in texts)
    # a sweep without the column (an older file) draws ||theta||^2 alone
    old = _selector()
    del old.depth_results_["offset_free_norm"]
    disp = DepthSweepDisplay.from_estimator(old)
    assert not any("offset-free" in ln.get_label() for ln in disp.ax_.get_lines())
    assert disp.ax_.get_ylabel() == "||theta||^2"


def test_sweep_legends_name_every_series_and_the_chosen_depth():
    disp = DepthSweepDisplay.from_estimator(_selector())
    texts = [t.get_text() for t in disp.ax_.get_legend().get_texts()]
    assert any("||theta||^2" in t for t in texts)
    assert any("bottleneck rank" in t for t in texts)
    assert any("chosen depth 6" in t for t in texts)
    assert disp.ax_score_.get_legend() is not None


def test_sweep_alpha_grid_one_series_per_alpha():
    disp = DepthSweepDisplay.from_estimator(_selector(alpha=(0.1, 1.0)))
    labels = [ln.get_label() for ln in disp.ax_.get_lines()]
    assert any("alpha=0.1" in lab for lab in labels)
    assert any("alpha=1" in lab for lab in labels)


def test_sweep_on_one_given_axes_skips_the_score():
    fig, ax = plt.subplots()
    disp = DepthSweepDisplay.from_estimator(_selector(), ax=ax)
    assert disp.ax_ is ax and disp.ax_score_ is None


# -- unfitted or wrong estimators ---------------------------------------------------

@pytest.mark.parametrize("kind", ["weights", "representations", "jacobian"])
def test_spectra_of_an_unfitted_estimator_is_not_fitted_error(kind):
    from skrank import DeepL2Regressor, RankAwareDepthSelector

    for est in (DeepL2Regressor(), RankAwareDepthSelector(DeepL2Regressor())):
        with pytest.raises(NotFittedError, match="SpectraDisplay.from_estimator"):
            SpectraDisplay.from_estimator(est, kind=kind)


def test_sweep_of_an_unfitted_selector_is_not_fitted_error():
    from skrank import DeepL2Regressor, RankAwareDepthSelector

    with pytest.raises(NotFittedError, match="DepthSweepDisplay.from_estimator"):
        DepthSweepDisplay.from_estimator(RankAwareDepthSelector(DeepL2Regressor()))


def test_displays_name_a_fitted_estimator_they_cannot_plot():
    from skrank import DeepL2Regressor, RankAwareDepthSelector

    X = np.random.RandomState(0).randn(30, 3)
    sel = RankAwareDepthSelector(DeepL2Regressor(width=8, max_iter=5, random_state=0),
                                 depths=[2, 3], cv=2, refit=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel.fit(X, X[:, 0])
    with pytest.raises(ValueError, match="refit=False"):
        SpectraDisplay.from_estimator(sel)
    DepthSweepDisplay.from_estimator(sel)  # the sweep is still there to plot
    net = DeepL2Regressor(depth=2, width=8, max_iter=5, random_state=0).fit(X, X[:, 0])
    with pytest.raises(TypeError, match="RankAwareDepthSelector"):
        DepthSweepDisplay.from_estimator(net)


def test_missing_matplotlib_gives_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install"):
        DepthSweepDisplay([4], [1.0], [1]).plot()


def test_real_fit_round_trip():
    from skrank import DeepL2Regressor
    from skrank.datasets import make_bottleneck_regression

    X, y = make_bottleneck_regression(60, rank=2, random_state=0)
    est = DeepL2Regressor(depth=4, width=16, max_iter=50, random_state=0).fit(X, y)
    for kind in ("weights", "representations", "jacobian"):
        disp = SpectraDisplay.from_estimator(est, kind=kind)
        assert len(disp.spectra) == len(getattr(est, {"weights": "layer_spectra_",
                                                      "representations":
                                                      "representation_spectra_",
                                                      "jacobian": "jacobian_spectra_"}[kind]))


def test_spectra_of_a_fitted_pipeline_plots_its_last_step():
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skrank import DeepL2Regressor

    X = np.random.RandomState(0).randn(40, 3)
    pipe = make_pipeline(StandardScaler(), DeepL2Regressor(depth=3, width=8, max_iter=10,
                                                           random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(X, X[:, 0])
        mlp = MLPRegressor(hidden_layer_sizes=(4,), max_iter=5).fit(X, X[:, 0])
    disp = SpectraDisplay.from_estimator(pipe)
    assert len(disp.spectra) == len(pipe[-1].layer_spectra_)
    # a fitted estimator without spectra is not "not fitted": it is the wrong kind
    with pytest.raises(TypeError, match="MLPRegressor"):
        SpectraDisplay.from_estimator(mlp)


def test_spectra_of_a_search_around_a_pipeline_plots_the_best_network():
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skrank import DeepL2Regressor

    X = np.random.RandomState(0).randn(40, 3)
    pipe = make_pipeline(StandardScaler(), DeepL2Regressor(width=8, max_iter=10,
                                                           random_state=0))
    search = GridSearchCV(pipe, {"deepl2regressor__depth": [2, 3]}, cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, X[:, 0])
    # the search's best_estimator_ is a Pipeline: it was refused as no skrank network
    disp = SpectraDisplay.from_estimator(search, kind="weights")
    assert len(disp.spectra) == len(search.best_estimator_[-1].layer_spectra_)


@pytest.mark.parametrize("n_values", [0, -1, 1.5])
def test_spectra_n_values_below_one_is_an_error(n_values):
    with pytest.raises(ValueError, match="n_values"):
        SpectraDisplay(_fitted().layer_spectra_, n_values=n_values)


@pytest.mark.parametrize("rank_tol", ["a", 0, 1.0, -0.1, True, float("nan")])
def test_spectra_rank_tol_outside_the_rules_range_is_an_error(rank_tol):
    # the estimators' own range, (0, 1): "a" failed at draw time inside matplotlib
    with pytest.raises(ValueError, match="rank_tol must be a number in"):
        SpectraDisplay([[1.0, 0.1]], rank_tol=rank_tol)
    SpectraDisplay([[1.0, 0.1]], rank_tol=0.1)


@pytest.mark.parametrize("block_depth", [1, 2])
def test_resnet_weights_band_is_on_the_weight_that_writes_the_bottleneck(block_depth):
    # a ResNet's bottleneck_layer_ is a stream position (1 = after W_e, b + 1 =
    # after block b); its layer_spectra_ are W_e, block_depth per block, then W_u
    depth, position = 4, 3
    est = _Fitted(layer_spectra_=[np.ones(4)] * (2 + depth * block_depth),
                  representation_spectra_=[np.ones(4)] * (depth + 1),
                  image_spectra_=[np.ones(4)] * (depth + 3),
                  layer_ranks_=np.ones(depth + 3, dtype=int),
                  jacobian_spectra_=np.ones((2, 4)), stream_ranks_=np.ones(depth + 1),
                  block_depth=block_depth, bottleneck_layer_=position, bottleneck_rank_=1)
    # the weight that writes stream position 3 (after block 2): block 2's last
    assert SpectraDisplay.from_estimator(
        est, kind="weights").bottleneck_layer == 1 + 2 * block_depth
    # the candidates read are W_e, then s_0 .. s_L: position 3 is s_2, the 4th
    assert SpectraDisplay.from_estimator(est).bottleneck_layer == position + 1
    assert SpectraDisplay.from_estimator(
        est, kind="representations").bottleneck_layer == position


@pytest.mark.parametrize("kw", [dict(parameter_norm=[1.0]), dict(bottleneck_rank=[1, 2, 3]),
                                dict(mean_test_score=[0.5])])
def test_depth_sweep_needs_one_value_per_depth(kw):
    # a short series raised a raw IndexError halfway through drawing
    args = dict(depths=[4, 8], parameter_norm=[1.0, 2.0], bottleneck_rank=[1, 2], **{})
    args.update(kw)
    with pytest.raises(ValueError, match="one value per depth"):
        DepthSweepDisplay(**args).plot()
    plt.close("all")


@pytest.mark.parametrize("kind", ["weights", "jacobian"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_spectra_that_are_not_finite_are_a_clear_error(kind, bad):
    # a NaN was drawn as a silent gap (and sorted to the top of its row)
    spectra = [np.array([1.0, 0.5]), np.array([2.0, bad, 0.1])]
    with pytest.raises(ValueError, match=r"spectra\[1\] \(row 2\) contains NaN or infinity"):
        SpectraDisplay(spectra, kind=kind).plot()
    est = _fitted()
    est.jacobian_spectra_[1, 2] = bad
    est.layer_spectra_[1][2] = bad
    with pytest.raises(ValueError, match="row 2"):
        SpectraDisplay.from_estimator(est, kind=kind)


@pytest.mark.parametrize("spectra, error, message", [
    ([np.array([])], ValueError, r"spectra\[0\] \(row 1\) has shape \(0,\)"),
    ([np.ones(2), np.ones((2, 2))], ValueError, r"spectra\[1\] \(row 2\) has shape \(2, 2\)"),
    ([np.array([-1.0, 2.0])], ValueError, r"spectra\[0\] \(row 1\) holds negative values"),
    ([np.ones(2), "abc"], TypeError, r"spectra\[1\] \(row 2\) must be a 1-D array of numbers"),
    (None, TypeError, "spectra must be a list of 1-D arrays.*got NoneType"),
    (3.0, TypeError, "spectra must be a list of 1-D arrays.*got float"),
])
def test_spectra_that_are_not_rows_of_singular_values_are_refused(spectra, error, message):
    # an empty row reached matplotlib ("at least 2 boundaries"), None a bare
    # "not iterable", and abs / ravel folded negative and 2-D rows without a word
    with pytest.raises(error, match=message):
        SpectraDisplay(spectra)
    # rows given in any order are drawn largest first; a 2-D array is its rows
    disp = SpectraDisplay(np.array([[0.5, 2.0], [1.0, 3.0]])).plot()
    assert [s.tolist() for s in disp.spectra] == [[2.0, 0.5], [3.0, 1.0]]


@pytest.mark.parametrize("kw, error, message", [
    # a NaN rank broke int() in the rank axis's limits
    (dict(bottleneck_rank=[np.nan, 2]), ValueError,
     r"bottleneck_rank must hold whole numbers from 0 to 2\*\*31 - 1; "
     r"bottleneck_rank\[0\] is nan"),
    (dict(bottleneck_rank=[1.5, 2]), ValueError, "bottleneck_rank must hold whole numbers"),
    # strings reached matplotlib's unit converter
    (dict(depths=["a", "b"]), TypeError, "depths must be an array of numbers"),
    (dict(parameter_norm=["a", "b"]), TypeError, "parameter_norm must be an array of numbers"),
    # a 2-D depths was blamed on parameter_norm's length
    (dict(depths=[[2, 3]]), ValueError, r"depths must be 1-D.*shape \(1, 2\)"),
    (dict(depths=[0, 3]), ValueError,
     r"depths must hold whole numbers from 1 to 2\*\*31 - 1; depths\[0\]"),
    (dict(depths=[np.inf, 3]), ValueError, r"depths must hold whole numbers from 1 to 2\*\*31"),
    # 1e308 passed as a whole number and overflowed its cast to int
    (dict(depths=[1e308, 3]), ValueError, r"depths must hold whole numbers.*1e\+308"),
    (dict(depths=[], parameter_norm=[], bottleneck_rank=[]), ValueError, "depths is empty"),
    # -1 reached matplotlib's error bars
    (dict(std_test_score=[-1.0, 0.1]), ValueError,
     r"std_test_score must hold non-negative numbers; std_test_score\[0\] is -1"),
    (dict(best_depth="x"), ValueError, r"best_depth must be one of depths \[2, 3\]"),
    (dict(best_depth=5), ValueError, "best_depth must be one of depths"),
    (dict(alpha=[np.nan, 0.1]), ValueError, "alpha must hold finite numbers"),
    (dict(mean_test_score=[[0.5, 0.6]]), ValueError, "mean_test_score must be 1-D"),
])
def test_depth_sweep_refuses_series_it_cannot_draw_by_name(kw, error, message):
    args = dict(depths=[2, 3], parameter_norm=[1.0, 1.0], bottleneck_rank=[1, 2])
    args.update(kw)
    with pytest.raises(error, match=message):
        DepthSweepDisplay(**args)


def test_depth_sweep_draws_a_failed_fold_as_a_gap():
    # NaN scores and norms (a failed fit) are legitimate: left out of the drawing
    disp = DepthSweepDisplay([2.0, 3.0], [np.nan, 1.0], [1.0, 2.0], [np.nan, 0.5], 3,
                             std_test_score=[np.nan, 0.1]).plot()
    assert disp.depths.tolist() == [2, 3] and disp.bottleneck_rank.dtype.kind == "i"
    assert disp.ax_rank_.get_ylim() == (0, 3)


def _above_each_cut(disp):
    """Per column, the plotted values above its cut bar (None: no bar)."""
    points = disp.ax_.collections[0].get_offsets()
    bars = [c for c in disp.ax_.collections if c.get_label() == "cut of the rank rule"]
    counts = {}
    for seg in bars[0].get_segments() if bars else []:
        (x0, y), (x1, _) = seg
        col = points[(points[:, 0] > x0) & (points[:, 0] < x1)]
        counts[int(round((x0 + x1) / 2))] = int((col[:, 1] > y).sum())
    return counts


@pytest.mark.parametrize("normalize", [True, False])
def test_default_plot_shows_the_rank_of_each_map_above_its_cut(normalize):
    # the default draws the spectra the ranks are read from, cut where the rule
    # cuts: the values above each bar are layer_ranks_, the bottleneck column's
    # the legend's rank (the raw weights drew k + 1 there)
    from skrank import DeepL2Regressor
    from skrank.datasets import make_bottleneck_regression

    X, y = make_bottleneck_regression(150, n_features=8, n_targets=6, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = DeepL2Regressor(depth=5, width=16, max_iter=150, random_state=0).fit(X, y)
    disp = SpectraDisplay.from_estimator(est, normalize=normalize)
    assert disp.kind == "images"
    counts = _above_each_cut(disp)
    expected = {i + 1: int(k) for i, (k, s) in
                enumerate(zip(est.layer_ranks_, est.image_spectra_)) if 0 < k < s.size}
    assert counts == expected and counts
    assert counts.get(est.bottleneck_layer_, est.bottleneck_rank_) == est.bottleneck_rank_
    labels = disp.ax_.get_legend_handles_labels()[1]
    assert any(f"rank {est.bottleneck_rank_}" in lab for lab in labels)
    # the paper's figures have no cut to draw
    assert _above_each_cut(SpectraDisplay.from_estimator(est, kind="weights")) == {}


@pytest.mark.parametrize("n_values", [None, 3, 2])
def test_the_cut_is_drawn_whatever_n_values(n_values):
    # n_values at or below a row's rank hid its cut bar (nothing showed the rank)
    disp = SpectraDisplay([[1.0, 0.9, 0.01, 0.005]], ranks=[2], n_values=n_values).plot()
    (bars,) = [c for c in disp.ax_.collections if c.get_label() == "cut of the rank rule"]
    ((_, y), _), = bars.get_segments()
    assert y == pytest.approx(np.sqrt(0.9 * 0.01))
    plt.close("all")


@pytest.mark.parametrize("ranks, match", [([1, 2], "2 values for 3 rows"),
                                          ([1, -1, 2], "whole numbers"),
                                          ([[1, 2, 3]], "1-D")])
def test_spectra_ranks_one_whole_number_per_row(ranks, match):
    with pytest.raises(ValueError, match=match):
        SpectraDisplay([[1.0, 0.1]] * 3, ranks=ranks)


def test_a_fit_of_an_earlier_release_is_told_how_to_plot():
    # the default kind reads image_spectra_, which fits (and files) of releases
    # before it lack: "not a skrank estimator" misled (found by a review)
    est = _fitted()
    del est.image_spectra_
    with pytest.raises(ValueError, match="earlier release.*kind='weights'"):
        SpectraDisplay.from_estimator(est)
    assert SpectraDisplay.from_estimator(est, kind="weights").kind == "weights"



@pytest.mark.parametrize("kw, message", [
    # a string met arithmetic inside plot; a layer beyond the rows shaded nothing
    (dict(bottleneck_layer="a"), "bottleneck_layer must be an integer from 1 to 2"),
    (dict(bottleneck_layer=3), "bottleneck_layer must be an integer from 1 to 2"),
    (dict(bottleneck_layer=0), "bottleneck_layer must be an integer from 1 to 2"),
    (dict(bottleneck_layer=True), "bottleneck_layer must be an integer"),
    (dict(bottleneck_rank=-1), "bottleneck_rank must be an integer >= 0"),
    # a rank above a row's count of values drew no cut, silently
    (dict(ranks=[3, 1]), r"ranks\[0\] is 3, but row 1 holds 2 values"),
    # a list failed as 'unhashable type'
    (dict(kind=["weights"]), "kind must be one of"),
    (dict(spectra=[]), "spectra holds no row"),
])
def test_spectra_display_refuses_markers_it_cannot_draw(kw, message):
    args = dict(spectra=[[1.0, 0.1], [2.0, 0.5]])
    args.update(kw)
    with pytest.raises(ValueError, match=message):
        SpectraDisplay(args.pop("spectra"), **args)


def test_spectra_display_takes_a_jacobian_rank_of_many_points():
    # for kind='jacobian' the rows are points, and the layer marker is not drawn
    disp = SpectraDisplay([[1.0, 0.1]] * 3, kind="jacobian", bottleneck_layer=7,
                          bottleneck_rank=1)
    assert disp.bottleneck_layer == 7


def test_no_jacobian_points_is_said_by_name():
    # "spectra holds no row" blamed an argument the user never passed
    from skrank import DeepL2Regressor

    X = np.random.RandomState(0).randn(40, 3)
    reg = DeepL2Regressor(depth=3, width=8, max_iter=5, n_jacobian_points=0).fit(
        X, X[:, :2])
    with pytest.raises(ValueError, match="n_jacobian_points=0"):
        SpectraDisplay.from_estimator(reg, kind="jacobian")


def test_a_list_for_kind_is_a_clear_error_from_an_estimator_too():
    # the constructor refused it; from_estimator failed as 'unhashable type'
    with pytest.raises(ValueError, match="kind must be one of"):
        SpectraDisplay.from_estimator(_fitted(), kind=["images"])


def test_a_sweep_without_scores_draws_its_empty_panel_quietly():
    # documented: without mean_test_score the score panel stays empty; its legend
    # call warned "No artists with labels found to put in legend"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        disp = DepthSweepDisplay([2, 3], [1.0, 2.0], [1, 1]).plot()
    assert disp.ax_score_.get_legend() is None
