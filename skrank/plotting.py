"""Optional matplotlib plots, in scikit-learn's Display style.

matplotlib is imported only when a plot is drawn; without it a clear ImportError
says how to install it (``pip install skrank[plot]``).
"""

from numbers import Integral, Real

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from .diagnostics import _check_finite

__all__ = ["DepthSweepDisplay", "SpectraDisplay"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "skrank.plotting needs matplotlib, which is not installed: "
            "pip install 'skrank[plot]' (or pip install matplotlib)."
        ) from exc
    return plt


def _not_fitted_msg(display):
    return ("This %(name)s instance is not fitted yet. Call 'fit' with appropriate "
            f"arguments before plotting it with {display}.from_estimator.")


def _integer_ticks(axis):
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


_ROW_LABELS = {"images": "map l (its centered image on the data)",
               "weights": "layer l (weight matrix W_l)",
               "representations": "hidden layer l (representation after W_l)",
               "jacobian": "sample point (Jacobian Jf(x_i))"}


def _spectra_source(estimator, kind):
    """The network a spectra plot reads (a Pipeline's last step, a selector's
    best_estimator_), the attribute of ``kind``, and its bottleneck row and rank."""
    est = estimator
    while isinstance(est, Pipeline) or hasattr(est, "best_estimator_"):
        # a search around a Pipeline (or a Pipeline around a search) nests both
        est = est[-1] if isinstance(est, Pipeline) else est.best_estimator_
    attrs = {"images": "image_spectra_", "weights": "layer_spectra_",
             "representations": "representation_spectra_",
             "jacobian": "jacobian_spectra_"}
    if not isinstance(kind, str) or kind not in attrs:
        raise ValueError(f"kind must be one of {sorted(attrs)}, got {kind!r}.")
    if hasattr(est, "depth_results_"):
        # a fitted selector without best_estimator_: "not fitted" would mislead
        raise ValueError("The selector was fitted with refit=False, so it holds no "
                         "network to plot: fit it with refit=True, or plot its "
                         "sweep with DepthSweepDisplay.from_estimator.")
    check_is_fitted(est, msg=_not_fitted_msg("SpectraDisplay"))
    if kind == "images" and not hasattr(est, "image_spectra_") \
            and hasattr(est, "layer_spectra_"):
        # a fit (or a file) of a release before image_spectra_: the default plot
        # has nothing to draw, and "not a skrank estimator" would mislead
        raise ValueError(f"This {type(est).__name__} was fitted by an earlier release "
                         "of skrank, without image_spectra_: fit it again, or pass "
                         "kind='weights' to plot its raw weight spectra.")
    if not hasattr(est, attrs[kind]):
        raise TypeError(f"SpectraDisplay.from_estimator plots {attrs[kind]}, which a "
                        f"fitted {type(est).__name__} does not have: pass a fitted "
                        "skrank estimator (or a Pipeline ending in one).")
    if kind == "jacobian":
        if len(est.jacobian_spectra_) == 0:
            raise ValueError(f"This {type(est).__name__} read no Jacobian (fitted "
                             "with n_jacobian_points=0): there is no Jacobian "
                             "spectrum to plot; set n_jacobian_points and fit again.")
        layer, rank = None, getattr(est, "jacobian_rank_", None)
    else:
        layer = getattr(est, "bottleneck_layer_", None)
        rank = getattr(est, "bottleneck_rank_", None)
        if layer is not None and kind == "weights" and hasattr(est, "stream_ranks_"):
            # a ResNet's bottleneck is a stream position (1 = after W_e): the
            # weight that writes it is W_e or the last of the block before it
            layer = 1 + (layer - 1) * est.block_depth
        elif layer is not None and kind == "images" and hasattr(est, "stream_ranks_"):
            # a ResNet's candidates are W_e, then the stream s_0 .. s_L: stream
            # position p (1 = s_0) is candidate p + 1
            layer += 1
    return est, attrs[kind], layer, rank


