"""Parameter constraints shared by the estimators and the data generators."""

import numpy as np
from sklearn.utils._param_validation import Interval

__all__ = ["Count"]


class Count(Interval):
    """An integer interval that refuses booleans (``width=True`` is a mistake that
    torch or numpy would otherwise meet as a size of 1)."""

    def is_satisfied_by(self, val):
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)
