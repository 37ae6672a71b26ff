"""Precomputed MOT detections served frame by frame."""
from __future__ import annotations

import numpy as np
import pytest

from trackreid.detection.base import CallableDetector, DetectorError, build_detector
from trackreid.detection.motfile import MotFileDetector


@pytest.fixture
def det_txt(tmp_path):
    p = tmp_path / "det.txt"
    p.write_text(
        "2,-1,10,20,30,40,0.9,-1,-1,-1\n"
        "1,-1,1,2,3,4,0.8,-1,-1,-1\n"
        "2,-1,50,60,10,10,0.2,-1,-1,-1\n"
        "4,-1,5,5,0,10,0.9,-1,-1,-1\n"  # zero width: dropped
        "4,-1,7,8,9,10,1.7,-1,-1,-1\n"  # score above 1: clipped
    )
    return p


def test_rows_are_served_per_frame_as_xyxy(det_txt):
    d = MotFileDetector(det_txt)
    np.testing.assert_allclose(d(None, 0), [[1, 2, 4, 6, 0.8, 0]])
    np.testing.assert_allclose(d(None, 1), [[10, 20, 40, 60, 0.9, 0], [50, 60, 60, 70, 0.2, 0]])
    assert d(None, 2).shape == (0, 6) and d(None, 99).shape == (0, 6)
    np.testing.assert_allclose(d(None, 3), [[7, 8, 16, 18, 1.0, 0]])
    assert d(None, 1).dtype == np.float32 and len(d) == 4


def test_conf_threshold_and_dispatch(det_txt):
    d = build_detector(det_txt, conf=0.5)
    assert isinstance(d, MotFileDetector)
    assert len(d(None, 1)) == 1


def test_mot17_public_detections(shared_data):
    path = shared_data / "mot17-mini/MOT17-04-FRCNN/det/det.txt"
    d = MotFileDetector(path, conf=0.0)
    raw = np.loadtxt(path, delimiter=",")
    first = d(None, 0)
    assert len(first) == int((raw[:, 0] == 1).sum()) > 10
    assert (first[:, 2] > first[:, 0]).all() and (first[:, 3] > first[:, 1]).all()


def test_bad_detection_files(tmp_path):
    with pytest.raises(DetectorError, match="does not exist"):
        MotFileDetector(tmp_path / "missing.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("1,-1,a,b,c\n")
    with pytest.raises(DetectorError, match="bad.txt"):
        MotFileDetector(bad)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(DetectorError, match="no detections"):
        MotFileDetector(empty)
    ok = tmp_path / "ok.txt"
    ok.write_text("1,-1,1,2,3,4,0.8\n")
    with pytest.raises(DetectorError, match="only people"):
        MotFileDetector(ok, classes=["car"])


def test_callable_detectors_are_validated():
    d = build_detector(lambda frame, i: [[0, 0, 10, 10, 0.5, 0]] * i)
    assert isinstance(d, CallableDetector)
    assert d(None, 0).shape == (0, 6) and d(None, 2).shape == (2, 6)
    inverted = build_detector(lambda frame, i: [[10, 0, 0, 10, 0.5, 0]])
    with pytest.raises(ValueError, match="inverted"):
        inverted(None, 0)
    with pytest.raises(DetectorError, match="conf"):
        build_detector(lambda f, i: [], conf=2)
    with pytest.raises(DetectorError):
        build_detector(123)
