"""Sources spread over a local Ray cluster (skipped without Ray): outputs as a single run, a dead worker fails only
its own sources."""
from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest

from tests._pipeline_data import make_sequence
from trackreid.io.mot import read_mot
from trackreid.pipeline import run

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    # Ray installs its own SIGTERM/SIGINT handlers in the driver; later tests rely on the defaults
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield
    ray.shutdown()
    for s, handler in saved.items():
        signal.signal(s, handler)


@pytest.mark.slow
def test_ray_run_matches_single_runs_and_survives_a_dead_worker(local_ray, tmp_path):
    from trackreid.distributed import run_on_ray

    seq = make_sequence(tmp_path, "SEQ", frames=12, video=True)
    det = str(seq / "det" / "det.txt")

    def dies_at_frame_3(frame, index):  # kills the worker process that runs it, as an OOM kill would
        if index == 3:
            os.kill(os.getpid(), signal.SIGKILL)
        return np.empty((0, 6), np.float32)

    out = tmp_path / "ray"
    summary = run_on_ray([seq / "SEQ.mp4", seq / "SEQ.mp4", seq / "SEQ.mp4"], detector=[det, dies_at_frame_3, det],
                         reid="none", output=out, workers=3, cpus_per_worker=0.5, save_video=False)
    status = {s["name"]: s for s in summary["sources"]}
    assert status["SEQ"]["status"] == status["SEQ-3"]["status"] == "completed"
    assert status["SEQ-2"]["status"] == "failed" and "worker" in status["SEQ-2"]["message"]
    assert summary["status"] == "partial" and summary["engine"] == "ray"
    assert json.loads((out / "summary.json").read_text())["sources"][1]["status"] == "failed"
    run(seq / "SEQ.mp4", detector=det, reid="none", output=tmp_path / "single", quiet=True, save_video=False)
    ref = read_mot(tmp_path / "single" / "tracks.txt")
    for name in ("SEQ", "SEQ-3"):
        np.testing.assert_array_equal(read_mot(out / name / "tracks.txt"), ref)


def test_ray_run_needs_an_output_folder(local_ray, tmp_path):
    from trackreid.distributed import run_on_ray
    from trackreid.pipeline import PipelineError

    with pytest.raises(PipelineError, match="--output"):
        run_on_ray([tmp_path / "a.mp4"], reid="none")
