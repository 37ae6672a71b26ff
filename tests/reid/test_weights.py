"""Weights: manifest, verified download (against a local http.server), and checkpoint loading in every format."""
from __future__ import annotations

import hashlib
import http.server
import json
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from trackreid.reid import weights as W
from trackreid.reid.models.registry import build_model, list_models

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        if self.path == "/ok.pt":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)
        elif self.path == "/short.pt":  # promises the whole body, sends half, hangs up
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 2])
            self.wfile.flush()
            self.close_connection = True
        elif self.path == "/page.pt":
            body = b"<!DOCTYPE html><html><body>Google Drive - quota exceeded</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _leftovers(folder: Path):
    return sorted(p.name for p in folder.iterdir())


def test_download_ok(server, tmp_path):
    dest = tmp_path / "w" / "ok.pt"
    assert W.download(f"{server}/ok.pt", dest, PAYLOAD_SHA, progress=False) == dest
    assert dest.read_bytes() == PAYLOAD
    assert _leftovers(dest.parent) == ["ok.pt"]


def test_download_bad_checksum_leaves_nothing(server, tmp_path):
    with pytest.raises(W.ChecksumError, match="sha256"):
        W.download(f"{server}/ok.pt", tmp_path / "ok.pt", "0" * 64, progress=False)
    assert _leftovers(tmp_path) == []


