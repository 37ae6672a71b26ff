"""runtime="auto" on the CPU: the runtime measured fastest on this machine, cached per machine, model and batch range
(trackreid.reid.runtime_choice). Most tests use stand-in runners and timings; a few build a real OSNet x0.25."""
from __future__ import annotations

import json
import logging
import random

import numpy as np
import pytest
import torch

from trackreid.reid import runtime_choice as RC

MODEL = {"arch": "osnet_x0_25", "fingerprint": "osnet_x0_25/512/osnet_x0_25_msmt17", "input_size": [256, 128]}
BATCHES = [1, 8, 32]
FRAME = np.kron(np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8),
               np.ones((10, 10, 1), np.uint8))  # 240x320, blocky: crops differ by content rather than noise
BOXES = np.array([[10, 20, 60, 140], [100.5, 30.25, 170, 220], [200, 0, 320, 240]], np.float32)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """The cache at its default place, cache_dir()/runtime_choice.json, with cache_dir() in tmp_path."""
    monkeypatch.setenv("TRACKREID_WEIGHTS", str(tmp_path))
    monkeypatch.delenv("TRACKREID_RUNTIME_CACHE", raising=False)
    assert RC.cache_path() == tmp_path / "runtime_choice.json"
    return tmp_path / "runtime_choice.json"


class Fake:
    """A stand-in runner: (N, 3, H, W) -> (N, 4)."""

    name = "fake"

    def __call__(self, x):
        return torch.zeros(len(x), 4)


def _times(ms_per_crop: dict, spread: float = 0.0) -> dict:
    """time_candidates-shaped timings: {name: [[ms of 3 calls] per batch]} with the given ms per crop per batch."""
    return {n: [[v * b * (1 - spread / 2), v * b, v * b * (1 + spread / 2)] for v, b in zip(vals, BATCHES)]
            for n, vals in ms_per_crop.items()}


@pytest.fixture
def timer(monkeypatch):
    """time_candidates replaced by canned timings (``timer.ms``, default: INT8 fastest), counting its calls."""
    class Timer:
        calls = 0
        ms = {"onnxruntime-fp32": [3.0, 2.0, 2.0], "openvino-fp32": [2.5, 1.5, 1.5], "openvino-int8": [1, .4, .3]}

        def __call__(self, runners, input_size, batches, calls=RC.CALLS):
            Timer.calls += 1
            return _times({n: self.ms[n] for n in runners})

    t = Timer()
    monkeypatch.setattr(RC, "time_candidates", t)
    return t


def _choose(names=("onnxruntime-fp32", "openvino-fp32", "openvino-int8"), model=MODEL, threads=2, streams=2):
    return RC.choose({n: Fake for n in names}, model=model, threads=threads, streams=streams, input_size=(256, 128),
                     batches=BATCHES)


# ---- the key -------------------------------------------------------------------------------------------------------
def test_cache_key_changes_with_the_machine_the_model_and_the_batch_range(monkeypatch):
    cands = ["onnxruntime-fp32", "openvino-fp32"]
    here = RC._digest(RC.cache_key(MODEL, cands, 2, 2, BATCHES))
    assert here == RC._digest(RC.cache_key(dict(MODEL), list(reversed(cands)), 2, 2, list(BATCHES)))  # stable
    cpu = RC.cpu_identity()
    assert cpu["model"] and cpu["cores"] >= 1
    others = [RC.cache_key({**MODEL, "fingerprint": "osnet_x0_25/512/osnet_x0_25_market1501"}, cands, 2, 2, BATCHES),
              RC.cache_key({**MODEL, "input_size": [384, 128]}, cands, 2, 2, BATCHES),
              RC.cache_key({**MODEL, "arch": "osnet_x1_0"}, cands, 2, 2, BATCHES),
              RC.cache_key(MODEL, cands + ["openvino-int8"], 2, 2, BATCHES),
              RC.cache_key(MODEL, cands, 1, 1, BATCHES),
              RC.cache_key(MODEL, cands, 2, 2, [1, 8])]
    for change in ({"model": "AMD EPYC 7B13"}, {"flags": ["avx2", "fma"]}, {"cores": 64}):
        monkeypatch.setattr(RC, "cpu_identity", lambda c=change: {**cpu, **c})
        others.append(RC.cache_key(MODEL, cands, 2, 2, BATCHES))
    monkeypatch.setattr(RC, "cpu_identity", lambda: cpu)
    monkeypatch.setattr(RC, "_version", lambda m: "9.9" if m == "openvino" else None)
    others.append(RC.cache_key(MODEL, cands, 2, 2, BATCHES))
    digests = [RC._digest(k) for k in others]
    assert here not in digests and len(set(digests)) == len(digests)