def _check_spectra(spectra):
    """Each row of ``spectra`` as a 1-D float array, largest first, refused by its
    index when it is not singular values: a NaN would be drawn as a gap and sorted
    out of its rank, a negative value or a 2-D row silently folded by ``abs`` and
    ``ravel``, and an empty row left the colour bar without boundaries."""
    if isinstance(spectra, (str, bytes)) or not np.iterable(spectra):
        raise TypeError("spectra must be a list of 1-D arrays of singular values, one "
                        f"per row; got {type(spectra).__name__}.")
    rows = []
    for i, s in enumerate(spectra):
        name = f"spectra[{i}] (row {i + 1})"
        try:
            s = np.asarray(s, dtype=float)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be a 1-D array of numbers (singular values); "
                            f"got {type(s).__name__} ({exc}).") from exc
        if s.ndim != 1 or s.size == 0:
            raise ValueError(f"{name} has shape {s.shape}; each row must be a non-empty "
                             "1-D array of singular values.")
        if (_check_finite(s, name) < 0).any():
            raise ValueError(f"{name} holds negative values, which singular values never "
                             "are; pass singular values (absolute values, if meant).")
        rows.append(np.sort(s)[::-1])
    if not rows:
        raise ValueError("spectra holds no row; pass at least one row of singular "
                         "values.")
    return rows


def _check_index(value, name, least, most):
    """A whole number from ``least`` to ``most`` (None: no bound), or None."""
    if value is None:
        return
    if not isinstance(value, Integral) or isinstance(value, bool) or value < least \
            or (most is not None and value > most):
        bound = f"from {least} to {most}" if most is not None else f">= {least}"
        raise ValueError(f"{name} must be an integer {bound} or None, got {value!r}.")


def _check_ranks(ranks, spectra):
    """One whole number >= 0 per row of ``spectra``, or None."""
    if ranks is None:
        return None
    if np.ndim(ranks) != 1:
        raise ValueError(f"ranks must be 1-D, one rank per row of spectra; got shape "
                         f"{np.shape(ranks)}.")
    r = _numbers(ranks, "ranks", least=0)
    if r.size != len(spectra):
        raise ValueError(f"ranks has {r.size} values for {len(spectra)} rows of spectra; "
                         "give one rank per row.")
    sizes = np.array([row.size for row in spectra])
    if (r > sizes).any():
        i = int(np.flatnonzero(r > sizes)[0])
        raise ValueError(f"ranks[{i}] is {r[i]}, but row {i + 1} holds {sizes[i]} "
                         "values: a rank counts values of its row.")
    return r


