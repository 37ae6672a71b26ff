"""Encoder behaviour users rely on: shape/normalisation, box handling, chunking, crops path, preprocessing."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from trackreid.reid.encoder import Encoder, build_encoder, clip_boxes
from trackreid.reid.models.registry import build_model, get_spec


@pytest.fixture(scope="module")
def enc():
    torch.manual_seed(0)
    with pytest.warns(UserWarning, match="identities will be poor"):
        e = build_encoder("osnet_x0_25", weights="none", device="cpu", batch_size=4)  # untrained on purpose
    return e


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    # smooth it so crops differ by content, not by noise
    import cv2

    return cv2.GaussianBlur(img, (0, 0), 2)


BOXES = np.array([[10, 20, 60, 140], [100.5, 30.25, 170, 220], [200, 0, 320, 240], [5, 5, 40, 70]], np.float32)


def test_output_shape_dtype_normalised(enc, frame):
    out = enc(frame, BOXES)
    assert out.shape == (4, enc.dim) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert enc.dim == get_spec("osnet_x0_25").feature_dim == 512


def test_empty_boxes_give_empty_array(enc, frame):
    for empty in (np.zeros((0, 4), np.float32), [], None, np.zeros((0, 6))):
        out = enc(frame, empty)
        assert out.shape == (0, enc.dim) and out.dtype == np.float32


def test_rows_follow_boxes_and_detections_columns_accepted(enc, frame):
    out = enc(frame, BOXES)
    rev = enc(frame, BOXES[::-1])
    np.testing.assert_allclose(rev[::-1], out, atol=1e-5)
    dets = np.concatenate([BOXES, np.full((4, 1), 0.9), np.zeros((4, 1))], 1)  # (N, 6) detections
    np.testing.assert_allclose(enc(frame, dets), out, atol=1e-6)


def test_chunking_gives_same_features(enc, frame):
    many = np.tile(BOXES, (3, 1))  # 12 boxes, batch_size 4 -> 3 chunks
    out = enc(frame, many)
    np.testing.assert_allclose(out, np.tile(enc(frame, BOXES), (3, 1)), atol=1e-5)
    enc.batch_size = 64  # one chunk: on CPU the crops are then cut by several threads
    try:
        np.testing.assert_allclose(enc(frame, np.tile(BOXES, (6, 1))), np.tile(out[:4], (6, 1)), atol=1e-5)
    finally:
        enc.batch_size = 4


def test_boxes_clipped_and_outside_boxes_still_get_a_row(enc, frame):
    inside = np.array([[0, 0, 50, 100]], np.float32)
    spill = np.array([[-30, -40, 50, 100]], np.float32)  # clipped to the one above
    np.testing.assert_allclose(enc(frame, spill), enc(frame, inside), atol=1e-5)
    outside = np.array([[400, 300, 450, 380], [10, 10, 10, 50]], np.float32)  # off-frame, zero-width
    out = enc(frame, outside)
    assert out.shape == (2, enc.dim) and np.isfinite(out).all()
    b = clip_boxes(outside, 320, 240)
    assert (b[:, 2] - b[:, 0] >= 1).all() and (b[:, 3] - b[:, 1] >= 1).all()
    assert (b[:, [0, 2]] <= 320).all() and (b[:, [1, 3]] <= 240).all()


def test_bad_input_errors(enc, frame):
    with pytest.raises(ValueError, match="boxes"):
        enc(frame, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="inverted"):
        enc(frame, np.array([[50, 10, 20, 40]]))
    with pytest.raises(ValueError, match="NaN"):
        enc(frame, np.array([[np.nan, 10, 20, 40]]))
    with pytest.raises(ValueError, match="frame"):
        enc(frame.astype(np.float32), BOXES)
    with pytest.raises(ValueError, match="frame"):
        enc(frame[..., 0], BOXES)


def test_cpu_box_by_box_cut_equals_one_batched_roi_align(frame):
    """The CPU path (box by box from small regions) computes what the accelerator path's single batched
    roi_align over the boxes' region computes."""
    from trackreid.reid.encoder import _cut_boxes_cpu, _region, _roi_align

    b = clip_boxes(np.concatenate([BOXES, [[0, 0, 320, 240], [300.3, 200.7, 330, 260]]]).astype(np.float32), 320, 240)
    x0, y0, x1, y1 = _region(b, 320, 240)
    img = torch.from_numpy(frame)[y0:y1, x0:x1].permute(2, 0, 1)[None].float().contiguous()
    rois = torch.from_numpy(np.concatenate([np.zeros((len(b), 1), np.float32), b - np.float32([x0, y0, x0, y0])], 1))
    for ratio in (0, 2):
        batched = _roi_align(img, rois, (256, 128), ratio)
        per_box = _cut_boxes_cpu(torch.from_numpy(frame), b, (256, 128), ratio)
        torch.testing.assert_close(per_box, batched, atol=1e-3, rtol=0)


