"""Exported files as the runtime: build_encoder(weights=<.onnx | OpenVINO IR>) reads its sizes from the file, runs it
in ONNX Runtime / OpenVINO with the encoder's own preprocessing, and refuses files that are no ReID encoder."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from trackreid.reid.encoder import build_encoder  # noqa: E402
from trackreid.reid.export import export  # noqa: E402
from trackreid.reid.runtimes import file_format, load_runner, read_meta  # noqa: E402

FRAME = np.random.default_rng(3).integers(0, 256, (240, 320, 3), dtype=np.uint8)
BOXES = np.array([[10, 20, 60, 140], [100.5, 30.25, 170, 220], [200, 0, 320, 240], [5, 5, 40, 70]], np.float32)


@pytest.fixture(scope="module")
def torch_enc():
    return build_encoder("osnet_x0_25", weights="osnet_x0_25_market1501", device="cpu", runtime="torch")


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory):
    return export("osnet_x0_25", "osnet_x0_25_market1501", "onnx", tmp_path_factory.mktemp("x") / "reid.onnx").path


def _cos(a, b):
    return (a * b).sum(1)


def test_onnx_file_runs_in_onnxruntime_like_pytorch(onnx_file, torch_enc):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # trained, from a file: no untrained warning
        enc = build_encoder(None, weights=onnx_file, device="cpu")
    assert enc.runtime == "onnxruntime" and enc.model is None
    assert enc.input_size == (256, 128) and enc.dim == 512 and enc.spec.name == "osnet_x0_25"
    assert read_meta(onnx_file)["weights"] == "osnet_x0_25_market1501"
    got, ref = enc(FRAME, BOXES), torch_enc(FRAME, BOXES)
    assert got.shape == (4, 512) and _cos(got, ref).min() >= 0.999
    np.testing.assert_allclose(enc.encode_crops([FRAME[20:140, 10:60]]), torch_enc.encode_crops([FRAME[20:140, 10:60]]),
                               atol=1e-4)
    assert build_encoder("auto", weights=onnx_file, device="cpu").runtime == "onnxruntime"
    assert build_encoder("osnet_x0_25", weights=str(onnx_file), device="cpu").dim == 512


def test_file_sizes_come_from_the_file(tmp_path):
    """A graph at another input size and embedding size (bdb: 384x128, 1536-d) needs no name."""
    torch.manual_seed(0)
    path = export("bdb", "none", "onnx", tmp_path / "bdb.onnx").path
    enc = build_encoder(None, weights=path, device="cpu")
    assert enc.input_size == (384, 128) and enc.dim == 1536 and enc(FRAME, BOXES[:2]).shape == (2, 1536)


def test_openvino_ir_file_and_folder(onnx_file, torch_enc, tmp_path):
    pytest.importorskip("openvino")
    res = export("osnet_x0_25", "osnet_x0_25_market1501", "openvino", tmp_path / "reid_openvino_model")
    assert res.path == tmp_path / "reid_openvino_model" / "reid.xml" and res.min_cosine >= 0.999
    assert file_format(res.path.parent) == "openvino" and sorted(p.name for p in res.path.parent.iterdir()) == [
        "reid.bin", "reid.xml"]
    ref = torch_enc(FRAME, BOXES)
    for src in (res.path, res.path.parent):  # the .xml or the folder holding it
        enc = build_encoder(None, weights=src, device="cpu", threads=1)
        assert enc.runtime == "openvino" and enc.spec.name == "osnet_x0_25"
        assert _cos(enc(FRAME, BOXES), ref).min() >= 0.999


def test_corrupt_onnx_is_one_clear_line(tmp_path, onnx_file):
    bad = tmp_path / "corrupt.onnx"
    data = bytearray(onnx_file.read_bytes()[:5000])
    data[100:200] = b"\xff" * 100
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError) as err:
        build_encoder(None, weights=bad, device="cpu")
    assert "not a readable ONNX model" in str(err.value) and str(bad) in str(err.value)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="no such file"):
        build_encoder(None, weights=tmp_path / "missing.onnx", device="cpu")


def _tiny_graph(path, in_shape, out_shape=None):
    """A one-node ONNX graph: Identity (or Flatten when ``out_shape`` is given) of a float input."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape or in_shape)
    node = helper.make_node("Flatten" if out_shape else "Identity", ["x"], ["y"])
    model = helper.make_model(helper.make_graph([node], "tiny", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("in_shape,out_shape,match", [
    (["batch", 512], None, r"input shape \['batch', 512\], expected \(batch, 3, H, W\)"),  # rank-2 input
    (["batch", 3, "h", "w"], None, "with fixed H and W"),  # no fixed crop size
    (["batch", 3, 8, 4], None, r"output shape \['batch', 3, 8, 4\], expected \(batch, D\)"),  # image out
])
def test_non_reid_onnx_is_one_clear_line(tmp_path, in_shape, out_shape, match):
    path = _tiny_graph(tmp_path / "tiny.onnx", in_shape, out_shape)
    with pytest.raises(ValueError, match=match) as err:
        build_encoder(None, weights=path, device="cpu")
    assert "not a ReID encoder" in str(err.value) and "\n" not in str(err.value)


def test_graph_without_output_is_refused(tmp_path):
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 8, 4])
    model = helper.make_model(helper.make_graph([], "empty", [x], []), opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "empty.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(ValueError) as err:
        load_runner(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_file_name_and_runtime_must_agree(onnx_file):
    with pytest.raises(ValueError, match="holds osnet_x0_25, not osnet_x1_0"):
        build_encoder("osnet_x1_0", weights=onnx_file, device="cpu")
    with pytest.raises(ValueError, match="runtime 'openvino' cannot run"):
        build_encoder(None, weights=onnx_file, device="cpu", runtime="openvino")


def test_onnx_file_reads_into_pytorch_with_runtime_torch(onnx_file, torch_enc):
    """runtime='torch' reads an OSNet .onnx back into the network (trackreid.reid.onnx_checkpoint), our own
    exports included (their graph wraps the network in an L2 normalisation)."""
    enc = build_encoder(None, weights=onnx_file, device="cpu", runtime="torch")
    assert enc.model is not None and enc.spec.name == "osnet_x0_25"
    assert _cos(enc(FRAME, BOXES), torch_enc(FRAME, BOXES)).min() >= 0.999


def test_tensorrt_engine(tmp_path):
    """A TensorRT engine runs through the same API (needs tensorrt and a CUDA GPU)."""
    pytest.importorskip("tensorrt")
    if not torch.cuda.is_available():
        pytest.skip("TensorRT needs a CUDA GPU")
    res = export("osnet_x0_25", "osnet_x0_25_market1501", "engine", tmp_path / "reid.engine")  # pragma: no cover
    enc = build_encoder(None, weights=res.path, device="cuda")  # pragma: no cover
    ref = build_encoder("osnet_x0_25", device="cpu", runtime="torch")(FRAME, BOXES)  # pragma: no cover
    assert enc.runtime == "tensorrt" and _cos(enc(FRAME, BOXES), ref).min() >= 0.998  # pragma: no cover


def test_tensorrt_engine_without_tensorrt_is_one_line(tmp_path):
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        path = tmp_path / "reid.engine"
        path.write_bytes(b"not an engine")
        with pytest.raises(ValueError, match="needs the 'tensorrt' package") as err:
            build_encoder(None, weights=path, device="cpu")
        assert "\n" not in str(err.value)
    else:  # pragma: no cover
        pytest.skip("tensorrt is installed")


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_streams_split_a_batch_and_give_the_one_request_features(runtime):
    """Two concurrent single-threaded streams (the default on 2 cores) return, in order, what one request on every
    thread returns, for even, odd and single-crop batches."""
    pytest.importorskip(runtime)
    one = build_encoder("osnet_x0_25", device="cpu", runtime=runtime, threads=2, streams=1)
    two = build_encoder("osnet_x0_25", device="cpu", runtime=runtime, threads=2, streams=2)
    assert (one.streams, two.streams) == (1, 2)
    boxes = np.tile(BOXES, (3, 1))[:11]
    for n in (1, 2, 7, 11):
        np.testing.assert_allclose(two(FRAME, boxes[:n]), one(FRAME, boxes[:n]), atol=1e-5)
    with pytest.raises(ValueError, match="streams: 3 streams need at least as many threads"):
        build_encoder("osnet_x0_25", device="cpu", runtime=runtime, threads=2, streams=3)


def test_default_cpu_encoder_runs_one_stream_per_thread():
    pytest.importorskip("openvino")
    enc = build_encoder("osnet_x0_25", device="cpu", threads=2)  # whichever runtime was measured fastest here
    assert enc.runtime_choice["chosen"].startswith(enc.runtime) and enc.streams == 2
