import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline

from skrank import AmbiguousRankWarning, BottleneckAutoencoder
from skrank.datasets import make_manifold, make_noisy_curve

from ._estimators import small

FAST = small(warmup_iter=2, random_state=0)


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason=(
    "issue 11, item 4 (missed in 0.2): read by its image on the data, the default "
    "autoencoder passes 2 dimensions on some seeds (it learns the identity of the "
    "plane); 0.1.0's weight-only reading reported 1 for a network that passed 2"))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rank_of_a_curve_in_the_plane_is_one(seed):
    X, _ = make_noisy_curve(300, noise=0.0, random_state=seed)
    ae = BottleneckAutoencoder(random_state=seed).fit(X)
    assert ae.bottleneck_rank_ == 1
    assert ae.transform(X).shape == (300, 1)


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason=(
    "issue 11, item 4 (missed in 0.2): with the isotropic normalization the rolled "
    "sheet reads 3 at the autoencoder's defaults (as it did after StandardScaler in "
    "0.1.0); the depth/regularity trade-off wins over the rank at depth 12"))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rank_of_a_rolled_sheet_in_3d_is_two(seed):
    X, _, dim = make_manifold(400, kind="swiss_roll", random_state=seed)
    ae = BottleneckAutoencoder(random_state=seed).fit(X)
    assert ae.bottleneck_rank_ == dim == 2
    # it reconstructs the sheet (it is not merely a rank-2 linear projection)
    pca_err = np.mean((PCA(2).fit(X).inverse_transform(PCA(2).fit(X).transform(X))
                       - X) ** 2)
    assert np.mean((ae.reconstruct(X) - X) ** 2) < pca_err / 3


def test_codes_decode_and_reconstruction():
    X, _ = make_noisy_curve(200, noise=0.0, random_state=0)
    ae = BottleneckAutoencoder(**{**FAST, "max_iter": 200}).fit(X)
    Z = ae.transform(X)
    assert Z.shape == (200, ae.bottleneck_rank_) and ae.n_components_ == ae.bottleneck_rank_
    # decoding the codes runs the layers after the bottleneck: it agrees with the
    # full forward pass up to the variance the codes leave out, which is what
    # bottleneck_fidelity_ measures
    full = ae.reconstruct(X)
    lost = np.sum((ae.inverse_transform(Z) - full) ** 2) / np.sum((full - full.mean(0)) ** 2)
    assert 1 - lost == pytest.approx(ae.bottleneck_fidelity_, abs=1e-4)
    ae = BottleneckAutoencoder(n_components=1, **{**FAST, "max_iter": 200}).fit(X)
    assert ae.transform(X).shape == (200, 1) and ae.n_components_ == 1
    with pytest.raises(ValueError, match="bottleneck has 1 coordinates"):
        ae.inverse_transform(np.zeros((3, 2)))


def test_exact_decoding_when_codes_keep_the_whole_layer():
    X, _ = make_noisy_curve(100, noise=0.05, random_state=0)
    ae = BottleneckAutoencoder(n_components=16, **FAST).fit(X)
    np.testing.assert_allclose(ae.decode(ae.encode(X)), ae.reconstruct(X), atol=1e-4)


def test_reconstruction_output_serves_as_denoising_step_in_a_pipeline():
    X, X_clean = make_noisy_curve(200, noise=0.05, random_state=0)
    y = X_clean[:, 1]
    ae = BottleneckAutoencoder(output="reconstruction", **FAST)
    pipe = make_pipeline(ae, Ridge()).fit(X, y)
    assert pipe.predict(X).shape == (200,)
    np.testing.assert_array_equal(pipe[0].transform(X), pipe[0].reconstruct(X))
    assert list(pipe[0].get_feature_names_out(["u", "v"])) == ["u", "v"]
    np.testing.assert_array_equal(ae.inverse_transform(X), X)


def test_codes_as_a_reducer_with_pandas_output():
    X, _ = make_noisy_curve(100, noise=0.05, random_state=0)
    df = pd.DataFrame(X, columns=["u", "v"])
    ae = BottleneckAutoencoder(n_components=2, **FAST).set_output(transform="pandas")
    out = ae.fit(df).transform(df)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["bottleneckautoencoder0", "bottleneckautoencoder1"]
    rec = BottleneckAutoencoder(output="reconstruction", **FAST)
    rec.set_output(transform="pandas")
    assert list(rec.fit(df).transform(df).columns) == ["u", "v"]


