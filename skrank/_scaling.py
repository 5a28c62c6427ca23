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
    data (``StandardScaler``) keep ``scale == 1`` and are trained on as given.
    """

    mean: np.ndarray
    scale: float

    @classmethod
    def fit(cls, A, weight=None):
        """The scaling of a 2-D array ``A`` (rows weighted by ``weight``, so that an
        integer weight equals repeating the row); constant data get ``scale = 1``."""
        A = np.asarray(A, dtype=np.float64)
        mean = np.ascontiguousarray(np.average(A, axis=0, weights=weight))
        centered = A - mean
        # divide by the largest entry first: squares of huge data overflow
        peak = float(np.max(np.abs(centered))) if A.size else 0.0
        square = ((centered / peak) ** 2).mean(1) if peak > 0 else np.zeros(len(A))
        rms = peak * float(np.sqrt(np.average(square, weights=weight))) if peak > 0 else 0.0
        # a constant column set carries no unit to remove
        scale = rms if np.isfinite(rms) and rms > 0 else 1.0
        return cls(mean=mean, scale=scale)

    @classmethod
    def identity(cls, n_columns):
        """No change: used when ``normalize=False`` or for class labels."""
        return cls(mean=np.zeros(n_columns), scale=1.0)

    def forward(self, A):
        """``(A - mean) / scale``."""
        return (np.asarray(A, dtype=np.float64) - self.mean) / self.scale

    def inverse(self, A):
        """``A * scale + mean``."""
        return np.asarray(A, dtype=np.float64) * self.scale + self.mean
