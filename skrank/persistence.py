"""Safe persistence: parameters as JSON, tensors in torch's weights-only format.

``save(estimator, path)`` writes one file that :func:`load` reads back with
``torch.load(weights_only=True)``: only tensors, strings, numbers, lists and dicts
can come out of it, so loading never unpickles (never executes) an arbitrary
object. A ``numpy.random.RandomState`` parameter is stored as its MT19937 state
(a tensor of 624 key words and three numbers) and rebuilt from it. Metadata
requests (``set_fit_request(sample_weight=True)`` under scikit-learn's metadata
routing) are saved and set again through the same setters, which check them.

A crafted file costs memory and time in proportion to its size: the pickle's
objects at most about ten times the file's size (measured: 10.7 times for a
payload of one empty dict per 8 bytes of the file, the most the opcode budget
allows; a real file spends 10 to 110 bytes per opcode), plus the parsing of its
JSON header: Python objects of up to about 15 times the header's length (short
strings or numbers in a list; 60 MiB at most). Before any tensor data is read,
the file is checked against limits derived from its size (a zip from its first
byte with one central directory, where torch and Python's reader find the same
entries; uncompressed entries within the file, tensors that are not views and
hold no more bytes than the file, a header of at most :data:`MAX_HEADER_CHARS`
characters nested at most :data:`MAX_JSON_DEPTH` deep, a pickle of at most a few
dozen opcodes and two calls per stored tensor, counted before it is run, every
tensor used once, an architecture whose weights the file actually holds). Every
field is type-checked and the fitted state is tried on one row (the counts and
labels that size its outputs checked against its network first), so an
inconsistent file is refused at load, not at predict. Every refusal is a
:class:`ValueError` naming the problem.

The file carries a format name, a version and a SHA-256 digest of its content.
The digest detects **corruption** (a truncated download, a flipped bit); it has no
key, so it cannot detect a deliberate edit: anyone can change the weights and
recompute it. For **authenticity**, pass a secret ``key`` to :func:`save` and
:func:`load`: the file then carries an HMAC-SHA256 of its content, which only a
holder of the key can produce; ``load(path, key=...)`` refuses a file whose HMAC
is missing or does not match. Anyone can strip the HMAC and recompute the digest,
so a reader expecting signed files must always pass its key.

Pickle and joblib also work (``pickle.dumps(estimator)``); unlike :func:`load`,
unpickling runs code from the file, so only unpickle files you trust.

The state of ``partial_fit``'s optimizer (Adam's moment estimates, SGD's momentum,
the mini-batch stream) is not saved: ``partial_fit`` on a loaded estimator goes on
from the saved network with a fresh optimizer, so its steps differ from those the
original would take. A pickle (or ``copy.deepcopy``) does not keep it either; the
estimator pickled keeps its own. ``fit`` is unaffected: it starts its optimizer
afresh anyway.
"""

import functools
import hashlib
import hmac
import io
import json
import math
import os
import pickletools
import re
import stat
import warnings
import zipfile

import numpy as np
import sklearn
import torch

from ._base import build_network
from ._device import device_or_cpu, placement, resolve_device

__all__ = ["save", "load", "FORMAT", "FORMAT_VERSION", "MAX_HEADER_CHARS",
           "MAX_JSON_DEPTH"]

FORMAT = "skrank-estimator"
FORMAT_VERSION = 3  # 2: tuples kept as tuples (1 wrote them as lists); 3: metadata requests

#: A header longer than this is refused before it is parsed: parsed JSON takes
#: many times its text's size, and a real header holds a few kilobytes (arrays of
#: numbers are stored as tensors, not in the header).
MAX_HEADER_CHARS = 4 * 2**20
#: JSON nesting deeper than this is refused before parsing (the encoder writes
#: at most a few levels; Python's parser would recurse until it crashes).
MAX_JSON_DEPTH = 64
#: JSON arrays and objects beyond this many are refused before parsing: each
#: costs tens of bytes parsed for one or two characters of text (a real header
#: holds fewer than a hundred).
MAX_JSON_CONTAINERS = 2**16
#: Pickle opcodes allowed in the payload: this many, plus
#: :data:`PICKLE_OPS_PER_TENSOR` per stored tensor (a real file takes about 31 per
#: tensor). Counted before unpickling: each opcode may build an object of its
#: own, and many small objects (views of one storage, empty containers) cost far
#: more memory than their bytes in the file.
MAX_PICKLE_OPS = 256
PICKLE_OPS_PER_TENSOR = 64
#: ... and at most one opcode per this many bytes of the file beyond that (a real
#: file spends 10 bytes or more per opcode, 60 layers of width 1 included).
PICKLE_BYTES_PER_OP = 8
_SET_OPCODES = frozenset({"EMPTY_SET", "ADDITEMS", "FROZENSET"})
#: String arrays may take this many bytes beyond four per header character: a
#: fixed-width dtype reserves its widest item's width for every item.
_STRING_SLACK_BYTES = 16 * 2**20

#: The dtypes of numpy arrays and of float32/float64 networks; anything else
#: (quantized, float8, bfloat16, complex) is refused.
_TENSOR_DTYPES = {torch.float16, torch.float32, torch.float64, torch.int8,
                  torch.int16, torch.int32, torch.int64, torch.uint8, torch.uint16,
                  torch.uint32, torch.uint64, torch.bool}
_NETWORK_DTYPES = {"float32": torch.float32, "float64": torch.float64}
_STRING_DTYPE = re.compile(r"^[<>|=]?U(\d{1,9})$")
_NAME = re.compile(r"^_?[A-Za-z][A-Za-z0-9_]*$")
#: The keys :class:`_Encoder` writes. With these, the digest's byte stream (key,
#: dtype, shape, data, next key...) can be split into fields in one way only.
_TENSOR_KEY = re.compile(r"^(t\d{1,9}|m\d{1,9}\.[A-Za-z0-9_.]{1,200})$")
_DEVICE = re.compile(r"^(cpu|cuda(:\d{1,4})?|mps)$")
_ESTIMATOR_FIELDS = {"class", "params", "attributes", "architecture", "requests"}
_SMOKE_METHODS = ("predict", "predict_proba", "decision_function", "transform", "denoise")


def _registry():
    from .autoencoder import BottleneckAutoencoder
    from .classifier import DeepL2Classifier
    from .model_selection import RankAwareDepthSelector
    from .regressor import DeepL2Regressor
    from .resnet import ResNetL2Regressor

    classes = [DeepL2Regressor, DeepL2Classifier, BottleneckAutoencoder,
               ResNetL2Regressor, RankAwareDepthSelector]
    return {cls.__name__: cls for cls in classes}