def test_cpu_identity_reads_the_model_name_and_the_flags_that_matter(monkeypatch):
    monkeypatch.setattr(RC, "_cpuinfo", lambda: {"model name": "AMD  EPYC 7B13 64-Core Processor",
                                                 "flags": "fpu sse2 avx avx2 fma sha_ni"})
    cpu = RC.cpu_identity()
    assert cpu["model"] == "AMD EPYC 7B13 64-Core Processor" and cpu["flags"] == ["avx2", "fma"]
    monkeypatch.setattr(RC, "_cpuinfo", dict)  # no /proc/cpuinfo (macOS, Windows): platform's name
    assert RC.cpu_identity()["model"]


# ---- the cache -----------------------------------------------------------------------------------------------------
def test_the_choice_is_cached_and_reused_without_measuring(cache, timer):
    first = _choose()
    assert timer.calls == 1 and first.name == "openvino-int8" and not first.report["cached"]
    assert isinstance(first.runner, Fake) and first.report["ms_per_crop"]["openvino-int8"] < 1
    data = json.loads(cache.read_text())
    (entry,) = data["entries"].values()
    assert entry["chosen"] == "openvino-int8" and entry["key"]["model"] == MODEL and entry["key"]["batches"] == BATCHES
    again = _choose()
    assert timer.calls == 1 and again.name == "openvino-int8" and again.report["cached"]
    assert again.report["ms_per_crop"] == first.report["ms_per_crop"]
    _choose(model={**MODEL, "fingerprint": "other"})  # another model: measured, beside the first entry
    assert timer.calls == 2 and len(json.loads(cache.read_text())["entries"]) == 2
    assert not list(cache.parent.glob("*.tmp"))  # written through a temporary file, replaced atomically


def test_refresh_measures_again_and_off_reads_and_writes_nothing(cache, timer, monkeypatch):
    _choose()
    monkeypatch.setenv("TRACKREID_RUNTIME_CACHE", "refresh")
    assert RC.cache_path() == cache
    timer.ms = {**timer.ms, "openvino-int8": [9, 9, 9]}
    assert _choose().name == "openvino-fp32" and timer.calls == 2
    monkeypatch.delenv("TRACKREID_RUNTIME_CACHE")
    assert _choose().name == "openvino-fp32" and timer.calls == 2  # the refreshed entry
    cache.unlink()
    monkeypatch.setenv("TRACKREID_RUNTIME_CACHE", "off")
    assert RC.cache_path() is None
    _choose()
    _choose()
    assert timer.calls == 4 and not cache.exists()


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe\x00garbage", b'["a list"]', b'{"entries": 3}'])
def test_a_corrupt_cache_is_ignored_with_one_message_and_replaced(cache, timer, caplog, content):
    cache.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="trackreid"):
        choice = _choose()
    msgs = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(msgs) == 1 and "corrupt or unreadable" in msgs[0] and str(cache) in msgs[0], msgs
    assert choice.name == "openvino-int8" and timer.calls == 1
    assert json.loads(cache.read_text())["entries"]  # rewritten, valid
    caplog.clear()
    assert _choose().report["cached"] and timer.calls == 1 and not caplog.records


def test_a_cached_choice_that_no_longer_builds_is_measured_again(cache, timer):
    _choose()
    cands = {"onnxruntime-fp32": Fake, "openvino-fp32": Fake, "openvino-int8": lambda: None}
    choice = RC.choose(cands, model=MODEL, threads=2, streams=2, input_size=(256, 128), batches=BATCHES)
    assert choice.name == "openvino-fp32" and timer.calls == 2 and not choice.report["cached"]


def test_the_cache_file_is_the_env_path_when_given(tmp_path, monkeypatch, timer):
    path = tmp_path / "sub" / "choice.json"
    monkeypatch.setenv("TRACKREID_RUNTIME_CACHE", str(path))
    _choose()
    assert RC.cache_path() == path and path.is_file()


