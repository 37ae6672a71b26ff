"""Exports (ONNX, OpenVINO, INT8): checked against PyTorch before they are written; the CLI's success and error
paths."""
from __future__ import annotations

import numpy as np
import pytest
import torch

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from trackreid.cli.export import main  # noqa: E402
from trackreid.reid.export import ExportError, export_onnx, export_tensorrt  # noqa: E402
from trackreid.reid.models.registry import build_model  # noqa: E402


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    torch.manual_seed(0)
    m = build_model("osnet_x0_25", num_classes=751).eval()
    path = tmp_path_factory.mktemp("w") / "osnet_x0_25_market1501.pt"
    torch.save(m.state_dict(), path)
    return path


def test_onnx_matches_pytorch_with_dynamic_batch(ckpt, tmp_path):
    from trackreid.reid.encoder import build_encoder

    res = export_onnx("osnet_x0_25", ckpt, tmp_path / "m.onnx")
    assert res.path.is_file() and res.max_abs_diff <= 1e-3
    sess = ort.InferenceSession(str(res.path), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["images"] and sess.get_outputs()[0].name == "features"
    # same input through the encoder (crops cut from a frame) and through ONNX
    enc = build_encoder("osnet_x0_25", weights=ckpt, device="cpu", runtime="torch")
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (200, 300, 3), dtype=np.uint8)
    boxes = np.array([[0, 0, 60, 150], [100, 20, 180, 190], [200, 50, 290, 199]], np.float32)
    x = enc.preprocess(frame, boxes).numpy()
    for b in (1, 3):  # dynamic batch
        out = sess.run(["features"], {"images": x[:b]})[0]
        np.testing.assert_allclose(out, enc(frame, boxes)[:b], atol=1e-3)


def test_failed_check_leaves_no_file(ckpt, tmp_path):
    out = tmp_path / "bad.onnx"
    with pytest.raises(ExportError, match="not written"):
        export_onnx("osnet_x0_25", ckpt, out, atol=-1.0)  # no graph can pass a negative tolerance
    assert list(tmp_path.iterdir()) == []


def test_cli_writes_onnx(ckpt, tmp_path, capsys):
    out = tmp_path / "cli.onnx"
    assert main(["--weights", str(ckpt), "--format", "onnx", "--output", str(out)]) == 0  # arch from file name
    assert out.is_file() and "wrote" in capsys.readouterr().out


def test_cli_errors_are_one_line_without_traceback(tmp_path, capsys, ckpt):
    assert main(["--reid", "osnet_x0_25", "--weights", str(tmp_path / "missing.pt")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("trackreid-export: error:") and "Traceback" not in err and err.count("\n") == 1
    assert main(["--reid", "osnet_x1_0", "--weights", str(ckpt), "--output", str(tmp_path / "x.onnx")]) == 1
    err = capsys.readouterr().err
    assert "osnet_x0_25" in err and "Traceback" not in err
    assert main(["--reid", "osnet_x0_25"]) == 2  # a command-line mistake: argparse's exit code
    assert "--weights is required" in capsys.readouterr().err


def test_tensorrt_missing_is_a_clear_error(ckpt, tmp_path):
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        with pytest.raises(ExportError, match="tensorrt"):
            export_tensorrt("osnet_x0_25", ckpt, tmp_path / "m.engine")
    else:  # pragma: no cover - only where TensorRT is installed
        if torch.cuda.is_available():
            assert export_tensorrt("osnet_x0_25", ckpt, tmp_path / "m.engine").path.is_file()


# ---------------------------------------------------------------- OpenVINO and INT8 (NNCF)


def test_cli_writes_openvino_and_int8_needs_onnx_or_openvino(ckpt, tmp_path, capsys):
    pytest.importorskip("openvino")
    out = tmp_path / "ov_openvino_model"  # Ultralytics' naming: <stem>_openvino_model/<stem>.xml
    assert main(["--weights", str(ckpt), "--format", "openvino", "--output", str(out)]) == 0
    assert (out / "ov.xml").is_file() and (out / "ov.bin").is_file()
    assert "min cosine to PyTorch" in capsys.readouterr().out
    assert main(["--weights", str(ckpt), "--format", "engine", "--int8"]) == 2
    assert "--int8 is for --format onnx or openvino" in capsys.readouterr().err


def test_failed_int8_check_writes_nothing(tmp_path, monkeypatch):
    """A quantised model that misses the bar is not written; the error says by how much."""
    pytest.importorskip("nncf")
    import trackreid.reid.export as E
    from trackreid.reid.crop_sets import synthetic_crop_set

    monkeypatch.setattr(E, "INT8_TOLERANCE", -1.0)  # a bar no model passes: it would have to gain rank-1 of 1.0
    small = synthetic_crop_set(12)
    monkeypatch.setattr("trackreid.reid.crop_sets.synthetic_crop_set", lambda *a, **k: small)
    with pytest.raises(ExportError, match=r"INT8 loses too much .*rank-1 .*margin .*not written"):
        E.export("osnet_x0_25", "osnet_x0_25_market1501", "onnx", tmp_path / "q.onnx", int8=True, calib_count=16)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["openvino", "onnx"])
def test_int8_on_mot17_crops_keeps_rank1_and_margin(shared_data, tmp_path, fmt):
    """INT8 calibrated on MOT17 ground-truth crops passes the export check, and the written file, loaded through
    build_encoder, keeps rank-1 and the identity margin within 1 point of PyTorch fp32 on those crops."""
    pytest.importorskip("nncf")
    if fmt == "openvino":
        pytest.importorskip("openvino")
    from trackreid.reid.crop_sets import load_crop_set, retrieval_scores
    from trackreid.reid.encoder import build_encoder

    mot = shared_data / "mot17-mini"
    res = _int8_export(fmt, mot, tmp_path)
    q8 = build_encoder(None, weights=res.path, device="cpu")
    assert q8.runtime == ("openvino" if fmt == "openvino" else "onnxruntime")
    crops = load_crop_set(mot)
    fp = res.scores["fp32"]  # the export's own check: the same weights in PyTorch fp32, on the same crops
    got = retrieval_scores(q8.encode_crops(crops.crops), crops)
    assert got["rank1"] >= fp["rank1"] - 0.01 and got["margin"] >= fp["margin"] - 0.01, (got, fp)
    assert res.scores["int8"]["rank1"] == pytest.approx(got["rank1"], abs=0.02)


def _int8_export(fmt, calib, tmp_path):
    from trackreid.reid.export import export as run_export

    out = tmp_path / ("q8.onnx" if fmt == "onnx" else "q8_openvino_model")
    return run_export("osnet_x0_25", "osnet_x0_25_market1501", fmt, out, int8=True, calib=calib)
