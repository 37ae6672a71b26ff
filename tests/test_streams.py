"""Several sources in one run: batched steps, per-source outputs equal to single runs, failures kept per source,
global identities across cameras."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from tests._pipeline_data import ColourEncoder, make_sequence, run_threads
from trackreid.io.mot import read_mot
from trackreid.io.sources import Source, SourceInfo, open_source
from trackreid.pipeline import PipelineError, embed_many, run
from trackreid.streams import StreamsRun, track_streams, unique_names

FRAMES = 16


@pytest.fixture(scope="module")
def seq(tmp_path_factory):
    return make_sequence(tmp_path_factory.mktemp("streams"), "SEQ", frames=FRAMES, video=True, images=True)


def _jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_unique_names():
    assert unique_names(["a/cam.mp4", "b/cam.mp4", "0", "x/other.mp4"]) == ["cam", "cam-2", "webcam0", "other"]


def test_mixed_sources_with_one_broken_agree_with_single_runs(seq, tmp_path):
    det = str(seq / "det" / "det.txt")
    single = run(seq / "SEQ.mp4", detector=det, reid="none", output=tmp_path / "single", quiet=True)
    out = tmp_path / "multi"
    steps = list(track_streams([seq / "SEQ.mp4", seq, tmp_path / "missing.mp4"], detector=[det, det, det],
                               reid="none", output=out, quiet=True))
    for name in ("SEQ", "SEQ-2"):  # every frame of both good sources, in order
        assert [s.results[name].index for s in steps if name in s.results] == list(range(FRAMES))
    assert all(set(s.results) == {"SEQ", "SEQ-2"} for s in steps)  # files are stepped together: no timing
    summary = json.loads((out / "summary.json").read_text())
    by_name = {s["name"]: s for s in summary["sources"]}
    assert by_name["missing"]["status"] == "failed" and "does not exist" in by_name["missing"]["message"]
    assert by_name["SEQ"]["status"] == by_name["SEQ-2"]["status"] == "completed"
    assert summary["frames"] == 2 * FRAMES
    ref = read_mot(tmp_path / "single" / "tracks.txt")
    for name in ("SEQ", "SEQ-2"):  # the video and the image folder of the same sequence
        mot = read_mot(out / name / "tracks.txt")
        np.testing.assert_array_equal(mot[:, :2], ref[:, :2])
        np.testing.assert_allclose(mot[:, 2:6], ref[:, 2:6], atol=0.01)
        s = json.loads((out / name / "summary.json").read_text())
        assert s["frames"] == FRAMES and s["unique_identities"] == single["unique_identities"]
    assert run_threads() == []


class _Broken(Source):
    """A source that delivers a few frames, then fails like an unplugged camera."""

    def __init__(self, seq, ok):
        self.frames = list(open_source(seq / "SEQ.mp4"))
        h, w = self.frames[0].shape[:2]
        self.info, self.ok = SourceInfo("cam", "stream", 10.0, w, h, None), ok

    def __iter__(self):
        yield from self.frames[: self.ok]
        raise OSError("camera unplugged")


def test_a_source_failing_mid_run_does_not_stop_the_others(seq, tmp_path):
    det = str(seq / "det" / "det.txt")
    out = tmp_path / "run"
    summary = StreamsRun([seq / "SEQ.mp4", _Broken(seq, 5)], detector=det, reid="none", output=out, quiet=True,
                         names=["good", "bad"]).run()
    good, bad = summary["sources"]
    assert good["status"] == "completed" and good["frames"] == FRAMES
    assert bad["status"] == "failed" and "camera unplugged" in bad["message"] and bad["frames"] == 5
    assert len(_jsonl(out / "bad" / "tracks.jsonl")) == 5  # everything up to the failure is kept
    assert json.loads((out / "bad" / "summary.json").read_text())["status"] == "failed"


def test_bad_multi_source_options(seq, tmp_path):
    det = str(seq / "det" / "det.txt")
    with pytest.raises(PipelineError, match="2 detectors for 3 sources"):
        StreamsRun([seq, seq, seq], detector=[det, det])
    with pytest.raises(PipelineError, match="no source could be opened"):
        StreamsRun([tmp_path / "a.mp4", tmp_path / "b.mp4"], detector=det, reid="none", quiet=True).run()
    assert not (tmp_path / "summary.json").exists()


def test_embed_many_matches_per_frame_calls():
    from trackreid.reid.encoder import build_encoder

    enc = build_encoder("osnet_x0_25", weights="none", device="cpu", runtime="torch")
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (120, 160, 3), dtype=np.uint8) for _ in range(3)]
    dets = [np.array([[10, 10, 40, 90, 0.9, 0], [50, 20, 80, 100, 0.3, 0]], np.float32),
            np.empty((0, 6), np.float32),
            np.array([[100, 5, 150, 110, 0.8, 0]], np.float32)]
    got = embed_many(enc, frames, [dets[0][:1, :4], dets[1][:, :4], dets[2][:, :4]])
    assert got[1] is None
    np.testing.assert_allclose(got[0][0], enc(frames[0], dets[0][:1, :4])[0], atol=1e-4)
    np.testing.assert_allclose(got[2][0], enc(frames[2], dets[2][:, :4])[0], atol=1e-4)


def _reordered(seq, tmp_path, name):
    """The same people seen by a second camera whose detector lists them in the opposite order (so its own
    track IDs differ from the first camera's)."""
    lines = (seq / "det" / "det.txt").read_text().splitlines()
    by_frame: dict[str, list[str]] = {}
    for line in lines:
        by_frame.setdefault(line.split(",")[0], []).append(line)
    path = tmp_path / f"{name}.txt"
    path.write_text("\n".join(l for f in by_frame for l in reversed(by_frame[f])) + "\n")
    return str(path)


def test_global_ids_link_the_same_people_across_cameras(seq, tmp_path):
    det = str(seq / "det" / "det.txt")
    out = tmp_path / "gid"
    summary = StreamsRun([seq / "SEQ.mp4", seq / "SEQ.mp4"], detector=[det, _reordered(seq, tmp_path, "b")],
                         reid=ColourEncoder(), output=out, quiet=True, global_ids=True,
                         tracker_config={"min_hits": 1}).run()
    assert summary["global_identities"] == 3
    a, b = _jsonl(out / "SEQ" / "tracks.jsonl"), _jsonl(out / "SEQ-2" / "tracks.jsonl")
    local_differs = False
    # the files hold each row back until its track's global ID is final: from the first frame on, one person
    # has one global ID in both cameras, and each camera track one global ID over its whole life
    assert [f["frame"] for f in a] == [f["frame"] for f in b] == list(range(1, FRAMES + 1))
    for f in (a, b):
        pairs = {(t["id"], t["global_id"]) for fr in f for t in fr["tracks"]}
        assert len(pairs) == len({i for i, _ in pairs})
    for fa, fb in zip(a, b):
        ga = {tuple(t["box"]): t for t in fa["tracks"]}
        for t in fb["tracks"]:
            same = ga[tuple(t["box"])]
            assert same["global_id"] == t["global_id"]      # one person, one global ID in both cameras
            local_differs |= same["id"] != t["id"]
    assert local_differs
    mot = read_mot(out / "SEQ-2" / "tracks.txt")                # MOT files carry the global ID
    assert set(np.unique(mot[:, 1]).astype(int)) == {t["global_id"] for f in b for t in f["tracks"]}
    assert {t["global_id"] for t in b[-1]["tracks"]} == {t["global_id"] for t in a[-1]["tracks"]}


def test_look_alikes_are_never_merged(seq, tmp_path):
    """Three people who look the same: no distinct match, so no cross-camera link (and never two people of one
    camera under one global ID)."""
    grey = tmp_path / "grey"
    grey.mkdir()

    for i, f in enumerate(open_source(seq / "SEQ.mp4")):
        f = f.copy()
        f[(f[:, :, 0] > 150) | (f[:, :, 1] > 150) | (f[:, :, 2] > 150)] = 200  # every walker the same colour
        cv2.imwrite(str(grey / f"{i + 1:06d}.png"), f)
    det = str(seq / "det" / "det.txt")
    out = tmp_path / "same"
    summary = StreamsRun([grey, grey], detector=[det, _reordered(seq, tmp_path, "b")], reid=ColourEncoder(),
                         output=out, quiet=True, global_ids=True, names=["A", "B"]).run()
    for name in ("A", "B"):
        for f in _jsonl(out / name / "tracks.jsonl"):
            g = [t["global_id"] for t in f["tracks"]]
            assert len(g) == len(set(g))
    assert summary["global_identities"] >= 6