def test_rows_without_the_fits_column_names_warn_once_per_call():
    # score and denoise checked X twice: sklearn's warning came twice per call
    X, _ = make_noisy_curve(60, noise=0.05, random_state=0)
    df = pd.DataFrame(X, columns=["u", "v"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ae = BottleneckAutoencoder(**FAST).fit(df)
        dae = BottleneckAutoencoder(**FAST, data_noise=0.05,
                                    output="reconstruction").fit(df)
    for read in (ae.score, ae.denoise, dae.denoise, dae.transform):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            read(X)
        names = [w for w in caught if "feature names" in str(w.message)]
        assert len(names) == 1, read


def test_n_components_too_large_is_a_clear_error():
    X, _ = make_noisy_curve(50, random_state=0)
    with pytest.raises(ValueError, match="n_components=99 exceeds"):
        BottleneckAutoencoder(n_components=99, **FAST).fit(X)


@pytest.mark.slow
def test_input_noise_training_denoises_better_than_pca():
    from sklearn.decomposition import PCA

    _, clean = make_noisy_curve(600, noise=0.0, random_state=0)
    train, test = clean[:300], clean[300:]
    rng = np.random.default_rng(1)
    noisy = test + 0.1 * rng.standard_normal(test.shape)
    ae = BottleneckAutoencoder(input_noise=0.1, random_state=0).fit(train)
    err_ae = np.mean(np.sum((ae.reconstruct(noisy) - test) ** 2, axis=1))
    best_pca = min(
        np.mean(np.sum((PCA(k).fit(train).inverse_transform(
            PCA(k).fit(train).transform(noisy)) - test) ** 2, axis=1)) for k in (1, 2))
    err_noisy = np.mean(np.sum((noisy - test) ** 2, axis=1))
    assert err_ae < 0.7 * best_pca and err_ae < 0.7 * err_noisy
    # the training pairs are noisy copies, the diagnostics use the clean points:
    # a map that projects onto the curve contracts the normal direction there
    # (an identity would keep both singular values of its Jacobian equal)
    J = ae.jacobian_spectra_
    assert np.median(J[:, 1] / J[:, 0]) < 0.25  # measured 0.14; 0.34 without noise


def test_score_is_reconstruction_r2():
    X, _ = make_noisy_curve(120, noise=0.05, random_state=0)
    ae = BottleneckAutoencoder(**FAST).fit(X)
    X_hat = ae.reconstruct(X)
    expected = 1 - np.sum((X - X_hat) ** 2) / np.sum((X - X.mean(0)) ** 2)
    assert ae.score(X) == pytest.approx(expected)
    assert ae.score(X) > ae.score(X + 1.0)  # a shifted copy is reconstructed worse
    # one row has no spread: nan and a warning, as scikit-learn's r2_score (was 0.0)
    with pytest.warns(UndefinedMetricWarning, match="less than two samples"):
        assert np.isnan(ae.score(X[:1]))


def test_no_bottleneck_found_is_said():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 3))  # fills R^3: nothing to compress
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        BottleneckAutoencoder(**{**FAST, "alpha": 1e-4}).fit(X)
    said = [str(w.message) for w in caught if "passes all 3 input dimensions" in
            str(w.message)]
    assert len(said) == 1 and "concerns bottleneck_rank_ only" not in said[0]
    # an upper bound, and no advice that the guide measured to fail (a larger
    # depth, alpha or a depth search: the warning sent users round in a circle)
    assert "only an upper bound" in said[0] and "try a larger" not in said[0]
    assert "fit with input_noise='auto', alpha=0.001 and read local_dimension_" in said[0]
    # a denoising fit (the local dimension's setting): the same warning says that
    # it concerns bottleneck_rank_ only (an audit met it on every such fit)
    with pytest.warns(AmbiguousRankWarning, match="passes all 3 input dimensions.*"
                      "concerns bottleneck_rank_ only: local_dimension_"):
        BottleneckAutoencoder(**{**FAST, "alpha": 1e-4, "input_noise": 0.2}).fit(X)