# ---- the rule ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ms, spread, chosen", [
    ({"onnxruntime-fp32": [3, 2, 2], "openvino-int8": [.5, .3, .3]}, 0.0, "openvino-int8"),   # much faster
    ({"onnxruntime-fp32": [3, 2, 2], "openvino-int8": [2.9, 1.95, 1.9]}, 0.0, "onnxruntime-fp32"),  # < 5% faster
    ({"onnxruntime-fp32": [3, 2, 2], "openvino-int8": [3.3, 1.0, 1.0]}, 0.0, "onnxruntime-fp32"),  # batch 1 slower
    ({"onnxruntime-fp32": [3, 2, 2], "openvino-int8": [2.5, 1.7, 1.7]}, 0.3, "onnxruntime-fp32"),  # 15% in noise
    ({"onnxruntime-fp32": [3, 2, 2], "openvino-int8": [2.5, 1.7, 1.7]}, 0.05, "openvino-int8"),   # 15%, quiet
    ({"onnxruntime-fp32": [3, 2, 2], "openvino-int8": [1.2, .8, .8]}, 0.9, "openvino-int8"),   # 2.5x beats noise
    ({"onnxruntime-fp32": [3, 2, 2], "openvino-fp32": [2, 1.2, 1.2], "openvino-int8": [1, .6, .6]}, 0.0,
     "openvino-int8"),                                                                          # the fastest
    ({"openvino-fp32": [2, 1.2, 1.2], "openvino-int8": [1, .6, .6]}, 0.0, "openvino-int8"),  # no ONNX Runtime
])
def test_the_rule(ms, spread, chosen):
    name, figures = RC.pick(_times(ms, spread), BATCHES)
    assert name == chosen
    assert set(figures["ms_per_crop"]) == set(ms)


def test_the_rule_never_picks_a_runtime_over_5_percent_slower_than_onnxruntime_fp32():
    rng = random.Random(0)
    for _ in range(500):
        ms = {n: [rng.uniform(0.2, 3.0) for _ in BATCHES] for n in ("onnxruntime-fp32", "openvino-fp32", "int8")}
        times = {n: [[v * b * rng.uniform(0.7, 1.3) for _ in range(3)] for v, b in zip(vals, BATCHES)]
                 for n, vals in ms.items()}
        name, figures = RC.pick(times, BATCHES)
        by = figures["ms_per_crop_by_batch"]
        assert name in ms
        assert all(m <= 1.05 * b + 1e-9 for m, b in zip(by[name], by["onnxruntime-fp32"]))
        assert figures["ms_per_crop"][name] <= figures["ms_per_crop"]["onnxruntime-fp32"]


def test_time_candidates_alternates_and_warms_up_once_per_batch():
    order = []

    class Rec:
        def __init__(self, n):
            self.n = n

        def __call__(self, x):
            order.append((self.n, len(x)))
            return torch.zeros(len(x), 4)

    out = RC.time_candidates({"a": Rec("a"), "b": Rec("b")}, (8, 4), [1, 2], calls=3)
    assert [len(v) for v in out.values()] == [2, 2] and all(len(c) == 3 for v in out.values() for c in v)
    assert order[:8] == [("a", 1), ("b", 1), ("a", 1), ("b", 1), ("b", 1), ("a", 1), ("a", 1), ("b", 1)]
    assert len(order) == 16


# ---- through the encoder -------------------------------------------------------------------------------------------
def test_forcing_a_runtime_skips_measurement(monkeypatch):
    from trackreid.reid.encoder import Encoder, build_encoder
    from trackreid.reid.models.registry import build_model, get_spec

    def never(*a, **k):
        raise AssertionError("measured although a runtime was forced")

    monkeypatch.setattr(RC, "choose", never)
    monkeypatch.setattr(RC, "time_candidates", never)
    enc = build_encoder("osnet_x0_25", device="cpu", runtime="torch")
    assert enc.runtime == "torch" and enc.runtime_choice is None and enc.describe()["runtime_choice"] is None
    pytest.importorskip("onnxruntime")
    enc = Encoder(build_model("osnet_x0_25").eval(), get_spec("osnet_x0_25"), device="cpu", runtime="onnxruntime",
                  threads=1)
    assert enc.runtime == "onnxruntime" and enc.runtime_choice is None


