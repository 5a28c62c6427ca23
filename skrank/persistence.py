"""Safe persistence: parameters as JSON, tensors in torch's weights-only format.

``save(estimator, path)`` writes one file that :func:`load` reads back with
``torch.load(weights_only=True)``: only tensors, strings, numbers, lists and dicts
can come out of it, so loading never unpickles (never executes) an arbitrary
object. Before anything is allocated, the file is checked against limits derived
from its own size (no compressed entries, no tensor views larger than their data,
a bounded header, an architecture whose weights the file actually holds), so a
crafted file costs at most about its size in memory and time.

The file carries a format name, a version and a SHA-256 digest of its content.
The digest detects **corruption** (a truncated download, a flipped bit); it has no
key, so it cannot detect a deliberate edit: anyone can change the weights and
recompute it. For **authenticity**, pass a secret ``key`` to :func:`save` and
:func:`load`: the file then carries an HMAC-SHA256 of its content, which only a
holder of the key can produce.

Pickle and joblib also work (``pickle.dumps(estimator)``); unlike :func:`load`,
unpickling runs code from the file, so only unpickle files you trust.
"""

import hashlib
import hmac
import io
import json
import math
import os
import re
import warnings
import zipfile

import numpy as np
import torch

__all__ = ["save", "load", "FORMAT", "FORMAT_VERSION"]

FORMAT = "skrank-estimator"
FORMAT_VERSION = 1

#: JSON nesting deeper than this is refused before parsing (the encoder writes
#: at most a few levels; Python's parser would recurse until it crashes).
MAX_JSON_DEPTH = 64
#: Tensor dtypes a saved estimator holds; anything else (quantized, float8,
#: complex) is refused.
_TENSOR_DTYPES = {torch.float16, torch.bfloat16, torch.float32, torch.float64,
                  torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8,
                  torch.bool}
_NETWORK_DTYPES = {"float32": torch.float32, "float64": torch.float64}
_STRING_DTYPE = re.compile(r"^[<>|=]?U(\d{1,6})$")
_NAME = re.compile(r"^_?[A-Za-z][A-Za-z0-9_]*$")
_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?|mps)$")


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
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, (int, np.integer)):
            return int(value)
        if isinstance(value, (float, np.floating)):
            return {"__float__": repr(float(value))}  # keeps nan/inf exactly
        if isinstance(value, np.ndarray):
            if value.dtype.kind in "biuf":
                key = f"t{len(self.tensors)}"
                self.tensors[key] = torch.from_numpy(np.ascontiguousarray(value))
                return {"__tensor__": key}
            if value.dtype.kind in "OU":
                items = value.ravel().tolist()
                if not all(isinstance(v, (str, int, float, bool)) for v in items):
                    raise TypeError("Only arrays of numbers or strings can be saved.")
                return {"__array__": items, "shape": list(value.shape),
                        "dtype": "object" if value.dtype.kind == "O" else str(value.dtype)}
            raise TypeError(f"Cannot save an array of dtype {value.dtype}.")
        if isinstance(value, (list, tuple)):
            return {"__list__": [self.encode(v) for v in value]}
        if isinstance(value, dict):
            if not all(isinstance(k, str) for k in value):
                raise TypeError("Only dicts with string keys can be saved.")
            return {"__dict__": {k: self.encode(v) for k, v in value.items()}}
        if type(value).__name__ in _registry():
            return {"__estimator__": self.estimator(value)}
        raise TypeError(f"Cannot save a value of type {type(value).__name__}.")

    def estimator(self, est):
        """An estimator as JSON: class, parameters, fitted attributes, network."""
        params = {k: self.encode(v) for k, v in est.get_params(deep=False).items()}
        attrs = {k: self.encode(v) for k, v in vars(est).items()
                 if k != "module_" and k not in params}
        module = getattr(est, "module_", None)
        arch = None
        if module is not None:
            prefix = f"m{len(self.tensors)}."
            for k, v in module.state_dict().items():
                self.tensors[prefix + k] = v.detach().cpu().clone()
            arch = {"n_inputs": int(est.n_features_in_),
                    "n_outputs": int(module.weight_matrices()[-1].shape[0]),
                    "dtype": str(next(module.parameters()).dtype).replace("torch.", ""),
                    "prefix": prefix}
        return {"class": type(est).__name__, "params": params, "attributes": attrs,
                "architecture": arch}


class _Refused(ValueError):
    pass