def test_encode_crops_matches_frame_path(enc, frame):
    """A crop cut with numpy gives the same embedding as the same box cut on the device (integer boxes)."""
    boxes = BOXES.round().astype(int)
    crops = [frame[y1:y2, x1:x2] for x1, y1, x2, y2 in boxes]
    np.testing.assert_allclose(enc.encode_crops(crops), enc(frame, boxes), atol=1e-4)
    assert enc.encode_crops([]).shape == (0, enc.dim)


def test_preprocessing_is_rgb_imagenet_normalised_bilinear(enc):
    """A box covering exactly the model's input size is a pure colour conversion: check it pixel-exactly."""
    h, w = enc.input_size
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (h + 20, w + 30, 3), dtype=np.uint8)
    x = enc.preprocess(img, np.array([[10, 5, 10 + w, 5 + h]], np.float32))[0].numpy()
    crop = img[5:5 + h, 10:10 + w, ::-1].astype(np.float32) / 255.0  # BGR -> RGB
    mean, std = np.array(enc.spec.mean), np.array(enc.spec.std)
    ref = ((crop - mean) / std).transpose(2, 0, 1)
    np.testing.assert_allclose(x, ref, atol=1e-4)


def test_same_features_as_manual_pipeline(frame):
    """Encoder == cv2 resize + normalise + model + L2, the reference preprocessing, within tolerance."""
    import cv2

    torch.manual_seed(3)
    model = build_model("osnet_x0_25").eval()
    spec = get_spec("osnet_x0_25")
    e = Encoder(model, spec, device="cpu")
    box = np.array([[40, 30, 104, 158]], np.float32)  # 64x128 -> upscaled 2x: bilinear, no aliasing question
    crop = frame[30:158, 40:104]
    h, w = spec.input_size
    rgb = cv2.resize(crop, (w, h), interpolation=cv2.INTER_LINEAR)[..., ::-1].astype(np.float32) / 255
    x = torch.from_numpy(((rgb - spec.mean) / spec.std).transpose(2, 0, 1).copy()).float()[None]
    with torch.no_grad():
        ref = torch.nn.functional.normalize(model(x), dim=1).numpy()
    out = e(frame, box)
    assert float((out * ref).sum()) > 0.999


def test_device_errors():
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            build_encoder("osnet_x0_25", device="cuda")
    with pytest.raises(ValueError, match="device"):
        build_encoder("osnet_x0_25", device="tpu")
    with pytest.raises(ValueError, match="unknown ReID model"):
        build_encoder("osnet_x9", device="cpu")


def test_half_on_cpu_falls_back_to_fp32(frame):
    with pytest.warns(UserWarning):
        e = build_encoder("osnet_x0_25", device="cpu", half=True)
    assert e.half is False and e(frame, BOXES[:1]).dtype == np.float32


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu(frame):  # pragma: no cover - CPU-only CI
    """fp16 + channels_last + pinned upload + CUDA roi_align give the CPU's fp32 features, with the bundled trained
    weights (a random network's features all look alike, which would hide a preprocessing error)."""
    cpu = build_encoder("osnet_x0_25", device="cpu", runtime="torch")
    gpu = build_encoder("osnet_x0_25", device="cuda")
    assert gpu.half and gpu.runtime == "torch"
    many = np.tile(BOXES, (30, 1))  # 120 boxes: two chunks, and a second frame through the pinned buffer
    for img in (frame, frame[::-1].copy()):
        cos = (gpu(img, many) * cpu(img, many)).sum(1)
        assert cos.min() > 0.999


