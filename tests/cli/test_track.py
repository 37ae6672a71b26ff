"""The `trackreid` command: a run that writes everything, and one clean stderr line for every bad input."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests._pipeline_data import make_sequence
from trackreid.cli.track import main


@pytest.fixture(scope="module")
def seq(tmp_path_factory):
    return make_sequence(tmp_path_factory.mktemp("cli"), "SEQ", frames=10, video=True, images=False)


def _one_error_line(capsys, rc):
    out, err = capsys.readouterr()
    assert rc == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("trackreid: error: ") and "Traceback" not in err
    return lines[0]


def test_a_full_run_writes_all_outputs(seq, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main([str(seq / "SEQ.mp4"), "--detector", str(seq / "det" / "det.txt"), "--reid", "none",
               "--output", str(out), "--seq-name", "SEQ"])
    stdout, stderr = capsys.readouterr()
    assert rc == 0
    assert {p.name for p in out.iterdir()} == {"SEQ.txt", "tracks.jsonl", "annotated.mp4", "summary.json"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 10 and summary["unique_identities"] == 3
    assert "10 frames" in stdout and "3 identities" in stdout and str(out) in stdout
    assert "frame/s" in stderr  # the progress bar with its rate


def test_quiet_default_folder_avi_and_max_frames(seq, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = [str(seq / "SEQ.mp4"), "--detector", str(seq / "det" / "det.txt"), "--reid", "none", "--quiet",
            "--max-frames", "4", "--video-format", "avi"]
    assert main(args) == 0 and main(args) == 0
    out, err = capsys.readouterr()
    assert out == "" and err == ""
    first, second = tmp_path / "runs/track/SEQ", tmp_path / "runs/track/SEQ-2"
    assert (first / "annotated.avi").is_file() and (second / "summary.json").is_file()
    assert json.loads((second / "summary.json").read_text())["frames"] == 4


@pytest.mark.parametrize("case", [
    "missing_source", "empty_video", "unknown_reid", "missing_reid_weights", "unfit_reid_weights",
    "no_frames_video", "missing_detector", "unfit_detector", "missing_det_txt", "unknown_class", "bad_tracker_config",
    "no_gpu", "unreachable_stream", "zero_max_frames", "show_without_display", "too_many_reid_streams",
])
def test_bad_inputs_give_one_clear_line(case, seq, tmp_path, capsys, monkeypatch):
    import torch

    video, det = str(seq / "SEQ.mp4"), str(seq / "det" / "det.txt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    import cv2

    no_frames = str(tmp_path / "no_frames.avi")  # a valid container holding no frame
    cv2.VideoWriter(no_frames, cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48)).release()
    bad_yaml = tmp_path / "t.yaml"
    bad_yaml.write_text("no_such_setting: 3\n")
    base = ["--output", str(tmp_path / "o"), "--quiet"]
    args, expect = {
        "missing_source": ([str(tmp_path / "nope.mp4"), "--detector", det, "--reid", "none"], "does not exist"),
        "empty_video": ([str(empty), "--detector", det, "--reid", "none"], "empty.mp4"),
        "no_frames_video": ([no_frames, "--detector", det, "--reid", "none"], "has no readable frames"),
        "unknown_reid": ([video, "--detector", det, "--reid", "osnet_x9"], "osnet_x9"),
        "missing_reid_weights": ([video, "--detector", det, "--reid", "osnet_x0_25", "--reid-weights",
                                  str(tmp_path / "none.pt")], "none.pt"),
        "unfit_reid_weights": ([video, "--detector", det, "--reid", "osnet_x0_25", "--reid-weights", str(junk)],
                               "junk.pt"),
        "missing_detector": ([video, "--detector", str(tmp_path / "model.onnx"), "--reid", "none"], "model.onnx"),
        "unfit_detector": ([video, "--detector", str(junk), "--reid", "none"], "junk.pt"),
        "missing_det_txt": ([video, "--detector", str(tmp_path / "det.txt"), "--reid", "none"], "det.txt"),
        "unknown_class": ([video, "--detector", det, "--reid", "none", "--classes", "car"], "people"),
        "bad_tracker_config": ([video, "--detector", det, "--reid", "none", "--tracker-config", str(bad_yaml)],
                               "no_such_setting"),
        "no_gpu": ([video, "--detector", det, "--reid", "none", "--device", "cuda"], "cuda"),
        "unreachable_stream": (["rtsp://127.0.0.1:9/live", "--detector", det, "--reid", "none"], "stream"),
        "zero_max_frames": ([video, "--detector", det, "--reid", "none", "--max-frames", "0"], "max_frames"),
        "show_without_display": ([video, "--detector", det, "--reid", "none", "--show"], "--show"),
        "too_many_reid_streams": ([video, "--detector", det, "--reid", "osnet_x0_25", "--reid-threads", "1",
                                   "--reid-streams", "2"], "2 streams need at least as many threads"),
    }[case]
    monkeypatch.delenv("DISPLAY", raising=False)  # OpenCV's Qt would abort the process; we must refuse first
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    if case == "no_gpu" and torch.cuda.is_available():
        pytest.skip("a GPU is present")
    line = _one_error_line(capsys, main(args + base))
    assert expect in line
    assert not (tmp_path / "o").exists()  # nothing half-made


def test_console_entry_exit_code_and_debug(tmp_path):
    missing = str(tmp_path / "missing.mp4")
    cmd = [sys.executable, "-m", "trackreid.cli.track", missing, "--reid", "none", "--detector", "x.txt"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert p.stderr.strip().splitlines() == [p.stderr.strip()] and "missing.mp4" in p.stderr
    d = subprocess.run(cmd + ["--debug"], capture_output=True, text=True, timeout=120)
    assert d.returncode != 0 and "Traceback" in d.stderr


def test_usage_errors_exit_2(capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        main([])
    assert e.value.code == 2
    capsys.readouterr()
    assert main([str(tmp_path / "v.mp4"), "--line", "0,100,50:door"]) == 2  # a malformed line: 3 numbers
    err = capsys.readouterr().err.strip()
    assert err.startswith("trackreid: error:") and "line" in err and len(err.splitlines()) == 1



def test_imgsz_takes_n_or_height_width_in_multiples_of_32(capsys, tmp_path):
    from trackreid.cli.track import build_parser

    parse = lambda *a: build_parser().parse_args(["v.mp4", *a]).imgsz  # noqa: E731
    assert parse() is None and parse("--imgsz", "480") == 480
    assert parse("--imgsz", "384,640") == parse("--imgsz", "384x640") == (384, 640)
    with pytest.raises(SystemExit) as e:
        main([str(tmp_path / "v.mp4"), "--imgsz", "500"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--imgsz: 500 is not a multiple of 32" in err and "use 480 or 512" in err


def _part(seq, root, name: str, first: int, last: int, reverse: bool = False):
    """Frames ``first..last`` of ``seq`` as a sequence folder of their own (frames renumbered from 1); ``reverse``
    lists each frame's detections in the opposite order (fresh IDs would then be handed out the other way round)."""
    import shutil

    part = root / name
    (part / "img1").mkdir(parents=True)
    (part / "det").mkdir()
    for f in range(first, last + 1):
        shutil.copy(seq / "img1" / f"{f:06d}.jpg", part / "img1" / f"{f - first + 1:06d}.jpg")
    rows = {}
    for line in (seq / "det" / "det.txt").read_text().splitlines():
        f = int(line.split(",")[0])
        if first <= f <= last:
            rows.setdefault(f, []).append(",".join([str(f - first + 1), *line.split(",")[1:]]))
    lines = [r for f in sorted(rows) for r in (rows[f][::-1] if reverse else rows[f])]
    (part / "det" / "det.txt").write_text("\n".join(lines) + "\n")
    return part


