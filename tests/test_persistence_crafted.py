"""Crafted files: every one refused with a ValueError naming the problem, fast,
without allocating more than the file's size allows.

Each file carries a *valid* digest wherever one can be computed: the digest has
no key, so an attacker can always recompute it; the checks must not rely on it.
"""

import hashlib
import io
import json
import os
import struct
import subprocess
import sys
import warnings
import zipfile

import numpy as np
import pytest
import torch

import skrank
from skrank import load, save
from skrank.persistence import MAX_HEADER_CHARS, _digest

X = np.random.RandomState(0).rand(30, 3)
Y = X @ np.array([1.0, -2.0, 0.5])
#: The length of a uint8 tensor whose pickled size is easy to find and patch: the
#: BININT opcode followed by these four bytes, once for the storage, once for the
#: tensor's shape.
_MARK = 0x10203
_MARK_OP = b"J" + _MARK.to_bytes(4, "little")
_GB40 = 40 * 10**9


@pytest.fixture(scope="module")
def payload():
    est = skrank.DeepL2Regressor(depth=3, width=8, max_iter=5, random_state=0).fit(X, Y)
    buf = io.BytesIO()
    save(est, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def _craft(payload, header=None, tensors=None, edit=None, extra=None):
    """A file with the given content and a valid digest where one can be computed."""
    header = payload["header"] if header is None else header
    if edit is not None:
        meta = json.loads(header)
        edit(meta)
        header = json.dumps(meta)
    tensors = dict(payload["tensors"]) if tensors is None else tensors
    out = {"header": header, "tensors": tensors}
    try:
        out["digest"] = _digest(header, tensors)
    except Exception:  # views, sparse, quantized or non-tensor entries
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


def _first_weight(payload):
    """The name of the tensor holding the first layer's weight (the first of
    n_inputs columns: the others are biases or hidden layers)."""
    n_in = json.loads(payload["header"])["architecture"]["n_inputs"]
    return next(k for k, t in payload["tensors"].items()
                if t.ndim == 2 and t.shape[1] == n_in)


def _tensors_with(payload, key, value):
    t = dict(payload["tensors"])
    t[key] = value
    return t


def _rezip(data, suffix, change, compression=zipfile.ZIP_STORED, rename=None):
    """The zip ``data`` with the entry whose name ends with ``suffix`` changed (and
    renamed to ``rename`` if given)."""
    src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as z:
        for info in src.infolist():
            body = src.read(info.filename)
            hit = info.filename.endswith(suffix)
            z.writestr(rename if hit and rename else info.filename,
                       change(body) if hit else body)
    return out.getvalue()


def _long1(n):
    """The pickle opcode LONG1 pushing ``n``."""
    raw = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(raw)]) + raw


def _declaring(payload, nbytes, storage=True, shape=True):
    """A file whose tensor t0 declares ``nbytes`` (its storage, its shape or both)
    while the file holds _MARK bytes of it: the pickle is patched, the data is not."""
    data = _craft(payload, tensors=_tensors_with(payload, "t0",
                                                 torch.zeros(_MARK, dtype=torch.uint8)))

    def patch(pkl):
        first, second, rest = pkl.split(_MARK_OP)  # storage size, then shape
        return (first + (_long1(nbytes) if storage else _MARK_OP) + second
                + (_long1(nbytes) if shape else _MARK_OP) + rest)
    return _rezip(data, "data.pkl", patch)


def _claiming(data, suffix, size):
    """``data`` with the zip central directory claiming ``size`` bytes for an entry."""
    out = bytearray(data)
    pos = out.find(b"PK\x01\x02")
    while pos >= 0:
        n = struct.unpack_from("<H", out, pos + 28)[0]
        if bytes(out[pos + 46:pos + 46 + n]).endswith(suffix.encode()):
            struct.pack_into("<II", out, pos + 20, size, size)
        pos = out.find(b"PK\x01\x02", pos + 4)
    return bytes(out)


def _with_text(payload, old, new):
    """The header edited as text (for what ``json.dumps`` would not write)."""
    assert old in payload["header"]
    return _craft(payload, header=payload["header"].replace(old, new, 1))


def _twin_network(meta):
    """A second estimator inside the first, using the first one's network tensors."""
    twin = {k: meta[k] for k in ("class", "params", "attributes", "architecture")}
    meta["attributes"]["loss_curve_"] = {"__estimator__": json.loads(json.dumps(twin))}


def _skewed_strings(meta):
    """One wide item and many empty ones: 40 GB as a fixed-width string array."""
    n, width = 200_000, 50_000
    meta["attributes"]["feature_names_in_"] = {"__array__": ["x" * width] + [""] * (n - 1),
                                     "shape": [n], "dtype": f"<U{width}"}


def _no_network(meta):
    meta["architecture"] = None
    meta["attributes"]["n_features_in_"] = 10**12


def _qint8():
    with warnings.catch_warnings():  # quantized tensors are deprecated in torch
        warnings.simplefilter("ignore")
        return torch.quantize_per_tensor(torch.zeros(4), 0.1, 0, torch.qint8)


#: name: (the crafted file from the fixture's payload, what the refusal must name)
def _views_of_one_storage(payload, n=20_000):
    base = torch.zeros(1)
    return _craft(payload, extra={"junk": [base[0:0] for _ in range(n)]})


def _renamed_pickle(payload, decoy):
    """The payload over its opcode limit, its pickle under ``archive/DATA.PKL`` (torch
    finds it ignoring case) beside a small valid pickle named ``decoy``."""
    data = _craft(payload, extra={"junk": [{} for _ in range(5_000)]})
    small = zipfile.ZipFile(io.BytesIO(_craft(payload))).read("archive/data.pkl")
    src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename.endswith("data.pkl"):
                z.writestr("archive/DATA.PKL", body)
                z.writestr(decoy, small)
            else:
                z.writestr(info.filename, body)
    return out.getvalue()


