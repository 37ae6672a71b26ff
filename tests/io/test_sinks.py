"""Run outputs (MOT, JSON lines, video, summary), the video writer and track drawing."""
from __future__ import annotations

import json

import cv2

import numpy as np
import pytest

from trackreid.io.draw import TrackDrawer, id_colors
from trackreid.io.mot import read_mot
from trackreid.io.atomic import write_json_atomic
from trackreid.io.sinks import RunOutputs, next_run_dir, tracks_to_records
from trackreid.io.video import VideoWriter, video_info


def _tracks(frame: int) -> np.ndarray:
    # two tracks moving right; id 3 disappears after frame 2
    rows = [[10 + frame, 20, 40 + frame, 80, 1, 0.9, 0, 0], [100, 30 + frame, 130, 90 + frame, 3, 0.75, 0, 1]]
    return np.asarray(rows[: 2 if frame <= 2 else 1], np.float32)


def test_run_outputs_agree_with_each_other(tmp_path):
    out = RunOutputs(tmp_path / "run", fps=10, size=(160, 120), class_names={0: "person"})
    img = np.zeros((120, 160, 3), np.uint8)
    for f in range(1, 5):
        tr = _tracks(f)
        out.write(f, tr, out.drawer.draw(img, tr), extra={"time_s": (f - 1) / 10})
    out.write(5, np.empty((0, 8), np.float32), img)  # a frame without tracks still gets a JSON line
    out.close({"frames": 5})
    out.close({"frames": 5})  # idempotent

    mot = read_mot(tmp_path / "run" / "tracks.txt")
    lines = [json.loads(s) for s in (tmp_path / "run" / "tracks.jsonl").read_text().splitlines()]
    assert [rec["frame"] for rec in lines] == [1, 2, 3, 4, 5]
    assert lines[-1]["tracks"] == [] and lines[1]["time_s"] == pytest.approx(0.1)
    from_json = np.array([[rec["frame"], t["id"], t["box"][0], t["box"][1], t["box"][2] - t["box"][0],
                           t["box"][3] - t["box"][1], t["score"]] for rec in lines for t in rec["tracks"]])
    np.testing.assert_allclose(mot[:, :7], from_json, atol=0.02)
    assert json.loads((tmp_path / "run" / "summary.json").read_text()) == {"frames": 5}
    assert video_info(tmp_path / "run" / "annotated.mp4")["frames"] == 5


def test_records_layout():
    rec = tracks_to_records(np.array([[1.234, 2, 3, 4.567, 7, 0.51234, 0, 2]], np.float32))
    assert rec == [{"id": 7, "box": [1.23, 2.0, 3.0, 4.57], "score": 0.5123, "cls": 0, "det": 2}]


def test_next_run_dir_numbers_existing_folders(tmp_path):
    assert next_run_dir(tmp_path, "street") == tmp_path / "street"
    (tmp_path / "street").mkdir()
    assert next_run_dir(tmp_path, "street") == tmp_path / "street-2"
    (tmp_path / "street-2").mkdir()
    assert next_run_dir(tmp_path, "street") == tmp_path / "street-3"
    assert next_run_dir(tmp_path, "street", exist_ok=True) == tmp_path / "street"


def test_write_json_atomic_leaves_no_temporary_files(tmp_path):
    write_json_atomic(tmp_path / "s.json", {"a": np.float32(1.5), "b": np.arange(2), "c": tmp_path})
    assert json.loads((tmp_path / "s.json").read_text()) == {"a": 1.5, "b": [0, 1], "c": str(tmp_path)}
    with pytest.raises(TypeError):
        write_json_atomic(tmp_path / "s.json", {"bad": object()})
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]
    assert json.loads((tmp_path / "s.json").read_text())["a"] == 1.5  # the old file survives a failed write


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_video_writer_containers_and_resizing(tmp_path, suffix):
    path = tmp_path / f"v{suffix}"
    with VideoWriter(path, fps=5, size=(64, 48)) as w:
        for i in range(6):
            size = (48, 64) if i % 2 == 0 else (30, 40)  # odd frames get resized to the first size
            w.write(np.full((*size, 3), i * 30, np.uint8))
    info = video_info(path)
    assert (info["frames"], info["width"], info["height"]) == (6, 64, 48)
    with pytest.raises(ValueError, match="suffix"):
        VideoWriter(tmp_path / "v.gif", fps=5, size=(64, 48))


def test_id_colours_are_stable_and_distinct():
    c = id_colors(np.arange(1, 41))
    assert c.shape == (40, 3) and c.dtype == np.uint8
    assert len({tuple(x) for x in c.tolist()}) == 40
    assert (id_colors([7]) == id_colors([3, 7])[1]).all()  # an id's colour does not depend on the others
    assert np.abs(c[:-1].astype(int) - c[1:].astype(int)).sum(axis=1).min() > 30  # neighbours differ


def test_drawer_draws_in_the_id_colour_and_forgets_old_trails():
    img = np.zeros((100, 100, 3), np.uint8)
    d = TrackDrawer(trail=3)
    tr = np.array([[10, 10, 50, 90, 5, 0.9, 0, 0]], np.float32)
    out = d.draw(img, tr)
    assert img.sum() == 0  # the input is not modified
    assert tuple(out[50, 10]) == tuple(id_colors([5])[0])  # left edge of the box
    for _ in range(5):
        d.draw(img, np.empty((0, 8), np.float32))
    assert 5 not in d._trails  # a trail is dropped once its id is gone for longer than the trail


def test_labels_are_never_covered_by_another_box_or_label():
    """Two people side by side, one box's edge through where the other's label goes: every label is drawn after
    every box, and no two labels overlap."""
    from trackreid.io.draw import _label_place

    img = np.zeros((200, 200, 3), np.uint8)
    tr = np.array([[40, 60, 80, 180, 9, 0.9, 0, 0],    # label 9 goes above (40..., 60 - h)
                   [44, 30, 90, 190, 14, 0.9, 0, 1]],  # box 14: its left edge x=44 runs through that spot
                  np.float32)
    out = TrackDrawer(trail=0).draw(img, tr)
    c14 = tuple(int(v) for v in id_colors([14])[0])
    (tw, tht), base = cv2.getTextSize("9", cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
    region = out[60 - (tht + base + 1):60, 40:40 + tw + 2].reshape(-1, 3)
    assert not any(tuple(int(v) for v in px) == c14 for px in region)  # box 14's edge does not cut label 9
    placed = [(40, 40, 60, 60)]
    x, y = _label_place((40, 60, 80, 180), 20, 20, placed, 200, 200)  # its first spot is taken: another one
    assert max(0, min(x + 20, 60) - max(x, 40)) * max(0, min(y + 20, 60) - max(y, 40)) == 0
