"""Deep L2 autoencoders that find the data's bottleneck and denoise."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import TransformerMixin, _fit_context
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    _check_feature_names_in,
    _num_samples,
    check_is_fitted,
    validate_data,
)

from ._base import (
    AmbiguousRankWarning,
    _DeepL2Base,
    _distinct_rows,
    _FullyConnected,
    _stochastic,
)
from ._denoise import MIN_ROWS, _check_level, impossibly_low, sure_gain, sure_risk
from ._device import user_array
from ._params import Count
from ._tasks import Reconstruction
from ._warn import warn_user
from .diagnostics import Bottleneck, factored_jacobian_spectra, local_dimension

__all__ = ["BottleneckAutoencoder"]


#: ``input_noise='auto'`` is at least this, in the units of the normalized inputs:
#: the setting documented before 'auto' existed, on standardized data below the
#: distance between the sheets of the rolled manifolds of ``bench_rank.py``.
AUTO_NOISE = 0.2


def _median_spacing(X, n_queries=500):
    """Median distance from a distinct row of ``X`` to its nearest other one, over
    at most ``n_queries`` rows (a fixed draw: readings stay reproducible), each
    against all rows."""
    # a repeated row is no neighbour: the median would read 0 on data given twice
    X = np.unique(X, axis=0)
    if X.shape[0] < 2:
        return None
    rows = np.random.RandomState(0).permutation(X.shape[0])[:n_queries]
    dist, _ = NearestNeighbors(n_neighbors=2).fit(X).kneighbors(X[rows])
    return float(np.median(dist[:, 1]))


#: The span warnings' reading and advice. Measured (the guide's "Trusting the rank",
#: section 5; scikit-dimension's manifolds, standardized, n=600): a larger depth (18,
#: 24) stopped in local minima of higher objective, a larger alpha collapsed the data
#: instead of unrolling them, and RankAwareDepthSelector over depths and alphas chose
#: the span on the swiss roll and an open spiral: the lower readings they reach are
#: not the manifold's, so the warning no longer sends users there.
_UPPER_BOUND = (
    "bottleneck_rank_ is then only an upper bound of the manifold's bottleneck "
    "dimension: on curved sheets and curves a larger depth or alpha read lower only "
    "in local minima or by collapsing the data, and a depth search chose the span "
    "(the guide's 'Trusting the rank', section 5).")


def _in_user_units(risk, scale):
    """A squared error of the network's units in the data's: ``inf`` where it is
    beyond float64 (data near 1e300), not an OverflowError."""
    with np.errstate(over="ignore"):
        return float(np.float64(scale) ** 2 * risk)


def _warn_if_noise_overstated(risk, sigma, n, D, rows="held-out rows", scale=1.0):
    """Stein's estimate ``risk`` (in the network's units, where the noise is
    ``sigma``; ``scale`` the data's unit in them) below what a squared error can be
    (``skrank._denoise.impossibly_low``): the calibrated step then over-smooths
    (measured: data of noise 0.01 read as 0.1 gave a risk of -0.11 per point, and a
    step 25 times f(X)'s error at 2x)."""
    if impossibly_low(risk, sigma, n, D):
        warn_user(
            f"Stein's estimate of the denoising error reads "
            f"{_in_user_units(risk, scale):.3g} per point on "
            f"the {rows}, below zero beyond its sampling error: the rows hold less "
            f"noise than data_noise={sigma * scale:.3g} (or noise that is not Gaussian in "
            "every feature, or rows the network was fitted to). A score or search "
            "then rewards the overstated noise, and the calibrated step "
            "(denoising_gain_) over-smooths: pass the standard deviation of the "
            "noise in each feature.", UserWarning)


#: ``local_dimension_`` warns when at least this share of its Jacobian points read
#: another dimension than the median: an almost even split, one the points'
#: sampling could tip (two standard errors of a share of 1/2 over 50 points are
#: 0.14). Points disagree on right readings too: a sphere read 2 at 31 points of
#: 50, 1 at 18 and 3 at 1 (milder: silent), rolled sheets 2 at 28 and 1 at 22, as
#: even as the wrong 27 to 23 (and warned).
SPLIT_SHARE = 0.4

#: Fewer Jacobian points than this say too little to call a split (a
#: ``partial_fit`` batch of 5 rows reads 5 points).
SPLIT_MIN_POINTS = 10


def _warn_if_split(dims, local):
    """Say when :data:`SPLIT_SHARE` or more of the Jacobian points read another
    local dimension than their median, which is then close to a coin flip (a
    held-out 2-sphere read 1 at 27 points of 50 and 2 at 23, with no other word;
    over 500 points 240 read 1 and 253 read 2)."""
    values, counts = np.unique(dims, return_counts=True)
    other = len(dims) - counts[values == local].sum()
    if len(dims) < SPLIT_MIN_POINTS or other < SPLIT_SHARE * len(dims):
        return
    split = ", ".join(f"{c} read {v}" for v, c in zip(values.tolist(), counts.tolist()))
    warn_user(
        f"local_dimension_={local} is the lower median of Jacobian points that "
        f"disagree ({split} of {len(dims)}): {other} of them, {SPLIT_SHARE:.0%} or "
        "more, read "
        "another dimension, right readings of rolled sheets as well as wrong "
        "ones of spheres. Read the distribution (local_dimension(X) gives one "
        "count per point) before trusting the median.", AmbiguousRankWarning)


class BottleneckAutoencoder(_FullyConnected, TransformerMixin, _DeepL2Base):
    """A deep L2-regularized network trained to reproduce its input.

    Fits ``f: R^d -> R^d`` minimizing ``(1/(N d)) sum_i ||f(x_i) - x_i||^2 +
    (alpha / L) ||theta||^2``: the reconstruction error is averaged over the ``d``
    features, so that ``alpha`` does not grow weaker with their number (summed,
    as the regressor's error is over its outputs, a 64-pixel image would need an
    ``alpha`` 32 times larger than a point in the plane). The penalty's bias
    towards low bottleneck rank makes
    ``f`` factor through ``k`` dimensions, ``k`` the dimension of the data manifold
    when depth and ``alpha`` recover it; ``f`` is then the identity on the manifold
    and a projection onto it nearby, so the reconstruction of a noisy point lies
    on the learned manifold: the autoencoder denoises (Jacot 2023a, sec. 5).

    Parameters
    ----------
    n_components : int or None, default=None
        Number of bottleneck coordinates :meth:`transform` returns; ``None`` uses
        the recovered ``bottleneck_rank_`` (at least 1). At most ``min(width,
        training rows, n_diagnostic_samples)`` (the rows ``data_noise`` holds out
        do not count), checked before training. Coordinates beyond
        ``bottleneck_rank_`` are the representation's weak directions: near
        constant, they carry little or nothing of the data. Fewer drop directions
        the network uses, as a truncated PCA does: :meth:`inverse_transform` of
        such codes loses them while :meth:`score` reads the whole network (an
        audit's sphere, ``bottleneck_rank_`` 3: the R^2 of
        ``inverse_transform(transform(X))`` 0.99 at 3 codes, 0.57 at 2, -0.03 at 1).
    output : {'codes', 'reconstruction'}, default='codes'
        What :meth:`transform` returns: the ``k`` bottleneck coordinates (a
        reducer, like PCA) or the reconstruction in input space, :meth:`denoise`
        (a denoising preprocessing step).
    input_noise : float >= 0 or 'auto', default=0.0
        Train as a *denoising* autoencoder: inputs are ``n_noisy_copies`` copies
        of ``X`` with Gaussian noise of this standard deviation (in the units of
        ``X``; ``input_noise_`` after fit), targets the points themselves. The
        network then learns the projection of nearby points onto the data, not
        only the identity on it.
        Set it to the noise level expected at ``transform`` time. The network
        learns the projection (and not the identity) only when projecting wins
        against the penalty: the gain is proportional to the noise variance, the
        projection's penalty is not, so ``alpha`` must be small next to
        ``(input_noise / input_scale_)**2``. To read the data's local dimension
        (``local_dimension_``) use ``input_noise='auto', alpha=0.001`` on
        standardized inputs. 'auto' is the median distance from a training point
        to its nearest neighbour, at least ``0.2 * input_scale_`` (0.2 on
        standardized inputs: smaller than the distance between the sheets of a
        rolled manifold). Noise below the spacing of the samples mixes too few of
        them for the network to learn the projection, and the local dimension
        under-counts: on 17 manifolds of dimension 3 and 4 at n=600, 3 readings
        were right at 0.2 and 11 at 'auto' (5 read one less, 1 one more).
        ``alpha`` about 0.03 times the noise variance or less (at the default
        ``alpha=0.03`` the network keeps near-identity Jacobians). In
        ``partial_fit`` 'auto' is ``0.2 * input_scale_``.
    data_noise : float >= 0, default=0.0
        The standard deviation of Gaussian noise already in the training data ``X``
        (in its units, the same in every feature: scale the features as the noise
        is, not by ``StandardScaler``, which makes it unequal), when the data
        are themselves noisy and no clean copy exists: the usual case of
        denoising. Then :meth:`denoise` (and :meth:`transform`
        with ``output='reconstruction'``) returns ``X + c (f(X) - X)``, the step
        ``c`` (``denoising_gain_``) chosen to minimize Stein's unbiased estimate
        of the squared error to the clean data (``denoising_risk_``), which needs
        the noisy data only. ``fit`` holds ``validation_fraction`` of the rows out
        of training to read it on (on the rows the network was fitted to the
        estimate is optimistic; with ``early_stopping`` the validation rows serve
        both; a ``warm_start`` refit on the same data holds out the same rows with
        an integer ``random_state``; copies of a row, which share its noise, count
        once, and held-out rows of fewer than two distinct points leave ``c = 1``
        with a warning); ``partial_fit`` has no held-out rows and does not
        calibrate (``c = 1``). A
        network trained on noisy data learns a shrinkage towards the noisy points,
        not the clean ones: it removes about half the noise across the manifold
        (``c`` near 2 then) or, with ``alpha`` strong against the noise,
        over-smooths (``c`` below 1). ``0``: no calibration (``c = 1``), for
        clean training data (Stein's estimate would read clean data as noisy).
        For denoising noisy data use ``input_noise=data_noise=sigma``
        (``benchmarks/bench_rank.py`` measures it against PCA and KernelPCA).
        A ``data_noise`` above the noise the rows hold shows as a negative risk
        (beyond its sampling error): ``fit`` then warns that the step over-smooths.
    n_noisy_copies : int, default=4
        Noisy copies of each training point when ``input_noise > 0`` (drawn once,
        from ``random_state``, so the objective is deterministic for L-BFGS).
    depth, width, activation, negative_slope, alpha, penalty_scaling, \
penalize_bias, bias, init, solver, learning_rate_init, momentum, batch_size, max_iter, \
warmup_iter, tol, n_iter_no_change, early_stopping, validation_fraction, warm_start, \
rank_tol, rank_gap, \
n_diagnostic_samples, n_jacobian_points, track_rank_every, normalize, dtype, device, \
random_state, verbose, n_init, n_threads
        As in :class:`DeepL2Regressor`, but ``alpha=0.03`` (on the feature-averaged
        error; measured on noisy digits: 0.01 keeps 9 dimensions and denoises
        worse, 0.1 collapses to a constant), ``batch_size=50`` and
        ``warmup_iter=100``: full-batch
        L-BFGS alone stalls far from the optimum on reconstruction tasks (measured
        on a rolled sheet: objective 4.3 after 2,500 iterations, against 0.31 with
        the Adam warm-up); ``n_jacobian_points=50`` (``local_dimension_`` is a
        median over them: over 10 points, a rolled sheet whose points read 2 at
        two points in three read 1 on two seeds of three); ``init='auto'`` trains
        on from the grown start only a random fit that ends above that start's
        objective before its deep stage, or above the zero network's, and keeps
        the lower (the manifold readings of ``benchmarks/bench_rank.py`` were
        measured so; keeping the lower of both full fits read a plane's local
        dimension as 1 instead of 2 in a short fit); ``early_stopping=False``
        (a boolean: no ``'auto'``); with ``early_stopping`` the validation score
        is the reconstruction R^2.

    Attributes
    ----------
    n_components_ : int
        Number of columns of :meth:`transform` with ``output='codes'``.
    module_ : torch.nn.Module
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Only when ``X`` has string column names.
    device_ : str
    loss_curve_ : ndarray of shape (warm-up iterations + `n_iter_`,)
    n_iter_ : int
        Iterations of the solver at full depth, at most ``max_iter`` (warm-up
        epochs and the shallow stage of a grown start not counted, see ``init``);
        each ``partial_fit`` call adds one, after ``fit`` too.
    early_stopping_ : bool
        Whether the fit held rows out and stopped on their score (``early_stopping``).
    validation_scores_ : ndarray of shape (warm-up iterations + `n_iter_`,) or None
    best_validation_score_ : float or None
    stop_reason_ : str
    train_time_ : float
    layer_spectra_ : list of ndarray
    representation_spectra_ : ndarray of shape (depth - 1, min(n, width))
    layer_ranks_ : ndarray of shape (depth,)
    image_spectra_ : list of ndarray
        Singular values of each map's centered image on the data, one array per
        entry of ``layer_ranks_``: the spectra the rank rule reads
        (``SpectraDisplay.from_estimator`` draws them with each cut).
    bottleneck_rank_ : int
        The dimension the autoencoder passes the data through: usually an upper
        bound of the least dimension the data can be mapped into and back (an open
        curve 1, a closed curve or an open sheet 2), often the data's linear span;
        below it where ``alpha`` drops a weak direction or a fit stops in a local
        minimum (``docs/trusting_the_rank.md``, section 5). At depth 12 the penalty
        often finds it cheaper to pass a curved manifold through more dimensions than it needs
        (the rank/regularity trade-off); then the autoencoder passes the linear
        span of the data (its rank by the same rule) and says so with an
        :class:`AmbiguousRankWarning`.
    bottleneck_layer_ : int
    bottleneck_components_ : ndarray of shape (`n_components_`, width)
    bottleneck_mean_ : ndarray of shape (width,)
    bottleneck_gap_ : float
        Evidence for ``bottleneck_rank_``: the ratio ``s_k / s_{k+1}`` at the cut
        in the narrowest map's spectrum (at least ``rank_gap`` when clear).
    bottleneck_fidelity_ : float
        R^2 of the reconstruction passed through its ``k`` bottleneck coordinates
        against the network's own reconstruction, on the diagnostic sample (below
        0.9 an ``AmbiguousRankWarning`` is issued).
    jacobian_spectra_ : ndarray of shape (n_jacobian_points, `n_features_in_`)
        Singular values of the Jacobian at ``n_jacobian_points`` training points.
    jacobian_rank_ : int or None
        Rank of the Jacobian of ``f`` (passed through the bottleneck coordinates),
        read by the rank rule: at most ``bottleneck_rank_`` (``None`` when
        ``n_jacobian_points=0``).
    denoising_gain_ : float
        The step ``c`` of :meth:`denoise` (see ``data_noise``); 1.0 when
        ``data_noise=0``, after ``partial_fit``, and when the held-out rows hold
        fewer than two distinct points the network was not fitted to (a warning
        says so).
    denoising_risk_ : float or None
        With ``data_noise > 0``: Stein's estimate of the squared error of
        :meth:`denoise` to the clean points, summed over the features and averaged
        over the distinct held-out rows (copies of a row count once, and rows with a
        copy among the training rows not at all), in squared units of ``X``.
        Unbiased for a step fixed in advance; taken at the step chosen on the same
        rows, it is low by about ``1 / n_held_out`` of the noise variance per
        feature; its standard error is about
        ``data_noise**2 * sqrt(2 * n_features / n_held_out)`` (the held-out noise's
        own squared norm: 0.08 for 30 rows of 12 features at 0.3; ``n_held_out``
        counts the distinct rows). Unweighted by
        ``sample_weight``. ``None`` otherwise, after ``partial_fit`` (which holds no
        rows out), and when ``denoising_gain_`` is 1 for want of rows.
    local_dimension_ : int or None
        With ``input_noise > 0``: the local (intrinsic) dimension of the data, the
        lower median over the Jacobian points of the number of the Jacobian's
        singular values above 1/2 (a projection onto a ``d``-dimensional manifold
        has ``d`` values near 1, the others near 0); see :meth:`local_dimension`.
        ``None`` without noise (the identity's Jacobian says nothing of it) or
        with ``n_jacobian_points=0``. With ``output='codes'`` and no
        ``data_noise``, an ``AmbiguousRankWarning`` says when ``input_noise`` is
        below the median
        distance between the training points: the network then fits its few
        noisy copies of each point, and the reading may under-count; with
        ``input_noise='auto'`` it says when the noise had to be raised to a
        spacing above ``0.2 * input_scale_`` (a reading that may be off by one).
        Whatever ``output`` and ``data_noise``, with 10 Jacobian points or
        more, it says when 40% of them or more read another dimension than the
        median (right readings too: rolled sheets split 28 to 22 of 50). The
        Jacobian is read through the bottleneck's cut, so the reading is at most
        ``bottleneck_rank_``; an ``AmbiguousRankWarning`` says when the network's
        own Jacobian reads a higher rank than the cut (a manifold thin in one of
        its directions: flat strips 8 times longer than wide read 1).
    input_noise_ : float
        The standard deviation of the training noise, in the units of ``X``:
        ``input_noise``, or what 'auto' chose (0.0 without noise).
    input_mean_, target_mean_ : ndarray
    input_scale_, target_scale_ : float
        The isotropic normalization of the inputs (see ``normalize``); the
        reconstruction targets take the inputs' (the same mean and scale).
    parameter_norm_ : float
    offset_free_norm_ : float
        The norm the theory counts: with penalized biases ``sum_l ||W_l P_l||_F^2``,
        each weight read with its input's offset direction projected out (on a
        rank plateau it grows with depth by the rank ``k`` per layer, where
        ``parameter_norm_`` grows by ``k + 1``); with ``penalize_bias=False``
        ``sum_l ||W_l||_F^2``.
    norm_per_depth_ : float
    nonlinearity_impact_ : ndarray of shape (depth - 1,)
    regularity_ : float
    rank_history_ : dict of ndarray or None
        As in :class:`DeepL2Regressor`.
    restart_objectives_ : ndarray of shape (n_init,), or (1,) after a warm refit or partial_fit
        The final objective of every restart (the lowest was kept; with
        ``early_stopping``, the restart of best validation score was).
    restart_ranks_ : ndarray of shape (n_init,) or None
        The bottleneck rank of every restart (``None`` when ``n_init=1``, after a
        warm refit and after ``partial_fit``).
    best_restart_ : int
        Index of the restart kept.

    See Also
    --------
    DeepL2Regressor : supervised counterpart.
    sklearn.decomposition.PCA : linear reduction and reconstruction.
    sklearn.decomposition.KernelPCA : nonlinear reduction with an approximate
        pre-image.

    References
    ----------
    .. [1] A. Jacot, "Implicit bias of large depth networks: a notion of rank for
       nonlinear functions", ICLR 2023, sec. 5 and Fig. 3.
    .. [2] P. Vincent et al., "Extracting and composing robust features with
       denoising autoencoders", ICML 2008 (the ``input_noise`` training).

    Examples
    --------
    >>> from skrank import BottleneckAutoencoder
    >>> from skrank.datasets import make_noisy_curve
    >>> X, _ = make_noisy_curve(300, noise=0.0, random_state=0)
    >>> ae = BottleneckAutoencoder(n_components=1, random_state=0).fit(X)
    >>> ae.transform(X).shape
    (300, 1)
    >>> ae.reconstruct(X).shape
    (300, 2)
    >>> ae.score(X) > 0.99
    True
    """

    _task = Reconstruction()
    _reads_input_span = True
    # a projection's Jacobian reads below its bottleneck by design (a curve through
    # a 2-d cut), so only one above the cut warns: no function that factors through
    # k coordinates has more. Measured (a held-out audit): thin flat strips in R^3,
    # standardized, read bottleneck_rank_ 1 and local_dimension_ 1 at the local
    # setting on 7 fits of 7, silently, where the network's own Jacobian read 2 at
    # most points: the cut, by variance over the data, dropped the narrow side
    # (read along the directions the data vary in: _rank_in_span)
    _jacobian_bounds = "above"

    @property
    def _cut_advice(self):
        local = ("local_dimension_ and local_dimension(X) are read through the same "
                 "cut and may under-count with it; a larger input_noise may keep the "
                 "direction. " if self.input_noise else "")
        return ("The data may be thin in the dropped direction (the rank rule weighs "
                "variance over the data, not how the network passes it). " + local
                + "est.diagnose(X, rank_tol=...) re-reads at a lower floor; "
                "layer_ranks_ shows what the other layers read.")
    # init='auto' keeps the bars (a random fit is trained on from the grown start
    # only when it ended above that start before its deep stage, or above the zero
    # network): the manifold readings of benchmarks/bench_rank.py were measured so,
    # and keeping the lower of both fits changed a plane's local dimension (2 at
    # most points) to 1 at most points in a short fit
    _trains_both_starts = False
    # three manifolds (one fold, depths 4-12): the cold fits' ranks and scores at
    # every depth, 2.9-3.7x faster (benchmarks/README.md)
    _sweeps_warm = True
    _parameter_constraints = {
        **_FullyConnected._parameter_constraints,
        # its held-out rows calibrate the denoising step: held out only when asked
        "early_stopping": ["boolean"],
        "n_components": [Count(Integral, 1, None, closed="left"), None],
        "output": [StrOptions({"codes", "reconstruction"})],
        "input_noise": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "n_noisy_copies": [Count(Integral, 1, None, closed="left")],
        "data_noise": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self, *,
        n_components=None, output="codes", input_noise=0.0, data_noise=0.0,
        n_noisy_copies=4, depth=12,
        width=64, activation="relu", negative_slope=0.01, alpha=0.03,
        penalty_scaling="depth", penalize_bias=True, bias=True, init="auto", solver="lbfgs",
        learning_rate_init=1e-3, momentum=0.9, batch_size=50, max_iter=2000,
        warmup_iter=100, tol=1e-4, n_iter_no_change=20, early_stopping=False,
        validation_fraction=0.1, warm_start=False, rank_tol=0.1, rank_gap=3.0,
        n_diagnostic_samples=1000, n_jacobian_points=50, track_rank_every=0,
        normalize=True, dtype="float32", device="auto", random_state=None, verbose=0,
        n_init=1, n_threads="auto",
    ):
        self.n_components = n_components
        self.output = output
        self.input_noise = input_noise
        self.data_noise = data_noise
        self.n_noisy_copies = n_noisy_copies
        self.depth = depth
        self.width = width
        self.activation = activation
        self.negative_slope = negative_slope
        self.alpha = alpha
        self.penalty_scaling = penalty_scaling
        self.penalize_bias = penalize_bias
        self.bias = bias
        self.init = init
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.momentum = momentum
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.warmup_iter = warmup_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.warm_start = warm_start
        self.rank_tol = rank_tol
        self.rank_gap = rank_gap
        self.n_diagnostic_samples = n_diagnostic_samples
        self.n_jacobian_points = n_jacobian_points
        self.track_rank_every = track_rank_every
        self.normalize = normalize
        self.dtype = dtype
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.n_init = n_init
        self.n_threads = n_threads

    # ---- engine hooks ---------------------------------------------------------
    def _validate_fit_data(self, X, y, reset=True, partial=False):
        X = validate_data(self, user_array(X), dtype=[np.float64, np.float32], reset=reset)
        if X.shape[0] < 2 and not (partial and not reset):
            # one point has no shape: no representation to read a dimension from
            # (a later partial_fit call of one row, a stream's tail, goes on)
            raise ValueError(
                f"BottleneckAutoencoder needs at least 2 samples, got n_samples = "
                f"{X.shape[0]}."
            )
        self._check_n_components(X.shape[0])
        if self.data_noise:
            # before training, not only on the held-out rows after it
            _check_level(X, self.data_noise)
        return X, X

    def _n_training_rows(self, n_rows):
        return n_rows * self.n_noisy_copies if self.input_noise else n_rows

    def _noise_level(self, X, W):
        """The training noise in the normalized units of ``X`` (the training rows);
        sets ``input_noise_``, in the units of the data.

        'auto': the median distance between the rows and their nearest neighbour,
        at least ``AUTO_NOISE``. A denoiser's Jacobian along the manifold is about
        the spread of the training points the noise mixes, over the noise
        variance: below the spacing it mixes one point and reads less than a
        projection's 1. In ``partial_fit`` one call's rows lie further apart than
        the data's, so 'auto' is ``AUTO_NOISE`` there.
        """
        if self.input_noise != "auto":
            self.input_noise_ = float(self.input_noise)  # as given, not via the scale
            return self.input_noise / self.input_scale_
        if getattr(self, "_stepper", None) is not None:
            sigma = AUTO_NOISE
        else:
            spacing = _median_spacing(X if W is None else X[W > 0])
            sigma = max(AUTO_NOISE, spacing or 0.0)
        self.input_noise_ = float(sigma * self.input_scale_)
        return sigma

    def _training_pairs(self, X, Y, W, rng):
        if not self.input_noise:
            self.input_noise_ = 0.0
            return X, Y, W
        sigma = self._noise_level(X, W)
        noisy = [X + sigma * rng.standard_normal(X.shape)
                 for _ in range(self.n_noisy_copies)]
        copies = self.n_noisy_copies
        return (np.vstack(noisy), np.vstack([Y] * copies),
                None if W is None else np.tile(W, copies))

    def _diagnose(self, X, rng, rank_tol=None, rank_gap=None, weight=None):
        report = super()._diagnose(X, rng, rank_tol, rank_gap, weight)
        # read for the local dimension (codes), not for a denoiser (data_noise, or a
        # reconstruction output); on every training row of a fit (not one
        # partial_fit call's), since a subsample's points lie further apart
        if self.input_noise and not self.data_noise and self.output == "codes" \
                and getattr(self, "_stepper", None) is None:
            report.input_spacing = _median_spacing(X if weight is None else X[weight > 0])
        return report

    def _partial_pairs(self, X, Y, W):
        if not self.input_noise:
            self.input_noise_ = 0.0
            return X, Y, W
        # fresh noise every call, from the stream that shuffles the batches (a
        # generator seeded by random_state alone would repeat it call after call)
        seed = int(torch.randint(np.iinfo(np.int32).max, (1,), device="cpu",
                                 generator=self._stepper.generator))
        return self._training_pairs(X, Y, W, np.random.RandomState(seed))

    def _capped_hint(self):
        if not self.input_noise:
            return super()._capped_hint()
        # measured (an audit of the guide's recipe, input_noise='auto' and
        # alpha=0.001, 375 rows): 4 fits of 5 stopped at max_iter=2000; two rerun at
        # 6000 converged at 2,296 and 2,769 iterations, and one local_dimension_
        # went from 2 to the right 3
        return (" With input_noise the network goes on fitting its noisy copies of "
                "the training points, longest at a small alpha and on few points: "
                "raise max_iter (an audit's 375-row fits at alpha=0.001 converged at "
                "2,296 and 2,769 iterations); a reading before convergence can still "
                "change.")

    def _holds_out(self):
        if not self.data_noise:
            return super()._holds_out()
        # Stein's estimate on the rows the network was fitted to is optimistic
        # (measured: risk 0.01-0.04 against a true 0.25, and a step that made
        # held-out points worse); on held-out rows it read 0.20-0.35
        if self.early_stopping_:
            return ("early_stopping", "False and data_noise=0")
        return ("data_noise", "0")

    def _span_message(self, report):
        """The warning of a bottleneck no narrower than the data's span, or None;
        with training noise, saying that ``local_dimension_`` is another reading
        (a held-out audit read it right on 8 of 8 curves and sheets, each fit
        warning of its span)."""
        message = self._span_reading(report)
        if message and self.input_noise:
            message += (" This concerns bottleneck_rank_ only: local_dimension_, "
                        "which the training noise is for, is read separately.")
        elif message:
            message += (" For the dimension the data need locally, fit with "
                        "input_noise='auto', alpha=0.001 and read local_dimension_.")
        return message

    def _span_reading(self, report):
        n_in, rank, span = self.n_features_in_, report.bottleneck.rank, report.input_rank
        if n_in > 1 and rank >= n_in:
            return (
                f"The autoencoder passes all {n_in} input dimensions: "
                "no bottleneck was found. Either the data fill their space, or the "
                "depth is too small for the rank to win over regularity (a curved "
                "manifold is cheaper to pass through more dimensions at small depth, "
                "Jacot 2023b). " + _UPPER_BOUND)
        if span is not None and span > 1 and rank >= span:
            # span is None on a sample with no more rows than features (a
            # partial_fit batch): the rows, not the data, bound it then
            return (
                f"The autoencoder passes {rank} dimensions, at least the linear span "
                f"of the data ({span} of {n_in} input dimensions, read by the same "
                "rank rule): it found no bottleneck a linear map (PCA) would not. "
                "Either the data fill their span, or the depth is too small for the "
                "rank to win over regularity (Jacot 2023b). " + _UPPER_BOUND)
        return None

    def _extra_attributes(self, report, X_held=None):
        local = None
        if self.input_noise and len(report.jacobian_spectra):
            # the lower median: a dimension some point had
            dims = np.sort(local_dimension(report.jacobian_spectra))
            local = int(dims[(len(dims) - 1) // 2])
            self._warn_if_sparse(report.input_spacing)
            _warn_if_split(dims, local)
        # the bottleneck_rank_ principal directions, which local_dimension(X) reads
        # through whatever n_components says transform returns
        return {"n_components_": self._n_codes(report.bottleneck),
                "local_dimension_": local, "_denoising_": bool(self.input_noise),
                "_rank_components_": np.ascontiguousarray(report.bottleneck.components),
                **self._calibration(X_held)}

    def _warn_if_sparse(self, spacing):
        """Say when the samples are sparse at the scale of the noise: with noise
        below their spacing the network fits its few noisy copies of each point
        instead of projecting onto the manifold, and ``local_dimension_``
        under-counts; 'auto' raises the noise to the spacing, which reads right
        more often but not always (see the docs' "Trusting the rank", section 5)."""
        if spacing is None:
            return
        scale = self.input_scale_
        if self.input_noise == "auto":
            if spacing <= AUTO_NOISE:
                return
            warn_user(
                f"local_dimension_ may be off by one: the training points lie a "
                f"median {spacing * scale:.3g} apart (to their nearest neighbour), so "
                f"input_noise='auto' raised the noise to that spacing, above "
                f"{AUTO_NOISE * scale:.3g}. At that sparsity (n=600 on 17 manifolds "
                "of dimension 3 and 4, standardized) 11 readings were right, 5 read "
                "one less and 1 one more. More points settle it: the spacing shrinks "
                "as n^(-1/d) on a d-dimensional manifold.",
                AmbiguousRankWarning)
            return
        # a model saved before input_noise_ existed trained at input_noise
        noise = getattr(self, "input_noise_", self.input_noise)
        if noise / scale >= spacing:
            return
        warn_user(
            f"local_dimension_ may under-count: the training points lie a median "
            f"{spacing * scale:.3g} apart (to their nearest neighbour), more than "
            f"input_noise={noise:.3g}. With noise below the spacing of the samples "
            "the network fits its few noisy copies of each point instead of "
            "projecting onto the manifold. Use input_noise='auto' (the spacing), "
            "more points (the spacing shrinks as n^(-1/d) on a d-dimensional "
            "manifold) or more noisy copies (n_noisy_copies).", AmbiguousRankWarning)

    def _calibration(self, X):
        """``denoising_gain_`` and ``denoising_risk_`` on the scaled held-out rows
        (at most ``n_diagnostic_samples`` of them), see ``skrank._denoise``."""
        if not self.data_noise or X is None:
            # partial_fit: the call's rows are the ones it trains on
            return {"denoising_gain_": 1.0, "denoising_risk_": None}
        rng = check_random_state(self.random_state)
        # copies of a record share its noise: Stein's estimate and the sampling
        # error of its step count distinct points (the copies of one point, 10
        # records repeated 30 times, failed after training: no spread)
        X = _distinct_rows(np.asarray(X))
        if X.shape[0] < MIN_ROWS:
            warn_user(
                f"The rows held out to calibrate the denoising step hold "
                f"{X.shape[0]} distinct point(s) the network was not fitted to (the "
                "data repeat their rows): too few to read the noise by, so the step "
                "is not calibrated (denoising_gain_=1, denoising_risk_=None). Raise "
                "validation_fraction to 2 / (the number of distinct rows) or more.",
                UserWarning)
            return {"denoising_gain_": 1.0, "denoising_risk_": None}
        if X.shape[0] > self.n_diagnostic_samples:
            X = X[rng.choice(X.shape[0], self.n_diagnostic_samples, replace=False)]
        generator = torch.Generator().manual_seed(int(rng.randint(np.iinfo(np.int32).max)))
        scale = self.input_scale_
        gain, risk = sure_gain(self.module_, X, self.data_noise / scale, generator=generator)
        _warn_if_noise_overstated(risk, self.data_noise / scale, *X.shape, scale=scale)
        return {"denoising_gain_": gain, "denoising_risk_": _in_user_units(risk, scale)}

    # ---- public API -----------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Train the autoencoder on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample's reconstruction error (and of the sample in the
            normalization's mean and scale); ``None``: equal weights. An integer
            weight counts like repeating the sample in the full-batch L-BFGS
            stage, not in the Adam warm-up (``warmup_iter``) or with
            ``solver='adam'`` or ``'sgd'``, whose mini-batches draw rows, nor in
            the Jacobian points (drawn among the rows of positive weight, each as
            likely as another).

        Returns
        -------
        self : BottleneckAutoencoder
        """
        return self._fit(X, None, sample_weight)

    @available_if(_stochastic)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, sample_weight=None):
        """Run one epoch of the mini-batch solver on this data, continuing the last.

        Available with ``solver='adam'`` or ``'sgd'``. The first call builds the
        network and fixes the normalization from its data; each call runs one
        epoch, the optimizer's state carrying over (not into a pickled or loaded
        copy, which continues with a fresh one; ``n_iter_`` and ``loss_curve_`` go
        on from the fit or the calls before), and re-reads the diagnostics
        on the call's data (``n`` rows show a rank of at most ``n - 1``: an
        ``AmbiguousRankWarning`` says when the reading reaches it). With
        ``input_noise``, each call trains on
        ``n_noisy_copies`` fresh noisy copies of its rows, as ``fit`` does on its
        data. The first call needs two rows or more (one point has no shape to
        read); a later call takes one, as a stream's last rows may be (without
        ``data_noise``, whose estimate needs two). ``fit`` starts over, and so
        does a call after a fit to constant data (a network of zeros, which no
        gradient leaves).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : BottleneckAutoencoder
        """
        return self._partial_fit(X, None, sample_weight)

    def encode(self, X):
        """Compute the bottleneck coordinates of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        Z : ndarray of shape (n_samples, `n_components_`)

        Examples
        --------
        >>> import numpy as np
        >>> from skrank import BottleneckAutoencoder
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(100, 2)) @ rng.normal(size=(2, 5))  # a plane in R^5
        >>> ae = BottleneckAutoencoder(depth=4, width=16, max_iter=100,
        ...                            random_state=0).fit(X)
        >>> Z = ae.encode(X)
        >>> Z.shape == (100, ae.n_components_)
        True
        """
        return self._bottleneck_codes(X)

    def decode(self, Z):
        """Map bottleneck coordinates ``Z`` to points in input space.

        Parameters
        ----------
        Z : array-like of shape (n_samples, `n_components_`)

        Returns
        -------
        X_hat : ndarray of shape (n_samples, `n_features_in_`)

        Examples
        --------
        >>> import numpy as np
        >>> from skrank import BottleneckAutoencoder
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(100, 2)) @ rng.normal(size=(2, 5))  # a plane in R^5
        >>> ae = BottleneckAutoencoder(depth=4, width=16, max_iter=100,
        ...                            random_state=0).fit(X)
        >>> ae.decode(ae.encode(X)).shape  # back through the layers after the bottleneck
        (100, 5)
        """
        return self._decode_codes(Z)

    def reconstruct(self, X):
        """Compute the autoencoder's output ``f(X)``: ``X`` projected onto the learned manifold.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_hat : ndarray of shape (n_samples, `n_features_in_`)

        Examples
        --------
        >>> import numpy as np
        >>> from skrank import BottleneckAutoencoder
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(100, 2)) @ rng.normal(size=(2, 5))  # a plane in R^5
        >>> ae = BottleneckAutoencoder(depth=4, width=16, max_iter=100,
        ...                            random_state=0).fit(X)
        >>> X_hat = ae.reconstruct(X)
        >>> X_hat.shape
        (100, 5)
        >>> bool(ae.score(X) > 0.5)  # the reconstruction R^2
        True
        """
        return self._forward(X)

    def denoise(self, X):
        """Estimate the clean points under noisy ``X``: ``X + c (f(X) - X)``.

        ``c`` is ``denoising_gain_``, calibrated at fit on the noisy rows held out
        of training when ``data_noise > 0`` (Stein's unbiased risk estimate, see
        ``data_noise``); without it ``c = 1`` and this is :meth:`reconstruct`. The
        step is calibrated for points the network was not fitted to: on its
        training rows ``f(X)`` sits nearer ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_clean : ndarray of shape (n_samples, `n_features_in_`)

        Examples
        --------
        >>> import numpy as np
        >>> from skrank import BottleneckAutoencoder
        >>> rng = np.random.default_rng(0)
        >>> t = rng.uniform(0, 2 * np.pi, 200)
        >>> X = np.column_stack([np.cos(t), np.sin(t)]) + 0.1 * rng.normal(size=(200, 2))
        >>> dae = BottleneckAutoencoder(input_noise=0.1, data_noise=0.1, depth=4,
        ...                             width=16, max_iter=100, random_state=0).fit(X)
        >>> dae.denoise(X).shape
        (200, 2)
        >>> bool(dae.denoising_gain_ > 0)
        True
        """
        X, X_hat = self._with_reconstruction(X)
        # a model saved before data_noise existed has no gain: it was uncalibrated
        gain = getattr(self, "denoising_gain_", 1.0)
        if gain == 1.0:
            return X_hat  # exactly f(X): X + (f(X) - X) differs in the last bit
        X = np.asarray(X, dtype=np.float64)
        return X + gain * (X_hat - X)

    def _with_reconstruction(self, X):
        """``X`` checked (once: a warning about its column names is said once), in
        the user's units, and ``f(X)``."""
        X = self._check_X(X, scaled=False)
        return X, self._outputs_of(X)

    def local_dimension(self, X):
        """Local dimension of the learned manifold at each row of ``X``.

        The number of singular values above 1/2 of the Jacobian of the
        reconstruction (passed through the bottleneck coordinates) at each row:
        a denoising autoencoder's reconstruction projects onto the data, with
        singular values near 1 along the manifold and near 0 across it
        (:func:`skrank.diagnostics.local_dimension`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points on or near the data.

        Returns
        -------
        dimensions : ndarray of int of shape (n_samples,)

        Raises
        ------
        ValueError
            If the autoencoder was trained without ``input_noise``: it then learns
            the identity on the data, whose Jacobian has full rank in every
            direction it passes.

        Examples
        --------
        >>> import numpy as np
        >>> from skrank import BottleneckAutoencoder
        >>> t = np.linspace(0, 3, 100)
        >>> X = np.column_stack([np.cos(t), np.sin(t), t / 3])
        >>> dae = BottleneckAutoencoder(input_noise="auto", alpha=0.001, depth=4, width=16,
        ...                             max_iter=50, random_state=0).fit(X)
        >>> dae.local_dimension(X[:5]).shape
        (5,)
        """
        check_is_fitted(self)
        if not self._denoising_:
            raise ValueError(
                "local_dimension needs a denoising autoencoder (input_noise > 0): "
                "without noise the autoencoder learns the identity on the data, "
                "whose Jacobian says nothing of the manifold's dimension.")
        bn = Bottleneck(rank=self.bottleneck_rank_, layer=self.bottleneck_layer_,
                        components=self._rank_components_,
                        mean=self.bottleneck_mean_, weight_ranks=self.layer_ranks_)
        return local_dimension(factored_jacobian_spectra(self.module_, self._check_X(X), bn))

    def denoising_risk(self, X):
        """Estimate the mean squared error of :meth:`denoise` to the clean points under ``X``.

        Stein's unbiased risk estimate at the fitted ``denoising_gain_``, for
        noisy rows ``X`` with Gaussian noise of level ``data_noise`` that the
        autoencoder was not fitted to (on its training rows it is optimistic):
        the error summed over the features, averaged over the rows, in squared
        units of ``X``. No clean data needed.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Noisy points, not the training rows.

        Returns
        -------
        risk : float

        Raises
        ------
        ValueError
            If ``data_noise=0``: the noise level is unknown.

        Examples
        --------
        >>> import numpy as np
        >>> from skrank import BottleneckAutoencoder
        >>> rng = np.random.default_rng(0)
        >>> t = rng.uniform(0, 2 * np.pi, 300)
        >>> X = np.column_stack([np.cos(t), np.sin(t)]) + 0.1 * rng.normal(size=(300, 2))
        >>> dae = BottleneckAutoencoder(input_noise=0.1, data_noise=0.1, depth=4,
        ...                             width=16, max_iter=100,
        ...                             random_state=0).fit(X[:200])
        >>> risk = dae.denoising_risk(X[200:])  # new noisy rows, no clean data
        >>> isinstance(risk, float)
        True
        """
        check_is_fitted(self)
        if not self.data_noise:
            raise ValueError("denoising_risk needs the noise level of the data: fit with "
                             "data_noise > 0.")
        return _in_user_units(self._normalized_risk(self._check_X(X)), self.input_scale_)

    def _normalized_risk(self, X):
        """:meth:`denoising_risk` in the network's units, on its normalized rows
        ``X`` (what :meth:`score` divides, so that data near 1e300 do not
        overflow); its warning in the data's units."""
        rng = check_random_state(self.random_state)
        generator = torch.Generator().manual_seed(int(rng.randint(np.iinfo(np.int32).max)))
        scale = self.input_scale_
        risk = sure_risk(self.module_, X, self.data_noise / scale, self.denoising_gain_,
                         generator=generator)
        _warn_if_noise_overstated(risk, self.data_noise / scale, *X.shape,
                                  rows="rows given", scale=scale)
        return risk

    def score(self, X, y=None):
        """Return the reconstruction R^2, or with ``data_noise`` the denoising one.

        ``1 - ||X - f(X)||^2 / ||X - mean(X)||^2``; with ``data_noise > 0``,
        ``1 - denoising_risk(X) / mean ||X - mean(X)||^2``: the error of
        :meth:`denoise` to the clean points, estimated from the noisy ones (on
        noisy points the reconstruction R^2 rewards the identity, which keeps the
        noise). Its denominator is the spread of the noisy rows, noise included
        (``n_features * data_noise**2`` more than the clean points'): keeping the
        noisy input scores above 0, and the score is not an R^2 against the
        clean data, but it orders settings as the error does on the same rows.
        Reading ``denoising_risk(X)`` on rows no setting was fitted to costs
        ``n_features`` forward-mode passes a row up to 64 features, 64 beyond.
        The default score of :class:`~skrank.RankAwareDepthSelector` and
        of scikit-learn's searches on an autoencoder: with ``data_noise`` they
        choose ``alpha``, depth or ``input_noise`` by the estimated denoising
        error, without clean data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        if _num_samples(X) < 2:
            # as scikit-learn's r2_score: no spread to compare the error with
            self.reconstruct(X)  # the usual checks and errors first
            warn_user("R^2 score is not well-defined with less than two samples.",
                      UndefinedMetricWarning)
            return float("nan")
        # both terms in the network's units: a ratio of squares of data near
        # 1e300 overflowed to NaN (an audit), where the fit itself was unchanged
        scale = np.float64(self.input_scale_)
        if self.data_noise:
            Xn = self._check_X(X)
            risk = self._normalized_risk(Xn)
            X = np.asarray(Xn, dtype=np.float64)
            total = np.sum((X - X.mean(0)) ** 2) / len(X)
            return float(1 - risk / total) if total > 0 else float(risk <= 0)
        X, X_hat = self._with_reconstruction(X)
        X, X_hat = np.asarray(X, dtype=np.float64) / scale, X_hat / scale
        total = np.sum((X - X.mean(0)) ** 2)
        residual = np.sum((X - X_hat) ** 2)
        return float(1 - residual / total) if total > 0 else float(residual == 0)

    def transform(self, X):
        """Return the codes or the denoised reconstruction, as ``output`` says.

        With ``output='reconstruction'`` this is :meth:`denoise`: ``f(X)`` itself
        unless ``data_noise > 0`` calibrated a step towards it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_new : ndarray of shape (n_samples, `n_components_`) or (n_samples, `n_features_in_`)

        Examples
        --------
        >>> import numpy as np
        >>> from skrank import BottleneckAutoencoder
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(100, 2)) @ rng.normal(size=(2, 5))  # a plane in R^5
        >>> ae = BottleneckAutoencoder(depth=4, width=16, max_iter=100,
        ...                            random_state=0).fit(X)
        >>> ae.transform(X).shape == (100, ae.n_components_)  # output='codes'
        True
        >>> ae.set_params(output="reconstruction").transform(X).shape
        (100, 5)
        """
        if self.output == "reconstruction":
            return self.denoise(X)
        return self.encode(X)

    def inverse_transform(self, X):
        """Map back to input space: decode codes, or return a reconstruction unchanged.

        With ``output='codes'``, ``X`` holds bottleneck coordinates and the result
        is ``decode(X)``; with ``output='reconstruction'`` the transform's output
        already lives in input space and is returned as is.

        Parameters
        ----------
        X : array-like of shape (n_samples, `n_components_`) or (n_samples, `n_features_in_`)
            The output of :meth:`transform`.

        Returns
        -------
        X_orig : ndarray of shape (n_samples, `n_features_in_`)

        Examples
        --------
        >>> import numpy as np
        >>> from skrank import BottleneckAutoencoder
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(100, 2)) @ rng.normal(size=(2, 5))  # a plane in R^5
        >>> ae = BottleneckAutoencoder(depth=4, width=16, max_iter=100,
        ...                            random_state=0).fit(X)
        >>> ae.inverse_transform(ae.transform(X)).shape  # decode the codes
        (100, 5)
        """
        check_is_fitted(self)
        if self.output == "reconstruction":
            return validate_data(self, user_array(X), reset=False,
                                 dtype=[np.float64, np.float32])
        return self.decode(X)

    def get_feature_names_out(self, input_features=None):
        """Get the names of :meth:`transform`'s columns.

        Codes are named ``bottleneckautoencoder0, 1, ...``; a reconstruction keeps
        the input feature names.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Input feature names, checked against ``feature_names_in_`` when it is
            set; ``None``: ``feature_names_in_`` or ``x0, x1, ...``.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        names_in = _check_feature_names_in(self, input_features)
        if self.output == "reconstruction":
            return names_in
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}{i}" for i in range(self.n_components_)],
                          dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        # transform answers float64 (scikit-learn's default tag): float32 inputs
        # are not preserved; [] said nothing, and its check tested nothing
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags
