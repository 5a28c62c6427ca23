import io
import json
import os
import pickle
import re
import struct
import warnings
import zipfile

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, clone

import skrank
from skrank import load, save

from ._estimators import all_estimators, data_for, outputs

ESTIMATORS = all_estimators()
IDS = [type(e).__name__ for e in ESTIMATORS]


def _fitted(est):
    X, y = data_for(est)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y) if y is not None else est.fit(X), X


def _same_params(a, b):
    pa, pb = a.get_params(deep=False), b.get_params(deep=False)
    assert pa.keys() == pb.keys()
    for k in pa:
        if isinstance(pa[k], BaseEstimator):
            _same_params(pa[k], pb[k])
        else:
            assert pa[k] == pb[k], k


def _same_outputs(a, b, X):
    oa, ob = outputs(a, X), outputs(b, X)
    assert oa.keys() == ob.keys() and oa
    for k in oa:
        np.testing.assert_array_equal(oa[k], ob[k], err_msg=k)


def test_every_public_estimator_is_covered():
    assert {"DeepL2Regressor", "DeepL2Classifier", "BottleneckAutoencoder"} <= set(IDS)


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
def test_pickle_and_joblib_round_trips(est, tmp_path):
    est, X = _fitted(est)
    _same_outputs(est, pickle.loads(pickle.dumps(est)), X)
    joblib.dump(est, tmp_path / "m.joblib")
    _same_outputs(est, joblib.load(tmp_path / "m.joblib"), X)


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
def test_save_load_round_trip_is_exact(est, tmp_path):
    est, X = _fitted(est)
    path = tmp_path / "m.skrank"
    save(est, path)
    back = load(path)
    assert type(back) is type(est)
    _same_params(back, est)
    _same_outputs(est, back, X)
    for key, value in vars(est).items():
        if key == "module_":
            continue
        other = getattr(back, key)
        if isinstance(value, BaseEstimator):
            _same_params(other, value)
            if hasattr(value, "n_features_in_"):  # fitted
                _same_outputs(value, other, X)
        elif isinstance(value, np.ndarray):
            np.testing.assert_array_equal(other, value)
            assert other.dtype == value.dtype
        elif isinstance(value, list):
            for a, b in zip(value, other):
                np.testing.assert_array_equal(a, b)
        elif isinstance(value, dict):
            assert value.keys() == other.keys()
        else:
            assert other == value or (value != value and other != other), key


@pytest.mark.parametrize("est", [e for e in ESTIMATORS if "width" in e.get_params()],
                         ids=[i for e, i in zip(ESTIMATORS, IDS) if "width" in e.get_params()])
@pytest.mark.parametrize("change", [{"width": 5}, {"activation": "identity"}])
def test_save_refuses_a_network_the_parameters_no_longer_describe(est, change, tmp_path):
    # load rebuilds the network from the parameters: the file was refused at load
    # (another width), or loaded another function (another activation)
    est, _ = _fitted(clone(est))
    key, value = next(iter(change.items()))
    before = est.get_params()[key]
    est.set_params(**change)
    with pytest.raises(ValueError, match=f"{key} {before!r} vs {value!r}"):
        save(est, tmp_path / "m.skrank")
    assert not (tmp_path / "m.skrank").exists()
    save(est.set_params(**{key: before}), tmp_path / "m.skrank")
    load(tmp_path / "m.skrank")
    # an invalid value is the parameter's error, not one from building a network
    with pytest.raises(ValueError, match="'width' parameter"):
        save(est.set_params(width=0), tmp_path / "w.skrank")


def test_unfitted_estimator_saves_and_loads(tmp_path):
    est = skrank.DeepL2Regressor(depth=5, alpha=0.2)
    save(est, tmp_path / "u.skrank")
    back = load(tmp_path / "u.skrank")
    _same_params(back, est)
    assert not hasattr(back, "module_")