class _Encoder:
    """Turns fitted attributes into JSON, numeric arrays into tensors by reference."""

    def __init__(self):
        self.tensors = {}

    def encode(self, value):
        """One value as JSON; a numeric array becomes a reference to a new tensor."""
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, np.bool_):  # a grid's np.array([True, False]) entry
            return bool(value)
        if isinstance(value, (int, np.integer)):
            return int(value)
        if isinstance(value, (float, np.floating)):
            return {"__float__": repr(float(value))}  # keeps nan/inf exactly
        if isinstance(value, np.ndarray):
            return self.array(value)
        if isinstance(value, tuple):  # a selector's depths=(4, 6) stays a tuple
            return {"__tuple__": [self.encode(v) for v in value]}
        if isinstance(value, list):
            return {"__list__": [self.encode(v) for v in value]}
        if isinstance(value, dict):
            if not all(isinstance(k, str) for k in value):
                raise TypeError("Only dicts with string keys can be saved.")
            return {"__dict__": {k: self.encode(v) for k, v in value.items()}}
        if type(value).__name__ in _registry():
            return {"__estimator__": self.estimator(value)}
        if isinstance(value, np.random.RandomState):
            return {"__random_state__": self.random_state(value)}
        raise TypeError(
            f"Cannot save a value of type {type(value).__name__}: save stores skrank "
            "estimators (a selector over one included), their parameters and fitted "
            "state. For a Pipeline or another scikit-learn object, or a selector "
            "over one, use pickle or joblib (and load only files you trust).")

    def _parameter(self, est, name, value):
        """A parameter's JSON; one that cannot be saved is named in the error (a
        splitter as ``cv``, a callable ``scoring``)."""
        try:
            return self.encode(value)
        except TypeError as exc:
            # a Pipeline as a selector's estimator, a RandomState over PCG64: their
            # own messages say what to do
            if hasattr(value, "get_params") or "value of type" not in str(exc):
                raise
            example = {"cv": " (cv=5)", "scoring": " (a scoring name)"}.get(name, "")
            raise TypeError(
                f"Cannot save {type(est).__name__}'s parameter {name}="
                f"{_short(value, 60)} (a {type(value).__name__}): save stores "
                "parameters of plain values (numbers, strings, None, tuples, arrays, "
                "an int or MT19937 random_state, skrank estimators). Set it to one"
                f"{example}, or use pickle or joblib (and load only files you "
                "trust).") from None

    def random_state(self, rng):
        """A RandomState as its MT19937 state: 624 key words (a tensor) and numbers."""
        state = rng.get_state(legacy=True)
        if not isinstance(state, tuple):  # a RandomState over another bit generator
            raise TypeError(
                f"Cannot save a RandomState over {state['bit_generator']}, only over "
                "MT19937 (np.random.RandomState(seed)); set random_state to an int "
                "before saving.")
        _, keys, pos, has_gauss, cached = state
        return {"keys": self.array(keys), "pos": int(pos), "has_gauss": int(has_gauss),
                "cached_gaussian": self.encode(cached)}

    def array(self, value):
        """Numbers go to a tensor (a C-ordered copy, 0-d kept 0-d); strings to JSON."""
        if value.dtype.kind in "biuf":
            key = f"t{len(self.tensors)}"
            self.tensors[key] = torch.from_numpy(np.array(value, order="C"))
            return {"__tensor__": key}
        if value.dtype.kind in "OU":
            items = value.ravel().tolist()
            if not all(isinstance(v, (str, int, float, bool)) for v in items):
                raise TypeError("Only arrays of numbers or strings can be saved.")
            return {"__array__": items, "shape": list(value.shape),
                    "dtype": "object" if value.dtype.kind == "O" else str(value.dtype)}
        raise TypeError(f"Cannot save an array of dtype {value.dtype}.")

    def estimator(self, est):
        """An estimator as JSON: class, parameters, fitted attributes, network."""
        params = {k: self._parameter(est, k, v)
                  for k, v in est.get_params(deep=False).items()}
        attrs = {k: self.encode(v) for k, v in vars(est).items()
                 # partial_fit's optimizer is not saved (a later call starts afresh);
                 # nor a selector's scorer object: the loaded one reads its scoring
                 if k not in ("module_", "_stepper", "_metadata_request")
                 and k not in params and not (k == "scorer_" and v is not None)}
        for k in attrs:
            _check_saved_attribute(type(est), k)
        best = getattr(est, "best_estimator_", None)
        if best is not None and type(best) is not type(est.estimator):
            # load checks the refitted estimator against the selector's
            raise ValueError(
                f"save stores the fitted selector, but its estimator is now a "
                f"{type(est.estimator).__name__} and best_estimator_ a fitted "
                f"{type(best).__name__}: set the estimator back, or fit again, before "
                "saving.")
        module = getattr(est, "module_", None)
        arch = None
        if module is not None:
            # load rebuilds the network from the parameters: after a set_params
            # that changed it, the file would be refused, or load another function
            est._validate_params()
            est._check_continues(module, int(est.n_features_in_),
                                 int(module.weight_matrices()[-1].shape[0]),
                                 "save stores the fitted network",
                                 "set the parameters back, or fit again, before saving")
            prefix = f"m{len(self.tensors)}."
            for k, v in module.state_dict().items():
                self.tensors[prefix + k] = v.detach().cpu().clone(
                    memory_format=torch.contiguous_format)
            arch = {"n_inputs": int(est.n_features_in_),
                    "n_outputs": int(module.weight_matrices()[-1].shape[0]),
                    "dtype": str(placement(module)["dtype"]).replace("torch.", ""),
                    "prefix": prefix}
        return {"class": type(est).__name__, "params": params, "attributes": attrs,
                "architecture": arch, "requests": _requests(est)}


def _check_saved_attribute(cls, key):
    """Refuse, before anything is written, an attribute :func:`load` would refuse:
    the file would replace a loadable one with one that cannot be read."""
    try:
        _check_attribute(cls, key)
    except _Refused:
        raise ValueError(
            f"Cannot save this {cls.__name__}: it holds the attribute {_short(key)}, "
            "which is not one fit sets, and load would refuse the file. Delete it "
            "before saving (del est.<name>), or use pickle or joblib (and load only "
            "files you trust).") from None


def _requests(est):
    """The metadata requests ``set_{method}_request`` set on ``est`` (routing
    configuration a Pipeline reads), as JSON; ``None`` when none was set."""
    own = getattr(est, "_metadata_request", None)
    if own is None:
        return None
    return {method: params for method, params in own._serialize().items() if params}


def _set_requests(estimator, requests):
    """``set_{method}_request`` for each saved request: scikit-learn checks the
    names and values (a bool, None or an alias string) as it would a user's."""
    if requests is None:
        return
    if not isinstance(requests, dict):
        raise _Refused("requests must be a JSON object.")
    for method, params in requests.items():
        setter = getattr(estimator, f"set_{method}_request", None) \
            if isinstance(method, str) and _NAME.match(method) else None
        if setter is None or not isinstance(params, dict) or not all(
                v is None or isinstance(v, (bool, str)) for v in params.values()):
            raise _Refused(f"invalid metadata request {_short(method)}: "
                           f"{_short(params)}.")
        try:
            with sklearn.config_context(enable_metadata_routing=True):
                setter(**params)
        except (TypeError, ValueError) as exc:
            raise _Refused(f"invalid metadata request for {method} ({exc}).") from None


class _Refused(ValueError):
    """A file refused by :func:`load`; re-raised as a ValueError naming the file."""


def _short(value, n=40):
    return repr(value)[:n]


def _size(nbytes):
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if nbytes < 1000 or unit == "TB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:.1f} {unit}"
        nbytes /= 1000


def _float(text):
    try:
        return float(text)
    except ValueError:
        raise _Refused(f"{text[:40]!r} is not a number.") from None


