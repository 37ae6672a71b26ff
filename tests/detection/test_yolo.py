"""The Ultralytics detector: clear errors before any download or traceback, and a real model on real frames."""
from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from trackreid.detection.base import DetectorError, build_detector
from trackreid.detection.yolo import YoloDetector, resolve_classes

COCO = {0: "person", 1: "bicycle", 2: "car"}


def test_resolve_classes():
    assert resolve_classes(("person",), COCO) == [0]
    assert resolve_classes(["car", "0", 1], COCO) == [0, 1, 2]
    assert resolve_classes("Person", COCO) == [0]
    assert resolve_classes(None, COCO) is None and resolve_classes(["all"], COCO) is None
    with pytest.raises(DetectorError, match="'dog' is not one of"):
        resolve_classes(["dog"], COCO)


def test_missing_paths_fail_at_once(tmp_path):
    t0 = time.monotonic()
    with pytest.raises(DetectorError, match="does not exist"):
        YoloDetector(tmp_path / "model.onnx")
    with pytest.raises(DetectorError, match="does not exist"):
        build_detector("no_such_model")  # no suffix, not a file: never handed to a downloader
    assert time.monotonic() - t0 < 5


def test_a_file_that_is_not_a_model(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(DetectorError, match="cannot load detector"):
        YoloDetector(junk)


def test_offline_download_failure_says_how_to_pass_a_local_model(monkeypatch):
    import ultralytics

    def offline(*a, **k):
        raise ConnectionError("Download failure for https://github.com/.../yolo11n.pt. Environment may be offline.")

    monkeypatch.setattr(ultralytics, "YOLO", offline)
    with pytest.raises(DetectorError, match=r"could not be downloaded.*--detector PATH"):
        YoloDetector("yolo11n.pt")


def test_openvino_detector_finds_people_on_a_real_frame(shared_data):
    pytest.importorskip("openvino")
    model = shared_data / "detectors" / "yolov8n_int8_openvino_model"
    cap = cv2.VideoCapture(str(shared_data / "videos" / "street-302f.mp4"))
    ok, frame = cap.read()
    cap.release()
    assert ok
    det = build_detector(model, classes=("person",), conf=0.25, device="cpu")
    assert det.class_names[0] == "person"
    out = det(frame, 0)
    assert out.dtype == np.float32 and out.shape[1] == 6 and len(out) >= 5
    assert (out[:, 5] == 0).all() and (out[:, 4] >= 0.25).all()
    assert (out[:, 2] > out[:, 0]).all() and (out[:, 2] <= frame.shape[1] + 1).all()
    everything = build_detector(model, classes=None, conf=0.25, device="cpu")(frame, 0)
    assert len(everything) >= len(out)


def test_loading_and_running_a_model_keeps_torch_threads(shared_data):
    """Ultralytics' device selection sets torch's thread count for the whole process (cores - 1); our detector
    must leave the caller's setting as it was (the ReID runtimes are sized from it)."""
    pytest.importorskip("openvino")
    import torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(3)
        det = build_detector(shared_data / "detectors" / "yolov8n_int8_openvino_model", device="cpu")
        assert torch.get_num_threads() == 3
        det(np.zeros((240, 320, 3), np.uint8), 0)
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