@pytest.mark.parametrize("make", [
    lambda: skrank.DeepL2Regressor(depth=2, width=4, max_iter=3),
    lambda: skrank.RankAwareDepthSelector(skrank.DeepL2Regressor(
        width=4, max_iter=3).set_output(transform="pandas"), depths=[2], cv=2),
], ids=["regressor", "selector"])
def test_unfitted_estimator_with_set_output_round_trips(make, tmp_path):
    # set_output stores a private config: not a fitted state to smoke-test
    pytest.importorskip("pandas")
    est = make().set_output(transform="pandas")
    save(est, tmp_path / "u.skrank")
    back = load(tmp_path / "u.skrank")
    _same_params(back, est)
    assert back._sklearn_output_config == {"transform": "pandas"}
    assert not hasattr(back, "n_features_in_") and not hasattr(back, "module_")
    X = np.random.RandomState(0).randn(20, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back.fit(X, X[:, 0])
    assert type(back.transform(X)).__name__ == "DataFrame"  # the config took effect


def test_file_claiming_a_fitted_attribute_without_a_fitted_state_is_refused():
    # what makes a loaded estimator fitted to check_is_fitted makes load check it
    from skrank.persistence import _digest

    buf = io.BytesIO()
    save(skrank.DeepL2Regressor(), buf)
    payload = torch.load(io.BytesIO(buf.getvalue()), weights_only=True)
    meta = json.loads(payload["header"])
    meta["attributes"]["bottleneck_rank_"] = 2
    header = json.dumps(meta)
    edited = io.BytesIO()
    torch.save({"header": header, "tensors": payload["tensors"],
                "digest": _digest(header, payload["tensors"])}, edited)
    with pytest.raises(ValueError, match="a fitted estimator with n_features_in_=None"):
        load(io.BytesIO(edited.getvalue()))


def test_cuda_model_unpickles_on_cpu_with_warning(tmp_path):
    est, X = _fitted(next(e for e in ESTIMATORS if hasattr(e, "predict")))
    expected = est.predict(X)
    est.device_ = "cuda:0"  # as recorded by a fit on a GPU machine
    blob = pickle.dumps(est)
    if torch.cuda.is_available():
        pytest.skip("remapping only happens on a machine without CUDA")
    with pytest.warns(UserWarning, match="CUDA is not available"):
        back = pickle.loads(blob)
    assert back.device_ == "cpu"
    np.testing.assert_array_equal(back.predict(X), expected)
    save(est, tmp_path / "g.skrank")
    with pytest.warns(UserWarning, match="CUDA is not available"):
        assert load(tmp_path / "g.skrank").device_ == "cpu"


def test_a_model_of_a_missing_gpu_unpickles_on_cpu_saying_which(monkeypatch, tmp_path):
    # on a one-GPU machine a model of 'cuda:1' was said to need CUDA, which is there
    from skrank import _device

    est, X = _fitted(next(e for e in ESTIMATORS if hasattr(e, "predict")))
    est.device_ = "cuda:1"
    blob = pickle.dumps(est)
    save(est, tmp_path / "g.skrank")
    monkeypatch.setattr(_device, "_available", lambda: (1, False))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    for read in (lambda: pickle.loads(blob), lambda: load(tmp_path / "g.skrank")):
        with pytest.warns(UserWarning, match="'cuda:1', but this machine has no such "
                                             "CUDA device; it is loaded on the CPU"):
            assert read().device_ == "cpu"


def test_a_model_of_an_unknown_device_does_not_blame_cuda():
    from skrank._device import device_or_cpu

    with pytest.warns(UserWarning, match="'xpu', but skrank does not know that device"):
        assert device_or_cpu("xpu") == torch.device("cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_fit_pickles_to_cpu_state():
    X, y = data_for(skrank.DeepL2Regressor())
    est = skrank.DeepL2Regressor(depth=3, width=8, max_iter=5, device="cuda").fit(X, y)
    state = est.__getstate__()
    assert next(state["module_"].parameters()).device.type == "cpu"
    np.testing.assert_allclose(pickle.loads(pickle.dumps(est)).predict(X), est.predict(X))


@pytest.fixture
def saved(tmp_path):
    est, X = _fitted(skrank.DeepL2Regressor(depth=3, width=8, max_iter=5, random_state=0))
    path = tmp_path / "m.skrank"
    save(est, path)
    return path


def test_truncated_file_is_refused(saved):
    data = saved.read_bytes()
    for cut in (10, len(data) // 2, len(data) - 7):
        saved.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="truncated, corrupted"):
            load(saved)


def _tensor_records(data):
    """{zip entry: (start, end)} of the bytes of every tensor data record."""
    spans = {}
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            if re.search(r"/data/\d+$", info.filename):
                n, m = struct.unpack_from("<HH", data, info.header_offset + 26)
                start = info.header_offset + 30 + n + m  # after the local header
                spans[info.filename] = (start, start + info.file_size)
    return spans


def test_corrupted_bytes_are_refused(saved):
    """Bytes flipped inside digested content (the header every 7 bytes, each
    tensor's data at its first, middle and last byte) are all refused: the flips
    are placed there, not at random, so none lands in padding torch ignores."""
    data = saved.read_bytes()
    payload = torch.load(saved, weights_only=True)
    header = payload["header"].encode()
    at = data.find(header)
    assert at >= 0 and data.find(header, at + 1) < 0
    spots = [*range(at, at + len(header), 7), at + len(header) - 1]
    tensor_bytes = {t.reshape(-1).view(torch.uint8).numpy().tobytes()
                    for t in payload["tensors"].values()}
    records = _tensor_records(data)
    assert len(records) == len(payload["tensors"]) > 5
    for start, end in records.values():
        assert data[start:end] in tensor_bytes  # digested content, located exactly
        spots += sorted({start, (start + end) // 2, end - 1})
    for i in spots:
        bad = bytearray(data)
        bad[i] ^= 0x5A
        with pytest.raises(ValueError, match="does not match its SHA-256 digest"):
            load(io.BytesIO(bytes(bad)))


def test_an_unknown_zip_version_is_refused_as_damage(saved):
    # one byte of the central directory's 'version needed to extract' made
    # zipfile raise NotImplementedError ("zip file version 9.0") out of load
    data = bytearray(saved.read_bytes())
    at = data.find(b"PK\x01\x02")
    assert at >= 0
    for version in (90, 255):
        data[at + 6] = version
        with pytest.raises(ValueError, match="truncated, corrupted"):
            load(io.BytesIO(bytes(data)))


@pytest.mark.parametrize("target", ["zipfile.ZipFile", "torch.load"])
def test_a_memory_error_while_reading_is_not_called_damage(saved, target, monkeypatch):
    """Corrupted input is a ValueError, but a MemoryError is the machine's (the
    file's sizes are checked before anything is allocated): it passes through."""
    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(target, out_of_memory)
    with pytest.raises(MemoryError):
        load(saved)


def test_edited_content_without_a_new_digest_is_refused(saved):
    payload = torch.load(saved, weights_only=True)
    payload["header"] = payload["header"].replace('"alpha": {"__float__": "0.1"}',
                                                  '"alpha": {"__float__": "0.5"}')
    torch.save(payload, saved)
    with pytest.raises(ValueError, match="digest"):
        load(saved)
    payload = torch.load(saved, weights_only=True)
    key = next(k for k in payload["tensors"] if k.endswith("weight"))
    payload["tensors"][key] = payload["tensors"][key] + 1
    torch.save(payload, saved)
    with pytest.raises(ValueError, match="digest"):
        load(saved)


def test_newer_format_version_is_refused(saved):
    from skrank.persistence import FORMAT_VERSION, _digest

    payload = torch.load(saved, weights_only=True)
    payload["header"] = payload["header"].replace(f'"version": {FORMAT_VERSION}',
                                                  '"version": 99')
    payload["digest"] = _digest(payload["header"], payload["tensors"])
    torch.save(payload, saved)
    with pytest.raises(ValueError, match="newer"):
        load(saved)


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_file_crafted_to_execute_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.skrank"
    torch.save({"header": "{}", "tensors": {}, "digest": _Exploit(marker)}, path)
    with pytest.raises(ValueError, match="weights-only"):
        load(path)
    assert not marker.exists()
    # the same payload as a plain pickle
    path.write_bytes(pickle.dumps(_Exploit(marker)))
    with pytest.raises(ValueError):
        load(path)
    assert not marker.exists()


def test_save_rejects_non_skrank_objects(tmp_path):
    from sklearn.linear_model import Ridge

    with pytest.raises(TypeError, match="skrank estimator"):
        save(Ridge(), tmp_path / "r.skrank")
    with pytest.raises(ValueError):
        load(io.BytesIO(b"not a model"))


def test_a_selector_whose_estimator_changed_since_fit_is_not_saved(tmp_path):
    # load checks the refitted estimator against the selector's estimator: save
    # wrote such a file, which load then refused (found by a re-audit of load)
    X = np.random.RandomState(0).rand(40, 3)
    sel = skrank.RankAwareDepthSelector(
        skrank.DeepL2Regressor(width=8, max_iter=10, random_state=0), depths=[2, 3], cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel.fit(X, X.sum(1))
    sel.set_params(estimator=skrank.ResNetL2Regressor())
    with pytest.raises(ValueError, match="estimator is now a ResNetL2Regressor"):
        save(sel, tmp_path / "s.skrank")
    assert not (tmp_path / "s.skrank").exists()
    sel.set_params(estimator=skrank.DeepL2Regressor(width=8))
    save(sel, tmp_path / "s.skrank")
    np.testing.assert_array_equal(load(tmp_path / "s.skrank").predict(X), sel.predict(X))


def test_selector_without_refit_round_trips(tmp_path):
    X = np.random.RandomState(0).rand(40, 3)
    sel = skrank.RankAwareDepthSelector(
        skrank.DeepL2Regressor(width=8, max_iter=10, random_state=0), depths=[2, 3],
        cv=2, refit=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel.fit(X, X.sum(1))
    save(sel, tmp_path / "s.skrank")
    back = load(tmp_path / "s.skrank")
    assert back.best_depth_ == sel.best_depth_
    np.testing.assert_array_equal(back.depth_results_["rank_per_fold"],
                                  sel.depth_results_["rank_per_fold"])


def test_selector_with_a_scoring_round_trips(tmp_path):
    # scorer_ (a scikit-learn scorer) is not saved: the loaded selector reads its
    # saved scoring again and scores the same
    X = np.random.RandomState(0).rand(40, 3)
    sel = skrank.RankAwareDepthSelector(
        skrank.DeepL2Regressor(width=8, max_iter=10, random_state=0), depths=[2, 3],
        cv=2, scoring="neg_mean_absolute_error")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel.fit(X, X.sum(1))
        sel.set_params(refit=False, scoring=None).fit(X, X.sum(1))
        assert "scorer_" not in vars(sel)  # a refit=False fit leaves none behind
        sel.set_params(refit=True, scoring="neg_mean_absolute_error").fit(X, X.sum(1))
    save(sel, tmp_path / "s.skrank")
    back = load(tmp_path / "s.skrank")
    assert back.score(X, X.sum(1)) == sel.score(X, X.sum(1)) < 0


# -- random_state instances, paths, keys --------------------------------------------

def _same_random_state(a, b):
    assert isinstance(b, np.random.RandomState) and b is not a
    sa, sb = a.get_state(), b.get_state()
    assert sa[0] == sb[0] and sa[2:] == sb[2:]
    np.testing.assert_array_equal(sa[1], sb[1])


def test_random_state_instance_round_trips(tmp_path):
    X = np.random.RandomState(0).randn(40, 3)
    rng = np.random.RandomState(0)
    est = skrank.DeepL2Regressor(depth=3, width=8, max_iter=5, random_state=rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, X[:, 0])
    rng.standard_normal()  # an odd count of normals: a cached Gaussian to keep
    save(est, tmp_path / "m.skrank")
    back = load(tmp_path / "m.skrank")
    _same_random_state(rng, back.random_state)
    _same_outputs(est, back, X)
    np.testing.assert_array_equal(back.random_state.standard_normal(3),
                                  rng.standard_normal(3))
    # nested in a selector's estimator, unfitted
    sel = skrank.RankAwareDepthSelector(skrank.DeepL2Regressor(
        random_state=np.random.RandomState(1)))
    save(sel, tmp_path / "s.skrank")
    back = load(tmp_path / "s.skrank")
    _same_random_state(sel.estimator.random_state, back.estimator.random_state)


def test_random_state_over_another_bit_generator_says_what_to_do(tmp_path):
    est = skrank.DeepL2Regressor(random_state=np.random.RandomState(np.random.PCG64(0)))
    with pytest.raises(TypeError, match="set random_state to an int"):
        save(est, tmp_path / "m.skrank")


def _resaved(data, edit=None, tensors=None):
    """The file ``data`` with its header edited and a recomputed digest."""
    from skrank.persistence import _digest

    payload = torch.load(io.BytesIO(data), weights_only=True)
    meta = json.loads(payload["header"])
    if edit is not None:
        edit(meta["params"]["random_state"]["__random_state__"])
    header = json.dumps(meta)
    tensors = {**payload["tensors"], **(tensors or {})}
    buf = io.BytesIO()
    torch.save({"header": header, "tensors": tensors,
                "digest": _digest(header, tensors)}, buf)
    return buf.getvalue()


@pytest.mark.parametrize("edit, tensors", [
    (lambda s: s.update(pos=625), None),
    (lambda s: s.update(pos=True), None),
    (lambda s: s.update(has_gauss=2), None),
    (lambda s: s.update(cached_gaussian={"__float__": "nan"}), None),
    (lambda s: s.update(cached_gaussian=0.5), None),
    (lambda s: s.update(extra=1), None),
    (lambda s: s.pop("keys"), None),
    (lambda s: s.update(keys={"__tensor__": "t99"}), None),
    (None, {"t0": torch.zeros(623, dtype=torch.uint32)}),
    (None, {"t0": torch.zeros(624, dtype=torch.int64)}),
])
def test_crafted_random_state_is_refused(edit, tensors):
    buf = io.BytesIO()
    save(skrank.DeepL2Regressor(random_state=np.random.RandomState(0)), buf)
    load(io.BytesIO(_resaved(buf.getvalue())))  # unedited: loads
    with pytest.raises(ValueError, match="Cannot load.*(random state|missing tensor)"):
        load(io.BytesIO(_resaved(buf.getvalue(), edit, tensors)))


def test_unwritable_path_is_an_oserror_naming_it(tmp_path):
    est = skrank.DeepL2Regressor()
    with pytest.raises(IsADirectoryError) as info:
        save(est, tmp_path)
    assert info.value.filename == str(tmp_path)
    missing = tmp_path / "no such dir" / "m.skrank"
    with pytest.raises(FileNotFoundError) as info:
        save(est, missing)
    assert info.value.filename == str(missing)
    save(est, str(tmp_path / "m.skrank"))  # a str path still works
    _same_params(load(str(tmp_path / "m.skrank")), est)


@pytest.mark.parametrize("key", ["", b"", bytearray()])
def test_empty_key_is_a_value_error_naming_what_was_passed(key, tmp_path):
    est = skrank.DeepL2Regressor()
    kind = type(key).__name__
    with pytest.raises(ValueError, match=f"an empty {kind}"):
        save(est, tmp_path / "m.skrank", key=key)
    assert not (tmp_path / "m.skrank").exists()
    save(est, tmp_path / "m.skrank")
    with pytest.raises(ValueError, match=f"an empty {kind}"):
        load(tmp_path / "m.skrank", key=key)
    with pytest.raises(TypeError, match="got int"):
        save(est, tmp_path / "m.skrank", key=7)


@pytest.mark.parametrize("source", [None, 3])
def test_load_names_what_it_reads(source):
    with pytest.raises(TypeError, match="path or a binary file object"):
        load(source)


def test_readings_a_fit_leaves_load():
    """What ``load`` checks of the readings, legitimate fits pass: Stein's risk
    estimate below 0 (``data_noise`` above the data's own noise), and a kept restart
    past an ``n_init`` set after the fit."""
    rng = np.random.RandomState(0)
    t = rng.rand(300)
    X = np.c_[np.cos(3 * t), np.sin(3 * t), t, 2 * t, -t, t ** 2] + 0.01 * rng.randn(300, 6)
    ae = skrank.BottleneckAutoencoder(data_noise=0.1, input_noise=0.1, width=16, depth=4,
                                      max_iter=60, random_state=0).fit(X)
    assert ae.denoising_risk_ < 0
    buf = io.BytesIO()
    save(ae, buf)
    buf.seek(0)
    assert load(buf).denoising_risk_ == ae.denoising_risk_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = skrank.DeepL2Regressor(depth=3, width=8, max_iter=5, n_init=3,
                                     random_state=0).fit(X[:, :3], X[:, 3])
    reg.best_restart_ = 2  # whichever restart won, an index of the three run
    reg.set_params(n_init=1)
    buf = io.BytesIO()
    save(reg, buf)
    buf.seek(0)
    assert load(buf).best_restart_ == 2


_SMALL = dict(depth=3, width=8, max_iter=20, random_state=0)


@pytest.mark.parametrize("make, data", [
    (lambda: skrank.DeepL2Regressor(**_SMALL, n_init=2, track_rank_every=5), "multi"),
    (lambda: skrank.DeepL2Regressor(**_SMALL, early_stopping=True), "single"),
    (lambda: skrank.DeepL2Classifier(**_SMALL, early_stopping=True, n_init=2), "labels"),
    (lambda: skrank.BottleneckAutoencoder(**_SMALL, input_noise=0.1, data_noise=0.1),
     None),
    (lambda: skrank.BottleneckAutoencoder(**_SMALL, input_noise="auto"), None),
    (lambda: skrank.ResNetL2Regressor(**_SMALL), "multi"),
    (lambda: skrank.RankAwareDepthSelector(skrank.DeepL2Regressor(**_SMALL),
                                           depths=(2, 3), cv=2), "multi"),
])
def test_every_fitted_attribute_is_documented_so_a_file_may_set_it(make, data):
    # load refuses any attribute the class's docstring does not list (a crafted
    # 'fit_' was set on the estimator): a fitted one missing there would make the
    # estimator's own files unloadable
    from skrank.persistence import _PRIVATE_FITTED, _documented_attributes

    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4))
    y = {"multi": X[:, :2] @ rng.standard_normal((2, 3)), "single": X[:, 0],
         "labels": (X[:, 0] > 0).astype(int), None: None}[data]
    est = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X) if y is None else est.fit(X, y)
    fitted = {k for k in vars(est) if k.endswith("_") or k.startswith("_")}
    fitted -= {k for k in fitted if k.startswith("__")}
    allowed = _documented_attributes(type(est)) | _PRIVATE_FITTED
    assert fitted <= allowed, sorted(fitted - allowed)
    back = load(_saved(est))
    assert {k for k in vars(back) if k in fitted} == fitted


def _saved(est):
    buf = io.BytesIO()
    save(est, buf)
    buf.seek(0)
    return buf


def test_a_device_a_pipe_or_an_endless_stream_is_refused_without_reading_it(tmp_path):
    # /dev/zero (size 0) was read until memory ran out; a pipe with no writer
    # blocked forever: each is loaded in a child process with 2 GiB of address
    # space and a timeout, so that a regression fails here instead of taking the
    # machine's memory or the suite's time
    import subprocess
    import sys

    pytest.importorskip("resource")  # the child's memory limit (Unix)
    paths = [p for p in ("/dev/zero",) if os.path.exists(p)]
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "model.skrank")
        paths.append(str(tmp_path / "model.skrank"))
    # one child for every path (each child's imports take seconds)
    child = ("import resource, sys, skrank\n"
             "resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))\n"
             "for path in sys.argv[1:]:\n"
             "    try:\n        skrank.load(path)\n"
             "    except ValueError as exc:\n        print(path, '->', exc)\n")
    out = subprocess.run([sys.executable, "-c", child, *paths], capture_output=True,
                         text=True, timeout=120)
    told = out.stdout.splitlines()
    assert len(told) == len(paths), (out.stdout, out.stderr[-500:])
    for path, line in zip(paths, told):
        assert line.startswith(path + " ->") and "not a regular file" in line, line

    class Endless(io.RawIOBase):
        def readable(self):
            return True

        def read(self, n=-1):
            if n is None or n < 0:
                raise AssertionError("read the whole of an endless stream")
            return b"\0" * n

    with pytest.raises(ValueError, match="not a zip from its first byte"):
        load(Endless())


def test_tuple_parameters_load_as_tuples():
    # depths=(2, 3) came back as [2, 3]: get_params and repr differed after a load
    sel = skrank.RankAwareDepthSelector(skrank.DeepL2Regressor(**_SMALL), depths=(2, 3),
                                        alphas=(0.1, 0.3), cv=2)
    back = load(_saved(sel))
    assert back.depths == (2, 3) and back.alphas == (0.1, 0.3)
    assert repr(back) == repr(sel)


def test_a_version_1_file_still_loads(tmp_path):
    # version 1 wrote tuples as lists; its files read as they always did
    est = skrank.DeepL2Regressor(**_SMALL).fit(np.eye(5), np.arange(5.0))
    payload = torch.load(_saved(est), weights_only=True)
    meta = json.loads(payload["header"])
    assert meta["version"] == skrank.persistence.FORMAT_VERSION == 3
    meta["version"] = 1
    del meta["requests"]  # version 1 and 2 files have no metadata requests
    header = json.dumps(meta)
    from skrank.persistence import _digest
    buf = io.BytesIO()
    torch.save({**payload, "header": header,
                "digest": _digest(header, payload["tensors"])}, buf)
    buf.seek(0)
    np.testing.assert_array_equal(load(buf).predict(np.eye(5)), est.predict(np.eye(5)))


def _as_version(payload, version, drop=()):
    """``payload``'s file written as format ``version``, without attributes ``drop``."""
    from skrank.persistence import _digest

    meta = json.loads(payload["header"])
    meta["version"] = version
    if version < 3:
        del meta["requests"]  # version 1 and 2 files have no metadata requests
    for name in drop:
        del meta["attributes"][name]
    header = json.dumps(meta)
    buf = io.BytesIO()
    torch.save({**payload, "header": header,
                "digest": _digest(header, payload["tensors"])}, buf)
    buf.seek(0)
    return buf


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_an_autoencoder_file_older_than_its_calibration_still_loads():
    # files of format 1 and 2 may predate denoising_gain_ and _denoising_ (every
    # fit sets them now, and a version-3 file without them is refused); a review
    # found such files refused after that check was added
    X = np.random.RandomState(0).randn(60, 3)
    ae = skrank.BottleneckAutoencoder(**_SMALL, input_noise=0.1, data_noise=0.1).fit(X)
    payload = torch.load(_saved(ae), weights_only=True)
    old = load(_as_version(payload, 2, drop=("denoising_gain_", "denoising_risk_",
                                             "_denoising_")))
    assert old.denoising_gain_ == 1.0 and old.denoising_risk_ is None and old._denoising_
    np.testing.assert_array_equal(old.transform(X), ae.transform(X))
    assert np.isfinite(old.score(X)) and old.local_dimension(X).shape == (60,)
    with pytest.raises(ValueError, match="denoising_gain_=None"):
        load(_as_version(payload, 3, drop=("denoising_gain_",)))


def test_metadata_requests_survive_a_round_trip():
    # set_fit_request's routing was refused as "a Pipeline or another
    # scikit-learn object"; now it is saved, and the loaded one routes as before
    import sklearn
    from sklearn.pipeline import make_pipeline

    X = np.random.RandomState(0).rand(40, 3)
    y, w = X @ np.array([1.0, -2.0, 0.5]), np.r_[np.zeros(20), np.ones(20)]
    with sklearn.config_context(enable_metadata_routing=True):
        est = skrank.DeepL2Regressor(**_SMALL).set_fit_request(sample_weight=True)
        est.set_score_request(sample_weight="w")
        back = load(_saved(est.fit(X, y, sample_weight=w)))
        assert back._get_metadata_request()._serialize() == \
            est._get_metadata_request()._serialize()
        piped = make_pipeline(back).fit(X, y, sample_weight=w)
    # the weights reached the network: the zero-weight rows did not count
    ref = skrank.DeepL2Regressor(**_SMALL).fit(X[20:], y[20:])
    np.testing.assert_allclose(piped.predict(X), ref.predict(X), atol=1e-5)
    assert "_metadata_request" not in vars(load(_saved(skrank.DeepL2Regressor())))


def test_an_unsavable_parameter_is_named():
    # a selector with a splitter as cv was refused as "a Pipeline or another
    # scikit-learn object"
    from sklearn.model_selection import KFold

    for params, name in (({"cv": KFold(3, shuffle=True)}, "cv=KFold"),
                         ({"scoring": len}, "scoring=<built-in function len>")):
        sel = skrank.RankAwareDepthSelector(skrank.DeepL2Regressor(), **params)
        with pytest.raises(TypeError, match="parameter " + re.escape(name) + r".*plain"):
            save(sel, io.BytesIO())


def test_crafted_metadata_requests_are_refused():
    from skrank.persistence import _Refused, _set_requests

    for bad in ({"fit": {"sample_weight": 3}}, {"fit": {"nope": True}},
                {"predict": {"sample_weight": True}}, {"__class__": {}},
                {"fit": {"sample_weight": "not an identifier"}}, ["fit"]):
        with pytest.raises(_Refused):
            _set_requests(skrank.DeepL2Regressor(), bad)


def test_save_to_a_text_stream_is_a_clear_error():
    # torch failed inside its writer: "string argument expected, got 'memoryview'"
    for target in (io.StringIO(), object()):
        with pytest.raises(TypeError, match="binary file object"):
            save(skrank.DeepL2Regressor(), target)


def test_save_to_a_file_not_open_for_writing_is_a_clear_error(tmp_path):
    # torch raised io.UnsupportedOperation from inside its writer
    path = tmp_path / "old.skrank"
    save(skrank.DeepL2Regressor(), path)
    before = path.read_bytes()
    with open(path, "rb") as f, pytest.raises(TypeError, match="opened with 'rb'"):
        save(skrank.DeepL2Regressor(), f)
    assert path.read_bytes() == before

    class Sink(io.RawIOBase):  # write without writable(): taken at its word
        def __init__(self):
            self.data = bytearray()

        def write(self, b):
            self.data += bytes(b)
            return len(b)

    sink = Sink()
    save(skrank.DeepL2Regressor(), sink)
    assert load(io.BytesIO(bytes(sink.data))).get_params() == \
        skrank.DeepL2Regressor().get_params()
    # writable() decides where the stream defines it (gzip's mode is an int, a
    # BufferedReader has none: they failed inside torch)
    import gzip

    packed = tmp_path / "model.gz"
    with gzip.open(packed, "wb") as f:
        save(skrank.DeepL2Regressor(), f)
    for reader in (lambda: gzip.open(packed, "rb"),
                   lambda: io.BufferedReader(io.BytesIO(b""))):
        with reader() as f, pytest.raises(TypeError, match="open for writing"):
            save(skrank.DeepL2Regressor(), f)
    with gzip.open(packed, "rb") as f:
        assert isinstance(load(io.BytesIO(f.read())), skrank.DeepL2Regressor)

    class Tee(io.RawIOBase):  # write bound on the instance
        def __init__(self, f):
            self.write = f.write

    class Duck:  # no writable() at all
        def __init__(self):
            self.out = io.BytesIO()

        def write(self, b):
            return self.out.write(b)

        def flush(self):
            pass

    class Wrap(io.IOBase):  # a read-only file's write through __getattr__
        def __init__(self, f):
            self._f = f

        def __getattr__(self, name):
            return getattr(self._f, name)

    for target in (Tee(io.BytesIO()), Duck()):
        save(skrank.DeepL2Regressor(), target)
    with open(path, "rb") as f, pytest.raises(TypeError, match="open for writing"):
        save(skrank.DeepL2Regressor(), Wrap(f))
    import _pyio

    with _pyio.open(path, "rb") as f, pytest.raises(TypeError, match="open for writing"):
        save(skrank.DeepL2Regressor(), f)


def test_save_refuses_what_load_would_refuse(tmp_path):
    """An attribute fit does not set, or a header over the load limit, is refused
    before anything is written: the file would have replaced a loadable one with
    one load refuses (an audit's ``est.note_ = 'v2'``; a DataFrame of 310,000
    named columns)."""
    X = np.random.RandomState(0).rand(30, 3)
    est = skrank.DeepL2Regressor(**_SMALL).fit(X, X[:, 0])
    path = tmp_path / "model.skrank"
    save(est, path)
    before = path.read_bytes()
    for name in ("note_", "_mine", "note"):
        setattr(est, name, "v2")
        with pytest.raises(ValueError, match=f"attribute '{name}'.*load would refuse"):
            save(est, path)
        delattr(est, name)
        assert path.read_bytes() == before
    est.feature_names_in_ = np.array([f"c{i:07d}" for i in range(
        skrank.persistence.MAX_HEADER_CHARS // 10)], dtype=object)
    with pytest.raises(ValueError, match="characters of JSON, more than load accepts"):
        save(est, path)
    assert path.read_bytes() == before


def test_numpy_bool_parameters_save_as_bools():
    # a grid over np.array([True, False]) sets np.True_, which validation accepts
    est = skrank.DeepL2Regressor(normalize=np.True_, bias=np.False_, verbose=np.False_)
    buf = io.BytesIO()
    save(est, buf)
    buf.seek(0)
    loaded = load(buf)
    assert loaded.normalize is True and loaded.bias is False and loaded.verbose is False


@pytest.mark.slow  # python -OO compiles every imported module anew: about 20 s
def test_files_load_without_docstrings(tmp_path):
    # the fitted attributes a file may set are read from the class docstrings,
    # which python -OO strips: every fitted file was refused there
    import subprocess
    import sys

    X = np.random.RandomState(0).rand(30, 3)
    est = skrank.DeepL2Regressor(**_SMALL).fit(X, X @ np.array([1.0, -2.0, 0.5]))
    path = tmp_path / "model.skrank"
    save(est, path)
    code = ("import sys, numpy as np, skrank\n"
            "est = skrank.load(sys.argv[1])\n"
            "print(est.predict(np.ones((1, 3)))[0])\n")
    out = subprocess.run([sys.executable, "-OO", "-c", code, str(path)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-1000:]
    assert float(out.stdout) == est.predict(np.ones((1, 3)))[0]