def _sparse_warnings(X, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ae = BottleneckAutoencoder(**{**FAST, "max_iter": 5, **kw}).fit(X)
    return ae, [w for w in caught if "local_dimension_ may" in str(w.message)]


def test_noise_below_the_spacing_of_the_samples_is_said():
    # 150 points filling a 3-d box lie about 0.4 apart: noise of 0.2 then pulls
    # points towards the nearest sample instead of projecting (measured: a 3-d
    # affine space read 2 at n=600, 3 at n=2000)
    rng = np.random.default_rng(0)
    box = rng.uniform(-1.7, 1.7, (150, 3)) @ np.linalg.qr(rng.standard_normal((5, 3)))[0].T
    ae, said = _sparse_warnings(box, input_noise=0.2)
    assert len(said) == 1 and issubclass(said[0].category, AmbiguousRankWarning)
    spacing = float(str(said[0].message).split("median ")[1].split(" apart")[0])
    assert 0.2 < spacing < 1.0
    # the same points given twice lie as far apart (a repeat is no neighbour)
    assert len(_sparse_warnings(np.vstack([box, box]), input_noise=0.2)[1]) == 1
    # in any units: the same data x100 with noise x100
    big = _sparse_warnings(100 * box, input_noise=20.0)[1]
    assert len(big) == 1 and f"median {100 * spacing:.3g} apart" in str(big[0].message)
    # one partial_fit call's rows are not the data's spacing
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        BottleneckAutoencoder(**{**FAST, "solver": "adam"}, input_noise=0.2).partial_fit(box)
    assert not [w for w in caught if "may under-count" in str(w.message)]
    # larger noise, or a curve's dense samples: no word
    assert not _sparse_warnings(box, input_noise=1.5 * spacing)[1]
    t = rng.uniform(0, 3, 300)
    curve = np.column_stack([np.cos(t), np.sin(t), t / 3])
    assert not _sparse_warnings(curve, input_noise=0.2)[1]
    # a denoiser (of noisy data, or returning reconstructions) is not warned
    assert not _sparse_warnings(box, input_noise=0.2, data_noise=0.2)[1]
    assert not _sparse_warnings(box, input_noise=0.2, output="reconstruction")[1]


def test_auto_noise_is_the_spacing_of_the_samples_at_least_0_2_in_any_units():
    from skrank.autoencoder import _median_spacing

    rng = np.random.default_rng(0)
    box = rng.uniform(-1.7, 1.7, (150, 3)) @ np.linalg.qr(rng.standard_normal((5, 3)))[0].T
    ae, said = _sparse_warnings(box, input_noise="auto")
    spacing = _median_spacing((box - ae.input_mean_) / ae.input_scale_)
    assert spacing > 0.2 and ae.input_noise_ == pytest.approx(spacing * ae.input_scale_)
    # raised above 0.2: the reading is at the sparse limit, and says so
    assert len(said) == 1 and "raised the noise" in str(said[0].message)
    big, said = _sparse_warnings(100 * box, input_noise="auto")
    assert big.input_noise_ == pytest.approx(100 * ae.input_noise_) and len(said) == 1
    # dense samples (a curve): the documented 0.2 of the normalized units, no word
    t = rng.uniform(0, 3, 300)
    curve = 5 * np.column_stack([np.cos(t), np.sin(t), t / 3])
    ae, said = _sparse_warnings(curve, input_noise="auto")
    assert ae.input_noise_ == pytest.approx(0.2 * ae.input_scale_) and not said
    # one partial_fit call's rows are sparser than the data: 0.2 there
    ae = BottleneckAutoencoder(**{**FAST, "solver": "adam"}, input_noise="auto")
    assert ae.partial_fit(box).input_noise_ == pytest.approx(0.2 * ae.input_scale_)
    assert _sparse_warnings(box, input_noise=0.3)[0].input_noise_ == 0.3
    # a number is kept as given (0.1 / s * s is not 0.1 for this s)
    ae = BottleneckAutoencoder(input_noise=0.1)
    ae.input_scale_ = 2.5766571301381935
    ae._noise_level(box, None)
    assert ae.input_noise_ == 0.1
    assert BottleneckAutoencoder(**FAST).fit(box).input_noise_ == 0.0


@pytest.mark.slow
def test_auto_noise_reads_a_sparse_3_sphere_where_0_2_under_counts():
    # the unit 3-sphere in R^4, 600 points, standardized (spacing 0.35): read 2 at
    # 0.2, 3 at 'auto' (70% of the points). Not a sure thing: on scikit-dimension's
    # manifolds of dimension 3-4 at n=600, 10 of 14 right at 'auto' against 3 of 14
    # at 0.2; of three generators of ours this is the one 'auto' read right (a
    # solid 3-cube in R^5 and this sphere rotated into R^6 read 2 at both)
    from sklearn.preprocessing import StandardScaler

    x = np.random.default_rng(11).standard_normal((600, 4))
    X = StandardScaler().fit_transform(x / np.linalg.norm(x, axis=1, keepdims=True))
    dims = {}
    for noise in (0.2, "auto"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ae = BottleneckAutoencoder(input_noise=noise, alpha=0.001, random_state=0).fit(X)
        dims[noise] = ae.local_dimension_
    assert dims == {0.2: 2, "auto": 3}


def test_a_fit_said_to_pass_its_span_gets_no_second_rank_warning(monkeypatch):
    # the span's warning did not count as the fit's word on its rank, so a
    # rival's warning came on top of it: two warnings for one reading
    import skrank._base as base

    monkeypatch.setattr(base, "_warn_if_rivals_disagree", lambda *a: warnings.warn(
        "RIVAL", AmbiguousRankWarning, stacklevel=2))
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 3)) @ np.linalg.qr(rng.standard_normal((6, 3)))[0].T
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        BottleneckAutoencoder(**{**FAST, "alpha": 1e-4}).fit(X)
    said = [str(w.message) for w in caught if w.category is AmbiguousRankWarning]
    assert len(said) == 1 and "linear span" in said[0], said