def _decode(value, tensors):
    """A fitted attribute's value from its JSON encoding, every field checked."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value
    if not isinstance(value, dict) or len(value) == 0:
        raise _Refused(f"unexpected encoded value of type {type(value).__name__}.")
    kind = next(iter(value))
    if kind == "__float__" and isinstance(value[kind], str):
        try:
            return float(value[kind])
        except ValueError:
            raise _Refused(f"{value[kind][:40]!r} is not a number.") from None
    if kind == "__tensor__":
        ref = value[kind]
        if not isinstance(ref, str) or ref not in tensors:
            raise _Refused(f"reference to a missing tensor {str(ref)[:40]!r}.")
        return np.ascontiguousarray(tensors[ref].numpy().copy())
    if kind == "__array__":
        return _decode_array(value)
    if kind == "__list__" and isinstance(value[kind], list):
        return [_decode(v, tensors) for v in value[kind]]
    if kind == "__dict__" and isinstance(value[kind], dict):
        return {k: _decode(v, tensors) for k, v in value[kind].items()}
    if kind == "__estimator__":
        return _build(value[kind], tensors)
    raise _Refused(f"unknown encoded value {sorted(value)[:3]}.")


def _decode_array(value):
    """An array of strings or Python objects, its dtype and shape checked first."""
    items, shape, dtype = value.get("__array__"), value.get("shape"), value.get("dtype")
    if not (isinstance(items, list) and isinstance(shape, list)
            and all(type(n) is int and n >= 0 for n in shape)
            and math.prod(shape) == len(items)
            and all(isinstance(v, (str, int, float, bool)) for v in items)):
        raise _Refused("malformed array.")
    if dtype == "object":
        return np.array(items, dtype=object).reshape(shape)
    match = _STRING_DTYPE.match(dtype) if isinstance(dtype, str) else None
    # a string dtype reserves its width for every item: no wider than the items
    longest = max((len(str(v)) for v in items), default=0)
    if match is None or int(match.group(1)) > max(longest, 1):
        raise _Refused(f"array dtype {str(dtype)[:40]!r} is not a string dtype as wide "
                       "as its items.")
    return np.array(items, dtype=dtype).reshape(shape)


def _check_params(meta, cls):
    params = meta.get("params")
    if not isinstance(params, dict) or not isinstance(meta.get("attributes"), dict):
        raise _Refused("params and attributes must be JSON objects.")
    unknown = set(params) - set(cls._get_param_names())
    if unknown:
        raise _Refused(f"unknown parameters {sorted(map(str, unknown))[:5]}.")
    return params


def _check_attribute(cls, key):
    """A fitted attribute's name: no method, property, class attribute or module."""
    if not isinstance(key, str) or not _NAME.match(key) or key == "module_" \
            or hasattr(cls, key) or not (key.endswith("_") or key.startswith("_")):
        raise _Refused(f"{str(key)[:40]!r} is not a fitted attribute of "
                       f"{cls.__name__}.")


def _build(meta, tensors, device=None):
    """An estimator from :meth:`_Encoder.estimator`'s JSON and the tensors."""
    registry = _registry()
    if not isinstance(meta, dict) or meta.get("class") not in registry:
        cls_name = meta.get("class") if isinstance(meta, dict) else None
        raise _Refused(f"unknown estimator class {str(cls_name)[:40]!r}.")
    cls = registry[meta["class"]]
    params = {k: _decode(v, tensors) for k, v in _check_params(meta, cls).items()}
    try:
        estimator = cls(**params)
        estimator._validate_params()
    except (TypeError, ValueError) as exc:
        raise _Refused(f"invalid parameters ({exc}).") from exc
    for key, value in meta["attributes"].items():
        _check_attribute(cls, key)
        setattr(estimator, key, _decode(value, tensors))
    arch = meta.get("architecture")
    if arch is not None:
        _attach_network(estimator, arch, tensors, device)
    if meta["attributes"]:
        _smoke_test(estimator)
    return estimator


def _check_architecture(estimator, arch, tensors):
    """The declared network, checked against the file before it is allocated."""
    if not isinstance(arch, dict) or set(arch) != {"n_inputs", "n_outputs", "dtype",
                                                   "prefix"}:
        raise _Refused("malformed architecture.")
    n_in, n_out, dtype, prefix = (arch["n_inputs"], arch["n_outputs"], arch["dtype"],
                                  arch["prefix"])
    if not (type(n_in) is int and type(n_out) is int and n_in >= 1 and n_out >= 1):
        raise _Refused("the architecture's input and output sizes must be positive "
                       "integers.")
    if dtype not in _NETWORK_DTYPES or not isinstance(prefix, str):
        raise _Refused(f"network dtype {str(dtype)[:20]!r} is not float32 or float64.")
    state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    if getattr(estimator, "n_features_in_", n_in) != n_in:
        raise _Refused(f"n_features_in_={estimator.n_features_in_} but the network "
                       f"takes {n_in} inputs.")
    # every layer holds at least one tensor: a depth beyond the file's tensors is a
    # lie, refused before building anything of that depth
    if getattr(estimator, "depth", 0) > len(state):
        raise _Refused(f"depth={estimator.depth} but the file holds {len(state)} "
                       "network tensors.")
    with torch.device("meta"):  # shapes only, nothing allocated
        shapes = {k: tuple(v.shape) for k, v in estimator._build_module(
            n_in, n_out, _NETWORK_DTYPES[dtype]).state_dict().items()}
    if shapes != {k: tuple(v.shape) for k, v in state.items()}:
        raise _Refused("the network weights do not fit the declared architecture.")
    return state, _NETWORK_DTYPES[dtype]