class _Decoder:
    """Estimators from a header's JSON and the file's tensors, each tensor used once.

    A tensor referenced twice would be copied again for every reference (a few
    bytes of header for each copy of a large tensor), so every tensor must be used
    exactly once, by one attribute or one network. String arrays are charged to a
    budget proportional to the header.

    Parameters
    ----------
    tensors : dict of str to Tensor
        The file's tensors, already checked by :func:`_check_tensors`.
    header_chars, file_bytes : int
        The sizes the budgets derive from.
    device : str or None
        Where to put every network (``None``: where it was saved, if available).
    """

    def __init__(self, tensors, header_chars, file_bytes, device):
        #: the file's format version (older files lack attributes added since)
        self.version = FORMAT_VERSION
        self.tensors = tensors
        self.unused = set(tensors)
        self.string_budget = 4 * header_chars + _STRING_SLACK_BYTES
        self.file_bytes = file_bytes
        self.device = device

    def take(self, key):
        """The tensor ``key``, refused if missing or already used."""
        if not isinstance(key, str) or key not in self.tensors:
            raise _Refused(f"reference to a missing tensor {_short(key)}.")
        if key not in self.unused:
            raise _Refused(f"tensor {key!r} is used twice.")
        self.unused.discard(key)
        return self.tensors[key]

    def finish(self):
        """Every tensor was used: a file holds nothing its header does not describe."""
        if self.unused:
            raise _Refused(f"tensors {sorted(self.unused)[:3]} are not referenced.")

    def value(self, value):
        """A fitted attribute's (or parameter's) value from its JSON encoding."""
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, dict) and "__array__" in value:
            return self.string_array(value)
        if not isinstance(value, dict) or len(value) != 1:
            raise _Refused(f"unexpected encoded value {_short(value)}.")
        kind, inner = next(iter(value.items()))
        if kind == "__float__" and isinstance(inner, str):
            return _float(inner)
        if kind == "__tensor__":
            # a C-ordered copy: fitted arrays never share memory with, or take
            # their layout from, what torch read
            return self.take(inner).numpy().copy(order="C")
        if kind == "__list__" and isinstance(inner, list):
            return [self.value(v) for v in inner]
        if kind == "__tuple__" and isinstance(inner, list):
            return tuple(self.value(v) for v in inner)
        if kind == "__dict__" and isinstance(inner, dict):
            return {k: self.value(v) for k, v in inner.items()}
        if kind == "__estimator__":
            return self.estimator(inner)
        if kind == "__random_state__":
            return self.random_state(inner)
        raise _Refused(f"unknown encoded value {_short(value)}.")

    def random_state(self, state):
        """A RandomState from :meth:`_Encoder.random_state`'s JSON, every field checked."""
        fields = {"keys", "pos", "has_gauss", "cached_gaussian"}
        if not isinstance(state, dict) or set(state) != fields \
                or not isinstance(state["keys"], dict) \
                or set(state["keys"]) != {"__tensor__"} \
                or not isinstance(state["cached_gaussian"], dict) \
                or set(state["cached_gaussian"]) != {"__float__"}:
            raise _Refused(f"malformed random state {_short(state)}.")
        keys = self.take(state["keys"]["__tensor__"])
        pos, has_gauss = state["pos"], state["has_gauss"]
        cached = self.value(state["cached_gaussian"])
        if keys.dtype != torch.uint32 or tuple(keys.shape) != (624,) \
                or type(pos) is not int or not 0 <= pos <= 624 \
                or type(has_gauss) is not int or has_gauss not in (0, 1) \
                or not math.isfinite(cached):
            raise _Refused("its random state is not an MT19937 state (624 uint32 key "
                           "words, a position within them, a cached Gaussian).")
        rng = np.random.RandomState(0)
        rng.set_state(("MT19937", keys.numpy().copy(), pos, has_gauss, cached))
        return rng

    def string_array(self, value):
        """An array of strings or Python objects, its shape and dtype checked first."""
        items, shape, dtype = value.get("__array__"), value.get("shape"), value.get("dtype")
        if not (set(value) == {"__array__", "shape", "dtype"} and isinstance(items, list)
                and isinstance(shape, list) and len(shape) <= 32
                and all(type(n) is int and n >= 0 for n in shape)
                and math.prod(shape) == len(items)
                and all(isinstance(v, (str, int, float, bool)) for v in items)):
            raise _Refused("malformed array.")
        if dtype == "object":
            return _reshaped(np.array(items, dtype=object), shape)
        match = _STRING_DTYPE.match(dtype) if isinstance(dtype, str) else None
        # the width is allocated for every item: no wider than the widest item, and
        # all string arrays together within the budget
        width = int(match.group(1)) if match else 0
        longest = max((len(str(v)) for v in items), default=0)
        if match is None or width > max(longest, 1):
            raise _Refused(f"array dtype {_short(dtype)} is not a string dtype as wide "
                           "as its items.")
        self.string_budget -= 4 * width * len(items)
        if self.string_budget < 0:
            raise _Refused("its string arrays take more memory than its header allows.")
        return _reshaped(np.array(items, dtype=dtype), shape)

    def read(self, header):
        """The estimator of a verified header, read at its format version."""
        meta, self.version = _parse_header(header)
        return self.estimator(meta)

    def estimator(self, meta):
        """An estimator from :meth:`_Encoder.estimator`'s JSON, checked as it goes."""
        cls = _estimator_class(meta)
        params = {k: self.value(v) for k, v in _check_params(meta, cls).items()}
        estimator = _instantiate(cls, params)
        _set_requests(estimator, meta.get("requests"))
        for key, value in meta["attributes"].items():
            _check_attribute(cls, key)
            value = self.value(value)
            if key not in _TEXT_ATTRIBUTES and _holds_text(value):
                # fit leaves numbers there: strings met arithmetic in the checks
                # below and escaped as a TypeError
                raise _Refused(f"{key} holds strings or objects, where fit leaves "
                               "numbers.")
            setattr(estimator, key, value)
        arch = meta.get("architecture")
        if arch is not None:
            state = _check_architecture(estimator, arch, self.tensors)
            for name in state:
                self.take(arch["prefix"] + name)
            _attach_network(estimator, arch, state, self.device)
        if arch is not None and self.version < 3:
            _fill_older_denoiser(estimator)
        if arch is not None or _holds_fitted_state(meta["attributes"]):
            _smoke_test(estimator, self.file_bytes,
                        None if arch is None else arch["n_outputs"])
        return estimator


#: The fitted attributes that hold strings or objects: labels and column names.
_TEXT_ATTRIBUTES = frozenset({"classes_", "feature_names_in_"})


