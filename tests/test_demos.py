"""The demos run as their docstrings say (on a rendered sequence with precomputed detections; no download)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests._pipeline_data import make_sequence

DEMOS = Path(__file__).resolve().parents[1] / "demos"


@pytest.fixture(scope="module")
def seq(tmp_path_factory):
    return make_sequence(tmp_path_factory.mktemp("demo"), "SEQ", frames=30, video=True, images=True)


def _run(script, *args):
    return subprocess.run([sys.executable, str(DEMOS / script), *map(str, args)], capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("reid", ["none", "osnet_x0_25"])
def test_surveillance_app_reports_visits(seq, tmp_path, reid):
    events = tmp_path / "events.jsonl"
    p = _run("surveillance_app.py", seq, "--detector", seq / "det" / "det.txt", "--reid", reid,
             "--leave-after", "2", "--loiter-seconds", "1", "--events", events)
    assert p.returncode == 0, p.stderr
    assert "3 people seen in 30 frames" in p.stdout
    kinds = [json.loads(line)["event"] for line in events.read_text().splitlines()]
    assert kinds.count("entered") == 3 and "loitering" in kinds


def test_surveillance_app_bad_source_is_one_line(tmp_path):
    p = _run("surveillance_app.py", tmp_path / "missing.mp4", "--detector", "x.txt", "--reid", "none")
    assert p.returncode == 1 and "Traceback" not in p.stderr and "missing.mp4" in p.stderr


def test_webcam_loop_without_display(seq, tmp_path):
    p = _run("webcam.py", seq / "SEQ.mp4", "--no-display", "--detector", seq / "det" / "det.txt", "--reid", "none",
             "--max-frames", "20", "--output", tmp_path / "out")
    assert p.returncode == 0, p.stderr
    assert "20 frames, 3 identities" in p.stdout
    assert (tmp_path / "out" / "tracks.txt").is_file()


def test_ultralytics_app_writes_final_id_rows(shared_data, tmp_path):
    pytest.importorskip("openvino")
    mot = tmp_path / "mot.txt"
    p = _run("ultralytics_app.py", shared_data / "videos" / "street-302f.mp4", "--model",
             shared_data / "detectors" / "yolov8n_int8_openvino_model", "--max-frames", "12", "--mot", mot)
    assert p.returncode == 0, p.stderr
    m = re.search(r"frame 1: (\d+) people in view, IDs \[([\d, ]*)\]", p.stdout)
    assert m and int(m[1]) >= 5  # INT8 detections differ slightly between CPUs: no exact count pinned
    assert [int(v) for v in m[2].split(",")] == list(range(1, int(m[1]) + 1))  # fresh IDs from 1, in order
    rows = [line.split(",") for line in mot.read_text().splitlines()]
    assert {int(r[0]) for r in rows} == set(range(1, 13)) and f"{len({r[1] for r in rows})} identities" in p.stdout


def test_supervision_app_counts_and_records(shared_data, tmp_path):
    pytest.importorskip("openvino")
    video = tmp_path / "annotated.mp4"
    p = _run("supervision_app.py", shared_data / "videos" / "street-302f.mp4", "--model",
             shared_data / "detectors" / "yolov8n_int8_openvino_model", "--max-frames", "12", "--output", video)
    assert p.returncode == 0, p.stderr
    m = re.search(r"12 frames, (\d+) IDs, line in (\d+) / out (\d+)", p.stdout)
    assert m and 5 <= int(m[1]) <= 30, p.stdout
    assert video.stat().st_size > 10_000


@pytest.mark.parametrize("script", ["ultralytics_app.py", "supervision_app.py"])
def test_integration_demos_bad_source_is_one_line(script, tmp_path):
    p = _run(script, tmp_path / "missing.mp4")
    assert p.returncode == 1 and "Traceback" not in p.stderr and "missing.mp4" in p.stderr
