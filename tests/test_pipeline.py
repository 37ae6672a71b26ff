"""track_video end to end: results per frame, outputs that agree, interruptions that keep outputs, real data."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from tests._pipeline_data import ColourEncoder, make_return_sequence, make_sequence, run_threads
from trackreid.io.mot import read_mot
from trackreid.io.sources import Source, SourceInfo
from trackreid.io.video import video_info
from trackreid.pipeline import PipelineError, TrackingRun, resolve_device, run, track_video

FRAMES = 16


@pytest.fixture(scope="module")
def seq(tmp_path_factory):
    return make_sequence(tmp_path_factory.mktemp("pipe"), "SEQ", frames=FRAMES, video=True, images=True)


def _jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _check_outputs_agree(out, frames, mot_name="tracks.txt"):
    summary = json.loads((out / "summary.json").read_text())
    mot = read_mot(out / mot_name)
    lines = _jsonl(out / "tracks.jsonl")
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


def test_video_with_precomputed_detections_and_no_reid(seq, tmp_path):
    out = tmp_path / "run"
    gen = track_video(seq / "SEQ.mp4", reid="none", detector=seq / "det" / "det.txt", output=out, quiet=True)
    results = []
    with pytest.raises(StopIteration) as stop:
        while True:
            results.append(next(gen))
    summary = stop.value.value  # the generator's return value
    assert len(results) == FRAMES and [r.frame_id for r in results] == list(range(1, FRAMES + 1))
    assert all(r.tracks.shape[1] == 8 and r.detections.shape == (3, 6) for r in results)
    assert set(results[0].timings) == {"decode", "detect", "embed", "associate", "write"}
    on_disk, mot, _ = _check_outputs_agree(out, FRAMES)
    assert on_disk["status"] == "completed" and summary == on_disk
    assert summary["unique_identities"] == 3  # three walkers who never meet keep three identities
    assert set(np.unique(mot[:, 1])) == set(results[-1].ids.tolist())
    assert summary["stage_ms"]["embed"] == 0.0 and summary["reid"] == "none"
    assert summary["source_info"]["num_frames"] == FRAMES
    assert summary["device"] == "cpu" or summary["device"].startswith("cuda")


def test_image_folder_source_max_frames_and_run(seq, tmp_path):
    out = tmp_path / "imgs"
    summary = run(seq, reid="none", detector=seq / "det" / "det.txt", output=out, quiet=True, max_frames=5,
                  save_video=False, mot_name="SEQ.txt")
    assert summary["frames"] == 5 and summary["status"] == "completed"
    assert not (out / "annotated.mp4").exists()
    mot = read_mot(out / "SEQ.txt")
    assert mot[:, 0].max() <= 5
    assert summary["outputs"]["mot"].endswith("SEQ.txt")


def test_api_without_output_writes_nothing(seq, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = TrackingRun(seq / "SEQ.mp4", reid="none", detector=seq / "det" / "det.txt", quiet=True)
    n = sum(1 for _ in r)
    assert n == FRAMES and r.summary["frames"] == FRAMES and r.summary["outputs"] == {}
    assert list(tmp_path.iterdir()) == []


class _CountingEncoder:
    """A stand-in encoder: one fixed code per walker, from the box position (tests only the plumbing)."""

    dim = 8

    def __init__(self):
        self.boxes_seen = []

    def __call__(self, frame, boxes):
        self.boxes_seen.append(len(boxes))
        e = np.zeros((len(boxes), self.dim), np.float32)
        e[np.arange(len(boxes)), (boxes[:, 1] // 80).astype(int) % self.dim] = 1.0
        return e


def test_encoder_sees_only_detections_the_tracker_reads_by_appearance(seq, tmp_path):
    det = tmp_path / "det.txt"  # one low-score row per frame (0.3 < track_high_thresh 0.5)
    lines = (seq / "det" / "det.txt").read_text().splitlines()
    det.write_text("\n".join(line.replace(",0.9,", ",0.3,") if i % 3 == 2 else line
                             for i, line in enumerate(lines)) + "\n")
    enc = _CountingEncoder()
    r = TrackingRun(seq / "SEQ.mp4", reid=enc, detector=det, quiet=True, conf=0.1)
    results = list(r)
    assert enc.boxes_seen == [2] * FRAMES
    assert r.summary["frames"] == FRAMES and r.summary["unique_identities"] >= 2
    assert all(len(x.detections) == 3 for x in results)


def test_leaving_the_loop_early_keeps_every_output(seq, tmp_path):
    out = tmp_path / "early"
    r = TrackingRun(seq / "SEQ.mp4", reid="none", detector=seq / "det" / "det.txt", output=out, quiet=True)
    for res in r:
        if res.frame_id == 6:
            break
    del res
    import gc

    gc.collect()  # a broken-out generator is finalised when collected; TrackingRun users may also close it
    summary, mot, _ = _check_outputs_agree(out, 6)
    assert summary["status"] == "stopped" and r.summary == summary
    assert run_threads() == []


class _FailingSource(Source):
    """Delivers ``ok`` frames of a real video, then fails like a camera that was unplugged."""

    def __init__(self, frames, ok, exc):
        self.frames, self.ok, self.exc = frames, ok, exc
        h, w = frames[0].shape[:2]
        self.info = SourceInfo("cam", "stream", 10.0, w, h, None)

    def __iter__(self):
        yield from self.frames[: self.ok]
        raise self.exc


@pytest.mark.parametrize("exc, status", [(OSError("stream broke"), "failed"), (KeyboardInterrupt(), "interrupted")])
def test_a_failing_source_keeps_outputs_up_to_the_last_frame(seq, tmp_path, exc, status):
    from trackreid.io.sources import open_source

    frames = list(open_source(seq / "SEQ.mp4"))
    out = tmp_path / "broken"
    r = TrackingRun(_FailingSource(frames, 7, exc), reid="none", detector=seq / "det" / "det.txt", output=out,
                    quiet=True)
    with pytest.raises(type(exc)):
        r.run()
    summary, _, _ = _check_outputs_agree(out, 7)
    assert summary["status"] == status
    assert run_threads() == []


def test_bad_options_fail_before_any_output(seq, tmp_path):
    out = tmp_path / "never"
    with pytest.raises(PipelineError, match="max_frames"):
        run(seq / "SEQ.mp4", reid="none", detector=seq / "det" / "det.txt", output=out, max_frames=0)
    with pytest.raises(PipelineError, match="tracker config"):
        run(seq / "SEQ.mp4", reid="none", detector=seq / "det" / "det.txt", output=out,
            tracker_config=tmp_path / "missing.yaml")
    with pytest.raises(PipelineError, match="reid-weights"):
        run(seq / "SEQ.mp4", reid="none", reid_weights="x.pt", detector=seq / "det" / "det.txt", output=out)
    assert not out.exists()


def test_tracker_config_yaml_is_used(seq, tmp_path):
    cfg = tmp_path / "t.yaml"
    cfg.write_text("min_hits: 1\nnew_track_thresh: 0.95\n")  # 0.9-score detections can start no track
    summary = run(seq / "SEQ.mp4", reid="none", detector=seq / "det" / "det.txt", tracker_config=cfg, quiet=True)
    assert summary["unique_identities"] == 0


def test_device_resolution():
    import torch

    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda:0" if torch.cuda.is_available() else "cpu")
    with pytest.raises(PipelineError, match="expected auto"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(PipelineError, match="no CUDA GPU"):
            resolve_device("cuda")


def test_osnet_is_trained_by_default_and_untrained_only_on_request(seq, tmp_path):
    """``reid="osnet_x0_25"`` without weights runs the bundled Market-1501 weights, with no untrained warning;
    ``reid_weights="none"`` runs untrained, with the warning."""
    for reid, weights, warned in (("osnet_x0_25", None, False), ("auto", "none", True)):
        out = tmp_path / f"osnet-{weights}"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            summary = run(seq / "SEQ.mp4", reid=reid, reid_weights=weights, detector=seq / "det" / "det.txt",
                          output=out, device="cpu", quiet=True, max_frames=8)
        assert any("NO trained weights" in str(w.message) for w in caught) == warned
        _check_outputs_agree(out, 8)
        assert summary["stage_ms"]["embed"] > 0 and summary["unique_identities"] == 3


# ---------------------------------------------------------------- real data (skipped without ../shared/data)

REAL_MODELS = ["--reid", "osnet_x0_25", "--reid-weights", "reid/osnet_x0_25_market1501.pt",
               "--detector", "detectors/yolov8n_int8_openvino_model", "--device", "cpu", "--quiet"]


def _real_cli(shared_data, args):
    """Run the ``trackreid`` command as the issue writes it, with paths under the shared data folder."""
    from trackreid.cli.track import main

    models = [str(shared_data / a) if "/" in a else a for a in REAL_MODELS]
    return main([*args, *models])


@pytest.mark.slow
def test_real_street_video_with_openvino_detector_and_osnet(shared_data, tmp_path):
    """``trackreid street-302f.mp4 --reid osnet_x0_25 --reid-weights ... --detector yolov8n_int8_openvino_model``
    runs to the end on the CPU (all 302 frames) and writes every output."""
    pytest.importorskip("openvino")
    out = tmp_path / "street"
    assert _real_cli(shared_data, [str(shared_data / "videos/street-302f.mp4"), "--output", str(out)]) == 0
    s, mot, lines = _check_outputs_agree(out, 302)
    assert s["status"] == "completed" and s["source_info"]["width"] == 1920
    assert set(s["outputs"]) == {"mot", "jsonl", "summary", "video"}
    assert s["detections"] > 302 * 5 and s["unique_identities"] >= 5
    # identities persist: most ids live for many frames rather than flickering
    lengths = np.bincount(mot[:, 1].astype(int))[1:]
    assert np.median(lengths[lengths > 0]) >= 30


def test_real_mot17_video_evaluates_against_ground_truth(shared_data, tmp_path, capsys):
    """The same command on mot17-04-first8.mp4, then ``trackreid-eval`` against MOT17-04-FRCNN's ground truth."""
    pytest.importorskip("openvino")
    from trackreid.cli.eval import main as eval_main

    out = tmp_path / "mot17"
    assert _real_cli(shared_data, [str(shared_data / "videos/mot17-04-first8.mp4"), "--output", str(out),
                                   "--seq-name", "MOT17-04-FRCNN"]) == 0
    s, _, _ = _check_outputs_agree(out, 8, "MOT17-04-FRCNN.txt")
    assert s["status"] == "completed"
    capsys.readouterr()
    assert eval_main(["--gt", str(shared_data / "mot17-mini"), "--results", str(out), "--sequences",
                      "MOT17-04-FRCNN", "--json", str(tmp_path / "m.json")]) == 0
    printed = capsys.readouterr().out
    assert "HOTA" in printed and "IDF1" in printed and "MOT17-04-FRCNN" in printed
    seq = json.loads((tmp_path / "m.json").read_text())["MOT17-04-FRCNN"]
    assert 0.2 < seq["HOTA"] <= 1 and 0.2 < seq["IDF1"] <= 1


