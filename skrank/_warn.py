"""Warnings that point at the user's line, not at skrank's internals.

A fixed ``stacklevel`` names whichever skrank or scikit-learn frame happens to sit
at that depth (``_fit_context`` wraps every ``fit``; the selector and searches add
more), so a ``ConvergenceWarning`` would point at ``skrank/_base.py``. The first
frame outside skrank, scikit-learn and joblib is the user's call.
"""

import os
import sys
import warnings

import joblib
import sklearn

_INTERNAL = (os.path.dirname(os.path.abspath(__file__)) + os.sep,
             os.path.dirname(os.path.abspath(sklearn.__file__)) + os.sep,
             os.path.dirname(os.path.abspath(joblib.__file__)) + os.sep)


def _stacklevel():
    frame, level = sys._getframe(2), 2
    while frame is not None and frame.f_code.co_filename.startswith(_INTERNAL):
        frame, level = frame.f_back, level + 1
    return level


def warn_user(message, category):
    """``warnings.warn`` attributed to the first caller outside skrank and sklearn."""
    warnings.warn(message, category, stacklevel=_stacklevel())
