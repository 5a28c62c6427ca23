"""Rank-aware choice of depth: fit over depths, read ranks and norms, choose."""

import contextlib
import inspect
import multiprocessing
import pickle
import re
import sys
import threading
import time
import warnings
from numbers import Integral, Real

import numpy as np
from joblib import effective_n_jobs
from scipy.stats import rankdata
from sklearn import get_config
from sklearn.base import (
    BaseEstimator,
    MetaEstimatorMixin,
    TransformerMixin,
    _fit_context,
    clone,
    is_classifier,
    is_regressor,
)
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.exceptions import NotFittedError
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import check_cv
from sklearn.model_selection._search import BaseSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    process_routing,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import (
    _check_feature_names,
    _check_method_params,
    _check_n_features,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    indexable,
)

from ._base import (
    AmbiguousRankWarning,
    _DeepL2Base,
    _FullyConnected,
    _grad_enabled,
    fit_many,
    one_thread_per_job,
    warm_deeper,
)
from ._device import threads, user_array
from ._engine import TrainingInterruptedWarning
from ._grow import DEEPEN_RTOL, GROWS
from ._params import Count
from ._warn import (
    dropped_warnings,
    held_warnings,
    labelled_warnings,
    told_now,
    warn_user,
)

__all__ = ["RankAwareDepthSelector"]

def _estimator_has(attr):
    def check(self):
        # as GridSearchCV: without a refitted estimator there is nothing to call,
        # and duck typing (Pipeline, ColumnTransformer) must not be told otherwise
        if not self.refit:
            raise AttributeError(f"refit=False: {attr} needs the chosen estimator "
                                 "refitted; set refit=True.")
        if hasattr(self, "best_estimator_"):
            return hasattr(self.best_estimator_, attr)
        return hasattr(self.estimator, attr)

    return check


#: What a refit sets; a later fit clears it first (refit=False sets none of it).
_SET_BY_REFIT = ("best_estimator_", "scorer_", "n_features_in_", "feature_names_in_",
                 "classes_")


def _scorable(self):
    """``score`` needs the estimator's own ``score`` only without ``scoring``."""
    has_score = _estimator_has("score")(self)  # raises for refit=False, as GridSearchCV
    return self.scoring is not None or has_score


def _single_thread():
    """Sweeps parallelize over jobs; the same thread count everywhere also makes a
    distributed sweep reproduce the sequential one bit for bit. Through the one
    record of torch's setting (:func:`skrank._device.threads`): jobs in threads of
    one process (joblib's threading backend) each restoring what they found left
    the process at one thread."""
    return threads(1)


class _Job:
    """A sweep's job; where jobs run in parallel, its fits keep to one thread
    (``init='auto'`` trains its two starts one after the other).

    Returns the job's rows and the warnings the caller issues again
    (:func:`_reissue`), as ``(message, category)`` pairs: run by a worker process's
    main thread, every warning its fits issued; run by a thread other than the
    main one, skrank's own (held, :func:`skrank._warn.held_warnings`).
    """

    def __init__(self, fn, parallel):
        self.fn, self.parallel = fn, parallel

    def __call__(self, *args):
        with one_thread_per_job(self.parallel):
            if threading.current_thread() is not threading.main_thread():
                # threads (joblib's, dask's): recording swaps the process's warning
                # state, which threads share (measured: threads in a child process
                # lost whole sweeps' warnings that way); skrank's own are held, or
                # a pool thread's stack would name multiprocessing/pool.py as
                # their line
                with held_warnings() as held:
                    rows = self.fn(*args)
                return rows, list(held)
            if multiprocessing.parent_process() is None:
                return self.fn(*args), []  # sequential: issued at the user's line
            # a worker process (loky's) printed them on its own stderr, out of reach
            # of the caller's filters, pytest.warns or logging (measured: every
            # warning of a sweep at n_jobs=2 was lost that way)
            with warnings.catch_warnings(record=True) as caught, _sendable_errors():
                rows = self.fn(*args)
        return rows, [(str(w.message), _portable(w.category)) for w in caught]


@contextlib.contextmanager
def _sendable_errors():
    """A worker's error as one the caller can unpickle: scikit-learn's
    ``UnsetMetadataPassedError`` cannot be, and a Pipeline's routing mistake at
    ``n_jobs=2`` surfaced as loky's ``BrokenProcessPool`` ("A result has failed to
    un-serialize") instead of its message."""
    try:
        yield
    except Exception as exc:
        try:
            pickle.loads(pickle.dumps(exc))
        except Exception:
            raise RuntimeError(f"{type(exc).__name__}: {exc}") from None
        raise


def _portable(category):
    """``category``, or its ``(module, qualname)`` when pickle cannot find it by name
    here (a class of the caller's ``__main__``, which a worker does not run)."""
    try:
        pickle.dumps(category)
    except Exception:
        return (category.__module__, category.__qualname__)
    return category


def _reissue(message, category):
    """Issue a worker's warning again; a category sent by name is looked up in the
    caller's modules (UserWarning when it is not found there)."""
    if isinstance(category, tuple):
        module, name = category
        found = sys.modules.get(module)
        for part in name.split("."):
            found = getattr(found, part, None)
        category = (found if isinstance(found, type) and issubclass(found, Warning)
                    else UserWarning)
    warn_user(message, category)


def _param_name(estimator, name):
    """``name`` or the one ``step__name`` of a Pipeline (or other composite)."""
    keys = [k for k in estimator.get_params() if k == name or k.endswith("__" + name)]
    if not keys:
        raise ValueError(f"{type(estimator).__name__} has no {name!r} parameter (nor "
                         f"a '<step>__{name}') to select.")
    if len(keys) > 1:
        raise ValueError(f"{type(estimator).__name__} has several {name!r} parameters "
                         f"({keys}); the selector needs exactly one.")
    return keys[0]


def _beside(estimator, depth_param, name):
    """The parameter ``name`` of the estimator that ``depth_param`` belongs to (a
    Pipeline of ``Lasso(alpha)`` and a network selects the network's ``alpha``)."""
    key = depth_param[: -len("depth")] + name
    if key not in estimator.get_params():
        raise ValueError(f"{type(estimator).__name__} has no {key!r} parameter beside "
                         f"{depth_param!r} to select.")
    return key


def _network(est, depth_param, fitted=False):
    """The skrank estimator inside ``est`` (``est`` itself, or a step), fitted once
    ``est`` is: a meta-estimator that fits a clone (``TransformedTargetRegressor``'s
    ``regressor_``) holds it under the parameter's name plus ``_``. With ``fitted``,
    a wrapper that keeps its fitted copy elsewhere (``GridSearchCV``'s
    ``best_estimator_``) is refused by name."""
    outer = est
    for name in depth_param.split("__")[:-1]:
        found = getattr(est, name + "_", None)
        est = found if hasattr(found, "get_params") else est.get_params()[name]
    if fitted:
        try:
            check_is_fitted(est)
        except NotFittedError:
            raise TypeError(
                f"RankAwareDepthSelector reads the rank of the skrank estimator at "
                f"{depth_param[:-len('__depth')]!r}, but {type(outer).__name__} fits "
                f"a copy of it that it does not keep as that step or as "
                f"'{depth_param.split('__')[-2]}_'. Pass the skrank estimator itself, "
                "or a Pipeline ending in one.") from None
    return est


def _check_reachable(estimator, depth_param):
    """Refuse, before any fit, a ``depth_param`` reached through a search or another
    selector: it would set a depth that its own sweep overrides, and keeps its
    fitted copy where :func:`_network` cannot read the rank (the refusal came
    after a whole sweep and refit)."""
    for name in depth_param.split("__")[:-1]:
        # every scikit-learn search (halving ones included) is a BaseSearchCV
        if isinstance(estimator, (RankAwareDepthSelector, BaseSearchCV)):
            raise TypeError(
                f"RankAwareDepthSelector cannot select {depth_param!r} through a "
                f"{type(estimator).__name__}: it fits copies of the network and keeps "
                "its choice as best_estimator_, where the selector cannot read the "
                "rank (a selector inside would also choose the depth itself). Pass "
                "the skrank estimator itself, or a Pipeline ending in one.")
        estimator = estimator.get_params()[name]


def _pinned(estimator, depth_param, y, splits, fit_params):
    """``estimator`` (a clone) with ``early_stopping='auto'`` resolved once for every
    fold and the refit: True when every training fold would hold rows out by its
    own rule (resolved per fit, a fold a little short of the rows to hold out would
    train on every row, its neighbours and the refit would not; a fold that cannot
    be stratified must not be made to hold out)."""
    key = depth_param[: -len("depth")] + "early_stopping"
    estimator = clone(estimator)
    net = _network(estimator, depth_param)
    if (estimator.get_params().get(key) != "auto" or y is None
            or not isinstance(net, _DeepL2Base)):
        return estimator
    # a Pipeline's network takes its weights as <step>__sample_weight (or, routed,
    # as sample_weight); only the bare key was read, and a Pipeline sweep held
    # out rows where its weighted rows were too few to
    prefix = depth_param[: -len("depth")]
    weight = fit_params.get(prefix + "sample_weight", fit_params.get("sample_weight"))
    weight = None if weight is None or np.ndim(weight) == 0 else np.asarray(weight)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", np.exceptions.ComplexWarning)
            every = all(net._resolve_early_stopping(
                _take(y, train), None if weight is None else weight[train])
                for train, _ in splits)
    except (ValueError, TypeError, IndexError, np.exceptions.ComplexWarning):
        # targets (or weights) a fit rejects: its own validation says why
        return estimator
    return estimator.set_params(**{key: every})


