"""The summary builders: a source's line in a multi-source summary, and the multi-source (or Ray) summary."""
from __future__ import annotations

from trackreid.pipeline import run_summary, source_report


def test_a_source_report_says_what_is_known_and_the_run_summary_adds_them_up():
    ran = source_report("cam1", "cam1.mp4", "completed", "", 10, {"fps": 5.0, "latency_ms": 12.5,
                                                                   "unique_identities": 3, "detections": 40,
                                                                   "crops_embedded": 15}, "out/cam1")
    unopened = source_report("cam2", "cam2.mp4", "failed", "OSError: gone", 0, {}, None)
    lost = source_report("cam3", "cam3.mp4", "failed", "worker failed", 4, None, "out/cam3")
    assert list(ran) == ["name", "source", "status", "message", "frames", "fps", "latency_ms", "unique_identities",
                         "detections", "crops_embedded", "output"]
    assert ran["fps"] == 5.0 and ran["unique_identities"] == 3 and ran["output"] == "out/cam1"
    assert ran["detections"] == 40 and ran["crops_embedded"] == 15 and lost["crops_embedded"] is None
    assert unopened["unique_identities"] == 0 and unopened["fps"] is None and unopened["output"] is None
    assert lost["unique_identities"] is None and lost["latency_ms"] is None       # lost with its worker: unknown
    s = run_summary([ran, unopened, lost], "partial", "some sources failed", "2024-01-01T00:00:00+00:00", 2.0,
                    engine="ray", workers=2)
    assert s["frames"] == 14 and s["fps"] == 7.0 and s["unique_identities"] == 3
    assert list(s)[:6] == ["trackreid_version", "started_at", "status", "message", "engine", "workers"]
    assert s["sources"] == [ran, unopened, lost]
    assert run_summary([], "failed", "", "x", 0.0)["fps"] is None