class SpectraDisplay:
    """Singular values of every layer (or sample point) of a fitted network.

    One column of markers per row of ``spectra`` (a layer, or a sample point for
    Jacobians), each normalized by its largest value, on a log scale, so that the
    rank rule's floor ``rank_tol`` is one horizontal line: values under it never
    count. The ``i``-th largest value of every row has the same colour (a colour
    bar gives ``i``), so the directions that survive through the bottleneck read
    as a band of colours above the floor (Jacot 2023a, Fig. 1).

    ``kind='images'`` (:meth:`from_estimator`'s default) draws the spectra every
    rank is read from: each map's centered image on the data
    (``image_spectra_``), with a short black bar at each column's cut, where the
    rank rule (:func:`skrank.diagnostics.read_rank`) puts ``layer_ranks_``: the
    values above the bar are the rank. The raw weights' spectra
    (``kind='weights'``) and the uncentered representations'
    (``kind='representations'``) are the paper's figure; they also count the
    constant offset, which penalized biases carry in a direction of their own, so
    a column there can show one value more above the floor than the rank in the
    legend (a rank-2 bottleneck drawn with 3).

    Parameters
    ----------
    spectra : list of array-like
        One non-empty 1-D array of finite, non-negative singular values per row
        (any order; drawn largest first). A ``ValueError`` names a row that is
        not one (NaN, infinity, a negative value, another shape), a
        ``TypeError`` a row that is not numbers or ``spectra`` not a list.
    kind : {'weights', 'images', 'representations', 'jacobian'}, default='weights'
        What the rows are; sets the x label ("layer", "map", "hidden layer" or
        "sample point") and the title.
    n_values : int or None, default=None
        Plot only the largest ``n_values`` values of each row; None plots all.
    rank_tol : float or None, default=None
        The rank rule's relative floor; drawn as a dashed line when given.
    ranks : array-like of int or None, default=None
        The rank read in each row; a short black bar marks the cut, between the
        ``ranks[i]``-th value of row ``i`` and the next (none where every value
        counts, or none does).
    bottleneck_layer : int or None, default=None
        1-based index of the bottleneck layer (the estimators'
        ``bottleneck_layer_``); marked with a vertical band when given. Not used
        for ``kind='jacobian'``.
    bottleneck_rank : int or None, default=None
        The rank read at the bottleneck (or the Jacobian rank), written in the
        legend.
    normalize : bool, default=True
        Divide each row by its largest value. With False the raw values are
        drawn and the floor ``rank_tol * s_max`` is a short dash per row.
    title : str or None, default=None
        Axes title; None gives one from ``kind``.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The axes drawn on.
    figure_ : matplotlib Figure
        The figure of ``ax_``.
    colorbar_ : matplotlib Colorbar
        The colour bar giving the index of each singular value.

    Raises
    ------
    TypeError
        If ``spectra`` is not a list of rows, or a row is not numbers.
    ValueError
        If ``spectra`` has no row, a row is empty, not 1-D, or holds NaN, infinity
        or a negative value; if a rank exceeds its row's count of values, or
        ``bottleneck_layer`` is not a row (a layer from 1 to ``len(spectra)``),
        or ``kind``, ``n_values``, ``rank_tol`` or ``bottleneck_rank`` is invalid.

    See Also
    --------
    DepthSweepDisplay : Parameter norm, rank and score against depth.
    skrank.diagnostics.layer_spectra : Weight spectra of any network.

    Examples
    --------
    >>> from skrank.plotting import SpectraDisplay
    >>> disp = SpectraDisplay([[1.0, 0.1], [2.0, 0.5]], rank_tol=0.1)
    >>> len(disp.spectra)
    2
    """

    def __init__(self, spectra, *, kind="weights", n_values=None, rank_tol=None,
                 ranks=None, bottleneck_layer=None, bottleneck_rank=None, normalize=True,
                 title=None):
        if not isinstance(kind, str) or kind not in _ROW_LABELS:
            raise ValueError(f"kind must be one of {sorted(_ROW_LABELS)}, got {kind!r}.")
        if n_values is not None and not (isinstance(n_values, Integral) and n_values >= 1):
            raise ValueError(f"n_values must be an integer >= 1 or None, got {n_values!r}.")
        if rank_tol is not None and not (isinstance(rank_tol, Real)
                                         and not isinstance(rank_tol, bool)
                                         and 0 < rank_tol < 1):
            # refused here: drawing it failed later, inside matplotlib
            raise ValueError(f"rank_tol must be a number in (0, 1) or None, got "
                             f"{rank_tol!r}.")
        self.spectra = _check_spectra(spectra)
        self.ranks = _check_ranks(ranks, self.spectra)
        # refused here: a string met arithmetic inside plot, a layer beyond the
        # rows shaded nothing, silently
        _check_index(bottleneck_layer, "bottleneck_layer", 1,
                     None if kind == "jacobian" else len(self.spectra))
        _check_index(bottleneck_rank, "bottleneck_rank", 0, None)
        self.kind = kind
        self.n_values = n_values
        self.rank_tol = rank_tol
        self.bottleneck_layer = bottleneck_layer
        self.bottleneck_rank = bottleneck_rank
        self.normalize = normalize
        self.title = title

    @classmethod
    def from_estimator(cls, estimator, *, kind="images", ax=None, n_values=None,
                       normalize=True):
        """Plot the spectra of a fitted skrank estimator.

        Parameters
        ----------
        estimator : fitted skrank estimator
            Any estimator with the attribute ``kind`` draws (below; a fitted
            selector or search: its ``best_estimator_``; a fitted ``Pipeline``:
            its last step; nested, such as a ``GridSearchCV`` around a
            ``Pipeline``, both).
        kind : {'images', 'weights', 'representations', 'jacobian'}, default='images'
            ``image_spectra_`` (one row per entry of ``layer_ranks_``, with the
            cut of each), ``layer_spectra_`` (one row per weight matrix),
            ``representation_spectra_`` (one row per hidden layer) or
            ``jacobian_spectra_`` (one row per sample point).
        ax : matplotlib Axes or None, default=None
            Where to draw; None makes a new figure.
        n_values : int >= 1 or None, default=None
            Plot only the largest ``n_values`` values of each row.
        normalize : bool, default=True
            Divide each row by its largest value.

        Returns
        -------
        display : SpectraDisplay
            The drawn display.

        Raises
        ------
        NotFittedError
            If ``estimator`` is not fitted.
        TypeError
            If the fitted ``estimator`` has no such spectra (not a skrank network).
        ValueError
            If ``kind`` is unknown or ``n_values`` below 1, or ``estimator`` is a
            selector fitted with ``refit=False`` (it has no network to plot), or
            a spectrum holds NaN or infinity, or ``kind='jacobian'`` of a fit
            with ``n_jacobian_points=0``.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from skrank import DeepL2Regressor
        >>> from skrank.plotting import SpectraDisplay
        >>> X = np.random.default_rng(0).normal(size=(200, 6))
        >>> reg = DeepL2Regressor(depth=4, width=16, max_iter=200,
        ...                       random_state=0).fit(X, np.tanh(X[:, :3]))
        >>> disp = SpectraDisplay.from_estimator(reg)  # the maps the ranks are read from
        >>> len(disp.spectra) == len(reg.layer_ranks_)
        True
        >>> plt.close("all")
        """
        est, attr, layer, rank = _spectra_source(estimator, kind)
        disp = cls(getattr(est, attr), kind=kind, n_values=n_values,
                   rank_tol=getattr(est, "rank_tol", None), bottleneck_layer=layer,
                   bottleneck_rank=rank, normalize=normalize,
                   ranks=est.layer_ranks_ if kind == "images" else None)
        return disp.plot(ax=ax)

    def plot(self, ax=None):
        """Draw the spectra.

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
            Where to draw; None makes a new figure.

        Returns
        -------
        display : SpectraDisplay
            This display, with ``ax_``, ``figure_`` and ``colorbar_`` set.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> from skrank.plotting import SpectraDisplay
        >>> fig, ax = plt.subplots()
        >>> disp = SpectraDisplay([[1.0, 0.9, 0.05], [2.0, 1.5, 0.1]], ranks=[2, 2],
        ...                       rank_tol=0.1, bottleneck_layer=2,
        ...                       bottleneck_rank=2).plot(ax=ax)
        >>> disp.ax_ is ax
        True
        >>> plt.close(fig)
        """
        plt = _pyplot()
        from matplotlib.colors import BoundaryNorm

        if ax is None:
            _, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
        rows = [s[: self.n_values] if self.n_values else s for s in self.spectra]
        n_max = max((s.size for s in rows), default=1)
        cmap = plt.get_cmap("viridis_r" if n_max > 1 else "viridis")
        norm = BoundaryNorm(np.arange(0.5, n_max + 1.5), cmap.N) if n_max <= 20 else None
        x, y, c = self._points(rows)
        sc = ax.scatter(x, y, c=c, cmap=cmap, norm=norm,
                        vmin=None if norm else 1, vmax=None if norm else n_max,
                        s=18, edgecolors="none", zorder=3)
        ax.set_yscale("log")
        handles = (self._floor(ax, rows) + self._cuts(ax, self.spectra)
                   + self._bottleneck_marker(ax))
        ax.set_xlabel(_ROW_LABELS[self.kind])
        ax.set_ylabel("singular value / largest of its row" if self.normalize
                      else "singular value", labelpad=6)
        ax.set_xlim(0.4, len(rows) + 0.6)
        _integer_ticks(ax.xaxis)
        ax.grid(True, which="major", axis="y", alpha=0.3)
        if handles:
            ax.legend(handles=handles, loc="best", fontsize="small", framealpha=0.9)
        default = {"images": "spectra the ranks are read from",
                   "weights": "weight spectra", "representations": "representation spectra",
                   "jacobian": "Jacobian spectra"}[self.kind]
        ax.set_title(self.title if self.title is not None else default)
        self.colorbar_ = ax.figure.colorbar(sc, ax=ax, pad=0.02)
        self.colorbar_.set_label("index i of the singular value s_i")
        if norm is not None:
            step = max(1, n_max // 10)
            self.colorbar_.set_ticks(np.arange(1, n_max + 1, step))
        self.ax_, self.figure_ = ax, ax.figure
        return self

    def _points(self, rows):
        """Row number, value (normalized by the row's largest, floored at 1e-12 for
        the log axis) and index of every singular value drawn."""
        xs, ys, cs = [], [], []
        for i, s in enumerate(rows):
            scale = s[0] if (self.normalize and s.size and s[0] > 0) else 1.0
            xs.append(np.full(s.size, i + 1))
            ys.append(np.maximum(s / scale, 1e-12))
            cs.append(np.arange(1, s.size + 1))
        return tuple(np.concatenate(a) if a else np.empty(0) for a in (xs, ys, cs))

    def _floor(self, ax, rows):
        """The rank_tol floor: one line for normalized rows, else one per row."""
        handles = []
        if self.rank_tol is not None:
            if self.normalize:
                h = ax.axhline(self.rank_tol, color="tab:red", ls="--", lw=1,
                               label=f"rank_tol floor ({self.rank_tol:g} x largest)")
            else:
                tops = np.array([s[0] if s.size else np.nan for s in rows])
                h = ax.hlines(self.rank_tol * tops, np.arange(1, len(rows) + 1) - 0.35,
                              np.arange(1, len(rows) + 1) + 0.35, colors="tab:red",
                              linestyles="--", lw=1,
                              label=f"rank_tol floor ({self.rank_tol:g} x largest)")
            handles.append(h)
        return handles

    def _cuts(self, ax, rows):
        """A short bar per row between its ``ranks[i]``-th value and the next, read
        on the whole rows (``n_values`` at or below a rank hid the cut)."""
        if self.ranks is None:
            return []
        xs, ys = [], []
        for i, (s, k) in enumerate(zip(rows, self.ranks)):
            if not 0 < k < s.size or s[k] <= 0:
                continue  # every value counts, or none: no cut between two
            scale = s[0] if (self.normalize and s[0] > 0) else 1.0
            xs.append(i + 1)
            ys.append(np.sqrt(s[k - 1] * s[k]) / scale)
        if not xs:
            return []
        return [ax.hlines(ys, np.array(xs) - 0.3, np.array(xs) + 0.3, colors="black",
                          lw=1.5, zorder=4, label="cut of the rank rule")]

    def _bottleneck_marker(self, ax):
        """The bottleneck layer shaded (its rank named), or the Jacobian rank."""
        handles = []
        if self.bottleneck_layer is not None and self.kind != "jacobian":
            rank = "" if self.bottleneck_rank is None else f", rank {self.bottleneck_rank}"
            h = ax.axvspan(self.bottleneck_layer - 0.45, self.bottleneck_layer + 0.45,
                           color="tab:orange", alpha=0.25, zorder=1,
                           label=f"bottleneck (layer {self.bottleneck_layer}{rank})")
            handles.append(h)
        elif self.kind == "jacobian" and self.bottleneck_rank is not None:
            handles.append(ax.plot([], [], " ",
                                   label=f"Jacobian rank {self.bottleneck_rank}")[0])
        return handles


def _numbers(values, name, *, least=None, finite=False, nonnegative=False):
    """One value per fitted depth as a 1-D array (``None`` stays ``None``), refused
    by name: strings reached matplotlib's unit converter, a 2-D ``depths`` was
    blamed on the next series' length. With ``least``, whole numbers from it
    (an int array: depths and ranks); NaN otherwise is a gap in the plot."""
    if values is None:
        return None
    try:
        a = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of numbers, one per depth ({exc}).") \
            from exc
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, one value per depth; got shape {a.shape}.")
    if a.size == 0:
        raise ValueError(f"{name} is empty; the display needs one value per depth.")
    ok = np.isfinite(a) if finite or least is not None else np.ones(a.shape, bool)
    if least is not None:
        # below 2**31: 1e308 passed as a whole number and overflowed its cast to int
        ok[ok] = (a[ok] >= least) & (a[ok] < 2**31) & (a[ok] == np.round(a[ok]))
    if nonnegative:  # a standard deviation: -1 reached matplotlib's error bars
        ok &= ~(a < 0)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        what = (f"whole numbers from {least} to 2**31 - 1" if least is not None
                else "finite numbers" if finite else "numbers")
        what = f"non-negative {what}" if nonnegative else what
        raise ValueError(f"{name} must hold {what}; {name}[{i}] is {float(a[i])!r}.")
    return a.astype(int) if least is not None else a


def _check_axes(ax, score_ax):
    """``score_ax`` alone would draw a new figure and leave it empty, silently."""
    if ax is None and score_ax is not None:
        raise ValueError("score_ax needs ax: pass the axes for the norm and the "
                         "rank too, or neither for a new figure of both panels.")


class DepthSweepDisplay:
    """Parameter norms, bottleneck rank and test score against depth.

    Two panels over the same depths: ``||theta||^2`` (solid, left axis), the
    offset-free norm when given (dashed, same axis) and the bottleneck rank
    (right axis, integers), then the cross-validated test score with its standard
    deviation. Every quantity is drawn only at the fitted depths (markers; the
    norms' markers are joined to show their slopes); the chosen depth is marked.

    Within a rank plateau the norms grow about linearly with the depth (Jacot
    2023b, Fig. 1a). The slope the theory relates to the rank ``k`` is the offset-free
    norm's (``offset_free_norm_``, the norm :class:`skrank.RankAwareDepthSelector`
    fits ``norm_slope_`` to), and it tends to ``k`` only as the depth grows: at
    depths 4 to 12 it is a diagnostic, not a rank estimate. With penalized biases
    ``||theta||^2`` also carries the constant offset in a weight direction of each
    layer's own and grows by about ``k + 1`` per layer; with
    ``penalize_bias=False`` the two coincide (``sum_l ||W_l||^2``).

    Parameters
    ----------
    depths : array-like of shape (n_rows,)
        The fitted depths: whole numbers >= 1.
    parameter_norm : array-like of shape (n_rows,)
        ``||theta||^2`` per row (mean over folds); NaN (a failed fit) is left
        out of the drawing, as for the scores and the offset-free norm.
    bottleneck_rank : array-like of shape (n_rows,)
        The stable bottleneck rank per row: whole numbers >= 0.
    mean_test_score : array-like of shape (n_rows,) or None, default=None
        Cross-validated score per row; None leaves the score panel empty.
    best_depth : int or None, default=None
        The chosen depth, marked by a vertical line.
    std_test_score : array-like of shape (n_rows,) or None, default=None
        Standard deviation of the score over folds (error bars).
    alpha : array-like of shape (n_rows,) or None, default=None
        The finite ``alpha`` of each row when the sweep had an ``alpha`` grid: one
        series per value.
    offset_free_norm : array-like of shape (n_rows,) or None, default=None
        The offset-free norm per row (mean over folds; ``depth_results_``'s
        ``'offset_free_norm'``), whose slope ``norm_slope_`` reads; None draws
        ``||theta||^2`` alone.
    best_alpha : float or None, default=None
        The chosen ``alpha`` of an ``alpha`` grid, named beside the chosen depth
        (the depth's line passes every alpha's series).

    Attributes
    ----------
    ax_ : matplotlib Axes
        The norm panel.
    ax_rank_ : matplotlib Axes
        The rank axis (a twin of ``ax_``).
    ax_score_ : matplotlib Axes or None
        The score panel.
    figure_ : matplotlib Figure
        The figure.

    Raises
    ------
    TypeError
        If a series is not numbers (strings, say).
    ValueError
        If a series is not 1-D or empty, or ``depths`` or ``bottleneck_rank`` do
        not hold whole numbers (from 1 and from 0, below ``2**31``), or ``alpha``
        is not finite, or ``std_test_score`` is negative, or ``best_depth`` is not
        one of ``depths``, or ``best_alpha`` is not a finite number. A series of
        another length than ``depths`` is refused when plotting.

    See Also
    --------
    SpectraDisplay : The spectra of one fitted network.
    skrank.RankAwareDepthSelector : Produces the sweep.

    Examples
    --------
    >>> from skrank.plotting import DepthSweepDisplay
    >>> disp = DepthSweepDisplay([4, 8], [30.0, 40.0], [3, 2], [0.9, 0.95], 8)
    >>> disp.depths.tolist()
    [4, 8]
    """

    def __init__(self, depths, parameter_norm, bottleneck_rank, mean_test_score=None,
                 best_depth=None, *, std_test_score=None, alpha=None,
                 offset_free_norm=None, best_alpha=None):
        self.depths = _numbers(depths, "depths", least=1)
        self.parameter_norm = _numbers(parameter_norm, "parameter_norm")
        # ranks are whole numbers, never NaN: the selector's 'bottleneck_rank' is the
        # lower median of the folds' integer ranks (a failed fold shows as a NaN
        # score or norm, which is drawn as a gap, not as a rank)
        self.bottleneck_rank = _numbers(bottleneck_rank, "bottleneck_rank", least=0)
        self.mean_test_score = _numbers(mean_test_score, "mean_test_score")
        self.std_test_score = _numbers(std_test_score, "std_test_score", nonnegative=True)
        # finite: each value of alpha names a series (NaN equals no other value)
        self.alpha = _numbers(alpha, "alpha", finite=True)
        if best_depth is not None and best_depth not in self.depths.tolist():
            raise ValueError(f"best_depth must be one of depths {self.depths.tolist()} "
                             f"or None, got {best_depth!r}.")
        self.best_depth = best_depth
        self.offset_free_norm = _numbers(offset_free_norm, "offset_free_norm")
        if best_alpha is not None and not (isinstance(best_alpha, Real)
                                           and np.isfinite(best_alpha)):
            raise ValueError(f"best_alpha must be a finite number or None, got "
                             f"{best_alpha!r}.")
        self.best_alpha = best_alpha

    @classmethod
    def from_estimator(cls, selector, *, ax=None, score_ax=None):
        """Plot a fitted :class:`skrank.RankAwareDepthSelector`'s sweep.

        Parameters
        ----------
        selector : fitted RankAwareDepthSelector
            Its ``depth_results_`` and ``best_depth_`` are drawn.
        ax : matplotlib Axes or None, default=None
            Axes for the norm and rank; None makes a new figure with two panels.
        score_ax : matplotlib Axes or None, default=None
            Axes for the score; None with ``ax`` given skips the score panel.

        Returns
        -------
        display : DepthSweepDisplay
            The drawn display.

        Raises
        ------
        NotFittedError
            If ``selector`` is not fitted.
        TypeError
            If ``selector`` is a fitted estimator without ``depth_results_`` (not
            a depth selector).

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from skrank import DeepL2Regressor, RankAwareDepthSelector
        >>> from skrank.plotting import DepthSweepDisplay
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(120, 4))
        >>> y = np.tanh(X[:, :2] @ rng.normal(size=(2, 3)))
        >>> sel = RankAwareDepthSelector(DeepL2Regressor(width=16, max_iter=100,
        ...                                              random_state=0),
        ...                              depths=(3, 4), cv=2).fit(X, y)
        >>> disp = DepthSweepDisplay.from_estimator(sel)
        >>> disp.depths.tolist()
        [3, 4]
        >>> plt.close("all")
        """
        check_is_fitted(selector, msg=_not_fitted_msg("DepthSweepDisplay"))
        if not hasattr(selector, "depth_results_"):
            raise TypeError("DepthSweepDisplay.from_estimator takes a fitted "
                            "RankAwareDepthSelector (it reads depth_results_), got "
                            f"{type(selector).__name__}; plot a single network with "
                            "SpectraDisplay.from_estimator.")
        r = selector.depth_results_
        disp = cls(r["depth"], r["parameter_norm"], r["bottleneck_rank"],
                   r.get("mean_test_score"), getattr(selector, "best_depth_", None),
                   std_test_score=r.get("std_test_score"), alpha=r.get("alpha"),
                   offset_free_norm=r.get("offset_free_norm"),
                   best_alpha=getattr(selector, "best_alpha_", None))
        return disp.plot(ax=ax, score_ax=score_ax)

    def _series(self):
        if self.alpha is None or np.unique(self.alpha).size < 2:
            order = np.argsort(self.depths, kind="stable")
            return [("", order)]
        return [(f", alpha={a:g}", np.flatnonzero(self.alpha == a)[
                 np.argsort(self.depths[self.alpha == a], kind="stable")])
                for a in np.unique(self.alpha)]

    def _check_lengths(self):
        """One value per depth in every series given (a short one raised a raw
        IndexError halfway through drawing)."""
        n = self.depths.shape[0]
        for name in ("parameter_norm", "bottleneck_rank", "mean_test_score",
                     "std_test_score", "alpha", "offset_free_norm"):
            values = getattr(self, name)
            if values is not None and values.shape != (n,):
                raise ValueError(f"{name} has shape {values.shape}; the display needs "
                                 f"one value per depth, ({n},).")

    def plot(self, ax=None, *, score_ax=None):
        """Draw the sweep.

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
            Axes for the norm and the rank; None makes a new figure with the
            norm and rank panel on the left and the score panel on the right.
        score_ax : matplotlib Axes or None, default=None
            Axes for the score; None with ``ax`` given skips the score panel.
            Given without ``ax``: a ``ValueError``.

        Returns
        -------
        display : DepthSweepDisplay
            This display, with ``ax_``, ``ax_rank_``, ``ax_score_`` and
            ``figure_`` set.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> from skrank.plotting import DepthSweepDisplay
        >>> disp = DepthSweepDisplay([4, 6, 8], [30.0, 34.1, 38.0], [2, 2, 2],
        ...                          [0.95, 0.97, 0.96], best_depth=6).plot()
        >>> disp.ax_score_ is not None
        True
        >>> plt.close("all")
        """
        self._check_lengths()
        plt = _pyplot()
        _check_axes(ax, score_ax)
        if ax is None:
            _, (ax, score_ax) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
        series = self._series()
        ax2 = ax.twinx()
        for k, (suffix, idx) in enumerate(series):
            ax.plot(self.depths[idx], self.parameter_norm[idx], "o-", color=f"C{2 * k}",
                    label=f"||theta||^2{suffix}")
            if self.offset_free_norm is not None:
                ax.plot(self.depths[idx], self.offset_free_norm[idx], "o--", mfc="none",
                        color=f"C{2 * k}", label=f"offset-free norm{suffix}")
            ax2.plot(self.depths[idx], self.bottleneck_rank[idx], "s", ms=8, mfc="none",
                     mew=1.5, color=f"C{2 * k + 1}", label=f"bottleneck rank{suffix}")
        self._norm_axes(ax, ax2)
        handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
        if self.best_depth is not None:
            for a in (ax, score_ax):
                if a is not None:
                    a.axvline(self.best_depth, color="gray", ls="--", lw=0.8,
                              label=self._chosen(len(series)))
            handles.append(ax.get_legend_handles_labels()[0][-1])
        ax.legend(handles=handles, loc="upper left", fontsize="small")
        if score_ax is not None:
            self._score_panel(score_ax, series)
        self.ax_, self.ax_rank_, self.ax_score_, self.figure_ = ax, ax2, score_ax, ax.figure
        return self

    def _chosen(self, n_series):
        """The chosen depth's label; with an alpha grid its line passes every
        alpha's series, so it names the chosen one."""
        return f"chosen depth {self.best_depth}" + (
            "" if self.best_alpha is None or n_series < 2
            else f", alpha={self.best_alpha:g}")

    def _norm_axes(self, ax, ax2):
        """Labels and ticks of the norm (left) and rank (right) axes."""
        ax.set_xlabel("depth L")
        ax.set_ylabel("||theta||^2" if self.offset_free_norm is None
                      else "squared parameter norm")
        ax2.set_ylabel("bottleneck rank")
        ax2.set_ylim(0, max(int(np.max(self.bottleneck_rank, initial=0)), 1) + 1)
        _integer_ticks(ax2.yaxis)
        _integer_ticks(ax.xaxis)
        ax.set_xticks(np.unique(self.depths))

    def _score_panel(self, score_ax, series):
        """The mean test score per depth, with its standard deviation."""
        if self.mean_test_score is not None:
            # each alpha's bars shifted a little, or they lie on top of each other
            shift = 0.08 * (np.arange(len(series)) - (len(series) - 1) / 2)
            for k, (suffix, idx) in enumerate(series):
                err = None if self.std_test_score is None else self.std_test_score[idx]
                score_ax.errorbar(self.depths[idx] + shift[k], self.mean_test_score[idx],
                                  yerr=err, fmt="o", capsize=3, color=f"C{2 * k}",
                                  label=f"mean test score{suffix} (+/- std)")
        score_ax.set_xlabel("depth L")
        score_ax.set_ylabel("mean test score")
        score_ax.set_xticks(np.unique(self.depths))
        if score_ax.get_legend_handles_labels()[0]:  # an empty panel has no legend
            score_ax.legend(loc="lower right", fontsize="small")
