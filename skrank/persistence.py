"""Safe persistence: parameters as JSON, tensors in torch's weights-only format.

``save(estimator, path)`` writes one file that :func:`load` reads back with
``torch.load(weights_only=True)``: only tensors, strings, numbers, lists and dicts
can come out of it, so loading never unpickles (never executes) an arbitrary
object. The file carries a format name, a version and a SHA-256 digest of its
content; a truncated, corrupted or edited file is refused with a ``ValueError``.

Pickle and joblib also work (``pickle.dumps(estimator)``); unlike :func:`load`,
unpickling runs code from the file, so only unpickle files you trust.
"""

import hashlib
import io
import json
import warnings
import zipfile

import numpy as np
import torch

__all__ = ["save", "load", "FORMAT", "FORMAT_VERSION"]

FORMAT = "skrank-estimator"
FORMAT_VERSION = 1


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


def _decode(value, tensors):
    if not isinstance(value, dict):
        return value
    if "__float__" in value:
        return float(value["__float__"])
    if "__tensor__" in value:
        return tensors[value["__tensor__"]].numpy().copy()
    if "__array__" in value:
        dtype = object if value["dtype"] == "object" else value["dtype"]
        return np.array(value["__array__"], dtype=dtype).reshape(value["shape"])
    if "__list__" in value:
        return [_decode(v, tensors) for v in value["__list__"]]
    if "__dict__" in value:
        return {k: _decode(v, tensors) for k, v in value["__dict__"].items()}
    if "__estimator__" in value:
        return _build(value["__estimator__"], tensors)
    raise ValueError(f"Unknown encoded value {sorted(value)}.")


class _Refused(ValueError):
    pass


def _build(meta, tensors, device=None):
    """An estimator from :meth:`_Encoder.estimator`'s JSON and the tensors."""
    registry = _registry()
    if not isinstance(meta, dict) or meta.get("class") not in registry:
        raise _Refused(f"unknown estimator class {meta.get('class')!r}.")
    cls = registry[meta["class"]]
    params = {k: _decode(v, tensors) for k, v in meta["params"].items()}
    try:
        estimator = cls(**params)
        estimator._validate_params()
    except (TypeError, ValueError) as exc:
        raise _Refused(f"invalid parameters ({exc}).") from exc
    for key, value in meta["attributes"].items():
        setattr(estimator, key, _decode(value, tensors))
    arch = meta.get("architecture")
    if arch is not None:
        dtype = getattr(torch, arch["dtype"])
        module = estimator._build_module(arch["n_inputs"], arch["n_outputs"], dtype)
        prefix = arch["prefix"]
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        try:
            module.load_state_dict(state)
        except RuntimeError as exc:
            raise _Refused(f"network weights do not fit the architecture ({exc}).") \
                from exc
        target = _available_device(device or getattr(estimator, "device_", "cpu"))
        estimator.module_ = module.to(target).eval()
        estimator.device_ = str(target)
    return estimator


def _digest(header, tensors):
    h = hashlib.sha256(header.encode())
    for key in sorted(tensors):
        t = tensors[key].contiguous().cpu()
        h.update(key.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy()
                 .tobytes())
    return h.hexdigest()


def save(estimator, path):
    """Write a fitted (or unfitted) skrank estimator to ``path``.

    Parameters
    ----------
    estimator : skrank estimator
    path : str or path-like or binary file object

    Examples
    --------
    >>> import tempfile, os, numpy as np
    >>> from skrank import DeepL2Regressor, save, load
    >>> X = np.random.RandomState(0).rand(20, 3); y = X.sum(1)
    >>> reg = DeepL2Regressor(depth=3, width=8, max_iter=20, random_state=0).fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.skrank")
    >>> save(reg, path)
    >>> np.array_equal(load(path).predict(X), reg.predict(X))
    True
    """
    name = type(estimator).__name__
    if name not in _registry():
        raise TypeError(f"save() takes a skrank estimator, got {name}.")
    enc = _Encoder()
    body = enc.estimator(estimator)
    header = json.dumps({"format": FORMAT, "version": FORMAT_VERSION, **body},
                        sort_keys=True)
    payload = {"header": header, "tensors": enc.tensors,
               "digest": _digest(header, enc.tensors)}
    torch.save(payload, path)


def _refuse(path, why):
    return ValueError(f"Cannot load {path!r} as a skrank estimator: {why}")


def load(path, *, device=None):
    """Read an estimator written by :func:`save`, never unpickling arbitrary objects.

    Parameters
    ----------
    path : str or path-like or binary file object
    device : str or None, default=None
        Where to put the network; ``None`` keeps the saved ``device`` parameter
        when it is available here and falls back to the CPU with a warning
        otherwise.

    Returns
    -------
    estimator : skrank estimator

    Raises
    ------
    ValueError
        The file is not a skrank file, is truncated or corrupted, comes from a
        newer format version, or its content does not match its digest.

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
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError,
            KeyError, TypeError, AttributeError, IndexError, io.UnsupportedOperation,
            Exception) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise _refuse(path, f"the file is truncated, corrupted or not a weights-only "
                            f"torch file ({type(exc).__name__}: {str(exc)[:200]})") from exc
    if not isinstance(payload, dict) or set(payload) != {"header", "tensors", "digest"}:
        raise _refuse(path, "unexpected content.")
    header, tensors, digest = payload["header"], payload["tensors"], payload["digest"]
    if not isinstance(header, str) or not isinstance(tensors, dict) \
            or not isinstance(digest, str):
        raise _refuse(path, "unexpected content.")
    if _digest(header, tensors) != digest:
        raise _refuse(path, "its content does not match its SHA-256 digest (the file "
                            "was modified or damaged).")
    try:
        meta = json.loads(header)
    except json.JSONDecodeError as exc:
        raise _refuse(path, "its header is not valid JSON.") from exc
    if meta.get("format") != FORMAT:
        raise _refuse(path, f"format {meta.get('format')!r} is not {FORMAT!r}.")
    if not isinstance(meta.get("version"), int) or meta["version"] > FORMAT_VERSION:
        raise _refuse(path, f"format version {meta.get('version')!r} is newer than this "
                            f"skrank's ({FORMAT_VERSION}); upgrade skrank.")
    try:
        return _build(meta, tensors, device)
    except _Refused as exc:
        raise _refuse(path, str(exc)) from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _refuse(path, f"malformed content ({type(exc).__name__}: {exc}).") from exc


def _available_device(device):
    device = str(device)
    if device.startswith("cuda") and not torch.cuda.is_available():
        warnings.warn(
            f"The model was on {device!r} but CUDA is not available here; it is "
            "loaded on the CPU.",
            UserWarning,
            stacklevel=3,
        )
        return torch.device("cpu")
    return torch.device(device)
