"""Warnings that point at the user's line, not at skrank's internals.

A fixed ``stacklevel`` names whichever skrank or scikit-learn frame happens to sit
at that depth (``_fit_context`` wraps every ``fit``; the selector and searches add
more), so a ``ConvergenceWarning`` would point at ``skrank/_base.py``. The first
frame outside skrank, scikit-learn and joblib is the user's call. A worker thread
of a fit has no such frame: its warnings are held and issued by the fit's thread.
"""

import os
import sys
import threading
import warnings
from contextlib import contextmanager

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


_LOCAL = threading.local()


@contextmanager
def held_warnings(into=None):
    """Hold this thread's :func:`warn_user` warnings in the list it yields (``into``,
    or a new one), as ``(message, category)``, for the fit's own thread to issue (a
    worker's stack holds no line of the user's). Nested holds each get their own
    list; the outer one holds again after."""
    before = getattr(_LOCAL, "held", None)
    _LOCAL.held = held = [] if into is None else into
    try:
        yield held
    finally:
        _LOCAL.held = before


@contextmanager
def told_now():
    """Issue this thread's warnings at once inside a hold, unlabelled: for a holder
    that tells a held message itself (already labelled when held)."""
    held, label = getattr(_LOCAL, "held", None), getattr(_LOCAL, "label", "")
    _LOCAL.held, _LOCAL.label = None, ""
    try:
        yield
    finally:
        _LOCAL.held, _LOCAL.label = held, label


@contextmanager
def dropped_warnings(*categories):
    """Drop this thread's :func:`warn_user` warnings of ``categories``: a caller
    that says the same thing better (a selector interrupted in its sweep has no
    model, where each fit says it keeps one)."""
    before = getattr(_LOCAL, "dropped", ())
    _LOCAL.dropped = before + categories
    try:
        yield
    finally:
        _LOCAL.dropped = before


@contextmanager
def labelled_warnings(label):
    """Begin this thread's :func:`warn_user` messages with ``label``: the fits of a
    sweep, whose warnings (a rank reading, an iteration cap) otherwise read alike
    whichever depth, fold or refit they came from. An empty label keeps the
    enclosing one."""
    before = getattr(_LOCAL, "label", "")
    _LOCAL.label = label or before
    try:
        yield
    finally:
        _LOCAL.label = before


def warn_user(message, category):
    """``warnings.warn`` attributed to the first caller outside skrank and sklearn."""
    if issubclass(category, getattr(_LOCAL, "dropped", ())):
        return
    label = getattr(_LOCAL, "label", "")
    if label:
        message = f"{label}: {message}"
    held = getattr(_LOCAL, "held", None)
    if held is not None:
        held.append((message, category))
        return
    warnings.warn(message, category, stacklevel=_stacklevel())
