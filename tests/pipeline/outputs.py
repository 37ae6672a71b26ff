"""Shared checks of the pipeline tests: the outputs of a run agree with each other."""
from __future__ import annotations

import json

import numpy as np

from trackreid.io.mot import read_mot
from trackreid.io.video import video_info

FRAMES = 16


def jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def check_outputs_agree(out, frames, mot_name="tracks.txt"):
    summary = json.loads((out / "summary.json").read_text())
    mot = read_mot(out / mot_name)
    lines = jsonl(out / "tracks.jsonl")
    assert summary["frames"] == frames == len(lines)
    assert [r["frame"] for r in lines] == list(range(1, frames + 1))
    rows = [(r["frame"], t["id"], *t["box"]) for r in lines for t in r["tracks"]]
    assert len(rows) == len(mot) == summary["track_rows"]
    js = np.array(rows, np.float64).reshape(-1, 6)
    np.testing.assert_allclose(mot[:, :2], js[:, :2])
    np.testing.assert_allclose(mot[:, 2:4], js[:, 2:4], atol=0.01)
    np.testing.assert_allclose(mot[:, 2:4] + mot[:, 4:6], js[:, 4:6], atol=0.02)
    assert summary["unique_identities"] == len(np.unique(mot[:, 1]))
    if (out / "annotated.mp4").exists():
        assert video_info(out / "annotated.mp4")["frames"] == frames
    return summary, mot, lines
