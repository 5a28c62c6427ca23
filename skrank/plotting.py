"""Optional matplotlib plots, in scikit-learn's Display style.

matplotlib is imported only when a plot is drawn; without it a clear ImportError
says how to install it (``pip install skrank[plot]``).
"""

import numpy as np

__all__ = ["DepthSweepDisplay", "SpectraDisplay"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "skrank.plotting needs matplotlib: pip install 'skrank[plot]'."
        ) from exc
    return plt


class DepthSweepDisplay:
    """``||theta||^2`` and bottleneck rank against depth (Jacot 2023b, Fig. 1a).

    Within a rank plateau ``||theta||^2`` is affine in the depth with slope equal
    to the rank; the plot shows both so the plateaus can be read off.

    Parameters
    ----------
    depths, parameter_norm, bottleneck_rank, mean_test_score : array-like
    best_depth : int or None

    Examples
    --------
    >>> from skrank.plotting import DepthSweepDisplay
    >>> disp = DepthSweepDisplay([4, 8], [30.0, 40.0], [3, 2], [0.9, 0.95], 8)
    >>> disp.depths.tolist()
    [4, 8]
    """

    def __init__(self, depths, parameter_norm, bottleneck_rank, mean_test_score=None,
                 best_depth=None):
        self.depths = np.asarray(depths)
        self.parameter_norm = np.asarray(parameter_norm, dtype=float)
        self.bottleneck_rank = np.asarray(bottleneck_rank)
        self.mean_test_score = (None if mean_test_score is None
                                else np.asarray(mean_test_score, dtype=float))
        self.best_depth = best_depth

    @classmethod
    def from_estimator(cls, selector, *, ax=None):
        """Plot a fitted :class:`skrank.RankAwareDepthSelector`'s sweep."""
        r = selector.depth_results_
        disp = cls(r["depth"], r["parameter_norm"], r["bottleneck_rank"],
                   r["mean_test_score"], selector.best_depth_)
        return disp.plot(ax=ax)

    def plot(self, ax=None):
        """Draw on ``ax`` (a new figure when None); sets ``ax_``, ``ax_rank_``, ``figure_``."""
        plt = _pyplot()
        if ax is None:
            _, ax = plt.subplots()
        ax.plot(self.depths, self.parameter_norm, "o-", label="||theta||^2")
        ax.set_xlabel("depth L")
        ax.set_ylabel("||theta||^2")
        ax2 = ax.twinx()
        ax2.step(self.depths, self.bottleneck_rank, where="mid", color="tab:red",
                 label="bottleneck rank")
        ax2.set_ylabel("bottleneck rank", color="tab:red")
        ax2.set_ylim(0, max(int(np.max(self.bottleneck_rank)), 1) + 1)
        ax2.yaxis.get_major_locator().set_params(integer=True)
        if self.best_depth is not None:
            ax.axvline(self.best_depth, color="gray", ls="--", lw=0.8)
        self.ax_, self.ax_rank_, self.figure_ = ax, ax2, ax.figure
        return self


class SpectraDisplay:
    """Singular values of every layer of a fitted skrank estimator (log scale).

    Examples
    --------
    >>> from skrank.plotting import SpectraDisplay
    >>> disp = SpectraDisplay([[1.0, 0.1], [2.0, 0.5]], title="weights")
    >>> len(disp.spectra)
    2
    """

    def __init__(self, spectra, *, title=None, n_values=10):
        self.spectra = [np.asarray(s, dtype=float) for s in spectra]
        self.title = title
        self.n_values = n_values

    @classmethod
    def from_estimator(cls, estimator, *, kind="weights", ax=None, n_values=10):
        """``kind``: 'weights' (``layer_spectra_``), 'representations' or 'jacobian'."""
        spectra = {"weights": lambda: estimator.layer_spectra_,
                   "representations": lambda: estimator.representation_spectra_,
                   "jacobian": lambda: estimator.jacobian_spectra_}
        if kind not in spectra:
            raise ValueError(f"kind must be one of {sorted(spectra)}, got {kind!r}.")
        return cls(spectra[kind](), title=kind, n_values=n_values).plot(ax=ax)

    def plot(self, ax=None):
        plt = _pyplot()
        if ax is None:
            _, ax = plt.subplots()
        for i, s in enumerate(self.spectra):
            top = s[: self.n_values]
            ax.semilogy(np.full(top.size, i + 1), np.maximum(top, 1e-12), "o", ms=3)
        ax.set_xlabel("layer")
        ax.set_ylabel("singular value")
        if self.title:
            ax.set_title(self.title)
        self.ax_, self.figure_ = ax, ax.figure
        return self
