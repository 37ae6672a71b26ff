"""ReIDTracker drives supervision's LineZone, PolygonZone, DetectionsSmoother and annotators with stable IDs."""
from __future__ import annotations

import numpy as np
import pytest

sv = pytest.importorskip("supervision")

from trackreid.integrations.supervision import ReIDTracker  # noqa: E402

W, H, LINE_Y, FRAMES = 640, 480, 240, 36
LOOKS = {"a": ((40, 40, 200), (90, 60, 30)), "b": ((60, 170, 60), (40, 40, 40))}  # (shirt, trousers) BGR


def _walk(frame_index: int):
    """Hand-made detections: two people walking down across y=240 on paths that cross (a: left to right, b: right
    to left; their boxes coincide around frame 22, at the line); b is missed in frames 2-3 (above the line: a
    LineZone forgets an ID absent for 2 frames); a box seen in frame 8 only (``fp``) and a low-score box in frame 20
    (``low``) belong to nobody."""
    boxes, names, scores = [], [], []
    y = 60 + 8 * frame_index
    for name, x in (("a", 150 + 6 * frame_index), ("b", 420 - 6 * frame_index)):
        if name == "b" and frame_index in (2, 3):
            continue
        boxes.append((x, y, x + 50, y + 140))
        names.append(name)
        scores.append(0.9)
    if frame_index == 8:
        boxes.append((560, 40, 600, 120)), names.append("fp"), scores.append(0.9)
    if frame_index == 20:
        boxes.append((20, 300, 60, 380)), names.append("low"), scores.append(0.2)
    return sv.Detections(xyxy=np.array(boxes, np.float32), confidence=np.array(scores, np.float32),
                         class_id=np.zeros(len(boxes), int), data={"who": np.array(names)})


def _render(dets) -> np.ndarray:
    """The frame those detections were found in: each person a shirt over trousers on a grey street."""
    frame = np.full((H, W, 3), 128, np.uint8)
    for (x1, y1, x2, y2), who in zip(dets.xyxy.astype(int), dets.data["who"]):
        shirt, trousers = LOOKS.get(who, ((200, 200, 200), (20, 20, 20)))
        mid = (y1 + y2) // 2
        frame[max(y1, 0):mid, max(x1, 0):x2] = shirt
        frame[mid:y2, max(x1, 0):x2] = trousers
    return frame


def _run(tracker, *consumers):
    outs = []
    for i in range(FRAMES):
        dets = _walk(i)
        out = tracker.update(dets, _render(dets))
        for consume in consumers:
            consume(out)
        outs.append(out)
    return outs


@pytest.fixture(scope="module")
def tracker():
    return ReIDTracker()  # trackreid's default encoder (OSNet x0.25, bundled weights)


def test_line_zone_counts_each_person_once_with_stable_ids(tracker):
    tracker.reset()
    line = sv.LineZone(sv.Point(0, LINE_Y), sv.Point(W, LINE_Y))
    outs = _run(tracker, line.trigger)
    assert line.in_count + line.out_count == 2 and min(line.in_count, line.out_count) == 0
    ids_of = {}
    for out in outs:
        assert out.tracker_id is not None and out.tracker_id.dtype.kind == "i"
        for who, tid in zip(out.data["who"], out.tracker_id):
            ids_of.setdefault(str(who), set()).add(int(tid))
    assert set(ids_of) == {"a", "b"}  # the one-frame box and the low-score box are dropped (no track)
    assert len(ids_of["a"]) == len(ids_of["b"]) == 1 and ids_of["a"] != ids_of["b"]
    assert sum("b" in out.data["who"] for out in outs) == FRAMES - 2  # b back after the miss, under its ID


def test_zones_smoother_and_annotators_work_on_our_ids(tracker):
    tracker.reset()
    zone = sv.PolygonZone(np.array([[0, 0], [W, 0], [W, LINE_Y], [0, LINE_Y]]))
    smoother = sv.DetectionsSmoother(length=3)
    inside_counts = []
    last = {}

    def consume(out):
        smooth = smoother.update_with_detections(out)
        inside_counts.append(int(zone.trigger(smooth).sum()))
        labels = [f"#{t}" for t in smooth.tracker_id]
        frame = sv.LabelAnnotator().annotate(np.zeros((H, W, 3), np.uint8), smooth, labels=labels)
        last.update(frame=frame, smooth=smooth)

    _run(tracker, consume)
    assert inside_counts[0] == 2 and inside_counts[-1] == 0  # both start above the line and end below it
    assert sorted(last["smooth"].tracker_id.tolist()) == [1, 2] and last["frame"].any()


def test_keep_unmatched_marks_them_minus_one():
    tracker = ReIDTracker(reid="none", keep_unmatched=True)
    outs = [tracker.update(_walk(i)) for i in range(10)]
    fp = outs[8][outs[8].data["who"] == "fp"]
    assert len(outs[8]) == 3 and fp.tracker_id.tolist() == [-1]
    assert all(len(o) == len(_walk(i)) for i, o in enumerate(outs))  # nothing dropped


def test_bad_input_is_one_clear_error(tracker):
    with pytest.raises(ValueError, match="expected supervision Detections"):
        tracker.update(np.zeros((1, 6)), np.zeros((H, W, 3), np.uint8))
    with pytest.raises(ValueError, match=r"pass the frame .* or build ReIDTracker\(reid='none'\)"):
        tracker.update(_walk(0))
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['detector'\]"):
        ReIDTracker(detector="yolo11n.pt")
    empty = tracker.update(sv.Detections.empty(), np.zeros((H, W, 3), np.uint8))
    assert len(empty) == 0 and empty.tracker_id is not None
