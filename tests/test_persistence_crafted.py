"""Crafted files: every one refused with a ValueError naming the problem, fast,
without allocating more than the file's size allows."""

import io
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch

import skrank
from skrank import load, save
from skrank.persistence import _digest, _signature

X = np.random.RandomState(0).rand(30, 3)
Y = X @ np.array([1.0, -2.0, 0.5])


@pytest.fixture(scope="module")
def payload():
    est = skrank.DeepL2Regressor(depth=3, width=8, max_iter=5, random_state=0).fit(X, Y)
    buf = io.BytesIO()
    save(est, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def _craft(payload, header=None, tensors=None, edit=None, extra=None):
    """A file with the given content and a *valid* digest (anyone can compute it)."""
    header = payload["header"] if header is None else header
    if edit is not None:
        meta = json.loads(header)
        edit(meta)
        header = json.dumps(meta)
    tensors = dict(payload["tensors"]) if tensors is None else tensors
    out = {"header": header, "tensors": tensors}
    if isinstance(header, str) and isinstance(tensors, dict):
        try:
            out["digest"] = _digest(header, tensors)
        except Exception:
            out["digest"] = "0" * 64
    else:
        out["digest"] = "0" * 64
    out.update(extra or {})
    buf = io.BytesIO()
    torch.save(out, buf)
    return buf.getvalue()


def _refused(data, match=None, **kw):
    with pytest.raises(ValueError, match=match) as info:
        load(io.BytesIO(data), **kw)
    assert "Cannot load" in str(info.value)
    return str(info.value)


def _set(path, value):
    def edit(meta):
        node = meta
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return edit


def _tensors_with(payload, key, value):
    t = dict(payload["tensors"])
    t[key] = value
    return t


CRAFTED = {
    "expand_view": lambda p: _craft(p, tensors=_tensors_with(
        p, "t0", torch.zeros(1).expand(250_000_000))),
    "width_12000": lambda p: _craft(p, edit=_set(["params", "width"], 12000)),
    "width_50000": lambda p: _craft(p, edit=_set(["params", "width"], 50000)),
    "depth_200000": lambda p: _craft(p, edit=_set(["params", "depth"], 200000)),
    "wide_string_dtype": lambda p: _craft(p, edit=_set(
        ["attributes", "_extra_"],
        {"__array__": ["a"], "shape": [1], "dtype": "U250000000"})),
    "header_list": lambda p: _craft(p, header="[]"),
    "header_number": lambda p: _craft(p, header="3"),
    "header_null": lambda p: _craft(p, header="null"),
    "header_deep": lambda p: _craft(p, header="[" * 100_000 + "]" * 100_000),
    "tensor_not_tensor": lambda p: _craft(p, tensors=_tensors_with(p, "t0", [1, 2])),
    "tensor_int_key": lambda p: _craft(p, tensors={**p["tensors"], 3: torch.zeros(2)}),
    "parameter": lambda p: _craft(p, tensors=_tensors_with(
        p, "t0", torch.nn.Parameter(torch.zeros(2)))),
    "float8": lambda p: _craft(p, tensors=_tensors_with(
        p, "t0", torch.zeros(2).to(torch.float8_e4m3fn))),
    "qint8": lambda p: _craft(p, tensors=_tensors_with(p, "t0", torch.quantize_per_tensor(
        torch.zeros(4), 0.1, 0, torch.qint8))),
    "sparse": lambda p: _craft(p, tensors=_tensors_with(
        p, "t0", torch.eye(3).to_sparse())),
    "meta": lambda p: _craft(p, tensors=_tensors_with(
        p, "t0", torch.zeros(3, device="meta"))),
    "n_inputs_negative": lambda p: _craft(p, edit=_set(["architecture", "n_inputs"], -1)),
    "dtype_int64": lambda p: _craft(p, edit=_set(["architecture", "dtype"], "int64")),
    "dtype_bool": lambda p: _craft(p, edit=_set(["architecture", "dtype"], "bool")),
    "dtype_float8": lambda p: _craft(p, edit=_set(["architecture", "dtype"],
                                                  "float8_e4m3fn")),
    "device_foo": lambda p: _craft(p, edit=_set(["attributes", "device_"], "foo")),
    "n_features_mismatch": lambda p: _craft(p, edit=_set(
        ["attributes", "n_features_in_"], 5)),
    "attribute_predict": lambda p: _craft(p, edit=_set(["attributes", "predict"], 1)),
    "attribute_module": lambda p: _craft(p, edit=_set(["attributes", "module_"], 1)),
    "missing_bottleneck_layer": lambda p: _craft(
        p, edit=lambda m: m["attributes"].pop("bottleneck_layer_")),
    "version_0": lambda p: _craft(p, edit=_set(["version"], 0)),
    "version_negative": lambda p: _craft(p, edit=_set(["version"], -1)),
    "version_true": lambda p: _craft(p, edit=_set(["version"], True)),
    "unknown_param": lambda p: _craft(p, edit=_set(["params", "evil"], 1)),
}


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_crafted_file_is_refused_with_a_value_error(payload, name):
    _refused(CRAFTED[name](payload))


def _deflated(data):
    """The same zip, its entries deflate-compressed (torch never writes that)."""
    src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            z.writestr(info.filename, src.read(info.filename))
    return out.getvalue()


def test_compressed_file_is_refused(payload):
    _refused(_deflated(_craft(payload)), match="compressed")


def test_zip_bomb_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data/0", b"\0" * 50_000_000)  # ~50 KB on disk
    _refused(out.getvalue(), match="compressed")


def test_unavailable_device_argument_is_a_clear_error(payload):
    with pytest.raises(ValueError, match="mps.*supports"):
        load(io.BytesIO(_craft(payload)), device="mps")


def test_the_digest_detects_damage_but_a_key_detects_edits(payload, tmp_path):
    edited = _craft(payload, tensors={k: v + 1 if v.is_floating_point() else v
                                      for k, v in payload["tensors"].items()})
    load(io.BytesIO(edited))  # a recomputed digest: the keyless check cannot tell
    est = load(io.BytesIO(_craft(payload)))
    path = tmp_path / "signed.skrank"
    save(est, path, key="secret")
    assert load(path, key="secret").predict(X[:2]).shape == (2,)
    assert load(path, key=b"secret").predict(X[:2]).shape == (2,)
    _refused(path.read_bytes(), match="pass key=")
    _refused(path.read_bytes(), match="HMAC", key="wrong")
    _refused(_craft(payload), match="HMAC", key="secret")  # unsigned
    signed = torch.load(path, weights_only=True)
    forged = _craft(payload, tensors={k: v + 1 if v.is_floating_point() else v
                                      for k, v in signed["tensors"].items()},
                    header=signed["header"], extra={"hmac": signed["hmac"]})
    _refused(forged, match="HMAC", key="secret")
    assert signed["hmac"] == _signature("secret", signed["digest"])


_MEASURE = r"""
import io, resource, sys, time, warnings
import skrank
data = [open(p, "rb").read() for p in sys.argv[1:]]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
worst = 0.0
for blob in data:
    t = time.perf_counter()
    try:
        skrank.load(io.BytesIO(blob))
    except ValueError:
        pass
    worst = max(worst, time.perf_counter() - t)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) / 1024, worst)
"""


def test_crafted_files_cost_little_memory_and_time(payload, tmp_path):
    """Peak memory over all crafted files below 50 MB more than before them, each
    refused within a second (a subprocess, since torch allocates outside Python)."""
    paths = []
    for name, make in sorted(CRAFTED.items()):
        path = tmp_path / f"{name}.skrank"
        path.write_bytes(make(payload))
        paths.append(str(path))
    (tmp_path / "deflated.skrank").write_bytes(_deflated(_craft(payload)))
    paths.append(str(tmp_path / "deflated.skrank"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", _MEASURE, *paths], capture_output=True,
                         text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    extra_mb, worst_s = map(float, out.stdout.split())
    assert extra_mb < 50, extra_mb
    assert worst_s < 1.0, worst_s
