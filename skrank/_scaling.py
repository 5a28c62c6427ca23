"""One meaning of ``alpha`` in any units: the isotropic normalization of data.

The penalty ``(alpha / L) ||theta||^2`` is not scale-free: multiplying the inputs by
``c`` lets the first layer shrink by ``c`` for free, multiplying the targets by ``c``
makes the data term ``c^2`` times heavier against the penalty. The same data in other
units would then read another rank at the same ``alpha``. Every estimator therefore
trains on data centered and divided by **one** scale per array (inputs, targets):
a translation and a uniform rescaling, which keep the geometry of the point cloud
(distances up to a factor, angles, dimensions) and so every rank. A per-feature
rescaling (``StandardScaler``) changes that geometry: it is the user's choice,
made before the estimator.
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["IsotropicScaling"]


@dataclass(frozen=True)
class IsotropicScaling:
    """``a -> (a - mean) / scale`` with one ``scale`` for all columns.

    ``scale`` is the root mean square of the centered entries, so standardized
    data (``StandardScaler``) keep ``scale == 1`` and are trained on as given
    (unless some columns are constant: ``StandardScaler`` maps them to 0, which
    pulls the mean square below 1).
    """

    mean: np.ndarray
    scale: float

    @classmethod
    def fit(cls, A, weight=None):
        """The scaling of a 2-D array ``A`` (rows weighted by ``weight``, so that an
        integer weight equals repeating the row).

        Identical rows (one row: a first ``partial_fit`` call of one sample) have no
        spread to measure a unit by; their root mean square value is one, which
        scales with the data as a spread does, so later calls still read the same
        in any units. All-zero data get ``scale = 1``. Rows are identical when
        their spread is within the rounding of their mean (as scikit-learn's
        constant features are): copies of ``[1.76405235, 0.40015721, 0.97873798]``
        have a mean that is not bit-exactly the row, and a unit of 1e-16 made of
        that rounding turned an input 1 away into 1e16.
        """
        A = np.asarray(A, dtype=np.float64)
        peaks = np.max(np.abs(A), axis=0) if A.size else np.zeros(A.shape[1])
        peak = float(peaks.max()) if peaks.size else 0.0
        if not peak > 0 or not np.isfinite(peak):
            return cls(mean=np.zeros(A.shape[1]), scale=1.0)
        # each column in units of its own largest entry: sums and squares of huge
        # data overflow, and in units of one huge column (a constant 1e300 beside
        # features of order 1) the other columns' squares underflow to zero
        units = np.where(peaks > 0, peaks, 1.0)
        B = A / units
        mean_b = np.average(B, axis=0, weights=weight)
        spreads = _rms_columns(B - mean_b, weight)
        # a column whose spread is within the rounding of its mean is constant
        # (judged per column, as scikit-learn's constant features: a large constant
        # column beside a varying one must not make the latter's spread "rounding")
        spreads[spreads <= len(A) * np.finfo(np.float64).eps * np.abs(mean_b)] = 0.0
        # the columns' spreads in units of the largest entry (at most 2: no
        # overflow), squared in units of the largest spread (no underflow)
        # (a column of zeros has unit 1, which 1 / peak overflows on subnormal data)
        relative = spreads * np.divide(units, peak, out=np.zeros_like(units),
                                       where=peaks > 0)
        top = float(relative.max())
        spread = top * float(np.sqrt(np.mean((relative / top) ** 2))) if top > 0 else 0.0
        scale = peak * (spread if spread > 0 else _rms(A / peak, weight))
        if not scale > 0:
            # subnormal data: the product underflowed (entries of 5e-324 became
            # NaN inputs); the largest entry is a unit that exists
            scale = peak
        return cls(mean=np.ascontiguousarray(units * mean_b), scale=float(scale))

    @classmethod
    def identity(cls, n_columns):
        """No change: used when ``normalize=False`` or for class labels."""
        return cls(mean=np.zeros(n_columns), scale=1.0)

    def forward(self, A):
        """``(A - mean) / scale``."""
        A = np.asarray(A, dtype=np.float64)
        with np.errstate(over="ignore"):
            out = (A - self.mean) / self.scale
        if not np.isfinite(out).all() and np.isfinite(A).all():
            # the difference of two huge entries overflows: divide first
            out = A / self.scale - self.mean / self.scale
        return out

    def inverse(self, A):
        """``A * scale + mean``."""
        return np.asarray(A, dtype=np.float64) * self.scale + self.mean


def _rms(B, weight):
    """Root mean square of the entries of ``B``, rows weighted by ``weight``."""
    return float(np.sqrt(np.average((B**2).mean(1), weights=weight)))


def _rms_columns(B, weight):
    """Root mean square of each column of ``B``, rows weighted by ``weight``."""
    return np.sqrt(np.average(B**2, axis=0, weights=weight))