def test_download_server_down_names_url_and_path(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/osnet.pt"
    dest = tmp_path / "osnet.pt"
    with pytest.raises(W.DownloadError) as err:
        W.download(url, dest, PAYLOAD_SHA, timeout=5, progress=False)
    assert url in str(err.value) and str(dest) in str(err.value)
    assert _leftovers(tmp_path) == []


def test_interrupted_download_leaves_no_partial_file(server, tmp_path):
    with pytest.raises(W.DownloadError, match="interrupted"):
        W.download(f"{server}/short.pt", tmp_path / "short.pt", PAYLOAD_SHA, progress=False)
    assert _leftovers(tmp_path) == []


def test_keyboard_interrupt_removes_temp_file(server, tmp_path, monkeypatch):
    def boom(self, amt=None):
        raise KeyboardInterrupt

    import http.client

    monkeypatch.setattr(http.client.HTTPResponse, "read", boom)
    with pytest.raises(KeyboardInterrupt):
        W.download(f"{server}/ok.pt", tmp_path / "ok.pt", PAYLOAD_SHA, progress=False)
    assert _leftovers(tmp_path) == []


def test_html_page_is_not_saved_as_weights(server, tmp_path):
    with pytest.raises(W.DownloadError, match="HTML"):
        W.download(f"{server}/page.pt", tmp_path / "page.pt", PAYLOAD_SHA, progress=False)
    assert _leftovers(tmp_path) == []


def test_unverified_download_needs_opt_in(server, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TRACKREID_ALLOW_UNVERIFIED", raising=False)
    with pytest.raises(W.DownloadError, match="TRACKREID_ALLOW_UNVERIFIED"):
        W.download(f"{server}/ok.pt", tmp_path / "ok.pt", None, progress=False)
    assert _leftovers(tmp_path) == []
    W.download(f"{server}/ok.pt", tmp_path / "ok.pt", None, allow_unverified=True, progress=False)
    assert PAYLOAD_SHA in capsys.readouterr().err


def test_manifest_entries_are_complete():
    known = W.known_weights()
    assert "osnet_x0_25_market1501" in known and len(known) >= 12
    models = set(list_models())
    for e in known.values():
        assert e.url.startswith("https://") and e.file.startswith(e.name)
        assert e.arch in models, e
        assert e.sha256 is None or (len(e.sha256) == 64 and int(e.sha256, 16) >= 0)
        if e.training_set in W.DATASET_CLASSES:
            assert e.num_classes == W.DATASET_CLASSES[e.training_set]
    assert known["osnet_x0_25_market1501"].sha256  # the one digest computed here from the real file
    repo_manifest = Path(__file__).resolve().parents[2] / "weights" / "manifest.json"
    if repo_manifest.exists():
        assert json.loads(repo_manifest.read_text()) == json.loads(W.MANIFEST_PATH.read_text())


def test_resolve_known_name_downloads_once_into_cache(server, tmp_path, monkeypatch):
    entry = W.WeightsEntry("osnet_x0_25_test", "osnet_x0_25_test.pt", f"{server}/ok.pt", PAYLOAD_SHA,
                           "osnet_x0_25", "market1501", 751)
    monkeypatch.setattr(W, "known_weights", lambda: {entry.name: entry})
    monkeypatch.setenv("TRACKREID_WEIGHTS", str(tmp_path / "cache"))
    p = W.resolve_weights("osnet_x0_25_test.pt")
    assert p == tmp_path / "cache" / "osnet_x0_25_test.pt" and p.read_bytes() == PAYLOAD
    calls = []
    monkeypatch.setattr(W, "download", lambda *a, **k: calls.append(a))
    assert W.resolve_weights("osnet_x0_25_test") == p and calls == []  # cached: no second download


def test_resolve_offline_error_names_url_and_path(tmp_path, monkeypatch):
    import dataclasses

    monkeypatch.setenv("TRACKREID_WEIGHTS", str(tmp_path))
    entry = dataclasses.replace(W.get_entry("osnet_x0_25_market1501"), bundled=None)  # as if not shipped
    monkeypatch.setattr(W, "known_weights", lambda: {entry.name: entry})
    monkeypatch.setattr(W.urllib.request, "urlopen", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    with pytest.raises(W.DownloadError) as err:
        W.resolve_weights("osnet_x0_25_market1501")
    assert entry.url in str(err.value) and str(tmp_path / entry.file) in str(err.value)


def test_resolve_unknown_lists_known_names(tmp_path):
    with pytest.raises(W.WeightsError, match="osnet_x0_25_market1501"):
        W.resolve_weights("osnet_x0_25_marke")
    with pytest.raises(W.WeightsError, match="neither an existing file"):
        W.resolve_weights(tmp_path / "nothing.pt")


def test_cache_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("TRACKREID_WEIGHTS", str(tmp_path))
    assert W.cache_dir() == tmp_path
    monkeypatch.delenv("TRACKREID_WEIGHTS")
    assert W.cache_dir().parts[-2:] == ("trackreid", "weights")


# ---- loading -----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def source():
    torch.manual_seed(0)
    m = build_model("osnet_x0_25", num_classes=751).eval()
    return m


def _same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return all(torch.equal(sa[k], sb[k]) for k in sa if not k.startswith("classifier"))


@pytest.mark.parametrize("fmt", ["boxmot", "torchreid", "dataparallel", "trackreid"])
def test_loads_every_checkpoint_format(source, tmp_path, fmt):
    sd = source.state_dict()
    if fmt == "boxmot":
        obj = sd
    elif fmt == "torchreid":
        obj = {"state_dict": sd, "epoch": 60, "rank1": 0.9, "optimizer": {"state": {}, "param_groups": []}}
    elif fmt == "dataparallel":
        obj = {"state_dict": {f"module.{k}": v for k, v in sd.items()}}
    else:
        obj = {"format": "trackreid-checkpoint", "version": 1, "arch": "osnet_x0_25", "num_classes": 751,
               "state_dict": sd, "epoch": 3, "metrics": {"mAP": 0.5}}
    path = tmp_path / f"osnet_x0_25_{fmt}.pt"
    torch.save(obj, path)
    target = build_model("osnet_x0_25")  # no classifier: inference
    report = W.load_weights(target, path, arch="osnet_x0_25")
    assert _same(source, target)
    assert report.skipped_heads == ["classifier.weight", "classifier.bias"]
    assert "classifier not loaded" in str(report)


def test_classifier_loaded_when_it_fits_and_missing_classifier_is_fine(source, tmp_path):
    path = tmp_path / "full.pt"
    torch.save(source.state_dict(), path)
    t = build_model("osnet_x0_25", num_classes=751)
    assert W.load_weights(t, path).skipped_heads == []
    assert torch.equal(t.classifier.weight, source.classifier.weight)
    headless = {k: v for k, v in source.state_dict().items() if not k.startswith("classifier")}
    torch.save(headless, path)
    t2 = build_model("osnet_x0_25", num_classes=10)
    W.load_weights(t2, path)
    assert _same(source, t2)


def test_files_without_batchnorm_counters_load(source, tmp_path):
    """Older torchreid files have no ``num_batches_tracked`` buffers (PyTorch < 0.4.1); inference never reads them."""
    path = tmp_path / "old.pt"
    torch.save({k: v for k, v in source.state_dict().items() if not k.endswith("num_batches_tracked")}, path)
    t = build_model("osnet_x0_25")
    W.load_weights(t, path, arch="osnet_x0_25")
    assert _same(source, t)


def test_other_architecture_fails_listing_keys_and_guess(source, tmp_path):
    path = tmp_path / "mystery.pt"
    torch.save(source.state_dict(), path)
    with pytest.raises(W.CheckpointMismatchError) as err:
        W.load_weights(build_model("osnet_x0_5"), path, arch="osnet_x0_5")
    msg = str(err.value)
    assert "shape mismatch" in msg and "conv1.conv.weight" in msg and "'osnet_x0_25'" in msg
    partial = {k: v for k, v in source.state_dict().items() if not k.startswith("conv5")}
    partial["extra.weight"] = torch.zeros(3)
    torch.save(partial, path)
    with pytest.raises(W.CheckpointMismatchError, match=r"(?s)missing key\(s\): conv5.*unexpected key\(s\): extra"):
        W.load_weights(build_model("osnet_x0_25"), path)


def test_recorded_arch_mismatch_is_reported(source, tmp_path):
    path = tmp_path / "ours.pt"
    torch.save({"format": "trackreid-checkpoint", "version": 1, "arch": "osnet_x0_25", "num_classes": 751,
                "state_dict": source.state_dict()}, path)
    with pytest.raises(W.CheckpointMismatchError, match="osnet_x0_25 weights but the model is osnet_x1_0"):
        W.load_weights(build_model("osnet_x1_0"), path, arch="osnet_x1_0")


class Opaque:  # a pickled object: cannot be read with weights_only=True
    def __init__(self):
        self.x = 1


def test_pickled_objects_refused_with_safe_way_out(source, tmp_path, monkeypatch):
    monkeypatch.delenv("TRACKREID_TRUST_CHECKPOINTS", raising=False)
    path = tmp_path / "old.pt"
    torch.save({"state_dict": source.state_dict(), "args": Opaque()}, path)
    with pytest.raises(W.UnsafeCheckpointError) as err:
        W.load_weights(build_model("osnet_x0_25"), path)
    msg = str(err.value)
    assert "weights_only=True" in msg and "torch.save(" in msg and "trust=True" in msg and "run code" in msg
    t = build_model("osnet_x0_25")
    W.load_weights(t, path, trust=True)  # explicit opt-in
    assert _same(source, t)


def test_numpy_scalars_in_old_torchreid_checkpoints_load_safely(source, tmp_path):
    path = tmp_path / "np.pt"
    torch.save({"state_dict": source.state_dict(), "rank1": np.float64(0.91), "epoch": np.int64(60)}, path)
    t = build_model("osnet_x0_25")
    W.load_weights(t, path)
    assert _same(source, t)


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "junk.pt"
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(W.WeightsError, match="not a readable PyTorch checkpoint"):
        W.load_weights(build_model("osnet_x0_25"), path)
    torch.save({"epoch": 3}, path)
    with pytest.raises(W.WeightsError, match="state_dict"):
        W.load_weights(build_model("osnet_x0_25"), path)


def test_arch_inferred_from_boxmot_names(tmp_path, source):
    assert W.infer_arch("osnet_x0_25_msmt17.pt") == "osnet_x0_25"
    assert W.infer_arch("osnet_ain_x1_0_msmt17") == "osnet_ain_x1_0"
    assert W.infer_arch("osnet_x1_0_dukemtmcreid.pt") == "osnet_x1_0"
    assert W.infer_arch(tmp_path / "mine_duke.pt") is None
    from trackreid.reid.encoder import build_encoder

    path = tmp_path / "osnet_x0_25_duke.pt"
    torch.save(source.state_dict(), path)
    enc = build_encoder(None, weights=path, device="cpu")  # architecture from the file name
    assert enc.spec.name == "osnet_x0_25"


def test_shared_boxmot_file_loads_and_matches_manifest(shared_data):
    path = shared_data / "reid" / "osnet_x0_25_market1501.pt"
    assert W.sha256_file(path) == W.get_entry("osnet_x0_25_market1501").sha256
    report = W.load_weights(build_model("osnet_x0_25"), path, arch="osnet_x0_25")
    assert report.loaded == 565 and "751 classes" in str(report)


# ---------------------------------------------------------------- bundled weights and per-architecture defaults


def test_bundled_weights_are_shipped_and_verified(monkeypatch, tmp_path):
    """osnet_x0_25_market1501 resolves to the package's own copy (no download, whatever the cache holds), and that
    copy matches the manifest's sha256."""
    monkeypatch.setenv("TRACKREID_WEIGHTS", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(W, "download", lambda *a, **k: pytest.fail("the bundled file must not be downloaded"))
    entry = W.get_entry("osnet_x0_25_market1501")
    p = W.resolve_weights("osnet_x0_25_market1501")
    assert p == W.bundled_path(entry) and p.is_relative_to(W.BUNDLED_ROOT)
    assert W.sha256_file(p) == entry.sha256 and 2_000_000 < p.stat().st_size < 3_000_000
    ck = W.read_checkpoint("osnet_x0_25_market1501.pt")
    assert ck.num_classes == 751 and W.checkpoint_arch(ck) == "osnet_x0_25"


def test_bundled_default_is_the_msmt17_network_with_its_digest(shared_data):
    """The default osnet_x0_25 weights ship in the package under their recorded sha256 and hold exactly the
    tensors of BoxMOT's MSMT17 ONNX export, read back into our network."""
    import torch

    from trackreid.reid.onnx_checkpoint import read_onnx_checkpoint

    entry = W.default_weights("osnet_x0_25")
    assert entry.name == "osnet_x0_25_msmt17" and entry.training_set == "msmt17"
    path = W.resolve_weights(entry.name)
    assert path == W.bundled_path(entry) and W.sha256_file(path) == entry.sha256
    onnx_file = shared_data / "reid" / "osnet_x0_25_msmt17.onnx"
    assert W.sha256_file(onnx_file) in entry.same_network_sha256
    bundled, rebuilt = W.read_checkpoint(entry.name).state_dict, read_onnx_checkpoint(onnx_file).state_dict
    assert bundled.keys() == rebuilt.keys() and all(torch.equal(bundled[k], rebuilt[k]) for k in bundled)
    assert W.identify(onnx_file) == entry and W.identify(path) == entry


def test_corrupted_bundled_file_fails_its_sha256(monkeypatch, tmp_path):
    entry = W.get_entry("osnet_x0_25_market1501")
    data = bytearray(W.bundled_path(entry).read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    (tmp_path / entry.bundled).parent.mkdir(parents=True)
    (tmp_path / entry.bundled).write_bytes(bytes(data))
    monkeypatch.setattr(W, "BUNDLED_ROOT", tmp_path)
    with pytest.raises(W.ChecksumError) as err:
        W.resolve_weights("osnet_x0_25_market1501")
    msg = str(err.value)
    assert "\n" not in msg and entry.sha256 in msg and "reinstall" in msg and str(tmp_path) in msg
    from trackreid.reid.encoder import build_encoder

    with pytest.raises(W.ChecksumError, match="damaged"):  # an fp32 encoder of these weights refuses it too
        build_encoder("osnet_x0_25", weights="osnet_x0_25_market1501", device="cpu", runtime="torch")
    (tmp_path / entry.bundled).unlink()
    with pytest.raises(W.ChecksumError, match="missing"):
        W.resolve_weights("osnet_x0_25_market1501")


def test_default_weights_per_architecture():
    d = {m: (W.default_weights(m).name if W.default_weights(m) else None) for m in list_models()}
    assert d["osnet_x0_25"] == "osnet_x0_25_msmt17" and W.default_weights("osnet_x0_25").bundled
    assert W.bundled_path(W.get_entry("osnet_x0_25_market1501")).is_file()  # still selectable by name
    assert d["osnet_x1_0"] == "osnet_x1_0_market1501" and d["osnet_ain_x1_0"] == "osnet_ain_x1_0_msmt17"
    assert d["bdb"] is None and d["pmm"] is None
    for arch, name in d.items():  # every default is a trained ReID model of that architecture
        if name is not None:
            e = W.get_entry(name)
            assert e.arch == arch and e.training_set != "imagenet"


def test_bundled_int8_export_is_verified(monkeypatch, tmp_path):
    """The INT8 OpenVINO export shipped beside the bundled weights matches its recorded sha256s; a damaged copy
    stops the default CPU encoder with one line."""
    import shutil

    exp = W.bundled_export("osnet_x0_25_msmt17", "openvino", "int8")
    assert exp is not None and set(exp.files) == {n for n in exp.files if n.endswith((".xml", ".bin"))}
    folder = W.verified_export(exp)
    assert sorted(p.name for p in folder.iterdir()) == sorted(exp.files)
    pytest.importorskip("openvino")
    shutil.copytree(W.BUNDLED_ROOT / "bundled", tmp_path / "bundled")
    binf = next(tmp_path.joinpath(exp.folder).glob("*.bin"))
    data = bytearray(binf.read_bytes())
    data[100] ^= 0x01
    binf.write_bytes(bytes(data))
    monkeypatch.setattr(W, "BUNDLED_ROOT", tmp_path)
    from trackreid.reid.encoder import build_encoder

    with pytest.raises(W.ChecksumError, match="damaged") as err:
        build_encoder("osnet_x0_25", device="cpu")
    assert "\n" not in str(err.value) and "runtime='onnxruntime'" in str(err.value)
