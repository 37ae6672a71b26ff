"""``imgsz`` for every detector, and fixed-size OpenVINO exports run at another size through a cached resized
copy (``trackreid.detection.openvino_size``)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from trackreid.detection.base import DetectorError, build_detector
from trackreid.detection.openvino_size import (check_imgsz, detector_cache_dir, ir_input_size, openvino_xml,
                                               resized_openvino_model)
from trackreid.detection.yolo import YoloDetector


def test_check_imgsz_forms():
    assert check_imgsz(None) is None
    assert check_imgsz(480) == (480, 480)
    assert check_imgsz((384, 640)) == (384, 640)
    assert check_imgsz("384x640") == check_imgsz("384,640") == check_imgsz(" 384 , 640 ") == (384, 640)
    assert check_imgsz(np.int64(320)) == (320, 320)


@pytest.mark.parametrize("bad, message", [
    (500, r"500 is not a multiple of 32 .*use 480 or 512"),
    (16, r"16 is not a multiple of 32 .*use 32"),
    ((384, 650), r"650 is not a multiple of 32"),
    (0, r"0 is not a positive multiple of 32; use 32 or more"),
    (-64, r"-64 is not a positive multiple of 32"),
    ("big", r"expected N or HxW"),
    ((1, 2, 3), r"expected N or \(height, width\)"),
    (True, r"expected N or \(height, width\)"),
    (480.0, r"expected N or \(height, width\)"),
])
def test_check_imgsz_refuses_with_a_clear_message(bad, message):
    with pytest.raises(DetectorError, match=message):
        check_imgsz(bad)


def test_detector_refuses_a_size_that_is_not_a_multiple_of_32_before_loading(tmp_path):
    junk = tmp_path / "model.pt"
    junk.write_bytes(b"never loaded")
    with pytest.raises(DetectorError, match=r"imgsz: 500 is not a multiple of 32 .*use 480 or 512"):
        build_detector(junk, imgsz=500)


def test_cache_lives_in_the_weights_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("TRACKREID_WEIGHTS", str(tmp_path / "w"))
    assert detector_cache_dir() == tmp_path / "w" / "detectors"


def _tiny_ir(folder, shape):
    """A one-convolution OpenVINO IR with the given input shape (no detection head)."""
    ov = pytest.importorskip("openvino")
    from openvino import opset13 as ops

    x = ops.parameter(ov.PartialShape(shape), np.float32, name="images")
    w = ops.constant(np.ones((4, 3, 3, 3), np.float32))
    y = ops.convolution(x, w, [1, 1], [1, 1], [1, 1], [1, 1])
    folder.mkdir()
    ov.save_model(ov.Model([y], [x], "tiny"), str(folder / "tiny.xml"))
    return folder


def test_a_head_it_does_not_know_is_refused_not_guessed(tmp_path):
    ir = _tiny_ir(tmp_path / "tiny_openvino_model", [1, 3, 64, 64])
    with pytest.raises(DetectorError, match=r"cannot run OpenVINO model .* at imgsz 32x32: .*anchor-grid head.*"
                                            r"export it at that size"):
        resized_openvino_model(ir, 32, cache=tmp_path / "cache")
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_a_dynamic_ir_and_the_same_size_are_used_as_they_are(tmp_path):
    dyn = _tiny_ir(tmp_path / "dyn_openvino_model", [1, 3, -1, -1])
    assert ir_input_size(openvino_xml(dyn)) is None
    assert resized_openvino_model(dyn, 320, cache=tmp_path / "cache") == dyn
    fixed = _tiny_ir(tmp_path / "fixed_openvino_model", [1, 3, 64, 64])
    assert resized_openvino_model(fixed, 64, cache=tmp_path / "cache") == fixed
    assert not (tmp_path / "cache").exists()


@pytest.fixture(scope="module")
def yolo_ir(shared_data):
    pytest.importorskip("openvino")
    return shared_data / "detectors" / "yolov8n_int8_openvino_model"


def test_resized_ir_is_made_once_and_reused(yolo_ir, tmp_path, monkeypatch):
    import yaml

    from trackreid.detection import openvino_size

    cache = tmp_path / "cache"
    out = resized_openvino_model(yolo_ir, 480, cache=cache)
    assert out.parent == cache and out.name.endswith("-480x480_openvino_model")  # Ultralytics reads it as OpenVINO
    assert ir_input_size(openvino_xml(out)) == (480, 480)
    meta = yaml.safe_load((out / "metadata.yaml").read_text())
    assert meta["imgsz"] == [480, 480] and meta["names"][0] == "person" and meta["stride"] == 32
    assert [p.name for p in cache.iterdir()] == [out.name]  # no temporary folder left behind

    def rebuilt(*a, **k):
        raise AssertionError("the cached copy should have been reused")

    monkeypatch.setattr(openvino_size, "_write_resized", rebuilt)
    assert resized_openvino_model(yolo_ir, (480, 480), cache=cache) == out
    assert resized_openvino_model(yolo_ir / "yolov8n.xml", 480, cache=cache) == out  # the .xml names the same model
    assert resized_openvino_model(yolo_ir, 640, cache=cache) == yolo_ir  # its own size: the export itself


def _matched(a: np.ndarray, b: np.ndarray, min_iou: float) -> np.ndarray:
    """For each box of ``a``, whether some box of ``b`` overlaps it by ``min_iou``."""
    if not len(a) or not len(b):
        return np.zeros(len(a), bool)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:4], b[None, :, 2:4])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    return (inter / (area(a)[:, None] + area(b)[None, :] - inter)).max(1) >= min_iou


def test_detections_at_a_resized_input_match_the_640_ones(yolo_ir, shared_data, tmp_path, monkeypatch):
    """A wrong anchor grid would put boxes in the wrong place: at 384x640 (the same scale as 640 on a 16:9 frame,
    less padding) the boxes are the 640 ones; at 480 every box is one the 640 input also finds."""
    monkeypatch.setenv("TRACKREID_WEIGHTS", str(tmp_path / "weights"))
    frame = cv2.imread(str(shared_data / "mot17-09-half" / "MOT17-09-FRCNN" / "img1" / "000001.jpg"))
    assert frame is not None and frame.shape == (1080, 1920, 3)
    ref = build_detector(yolo_ir, conf=0.25)(frame, 0)
    ref_low = build_detector(yolo_ir, conf=0.1)(frame, 0)
    rect = build_detector(yolo_ir, conf=0.25, imgsz=(384, 640))
    assert isinstance(rect, YoloDetector) and rect.imgsz == (384, 640)
    assert rect.model_path.startswith(str(tmp_path / "weights" / "detectors"))
    from trackreid.pipeline.models import detector_report

    report = detector_report(rect)  # summary.json says which size ran, and from which file
    assert report["imgsz"] == [384, 640] and report["model_file"] == rect.model_path
    got = rect(frame, 0)
    assert len(ref) >= 5 and abs(len(got) - len(ref)) <= 1
    assert _matched(ref, got, 0.9).mean() >= 0.9 and _matched(got, ref, 0.9).mean() >= 0.9
    square = build_detector(yolo_ir, conf=0.25, imgsz=480)
    small = square(frame, 0)
    assert square.imgsz == 480 and len(small) >= 3
    assert _matched(small, ref_low, 0.6).all()  # fewer people, but each where the 640 input puts one
    assert len(list((tmp_path / "weights" / "detectors").iterdir())) == 2  # 384x640 and 480x480, each made once