def _extra_entries(payload, body, refs, n=300):
    """``n`` storage entries of ``body`` (about a hundred bytes of file each) and
    a pickle that only their allowance of opcodes would admit: ``refs`` references
    to one empty dict (an opcode per two bytes)."""
    one = {}
    data = _craft(payload, extra={"junk": [one] * refs})
    src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for info in src.infolist():
            z.writestr(info.filename, src.read(info.filename))
        for i in range(n):
            z.writestr(f"archive/data/e{i}", body)
    return out.getvalue()


def _image_spectra_2d(payload):
    meta = json.loads(payload["header"])
    key = meta["attributes"]["image_spectra_"]["__list__"][-1]["__tensor__"]
    return _craft(payload, tensors=_tensors_with(payload, key,
                                                 torch.zeros(2, 2, dtype=torch.float64)))


def _zip_comment(raw):
    """``raw`` with a comment after its end record (its length in the record)."""
    return raw[:-2] + (8).to_bytes(2, "little") + b"comment!"


def _second_directory(payload):
    """A valid file with a copy of its central directory after it: the end records
    still state the first, which no longer ends where they begin (Python's reader
    takes the copy, torch's the first: the checks saw other entries than torch
    loaded, a 303 kB file unpacked to 574 MB)."""
    raw = _craft(payload)
    at = len(raw) - 22 - 20 - 56                       # the zip64 end record
    size, offset = struct.unpack_from("<QQ", raw, at + 40)
    out = bytearray(raw[:at] + raw[offset:offset + size] + raw[at:])
    struct.pack_into("<Q", out, len(out) - 22 - 20 + 8, at + size)  # the locator
    return bytes(out)