def _attach_network(estimator, arch, tensors, device):
    state, dtype = _check_architecture(estimator, arch, tensors)
    module = estimator._build_module(arch["n_inputs"], arch["n_outputs"], dtype)
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        raise _Refused(f"network weights do not fit the architecture ({exc}).") from exc
    saved = getattr(estimator, "device_", "cpu")
    if not isinstance(saved, str) or not _DEVICE.match(saved):
        raise _Refused(f"device_={str(saved)[:40]!r} is not a device name.")
    target = _target_device(device, saved)
    estimator.module_ = module.to(target).eval()
    estimator.device_ = str(target)


def _smoke_test(estimator):
    """A fitted estimator must answer on one row now, not fail later at predict."""
    if getattr(estimator, "refit", True) is False:
        return  # a selector fitted with refit=False answers nothing, by design
    n = getattr(estimator, "n_features_in_", None)
    if type(n) is not int or n < 1:
        raise _Refused("a fitted estimator without a valid n_features_in_.")
    X = np.zeros((1, n))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for method in ("predict", "predict_proba", "transform"):
                if hasattr(estimator, method):
                    getattr(estimator, method)(X)
    except Exception as exc:  # any failure here means an inconsistent file
        raise _Refused(f"its fitted state is inconsistent ({type(exc).__name__}: "
                       f"{str(exc)[:120]}).") from None