@pytest.mark.parametrize("winner", ["openvino-int8", "onnxruntime-fp32"])
def test_default_weights_run_the_chosen_candidate(cache, timer, winner):
    """The bundled INT8 export is a candidate for the default weights; whichever wins is what runs, and describe()
    says what was chosen and why."""
    pytest.importorskip("openvino")
    pytest.importorskip("onnxruntime")
    from trackreid.reid.encoder import build_encoder
    from trackreid.reid.weights import BUNDLED_ROOT, bundled_export

    if winner == "onnxruntime-fp32":
        timer.ms = {**timer.ms, "openvino-fp32": [9, 9, 9], "openvino-int8": [9, 9, 9]}
    enc = build_encoder("osnet_x0_25", device="cpu", threads=1)
    d = enc.describe()
    assert d["runtime_choice"]["chosen"] == winner and not d["runtime_choice"]["cached"] and timer.calls == 1
    assert set(d["runtime_choice"]["ms_per_crop"]) == {"onnxruntime-fp32", "openvino-fp32", "openvino-int8"}
    assert d["weights"] == "osnet_x0_25_msmt17" and enc.fingerprint() == "osnet_x0_25/512/osnet_x0_25_msmt17"
    exp = bundled_export("osnet_x0_25_msmt17", "openvino", "int8")
    if winner == "openvino-int8":
        assert (d["runtime"], d["precision"]) == ("openvino", "int8") and enc.model is None
        assert enc.weights_path == BUNDLED_ROOT / exp.folder and "int8" in enc.weights_report
    else:
        assert (d["runtime"], d["precision"]) == ("onnxruntime", "fp32") and enc.model is not None
    # what runs: the bundled INT8 file itself (its accuracy: test_real_weights), or the fp32 weights
    ref = (build_encoder(None, weights=BUNDLED_ROOT / exp.folder, device="cpu", threads=1)
           if winner == "openvino-int8" else build_encoder("osnet_x0_25", device="cpu", runtime="torch"))
    np.testing.assert_allclose(enc(FRAME, BOXES), ref(FRAME, BOXES), atol=1e-4)
    again = build_encoder("osnet_x0_25", device="cpu", threads=1)
    assert again.runtime_choice["cached"] and again.runtime_choice["chosen"] == winner and timer.calls == 1
    assert again.describe()["precision"] == d["precision"]


def test_a_real_measurement_picks_a_checked_candidate(cache):
    """No stand-ins: an untrained OSNet x0.25 measured in the installed runtimes (batches capped at batch_size=2
    to stay fast), then the same choice from the cache without measuring."""
    pytest.importorskip("onnxruntime")
    from trackreid.reid.encoder import Encoder
    from trackreid.reid.models.registry import build_model, get_spec

    torch.manual_seed(0)
    model = build_model("osnet_x0_25").eval()
    import copy

    enc = Encoder(copy.deepcopy(model), get_spec("osnet_x0_25"), device="cpu", batch_size=2, threads=1)
    choice = enc.runtime_choice
    assert choice["batches"] == [1, 2] and not choice["cached"]
    assert choice["chosen"] in choice["ms_per_crop"] and choice["chosen"] == f"{enc.runtime}-fp32"
    assert "onnxruntime-fp32" in choice["ms_per_crop"] and all(v > 0 for v in choice["ms_per_crop"].values())
    ref = Encoder(copy.deepcopy(model), get_spec("osnet_x0_25"), device="cpu", runtime="torch", batch_size=2)
    np.testing.assert_allclose(enc(FRAME, BOXES), ref(FRAME, BOXES), atol=1e-4)
    entry = next(iter(json.loads(cache.read_text())["entries"].values()))
    assert entry["chosen"] == choice["chosen"] and entry["key"]["model"]["fingerprint"] == enc.fingerprint()

    def never(*a, **k):
        raise AssertionError("measured again")

    import trackreid.reid.runtime_choice as rc

    rc_time = rc.time_candidates
    try:
        rc.time_candidates = never
        again = Encoder(copy.deepcopy(model), get_spec("osnet_x0_25"), device="cpu", batch_size=2, threads=1)
    finally:
        rc.time_candidates = rc_time
    assert again.runtime_choice["cached"] and again.runtime == enc.runtime