def test_passing_the_linear_span_is_said():
    # a Gaussian cloud filling a 3-d subspace of R^6: the autoencoder must pass 3
    # dimensions, which is what PCA keeps, not a bottleneck of its own
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.standard_normal((6, 3)))[0]
    X = rng.standard_normal((100, 3)) @ basis.T
    with pytest.warns(AmbiguousRankWarning, match=r"linear span of the data \(3 of 6"):
        ae = BottleneckAutoencoder(**{**FAST, "alpha": 1e-4}).fit(X)
    report = ae.diagnose(X)
    assert (ae.bottleneck_rank_, report.input_rank) == (3, 3)
    # the same network read against a wider span: a bottleneck of its own, no word;
    # nor on a sample that bounds the span by its rows (a partial_fit batch)
    assert ae._span_message(dataclasses.replace(report, input_rank=4)) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error", AmbiguousRankWarning)
        assert ae.diagnose(X[:5]).input_rank is None
        assert ae._span_message(ae.diagnose(X[:5])) is None
    # constant data span nothing (exact zeros in float64, not rounding noise)
    import torch

    from skrank.diagnostics import input_rank
    assert input_rank(torch.full((50, 4), 0.1, dtype=torch.float32)) == 0
    # the regressor does not pay for the SVD
    from skrank import DeepL2Regressor
    reg = DeepL2Regressor(**{k: v for k, v in FAST.items() if k != "warmup_iter"})
    assert reg.fit(X, X[:, :2]).diagnose(X).input_rank is None


# ---- local dimension (issue 11, item 4) ---------------------------------------------
def test_local_dimension_counts_singular_values_of_a_projection():
    # the Jacobian of an orthogonal projection onto a plane in R^4 has singular
    # values 1, 1, 0, 0 everywhere: local dimension 2, whatever its scale elsewhere
    import torch

    from skrank.diagnostics import jacobian_spectra, local_dimension

    Q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((4, 2)))
    net = torch.nn.Linear(4, 4, bias=False).double()
    with torch.no_grad():
        net.weight.copy_(torch.from_numpy(Q @ Q.T))
    spectra = jacobian_spectra(net, torch.randn(5, 4, dtype=torch.float64))
    np.testing.assert_allclose(spectra, [[1, 1, 0, 0]] * 5, atol=1e-12)
    assert local_dimension(spectra).tolist() == [2] * 5
    # 1/2 is the cut: a contraction by 0.6 across still counts, 0.4 does not
    assert local_dimension([[1.0, 0.6, 0.4]]).tolist() == [2]


