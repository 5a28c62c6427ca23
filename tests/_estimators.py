"""Every public skrank estimator, discovered from the package (new ones are covered
automatically), with a small configuration and a data set it can be fitted on."""

import inspect

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin

import skrank

#: The one small configuration every test file starts from (fast on 2 cores);
#: files override what their checks need with :func:`small`.
BASE = dict(depth=4, width=16, max_iter=30, n_jacobian_points=2)


def small(**overrides):
    """``BASE`` with ``overrides``: the tests' small networks, in one place."""
    return {**BASE, **overrides}


SMALL = small(width=8, max_iter=15, random_state=0)


def _small(cls):
    params = inspect.signature(cls).parameters
    kw = {k: v for k, v in SMALL.items() if k in params}
    if "warmup_iter" in params:
        kw["warmup_iter"] = 2
    if "estimator" in params:  # a meta-estimator: wrap a small network
        kw = dict(estimator=skrank.DeepL2Regressor(**SMALL), depths=[2, 3], cv=2)
    return cls(**kw)


def all_estimators():
    return [_small(getattr(skrank, name)) for name in skrank.__all__
            if inspect.isclass(getattr(skrank, name))
            and issubclass(getattr(skrank, name), BaseEstimator)]


def data_for(estimator, n=40, d=3, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.rand(n, d)
    if isinstance(estimator, ClassifierMixin) or (
            hasattr(estimator, "estimator")
            and isinstance(estimator.estimator, ClassifierMixin)):
        y = np.array(["a", "b", "c"])[np.arange(n) % 3]
    elif isinstance(estimator, TransformerMixin) and not hasattr(estimator, "predict"):
        y = None
    else:
        y = X @ rng.rand(d, 2)
    return X, y


def outputs(estimator, X):
    """Every prediction-like method's output, by name."""
    out = {}
    for method in ("predict", "predict_proba", "decision_function", "transform",
                   "reconstruct"):
        if hasattr(estimator, method):
            out[method] = getattr(estimator, method)(X)
    return out