CRAFTED = {
    # a zip laid out as torch writes it, which both readers see alike (found by a
    # re-audit of load): torch reads anything not a zip from byte 0 as a pickle of
    # its legacy format, with no opcode counted
    "legacy_pickle_before_the_zip": (lambda p: b"\x80\x02}." + _craft(p),
                                     "not a zip from its first byte"),
    "second_central_directory": (_second_directory, "another directory than"),
    "bytes_after_the_end_record": (lambda p: _craft(p) + b"\0" * 64,
                                   "no zip end record at its end"),
    "zip_comment": (lambda p: _zip_comment(_craft(p)), "no zip end record at its end"),
    # the pickle torch loads, not another, is the one counted; an empty storage
    # buys no opcodes; sets are in no payload; tiny tensors buy opcodes by bytes
    "pickle_in_another_case_beside_a_decoy": (
        lambda p: _renamed_pickle(p, "archive/xdata.pkl"), "2 pickles"),
    "two_entry_names_equal_but_for_case": (
        lambda p: _renamed_pickle(p, "archive/data.pkl"), "two zip entries of one name"),
    # within the bytes' allowance, beyond that of the non-empty entries
    "empty_entries_buy_no_opcodes": (lambda p: _extra_entries(p, b"", 5_000),
                                     "pickle opcodes"),
    # within the non-empty entries' allowance, beyond that of the bytes
    "one_byte_entries_buy_opcodes_by_bytes": (lambda p: _extra_entries(p, b"x", 12_000),
                                              "pickle opcodes"),
    "sets": (lambda p: _rezip(_craft(p), "data.pkl",
                              lambda body: b"\x80\x02" + b"\x8f" * 10 + b"."),
             "builds sets"),
    # readings that index the network or the sweep, and the training record
    "bottleneck_layer_0": (lambda p: _craft(p, edit=_set(
        ["attributes", "bottleneck_layer_"], 0)), "bottleneck_layer_=0 .*from 1 to 2"),
    "bottleneck_layer_negative": (lambda p: _craft(p, edit=_set(
        ["attributes", "bottleneck_layer_"], -1)), "bottleneck_layer_=-1"),
    "bottleneck_layer_past_the_last": (lambda p: _craft(p, edit=_set(
        ["attributes", "bottleneck_layer_"], 3)), "bottleneck_layer_=3"),
    "layer_ranks_of_another_length": (lambda p: _craft(p, edit=_set(
        ["attributes", "layer_ranks_"], {"__tensor__": "t999"}), tensors=_tensors_with(
        p, "t999", torch.tensor([1, 1]))), "layer_ranks_=.*3 integer ranks"),
    "image_spectra_2d": (_image_spectra_2d, "image_spectra_=.*3 spectra"),
    "train_time_string": (lambda p: _craft(p, edit=_set(["attributes", "train_time_"],
                                                        "x")), "train_time_='x'"),
    "rank_history_not_records": (lambda p: _craft(p, edit=_set(
        ["attributes", "rank_history_"], {"__dict__": {"n_iter": 5}})), "rank_history_="),
    # private state save never writes: set from a file it broke partial_fit later
    "private_stepper": (lambda p: _craft(p, edit=_set(["attributes", "_stepper"], 3)),
                        "_stepper.*not a fitted attribute"),
    # just over the opcode limit (a real payload takes about 31 per tensor)
    "opcodes_just_over_the_limit": (lambda p: _craft(p, extra={"junk": [
        {} for _ in range(32 * len(p["tensors"]) + 256)]}), "pickle opcodes"),
    "garbage_pickle": (lambda p: _rezip(_craft(p), "data.pkl",
                                        lambda body: b"\xff" * len(body)),
                       "pickle is malformed"),
    "no_pickle": (lambda p: _rezip(_craft(p), "data.pkl", lambda body: body,
                                   rename="archive/other.bin"), "0 pickles"),
    # each unpickled view costs about 2 kB for some 60 bytes of file
    "many_views_of_one_storage": (_views_of_one_storage, "calls for .* stored tensors"),
    "many_empty_containers": (lambda p: _craft(
        p, extra={"junk": [{} for _ in range(200_000)]}), "pickle opcodes"),
    "json_container_bomb": (lambda p: _craft(
        p, header='{"format": "skrank-estimator", "version": 1, "x": ['
        + "{}," * 1_000_000 + "{}]}"), "arrays and objects"),
    # sizes, shapes, strides and architecture beyond the file
    "expand_view": (lambda p: _craft(p, tensors=_tensors_with(
        p, "t0", torch.zeros(1).expand(250_000_000))), "t0.*1.0 GB over 4 bytes.*view"),
    "storage_40gb": (lambda p: _declaring(p, _GB40, shape=False),
                     "t0.*storage declares 40.0 GB"),
    "shape_40gb": (lambda p: _declaring(p, _GB40, storage=False), "declare 40.0 GB"),
    "storage_and_shape_40gb": (lambda p: _declaring(p, _GB40), "declare 40.0 GB"),
    "zip_entry_claims_4gb": (lambda p: _claiming(_craft(p), "data/0", 0xFFFFFFF0),
                             "zip entries claim 4.3 GB"),
    "width_12000": (lambda p: _craft(p, edit=_set(["params", "width"], 12000)),
                    "width=12000"),
    "width_50000": (lambda p: _craft(p, edit=_set(["params", "width"], 50000)),
                    "width=50000"),
    "width_10e12": (lambda p: _craft(p, edit=_set(["params", "width"], 10**12)),
                    "no network has .*width=1000000000000"),
    "n_outputs_10e30": (lambda p: _craft(p, edit=_set(["architecture", "n_outputs"],
                                                      10**30)), "no network has"),
    "network_tensor_unknown": (lambda p: _craft(p, edit=_set(["architecture", "prefix"],
                                                             "t")), "not part of"),
    "array_shape_10e30": (lambda p: _craft(p, edit=_set(
        ["attributes", "feature_names_in_"],
        {"__array__": [], "shape": [10**30, 0], "dtype": "<U1"})), "shape"),
    "depth_200000": (lambda p: _craft(p, edit=_set(["params", "depth"], 200000)),
                     "depth=200000"),
    "wide_string_dtype": (lambda p: _craft(p, edit=_set(
        ["attributes", "feature_names_in_"],
        {"__array__": ["a"], "shape": [1], "dtype": "U250000000"})), "U250000000"),
    "skewed_string_array": (lambda p: _craft(p, edit=_skewed_strings), "string arrays"),
    "header_too_long": (lambda p: _craft(p, edit=_set(
        ["attributes", "pad_"], "x" * MAX_HEADER_CHARS)), "characters, more than"),
    "n_features_without_network": (lambda p: _craft(p, edit=_no_network),
                                   "n_features_in_=1000000000000"),
    "tensor_used_twice": (lambda p: _craft(p, edit=_set(
        ["attributes", "loss_curve_"], {"__tensor__": "t0"})), "'t0' is used twice"),
    "network_used_twice": (lambda p: _craft(p, edit=_twin_network), "used twice"),
    # malformed headers
    "header_list": (lambda p: _craft(p, header="[]"), "JSON array"),
    "header_number": (lambda p: _craft(p, header="3"), "JSON number"),
    "header_null": (lambda p: _craft(p, header="null"), "JSON null"),
    "header_deep": (lambda p: _craft(p, header="[" * 100_000 + "]" * 100_000),
                    "nests deeper"),
    "int_of_5000_digits": (lambda p: _with_text(p, '"n_features_in_": 3',
                                                '"n_features_in_": ' + "9" * 5000),
                           "not valid JSON"),
    "unknown_field": (lambda p: _craft(p, edit=_set(["extra"], 1)), "fields"),
    "float_with_extra_key": (lambda p: _craft(p, edit=_set(
        ["params", "alpha"], {"__float__": "0.1", "x": 1})), "unexpected encoded value"),
    "version_0": (lambda p: _craft(p, edit=_set(["version"], 0)), "version 0"),
    "version_negative": (lambda p: _craft(p, edit=_set(["version"], -1)), "version -1"),
    "version_true": (lambda p: _craft(p, edit=_set(["version"], True)), "version True"),
    "unknown_param": (lambda p: _craft(p, edit=_set(["params", "evil"], 1)), "evil"),
    # tensors that are not plain dense tensors of a saved dtype
    "tensor_not_tensor": (lambda p: _craft(p, tensors=_tensors_with(p, "t0", [1, 2])),
                          "'t0' is not a plain tensor"),
    "tensor_int_key": (lambda p: _craft(p, tensors={**p["tensors"], 3: torch.zeros(2)}),
                       "entry 3 is not a plain tensor"),
    "tensor_bad_name": (lambda p: _craft(p, tensors={**p["tensors"],
                                                     "t1torch.float32": torch.zeros(2)}),
                        "not a plain tensor under a tensor name"),
    "unreferenced_tensor": (lambda p: _craft(p, tensors={**p["tensors"],
                                                         "t999": torch.zeros(2)}),
                            "'t999'.* not referenced"),
    "parameter": (lambda p: _craft(p, tensors=_tensors_with(
        p, "t0", torch.nn.Parameter(torch.zeros(2)))), "Parameter"),
    "target_scale_inf": (lambda p: _craft(p, edit=_set(
        ["attributes", "target_scale_"], {"__float__": "inf"})),
        "target_scale_=inf, not a positive finite float"),
    "requires_grad": (lambda p: _craft(p, tensors=_tensors_with(
        p, "t0", p["tensors"]["t0"].clone().requires_grad_(True))), "gradients"),
    "strided_last_dimension_of_one": (lambda p: _craft(p, tensors=_tensors_with(
        p, "t0", torch.as_strided(torch.zeros(1, dtype=torch.float64), (1,), (3,)))),
        "t0.*view"),
    "float8": (lambda p: _craft(p, tensors=_tensors_with(
        p, "t0", torch.zeros(2).to(torch.float8_e4m3fn))), "float8"),
    "bfloat16": (lambda p: _craft(p, tensors=_tensors_with(
        p, "t0", torch.zeros(3, dtype=torch.bfloat16))), "bfloat16"),
    "qint8": (lambda p: _craft(p, tensors=_tensors_with(p, "t0", _qint8())),
              "quantized|qint8"),
    "sparse": (lambda p: _craft(p, tensors=_tensors_with(
        p, "t0", torch.eye(3).to_sparse())), "sparse"),
    "meta": (lambda p: _craft(p, tensors=_tensors_with(
        p, "t0", torch.zeros(3, device="meta"))), "meta"),
    # an architecture, a device or fitted attributes that do not fit
    "n_inputs_negative": (lambda p: _craft(p, edit=_set(
        ["architecture", "n_inputs"], -1)), "n_inputs=-1"),
    "dtype_int64": (lambda p: _craft(p, edit=_set(["architecture", "dtype"], "int64")),
                    "'int64' is not float32"),
    "dtype_bool": (lambda p: _craft(p, edit=_set(["architecture", "dtype"], "bool")),
                   "'bool' is not float32"),
    "dtype_float8": (lambda p: _craft(p, edit=_set(["architecture", "dtype"],
                                                   "float8_e4m3fn")), "'float8_e4m3fn'"),
    "device_foo": (lambda p: _craft(p, edit=_set(["attributes", "device_"], "foo")),
                   "device_='foo'"),
    "device_long_index": (lambda p: _craft(p, edit=_set(["attributes", "device_"],
                                                        "cuda:" + "9" * 30)), "device_="),
    "n_features_mismatch": (lambda p: _craft(p, edit=_set(
        ["attributes", "n_features_in_"], 5)), "n_features_in_=5"),
    "attribute_predict": (lambda p: _craft(p, edit=_set(["attributes", "predict"], 1)),
                          "'predict' is not a fitted attribute"),
    "attribute_not_fitted_name": (lambda p: _craft(p, edit=_set(
        ["attributes", "alpha2"], 1)), "'alpha2' is not a fitted attribute"),
    "attribute_module": (lambda p: _craft(p, edit=_set(["attributes", "module_"], 1)),
                         "'module_' is not a fitted attribute"),
    # a name ending in '_' that the class does not document (it loaded and was set)
    "attribute_undocumented": (lambda p: _craft(p, edit=_set(["attributes", "fit_"], "x")),
                               "'fit_' is not a fitted attribute"),
    "attribute_private": (lambda p: _craft(p, edit=_set(["attributes", "_stepper_"], 1)),
                          "'_stepper_' is not a fitted attribute"),
    # a count beyond any int64 loaded where 1e300 was refused
    "n_iter_beyond_int64": (lambda p: _craft(p, edit=_set(["attributes", "n_iter_"],
                                                          2**63)), "n_iter_="),
    # first-layer weights of 1e38 answered the zero row (the data's mean) and
    # overflowed at predict
    "first_layer_1e38": (lambda p: _craft(p, tensors=_tensors_with(
        p, _first_weight(p), torch.full_like(p["tensors"][_first_weight(p)], 1e38))),
        "inconsistent.*overflowed"),
    "missing_bottleneck_layer": (lambda p: _craft(
        p, edit=lambda m: m["attributes"].pop("bottleneck_layer_")), "bottleneck_layer_"),
    "network_without_attributes": (lambda p: _craft(p, edit=_set(["attributes"], {})),
                                   "n_features_in_=None"),
}