def _check_weight_rows(X, y, fit_params):
    """A weight per row of ``X`` (a scalar weighs every row alike), checked before
    the folds index it."""
    if np.ndim(fit_params.get("sample_weight", 0)) > 0:
        check_consistent_length(X, y, fit_params["sample_weight"])


def _check_alphas(alphas):
    """``alphas`` as a list of floats (``[None]`` for the estimator's own)."""
    if alphas is None:
        return [None]
    values = np.asarray(alphas, dtype=object)
    try:
        floats = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        floats = None
    if floats is None or floats.ndim != 1 or floats.size == 0 \
            or not np.all(np.isfinite(floats)) or np.any(floats < 0):
        raise ValueError(f"alphas must be a non-empty list of finite non-negative "
                         f"numbers (or None), got {alphas!r}.")
    if np.unique(floats).size != floats.size:
        raise ValueError(f"alphas must be distinct, got {alphas!r}: a repeated alpha "
                         "would be cross-validated again and repeat its rows of "
                         "depth_results_.")
    return floats.tolist()


def _without_uniform_weight(fit_params, estimator, depth_param):
    """``fit_params`` less a uniform positive ``sample_weight``, which a bare skrank
    estimator reads as none: a weighted sweep fits fold after fold, the unweighted
    one batched, and the two scored 0.96853 against 0.96863. Kept for any other
    estimator (a Pipeline must still refuse it)."""
    w = fit_params.get("sample_weight")
    if "__" in depth_param or not isinstance(estimator, _DeepL2Base):
        return fit_params
    if w is None:
        # fit's own default: no weights, the batched path too
        return {k: v for k, v in fit_params.items() if k != "sample_weight"}
    if np.ndim(w) != 1 or len(w) == 0:
        return fit_params
    w = np.asarray(w)
    if w.dtype.kind not in "fiu" or not (np.isfinite(w[0]) and w[0] > 0) \
            or not np.all(w == w[0]):
        return fit_params
    return {k: v for k, v in fit_params.items() if k != "sample_weight"}


def _is_fitted(est):
    try:
        check_is_fitted(est)
    except NotFittedError:
        return False
    return True


def _fit_or_stop(est, X, y, fit_params, depth_param="depth"):
    """``est.fit``; a fit that Ctrl-C cut short ends the sweep too.

    The estimator keeps a usable model after a ``KeyboardInterrupt`` during training
    (``stop_reason_ == 'interrupted'``); scoring it as if it had finished would put
    a half-trained network among the candidates, and the user asked to stop.
    """
    est.fit(X, **fit_params) if y is None else est.fit(X, y, **fit_params)
    if _network(est, depth_param, fitted=True).stop_reason_ == "interrupted":
        raise KeyboardInterrupt(f"{type(est).__name__} was interrupted; the depth "
                                "sweep stops.")
    return est


def _fit_and_score(estimator, depth, X, y, train, test, scorer, fit_params,
                   names=("depth", None), alpha=None, label=""):
    """One (depth, alpha, split) job, trained from scratch."""
    return _fit_chain(estimator, [depth], X, y, train, test, scorer, fit_params, None,
                      names, alpha, label)[0]


def _interrupted_in_training(est, template):
    """Whether Ctrl-C stopped ``est``'s training, which keeps a usable network;
    one elsewhere (while its network was read) put it back unfitted."""
    net = _network(est, _param_name(template, "depth"))
    return vars(net).get("stop_reason_") == "interrupted"


def _fold_label(i, n, alpha=None):
    return f"fold {i + 1} of {n}" + ("" if alpha is None else f", alpha {alpha:g}")


#: A sweep's warning as labelled by one fold's fit (``Sweep at depth d,
#: <_fold_label>: ...``) or by a depth's batch of folds trained at once
_FOLD_WARNING = re.compile(r"Sweep at depth (\d+), (fold (\d+) of \d+(?:, alpha ([^:]+))?)"
                           r": (.*)", re.S)
_BATCH_WARNING = re.compile(r"Sweep at depth (\d+) \(\d+ folds? [^)]*\): (.*)", re.S)


def _tell_before_raising(told):
    """:meth:`_ToldOnce.tell_repeats` for a sweep that is raising: a warning a
    filter turns into an error must not replace the sweep's own error (or
    Ctrl-C)."""
    try:
        told.tell_repeats(finished=False)
    except Exception:
        pass


def _drain(per_job):
    """Wait for a sweep's remaining jobs, their results and errors dropped: the
    sweep is raising already."""
    try:
        for _ in per_job:
            pass
    except Exception:
        pass


def _list(values):
    return ", ".join(str(v) for v in values)


class _ToldOnce(list):
    """A sweep's warnings, held (:func:`skrank._warn.held_warnings` appends here)
    so that a message several fits say alike is told once: a swiss roll's default
    sweep told the same autoencoder warning 15 times, a fold at a time, and a
    warning of another kind drowned among them. The first of each message is told
    at once, as its fit said it (an error filter still stops the sweep there);
    :meth:`tell_repeats` then says in one line how many more fits, and which
    depths, said it again."""

    def __init__(self, n_fits):
        super().__init__()
        self.n_fits, self.said = n_fits, {}

    def append(self, item):
        message, category = item
        fold, batch = _FOLD_WARNING.fullmatch(message), _BATCH_WARNING.fullmatch(message)
        match = fold or batch
        key = (category, match.groups()[-1] if match else message)
        if key in self.said:
            self.said[key].append(match)
            return
        self.said[key] = [match]
        with told_now():
            _reissue(message, category)

    def tell_repeats(self, finished=True):
        """One warning per message said again, naming where; ``finished=False``
        (a sweep stopped by an error) counts the fits that ran only."""
        for (category, body), matches in self.said.items():
            first, more = matches[0], matches[1:]
            if not more:
                continue
            if first is None:
                _reissue(f"The sweep's fits gave the same warning {len(more)} more "
                         f"time{'s' if len(more) > 1 else ''}: {_short(body)}", category)
                continue
            told_for = f"depth {first.group(1)}" + (
                f", {first.group(2)}" if first.re is _FOLD_WARNING else "")
            _reissue(f"Sweep: {_where(more, self.n_fits if finished else None)} gave "
                     f"the warning told for {told_for}: {_short(body)}", category)


def _short(body, n=90):
    return f'"{body}"' if len(body) <= n else f'"{body[:n].rstrip()}..."'


def _where(matches, n_fits):
    """Which fits of a sweep (of ``n_fits``, None: not all ran) said a message
    again, from their labels."""
    depths = sorted({int(m.group(1)) for m in matches})
    ds = f"depth{'s' if len(depths) > 1 else ''} {_list(depths)}"
    folds = [m for m in matches if m.re is _FOLD_WARNING]
    if len(folds) < len(matches):  # a depth's folds trained at once say it once
        n = len(matches)
        return f"the folds of {n} more batch{'es' if n > 1 else ''} ({ds})"
    alphas = sorted({float(m.group(4)) for m in folds if m.group(4)})
    k = len(folds)
    count = f"{k} more of its {n_fits} fits" if n_fits else \
        f"{k} more fit{'s' if k > 1 else ''}"
    if len(depths) == 1 and not alphas:
        return (f"{count} (depth {depths[0]}, fold{'s' if k > 1 else ''} "
                f"{_list(sorted(int(m.group(3)) for m in folds))})")
    return count + f" ({ds}" + (f"; alpha{'s' if len(alphas) > 1 else ''} "
                                f"{_list(f'{a:g}' for a in alphas)}" if alphas else "") + ")"


def _rank_scores(scores):
    """Ranks of mean scores as ``GridSearchCV`` gives them: 1 for the best, ties
    sharing the lowest rank, ``inf`` above every finite score, ``-inf`` below, NaN
    below them all. By kind, then by value: offsets from the finite extremes tied
    with scores beyond 1e16, where adding 1 changes nothing (a review)."""
    scores = np.asarray(scores, dtype=float).reshape(-1)
    kind = np.select([scores == np.inf, np.isfinite(scores), scores == -np.inf], [0, 1, 2], 3)
    value = np.where(np.isfinite(scores), -scores, 0.0)
    _, group = np.unique(np.column_stack([kind, value]), axis=0, return_inverse=True)
    return rankdata(group.reshape(-1), method="min").astype(np.int32)