def test_local_dimension_needs_a_denoising_autoencoder():
    X, _ = make_noisy_curve(60, noise=0.0, random_state=0)
    ae = BottleneckAutoencoder(**FAST).fit(X)
    assert ae.local_dimension_ is None
    with pytest.raises(ValueError, match="input_noise > 0"):
        ae.local_dimension(X)
    dae = BottleneckAutoencoder(input_noise=0.1, **FAST).fit(X)
    dims = dae.local_dimension(X[:7])
    assert dims.shape == (7,) and dims.dtype.kind == "i"
    assert 0 <= dae.local_dimension_ <= dae.bottleneck_rank_


@pytest.mark.parametrize("counts, warns", [
    ((27, 23), True), ((30, 20), True), ((31, 19), False), ((30, 10, 10), True),
    ((34, 16), False), ((5, 4), False), ((1, 2), False)])
def test_a_split_local_dimension_warns(monkeypatch, counts, warns):
    # a held-out 2-sphere read 1 at 27 Jacobian points of 50 and 2 at 23: the
    # lower median is close to a coin flip, and nothing said so; 40% of the
    # points or more read another dimension, of 10 points or more
    import skrank.autoencoder as module

    dims = np.repeat(np.arange(1, len(counts) + 1), counts)
    monkeypatch.setattr(module, "local_dimension", lambda spectra: dims)
    X, _ = make_noisy_curve(60, noise=0.0, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dae = BottleneckAutoencoder(input_noise=0.1, **FAST).fit(X)
    split = [w for w in caught if "Jacobian points that disagree" in str(w.message)]
    assert dae.local_dimension_ == (1 if counts[0] >= sum(counts) / 2 else 2)
    assert bool(split) is warns
    if warns:
        assert issubclass(split[0].category, AmbiguousRankWarning)
        assert f"{counts[0]} read 1, {counts[1]} read 2" in str(split[0].message)


def _knot_in_r5(n, rng):
    t = rng.uniform(0, 2 * np.pi, n)
    P = np.column_stack([np.sin(t) + 2 * np.sin(2 * t), np.cos(t) - 2 * np.cos(2 * t),
                         -np.sin(3 * t)])
    Q, _ = np.linalg.qr(rng.standard_normal((5, 3)))
    return P @ Q.T


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_local_dimension_of_a_closed_curve_and_a_sphere(seed):
    # generators of this test only: a trefoil knot rotated into R^5 (d = 1) and the
    # unit sphere in R^3 (d = 2), standardized, at the documented setting
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    knot = StandardScaler().fit_transform(_knot_in_r5(600, rng))
    x = rng.standard_normal((600, 3))
    sphere = StandardScaler().fit_transform(x / np.linalg.norm(x, axis=1, keepdims=True))
    for X, d in ((knot, 1), (sphere, 2)):
        ae = BottleneckAutoencoder(input_noise="auto", alpha=0.001, random_state=seed).fit(X)
        assert ae.local_dimension_ == d
        # a majority, as the median over the Jacobian points says (60-95% measured)
        assert np.mean(ae.local_dimension(X[:100]) == d) > 0.5


def test_local_dimension_reads_the_rank_whatever_n_components():
    # n_components only says how many codes transform returns: the local dimension
    # at the Jacobian points and at the same points through the method agree
    from skrank.diagnostics import local_dimension

    rng = np.random.default_rng(0)
    X = np.column_stack([rng.uniform(-1, 1, (80, 2)), np.zeros(80)]) @ \
        np.linalg.qr(rng.standard_normal((3, 3)))[0]
    assert BottleneckAutoencoder().get_params()["n_jacobian_points"] == 50
    base = {**FAST, "max_iter": 60, "input_noise": 0.2, "alpha": 0.001}
    ref = BottleneckAutoencoder(**base).fit(X)
    assert ref.bottleneck_rank_ >= 2
    for n_components in (1, ref.bottleneck_rank_ + 1):
        ae = BottleneckAutoencoder(n_components=n_components, **base).fit(X)
        assert ae.bottleneck_rank_ == ref.bottleneck_rank_
        assert ae.transform(X).shape[1] == n_components
        np.testing.assert_array_equal(ae.local_dimension(X), ref.local_dimension(X))
    assert (ref.local_dimension(X) == 2).mean() > 0.5     # the plane's dimension
    # the attribute is the lower median of the counts at the Jacobian points
    counts = np.sort(local_dimension(ref.jacobian_spectra_))
    assert ref.local_dimension_ == counts[(len(counts) - 1) // 2]


def _strip(length, n=300, seed=0):
    """A flat ``length x 1`` rectangle in R^3 (held out: not in skrank.datasets),
    standardized: a sheet whose second side is thin against its first."""
    from sklearn.preprocessing import StandardScaler

    rng = np.random.RandomState(seed)
    t, s = rng.uniform(0, length, n), rng.uniform(0, 1, n)
    X = np.outer(t, [1, 1, 1]) / np.sqrt(3) + np.outer(s, [1, -1, 0]) / np.sqrt(2)
    return StandardScaler().fit_transform(X)


def _local_fit(X, seed=0):
    dae = BottleneckAutoencoder(input_noise="auto", alpha=0.001, depth=4, width=16,
                                random_state=seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dae.fit(X)
    return dae, [str(w.message) for w in caught
                 if issubclass(w.category, AmbiguousRankWarning)]


@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow)])
def test_a_thin_sheet_cut_to_a_curve_is_said(seed):
    """The rank rule weighs variance over the data: a 10 x 1 strip's narrow side is
    cut, and the local dimension read through the cut reads 1 (a held-out audit: 7
    fits of 7 silent). The network's own Jacobian passes both sides."""
    dae, messages = _local_fit(_strip(10, seed=seed), seed)
    assert dae.bottleneck_rank_ == 1 and dae.local_dimension_ == 1
    assert any("the network's own Jacobian" in m and "local_dimension_" in m
               and "thin in the dropped direction" in m for m in messages)
    with pytest.warns(AmbiguousRankWarning, match="thin in the dropped direction"):
        dae.diagnose(_strip(10, seed=seed))


