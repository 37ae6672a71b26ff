"""Live cameras: a stream that goes down mid-run reconnects, the run goes on, and the people keep their IDs across
the outage (the identity memory bridges it); the summary reports the outage."""
from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from tests._mjpeg import MjpegCamera, blob_detector
from tests._pipeline_data import ColourEncoder
from trackreid.io.sources import Reconnect, quiet_native_logs
from trackreid.pipeline import TrackingRun


@pytest.fixture()
def camera():
    quiet_native_logs()
    cam = MjpegCamera(fps=20).start()
    yield cam
    cam.stop()


def test_stream_outage_reconnects_and_people_keep_their_ids(camera, tmp_path):
    out = tmp_path / "live"
    run = TrackingRun(camera.url, detector=blob_detector, reid=ColourEncoder(), output=out, quiet=True,
                      max_frames=70, stream_timeout_s=3, reconnect=Reconnect(max_delay_s=0.5), save_video=False,
                      # tracks outlive a short gap; the identity memory has to bring everybody back
                      tracker_config={"track_buffer": 10})
    ids_before, ids_after, outage = set(), set(), None
    for res in run:
        if res.index == 30:  # the camera reboots: off the network for 2.5 s
            outage = threading.Thread(target=lambda: (camera.stop(), time.sleep(2.5), camera.start()))
            outage.start()
        if 25 <= res.index <= 30:
            ids_before.update(res.ids.tolist())
        if res.index >= 60:
            ids_after.update(res.ids.tolist())
    outage.join()
    summary = run.summary
    assert summary["status"] == "completed" and summary["frames"] == 70
    assert camera.connections == 2  # it really went away and the source opened it again
    o = summary["outages"]
    assert o["count"] == 1 and o["recent"][0]["recovered"] and o["down_s"] > 0  # measured: no wall-clock bound
    assert 30 < o["recent"][0]["after_frame"] < 70
    assert len(ids_before) == 3 and ids_after == ids_before  # the same three people, the same three IDs
    assert summary["unique_identities"] == 3 and summary["reentries"] >= 3  # brought back by the identity memory
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["outages"]["count"] == 1
    rows = [json.loads(line) for line in (out / "tracks.jsonl").read_text().splitlines()]
    assert [r["frame"] for r in rows] == list(range(1, 71))  # frame numbering goes on across the gap
    assert {t["id"] for r in rows for t in r["tracks"]} == ids_before


def test_stream_gives_up_after_its_attempts(camera, tmp_path):
    run = TrackingRun(camera.url, detector=blob_detector, reid=ColourEncoder(), quiet=True, stream_timeout_s=3,
                      reconnect=Reconnect(attempts=2, first_delay_s=0.1, max_delay_s=0.2), max_frames=10_000)
    for res in run:
        if res.index == 5:
            camera.stop()
    s = run.summary
    assert s["status"] == "source_ended" and "2 reconnection attempts failed" in s["message"]
    assert s["outages"]["count"] == 1 and not s["outages"]["recent"][0]["recovered"]
    assert np.isfinite(s["outages"]["down_s"])