def _digest(header, tensors):
    h = hashlib.sha256(header.encode())
    for key in sorted(tensors):
        t = tensors[key]
        h.update(key.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        # contiguous, bounded tensors only reach here (see _check_tensors)
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _signature(key, digest):
    if isinstance(key, str):
        key = key.encode()
    if not isinstance(key, (bytes, bytearray)) or not key:
        raise TypeError("key must be a non-empty str or bytes.")
    return hmac.new(bytes(key), digest.encode(), hashlib.sha256).hexdigest()


def save(estimator, path, *, key=None):
    """Write a fitted (or unfitted) skrank estimator to ``path``.

    Parameters
    ----------
    estimator : skrank estimator
    path : str or path-like or binary file object
    key : str, bytes or None, default=None
        A secret: the file then carries an HMAC-SHA256 of its content, and
        :func:`load` refuses it without the same key. Without a key the file's
        SHA-256 digest detects corruption, not deliberate edits.

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
    name = type(estimator).__name__
    if name not in _registry():
        raise TypeError(f"save() takes a skrank estimator, got {name}.")
    enc = _Encoder()
    body = enc.estimator(estimator)
    header = json.dumps({"format": FORMAT, "version": FORMAT_VERSION, **body},
                        sort_keys=True)
    tensors = {k: v.contiguous() for k, v in enc.tensors.items()}
    payload = {"header": header, "tensors": tensors, "digest": _digest(header, tensors)}
    if key is not None:
        payload["hmac"] = _signature(key, payload["digest"])
    torch.save(payload, path)


def _refuse(path, why):
    name = path if isinstance(path, (str, os.PathLike)) else type(path).__name__
    return ValueError(f"Cannot load {str(name)!r} as a skrank estimator: {why}")


def _read(path):
    """The file's bytes (its size is the budget everything else is checked against)."""
    if isinstance(path, (str, os.PathLike)):
        with open(path, "rb") as f:
            return f.read()
    data = path.read()
    if not isinstance(data, bytes):
        raise _Refused("the file object does not read bytes.")
    return data


def _check_zip(raw):
    """torch writes uncompressed zip entries: refuse compression (a small file that
    expands to gigabytes) and entries claiming more bytes than the file has."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise _Refused(f"the file is truncated, corrupted or not a torch zip file "
                       f"({type(exc).__name__}).") from None
    if any(i.compress_type != zipfile.ZIP_STORED for i in infos):
        raise _Refused("it holds compressed entries (torch never writes them).")
    if sum(i.file_size for i in infos) > len(raw):
        raise _Refused("its entries claim more bytes than the file holds.")


def _check_tensors(tensors, budget):
    """Plain, dense, contiguous CPU tensors of known dtypes, within the file's size.

    A tensor view can describe far more elements than its storage holds (an
    ``expand`` of one value to 250 million): materializing it would allocate
    gigabytes from a few bytes of file.
    """
    if not isinstance(tensors, dict):
        raise _Refused("unexpected content.")
    total = 0
    for k, t in tensors.items():
        if not isinstance(k, str) or type(t) is not torch.Tensor:
            raise _Refused(f"tensor entry {str(k)[:40]!r} is not a plain tensor.")
        if t.layout != torch.strided or t.device.type != "cpu" or t.dtype not in \
                _TENSOR_DTYPES or t.is_quantized:
            raise _Refused(f"tensor {k!r} has an unsupported kind ({t.dtype}, "
                           f"{t.layout}, {t.device.type}).")
        nbytes = t.numel() * t.element_size()
        if not t.is_contiguous() or t.storage_offset() != 0 \
                or t.untyped_storage().nbytes() != nbytes:
            raise _Refused(f"tensor {k!r} is a view, not the data it describes.")
        total += nbytes
    if total > budget:
        raise _Refused("its tensors claim more bytes than the file holds.")


def _json_depth_ok(text):
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            escaped = not escaped and ch == "\\"
            in_string = escaped or ch != '"'
            continue
        if ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def _open_payload(raw, key):
    """The verified (header text, tensors) of a file's bytes."""
    _check_zip(raw)
    try:
        payload = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types on malformed input
        raise _Refused(f"the file is truncated, corrupted or not a weights-only torch "
                       f"file ({type(exc).__name__}: {str(exc)[:200]})") from None
    if not isinstance(payload, dict) or set(payload) not in ({"header", "tensors", "digest"},
                             {"header", "tensors", "digest", "hmac"}):
        raise _Refused("unexpected content.")
    header, tensors, digest = payload["header"], payload["tensors"], payload["digest"]
    if not isinstance(header, str) or not isinstance(digest, str):
        raise _Refused("unexpected content.")
    _check_tensors(tensors, len(raw))
    if not hmac.compare_digest(_digest(header, tensors), digest):
        raise _Refused("its content does not match its SHA-256 digest (the file is "
                       "damaged).")
    signed = payload.get("hmac")
    if key is not None and (not isinstance(signed, str)
                            or not hmac.compare_digest(_signature(key, digest), signed)):
        raise _Refused("its HMAC does not match the key (wrong key, an unsigned file, "
                       "or a file edited without the key).")
    if key is None and signed is not None:
        raise _Refused("it was saved with a key: pass key= to load it.")
    return header, tensors


def _parse_header(header):
    if not _json_depth_ok(header):
        raise _Refused(f"its header nests deeper than {MAX_JSON_DEPTH} levels.")
    try:
        meta = json.loads(header)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise _Refused("its header is not valid JSON.") from exc
    if not isinstance(meta, dict):
        raise _Refused("its header is not a JSON object.")
    if meta.get("format") != FORMAT:
        raise _Refused(f"format {str(meta.get('format'))[:40]!r} is not {FORMAT!r}.")
    version = meta.get("version")
    if type(version) is not int or version < 1:
        raise _Refused(f"format version {version!r} is not a version number.")
    if version > FORMAT_VERSION:
        raise _Refused(f"format version {version} is newer than this skrank's "
                       f"({FORMAT_VERSION}); upgrade skrank.")
    return meta


def _target_device(requested, saved):
    from ._base import resolve_device

    if requested is not None:
        return resolve_device(requested)  # the caller's choice: a clear error
    if saved.startswith("cuda") and not torch.cuda.is_available() or saved == "mps":
        try:
            return resolve_device(saved)
        except ValueError:
            warnings.warn(f"The model was on {saved!r} but CUDA is not available here "
                          "(or that device is missing); it is loaded on the CPU.",
                          UserWarning, stacklevel=4)
            return torch.device("cpu")
    return resolve_device(saved)


def load(path, *, device=None, key=None):
    """Read an estimator written by :func:`save`, never unpickling arbitrary objects.

    Parameters
    ----------
    path : str or path-like or binary file object
    device : str or None, default=None
        Where to put the network; ``None`` keeps the saved device when it is
        available here and falls back to the CPU with a warning otherwise.
    key : str, bytes or None, default=None
        The key the file was saved with, if any: its HMAC is then checked.

    Returns
    -------
    estimator : skrank estimator

    Raises
    ------
    ValueError
        Naming what is wrong: not a skrank file, truncated or damaged (the digest
        does not match), crafted (views, compression, sizes or an architecture
        beyond what the file holds, unknown dtypes or fields), inconsistent (its
        network and attributes disagree), a newer format version, or an HMAC that
        does not match ``key``.

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
    try:
        header, tensors = _open_payload(_read(path), key)
        return _build(_parse_header(header), tensors, device)
    except _Refused as exc:
        raise _refuse(path, str(exc)) from None