def test_a_plain_autoencoder_told_of_its_cut_is_not_sent_to_a_local_dimension():
    """Without input_noise there is no local dimension to doubt, nor noise to raise."""
    ae = BottleneckAutoencoder(depth=4, width=16, alpha=0.001, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ae.fit(_strip(10))
    said = [str(w.message) for w in caught if "the network's own Jacobian" in str(w.message)]
    assert ae.bottleneck_rank_ == 1 and len(said) == 1
    assert "thin in the dropped direction" in said[0]
    assert "local_dimension" not in said[0] and "input_noise" not in said[0]


def test_directions_no_row_varies_in_do_not_count_above_the_cut():
    """A short fit leaves the network passing directions the data never take (a
    3-d cloud in R^6 read 4 above a cut of 3): not a direction the cut dropped."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 3)) @ np.linalg.qr(rng.standard_normal((6, 3)))[0].T
    ae = BottleneckAutoencoder(**{**FAST, "alpha": 1e-4})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ae.fit(X)
    from skrank import diagnostics

    x = ae._check_X(X)
    uncut = diagnostics.diagnose(ae.module_, x, jacobian_points=x[:10])
    assert uncut.network_jacobian_rank > ae.bottleneck_rank_ == 3  # off the data
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = ae.diagnose(X)
    assert report.network_jacobian_rank <= 3
    assert not [w for w in caught if "the network's own Jacobian" in str(w.message)]


@pytest.mark.slow  # a default fit of a sheet, about 5 s
def test_a_sheet_read_whole_raises_no_cut_warning():
    dae, messages = _local_fit(_strip(3), 0)
    assert dae.bottleneck_rank_ == 2 and dae.local_dimension_ == 2
    assert not any("the network's own Jacobian" in m for m in messages)


@pytest.mark.slow  # a denoising fit of a sheet at its defaults, about 7 s
def test_a_projection_read_below_its_cut_is_no_contradiction():
    """A denoising autoencoder projects a helix onto a curve through a 3-d cut: its
    Jacobian reads below the bottleneck by design, which warns a regressor only."""
    from sklearn.preprocessing import StandardScaler

    t = np.random.default_rng(0).uniform(0, 6, 400)
    X = StandardScaler().fit_transform(np.column_stack([np.cos(t), np.sin(t), t / 3]))
    dae, messages = _local_fit(X)
    assert dae.jacobian_rank_ < dae.bottleneck_rank_ == 3 and dae.local_dimension_ == 1
    assert len(messages) == 1 and "passes all 3 input dimensions" in messages[0]