def test_tracker_protocol(enc, frame):
    """The tracker calls encoder(frame, boxes) and reads encoder.dim."""
    from trackreid.types import validate_embeddings

    emb = enc(frame, BOXES)
    assert validate_embeddings(emb, len(BOXES), enc.dim).shape == (4, 512)


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_cpu_runtimes_give_the_same_features_as_torch(frame, runtime):
    """The CPU runtimes (an in-memory export) compute what PyTorch computes."""
    pytest.importorskip(runtime)
    torch.manual_seed(5)
    model = build_model("osnet_x0_25").eval()
    import copy

    fast = Encoder(copy.deepcopy(model), get_spec("osnet_x0_25"), device="cpu", runtime=runtime, threads=1)
    torch_enc = Encoder(model, get_spec("osnet_x0_25"), device="cpu", runtime="torch")
    assert fast.runtime == runtime and torch_enc.runtime == "torch" and fast.threads == 1
    many = np.tile(BOXES, (20, 1))  # 80 boxes: two chunks of 64 and 16
    np.testing.assert_allclose(fast(frame, many), torch_enc(frame, many), atol=1e-4)


def test_auto_runtime_on_cpu_is_one_of_the_measured_candidates():
    """runtime="auto" on the CPU runs the installed runtime measured fastest here (trackreid.reid.runtime_choice;
    tests/reid/test_runtime_choice.py checks the rule and the cache)."""
    import trackreid.reid.encoder as E

    model = build_model("osnet_x0_25").eval()
    enc = Encoder(model, get_spec("osnet_x0_25"), device="cpu", batch_size=8)
    installed = [r for r in E.CPU_AUTO_ORDER if E._AVAILABLE[r]()]
    if not installed:
        assert enc.runtime == "torch" and enc.runtime_choice is None
        return
    choice = enc.runtime_choice
    assert choice["chosen"] == f"{enc.runtime}-fp32" and enc.runtime in installed
    assert set(choice["ms_per_crop"]) == {f"{r}-fp32" for r in installed} and choice["batches"] == [1, 8]
    assert enc.describe()["runtime_choice"] == choice


@pytest.mark.parametrize("name", ["bdb", "pmm"])
def test_onnxruntime_runs_bdb_and_pmm(name, frame):
    pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    model = build_model(name).eval()
    import copy

    ort_enc = Encoder(copy.deepcopy(model), get_spec(name), device="cpu", runtime="onnxruntime")
    ref = Encoder(model, get_spec(name), device="cpu", runtime="torch")(frame, BOXES[:2])
    np.testing.assert_allclose(ort_enc(frame, BOXES[:2]), ref, atol=1e-4)
    assert ort_enc.runtime == "onnxruntime"


def test_runtime_choice_errors_and_fallback(frame, monkeypatch):
    import trackreid.reid.encoder as E

    model = build_model("osnet_x0_25").eval()
    spec = get_spec("osnet_x0_25")
    with pytest.raises(ValueError, match="runtime 'tensorflow'"):
        Encoder(model, spec, device="cpu", runtime="tensorflow")
    monkeypatch.setattr(E, "_AVAILABLE", {"onnxruntime": lambda: False, "openvino": lambda: False})
    assert Encoder(model, spec, device="cpu").runtime == "torch"  # auto with neither installed
    with pytest.raises(ValueError, match="pip install onnx onnxruntime"):
        Encoder(model, spec, device="cpu", runtime="onnxruntime")
    with pytest.raises(ValueError, match="pip install onnx openvino"):
        Encoder(model, spec, device="cpu", runtime="openvino")
    monkeypatch.undo()
    pytest.importorskip("onnxruntime")
    # a graph that disagrees with PyTorch is never used: a warning, and the encoder stays on torch
    monkeypatch.setattr(E._OrtRunner, "__call__", lambda self, x: torch.zeros(len(x), 512))
    with pytest.warns(UserWarning, match="differs from PyTorch"):
        e = Encoder(model, spec, device="cpu", runtime="onnxruntime")
    assert e.runtime == "torch" and np.isfinite(e(frame, BOXES)).all()


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_failed_export_falls_back_to_torch(frame, monkeypatch, runtime):
    pytest.importorskip(runtime)
    import trackreid.reid.encoder as E

    def broken(*a, **k):
        raise RuntimeError("exporter exploded")

    monkeypatch.setattr(E._OrtRunner if runtime == "onnxruntime" else E._OpenVINORunner, "__init__", broken)
    with pytest.warns(UserWarning, match="exporter exploded"):
        e = Encoder(build_model("osnet_x0_25").eval(), get_spec("osnet_x0_25"), device="cpu", runtime=runtime)
    assert e.runtime == "torch" and e(frame, BOXES).shape == (4, 512)
