"""The runner end to end (track_video, TrackingRun, run): results per frame, outputs that agree, interruptions
that keep outputs, real data."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests._pipeline_data import run_threads
from tests.pipeline.outputs import FRAMES, check_outputs_agree
from trackreid.io.mot import read_mot
from trackreid.io.sources import Source, SourceInfo
from trackreid.pipeline import TrackingRun, run, track_video


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
    on_disk, mot, _ = check_outputs_agree(out, FRAMES)
    assert on_disk["status"] == "completed" and summary == on_disk
    assert summary["unique_identities"] == 3  # three walkers who never meet keep three identities
    assert set(np.unique(mot[:, 1])) == set(results[-1].ids.tolist())
    assert summary["stage_ms"]["embed"] == 0.0 and summary["reid"] is None  # motion only
    assert summary["detector"]["kind"] == "det.txt" and summary["detector"]["model"].endswith("det.txt")
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


def test_leaving_the_loop_early_keeps_every_output(seq, tmp_path):
    out = tmp_path / "early"
    r = TrackingRun(seq / "SEQ.mp4", reid="none", detector=seq / "det" / "det.txt", output=out, quiet=True)
    for res in r:
        if res.frame_id == 6:
            break
    del res
    import gc

    gc.collect()  # a broken-out generator is finalised when collected; TrackingRun users may also close it
    summary, mot, _ = check_outputs_agree(out, 6)
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
    summary, _, _ = check_outputs_agree(out, 7)
    assert summary["status"] == status
    assert run_threads() == []


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
    s, mot, lines = check_outputs_agree(out, 302)
    assert s["status"] == "completed" and s["source_info"]["width"] == 1920
    assert set(s["outputs"]) == {"mot", "jsonl", "summary", "video"}
    assert s["detections"] > 302 * 5 and s["unique_identities"] >= 5
    # appearance on demand: far fewer crops than detections, yet some on every refresh frame
    assert 302 // 10 <= s["crops_embedded"] < 0.5 * s["detections"]
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
    s, _, _ = check_outputs_agree(out, 8, "MOT17-04-FRCNN.txt")
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

