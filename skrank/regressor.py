"""Deep L2-regularized regression with rank diagnostics."""

from numbers import Integral

import numpy as np
from sklearn.base import (
    ClassNamePrefixFeaturesOutMixin,
    RegressorMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._missing import is_pandas_na
from sklearn.utils.metaestimators import available_if

from ._base import _DeepL2Base, _FullyConnected, _stochastic
from ._device import user_array
from ._params import Count
from ._tasks import Regression

__all__ = ["DeepL2Regressor"]


def _numeric_targets(y, name):
    """``y`` with numbers held as objects or strings converted to floats.

    Text targets are refused by name: numpy's own error ("could not convert string
    to float") says neither which parameter is wrong nor what to use instead. The
    conversion also lets validate_data see a None (NaN), which it skips in objects.
    """
    try:
        arr = np.asarray(y)
    except (ValueError, TypeError):
        return y  # ragged input: validate_data explains it
    if arr.ndim == 0 or arr.dtype.kind not in "OUS":
        return y  # numeric, or not an array at all (sparse): validate_data's message
    try:
        return arr.astype(np.float64)
    except (ValueError, TypeError):
        pass
    if arr.dtype.kind == "O":
        # pandas' missing value, which float() refuses: as NaN, validate_data says
        # y holds NaN (not "text") as it does for a numeric column with NA
        arr = np.array([np.nan if is_pandas_na(v) else v for v in arr.ravel()],
                       dtype=object).reshape(arr.shape)
        try:
            return arr.astype(np.float64)
        except (ValueError, TypeError):
            pass
    bad = next(v for v in arr.ravel() if not _is_number(v))
    bad = bad.item() if isinstance(bad, np.generic) else bad  # 'a', not np.str_('a')
    raise ValueError(
        f"{name} needs numeric targets, but y holds {bad!r}. To predict class labels "
        "use DeepL2Classifier."
    )


def _is_number(value):
    try:
        float(value)
    except (ValueError, TypeError):
        return False
    return True


class _RegressionEstimator(ClassNamePrefixFeaturesOutMixin, RegressorMixin,
                           TransformerMixin, _DeepL2Base):
    """Regression over any network: predict, and transform to the bottleneck."""

    _task = Regression()
    _jacobian_bounds = True
    _transform_constraints = {"n_components": [Count(Integral, 1, None,
                                                        closed="left"), None]}

    def _extra_attributes(self, report, X_held=None):
        return {"n_components_": self._n_codes(report.bottleneck)}

    @property
    def _n_features_out(self):
        """Columns of :meth:`transform` (for ``get_feature_names_out``)."""
        return self.bottleneck_components_.shape[0]

    def _validate_fit_data(self, X, y, reset=True, partial=False):
        y = _numeric_targets(user_array(y), type(self).__name__)
        X, y = super()._validate_fit_data(X, y, reset=reset, partial=partial)
        self._check_n_components(X.shape[0])
        return X, y

    def score(self, X, y, sample_weight=None):
        """Return the coefficient of determination R^2 of :meth:`predict` on ``y``.

        As :meth:`sklearn.base.RegressorMixin.score` (outputs averaged uniformly);
        ``y`` and ``sample_weight`` may be torch tensors, as ``X`` may.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        return super().score(X, user_array(y), sample_weight=user_array(sample_weight))

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the network on ``X`` (n_samples, n_features) and ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss (and in the normalization's mean
            and scale): an integer weight counts like repeating the sample,
            except where rows are drawn: early stopping's split (a weighted row
            is held out whole, repeats one by one) and the mini-batches of
            ``solver='adam'`` or ``'sgd'`` and of an Adam warm-up
            (``warmup_iter``), and the Jacobian points (drawn among the rows
            of positive weight, each as likely as another).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight)

    @available_if(_stochastic)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Run one epoch of the mini-batch solver on this data, continuing the last.

        Available with ``solver='adam'`` or ``'sgd'``. The first call builds the
        network and fixes the normalization from its data; each call runs one
        epoch, the optimizer's state carrying over (not into a pickled or loaded
        copy, which continues with a fresh one; ``n_iter_`` and ``loss_curve_`` go
        on from the fit or the calls before), and re-reads the diagnostics
        on the call's data (``n`` rows show a rank of at most ``n - 1``: an
        ``AmbiguousRankWarning`` says when the reading reaches it; ``diagnose``
        reads on more). ``fit`` starts over.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
            The estimator, trained one more epoch.
        """
        return self._partial_fit(X, y, sample_weight)

    def predict(self, X):
        """Predict with the network: its output ``f(X)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        out = self._forward(X)
        return out.ravel() if self._y_ndim == 1 else out

    def transform(self, X):
        """Compute bottleneck coordinates ``(z_l(X) - mean) @ components.T``.

        ``z_l`` is the representation at the bottleneck layer ``l``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        Z : ndarray of shape (n_samples, `n_components_`)
            The ``k`` summary statistics the network computes from its inputs
            (``k = bottleneck_rank_``, at least 1, or ``n_components`` when set).

        Examples
        --------
        >>> import numpy as np
        >>> from skrank import DeepL2Regressor
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(200, 6))
        >>> Y = np.tanh(X[:, :2] @ rng.normal(size=(2, 4)))
        >>> reg = DeepL2Regressor(depth=4, width=16, max_iter=200,
        ...                       random_state=0).fit(X, Y)
        >>> Z = reg.transform(X)  # features for another model, one per direction
        >>> Z.shape == (200, reg.n_components_)
        True
        """
        return self._bottleneck_codes(X)

    def fit_transform(self, X, y=None, **fit_params):
        """Fit, then return :meth:`transform` of the training inputs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Required (the estimator is supervised); ``None`` raises.
        **fit_params : dict
            Passed to :meth:`fit` (e.g. ``sample_weight``).

        Returns
        -------
        Z : ndarray of shape (n_samples, `n_components_`)
        """
        if y is None:
            raise ValueError(f"{type(self).__name__}.fit_transform requires y "
                             "(supervised).")
        return self.fit(X, y, **fit_params).transform(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        tags.target_tags.required = True
        return tags


class DeepL2Regressor(_FullyConnected, _RegressionEstimator):
    """Deep fully-connected network trained with an L2 penalty that selects rank.

    Minimizes ``(1/N) sum_i ||f(x_i) - y_i||^2 + (alpha / L) ||theta||^2`` over
    a depth-``L`` network (Jacot 2023a, sec. 4). At large depth the least penalty
    per layer, ``||theta||^2 / L``, of a network computing a function tends to a
    value between its Jacobian rank and its *bottleneck rank* (Jacot 2023a, Thm. 1),
    so ``alpha`` trades squared error against a low bottleneck rank; the fitted
    network then factors as ``f = h o g`` through ``k`` dimensions, which
    :meth:`transform` returns and ``bottleneck_rank_`` counts.

    Parameters
    ----------
    depth : int, default=12
        Number of weight matrices ``L`` (at least 2).
    width : int, default=64
        Units in every hidden layer.
    activation : {'relu', 'leaky_relu', 'identity'}, default='relu'
        ``'identity'`` gives a deep linear network.
    negative_slope : float in (-1, 1), default=0.01
        Slope of ``'leaky_relu'`` on negative inputs.
    alpha : float, default=0.1
        Strength of the L2 penalty.
    penalty_scaling : {'depth', 'none'}, default='depth'
        ``'depth'``: penalty ``(alpha / L) ||theta||^2`` (the papers');
        ``'none'``: plain ``alpha ||theta||^2``.
    penalize_bias : bool, default=True
        Whether biases are in the penalty (they are in the papers).
    bias : bool, default=True
        Whether layers have biases at all.
    init : {'auto', 'grow', 'random'}, default='auto'
        How ``fit`` starts a fresh network. ``'random'``: Kaiming-normal weights
        at full depth. ``'grow'``: a network of depth 3 (Kaiming-normal, after
        the ``warmup_iter`` epochs) is fitted first, then deepened to ``depth`` by
        identity-like layers inserted at its bottleneck, which compute the same
        function on the training data (up to its directions below 5% of the
        largest), and fitted again (both stages capped at ``max_iter``; the first
        counts as warm-up: in ``loss_curve_``, not in ``n_iter_``). ``'auto'``:
        with several regression outputs both, the random start and the grown one,
        each trained at full depth, and the fit with the lower objective is kept
        (with early stopping, the better held-out score; it costs both fits'
        time); with one output, or a classifier's cross-entropy, the grown start
        alone. A random
        deep network starts with ``||theta||^2`` near ``2 * width * depth``, far
        above a fitted one's; where the data term is weak against the penalty
        (one output, a classifier's cross-entropy) its fit stops in a sharp
        region, above the zero network's objective (every parameter 0), and
        growing starts the deep fit from a fitted, low-norm function instead
        (with one output the grown fit was kept in 57 folds of 57 on 15 data
        sets). Where the data term is strong (many outputs) the random start often
        reaches lower objectives, but it can still stop in a sharp region that no
        cheap bar detects (below the zero network's objective and below the grown
        start's before its deep stage), hence both. Growing applies to the 'relu'
        and 'identity' activations (under 'leaky_relu' the inserted layers would
        not be identities) and not when ``warm_start`` reuses a network or in
        ``partial_fit``.
    solver : {'lbfgs', 'adam', 'sgd'}, default='lbfgs'
        Full-batch L-BFGS with a strong Wolfe line search reaches the bottleneck
        structure far faster than the stochastic solvers on moderate data sets;
        'adam' and 'sgd' (with momentum) train on mini-batches.
    learning_rate_init : float, default=0.001
        Step size of 'adam' and 'sgd' ('lbfgs' uses unit steps and a line search).
    momentum : float in [0, 1), default=0.9
        Nesterov momentum of 'sgd'.
    batch_size : int or 'auto', default='auto'
        Mini-batch size of 'adam' and 'sgd'; 'auto' is ``min(200, n_samples)``.
    max_iter : int, default=2000
        Maximum epochs ('adam', 'sgd') or iterations ('lbfgs'). A cap, not the
        usual way a fit ends: at the defaults fits stop on ``tol``.
    warmup_iter : int, default=0
        With 'lbfgs': this many Adam epochs (at most ``max_iter``) on
        mini-batches (``batch_size``, ``learning_rate_init``) first. Their
        gradient noise carries the parameters out of flat regions where
        full-batch L-BFGS stalls; they come first
        in ``loss_curve_`` and are not counted in ``n_iter_`` (at most
        ``max_iter``, scikit-learn's meaning).
    tol : float, default=1e-4
        Training stops once the objective (or, with early stopping, the
        held-out regret ``1 - R^2``, see ``n_iter_no_change``) fell by less
        than ``tol`` times its value per iteration, on average over the last
        ``n_iter_no_change`` iterations: a relative rule, the same on any
        objective scale. Stopping at 1e-4 is not the minimum: against 2e-5, a
        held-out audit (four teachers of rank 1 to 3, same ranks read) measured
        objectives 3.8-12% higher, ``||theta||^2`` 1-11% higher and
        ``offset_free_norm_`` 2-33% higher (``regularity_`` 6.42 against -1.07
        and 274 iterations against 972 on one); the slope of
        ``||theta||^2`` over depths moved less (rank-2 teachers, depths 6-12:
        3.10 against 3.06). Read the norms, and compare objectives, at a smaller
        ``tol`` when they matter.
    n_iter_no_change : int, default=20
        Length of that window. With early stopping the held-out regret
        ``1 - R^2`` is watched instead, as its mean over the last
        ``n_iter_no_change`` iterations (it swings from one L-BFGS step to the
        next), over three such windows; the parameters kept are those at the end
        of the window of best mean score.
    early_stopping : bool or 'auto', default='auto'
        Hold out ``validation_fraction`` of the data, stop on its R^2 score
        (weighted by ``sample_weight`` when given) and restore the best parameters;
        with ``n_init > 1`` (and between the random and the grown start of
        ``init='auto'`` with several outputs) the fit of best validation score is
        kept. ``'auto'``:
        only for one output and at least 20 rows to hold out. With one output the
        penalty can only choose between rank 0 and 1 and does not keep a rank-1
        network from fitting noise (5-fold R^2 on diabetes, three seeds: 0.03 to
        0.13 without held-out rows, 0.36 to 0.42 with them; RidgeCV 0.48); with
        several, noise costs rank and the penalty prices it. ``early_stopping_``
        says what a fit did. Held-out rows whose best mean R^2
        (``best_validation_score_``) is at most 0, no better than their mean, raise
        an ``AmbiguousRankWarning``: the rank is then that of a fit of noise.
    validation_fraction : float in (0, 1), default=0.1
        At least two samples must be held out (a score of one sample says
        nothing): a fraction that rounds to fewer is a ``ValueError``;
        :class:`DeepL2Classifier` stratifies the split by class when every class
        has two samples. Every split holds a record repeated in the data (the
        same input and target) out with all its copies or not at all (a copy
        trained on would score the fit, not the generalization), and a record
        repeated so often that its copies would exceed the held-out share (of
        its class, when stratified) stays in training, so a few fewer rows than
        the share can be held out; a class whose records are all repeated more
        often than its share holds out some of its copies.
    warm_start : bool, default=False
        Reuse the previous fit's network as initialization (``n_init`` applies to a
        first fit only). A fit that the network cannot continue (other features,
        outputs, classes or architecture) raises a ``ValueError``; set
        ``warm_start=False`` to start over. A network whose function is constant on
        its training rows (``bottleneck_rank_`` 0: the zero network of constant
        targets, or one a large ``alpha`` collapsed) is not continued, since no
        gradient leaves it: the fit starts over (``n_init`` applies). The new data
        are normalized by their own mean and scale (``normalize``), so the continued
        network reads them in the same units whatever units they come in
        (``partial_fit`` instead keeps its first call's scaling).
    rank_tol : float in (0, 1), default=0.1
        Relative tolerance of every rank in the diagnostics: singular values below
        ``rank_tol * s_max`` never count, and the rank is cut at the largest clear
        spectral gap above that floor (:func:`skrank.diagnostics.effective_rank`).
    rank_gap : float >= 1, default=3.0
        The least ratio ``s_k / s_{k+1}`` that counts as a clear gap in that rule.
        Without a clear gap the rank counts the values above the floor, and an
        ``AmbiguousRankWarning`` says so (not when no value is under the floor:
        then every value counts and there is no cut to doubt). :meth:`diagnose`
        re-reads the fitted network at other ``rank_tol`` / ``rank_gap`` without
        refitting. Both only read: training does not depend on them (a grown
        start, and a selector's warm chain, locate the bottleneck they deepen at
        by the default rule), so a refit at other values trains the same network,
        which :meth:`diagnose` re-reads at those values.
    n_diagnostic_samples : int >= 2, default=1000
        Training points (a random subset if more) over which representations are
        measured after fit (one point has no spread to read a rank from).
    n_jacobian_points : int, default=10
        Training points at which ``jacobian_spectra_`` is computed (0 to skip).
    track_rank_every : int, default=0
        If positive, measure the bottleneck rank every that many iterations
        during training and store it in ``rank_history_`` (Galanti et al.'s
        rank-during-training plots), at full depth: for a grown start, in the
        full-depth stage (the times then count from the grown start).
    normalize : bool, default=True
        Train on inputs and targets centered and divided by one scale each (the
        root mean square of the centered entries), undone in :meth:`predict`: the
        same data in other units (x100, x0.01) then give the same network up to
        that scale, the same ranks and the same predictions, so ``alpha`` means
        one thing in any units. The scaling is isotropic, so it keeps the data's
        geometry; a per-feature ``StandardScaler`` changes it and with it, possibly,
        the rank. ``False`` trains on the data as given (the papers' setting).
    dtype : {'float32', 'float64'}, default='float32'
    device : str, default='auto'
        'cpu', 'cuda', 'cuda:<index>' or 'auto' (CUDA when available). 'mps' is
        refused: the ranks are read in float64, which Apple's GPUs lack.
    random_state : int, RandomState instance or None, default=None
        Seeds initialization, batching and the validation split.
    verbose : int, default=0
        Print progress (every ``max_iter // 20`` iterations; every one if > 1)
        with the elapsed time and a bound on the time left.
    n_components : int or None, default=None
        Columns of :meth:`transform`: ``None`` returns the ``bottleneck_rank_``
        coordinates the fit found (their number varies between fits; one column
        for a constant network, rank 0, so that a next Pipeline step gets input);
        at most ``min(width, training rows, n_diagnostic_samples)`` (the rows
        held out by ``early_stopping`` do not count), checked before training; an
        integer
        pins the width (the top principal directions of the bottleneck
        representation), for pipelines that need a fixed number of features;
        coordinates beyond ``bottleneck_rank_`` are its weak directions, near
        constant, carrying little or nothing of the function.
    n_init : int, default=1
        Restarts from ``n_init`` random initializations, trained together (batched
        runs of the solver; on a CPU, restarts of one start in two batches of about
        ``n_init / 2``, at once on two threads or more unless ``verbose``,
        ``track_rank_every`` or a sweep's job: each network keeps its own curvature
        pairs, line search, or Adam/SGD moments and shuffling, and stopping, and
        follows the path it would follow alone); the one with the lowest final
        objective is kept (with early stopping, the best held-out score, ties to the
        lower objective). Restarts catch the fits that end in a higher-rank basin.
        Ignored with ``warm_start`` when the fitted network continues (one
        network) and by ``partial_fit`` (one network).
    n_threads : int, 'auto' or None, default='auto'
        CPU threads torch uses during ``fit`` (restored afterwards), at most
        the machine's cores; ``None`` keeps torch's setting (all cores).
        ``'auto'``: one thread when a step is small (rows per step x ``width`` x
        ``n_init`` at most 65,536: up to 1,000 rows at the default width),
        torch's setting otherwise. Small
        products gain little from more threads and lose most when another
        CPU-bound process runs (a second fit, a search with ``n_jobs``): on 2
        cores one thread was 7% slower than two at 500 rows and 26% at 1,000,
        while beside one busy process two threads ran 2.6x (500 rows) to 5.5x
        (two moons) slower and one thread did not slow. A larger fit beside
        other work: pass ``n_threads=1`` or the number of idle cores. With
        two threads or more to spend (``'auto'`` counts the cores, or
        ``OMP_NUM_THREADS``), ``init='auto'`` trains its random and its grown
        start at once, each in a thread of its own on half of them: the same fit
        to the bit, in about 0.7x the time on 2 cores (with ``verbose`` or
        ``track_rank_every`` one after the other, on as many threads each).

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Only when ``X`` has string column names.
    n_outputs_ : int
    device_ : str
    loss_curve_ : ndarray of shape (warm-up iterations + `n_iter_`,)
        Objective (data loss plus penalty) after each iteration; the shallow stage
        of a grown start comes first (its penalty is ``(alpha / 3)
        ||theta||^2`` with ``penalty_scaling='depth'``, so the curve jumps where
        the network is deepened).
    n_iter_ : int
        Iterations of the solver at full depth, at most ``max_iter`` (warm-up epochs
        and the shallow stage of a grown start not counted, see ``init``); each
        ``partial_fit`` call adds one, after ``fit`` too; a fit that stops where it
        starts (converged: constant targets, a warm refit at its minimum) counts
        one, which records its objective.
    early_stopping_ : bool
        Whether the fit held ``validation_fraction`` of the rows out and stopped on
        their score (``early_stopping``, resolved for ``'auto'``).
    validation_scores_ : ndarray of shape (warm-up iterations + `n_iter_`,) or None
        Validation R^2 per iteration, with early stopping (aligned with
        ``loss_curve_``: warm-up epochs first). A held-out output without spread
        (one value in every held-out row) is scored 1 minus its mean squared error
        in normalized units: scikit-learn's 0 would tie every iteration.
    best_validation_score_ : float or None
        The best mean validation score of the full-depth network over
        ``n_iter_no_change`` consecutive iterations; the parameters at the end of
        that window are kept (``validation_scores_`` also holds a grown start's
        shallow stage, which may score higher; NaN when no score was finite).
    stop_reason_ : str
        'converged', 'max_iter', 'diverged', 'stalled' (L-BFGS could not lower the
        objective from its start: a ConvergenceWarning says so) or 'interrupted'
        after :meth:`fit`; 'partial_fit' (or 'diverged') after :meth:`partial_fit`.
    train_time_ : float
        Seconds spent in the training loop.
    layer_spectra_ : list of ndarray
        Singular values of each weight matrix ``W_1..W_L`` (in normalized units).
    representation_spectra_ : ndarray of shape (depth - 1, min(n, width))
        Singular values of each (uncentered) hidden representation.
    layer_ranks_ : ndarray of shape (depth,)
        Effective rank of each weight matrix's image on the data: the centered
        pre-activations ``(a_{l-1} - mean) W_l^T`` (:func:`skrank.diagnostics.bottleneck`).
    image_spectra_ : list of ndarray
        Singular values of each map's centered image on the data, one array per
        entry of ``layer_ranks_``: the spectra the rank rule reads
        (``SpectraDisplay.from_estimator`` draws them with each cut).
    bottleneck_rank_ : int
        Least of ``layer_ranks_`` over the hidden weight matrices (the output map is
        read but not chosen): the dimension
        the network's function passes through on the data (in the bottleneck the
        weights have ``k`` singular values of order one with the input offset
        projected out, ``k + 1`` in ``layer_spectra_`` with penalized biases, and
        the representations are k-planar; Jacot 2023b, Thm. 6). A reading above
        ``min(n_features, n_outputs)``, which bounds every function's rank, is
        the network's and warns. 0 when the function is constant on
        the data, whatever rank the round-off in the inner maps gives
        ``layer_ranks_``. Where the network's own Jacobian at the
        ``n_jacobian_points`` reads a higher rank, which a function through
        ``k`` coordinates cannot have, an ``AmbiguousRankWarning`` says the cut
        dropped directions the function uses.
    bottleneck_layer_ : int
        The hidden layer (1 to depth - 1) just after the narrowest weight matrix.
    n_components_ : int
        Columns of :meth:`transform` (``max(1, bottleneck_rank_)`` unless
        ``n_components``).
    bottleneck_components_ : ndarray of shape (`n_components_`, width)
    bottleneck_mean_ : ndarray of shape (width,)
        Principal directions and mean of the bottleneck representation (used by
        :meth:`transform`).
    jacobian_spectra_ : ndarray of shape (n_jacobian_points, min(n_features, n_outputs))
    bottleneck_gap_ : float
        Evidence for ``bottleneck_rank_``: the ratio ``s_k / s_{k+1}`` at the cut
        in the narrowest map's spectrum (at least ``rank_gap`` when clear).
    bottleneck_fidelity_ : float
        R^2 of the network passed through its ``k`` bottleneck coordinates against
        the network itself, on the diagnostic sample (1: the ``k`` coordinates
        carry everything; below 0.9 an ``AmbiguousRankWarning`` is issued).
    jacobian_rank_ : int or None
        ``max_x rank Jf(x)`` over those points (``None`` when
        ``n_jacobian_points=0``), read by the same rule on the
        network passed through its bottleneck coordinates, so it never exceeds
        ``bottleneck_rank_`` (a function that factors through ``k`` dimensions has
        Jacobian rank at most ``k``).
    input_mean_, target_mean_ : ndarray
    input_scale_, target_scale_ : float
        The isotropic normalization of inputs and targets (see ``normalize``).
    parameter_norm_ : float
        ``||theta||^2`` of the penalized parameters: biases included when
        ``penalize_bias`` (as the penalty counts them).
    offset_free_norm_ : float
        The norm the theory counts. With penalized biases,
        ``sum_l ||W_l P_l||_F^2``, each weight read with its input's offset
        direction projected out (``P_l``): on a rank plateau it grows with depth
        by the rank ``k`` per layer, where ``parameter_norm_`` grows by ``k + 1``
        (measured: slopes 2.2-2.3 and 3.1 over depths 6-12 on the rank-2 teacher
        of the test suite, from run to run).
        With free biases (``penalize_bias=False``) the biases carry the offset and
        it is ``sum_l ||W_l||_F^2``.
    norm_per_depth_ : float
        ``||theta||^2 / L``. Jacot (2023a, Thm. 1)'s rank estimate counts the
        offset-free norm: with penalized biases this grew by about ``k + 1`` per
        layer on a rank plateau in skrank's fits at depths up to 12, and
        ``offset_free_norm_`` by about ``k``.
    nonlinearity_impact_ : ndarray of shape (depth - 1,)
        ``||Z~_l - Z_l||_F / ||Z~_l||_F`` per hidden layer.
    regularity_ : float
        ``offset_free_norm_ - L * bottleneck_rank_``, an estimate of the correction
        R1 of ``||theta||^2 = L R0 + R1 + O(1/L)`` (Jacot 2023b), which does not
        grow with depth: counted on the offset-free norm, since with penalized
        biases ``parameter_norm_`` grows by ``k + 1`` per layer.
    rank_history_ : dict of ndarray or None
        With ``track_rank_every > 0``: ``'n_iter'``, ``'time'`` (training seconds,
        tracking excluded), ``'bottleneck_rank'`` and ``'parameter_norm'`` per record.
        ``'n_iter'`` counts the iterations at full depth, warm-up epochs included
        (with ``warmup_iter`` it runs past ``n_iter_``, which does not count them);
        the shallow stage of a grown start is not at full depth and not counted.
    restart_objectives_ : ndarray of shape (n_init,), or (1,) after a warm refit or partial_fit
        The final objective of every restart (the lowest was kept; with
        ``early_stopping_``, the restart of best validation score was).
    restart_ranks_ : ndarray of shape (n_init,) or None
        The bottleneck rank of every restart (``None`` when ``n_init=1``, after a
        warm refit and after ``partial_fit``).
    best_restart_ : int
        Index of the restart kept.

    See Also
    --------
    DeepL2Classifier : the same network trained with cross-entropy.
    sklearn.neural_network.MLPRegressor : shallow networks, no rank diagnostics.

    Notes
    -----
    Weights are initialized Kaiming-normal with zero biases: torch's default
    initialization makes a deep ReLU network's output vanish, and the penalty
    then drives it to the zero function. A random deep start can stop far above
    the objective it could reach: ``fit`` starts from a network grown from depth
    3 (with several outputs it also trains a random deep start and keeps the
    lower fit; see ``init``). Inputs and targets are centered and divided by
    one scale each (``normalize``), so ``alpha`` means the same in any units; a
    per-feature rescaling (``StandardScaler``) changes the geometry and is the
    user's choice.

    References
    ----------
    .. [1] A. Jacot, "Implicit bias of large depth networks: a notion of rank for
       nonlinear functions", ICLR 2023.
    .. [2] A. Jacot, "Bottleneck structure in learned features: low-dimension vs
       regularity tradeoff", NeurIPS 2023.

    Examples
    --------
    >>> from skrank import DeepL2Regressor
    >>> from skrank.datasets import make_bottleneck_regression
    >>> X, y = make_bottleneck_regression(300, random_state=0)
    >>> reg = DeepL2Regressor(random_state=0).fit(X, y)
    >>> reg.bottleneck_rank_
    2
    >>> reg.transform(X).shape
    (300, 2)
    """

    # 26 held-out teachers of rank 1-5: warm sweeps 3.4-8.1x faster, best_rank_
    # right on 14 (cold 13); on 4 the chosen network's held-out R^2 was 0.02-0.07
    # below cold's (benchmarks/README.md), so chains are opt-in (False by default)
    _sweeps_warm = True
    _parameter_constraints = {**_FullyConnected._parameter_constraints,
                              **_RegressionEstimator._transform_constraints}
    # measured on held-out noisy and clean regression teachers (not on classifiers,
    # autoencoders or residual networks)
    _weak_direction_factor = 2.0

    def __init__(
        self, *,
        depth=12, width=64, activation="relu", negative_slope=0.01, alpha=0.1,
        penalty_scaling="depth", penalize_bias=True, bias=True, init="auto", solver="lbfgs",
        learning_rate_init=1e-3, momentum=0.9, batch_size="auto", max_iter=2000,
        warmup_iter=0, tol=1e-4, n_iter_no_change=20, early_stopping="auto",
        validation_fraction=0.1, warm_start=False, rank_tol=0.1, rank_gap=3.0,
        n_diagnostic_samples=1000, n_jacobian_points=10, track_rank_every=0,
        normalize=True, dtype="float32", device="auto", random_state=None, verbose=0,
        n_components=None,
        n_init=1, n_threads="auto",
    ):
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
        self.n_components = n_components