def _ids_by_person(out, frame: int, t: int) -> dict[int, int]:
    """{walker (0-based): track ID} at ``frame`` of a run's MOT file, the walkers' true boxes at ``t``."""
    from tests._pipeline_data import boxes_at
    from trackreid.io.mot import read_mot

    mot = read_mot(out / "tracks.txt")
    rows = mot[mot[:, 0] == frame]
    truth = boxes_at(t)
    ids = {}
    for r in rows:
        centre = (r[2] + r[4] / 2, r[3] + r[5] / 2)
        person = int(np.argmin([abs((b[0] + b[2]) / 2 - centre[0]) + abs((b[1] + b[3]) / 2 - centre[1])
                                for b in truth]))
        ids[person] = int(r[1])
    return ids


def test_a_video_in_two_parts_keeps_ids_through_one_memory_file(tmp_path, capsys):
    seq = make_sequence(tmp_path, "WALK", frames=24, video=False, images=True)
    first = _part(seq, tmp_path, "part1", 1, 12)
    second = _part(seq, tmp_path, "part2", 13, 24, reverse=True)
    memory = tmp_path / "site.npz"
    common = ["--reid", "osnet_x0_25", "--no-video", "--quiet", "--memory-file", str(memory)]
    assert main([str(first), "--detector", str(first / "det/det.txt"), "-o", str(tmp_path / "o1"), *common]) == 0
    assert memory.is_file()
    assert main([str(second), "--detector", str(second / "det/det.txt"), "-o", str(tmp_path / "o2"), *common]) == 0
    before = _ids_by_person(tmp_path / "o1", 12, 11)
    after = _ids_by_person(tmp_path / "o2", 1, 12)
    assert len(before) == 3 and after == before  # the same three people under the same three IDs
    summary = json.loads((tmp_path / "o2" / "summary.json").read_text())
    assert summary["memory_file"]["loaded"] == {"part2": 3} and summary["memory_file"]["saves"] >= 1
    assert summary["reid"]["arch"] == "osnet_x0_25" and summary["reid"]["weights"] == "osnet_x0_25_msmt17"
    assert len(summary["reid"]["sha256"]) == 16 and summary["reid"]["runtime"]
    # without the file the second part numbers the people afresh, in its own (reversed) order
    assert main([str(second), "--detector", str(second / "det/det.txt"), "-o", str(tmp_path / "o3"),
                 "--reid", "osnet_x0_25", "--no-video", "--quiet"]) == 0
    assert _ids_by_person(tmp_path / "o3", 1, 12) != before
    # a memory of another encoder's embeddings is refused, and the file is left as it was
    saved = memory.read_bytes()
    capsys.readouterr()
    rc = main([str(second), "--detector", str(second / "det/det.txt"), "-o", str(tmp_path / "o4"), *common,
               "--reid-weights", "osnet_x0_25_market1501"])
    line = _one_error_line(capsys, rc)
    assert "site.npz" in line and "osnet_x0_25_msmt17" in line and "osnet_x0_25_market1501" in line
    assert memory.read_bytes() == saved


def test_memory_file_needs_an_encoder_and_a_real_file(seq, tmp_path, capsys):
    rc = main([str(seq / "SEQ.mp4"), "--detector", str(seq / "det" / "det.txt"), "--reid", "none", "--memory-file",
               str(tmp_path / "m.npz"), "-o", str(tmp_path / "o")])
    assert "ReID encoder" in _one_error_line(capsys, rc)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a memory")
    rc = main([str(seq / "SEQ.mp4"), "--detector", str(seq / "det" / "det.txt"), "--reid", "osnet_x0_25",
               "--memory-file", str(junk), "-o", str(tmp_path / "o2"), "--quiet"])
    assert "junk.npz" in _one_error_line(capsys, rc)
    from tests._pipeline_data import run_threads

    assert run_threads() == []  # the outputs opened before the error were closed