def test_public_api_name():
    import trackreid

    assert trackreid.track_video is track_video


def test_lines_zones_and_crops_from_the_python_api(seq, tmp_path):
    """track_video(..., lines=, zones=): events on each FrameResult, events.jsonl as the run goes, totals in the
    summary; --save-crops fills a Market-1501 layout."""
    out = tmp_path / "events"
    results = []
    gen = track_video(seq / "SEQ.mp4", reid="none", detector=seq / "det" / "det.txt", output=out, quiet=True,
                      lines=["50,0,50,240:mid"], zones=["0,0,120,0,120,240,0,240:left"], save_crops=2,
                      tracker_config={"min_hits": 1})
    with pytest.raises(StopIteration) as stop:
        while True:
            results.append(next(gen))
    summary = stop.value.value
    events = [e for r in results for e in r.events]
    assert {e["event"] for e in events} >= {"enter", "zone_enter", "line_cross"}
    on_disk = _jsonl(out / "events.jsonl")
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
    lines = _jsonl(out / "tracks.jsonl")
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
    crops/ and the summary's people counts hold only IDs of tracks.txt (the provisional ID leaked into all three)."""
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
    jsonl_ids = {t["id"] for f in _jsonl(out / "tracks.jsonl") for t in f["tracks"]}
    event_ids = {e["id"] for e in _jsonl(out / "events.jsonl")}
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


def test_bad_lines_zones_and_crop_options_fail_before_any_output(seq, tmp_path):
    out = tmp_path / "never"
    det = seq / "det" / "det.txt"
    with pytest.raises(ValueError, match="line"):
        run(seq / "SEQ.mp4", reid="none", detector=det, output=out, lines=["1,2,3"])
    with pytest.raises(ValueError, match="zone"):
        run(seq / "SEQ.mp4", reid="none", detector=det, output=out, zones=["0,0,10,0:two-points"])
    with pytest.raises(PipelineError, match="output folder"):
        run(seq / "SEQ.mp4", reid="none", detector=det, save_crops=4)
    assert not out.exists()