def _holds_text(value):
    """Whether ``value`` is, or holds, an array of strings or Python objects."""
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "OUS"
    if isinstance(value, (list, tuple)):
        return any(_holds_text(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_text(v) for v in value.values())
    return False


def _fill_older_denoiser(estimator):
    """An autoencoder saved before format 3 may predate ``denoising_gain_`` and
    ``_denoising_``; fit now always sets them, and their defaults are what such a
    fit meant: no calibrated step, and a local dimension where it trained on noise."""
    if hasattr(type(estimator), "local_dimension"):
        if not hasattr(estimator, "denoising_gain_"):
            estimator.denoising_gain_ = 1.0
        if not hasattr(estimator, "_denoising_"):
            estimator._denoising_ = bool(estimator.input_noise)
        if not hasattr(estimator, "denoising_risk_"):
            estimator.denoising_risk_ = None


def _holds_fitted_state(attributes):
    """Whether the saved attributes make the estimator fitted.

    scikit-learn's rule (``check_is_fitted``): an attribute ending in ``'_'``
    (``n_features_in_``, a selector's ``depth_results_``). A private one is
    configuration an unfitted estimator carries too (``set_output``'s
    ``_sklearn_output_config``), which must not make :func:`_smoke_test` demand
    a fitted state.
    """
    return any(k.endswith("_") and not k.startswith("__") for k in attributes)


def _reshaped(array, shape):
    try:  # an empty array may declare any shape with a zero in it
        return array.reshape(shape)
    except ValueError as exc:  # a dimension beyond what numpy indexes
        raise _Refused(f"array shape {_short(shape)} is invalid ({exc}).") from None


def _estimator_class(meta):
    """The class an estimator's JSON names, its fields checked."""
    registry = _registry()
    if not isinstance(meta, dict) or not {"class", "params", "attributes"} <= set(meta) \
            or not set(meta) <= _ESTIMATOR_FIELDS:
        raise _Refused(f"an estimator needs the fields {sorted(_ESTIMATOR_FIELDS)}, "
                       f"got {_short(sorted(meta) if isinstance(meta, dict) else meta, 80)}.")
    if not isinstance(meta["class"], str) or meta["class"] not in registry:
        raise _Refused(f"unknown estimator class {_short(meta['class'])}.")
    return registry[meta["class"]]


def _check_params(meta, cls):
    params = meta["params"]
    if not isinstance(params, dict) or not isinstance(meta["attributes"], dict):
        raise _Refused("params and attributes must be JSON objects.")
    unknown = set(params) - set(cls._get_param_names())
    if unknown:
        raise _Refused(f"unknown parameters {sorted(unknown)[:5]}.")
    return params


def _instantiate(cls, params):
    try:
        estimator = cls(**params)
        estimator._validate_params()
    except (TypeError, ValueError) as exc:
        raise _Refused(f"invalid parameters ({exc}).") from None
    return estimator


#: The private names ``fit`` and ``set_output`` set (the autoencoder's two
#: readings of ``local_dimension``). Any other private name is refused:
#: ``_stepper`` or ``_metadata_request`` from a file would break ``partial_fit``
#: or metadata routing later.
_PRIVATE_FITTED = frozenset({"_y_ndim", "_sklearn_output_config", "_denoising_",
                             "_rank_components_"})

#: A line of a numpydoc Attributes section: one name or several, then the type.
_ATTRIBUTE_LINE = re.compile(r"^    ([A-Za-z]\w*(?:, [A-Za-z]\w*)*)(?: :|$)")


@functools.cache
def _documented_attributes(cls):
    """The names in the Attributes section of ``cls``'s docstring: every fitted
    attribute fit sets is documented there (tested), so a file can set no other."""
    lines = (cls.__doc__ or "").splitlines()
    names, inside = set(), False
    for line, under in zip(lines, lines[1:] + [""]):
        if set(under.strip()) == {"-"}:  # a section header
            inside = line.strip() == "Attributes"
            continue
        match = _ATTRIBUTE_LINE.match(line) if inside else None
        if match:
            names.update(match.group(1).split(", "))
    return frozenset(names)


def _check_attribute(cls, key):
    """A fitted attribute's name: one the class documents (or a private one fit
    sets), never a method, property, class attribute or module. Under ``python
    -OO`` docstrings are gone: any name ending in '_' then (every file was refused)."""
    documented = _documented_attributes(cls)
    known = (key in documented | _PRIVATE_FITTED if documented else
             isinstance(key, str) and (key.endswith("_") or key in _PRIVATE_FITTED))
    if not isinstance(key, str) or not _NAME.match(key) or key == "module_" \
            or hasattr(cls, key) or not known:
        raise _Refused(f"{_short(key)} is not a fitted attribute of {cls.__name__} "
                       "(a method, a parameter or a name its Attributes do not list).")


def _check_architecture(estimator, arch, tensors):
    """The declared network, checked against the file's tensors before it is built.

    Returns
    -------
    state : dict of str to Tensor
        The network's tensors, named as in its ``state_dict``.
    """
    if not isinstance(arch, dict) or set(arch) != {"n_inputs", "n_outputs", "dtype",
                                                   "prefix"}:
        raise _Refused(f"malformed architecture {_short(arch)}.")
    n_in, n_out, dtype, prefix = (arch["n_inputs"], arch["n_outputs"], arch["dtype"],
                                  arch["prefix"])
    if not (type(n_in) is int and type(n_out) is int and n_in >= 1 and n_out >= 1):
        raise _Refused(f"the architecture's n_inputs={_short(n_in)} and n_outputs="
                       f"{_short(n_out)} must be positive integers.")
    if not isinstance(dtype, str) or dtype not in _NETWORK_DTYPES \
            or not isinstance(prefix, str) or not prefix:
        raise _Refused(f"network dtype {_short(dtype)} is not float32 or float64.")
    state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    if getattr(estimator, "n_features_in_", n_in) != n_in:
        raise _Refused(f"n_features_in_={_short(estimator.n_features_in_)} but the "
                       f"network takes {n_in} inputs.")
    # every layer holds at least one tensor: a depth beyond the file's tensors is
    # refused before even the meta device builds that many layers
    if getattr(estimator, "depth", 0) > len(state):
        raise _Refused(f"depth={estimator.depth} but the file holds {len(state)} "
                       "network tensors.")
    try:
        with torch.device("meta"):  # shapes only, nothing allocated
            expected = {k: tuple(v.shape) for k, v in build_network(
                estimator, n_in, n_out, _NETWORK_DTYPES[dtype]).state_dict().items()}
    except (RuntimeError, TypeError, ValueError, OverflowError) as exc:
        # sizes beyond int64 or whose product overflows: no network has them
        raise _Refused(f"no network has n_inputs={n_in}, n_outputs={n_out}, "
                       f"{_architecture_params(estimator)} ({str(exc)[:80]}).") from None
    params = _architecture_params(estimator)
    for name in sorted(set(expected) | set(state)):
        if name not in expected or name not in state:
            why = "missing" if name in expected else "not part of the network"
            raise _Refused(f"network tensor {name!r} is {why} for the parameters "
                           f"({params}).")
        if expected[name] != tuple(state[name].shape):
            raise _Refused(f"network tensor {name!r} has shape {tuple(state[name].shape)} "
                           f"where the parameters ({params}) need {expected[name]}.")
    return state


#: The ``input_scale_`` above which a fitted ``denoising_risk_`` (a squared error in
#: the data's units, Stein's estimate in the network's times ``input_scale_**2``)
#: may exceed float64 and read infinite: a risk above 1.8e8 in the network's
#: units overflows there.
OVERFLOWING_SCALE = 1e150


def _risk_may_overflow(estimator):
    scale = getattr(estimator, "input_scale_", None)
    return type(scale) is float and scale > OVERFLOWING_SCALE


#: The largest ``denoising_gain_`` a file may hold. ``sure_gain`` returns Stein's
#: step ``sigma^2 S / R`` moved towards 1 by its sampling error, at least 0 (1.0
#: without calibration): never negative (a negative step moves away from the
#: reconstruction). It has no bound above in theory (it
#: grows as the reconstruction ``r`` nears the identity, ``R = sum |r(y) - y|^2``
#: going to 0), but real fits give 0 to about 2 (``skrank._denoise`` measures 0.7
#: to 2; 0 when the reconstruction moves away from the clean points), and
#: ``sure_risk`` squares it as a Python float, which raises OverflowError past
#: about 1.3e154: 1e100 is far beyond any fit's gain and keeps that square finite.
_MAX_DENOISING_GAIN = 1e100


def _check_classes(classes):
    """Labels as fit leaves them (``LabelEncoder``'s ``classes_``): 1-D, at least
    two, strictly increasing (sorted and distinct) and finite; predict indexes
    them by the argmax of the logits."""
    ok = isinstance(classes, np.ndarray) and classes.ndim == 1 and len(classes) >= 2
    try:
        with np.errstate(invalid="ignore"):
            # NaN compares False: refused with duplicates and unsorted labels
            ok = ok and bool(np.all(classes[:-1] < classes[1:]))
    except TypeError:  # object labels of types that do not compare
        ok = False
    if ok and classes.dtype.kind in "fO":
        ok = all(not isinstance(v, (float, np.floating)) or math.isfinite(v)
                 for v in classes.tolist())
    if not ok:
        raise _Refused(f"classes_={_short(classes, 60)} is not what fit leaves: a 1-D "
                       "array of at least two distinct labels, sorted, without NaN.")


def _check_outputs(estimator, n_out):
    """The fitted counts and labels that size an estimator's outputs, checked
    against its network's ``n_out`` outputs: predict indexes ``classes_`` by the
    argmax of the logits and ravels by ``_y_ndim``; ``get_feature_names_out``
    makes ``n_components_`` names (10**12 of them, from a few bytes of header,
    would exhaust memory)."""
    kind = estimator._task.kind
    if kind == "labels":
        _check_classes(getattr(estimator, "classes_", None))
        if len(estimator.classes_) != n_out:  # one logit per class, two for two
            raise _Refused(f"classes_ holds {len(estimator.classes_)} labels but the "
                           f"network has {n_out} outputs (one logit per class).")
    if kind == "inputs" and n_out != estimator.n_features_in_:
        raise _Refused(f"the autoencoder's network has {n_out} outputs for "
                       f"{estimator.n_features_in_} inputs: it must reconstruct them.")
    n_outputs = getattr(estimator, "n_outputs_", None)
    if kind != "inputs" and (type(n_outputs) is not int or n_outputs != n_out):
        raise _Refused(f"n_outputs_={_short(n_outputs)} but the network has "
                       f"n_outputs={n_out}.")
    y_ndim = getattr(estimator, "_y_ndim", None)
    if kind == "real" and (type(y_ndim) is not int or y_ndim not in (1, 2)
                           or (y_ndim == 1 and n_out != 1)):
        raise _Refused(f"_y_ndim={_short(y_ndim)} does not fit a network with "
                       f"n_outputs={n_out} (1: one output, predicted as a 1-D array; "
                       "2: a 2-D array).")
    if kind != "labels":
        comps = getattr(estimator, "bottleneck_components_", None)
        rows = comps.shape[0] if isinstance(comps, np.ndarray) and comps.ndim == 2 \
            else None
        n_components = getattr(estimator, "n_components_", None)
        if type(n_components) is not int or n_components != rows:
            raise _Refused(f"n_components_={_short(n_components)} but "
                           f"bottleneck_components_ holds {rows} components.")
    gain = getattr(estimator, "denoising_gain_", 1.0)
    if type(gain) not in (int, float) or not 0 <= gain <= _MAX_DENOISING_GAIN:
        raise _Refused(f"denoising_gain_={_short(gain)} is not a step between 0 and "
                       f"{_MAX_DENOISING_GAIN:g}.")


def _count(value, low, high):
    return type(value) is int and low <= value <= high


def _check_scalings(estimator, n_out):
    """The normalization fit stored, sized and signed as the network needs: a mean
    of another length broadcasts ``predict`` to another shape (a mean of 3 values
    for one output predicted 3 values per row) or hands one mean to every output;
    a scale of another sign flips the data; feature names of another count or type
    answer ``get_feature_names_out`` and the name checks of ``predict`` wrongly."""
    n_in = estimator.n_features_in_
    sizes = {"input_mean_": n_in}
    if estimator._task.kind != "labels":  # class codes are never rescaled
        sizes["target_mean_"] = n_out
    comps = getattr(estimator, "bottleneck_components_", None)
    if isinstance(comps, np.ndarray) and comps.ndim == 2:
        sizes["bottleneck_mean_"] = comps.shape[1]
    for name, size in sizes.items():
        value = getattr(estimator, name, None)
        if not (isinstance(value, np.ndarray) and value.shape == (size,)):
            raise _Refused(f"{name} has shape {_short(np.shape(value))}, not ({size},).")
    for name in ("input_scale_", "target_scale_"):
        value = getattr(estimator, name, None)
        if not (type(value) is float and 0 < value < math.inf):
            raise _Refused(f"{name}={_short(value)}, not a positive finite float.")
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None and not (
            isinstance(names, np.ndarray) and names.shape == (n_in,)
            and all(type(v) is str for v in names.tolist())):
        raise _Refused(f"feature_names_in_ is not {n_in} strings (n_features_in_).")


def _check_readings(estimator):
    """The readings a user takes from a fitted estimator, as fit leaves them.

    Nothing is sized or indexed by them, but a file that loads vouches for them: a
    rank counts singular values of a map the network computes (at most its widest
    layer); the Jacobian rank is read on the network factored through its
    bottleneck (at most the bottleneck rank); the local dimension is a Jacobian
    rank of a map of the inputs; the kept restart is one of those run."""
    widest = max(max(p.shape) for p in estimator.module_.parameters())
    n_in, n_init = estimator.n_features_in_, estimator.n_init
    bn = getattr(estimator, "bottleneck_rank_", None)
    jac = getattr(estimator, "jacobian_rank_", None)
    local = getattr(estimator, "local_dimension_", None)
    best = getattr(estimator, "best_restart_", 0)
    # the restarts run (n_init may have been set since)
    objectives = getattr(estimator, "restart_objectives_", None)
    n_init = len(objectives) if isinstance(objectives, np.ndarray) and objectives.ndim == 1 \
        else n_init
    n_iter = getattr(estimator, "n_iter_", 0)
    risk = getattr(estimator, "denoising_risk_", None)
    checks = [
        ("bottleneck_rank_", bn, _count(bn, 0, widest),
         f"an integer from 0 to the widest layer ({widest})"),
        ("jacobian_rank_", jac, jac is None or (_count(bn, 0, widest)
                                                and _count(jac, 0, bn)),
         "None or an integer from 0 to bottleneck_rank_"),
        ("local_dimension_", local, local is None or _count(local, 0, n_in),
         f"None or an integer from 0 to n_features_in_ ({n_in})"),
        ("best_restart_", best, _count(best, 0, n_init - 1),
         f"an index of the {n_init} restarts run"),
        ("n_iter_", n_iter, _count(n_iter, 0, 2**63 - 1), "a count"),
        # Stein's estimate may read below 0 (data_noise above the data's own
        # noise), and beyond float64 in the units of data near 1e300
        ("denoising_risk_", risk, risk is None or (type(risk) is float and (
            not math.isinf(risk) or _risk_may_overflow(estimator))),
         "None or a finite risk (infinite only for data of a scale above "
         f"{OVERFLOWING_SCALE:g})"),
    ]
    for name, value, ok, what in checks:
        if not ok:
            raise _Refused(f"{name}={_short(value)} is not what fit leaves: {what}.")
    _check_bottleneck_layer(estimator, bn)
    _check_spectra(estimator)
    _check_record(estimator)
    _check_denoiser(estimator, bn)


def _refuse_unless(ok, name, value, what):
    if not ok:
        raise _Refused(f"{name}={_short(value)} is not what fit leaves: {what}.")


def _check_bottleneck_layer(estimator, bn):
    """``bottleneck_layer_`` a layer the network has, whose map reads
    ``bottleneck_rank_`` in ``layer_ranks_``: ``transform`` reads the codes
    there, and another layer (or a negative index, counted from the end) gave
    other codes silently."""
    resnet = hasattr(estimator, "stream_ranks_")
    n_maps = estimator.depth + 3 if resnet else estimator.depth
    top = estimator.depth + 1 if resnet else estimator.depth - 1
    ranks = getattr(estimator, "layer_ranks_", None)
    _refuse_unless(isinstance(ranks, np.ndarray) and ranks.shape == (n_maps,)
                   and ranks.dtype.kind in "iu", "layer_ranks_", ranks,
                   f"{n_maps} integer ranks")
    layer = getattr(estimator, "bottleneck_layer_", None)
    _refuse_unless(_count(layer, 1, top), "bottleneck_layer_", layer,
                   f"a hidden layer from 1 to {top}")
    # a ResNet's stream position p is candidate p (W_e is candidate 0, with the
    # image of s_0); a chain's layer l is after its map l
    at = {layer, 0} if resnet and layer == 1 else {layer if resnet else layer - 1}
    _refuse_unless(bn == 0 or any(ranks[i] == bn for i in at), "bottleneck_layer_",
                   layer, f"a layer whose map reads bottleneck_rank_ ({bn})")
    spectra = getattr(estimator, "image_spectra_", None)
    # (None: a file of an earlier release.) Read at the fit's rank_tol, which
    # set_params may have changed since: not compared with layer_ranks_ here
    _refuse_unless(spectra is None or (isinstance(spectra, list) and len(spectra) == n_maps
                                       and all(isinstance(sp, np.ndarray) and sp.ndim == 1
                                               and sp.size and (sp >= 0).all()
                                               for sp in spectra)),
                   "image_spectra_", spectra, f"{n_maps} spectra, one per map")


def _check_spectra(estimator):
    """The spectra the plots draw (:class:`skrank.plotting.SpectraDisplay`): arrays
    of non-negative singular values, one per map or a row per layer or point
    (swapped with another attribute, a file loaded and failed in the plot)."""
    def singular_values(sp, ndim):
        return (isinstance(sp, np.ndarray) and sp.ndim == ndim and sp.dtype.kind == "f"
                and bool(np.all(np.isfinite(sp) & (sp >= 0))))

    layers = getattr(estimator, "layer_spectra_", None)
    _refuse_unless(isinstance(layers, list) and layers
                   and all(singular_values(sp, 1) for sp in layers),
                   "layer_spectra_", layers, "a list of spectra, one per weight matrix")
    for name in ("representation_spectra_", "jacobian_spectra_"):
        value = getattr(estimator, name, None)
        _refuse_unless(value is None or singular_values(value, 2), name, value,
                       "a 2-D array of singular values")


def _check_record(estimator):
    """The training record's types: ``partial_fit`` adds to them."""
    t = getattr(estimator, "train_time_", None)
    _refuse_unless(t is None or (type(t) in (int, float) and 0 <= t < math.inf),
                   "train_time_", t, "None or seconds")
    history = getattr(estimator, "rank_history_", None)
    keys = {"n_iter", "time", "bottleneck_rank", "parameter_norm"}
    _refuse_unless(history is None or (
        isinstance(history, dict) and set(history) == keys
        and all(isinstance(v, np.ndarray) and v.ndim == 1 for v in history.values())
        and len({v.shape for v in history.values()}) == 1), "rank_history_",
        history, f"None or the records {sorted(keys)}, one value per record")


def _check_denoiser(estimator, bn):
    """An autoencoder's ``_denoising_`` (whether ``local_dimension`` reads: set
    by the fit, whatever ``input_noise`` says since) a bool, and the components
    it reads ``bottleneck_rank_``'s."""
    if not hasattr(type(estimator), "local_dimension"):
        return
    # every fit sets both; without them local_dimension, score and
    # denoising_risk failed after loading with an AttributeError
    gain = getattr(estimator, "denoising_gain_", None)
    _refuse_unless(type(gain) is float and math.isfinite(gain), "denoising_gain_", gain,
                   "a finite float")
    flag = getattr(estimator, "_denoising_", None)
    _refuse_unless(type(flag) is bool, "_denoising_", flag, "True or False")
    comps, mean = getattr(estimator, "_rank_components_", None), estimator.bottleneck_mean_
    _refuse_unless(isinstance(comps, np.ndarray) and comps.shape == (bn, mean.shape[0]),
                   "_rank_components_", comps,
                   f"bottleneck_rank_ x width = ({bn}, {mean.shape[0]})")


def _check_selector(estimator):
    """A selector's readings point into its sweep and agree with its refitted
    estimator; ``scorer_`` is never saved (a string there failed in ``score``)."""
    _refuse_unless(getattr(estimator, "scorer_", None) is None, "scorer_",
                   getattr(estimator, "scorer_", None), "None (never saved)")
    res = getattr(estimator, "depth_results_", None)
    if res is None:
        return
    cols = ("depth", "bottleneck_rank", "mean_test_score")
    _refuse_unless(isinstance(res, dict) and all(
        isinstance(res.get(c), np.ndarray) and res[c].ndim == 1 for c in cols)
        and len({res[c].shape for c in cols}) == 1 and res["depth"].size,
        "depth_results_", res, f"a sweep with {', '.join(cols)}, one row per fit")
    n = res["depth"].size
    _refuse_unless(all(isinstance(v, np.ndarray) and v.ndim and v.shape[0] == n
                       for v in res.values()), "depth_results_", res,
                   f"columns of {n} rows, one per fit")
    alpha = getattr(estimator, "best_alpha_", None)
    # the grid's own values: ints and floats as the user gave them
    _refuse_unless(alpha is None or (type(alpha) in (int, float) and 0 <= alpha < math.inf),
                   "best_alpha_", alpha, "None or a finite alpha")
    i = getattr(estimator, "best_index_", None)
    _refuse_unless(_count(i, 0, n - 1), "best_index_", i, f"a row of the {n} fitted")
    for name, col in (("best_depth_", "depth"), ("best_rank_", "bottleneck_rank")):
        value = getattr(estimator, name, None)
        _refuse_unless(type(value) is int and value == res[col][i], name, value,
                       f"depth_results_[{col!r}][best_index_] = {res[col][i]}")
    best = getattr(estimator, "best_estimator_", None)
    if best is None:
        return
    template = estimator.estimator
    _refuse_unless(type(best) is type(template), "best_estimator_", type(best).__name__,
                   f"a fitted {type(template).__name__}, as the selector's estimator")
    from .model_selection import _param_name  # the selector's module imports this one

    depth = best.get_params().get(_param_name(template, "depth"))
    _refuse_unless(depth == estimator.best_depth_, "best_estimator_", depth,
                   f"a network of depth best_depth_ = {estimator.best_depth_}")


def _check_selector_classes(estimator):
    """A selector's ``classes_``: the labels of ``y``, those its refitted
    estimator predicts when it has one."""
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        return
    _check_classes(classes)
    best = getattr(estimator, "best_estimator_", None)
    if best is not None and not np.array_equal(classes, getattr(best, "classes_", None)):
        raise _Refused(f"classes_={_short(classes, 60)} but its best_estimator_ "
                       f"predicts {_short(getattr(best, 'classes_', None), 60)}.")


def _architecture_params(estimator):
    return ", ".join(f"{k}={getattr(estimator, k)!r}" for k in estimator._network_params)


def _attach_network(estimator, arch, state, device):
    """Build the network the file describes (shapes already checked) and load it:
    as ordinary tensors under ``torch.inference_mode()`` too (a later fit or
    partial_fit could not update inference tensors in place)."""
    with torch.inference_mode(False):
        module = build_network(estimator, arch["n_inputs"], arch["n_outputs"],
                               _NETWORK_DTYPES[arch["dtype"]], "cpu")
        try:
            module.load_state_dict(state)
        except RuntimeError as exc:
            raise _Refused(f"network weights do not fit the architecture ({exc}).") \
                from None
    saved = getattr(estimator, "device_", "cpu")
    if not isinstance(saved, str) or not _DEVICE.match(saved):
        raise _Refused(f"device_={_short(saved)} is not a device name.")
    target = _target_device(device, saved)
    estimator.module_ = module.to(target).eval()
    estimator.device_ = str(target)


def _smoke_test(estimator, file_bytes, n_outputs=None):
    """A fitted estimator must answer on one row now, not fail later at predict;
    ``n_outputs``: its network's, None without a network (a selector)."""
    if n_outputs is None:
        _check_selector_classes(estimator)
        _check_selector(estimator)
    if getattr(estimator, "refit", True) is False:
        return  # a selector fitted with refit=False answers nothing, by design
    n = getattr(estimator, "n_features_in_", None)
    # a network taking n inputs holds at least n weights: n is within the file
    if type(n) is not int or not 1 <= n <= file_bytes:
        raise _Refused(f"a fitted estimator with n_features_in_={_short(n)}, not a "
                       "positive integer within the file's size.")
    if n_outputs is not None:
        _check_outputs(estimator, n_outputs)
        _check_scalings(estimator, n_outputs)
        _check_readings(estimator)
    X = np.zeros((1, n))
    mean, scale = getattr(estimator, "input_mean_", None), getattr(estimator,
                                                                   "input_scale_", None)
    if n_outputs is not None:
        # and a typical row, one scale from the mean in every input: first-layer
        # weights of 1e38 (digest recomputed) answered the zero row, which sits at
        # the mean of centred data, and overflowed at predict on the data
        X = np.vstack([X, mean + scale])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # a denoising autoencoder's local dimension reads the stored bottleneck
            # components: a file whose components do not fit must fail here
            local = ("local_dimension",) if getattr(estimator, "_denoising_", False) \
                else ()
            for method in _SMOKE_METHODS + local:
                if hasattr(estimator, method):
                    out = np.asarray(getattr(estimator, method)(X))
                    if out.shape[:1] != X.shape[:1]:  # a row out for each row in
                        raise ValueError(f"{method} answers {out.shape[0] if out.ndim else 0} "
                                         f"rows for {X.shape[0]}")
                    # a fitted scale of inf (digest recomputed) loads and predicts inf
                    if out.dtype.kind in "fc" and not np.all(np.isfinite(out)):
                        raise ValueError(f"{method} answers {out.ravel()[:3]} on a "
                                         "row of zeros or a typical one")
    except Exception as exc:  # any failure here means an inconsistent file
        raise _Refused(f"its fitted state is inconsistent ({type(exc).__name__}: "
                       f"{str(exc)[:120]}).") from None


def _digest(header, tensors):
    """SHA-256 of the header and of every tensor's key, dtype, shape and bytes."""
    h = hashlib.sha256(header.encode())
    for key in sorted(tensors):
        t = tensors[key]
        h.update(key.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        # contiguous, bounded tensors only reach here (see _check_tensors)
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _key_bytes(key):
    if not isinstance(key, (str, bytes, bytearray)):
        raise TypeError(f"key must be a str or bytes, got {type(key).__name__}.")
    if not key:
        raise ValueError(f"key must be a non-empty secret, got {key!r} (an empty "
                         f"{type(key).__name__}): pass a secret, or key=None for a "
                         "file without an HMAC.")
    return key.encode() if isinstance(key, str) else bytes(key)


def _signature(key, digest):
    """HMAC-SHA256 of the digest under ``key``: only a key holder can produce it."""
    return hmac.new(_key_bytes(key), digest.encode(), hashlib.sha256).hexdigest()


def save(estimator, path, *, key=None):
    """Write a fitted (or unfitted) skrank estimator to ``path``.

    The file holds the estimator's parameters and fitted attributes as JSON, its
    arrays and network weights as tensors, and a SHA-256 digest of all of it.

    Parameters
    ----------
    estimator : skrank estimator
    path : str or path-like or binary file object
    key : str, bytes or None, default=None
        A secret: the file then carries an HMAC-SHA256 of its content, and
        :func:`load` refuses it without the same key. Without a key the file's
        digest detects corruption and truncation, **not** deliberate edits:
        anyone can change the weights and recompute the digest.

    Raises
    ------
    TypeError
        If ``estimator`` is not a skrank estimator, holds a value that cannot be
        saved, ``key`` is neither str nor bytes, or ``path`` is a text stream or
        not open for writing.
    ValueError
        If ``key`` is empty, ``set_params`` changed the architecture since ``fit``
        (the file would describe another network than it holds), or :func:`load`
        would refuse the file (an attribute fit does not set, or a JSON header
        over :data:`MAX_HEADER_CHARS`: many long column names).
    OSError
        If ``path`` cannot be written (a directory, a missing parent, no
        permission), naming the path as :func:`open` does.

    Notes
    -----
    A :class:`numpy.random.RandomState` ``random_state`` is saved as its MT19937
    state (no pickle) and loaded as a RandomState in that same state; unlike
    pickle, one instance shared by several estimators comes back as copies.

    Examples
    --------
    >>> import tempfile, os, numpy as np
    >>> from skrank import DeepL2Regressor, save, load
    >>> X = np.random.RandomState(0).rand(20, 3); y = X.sum(1)
    >>> reg = DeepL2Regressor(depth=3, width=8, max_iter=20, random_state=0).fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.skrank")
    >>> save(reg, path, key="my secret")
    >>> np.array_equal(load(path, key="my secret").predict(X), reg.predict(X))
    True
    """
    if type(estimator).__name__ not in _registry():
        raise TypeError(f"save() takes a skrank estimator, got {type(estimator).__name__}.")
    if key is not None:
        _key_bytes(key)  # a bad key fails before anything is written
    _check_target(path)
    enc = _Encoder()
    header = _header(enc.estimator(estimator), type(estimator).__name__)
    payload = {"header": header, "tensors": enc.tensors,
               "digest": _digest(header, enc.tensors)}
    if key is not None:
        payload["hmac"] = _signature(key, payload["digest"])
    _write(payload, path)


def _header(body, name):
    """The file's JSON header; refused beyond what :func:`load` reads."""
    header = json.dumps({"format": FORMAT, "version": FORMAT_VERSION, **body},
                        sort_keys=True)
    if len(header) > MAX_HEADER_CHARS:
        raise ValueError(
            f"Cannot save this {name}: its parameters and fitted attributes take "
            f"{len(header)} characters of JSON, more than load accepts "
            f"({MAX_HEADER_CHARS}; most often a DataFrame's many or long column "
            "names, feature_names_in_). Fit on an array without names, or use "
            "pickle or joblib (and load only files you trust).")
    return header


def _check_target(path):
    """A path, or a file object that takes bytes: a text stream failed inside
    torch ("string argument expected, got 'memoryview'")."""
    if isinstance(path, (str, os.PathLike)):
        return
    if not _takes_bytes(path):
        raise TypeError(f"save writes a path or a binary file object open for writing "
                        f"(opened with 'wb', or io.BytesIO), got "
                        f"{_target_name(path)}.")


#: Where io's own stream classes live (their write and writable are io's rules).
_IO_MODULES = ("_io", "_pyio")


def _takes_bytes(path):
    """Whether a file object takes bytes, as its ``writable()`` says. io's default
    ``writable()`` says False for a stream that never says: one that defines
    ``write`` itself (on its class or on the instance) without defining
    ``writable`` is taken at its word."""
    if isinstance(path, io.TextIOBase) or not callable(getattr(path, "write", None)):
        return False
    writable = getattr(path, "writable", None)
    if not callable(writable) or writable():
        return True
    own = getattr(path, "__dict__", {})
    mro = type(path).__mro__
    write = next((k for k in mro if "write" in vars(k)), None)
    said = next((k for k in mro if "writable" in vars(k)), None)
    # a write reached through __getattr__ (a wrapper of a read-only file) is not
    # the stream's own: its writable() stands
    user_write = "write" in own or (write is not None
                                    and write.__module__ not in _IO_MODULES)
    return (user_write and "writable" not in own
            and said is not None and said.__module__ in _IO_MODULES)


def _target_name(path):
    mode = getattr(path, "mode", None)
    return type(path).__name__ + (f" opened with {mode!r}" if isinstance(mode, str) else "")


def _write(payload, path):
    """``torch.save`` to a path (opened here) or to a binary file object."""
    if isinstance(path, (str, os.PathLike)):
        # open() names the path in an OSError (a directory, a missing parent, no
        # permission), where torch.save would raise a RuntimeError
        with open(path, "wb") as f:
            torch.save(payload, f)
    else:
        torch.save(payload, path)


def _refuse(path, why):
    name = path if isinstance(path, (str, os.PathLike)) else type(path).__name__
    return ValueError(f"Cannot load {str(name)!r} as a skrank estimator: {why}")


#: how every torch zip starts, and what is refused otherwise
_ZIP_MAGIC = b"PK\x03\x04"
_NOT_A_ZIP = ("the file is truncated, corrupted or not a torch zip file (not a zip "
              "from its first byte).")


def _read(path):
    """The file's bytes (its size is the budget everything else is checked against).

    A path must name a regular file, read up to its stated size: ``/dev/zero``
    (size 0) was read until memory ran out, and a pipe with no writer blocked
    forever. A file object must start as a zip does before the rest is read, so
    that an endless stream of anything else is refused after four bytes.
    """
    if isinstance(path, (str, os.PathLike)):
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise _Refused("it is not a regular file (a device, a pipe or a "
                           "directory); save writes regular files.")
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            data = f.read(size + 1)
        if len(data) != size:
            raise _Refused("the file changed size while it was read.")
        return data
    if not callable(getattr(path, "read", None)):
        raise TypeError(f"load reads a path or a binary file object, got "
                        f"{type(path).__name__}.")
    head = path.read(4)
    if not isinstance(head, bytes):
        raise _Refused("the file object does not read bytes.")
    if head != _ZIP_MAGIC:
        raise _Refused(_NOT_A_ZIP)
    rest = path.read()
    if not isinstance(rest, bytes):
        raise _Refused("the file object does not read bytes.")
    return head + rest


def _check_layout(raw):
    """The zip as torch writes it, which torch and Python's reader see alike: from
    byte 0 (torch reads anything else as a pickle of its legacy format, with no
    opcode counted), and one central directory just before an end record that
    closes the file (Python's reader finds a directory by its end record and
    shifts the stated offsets when they do not meet; torch's takes them as
    stated, so a second directory showed the checks other entries than torch
    loaded: a 303 kB file unpacked to 574 MB)."""
    if raw[:4] != _ZIP_MAGIC:
        raise _Refused(_NOT_A_ZIP)
    end = len(raw) - 22
    record = raw[end:]
    if end < 0 or record[:4] != b"PK\x05\x06" or record[20:22] != b"\0\0":
        raise _Refused("the file is truncated, corrupted or not a torch zip file (no "
                       "zip end record at its end, where torch writes it).")
    size, offset = (int.from_bytes(record[i:i + 4], "little") for i in (12, 16))
    if raw[end - 20:end - 16] == b"PK\x06\x07":
        # zip64 (torch writes it always): its end record, just before the locator,
        # states the directory's place; the classic record agrees unless saturated
        at = int.from_bytes(raw[end - 12:end - 4], "little")
        record = raw[at:at + 56]
        if at != end - 76 or record[:4] != b"PK\x06\x06":
            raise _Refused("its zip64 end record is not where torch writes it.")
        size64, offset64 = (int.from_bytes(record[i:i + 8], "little") for i in (40, 48))
        if (size, offset) != (size64, offset64) and 0xFFFFFFFF not in (size, offset):
            raise _Refused("its two zip end records disagree on the directory.")
        size, offset, end = size64, offset64, at
    if offset + size != end:
        raise _Refused("its zip central directory does not end where its end record "
                       "says: the file holds another directory than the one torch reads.")


def _check_zip(raw):
    """torch writes uncompressed zip entries: refuse compression (a small file that
    expands to gigabytes) and entries claiming more bytes than the file has."""
    _check_layout(raw)
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            infos = z.infolist()
    except MemoryError:
        raise  # the machine's memory, not the file (nothing is allocated yet)
    except Exception as exc:  # BadZipFile, NotImplementedError (a 'version needed
        # to extract' byte beyond zipfile's), ValueError, ...: any of them is damage
        raise _Refused(f"the file is truncated, corrupted or not a torch zip file "
                       f"({type(exc).__name__}).") from None
    packed = [i.filename for i in infos if i.compress_type != zipfile.ZIP_STORED]
    if packed:
        raise _Refused(f"it holds compressed entries ({_short(packed[0])}...; torch "
                       "never writes them, and they could expand far beyond the file).")
    claimed = sum(i.file_size for i in infos)
    if claimed > len(raw):
        raise _Refused(f"its zip entries claim {_size(claimed)} but the file holds "
                       f"{_size(len(raw))}.")
    _check_pickle(raw, infos)


def _check_pickle(raw, infos):
    """Count the payload's pickle opcodes, without running them, against the
    number of stored tensors: the unpickler's memory grows with the objects it
    builds, not with the bytes they take in the file."""
    # torch finds its records by name ignoring case: two names that differ only
    # in case would let the pickle counted here be another than the one loaded
    names = [i.filename.lower() for i in infos]
    if len(set(names)) != len(names):
        raise _Refused("it holds two zip entries of one name (ignoring case).")
    pickles = [i for i, name in zip(infos, names) if name.endswith("data.pkl")]
    if len(pickles) != 1:
        raise _Refused(f"it holds {len(pickles)} pickles, not one torch payload.")
    # a storage of no bytes is no tensor's data: empty entries cost the file about
    # a hundred bytes each, and bought an allowance of opcodes each
    n_tensors = sum(1 for i, name in zip(infos, names)
                    if "/data/" in name and i.file_size > 0)
    # an empty array is an empty entry, and still a tensor to rebuild
    n_calls = 2 * sum(1 for name in names if "/data/" in name) + 8
    # a real payload spends 10 to 110 bytes of the file per opcode: at most one
    # opcode per PICKLE_BYTES_PER_OP bytes keeps what they build to a multiple of
    # the file's size, however the file splits its bytes into entries
    limit = MAX_PICKLE_OPS + min(PICKLE_OPS_PER_TENSOR * n_tensors,
                                 len(raw) // PICKLE_BYTES_PER_OP)
    # the stored bytes themselves, past the entry's local header: zipfile's
    # reader would refuse a flipped byte by its CRC before the digest names it
    info = pickles[0]
    head = raw[info.header_offset:info.header_offset + 30]
    if len(head) < 30:
        raise _Refused("the file is truncated (a zip entry's header is cut).")
    start = info.header_offset + 30 + int.from_bytes(head[26:28], "little") \
        + int.from_bytes(head[28:30], "little")
    data = raw[start:start + info.compress_size]
    count = calls = 0
    try:
        for count, (op, _, _) in enumerate(pickletools.genops(data), start=1):
            if op.name in _SET_OPCODES:
                # sets (216 bytes each, empty) are in no torch payload
                raise _Refused(f"its payload builds sets ({op.name}): objects that "
                               "are not a skrank payload's.")
            if op.name == "REDUCE":
                # a call builds an object (a tensor: 590 bytes) for three opcodes;
                # a payload makes two per stored tensor (the tensor, its hooks)
                calls += 1
                if calls > n_calls:
                    raise _Refused(f"its payload makes more than {n_calls} calls for "
                                   f"{(n_calls - 8) // 2} stored tensors: objects that "
                                   "are not a skrank payload's.")
            if count > limit:
                raise _Refused(f"its payload holds more than {limit} pickle opcodes "
                               f"for {n_tensors} tensors: objects that are not a "
                               "skrank payload's.")
    except _Refused:
        raise
    except (ValueError, EOFError) as exc:  # malformed opcodes
        raise _Refused(f"its pickle is malformed ({str(exc)[:80]}).") from None


def _check_tensor(key, t, device):
    """One plain, dense, contiguous tensor of a known dtype, not a view."""
    if not isinstance(key, str) or not _TENSOR_KEY.match(key) \
            or type(t) is not torch.Tensor:
        raise _Refused(f"tensor entry {_short(key)} is not a plain tensor under a "
                       f"tensor name (got {type(t).__name__}).")
    if t.layout != torch.strided or t.device.type != device or t.dtype not in \
            _TENSOR_DTYPES:
        raise _Refused(f"tensor {key!r} has an unsupported kind ({t.dtype}, "
                       f"{t.layout}, {t.device.type}).")
    # a view can describe far more elements than its storage holds (an expand of
    # one value to 250 million): materializing it would allocate gigabytes
    nbytes = t.numel() * t.element_size()
    stored = t.untyped_storage().nbytes()
    if stored > nbytes:
        raise _Refused(f"tensor {key!r} holds {_size(nbytes)} but its storage declares "
                       f"{_size(stored)}.")
    # is_contiguous() overlooks the stride of a last dimension of size 1, which
    # the digest's byte view does not
    if not t.is_contiguous() or (t.dim() and t.numel() and t.stride(-1) != 1) \
            or t.storage_offset() != 0 or stored != nbytes:
        raise _Refused(f"tensor {key!r} describes {_size(nbytes)} over {_size(stored)} "
                       "of data: a view (expanded, strided, overlapping or offset), "
                       "not the data it describes.")
    if t.requires_grad:
        raise _Refused(f"tensor {key!r} asks for gradients: fitted arrays are data.")



def _check_tensors(tensors, budget, device):
    """Every tensor checked, and all of them within the file's size."""
    if not isinstance(tensors, dict):
        raise _Refused(f"its tensors are a {type(tensors).__name__}, not a dict.")
    total = 0
    for key, t in tensors.items():
        _check_tensor(key, t, device)
        total += t.numel() * t.element_size()
        if total > budget:
            raise _Refused(f"its tensors declare {_size(total)} (up to {key!r}) but "
                           f"the file holds {_size(budget)}.")


def _json_depth_ok(text):
    """Whether JSON ``text`` nests at most :data:`MAX_JSON_DEPTH` levels and holds
    at most :data:`MAX_JSON_CONTAINERS` arrays and objects."""
    depth = containers = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            # the character after a backslash is escaped, a quote included
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            containers += 1
            if depth > MAX_JSON_DEPTH or containers > MAX_JSON_CONTAINERS:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def _torch_load(raw, location):
    """torch's weights-only unpickler: tensors, strings, numbers, lists, dicts only."""
    try:
        return torch.load(io.BytesIO(raw), map_location=location, weights_only=True)
    except MemoryError:
        # the file's sizes were checked against its length before this: the
        # machine is short of memory, which a "corrupted file" would hide
        raise
    except Exception as exc:  # torch raises many types on malformed input
        raise _Refused(f"the file is truncated, corrupted or not a weights-only torch "
                       f"file ({type(exc).__name__}: {str(exc)[:200]})") from None


def _payload_parts(payload):
    """(header, tensors, digest, hmac or None) of a loaded payload, types checked."""
    if not isinstance(payload, dict) or set(payload) not in (
            {"header", "tensors", "digest"}, {"header", "tensors", "digest", "hmac"}):
        raise _Refused(f"unexpected content (a {type(payload).__name__}, not a skrank "
                       "payload).")
    header, tensors, digest = payload["header"], payload["tensors"], payload["digest"]
    signed = payload.get("hmac")
    if not isinstance(header, str) or not isinstance(digest, str) \
            or not isinstance(signed, (str, type(None))):
        raise _Refused("its header, digest and hmac must be strings.")
    if len(header) > MAX_HEADER_CHARS:
        raise _Refused(f"its header holds {len(header)} characters, more than "
                       f"{MAX_HEADER_CHARS}.")
    return header, tensors, digest, signed


def _verify(header, tensors, digest, signed, key):
    """The digest (corruption), then the HMAC if a key is given (authenticity)."""
    if not hmac.compare_digest(_digest(header, tensors), digest):
        raise _Refused("its content does not match its SHA-256 digest (the file is "
                       "damaged).")
    if key is not None and (signed is None
                            or not hmac.compare_digest(_signature(key, digest), signed)):
        raise _Refused("its HMAC does not match the key (wrong key, an unsigned file, "
                       "or a file edited without the key).")
    if key is None and signed is not None:
        raise _Refused("it was saved with a key: pass key= to load it.")


def _open_payload(raw, key):
    """The verified header text and tensors of a file's bytes."""
    _check_zip(raw)
    # first on the meta device: shapes, strides, dtypes and sizes are checked
    # before any tensor data is read or allocated
    _, tensors, _, _ = _payload_parts(_torch_load(raw, "meta"))
    _check_tensors(tensors, len(raw), "meta")
    header, tensors, digest, signed = _payload_parts(_torch_load(raw, "cpu"))
    _check_tensors(tensors, len(raw), "cpu")
    _verify(header, tensors, digest, signed, key)
    return header, tensors


def _parse_header(header):
    """The header's JSON object, its format and version checked, without them."""
    if not _json_depth_ok(header):
        raise _Refused(f"its header nests deeper than {MAX_JSON_DEPTH} levels or "
                       f"holds more than {MAX_JSON_CONTAINERS} arrays and objects.")
    try:
        meta = json.loads(header)
    except (ValueError, RecursionError) as exc:  # also ints of over 4300 digits
        raise _Refused(f"its header is not valid JSON ({str(exc)[:80]}).") from None
    if not isinstance(meta, dict):
        kind = {list: "array", str: "string", type(None): "null", bool: "boolean"}.get(
            type(meta), "number")
        raise _Refused(f"its header is a JSON {kind}, not an object.")
    if meta.get("format") != FORMAT:
        raise _Refused(f"format {_short(meta.get('format'))} is not {FORMAT!r}.")
    version = meta.get("version")
    if type(version) is not int or version < 1:
        raise _Refused(f"format version {_short(version)} is not a version number.")
    if version > FORMAT_VERSION:
        raise _Refused(f"format version {version} is newer than this skrank's "
                       f"({FORMAT_VERSION}); upgrade skrank.")
    return {k: v for k, v in meta.items() if k not in ("format", "version")}, version


def _target_device(requested, saved):
    """The device asked for (refused if unavailable), else the saved one if here."""
    if requested is not None:
        return resolve_device(requested)  # the caller's choice: a clear error
    return device_or_cpu(saved)


def load(path, *, device=None, key=None):
    """Read an estimator written by :func:`save`, never unpickling arbitrary objects.

    A crafted file costs at most about ten times its size in memory: everything
    it declares is checked against its size before anything is allocated.

    Parameters
    ----------
    path : str or path-like or binary file object
    device : str or None, default=None
        Where to put the network; ``None`` keeps the saved device when it is
        available here and falls back to the CPU with a warning otherwise. A
        device this machine lacks is a ValueError listing the supported ones.
    key : str, bytes or None, default=None
        The key the file was saved with, if any: its HMAC-SHA256 is then checked,
        and a file without an HMAC is refused. A file saved with a key is refused
        without one. Without a key only the digest is checked, which detects
        corruption and truncation but not a deliberate edit: anyone can edit the
        file and recompute it (and strip an HMAC), so pass the key whenever the
        file is meant to be signed.

    Returns
    -------
    estimator : skrank estimator

    Raises
    ------
    ValueError
        Naming what is wrong: not a skrank file, truncated or damaged (the digest
        does not match), crafted (views, compression, sizes or an architecture
        beyond what the file holds, unknown dtypes, fields or attributes),
        inconsistent (its network and attributes disagree), a newer format
        version, an HMAC that does not match ``key``, an empty ``key``, or an
        unavailable device.
    TypeError
        If ``key`` is neither str nor bytes.

    Examples
    --------
    >>> import io
    >>> from skrank import load
    >>> try:
    ...     load(io.BytesIO(b"not a model"))
    ... except ValueError as exc:
    ...     print("refused")
    refused
    """
    if device is not None:
        _target_device(device, "cpu")  # an unavailable device: refused up front
    if key is not None:
        _key_bytes(key)
    try:
        raw = _read(path)
        header, tensors = _open_payload(raw, key)
        decoder = _Decoder(tensors, len(header), len(raw), device)
        estimator = decoder.read(header)
        decoder.finish()
        return estimator
    except _Refused as exc:
        raise _refuse(path, str(exc)) from None