def _count_rows(index):
    """Rows an index selects: a boolean mask's True entries, else its length."""
    index = np.asarray(index)
    return int(np.count_nonzero(index)) if index.dtype == bool else len(index)


def _score_value(score):
    """A scorer's answer as a float; anything but a real number is refused by name
    (a string, an array or None met ``float`` and escaped as its own error)."""
    if hasattr(score, "item"):  # a numpy or torch scalar, as scikit-learn unwraps it
        with contextlib.suppress(ValueError, RuntimeError, TypeError):
            score = score.item()
    if not isinstance(score, Real):
        text = repr(score)
        raise ValueError("scoring must return a real number, got "
                         f"{text[:40] + '...' if len(text) > 40 else text} "
                         f"({type(score).__name__}) instead.")
    return float(score)


def _row(net, depth, alpha, score, fit_time):
    """One (depth, alpha, fold) record of the sweep, with the most rank any function
    of the fold's inputs and outputs needs (``_function_bound``)."""
    return {"depth": depth, "alpha": alpha, "score": _score_value(score),
            "rank": int(net.bottleneck_rank_), "parameter_norm": float(net.parameter_norm_),
            "offset_free_norm": float(net.offset_free_norm_), "fit_time": fit_time,
            "bound": net._function_bound()}


def _check_grid(estimator, depths, alphas, names):
    """Every setting of the sweep, validated before the first fit: the batched
    path trains without ``fit`` (which validates), and a bad value found at refit
    would come after the whole sweep."""
    for depth in depths:
        for a in alphas:
            est = clone(estimator).set_params(
                **{names[0]: depth}, **({} if a is None else {names[1]: a}))
            # a Pipeline validates its own steps when it fits; its last step here
            inner = est[-1] if isinstance(est, Pipeline) else est
            if isinstance(inner, _DeepL2Base):
                inner._validate_params()


def _fit_depth(estimator, depth, X, y, splits, alphas, scorer, fit_params, names):
    """Every (alpha, fold) fit of one depth: one batched run over all of them
    (:func:`skrank._base.fit_many`) for a bare skrank estimator without fit
    parameters, else one fit after the other."""
    depth_param, alpha_param = names
    jobs = [(a, tr, te) for a in alphas for tr, te in splits]
    if "__" in depth_param or fit_params or not isinstance(estimator, _DeepL2Base):
        return [_fit_and_score(estimator, depth, X, y, tr, te, scorer, fit_params,
                               names, a, _fold_label(k % len(splits), len(splits), a))
                for k, (a, tr, te) in enumerate(jobs)]
    ests = [clone(estimator).set_params(
        **{depth_param: depth}, **({} if a is None else {alpha_param: a}))
        for a, _, _ in jobs]
    data = [(_take(X, tr), None if y is None else _take(y, tr)) for _, tr, _ in jobs]
    grid = "" if alphas == [None] or alphas == (None,) else f" x {len(alphas)} alphas"
    label = (f"Sweep at depth {depth} ({len(splits)} folds{grid} trained at once, "
             "numbered fold by fold" + (", alpha by alpha)" if grid else ")"))
    each = [f"Sweep at depth {depth}, " + _fold_label(k % len(splits), len(splits), a)
            for k, (a, _, _) in enumerate(jobs)]
    with _single_thread(), labelled_warnings(label):
        start = time.perf_counter()
        fit_many(ests, data, each)
        fit_time = (time.perf_counter() - start) / len(ests)
    rows = []
    for est, (a, _, te) in zip(ests, jobs):
        if est.stop_reason_ == "interrupted":
            raise KeyboardInterrupt(f"{type(est).__name__} was interrupted; the depth "
                                    "sweep stops.")
        score = scorer(est, _take(X, te)) if y is None else \
            scorer(est, _take(X, te), _take(y, te))
        rows.append(_row(est, depth, a, score, fit_time))
    return rows


def _fit_chain(estimator, depths, X, y, train, test, scorer, fit_params, warm,
               names=("depth", None), alpha=None, label=""):
    """The depths of one fold in order; with ``warm`` (the parameters a warm fit
    sets), each deeper network starts from the previous one with identity layers
    inserted in its bottleneck. ``names`` are the depth and alpha parameters' names
    (``step__depth`` in a Pipeline); ``alpha`` is set when the sweep has an alpha
    grid; ``label`` names the fold in the fits' warnings."""
    depth_param = names[0]
    X_tr, X_te = _take(X, train), _take(X, test)
    y_tr = None if y is None else _take(y, train)
    # per-sample fit parameters (sample_weight) follow the training rows
    fit_params = _check_method_params(X, fit_params, train)
    out, prev = [], None
    with _single_thread():
        for depth in depths:
            start = time.perf_counter()
            est = _next_in_chain(estimator, depth, alpha, prev, X_tr, fit_params, warm,
                                 names)
            with labelled_warnings(f"Sweep at depth {depth}, {label}" if label else
                                   f"Sweep at depth {depth}"):
                _fit_or_stop(est, X_tr, y_tr, fit_params, depth_param)
            fit_time = time.perf_counter() - start
            score = scorer(est, X_te) if y is None else scorer(est, X_te, _take(y, test))
            out.append(_row(_network(est, depth_param, fitted=True), depth, alpha, score,
                            fit_time))
            prev = est
    return out


def _next_in_chain(estimator, depth, alpha, prev, X, fit_params, warm, names):
    """A clone of ``estimator`` at ``depth`` (and ``alpha``); with ``warm`` (the
    parameters a warm fit sets) and a fitted shallower ``prev``, started from
    ``prev``'s network deepened on ``X``."""
    est = clone(estimator).set_params(**{names[0]: depth})
    if alpha is not None:
        est.set_params(**{names[1]: alpha})
    if prev is not None and warm is not None:
        _start_from(prev, est, X, fit_params, names[0])
        est.set_params(**warm)
    return est


def _no_chain(estimator, depth_param):
    """Why a warm chain cannot deepen ``estimator``'s network (None: it can): the
    network must be the estimator, or the last step of a Pipeline, whose earlier
    steps give the inputs the inserted layers are fitted to (a wrapper that fits
    a clone would drop the network the chain hands on)."""
    owner, _, rest = depth_param.rpartition("__")
    net = _network(estimator, depth_param)
    if isinstance(net, _DeepL2Base) and net._no_warm_sweep:
        return f"for a {type(net).__name__} {net._no_warm_sweep}"
    if not owner and isinstance(estimator, _DeepL2Base):
        return None
    if (isinstance(estimator, Pipeline) and "__" not in owner and rest == "depth"
            and owner == estimator.steps[-1][0]
            and isinstance(estimator.steps[-1][1], _DeepL2Base)):
        return None
    return (f"needs a skrank estimator or a Pipeline ending in one, not the "
            f"{type(estimator).__name__} holding its {depth_param!r} (pass the "
            "skrank estimator itself, or in such a Pipeline)")


def _warm_by_default(net):
    """``warm_start='auto'``'s choice: an estimator measured to sweep well warm,
    whose inserted layers are identities on the data (ReLU or identity
    activations) and which grows its fits (``init`` other than ``'random'``)."""
    params = net.get_params()
    return (net._sweeps_warm and params.get("init") != "random"
            and params.get("activation") in GROWS)


def _start_from(prev, est, X, fit_params, depth_param):
    """``est``'s network set to ``prev``'s (fitted, shallower) deepened at its
    bottleneck, on the rows of positive weight of ``X`` (a Pipeline's network on
    its earlier steps' output)."""
    net_prev, net = _network(prev, depth_param, fitted=True), _network(est, depth_param)
    if isinstance(prev, Pipeline):
        X = prev[:-1].transform(X)
    warm_deeper(net_prev, net, X, rtol=DEEPEN_RTOL,
                weight=_network_weight(net, fit_params, depth_param))


def _network_weight(net, fit_params, depth_param):
    """The ``sample_weight`` among ``fit_params`` that reaches ``net`` (the
    estimator's, a Pipeline step's ``<step>__sample_weight``, or routed by the
    network's own request, under its alias if it has one), or None."""
    prefix = depth_param[: -len("depth")]
    if not prefix or prefix + "sample_weight" in fit_params:
        return fit_params.get(prefix + "sample_weight")
    if not get_config()["enable_metadata_routing"]:
        return None
    request = net.get_metadata_routing().fit.requests.get("sample_weight")
    key = "sample_weight" if request is True else request
    return fit_params.get(key) if isinstance(key, str) else None


def _splits(cv, given, X, y, split_params):
    """The (train, test) pairs of ``cv``, refused by name when there are none."""
    splits = list(cv.split(X, y, **split_params))
    if not splits:
        raise ValueError(f"No fits were performed: cv={given!r} gave no split. Pass an "
                         "int, a splitter or a non-empty list of (train, test) pairs.")
    return splits


def _take(a, idx):
    return _safe_indexing(a, idx)


