"""A source's outputs: events, crops and counts from the Python API, identity memory, final IDs in every output."""
from __future__ import annotations

import numpy as np
import pytest

from tests._pipeline_data import ColourEncoder, make_return_sequence
from tests.pipeline.outputs import jsonl
from trackreid.pipeline import run, track_video


def test_lines_zones_and_crops_from_the_python_api(seq, tmp_path):
    """track_video(..., lines=, zones=): events on each FrameResult, events.jsonl as the run goes, totals in the
    summary; --save-crops fills a Market-1501 layout. (No gap filling here: its wait, ``max_gap`` frames, is
    longer than this sequence.)"""
    out = tmp_path / "events"
    results = []
    gen = track_video(seq / "SEQ.mp4", reid="none", detector=seq / "det" / "det.txt", output=out, quiet=True,
                      lines=["50,0,50,240:mid"], zones=["0,0,120,0,120,240,0,240:left"], save_crops=2,
                      tracker_config={"min_hits": 1}, max_gap=0)
    with pytest.raises(StopIteration) as stop:
        while True:
            results.append(next(gen))
    summary = stop.value.value
    events = [e for r in results for e in r.events]
    assert {e["event"] for e in events} >= {"enter", "zone_enter", "line_cross"}
    on_disk = jsonl(out / "events.jsonl")
    assert on_disk[: len(events)] == events  # written as the run goes; the end of the stream closes the rest
    assert {e["event"] for e in on_disk[len(events):]} <= {"exit", "zone_exit"}
    crossing = [e for e in events if e["event"] == "line_cross"]
    assert len(crossing) == 1 and crossing[0]["name"] == "mid"  # the walker moving right crosses x=50 once (centre 32 -> 92)
    assert summary["events"]["lines"]["mid"]["people_in"] + summary["events"]["lines"]["mid"]["people_out"] == 1
    assert summary["events"]["zones"]["left"]["visitors"] >= 1
    assert summary["events"]["people"] == 3


def test_a_returning_person_keeps_the_id_and_is_marked(tmp_path):
    """Identity memory in the pipeline: the red walker leaves for 20 frames (longer than track_buffer, so the
    track is removed) and comes back elsewhere with the same ID; tracks.jsonl marks the re-entry and the summary
    counts it."""
    seq = make_return_sequence(tmp_path)
    out = tmp_path / "ret"
    summary = run(seq / "RET.mp4", reid=ColourEncoder(), detector=seq / "det" / "det.txt", output=out, quiet=True,
                  tracker_config={"track_buffer": 5})
    lines = jsonl(out / "tracks.jsonl")
    before = {t["id"] for t in lines[5]["tracks"]}
    after = {t["id"] for t in lines[35]["tracks"]}
    assert before == after and len(after) == 2
    marked = [(f["frame"], t["id"], t["reentered_after"]) for f in lines for t in f["tracks"] if "reentered_after" in t]
    assert len(marked) == 1 and marked[0][2] >= 20
    assert summary["reentries"] == 1 and summary["memory_size"] >= 0 and summary["unique_identities"] == 2
    off = run(seq / "RET.mp4", reid=ColourEncoder(), detector=seq / "det" / "det.txt", quiet=True,
              tracker_config={"track_buffer": 5, "memory": False})
    assert off["unique_identities"] == 3 and off["reentries"] == 0  # without the memory she is someone new


def test_events_crops_and_counts_carry_only_the_ids_of_the_mot_file(tmp_path):
    """A returning woman is first seen walking in at the border (a poor view): she gets a fresh ID, which the
    identity memory renames to her old one a few frames later. Every output keys her to the final ID: events.jsonl,
    crops/ and the summary's people counts hold only IDs of tracks.txt, never the provisional one."""
    seq = make_return_sequence(tmp_path, frames=60, gone=(10, 30), height=70, cut_in=5, name="CUT")
    out = tmp_path / "cut"
    shown = []
    gen = track_video(seq / "CUT.mp4", reid=ColourEncoder(), detector=seq / "det" / "det.txt", output=out,
                      quiet=True, tracker_config={"track_buffer": 5}, lines=["150,0,150,240:mid"],
                      zones=["0,0,100,0,100,240,0,240:left"], save_crops=2)
    with pytest.raises(StopIteration) as stop:
        while True:
            shown.append(set(next(gen).tracks[:, 4].astype(int).tolist()))
    summary = stop.value.value
    assert len(set().union(*shown)) == 3                      # the per-frame results showed the provisional ID
    mot_ids = set(np.loadtxt(out / "tracks.txt", delimiter=",", ndmin=2)[:, 1].astype(int).tolist())
    assert len(mot_ids) == 2 and summary["unique_identities"] == 2
    jsonl_ids = {t["id"] for f in jsonl(out / "tracks.jsonl") for t in f["tracks"]}
    event_ids = {e["id"] for e in jsonl(out / "events.jsonl")}
    crop_ids = {int(p.name[:4]) for p in (out / "crops").glob("*.jpg")}
    assert jsonl_ids == mot_ids and event_ids == mot_ids and crop_ids == mot_ids
    assert summary["events"]["people"] == 2
    assert summary["events"]["zones"]["left"]["visitors"] <= 2


def test_outputs_hold_rows_until_a_young_track_is_recognised():
    """FinalRows.for_tracker: a returning person first gets a fresh ID (cut off at the border), then the identity
    memory recognises her; the rows written hold her remembered ID from her first row back, while each update
    showed the fresh one. Without the memory nothing is held."""
    from trackreid import Tracker, TrackerConfig
    from trackreid.io.deferred import FinalRows

    class Sink:
        def __init__(self):
            self.rows = []

        def write(self, frame_id, tracks, annotated=None, extra=None, global_ids=None, reentries=None):
            assert global_ids is None                             # one camera: the IDs themselves are rewritten
            self.rows += [(frame_id, int(i)) for i in tracks[:, 4]]

        def close(self, summary=None):
            self.closed = True

    def unit(v):
        return (v / np.linalg.norm(v)).astype(np.float32)

    rng = np.random.default_rng(0)
    look, off = unit(rng.normal(size=32)), None
    off = unit(look + 1.2 * unit(rng.normal(size=32)))           # cut-off views: ~0.35 from her look
    tracker = Tracker(TrackerConfig(track_buffer=3, memory_recall_frames=15))
    sink = Sink()
    out = FinalRows.for_tracker(sink, tracker)
    assert FinalRows.for_tracker(sink, Tracker(TrackerConfig(memory=False))).final_ids is None
    shown = []
    for f in range(40):
        if 10 <= f < 20:                                          # away, long enough to be removed
            dets, emb = np.empty((0, 6), np.float32), None
        else:
            x1 = 0.0 if 20 <= f < 24 else 10.0 + 2 * f
            dets = np.array([[x1, 50, x1 + 40, 150, 0.9, 0]], np.float32)
            emb = (off if 20 <= f < 24 else look)[None]
        tracks = tracker.update(dets, embeddings=emb)
        shown += [(f + 1, int(i)) for i in tracks[:, 4]]
        out.write(f + 1, tracks)
    out.close()
    assert {i for _, i in shown} == {1, 2}                        # fresh ID 2 for a few frames, then 1 again
    assert sink.rows == [(f, 1) for f, _ in shown] and sink.closed