@pytest.mark.filterwarnings("ignore:.*quantize_per_tensor:UserWarning")
@pytest.mark.filterwarnings("ignore:TypedStorage is deprecated:UserWarning")
@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_crafted_file_is_refused_with_a_value_error(payload, name):
    make, match = CRAFTED[name]
    _refused(make(payload), match=match)


@pytest.mark.parametrize("edit, extra, match", [
    # refused by its range at load since it was checked; before, by denoise's NaN
    (_set(["attributes", "denoising_gain_"], {"__float__": "nan"}), None,
     "denoising_gain_=nan"),
    # refused by its shape at load since it was checked; before, by the smoke test
    (_set(["attributes", "_rank_components_"], {"__tensor__": "t999"}),
     torch.zeros(2, 5, dtype=torch.float64), "bottleneck_rank_ x width"),
])
def test_a_denoising_autoencoder_file_is_checked_where_its_methods_read(edit, extra, match):
    # the check at load ran predict and transform only: a NaN gain loaded and
    # denoise answered NaN; components of another shape failed in local_dimension
    ae = skrank.BottleneckAutoencoder(depth=3, width=8, max_iter=5, input_noise=0.1,
                                      data_noise=0.1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ae.fit(X)
    buf = io.BytesIO()
    save(ae, buf)
    buf.seek(0)
    ae_payload = torch.load(buf, weights_only=True)
    assert load(io.BytesIO(_craft(ae_payload))).local_dimension(X).shape == (30,)
    tensors = dict(ae_payload["tensors"], **({} if extra is None else {"t999": extra}))
    if extra is not None:  # the replaced tensor would be unreferenced
        old = json.loads(ae_payload["header"])["attributes"]["_rank_components_"]
        tensors.pop(old["__tensor__"])
    _refused(_craft(ae_payload, edit=edit, tensors=tensors), match=match)


def test_the_uncrafted_payload_loads(payload):
    """The crafted files differ from a loadable one only by what each test names."""
    assert load(io.BytesIO(_craft(payload))).predict(X[:2]).shape == (2,)


def _deflated(data):
    """The same zip, its entries deflate-compressed (torch never writes that)."""
    return _rezip(data, "data.pkl", lambda body: body, compression=zipfile.ZIP_DEFLATED)


def _bomb(payload, nbytes):
    """A valid file (valid digest too) whose extra attribute holds ``nbytes`` zeros,
    deflate-compressed: a file about a thousandth the size of what it expands to."""
    meta = json.loads(payload["header"])
    meta["attributes"]["padding_"] = {"__tensor__": "t99"}
    header = json.dumps(meta)
    small = {**payload["tensors"], "t99": torch.zeros(_MARK, dtype=torch.uint8)}
    h = hashlib.sha256(header.encode())
    for key in sorted(small):  # the digest of the large tensor, computed by parts
        t = small[key]
        shape = (nbytes,) if key == "t99" else tuple(t.shape)
        h.update(key.encode() + str(t.dtype).encode() + str(shape).encode())
        if key != "t99":
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        else:
            for start in range(0, nbytes, 2**24):
                h.update(bytes(min(2**24, nbytes - start)))
    buf = io.BytesIO()
    torch.save({"header": header, "tensors": small, "digest": h.hexdigest()}, buf)
    src, out = zipfile.ZipFile(buf), io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename.endswith("data.pkl"):
                body = body.replace(_MARK_OP, _long1(nbytes))
            if len(body) != _MARK:
                z.writestr(info.filename, body)
                continue
            with z.open(info.filename, "w", force_zip64=True) as f:
                for start in range(0, nbytes, 2**24):
                    f.write(bytes(min(2**24, nbytes - start)))
    return out.getvalue()


def test_compressed_file_is_refused(payload):
    _refused(_deflated(_craft(payload)), match="compressed")


def test_deflate_bomb_is_refused(payload):
    data = _bomb(payload, 128 * 2**20)
    assert len(data) < 2**20  # 128 MiB of tensor in under a megabyte
    _refused(data, match="compressed")


def test_zip_bomb_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data/0", b"\0" * 50_000_000)  # ~50 KB on disk
    _refused(out.getvalue(), match="compressed")


def test_unavailable_device_argument_is_a_clear_error(payload):
    data = _craft(payload)
    for device in ("mps", "foo", "cuda:99"):
        with pytest.raises(ValueError, match="supports 'auto', 'cpu'"):
            load(io.BytesIO(data), device=device)
    with pytest.raises(ValueError, match="not a device name"):
        load(io.BytesIO(data), device=3)


def _weight(key, tensor):
    # the network's parameters: an edit of them is consistent with every reading
    # (the readings are checked against each other, not against the network)
    return key.startswith("m") and tensor.is_floating_point()


def test_the_digest_detects_damage_but_a_key_detects_edits(payload, tmp_path):
    from skrank.persistence import _signature

    edited = _craft(payload, tensors={k: v + 1 if _weight(k, v) else v
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
    forged = _craft(payload, tensors={k: v + 1 if _weight(k, v) else v
                                      for k, v in signed["tensors"].items()},
                    header=signed["header"], extra={"hmac": signed["hmac"]})
    _refused(forged, match="HMAC", key="secret")
    _refused(_craft(payload, header=signed["header"], tensors=signed["tensors"],
                    extra={"hmac": 7}), match="hmac must be")
    assert signed["hmac"] == _signature("secret", signed["digest"])
    # the documented limit: the HMAC stripped, an edit passes a keyless load only
    stripped = _craft(payload, header=signed["header"],
                      tensors={k: v + 1 if _weight(k, v) else v
                               for k, v in signed["tensors"].items()})
    load(io.BytesIO(stripped))
    _refused(stripped, match="HMAC", key="secret")


def test_a_key_must_be_nonempty_bytes_or_str(payload, tmp_path):
    est = load(io.BytesIO(_craft(payload)))
    for bad, error in (("", ValueError), (b"", ValueError), (7, TypeError)):
        with pytest.raises(error, match="key must be"):
            save(est, tmp_path / "k.skrank", key=bad)
        with pytest.raises(error, match="key must be"):
            load(io.BytesIO(_craft(payload)), key=bad)
    assert not (tmp_path / "k.skrank").exists()


def test_loaded_arrays_are_c_ordered_and_keep_their_shape(payload):
    est = load(io.BytesIO(_craft(payload)))
    # documented attributes no check reads (a file may set no other)
    est.jacobian_spectra_ = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    est.regularity_ = np.array(2.5)
    buf = io.BytesIO()
    save(est, buf)
    back = load(io.BytesIO(buf.getvalue()))
    assert back.regularity_.shape == () and back.regularity_ == 2.5
    np.testing.assert_array_equal(back.jacobian_spectra_, est.jacobian_spectra_)
    for value in vars(back).values():
        if isinstance(value, np.ndarray):
            assert value.flags.c_contiguous and value.flags.owndata
    assert all(p.is_contiguous() for p in back.module_.parameters())


_MEASURE = r"""
import io, json, resource, sys, time, tracemalloc, warnings
import skrank
warnings.simplefilter("ignore")
valid, paths = sys.argv[1], sys.argv[2:]
skrank.load(valid)  # imports and first-call costs, before the baseline
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for path in paths:
    blob = open(path, "rb").read()
    t = time.perf_counter()
    try:
        skrank.load(io.BytesIO(blob))
        error = None
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
    seconds = time.perf_counter() - t
    tracemalloc.start()
    try:
        skrank.load(io.BytesIO(blob))
    except Exception:
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
    print(json.dumps({"name": path.rsplit("/", 1)[-1], "bytes": len(blob),
                      "seconds": seconds, "traced_mb": peak / 2**20,
                      "rss_growth_mb": rss / 1024, "error": error}))
"""


def measure(files, tmp_path, valid):
    """Each file loaded in a fresh process: time, peak traced (Python and numpy)
    memory, and growth of the process's peak RSS (torch's allocations included)
    since a valid file was loaded."""
    paths = []
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        paths.append(str(path))
    (tmp_path / "valid.skrank").write_bytes(valid)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", _MEASURE, str(tmp_path / "valid.skrank"),
                          *paths], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_crafted_files_cost_little_memory_and_time(payload, tmp_path):
    """Every crafted file refused with a ValueError within a second, its peak
    memory less than 50 MB above that of loading a valid file."""
    files = {name: make(payload) for name, (make, _) in sorted(CRAFTED.items())}
    files["deflated"] = _deflated(_craft(payload))
    files["deflate_bomb_128mb"] = _bomb(payload, 128 * 2**20)
    rows = measure(files, tmp_path, _craft(payload))
    assert [r["name"] for r in rows] == list(files)
    for r in rows:
        assert r["error"] is not None and r["error"].startswith("ValueError: Cannot load"), r
        assert r["seconds"] < 1.0, r
        assert r["traced_mb"] < 50, r
        assert r["rss_growth_mb"] < 50, r


# ---- boundaries a mutation run found untested ----------------------------------
def test_zip_entries_claiming_one_byte_more_than_the_file_are_refused(payload):
    data = _craft(payload)
    _refused(_claiming(data, "data/0", len(data) + 1), match="zip entries claim")


def test_a_string_dtype_wider_than_its_items_is_refused(payload):
    _refused(_craft(payload, edit=_set(["attributes", "feature_names_in_"],
             {"__array__": ["a", "b"], "shape": [2], "dtype": "<U2"})), match="string dtype")


def test_a_display_hook_is_not_a_fitted_attribute(payload):
    _refused(_craft(payload, edit=_set(["attributes", "_repr_mimebundle_"], "x")),
             match="not a fitted attribute")


def test_the_next_format_version_is_refused(payload):
    from skrank.persistence import FORMAT_VERSION
    _refused(_craft(payload, edit=_set(["version"], FORMAT_VERSION + 1)), match="newer")


def test_nesting_one_level_past_the_limit_is_refused(payload):
    from skrank.persistence import MAX_JSON_DEPTH
    deep = {}
    node = deep
    for _ in range(MAX_JSON_DEPTH - 1):  # deep: MAX levels, +1 for the header = MAX + 1
        node["a"] = {}
        node = node["a"]
    _refused(_craft(payload, edit=_set(["extra"], deep)), match="nests deeper")


def _same_digest(payload, key, change):
    tensors = dict(payload["tensors"])
    tensors[key] = change(tensors[key])
    out = {"header": payload["header"], "tensors": tensors, "digest": payload["digest"]}
    buf = io.BytesIO()
    torch.save(out, buf)
    return buf.getvalue()


def test_the_digest_covers_each_tensors_dtype(payload):
    key = next(k for k, t in payload["tensors"].items()
               if k.startswith("m") and t.dtype == torch.float32)
    _refused(_same_digest(payload, key, lambda t: t.view(torch.int32)), match="digest")


def test_the_digest_covers_each_tensors_shape(payload):
    key = next(k for k, t in payload["tensors"].items()
               if k.startswith("t") and t.dim() == 1 and t.numel() > 1)
    _refused(_same_digest(payload, key, lambda t: t.reshape(1, -1).clone()), match="digest")


def test_an_unavailable_device_is_refused_for_an_unfitted_estimator_too(tmp_path):
    path = tmp_path / "u.skrank"
    save(skrank.DeepL2Regressor(), path)
    with pytest.raises(ValueError):
        load(path, device="cuda:99")


def test_an_escaped_quote_does_not_hide_a_container_bomb(payload):
    # the depth check ended a string at its escaped quote: everything after one
    # "\"" escaped the container limit and reached json.loads
    header = payload["header"][:-1] + ', "q": "\\"", "x": [' + "{}," * 100_000 + "{}]}"
    _refused(_craft(payload, header=header), match="arrays and objects")


_SMALL = dict(depth=3, width=8, max_iter=5, random_state=0)


def _payload_of(est):
    buf = io.BytesIO()
    save(est, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


@pytest.fixture(scope="module")
def fitted():
    """Payloads of small fitted estimators of every kind, by name."""
    labels = np.where(Y > np.median(Y), 1, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimators = {
            "classifier": skrank.DeepL2Classifier(**_SMALL).fit(X, labels),
            "classifier3": skrank.DeepL2Classifier(**_SMALL).fit(X, np.arange(30) % 3),
            "regressor": skrank.DeepL2Regressor(**_SMALL).fit(X, Y),
            "regressor2": skrank.DeepL2Regressor(**_SMALL).fit(X, np.c_[Y, -Y]),
            "resnet": skrank.ResNetL2Regressor(**_SMALL).fit(X, Y),
            "autoencoder": skrank.BottleneckAutoencoder(**_SMALL).fit(X),
            "denoising": skrank.BottleneckAutoencoder(
                **_SMALL, input_noise=0.1, data_noise=0.1).fit(X),
            "selector": skrank.RankAwareDepthSelector(
                skrank.DeepL2Classifier(width=8, max_iter=5, random_state=0),
                depths=(2, 3), cv=2).fit(X, labels),
        }
    return {name: _payload_of(est) for name, est in estimators.items()}


def _attribute_array(name, array):
    """An edit of a payload: fitted attribute ``name`` (a tensor) set to ``array``."""
    def craft(payload):
        key = json.loads(payload["header"])["attributes"][name]["__tensor__"]
        return _craft(payload, tensors=_tensors_with(payload, key,
                                                     torch.from_numpy(np.asarray(array))))
    return craft


def _labels_as_strings(items, dtype):
    """An edit of a payload: ``classes_`` (a tensor) set to an array of strings or
    objects, as the encoder writes them."""
    def craft(payload):
        meta = json.loads(payload["header"])
        tensors = dict(payload["tensors"])
        tensors.pop(meta["attributes"]["classes_"]["__tensor__"])
        return _craft(payload, tensors=tensors, edit=_set(
            ["attributes", "classes_"],
            {"__array__": items, "shape": [len(items)], "dtype": dtype}))
    return craft


def _attribute(name, value):
    return lambda payload: _craft(payload, edit=_set(["attributes", name], value))


def _edit(edit):
    return lambda payload: _craft(payload, edit=edit)


def _attribute_path(path, value):
    return lambda payload: _craft(payload, edit=_set(path, value))


def _without(name):
    return _edit(lambda meta: meta["attributes"].pop(name))


def _swapped(a, b):
    """Two fitted attributes' tensors exchanged."""
    def edit(meta):
        A, B = meta["attributes"][a], meta["attributes"][b]
        A["__tensor__"], B["__tensor__"] = B["__tensor__"], A["__tensor__"]
    return _edit(edit)


def _best_row_moved(payload):
    """A selector whose choice points at the other row of its sweep, consistently,
    while its best_estimator_ is the network of the row chosen."""
    sel = load(io.BytesIO(_craft(payload)))
    i = 1 - sel.best_index_

    def edit(meta):
        meta["attributes"].update(
            best_index_=i, best_depth_=int(sel.depth_results_["depth"][i]),
            best_rank_=int(sel.depth_results_["bottleneck_rank"][i]))
    return _craft(payload, edit=edit)


def _as_autoencoder(payload):
    """A regressor's file relabelled as an autoencoder's (whose parameters are a
    regressor's, but early_stopping, a boolean there)."""
    def edit(meta):
        meta["class"] = "BottleneckAutoencoder"
        meta["params"]["early_stopping"] = False
        # without the regressor's own attributes, which the autoencoder refuses
        for name in ("n_outputs_", "early_stopping_"):
            meta["attributes"].pop(name, None)
    return _craft(payload, edit=edit)


_BAD_LABELS = "classes_=.* is not what fit leaves"
#: name: (the fitted payload, its edit, what the refusal must name)
INCONSISTENT = {
    # predict indexes classes_ by the argmax of the logits: an IndexError, NaN
    # labels or labels the network never predicts, after the file had loaded
    "one_label": ("classifier", _attribute_array("classes_", np.arange(1)), _BAD_LABELS),
    "labels_2d": ("classifier", _attribute_array("classes_", np.array([[0, 1]])),
                  _BAD_LABELS),
    "label_nan": ("classifier", _attribute_array("classes_", np.array([0.0, np.nan])),
                  _BAD_LABELS),
    "label_inf": ("classifier", _attribute_array("classes_", np.array([0.0, np.inf])),
                  _BAD_LABELS),
    "labels_repeated": ("classifier", _attribute_array("classes_", np.array([1, 1])),
                        _BAD_LABELS),
    "labels_unsorted": ("classifier", _attribute_array("classes_", np.array([1, 0])),
                        _BAD_LABELS),
    "string_labels_unsorted": ("classifier", _labels_as_strings(["b", "a"], "<U1"),
                               _BAD_LABELS),
    "labels_that_do_not_compare": ("classifier", _labels_as_strings(["b", 1], "object"),
                                   _BAD_LABELS),
    "five_labels_two_logits": ("classifier", _attribute_array("classes_", np.arange(5)),
                               "5 labels but the network has 2 outputs"),
    "two_labels_three_logits": ("classifier3", _attribute_array("classes_", np.arange(2)),
                                "2 labels but the network has 3 outputs"),
    "classifier_n_outputs": ("classifier", _attribute("n_outputs_", 7), "n_outputs_=7"),
    "regressor_n_outputs": ("regressor", _attribute("n_outputs_", 7), "n_outputs_=7"),
    # predict ravels by _y_ndim: two outputs came back as one column of 2n rows
    "y_ndim_1_two_outputs": ("regressor2", _attribute("_y_ndim", 1), "_y_ndim=1"),
    "y_ndim_3": ("regressor", _attribute("_y_ndim", 3), "_y_ndim=3"),
    # get_feature_names_out made n_components_ names: 10**12 hung, filling memory
    "n_components_10e12": ("autoencoder", _attribute("n_components_", 10**12),
                           "n_components_=1000000000000 but bottleneck_components_"),
    "n_components_99": ("autoencoder", _attribute("n_components_", 99), "n_components_=99"),
    "n_components_0": ("autoencoder", _attribute("n_components_", 0), "n_components_=0"),
    "regressor_n_components": ("regressor", _attribute("n_components_", 99),
                               "n_components_=99"),
    "resnet_n_components": ("resnet", _attribute("n_components_", 99), "n_components_=99"),
    # denoising_risk and score squared the gain: OverflowError after loading
    "denoising_gain_1e300": ("denoising", _attribute("denoising_gain_",
                                                     {"__float__": "1e300"}),
                             "denoising_gain_=1e\\+300"),
    "denoising_gain_over_the_bound": ("denoising", _attribute(
        "denoising_gain_", {"__float__": "1.0000000000000002e100"}), "denoising_gain_="),
    "denoising_gain_negative": ("denoising", _attribute("denoising_gain_",
                                                        {"__float__": "-1.0"}),
                                "denoising_gain_=-1.0"),
    # readings nothing indexes, but which a loaded file vouches for
    "bottleneck_rank_negative": ("regressor", _attribute("bottleneck_rank_", -1),
                                 "bottleneck_rank_=-1 is not what fit leaves"),
    "bottleneck_rank_past_the_widest_layer": ("regressor", _attribute(
        "bottleneck_rank_", 9), "bottleneck_rank_=9 .*widest layer \\(8\\)"),
    "bottleneck_rank_a_float": ("regressor", _attribute("bottleneck_rank_",
                                                        {"__float__": "2.0"}),
                                "bottleneck_rank_=2.0"),
    "jacobian_rank_above_the_bottleneck": ("autoencoder", _attribute(
        "jacobian_rank_", 4), "jacobian_rank_=4 .*to bottleneck_rank_"),
    "local_dimension_past_the_inputs": ("denoising", _attribute("local_dimension_", 4),
                                        "local_dimension_=4"),
    "best_restart_past_the_restarts_run": ("classifier", _attribute("best_restart_", 1),
                                           "best_restart_=1 .*of the 1 restarts run"),
    "n_iter_negative": ("resnet", _attribute("n_iter_", -3), "n_iter_=-3"),
    "denoising_risk_infinite": ("denoising", _attribute("denoising_risk_",
                                                        {"__float__": "inf"}),
                                "denoising_risk_=inf"),
    # a mean of another length broadcast predict to 3 values per row of one output,
    # or to 5 rows for one; names of another count loaded (found by a break-it audit)
    "target_mean_of_three": ("regressor", _attribute_array("target_mean_", np.zeros(3)),
                             "target_mean_ has shape \\(3,\\), not \\(1,\\)"),
    "input_mean_2d": ("regressor", _attribute_array("input_mean_", np.zeros((5, 3))),
                      "input_mean_ has shape"),
    "autoencoder_target_mean": ("autoencoder", _attribute_array("target_mean_", np.zeros(2)),
                                "target_mean_ has shape"),
    "bottleneck_mean_short": ("resnet", _attribute_array("bottleneck_mean_", np.zeros(2)),
                              "bottleneck_mean_ has shape"),
    "input_scale_negative": ("regressor", _attribute("input_scale_", {"__float__": "-1.0"}),
                             "input_scale_=-1.0"),
    "feature_names_of_another_count": ("regressor", _attribute("feature_names_in_", {
        "__array__": ["a", "b"], "shape": [2], "dtype": "object"}), "feature_names_in_"),
    "feature_names_not_strings": ("regressor", _attribute("feature_names_in_", {
        "__array__": [1, 2, 3], "shape": [3], "dtype": "object"}), "feature_names_in_"),
    # reconstruct returned 2 columns for 3 inputs
    "autoencoder_of_two_outputs": ("regressor2", _as_autoencoder, "2 outputs for 3 inputs"),
    # the selector says the labels its refitted classifier predicts
    "selector_labels_not_its_estimators": ("selector", _attribute_array(
        "classes_", np.arange(3)), "best_estimator_ predicts"),
    "selector_labels_unsorted": ("selector", _attribute_array("classes_", np.array([1, 0])),
                                 _BAD_LABELS),
    # the selector's readings point into its sweep and agree with its refitted
    # estimator (a regressor under a classifier's name was a classifier to
    # scikit-learn, predicting floats); scorer_ is never saved (found by an audit)
    "selector_best_index_past_the_sweep": ("selector", _attribute("best_index_", 99),
                                           "best_index_=99 .*of the 2 fitted"),
    "selector_best_depth_not_its_row": ("selector", _attribute("best_depth_", 7),
                                        "best_depth_=7"),
    "selector_best_rank_negative": ("selector", _attribute("best_rank_", -4),
                                    "best_rank_=-4"),
    "selector_scorer_string": ("selector", _attribute("scorer_", "x"), "scorer_='x'"),
    "selector_of_another_estimator_class": ("selector", lambda p: _craft(p, edit=_set(
        ["params", "estimator", "__estimator__", "class"], "DeepL2Regressor")),
        "best_estimator_='DeepL2Classifier'"),
    "selector_refitted_at_another_depth": ("selector", _best_row_moved,
                                           "a network of depth best_depth_ = 3"),
    # local_dimension reads when _denoising_ is truthy; the smoke test read it
    # only when it was True (found by an audit)
    "denoising_flag_not_a_bool": ("denoising", _attribute("_denoising_", 1),
                                  "_denoising_=1"),
    # without them the file loaded and local_dimension, score and denoising_risk
    # failed with an AttributeError (a robustness audit)
    "denoising_flag_missing": ("denoising", _without("_denoising_"), "_denoising_=None"),
    "denoising_gain_missing": ("denoising", _without("denoising_gain_"),
                               "denoising_gain_=None"),
    # strings where fit leaves numbers met arithmetic in the checks: a TypeError
    # escaped load, whose every refusal is a ValueError
    "input_mean_of_strings": ("regressor", _attribute("input_mean_", {
        "__array__": ["a", "b", "c"], "shape": [3], "dtype": "<U1"}), "input_mean_ holds"),
    "spectrum_of_objects": ("regressor", _edit(lambda m: m["attributes"]["image_spectra_"][
        "__list__"].__setitem__(0, {"__array__": ["a", 1], "shape": [2], "dtype": "object"})),
        "image_spectra_ holds"),
    "network_dtype_a_dict": ("regressor", _attribute_path(["architecture", "dtype"], {}),
                             "network dtype {}"),
    # the plots read these: swapped with another attribute, or NaN, a file loaded
    # and the plot failed
    "jacobian_spectra_swapped": ("regressor", _swapped("jacobian_spectra_", "loss_curve_"),
                                 "jacobian_spectra_=.*2-D array of singular values"),
    "representation_spectra_swapped": (
        "regressor", _swapped("representation_spectra_", "nonlinearity_impact_"),
        "representation_spectra_=.*2-D array"),
    "layer_spectra_negative": ("resnet", _edit(lambda m: m["attributes"].__setitem__(
        "layer_spectra_", {"__list__": [{"__float__": "-1.0"}]})), "layer_spectra_="),
    "selector_best_alpha_nan": ("selector", _attribute("best_alpha_", {"__float__": "nan"}),
                                "best_alpha_=nan"),
    "selector_column_short": ("selector", _edit(lambda m: m["attributes"]["depth_results_"][
        "__dict__"].__setitem__("std_fit_time", {"__list__": []})), "columns of 2 rows"),
}


def test_the_fitted_payloads_load(fitted):
    """The inconsistent files differ from loadable ones only by their edit."""
    for payload in fitted.values():
        load(io.BytesIO(_craft(payload)))


@pytest.mark.parametrize("name", sorted(INCONSISTENT))
def test_an_inconsistent_fitted_state_is_refused_at_load(fitted, name):
    source, craft, match = INCONSISTENT[name]
    _refused(craft(fitted[source]), match=match)


def test_the_largest_denoising_gain_allowed_loads(fitted):
    from skrank.persistence import _MAX_DENOISING_GAIN

    data = _attribute("denoising_gain_", {"__float__": repr(_MAX_DENOISING_GAIN)})(
        fitted["denoising"])
    est = load(io.BytesIO(data))
    assert est.denoising_gain_ == _MAX_DENOISING_GAIN
    assert np.isfinite(est.denoising_risk(X))


def test_a_network_overflowing_on_typical_rows_is_refused_at_load():
    # on centred data the smoke test's row of zeros is the data's mean, where
    # first-layer weights of 1e38 still answer (0 times 1e38); a typical row,
    # one scale from the mean, overflows as predict on the data did
    Xc = X - X.mean(axis=0)
    est = skrank.DeepL2Regressor(depth=3, width=8, max_iter=5, random_state=0,
                                 bias=False).fit(Xc, Y)
    buf = io.BytesIO()
    save(est, buf)
    buf.seek(0)
    payload = torch.load(buf, weights_only=True)
    first = _first_weight(payload)
    crafted = _craft(payload, tensors=_tensors_with(
        payload, first, torch.full_like(payload["tensors"][first], 1e38)))
    _refused(crafted, match="inconsistent.*overflowed")