#: Named scores undefined on a test fold of one row (``None``: the estimator's own
#: score, a regressor's or an autoencoder's R^2; a classifier's accuracy is defined)
_ONE_ROW_UNDEFINED = {None: "R^2", "r2": "R^2", "explained_variance": "the explained variance"}


class RankAwareDepthSelector(MetaEstimatorMixin, TransformerMixin, BaseEstimator):
    """Fit a skrank estimator over a range of depths and choose one by rank.

    Every depth is cross-validated; per depth the selector records the
    validation score, the bottleneck rank of each fold's network, ``||theta||^2``
    and ``||theta||^2 / L``. The choice is rank-aware: among the depths whose mean
    score is within ``score_tol`` of the best, it takes the one with the lowest
    stable rank (the lower median over folds: a rank some fold had), and among
    those the shallowest. In the theory, too
    shallow a network cannot reach the low-rank solution, and too deep a one
    under-estimates the rank and loses score (Jacot 2023a, sec. 4), which the
    tolerance catches. At depths 4 to 12 the readings move both ways: in a
    held-out audit (11 sweeps of teachers of rank 1 to 4) no depth read below
    the true rank, 3 teachers read higher at larger depth, and the score rose
    with depth in 8, so the tolerance mostly chose a shallower network than the
    best-scoring one.

    Within a range of depths where the rank is constant, ``||theta||^2`` is affine
    in the depth with slope equal to the rank as the depth grows (Jacot 2023b,
    Fig. 1a): ``norm_slope_`` is that slope fitted over the chosen depth's rank
    plateau. It is fitted to ``offset_free_norm_``, the norm the theory counts:
    with penalized biases each layer also carries the constant offset in a weight
    direction of its own, so the full ``||theta||^2`` grows by ``k + 1`` per layer,
    not ``k``. It is a diagnostic, not a second rank estimate: at depths 4 to 12
    the ``R1`` and ``R2 / L`` terms are not negligible, and a direction the
    function uses at a small scale ``c`` costs ``c^(2/L)`` per layer, not 1.
    Measured at defaults: 2.2-2.3 on the rank-2 teacher of the test suite (depths
    6-12), but from -1.60 to 3.41 on held-out teachers of rank 1 to 3 (30
    readings over several seeds, depths 4-12, every depth reading the right rank;
    one run: rank 1 read -0.87 and 0.34, rank 2 1.34 and -0.79, rank 3 0.89 and
    3.41; see ``benchmarks/bench_rank.py``), and from 0.36 to 4.48 in a later
    audit of 11 sweeps (4.42 on a noisy rank-2 plateau whose folds read 2, 3
    and 5, fitted to the folds' mean norm; 3.67 fitted, as now, to the folds
    that read 2).

    After fit the selector behaves as the refitted chosen estimator.

    Parameters
    ----------
    estimator : skrank estimator or Pipeline
        A skrank estimator (regressor, classifier, autoencoder, ResNet), or a
        Pipeline ending in one: its ``step__depth`` (and ``step__alpha``) are set
        and the rank is read on that step.
    depths : array-like of int, default=(4, 6, 8, 10, 12)
    alphas : array-like of float or None, default=None
        If given, every depth is cross-validated at every ``alpha`` too, and the
        choice runs over (depth, alpha) pairs: the lowest rank within
        ``score_tol`` of the best score, then the shallowest, then the largest
        ``alpha``. ``None`` keeps the estimator's ``alpha``.
    cv : int, cross-validation generator or iterable, default=3
    scoring : str, callable or None, default=None
        The estimator's ``score`` by default. Without ``y`` (an autoencoder) a
        callable ``scorer(estimator, X)``; a string names a scorer of targets.
        Validation folds are scored without ``sample_weight`` (the weights train
        the folds; ``GridSearchCV`` with metadata routing would ask for a score
        request). The selector's own :meth:`score` uses it too, as
        ``GridSearchCV``'s, with the weights given to it.
    score_tol : float, default=0.01
        Depths whose mean validation score is at least ``best - score_tol`` are
        candidates. For a named loss (a ``scoring`` string beginning with
        ``neg_``, such as ``'neg_mean_squared_error'``, whose scores carry the
        targets' units) the tolerance is ``score_tol`` times the loss of a
        constant predictor (each training fold's mean, or its class priors) on
        the validation folds: the choice does not depend on the units, and 0.01
        means for one output's squared error what it means for R^2 (several
        outputs weigh by their variances). A callable's scores
        are compared as given (make them unit-free).
    warm_start : 'auto' or bool, default=False
        Fit the depths of each fold in increasing order, starting every deeper
        network from the previous one with identity layers inserted in its
        bottleneck, so the function is nearly unchanged at the start (Jacot
        2023a, sec. 4; directions weaker than 5% of the strongest are left out);
        the shallowest depth is fitted as the estimator would be, the chosen
        depth is refitted at the end of such a chain. Parallelism is then over
        (alpha, fold) chains. Needs a skrank estimator or a ``Pipeline`` ending in
        one (its earlier steps are refitted at every depth: give a random step a
        ``random_state``), and not a ResNet (its inserted zero blocks are a
        stationary point, which the deeper fits would not leave). ``'auto'``: warm
        for the regressor and the autoencoder when the inserted layers are
        identities (ReLU or identity activations) and ``init`` is not
        ``'random'``; cold fits otherwise (a deepened classifier stayed near the
        shallower fit). Not the default: on 26 held-out teachers of rank 1 to 5,
        sweeps 3.4 to 8.1 times faster than cold (1.4 to 2.7 times over two
        depths, an audit of 10 teachers), ``best_rank_`` right on 14
        against 13, but a chain keeps its shallower fits' rank more often, and on
        4 of the 26 the chosen network's held-out R^2 was 0.02 to 0.07 below the
        cold sweep's (see the user guide); 1.45 to 2 times on the rank-2 task of
        ``benchmarks/bench_batched.py`` (four runs).
    warm_start_iter : int or None, default=None
        Iteration cap of a warm-started fit; None: the estimator's ``max_iter``
        (the fit stops when it converges, usually well before).
    n_jobs : int or None, default=None
        Parallel jobs through joblib, one per depth (its folds and alphas one
        batched run inside the job where the estimator is a bare skrank estimator
        with ``n_init=1``, fitted without fit parameters; otherwise, as for a
        Pipeline, one fit after the other), or with warm starts one per (alpha,
        fold) chain of depths: any joblib backend works, e.g. ``with
        joblib.parallel_config(backend="dask"):`` on a Dask cluster or
        ``backend="ray"`` after ``ray.util.joblib.register_ray()``.
    refit : bool, default=True
        Refit the chosen depth on the whole data.
    verbose : int, default=0

    Attributes
    ----------
    best_depth_ : int
    best_estimator_ : estimator
        Refitted on the whole data (if ``refit``), with the estimator's own
        parameters and the chosen depth (and alpha). ``early_stopping='auto'`` is
        resolved once for every fold and the refit, so that they train alike; the
        parameter stays ``'auto'`` and ``early_stopping_`` says what the refit did.
    best_alpha_ : float or None
        The chosen ``alpha`` (``None`` without an alpha grid).
    best_rank_ : int
        Lower median of the folds' bottleneck ranks at ``best_depth_`` (always a
        rank some fold had). When the folds there disagree, or the refitted
        network reads another rank, an ``AmbiguousRankWarning`` says so (with
        ``cv=2`` the lower median is the smaller of two fold ranks); for a
        regressor scored by R^2, so does a sweep in which no setting predicts
        held-out rows better than their mean (targets of noise read ranks too),
        and a ``best_rank_`` above the most any function of the data's inputs
        and outputs needs (``min(n_features, n_outputs)``, a classifier's
        ``min(n_features, n_classes - 1)``): a reading of the networks, not of
        their function.
    best_index_ : int
        Row of ``depth_results_`` of the chosen depth (and ``alpha``).
    best_score_ : float
        Mean cross-validated score of that row (``'mean_test_score'``).
    scorer_ : callable or None
        The scorer of ``scoring``, which :meth:`score` uses (``None`` without
        ``scoring``: the estimator's own ``score``). Set with ``refit=True``;
        ``skrank.save`` does not store it (a loaded selector reads its ``scoring``).
    norm_slope_ : float
        Slope of ``offset_free_norm_`` against depth over the rank plateau of
        ``best_depth_`` (the contiguous depths, at its alpha, whose rank is
        ``best_rank_``), fitted to the folds that read ``best_rank_`` there, each
        fold's points about their own mean (``depth_results_``'s
        ``'rank_per_fold'`` and ``'offset_free_norm_per_fold'``; folds with one
        such depth do not count) (NaN
        if the plateau holds a single depth, and for ``ResNetL2Regressor``, whose
        cost weighs its block weights by ``lam``: its slopes read -0.5 to -0.8
        on rank-1 plateaus); the
        rank only in the limit of large depth (see above), and only on fits
        trained to the minimum: an estimator that stops on held-out rows (a
        single-output regressor or a classifier at ``early_stopping='auto'``,
        see ``early_stopping_``) keeps a network short of it; pass it with
        ``early_stopping=False`` to read the theory's slope.
    depth_results_ : dict of ndarray
        Per depth (per (alpha, depth) pair with ``alphas``, then with an
        ``'alpha'`` column): ``'depth'``, ``'mean_test_score'``, ``'std_test_score'``,
        ``'test_score_per_fold'``, ``'bottleneck_rank'`` (lower median),
        ``'rank_per_fold'`` (these two ``'*_per_fold'`` keys one row per depth, or
        per (alpha, depth) pair, by n_folds),
        ``'parameter_norm'`` (mean ``||theta||^2``), ``'offset_free_norm'``
        (mean), ``'offset_free_norm_per_fold'`` (shaped as ``'rank_per_fold'``:
        ``norm_slope_`` is fitted to these, not to the means, which mix in folds
        of other ranks), ``'norm_per_depth'``,
        ``'mean_fit_time'`` and ``'std_fit_time'`` (where a depth's fits train as
        one batch, the batch's time over its fits: the same for all of them).
        Every key but the three ``'*_per_fold'`` holds one value per row:
        ``pandas.DataFrame`` takes them once those 2-D keys are left out, or
        takes ``cv_results_`` whole.
    cv_results_ : dict of ndarray
        ``depth_results_`` in ``GridSearchCV``'s layout, for the tools that read
        a search's results: ``'params'``, ``'param_<name>'`` (``'param_depth'``,
        ``'param_step__depth'`` in a Pipeline, and ``alpha``'s with a grid),
        ``'mean_test_score'``, ``'std_test_score'``, ``'rank_test_score'`` (by mean
        score alone: ``best_index_`` is the lowest rank within ``score_tol`` of
        the best score, not always the row ranked 1), ``'split<k>_test_score'``,
        ``'mean_fit_time'``, ``'std_fit_time'`` and ``'bottleneck_rank'``; no score
        times (scoring is not timed). The rows are ``depth_results_``'s (alphas
        as given, depths increasing), the ``'param_*'`` plain arrays, not masked
        ones. A selector saved by an earlier version has no fold scores: its
        ``'split<k>_test_score'`` and ``'std_fit_time'`` are absent.
    best_params_ : dict
        The chosen setting as ``GridSearchCV`` names it, e.g. ``{'depth': 6}``, or
        ``{'step__depth': 6, 'step__alpha': 0.03}`` with an alpha grid over a
        Pipeline's step.
    n_features_in_ : int
        Number of features of ``X`` (set by every fit, ``refit`` or not).
    feature_names_in_ : ndarray of str
        Names of ``X``'s columns, only when they are all strings.
    classes_ : ndarray
        Only for classifiers: the labels of ``y``, sorted.

    See Also
    --------
    sklearn.model_selection.GridSearchCV : exhaustive search, no rank.

    References
    ----------
    .. [1] A. Jacot, "Bottleneck structure in learned features: low-dimension vs
       regularity tradeoff", NeurIPS 2023, Fig. 1a.

    Examples
    --------
    >>> from skrank import DeepL2Regressor, RankAwareDepthSelector
    >>> from skrank.datasets import make_bottleneck_regression
    >>> X, y = make_bottleneck_regression(200, random_state=0)
    >>> sel = RankAwareDepthSelector(DeepL2Regressor(max_iter=100, random_state=0),
    ...                              depths=[3, 6], cv=2).fit(X, y)
    >>> sel.best_depth_ in (3, 6)
    True
    >>> sel.predict(X).shape
    (200, 20)
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit"])],
        "depths": ["array-like"],
        "alphas": ["array-like", None],
        "cv": ["cv_object"],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None],
        "score_tol": [Interval(Real, 0, None, closed="left")],
        "warm_start": [StrOptions({"auto"}), "boolean"],
        "warm_start_iter": [Count(Integral, 1, None, closed="left"), None],
        # joblib's convention: 0 means nothing (it raised its own error mid-fit)
        "n_jobs": [Count(Integral, None, -1, closed="right"),
                   Count(Integral, 1, None, closed="left"), None],
        "refit": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(self, estimator, *, depths=(4, 6, 8, 10, 12), alphas=None, cv=3,
                 scoring=None, score_tol=0.01, warm_start=False, warm_start_iter=None,
                 n_jobs=None, refit=True, verbose=0):
        self.estimator = estimator
        self.depths = depths
        self.alphas = alphas
        self.cv = cv
        self.scoring = scoring
        self.score_tol = score_tol
        self.warm_start = warm_start
        self.warm_start_iter = warm_start_iter
        self.n_jobs = n_jobs
        self.refit = refit
        self.verbose = verbose

    def _check_depths(self):
        depths = np.asarray(self.depths)
        # a bool is an int to numpy next to ints ([True, 2] read as depth 1)
        if any(isinstance(d, (bool, np.bool_)) for d in np.ravel(np.asarray(
                self.depths, dtype=object))) or depths.ndim != 1 or depths.size == 0 \
                or depths.dtype.kind not in "iu" \
                or np.any(depths < 1) or len(set(depths.tolist())) != depths.size:
            raise ValueError(
                f"depths must be a non-empty list of distinct positive integers, got "
                f"{self.depths!r}."
            )
        if isinstance(self.estimator, type):
            raise TypeError(f"estimator={self.estimator.__name__} is a class; pass an "
                            f"instance ({self.estimator.__name__}()) instead.")
        depth_param = _param_name(self.estimator, "depth")
        owner = _network(self.estimator, depth_param)
        name = type(owner).__name__
        if not isinstance(owner, _DeepL2Base):
            raise TypeError(f"RankAwareDepthSelector reads the rank of a skrank "
                            f"estimator; the {depth_param!r} parameter belongs to "
                            f"{name}. Pass a skrank estimator, or a Pipeline ending "
                            "in one.")
        # before any fit: a depth the estimator refuses would otherwise fail a whole
        # sweep late, inside a parallel job
        constraint = type(owner)._parameter_constraints.get("depth")
        for depth in depths.tolist() if constraint else ():
            try:
                validate_parameter_constraints({"depth": constraint}, {"depth": depth},
                                               caller_name=name)
            except InvalidParameterError as exc:
                raise ValueError(f"depths={self.depths!r} holds {depth}, which {name} "
                                 f"refuses: {exc}") from None
        return np.sort(depths)

    def _fit_params(self, params):
        """(the splitter's ``split`` parameters, the estimator's ``fit`` ones):
        routed when metadata routing is on; else, as scikit-learn's searches do,
        ``groups`` to the splitter and everything else to ``fit`` (a torch tensor,
        either way, as the array it holds)."""
        if get_config()["enable_metadata_routing"]:
            routed = process_routing(self, "fit", **params)
            split, fit = routed.splitter.split, routed.estimator.fit
        else:
            fit = dict(params)
            groups = fit.pop("groups", None)
            split = {} if groups is None else {"groups": groups}
        return ({k: user_array(v) for k, v in split.items()},
                {k: user_array(v) for k, v in fit.items()})

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, **params):
        """Cross-validate every depth, choose one, refit it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
        **params : dict
            Metadata routed (with ``sklearn.set_config(enable_metadata_routing=True)``)
            to the estimator's ``fit`` and the splitter's ``split`` (e.g. ``groups``);
            without routing, as in scikit-learn's searches, ``groups`` goes to the
            splitter and the rest (``sample_weight``) to every ``fit``.

        Returns
        -------
        self : RankAwareDepthSelector
        """
        before = dict(vars(self))
        try:
            with _grad_enabled():
                return self._fit(X, y, params)
        except BaseException as exc:
            # an error (a ConvergenceWarning a filter made one) or Ctrl-C after the
            # sweep had replaced depth_results_ and dropped best_estimator_: predict
            # then said "refit=False". A refit Ctrl-C stopped keeps its usable model
            refit = vars(self).get("best_estimator_")
            if not (isinstance(exc, KeyboardInterrupt) and refit is not None
                    and refit is not before.get("best_estimator_")
                    and _interrupted_in_training(refit, self.estimator)):
                vars(self).clear()
                vars(self).update(before)
            raise

    def _fit(self, X, y, params):
        """:meth:`fit`, with the selector as before when it raises."""
        depths = self._check_depths()
        if y is None and self.estimator.__sklearn_tags__().target_tags.required:
            raise ValueError(
                f"{type(self.estimator).__name__} requires y to be passed, but the "
                "target y is None."
            )
        split_params, fit_params = self._fit_params(params)
        X, y = indexable(user_array(X), user_array(y))
        _check_weight_rows(X, y, fit_params)
        for attr in _SET_BY_REFIT:
            vars(self).pop(attr, None)  # nothing from an earlier fit survives this one
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        splits = _splits(cv, self.cv, X, y, split_params)
        if y is None and isinstance(self.scoring, str):
            raise ValueError(
                f"scoring={self.scoring!r} compares predictions with targets, but the "
                f"selector was fitted without y. Leave scoring=None to score by "
                f"{type(self.estimator).__name__}.score, or pass a callable "
                "scorer(estimator, X).")
        self._check_scorable_folds(splits)
        scorer = check_scoring(self.estimator, scoring=self.scoring)
        names = (_param_name(self.estimator, "depth"), None)
        _check_reachable(self.estimator, names[0])
        if self.alphas is not None:
            names = (names[0], _beside(self.estimator, names[0], "alpha"))
        fit_params = _without_uniform_weight(fit_params, self.estimator, names[0])
        alphas = _check_alphas(self.alphas)
        _check_grid(self.estimator, depths, alphas, names)
        warm = self._warm_settings(names[0])
        estimator = _pinned(self.estimator, names[0], y, splits, fit_params)
        start = time.perf_counter()
        out = self._interruptible_sweep(estimator, depths, alphas, names, X, y, splits,
                                        scorer, fit_params, warm)
        bound = self._summarize(depths, out, len(splits), alphas,
                                self._tolerance(estimator, X, y, splits, scorer))
        self._warn_if_nothing_predicts()
        self._warn_if_above_bound(bound)
        self._set_input_attributes(X, y)
        if self.verbose:
            self._print_summary(time.perf_counter() - start)
        if self.refit:
            self._refit(estimator, names, X, y, fit_params, scorer,
                        warm and depths[depths < self.best_depth_].tolist(), warm)
        self._warn_if_ranks_disagree()
        return self

    def _check_scorable_folds(self, splits):
        """Refuse, before any fit, test folds of one row where the score is an R^2
        (a regressor's or an autoencoder's own, or ``'r2'``) or an explained
        variance: both are undefined there. Every setting would score NaN, and the
        sweep would end in an error that does not say why (an audit's five rows at
        ``cv=5``, ``LeaveOneOut``); scikit-learn scores the explained variance of
        one row 1.0, every setting alike (an audit)."""
        # a callable scorer may be unhashable (a class defining __eq__ only)
        named = self.scoring is None or isinstance(self.scoring, str)
        score = _ONE_ROW_UNDEFINED.get(self.scoring) if named else None
        if score is None or is_classifier(self.estimator):
            return
        smallest = min(_count_rows(test) for _, test in splits)
        if smallest >= 2:
            return
        source = "the scoring" if self.scoring else "the estimator's score"
        raise ValueError(
            f"A test fold holds {smallest} row{'' if smallest == 1 else 's'}: {score} "
            f"({source}) is undefined on "
            f"fewer than two rows, so every setting would score alike ({len(splits)} "
            "folds). Use fewer folds (cv), more rows, or a scoring defined on one "
            "row, e.g. scoring='neg_mean_squared_error'.")

    def _refit(self, estimator, names, X, y, fit_params, scorer, shallower, warm):
        """Fit the chosen depth (and alpha) on all rows as ``best_estimator_``, as
        the folds were fitted (warm: the ``shallower`` depths' chain first); keep
        the scorer :meth:`score` uses (``None``: the estimator's own ``score``)."""
        self.scorer_ = None if self.scoring is None else scorer
        alpha = None if names[1] is None else self.best_alpha_
        est, prev = None, None
        try:
            for depth in shallower or ():
                # steps towards the model, not models: their warnings (a rank
                # reading, an iteration cap) are about networks no one gets
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    prev = _fit_or_stop(_next_in_chain(estimator, depth, alpha, prev, X,
                                                       fit_params, warm, names),
                                        X, y, fit_params, names[0])
            est = _next_in_chain(estimator, self.best_depth_, alpha, prev, X, fit_params,
                                 warm, names)
            with labelled_warnings(
                    f"Refit at depth {self.best_depth_}"
                    + ("" if alpha is None else f", alpha {alpha:g}")
                    + " (best_estimator_)"):
                _fit_or_stop(est, X, y, fit_params, names[0])
        finally:
            # Ctrl-C in training re-raises after the fit kept a usable model
            # (stop_reason_ 'interrupted'): it is the selector's model then too;
            # one elsewhere (or in a shallower fit of the chain) leaves no model
            if est is not None and _is_fitted(est):
                # the user's settings, not the chain's (a later fit of the model
                # would continue its network, capped at warm_start_iter), nor the
                # sweep's resolved early_stopping (its early_stopping_ says how
                # this fit stopped)
                user = self.estimator.get_params()
                key = names[0][: -len("depth")] + "early_stopping"
                est.set_params(**{k: user[k] for k in (*(warm or ()), key) if k in user})
                self.best_estimator_ = est
                for attr in ("n_features_in_", "feature_names_in_", "classes_"):
                    if hasattr(est, attr):
                        setattr(self, attr, getattr(est, attr))

    def _warn_if_nothing_predicts(self):
        """A regressor's ranks describe a function of ``X`` only if it predicts rows
        it did not see: targets that do not depend on ``X`` (pure noise) read
        ranks of 1 to 6 at defaults, with no other warning for a residual network
        and training R^2 up to 0.99 for a plain one (it memorizes them). With R^2
        as the score (the default), a best mean of 0 or less says so."""
        if not (is_regressor(self.estimator) and self.scoring in (None, "r2")):
            return
        best = np.nanmax(self.depth_results_["mean_test_score"])
        if best > 0 or self.best_rank_ == 0:
            return  # rank 0: no function was read (each fit warns of its own)
        warn_user(
            f"No setting predicts held-out rows better than their mean (the best "
            f"mean test R^2 is {best:.3g}): the targets may not depend on X, and the "
            f"ranks read (best_rank_={self.best_rank_}) would then describe noise the "
            "networks fitted, not a function of X.", AmbiguousRankWarning)

    def _warn_if_above_bound(self, bound):
        """``best_rank_`` above ``bound = (value, what, why)``, the most rank any
        function of the folds' inputs and outputs needs, is a reading of the
        networks, not of a function (each fit warned of its own): the choice then
        compared readings that carry no rank of the function. An audit's binary
        XOR read 4 (folds 2, 4 and 4), one output read 2, three outputs of noise 6,
        with no word from the selector."""
        if bound is None or self.best_rank_ <= bound[0]:
            return
        value, what, why = bound
        warn_user(
            f"best_rank_={self.best_rank_} is above {what} = {value}: {why}. The "
            "folds' networks carry directions their functions do not use, so the "
            "choice compared readings of the networks, not ranks of the function "
            f"(which is at most {value}). A larger alpha (alphas=...) lets the "
            "networks drop them.", AmbiguousRankWarning)

    def _warn_if_ranks_disagree(self):
        """``best_rank_`` is a confident number only when every fold at the chosen
        setting read it and the refitted network (if any) reads it too: folds that
        disagree (with ``cv=2`` the lower median is the smaller fold rank), or a
        refit on the whole data showing a structure no fold showed, say that the
        rank depends on which rows a network saw."""
        folds = sorted(int(r) for r in self.depth_results_["rank_per_fold"][self.best_index_])
        est = self.__dict__.get("best_estimator_")
        refit = (None if est is None else
                 _network(est, _param_name(self.estimator, "depth"), True).bottleneck_rank_)
        if len(set(folds)) == 1 and refit in (None, self.best_rank_):
            return
        where = (f"best_rank_={self.best_rank_} (the lower median of the folds' ranks "
                 f"{folds} at depth {self.best_depth_})")
        if refit in (None, self.best_rank_):
            what = f"The folds disagree: {where} is not a rank every fold read."
        else:
            what = (f"The refitted network reads bottleneck rank {refit}, but {where}: "
                    "neither number is a confident rank.")
        warn_user(f"{what} More folds (cv), more data, or a look at "
                  "depth_results_['rank_per_fold'] across depths tell which holds.",
                  AmbiguousRankWarning)

    def _set_input_attributes(self, X, y):
        """``n_features_in_``, ``feature_names_in_`` (string column names only) and a
        classifier's ``classes_``, read from the data in every fit, with or without
        ``refit`` (a refit then sets the same values from ``best_estimator_``)."""
        _check_n_features(self, X, reset=True)
        _check_feature_names(self, X, reset=True)
        if is_classifier(self.estimator) and y is not None:
            # the labels as DeepL2Classifier encodes them (skrank._tasks)
            self.classes_ = LabelEncoder().fit(column_or_1d(y)).classes_

    def _warm_settings(self, depth_param):
        """The parameters a warm fit sets, or None for cold fits (``warm_start``
        resolved)."""
        why = _no_chain(self.estimator, depth_param)
        if self.warm_start == "auto":
            warm = why is None and _warm_by_default(_network(self.estimator, depth_param))
        elif self.warm_start and why:
            raise ValueError(
                f"warm_start=True starts each depth from the previous network, which "
                f"{why}; set warm_start=False (cold fits).")
        else:
            warm = self.warm_start
        if not warm:
            return None
        # the warm fits start from a fitted function: no Adam warm-up
        cap = {} if self.warm_start_iter is None else {"max_iter": self.warm_start_iter}
        prefix = depth_param[: -len("depth")]
        return {prefix + k: v for k, v in dict(warm_start=True, warmup_iter=0,
                                               **cap).items()}

    def _interruptible_sweep(self, *args):
        """:meth:`_sweep`, which Ctrl-C stops with one word: the selector's (a
        fold's fit says it keeps a usable model; the selector has none). A message
        its fits said alike is told once (:class:`_ToldOnce`)."""
        depths, alphas, splits = args[1], args[2], args[6]
        told = _ToldOnce(len(depths) * len(alphas) * len(splits))
        try:
            with dropped_warnings(TrainingInterruptedWarning), held_warnings(told):
                out = self._sweep(*args)
        except KeyboardInterrupt:
            _tell_before_raising(told)
            warn_user(f"{type(self).__name__} was interrupted during its sweep over "
                      "depths: it is not fitted by this call (the interrupted fold's "
                      "network is discarded; an earlier fit, if any, is kept). Fit "
                      "again to run the sweep.", TrainingInterruptedWarning)
            raise
        except BaseException:
            _tell_before_raising(told)
            raise
        told.tell_repeats()
        return out

    def _sweep(self, estimator, depths, alphas, names, X, y, splits, scorer, fit_params,
               warm):
        """Every (alpha, depth, fold) fit, spread over joblib workers: one job per
        depth (its folds and alphas batched), or with ``warm`` one job per (alpha,
        fold) chain of depths."""
        # scikit-learn's Parallel carries its config (metadata routing) and the
        # warning filters into the workers, as its own searches do; joblib's
        # dropped them (a routed Pipeline sweep failed at n_jobs=2)
        # a generator: a line per job as it completes
        parallel = Parallel(n_jobs=self.n_jobs, verbose=self.verbose,
                            return_as="generator")
        beside = effective_n_jobs(self.n_jobs) != 1
        if warm is None:
            return self._collect(parallel(
                delayed(_Job(_fit_depth, beside))(estimator, int(d), X, y, splits,
                                                   alphas, scorer, fit_params, names)
                for d in depths), [None] * len(depths))
        chains = [(a, i) for a in alphas for i in range(len(splits))]
        return self._collect(parallel(
            delayed(_Job(_fit_chain, beside))(estimator, [int(d) for d in depths], X, y,
                                               *splits[i], scorer, fit_params, warm,
                                               names, a, _fold_label(i, len(splits), a))
            for a, i in chains), [
                f"fold {i + 1}{'' if a is None else f', alpha {a:g}'}: chain of depths "
                f"{[int(d) for d in depths]}" for a, i in chains])

    def _collect(self, per_job, labels):
        """The sweep's rows; with ``verbose``, a line per finished job (a depth's
        folds, or, with ``labels``, a fold's chain of depths) with the elapsed time
        and an estimate of the time left."""
        out, start = [], time.perf_counter()
        n_jobs = len(labels)
        for done, (rows, caught) in enumerate(per_job, start=1):
            try:
                for message, category in caught:
                    _reissue(message, category)
            except Exception:
                # a filter made a warning an error: jobs running beside this one
                # in threads would otherwise finish after the caller has moved on,
                # restoring the warning filters and torch's threads they found
                # (the error filter, one thread) on the whole process (a review)
                _drain(per_job)
                raise
            out.extend(rows)
            if self.verbose:
                elapsed = time.perf_counter() - start
                scores = [r["score"] for r in rows]
                what = (f"depth {rows[0]['depth']}: mean score {np.mean(scores):.4f}"
                        if labels[done - 1] is None else
                        f"{labels[done - 1]}: scores {np.round(scores, 4).tolist()}")
                print(f"[{done}/{n_jobs}] {what}, ranks {[r['rank'] for r in rows]}, "
                      f"elapsed {elapsed:.1f}s, about "
                      f"{elapsed / done * (n_jobs - done):.0f}s left", flush=True)
        return out

    def _print_summary(self, elapsed):
        """One line per (depth, alpha): score, rank per fold, fit time."""
        res = self.depth_results_
        for i, depth in enumerate(res["depth"]):
            alpha = f"  alpha {res['alpha'][i]:g}" if "alpha" in res else ""
            mark = "  <- chosen" if i == self.best_index_ else ""
            print(f"depth {depth:3d}{alpha}  score {res['mean_test_score'][i]:.4f} "
                  f"(+/- {res['std_test_score'][i]:.4f})  rank {res['bottleneck_rank'][i]} "
                  f"(folds {res['rank_per_fold'][i].tolist()})  fit "
                  f"{res['mean_fit_time'][i]:.1f}s{mark}", flush=True)
        print(f"sweep of {len(res['depth'])} settings took {elapsed:.1f}s", flush=True)

    def _summarize(self, depths, out, n_folds, alphas=(None,), tol=None):
        rows = [(int(d), a) for a in alphas for d in depths]
        cell = {row: [r for r in out if (r["depth"], r.get("alpha")) == row] for row in rows}

        def column(key, fn=np.mean):
            return np.array([fn([r[key] for r in cell[row]]) for row in rows])

        res = {
            "depth": np.array([d for d, _ in rows], dtype=int),
            "mean_test_score": column("score"),
            "std_test_score": column("score", np.std),
            "test_score_per_fold": np.array([[r["score"] for r in cell[row]]
                                             for row in rows], dtype=float),
            "rank_per_fold": np.array([[r["rank"] for r in cell[row]] for row in rows]),
            "parameter_norm": column("parameter_norm"),
            "offset_free_norm": column("offset_free_norm"),
            "offset_free_norm_per_fold": np.array(
                [[r["offset_free_norm"] for r in cell[row]] for row in rows], dtype=float),
            "mean_fit_time": column("fit_time"),
            "std_fit_time": column("fit_time", np.std),
        }
        if alphas != [None] and alphas != (None,):
            res["alpha"] = np.array([a for _, a in rows], dtype=float)
        # the lower median: always a rank some fold had (a rounded mean of 2 and 4
        # would report a 3 no network showed)
        ranks = np.sort(res["rank_per_fold"], axis=1)
        res["bottleneck_rank"] = ranks[:, (ranks.shape[1] - 1) // 2].astype(int)
        res["norm_per_depth"] = res["parameter_norm"] / res["depth"]
        self.depth_results_ = res
        self._choose(res, rows, self.score_tol if tol is None else tol)
        self.norm_slope_ = self._plateau_slope(res, rows, cell)
        # the chosen row's bound: the largest of its folds' (a fold short of a
        # class has a lower one)
        bounds = [r["bound"] for r in cell[rows[self.best_index_]] if "bound" in r]
        return max(bounds, key=lambda b: b[0]) if bounds else None

    def _plateau_slope(self, res, rows, cell):
        """The slope of ``offset_free_norm_`` against depth over the chosen row's
        rank plateau (the contiguous run of depths, at its alpha, whose rank is
        ``best_rank_``), fitted to the folds that read that rank: the theory's
        slope is one rank's, and folds of other ranks mixed into a mean (a noisy
        rank-2 plateau whose folds read 2, 3 and 5) read 4.42. One slope, each
        fold about its own mean (folds differ in level: a fold counted at the
        deeper depths only would tilt a pooled line), over the folds that read
        the rank at two depths or more; NaN where none does, and for a residual
        network, whose cost does not weigh its weights alike (rank-1 plateaus
        read slopes of -0.5 to -0.8)."""
        if not isinstance(_network(self.estimator, _param_name(self.estimator, "depth")),
                          _FullyConnected):
            return float("nan")
        i = self.best_index_
        same = [j for j, row in enumerate(rows) if row[1] == rows[i][1]]
        pos = same.index(i)
        lo = hi = pos
        while lo > 0 and res["bottleneck_rank"][same[lo - 1]] == self.best_rank_:
            lo -= 1
        while hi < len(same) - 1 and res["bottleneck_rank"][same[hi + 1]] == self.best_rank_:
            hi += 1
        per_fold = {}
        for j in same[lo: hi + 1]:
            for fold, r in enumerate(cell[rows[j]]):
                if r["rank"] == self.best_rank_ and np.isfinite(r["offset_free_norm"]):
                    per_fold.setdefault(fold, []).append((rows[j][0], r["offset_free_norm"]))
        centered = [np.array(p, dtype=float) for p in per_fold.values() if len(p) > 1]
        if not centered:
            return float("nan")
        d, n = (np.concatenate([p[:, i] - p[:, i].mean() for p in centered])
                for i in (0, 1))
        return float(d @ n / (d @ d))

    def _tolerance(self, estimator, X, y, splits, scorer):
        """``score_tol`` in the scores' units: as given for the estimator's own
        score, for other named scores (unit-free: R^2, accuracy) and for a
        callable; for a named loss (``neg_*``, whose scores carry the targets'
        units or are unbounded), ``score_tol`` times the loss of a constant
        predictor (the training fold's mean, or its class priors) on the
        validation folds, so that 0.01 means for one output's squared error what it
        means for R^2 (as given where that loss cannot be read). An audit found an
        absolute 0.01 on the squared error of targets in thousandths taking every
        alpha as tied (the constant network chosen, test R^2 -0.001); a review found
        a tolerance relative to the best loss 33 times narrower than R^2's."""
        if not (isinstance(self.scoring, str) and self.scoring.startswith("neg_")):
            return self.score_tol
        dummy = (DummyClassifier(strategy="prior") if is_classifier(estimator)
                 else DummyRegressor())
        try:
            with warnings.catch_warnings():
                # the constant's own ill-defined scores (a likelihood ratio) are
                # not the user's to read: the tolerance then stays as given
                warnings.simplefilter("ignore")
                null = np.mean([scorer(clone(dummy).fit(_take(X, tr), _take(y, tr)),
                                       _take(X, te), _take(y, te)) for tr, te in splits])
        except (ValueError, TypeError):
            return self.score_tol
        return self.score_tol * abs(null) if np.isfinite(null) else self.score_tol

    def _choose(self, res, rows, tol):
        """Lowest stable rank within ``score_tol`` of the best score, then the
        shallowest depth, then the strongest penalty."""
        scores = res["mean_test_score"]
        if not np.isfinite(scores).any():
            raise ValueError("Every (depth, alpha) cross-validation score is NaN or "
                             "infinite: no depth can be chosen. Check the scoring and "
                             "the fits' stop_reason_.")
        best = np.nanmax(np.where(np.isfinite(scores), scores, np.nan))
        candidates = np.flatnonzero(np.isfinite(scores)
                                    & (scores >= best - tol))
        i = min(candidates, key=lambda j: (res["bottleneck_rank"][j], res["depth"][j],
                                           -(rows[j][1] or 0.0)))
        self.best_index_ = int(i)
        self.best_depth_ = int(res["depth"][i])
        self.best_alpha_ = rows[i][1]
        self.best_rank_ = int(res["bottleneck_rank"][i])
        self.best_score_ = float(res["mean_test_score"][i])

    def _grid_names(self):
        """The parameter names of the sweep's settings, as ``GridSearchCV`` names
        them (``depth``, ``step__depth`` in a Pipeline; ``alpha`` with a grid)."""
        depth = _param_name(self.estimator, "depth")
        with_alpha = "alpha" in self.depth_results_
        return depth, _beside(self.estimator, depth, "alpha") if with_alpha else None

    @property
    def best_params_(self):
        """The chosen setting as ``GridSearchCV`` gives it: ``{depth_param: depth}``,
        with ``alpha``'s too when the sweep had an alpha grid."""
        check_is_fitted(self, "depth_results_")
        depth, alpha = self._grid_names()
        return {depth: self.best_depth_, **({} if alpha is None else
                                            {alpha: self.best_alpha_})}

    @property
    def cv_results_(self):
        """``depth_results_`` in ``GridSearchCV``'s layout (one entry per row).

        ``'params'``, ``'param_<name>'``, ``'mean_test_score'``,
        ``'std_test_score'``, ``'rank_test_score'`` (1 for the best mean score, as
        the search ranks; the selector's choice, ``best_index_``, is the lowest
        rank within ``score_tol`` of it), ``'split<k>_test_score'``,
        ``'mean_fit_time'``, ``'std_fit_time'`` and ``'bottleneck_rank'`` (a
        selector saved by an earlier version has no ``'split<k>_test_score'`` or
        ``'std_fit_time'``). ``pandas.DataFrame`` takes it as it is.
        """
        check_is_fitted(self, "depth_results_")
        res, (depth, alpha) = self.depth_results_, self._grid_names()
        params = [{depth: int(d), **({} if alpha is None else {alpha: float(a)})}
                  for d, a in zip(res["depth"], res.get("alpha", res["depth"]))]
        scores = res["mean_test_score"]
        out = {"params": params, f"param_{depth}": res["depth"].copy()}
        if alpha is not None:
            out[f"param_{alpha}"] = res["alpha"].copy()
        out.update(mean_test_score=scores.copy(), std_test_score=res["std_test_score"].copy(),
                   rank_test_score=_rank_scores(scores))
        for k, fold in enumerate(res.get("test_score_per_fold", np.empty((0, 0))).T):
            out[f"split{k}_test_score"] = fold.copy()
        out["mean_fit_time"] = res["mean_fit_time"].copy()
        if "std_fit_time" in res:
            out["std_fit_time"] = res["std_fit_time"].copy()
        out["bottleneck_rank"] = res["bottleneck_rank"].copy()
        return out

    def get_metadata_routing(self):
        """Get the metadata routing of this object.

        ``fit``'s metadata go to the estimator's ``fit`` and to the splitter's
        ``split``; :meth:`score`'s ``sample_weight`` is the selector's own request
        (``set_score_request``); see scikit-learn's metadata routing guide.

        Returns
        -------
        routing : sklearn.utils.metadata_routing.MetadataRouter
        """
        # without its own request, set_score_request was silently ignored: a
        # search scored the selector without the weights it was given
        router = MetadataRouter(owner=self).add_self_request(self)
        router.add(estimator=self.estimator,
                   method_mapping=MethodMapping().add(caller="fit", callee="fit"))
        router.add(splitter=check_cv(self.cv),
                   method_mapping=MethodMapping().add(caller="fit", callee="split"))
        return router

    # ---- behave as the chosen estimator ------------------------------------------
    def _check_refit(self):
        check_is_fitted(self, "depth_results_")
        if not hasattr(self, "best_estimator_"):
            raise AttributeError("refit=False: no estimator was refitted to use.")
        return self.best_estimator_

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """Predict with ``best_estimator_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        return self._check_refit().predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Compute class probabilities with ``best_estimator_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return self._check_refit().predict_proba(X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Compute class log-probabilities with ``best_estimator_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        return self._check_refit().predict_log_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Compute ``best_estimator_``'s decision function.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        return self._check_refit().decision_function(X)

    def transform(self, X):
        """Transform with ``best_estimator_``: the chosen network's bottleneck coordinates.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
        """
        return self._check_refit().transform(X)

    @available_if(_estimator_has("inverse_transform"))
    def inverse_transform(self, X):
        """Map back with ``best_estimator_`` (the autoencoder's decoder).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
        """
        return self._check_refit().inverse_transform(X)

    @available_if(_estimator_has("get_feature_names_out"))
    def get_feature_names_out(self, input_features=None):
        """Get the names of :meth:`transform`'s columns from ``best_estimator_``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Passed on to ``best_estimator_.get_feature_names_out``.

        Returns
        -------
        feature_names_out : ndarray of str
        """
        return self._check_refit().get_feature_names_out(input_features)

    def fit_transform(self, X, y=None, **params):
        """Fit, then :meth:`transform` ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
        **params : dict
            Metadata passed to :meth:`fit`.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
        """
        return self.fit(X, y, **params).transform(X)

    @available_if(_scorable)
    def score(self, X, y=None, sample_weight=None):
        """Score ``best_estimator_`` on ``X`` (and ``y``).

        By the fit's ``scoring`` when given (``scorer_``), as ``GridSearchCV``
        does, else by the estimator's own ``score``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
            ``None`` for an unsupervised estimator (the autoencoder).
        sample_weight : array-like of shape (n_samples,), default=None
            Passed on when given, to the scorer or to the estimator's ``score`` (a
            ``TypeError`` when the chosen estimator's ``score`` takes none, as the
            autoencoder's).

        Returns
        -------
        score : float
        """
        est = self._check_refit()
        kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}
        # the fit's scorer, as GridSearchCV's scorer_; a fit of an earlier release
        # has none: its scoring, read now
        if "scorer_" in vars(self):
            scorer = self.scorer_
        else:
            scorer = None if self.scoring is None else check_scoring(est, self.scoring)
        if scorer is not None:
            return scorer(est, X, **kwargs) if y is None else scorer(est, X, y, **kwargs)
        if kwargs and "sample_weight" not in inspect.signature(est.score).parameters:
            raise TypeError(f"{type(est).__name__}.score takes no sample_weight, so "
                            "the selector cannot pass it on.")
        return est.score(X, **kwargs) if y is None else est.score(X, y, **kwargs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        sub = self.estimator.__sklearn_tags__()
        tags.estimator_type = sub.estimator_type
        tags.target_tags = sub.target_tags
        tags.classifier_tags = sub.classifier_tags
        tags.regressor_tags = sub.regressor_tags
        tags.transformer_tags = sub.transformer_tags
        tags.input_tags = sub.input_tags
        return tags


# TransformerMixin's set_output wraps transform and fit_transform when the class is
# created, and wrapping an available_if method drops its check: around a classifier
# hasattr(selector, "transform") was True, so Pipeline and ColumnTransformer took the
# selector for a transformer and failed at the call. The check goes on the wrappers.
for _name in ("transform", "fit_transform"):
    setattr(RankAwareDepthSelector, _name, available_if(_estimator_has("transform"))(
        getattr(RankAwareDepthSelector, _name)))
del _name
