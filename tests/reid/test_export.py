"""ONNX export: dynamic batch, output equal to PyTorch within 1e-3; the CLI's success and error paths."""
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
    assert main(["--reid", "osnet_x0_25"]) == 1
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
