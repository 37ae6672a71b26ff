"""Frame sources: what opens, what fails with a clear SourceError, and the background decoding thread."""
from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from tests._pipeline_data import make_sequence
from trackreid.io.sources import (ImageFolderSource, Outage, OutageLog, Prefetcher, Reconnect, SourceError,
                                  VideoSource, open_source, source_name)


@pytest.fixture(scope="module")
def seq(tmp_path_factory):
    return make_sequence(tmp_path_factory.mktemp("src"), "SEQ", frames=12, video=True, images=True)


def test_video_file_yields_every_frame_with_its_info(seq):
    with open_source(seq / "SEQ.mp4") as src:
        assert isinstance(src, VideoSource)
        assert (src.info.kind, src.info.width, src.info.height, src.info.fps) == ("video", 320, 240, 10.0)
        assert src.info.num_frames == 12 and not src.info.is_live
        frames = list(src)
    assert len(frames) == 12
    assert all(f.dtype == np.uint8 and f.shape == (240, 320, 3) for f in frames)
    assert src.end_reason == ""
    assert not np.array_equal(frames[0], frames[-1])  # really different frames, in order


def test_image_folder_and_mot_sequence_folder(seq):
    direct = open_source(seq / "img1")
    assert isinstance(direct, ImageFolderSource) and direct.info.num_frames == 12
    assert direct.info.name == "SEQ"  # an img1/ folder is named after its sequence
    assert direct.info.fps == 10.0  # read from seqinfo.ini
    via_seq = open_source(seq)  # a sequence folder reads its img1/
    assert [p.name for p in via_seq.files] == [f"{i:06d}.jpg" for i in range(1, 13)]
    frames = list(via_seq)
    assert len(frames) == 12 and frames[0].shape == (240, 320, 3)


@pytest.mark.parametrize("spec, expected", [
    (0, "webcam0"), ("2", "webcam2"), ("rtsp://user:pw@cam.local:554/live", "stream-cam.local"),
    ("videos/street-302f.mp4", "street-302f"),
])
def test_source_names(spec, expected):
    assert source_name(spec) == expected


def test_missing_and_unusable_inputs_fail_clearly(tmp_path, seq):
    with pytest.raises(SourceError, match="does not exist"):
        open_source(tmp_path / "nope.mp4")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(SourceError, match="empty.mp4"):
        open_source(empty)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    with pytest.raises(SourceError, match="junk.mp4"):
        open_source(junk)
    (tmp_path / "nothing").mkdir()
    with pytest.raises(SourceError, match="no images"):
        open_source(tmp_path / "nothing")
    with pytest.raises(SourceError, match="single image"):
        open_source(seq / "img1" / "000001.jpg")
    with pytest.raises(SourceError):
        open_source(None)


def test_video_with_no_frames(tmp_path):
    path = tmp_path / "noframes.mp4"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    w.release()
    with pytest.raises(SourceError, match="noframes.mp4"):
        open_source(path)


def test_unreadable_image_in_a_folder_is_named(tmp_path, seq):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in (1, 2):
        (folder / f"{i:06d}.jpg").write_bytes((seq / "img1" / f"{i:06d}.jpg").read_bytes())
    (folder / "000003.jpg").write_bytes(b"broken")
    src = open_source(folder)
    it = iter(src)
    next(it), next(it)
    with pytest.raises(SourceError, match="000003.jpg"):
        next(it)


def test_unreachable_stream_fails_within_its_timeout():
    t0 = time.monotonic()
    with pytest.raises(SourceError, match="stream"):
        open_source("rtsp://127.0.0.1:9/none", stream_timeout_s=2)
    assert time.monotonic() - t0 < 30


def test_prefetcher_keeps_order_and_reports_decode_time(seq):
    with Prefetcher(open_source(seq / "SEQ.mp4"), maxsize=2) as pf:
        items = list(pf)
    assert len(items) == 12
    assert all(ms >= 0 for _, ms in items)
    direct = list(open_source(seq / "SEQ.mp4"))
    assert all(np.array_equal(a, b) for (a, _), b in zip(items, direct))


def test_prefetcher_reraises_source_errors_in_the_consumer():
    def frames():
        yield np.zeros((4, 4, 3), np.uint8)
        raise RuntimeError("camera unplugged")

    pf = Prefetcher(frames())
    it = iter(pf)
    next(it)
    with pytest.raises(RuntimeError, match="camera unplugged"):
        next(it)
    pf.close()


def test_prefetcher_close_stops_a_thread_blocked_on_a_full_queue():
    produced = []

    def endless():
        while True:
            produced.append(1)
            yield np.zeros((2, 2, 3), np.uint8)

    pf = Prefetcher(endless(), maxsize=2)
    next(iter(pf))
    time.sleep(0.2)  # the thread fills the queue and waits
    pf.close()
    assert not any(t.name == "trackreid-decode" and t.is_alive() for t in threading.enumerate())
    assert len(produced) < 10  # bounded read-ahead


def test_source_is_released_only_after_a_blocked_read_returns():
    """A stalled stream: the read blocks longer than close() waits. The capture must not be released while the
    read is still inside it; the decode thread releases it once the read returns."""
    state = {"reading": False, "closed_during_read": None}

    def stalled():
        yield np.zeros((2, 2, 3), np.uint8)
        state["reading"] = True
        time.sleep(0.6)  # a read that blocks
        state["reading"] = False
        yield np.zeros((2, 2, 3), np.uint8)

    def release():
        state["closed_during_read"] = state["reading"]

    pf = Prefetcher(stalled(), maxsize=1, on_exit=release)
    next(iter(pf))
    time.sleep(0.1)
    pf.close(timeout=0.1)  # gives up waiting while the read is blocked
    assert state["closed_during_read"] is None          # not released yet
    time.sleep(1.0)
    assert state["closed_during_read"] is False         # released by the decode thread, after the read


def test_http_url_to_a_finite_video_ends_normally(seq):
    """An .mp4 served over HTTP is opened as a stream, but its known length makes its end a normal one."""
    import functools
    import http.server

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(seq))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with open_source(f"http://127.0.0.1:{server.server_address[1]}/SEQ.mp4", stream_timeout_s=10) as src:
            assert src.info.kind == "stream" and src.info.num_frames == 12
            frames = list(src)
        assert len(frames) == 12 and src.end_reason == ""
    finally:
        server.shutdown()
        server.server_close()


def test_a_file_shorter_than_its_header_ends_with_a_note_not_as_damage(tmp_path):
    path = tmp_path / "short.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    rng = np.random.default_rng(0)
    for _ in range(20):
        w.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    w.release()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # the header still says 20 frames
    with open_source(path) as src:
        assert src.info.num_frames == 20
        n = len(list(src))
    assert 0 < n < 19
    assert src.end_reason == "" and f"after {n} frames although its header announced 20" in src.end_note


def test_reconnect_policy_and_outage_log():
    r = Reconnect()
    assert r.attempts is None  # live sources keep trying by default
    assert [r.delay(k) for k in (1, 2, 3)] == [0.5, 1.0, 2.0] and r.delay(100) == r.max_delay_s  # bounded
    assert Reconnect.of(3).attempts == 3 and Reconnect.of(None) == Reconnect()
    for bad in (-1, True, "x"):
        with pytest.raises(ValueError, match="reconnect"):
            Reconnect.of(bad)
    log = OutageLog()
    for k in range(OutageLog.RECENT + 5):
        log.add(Outage(after_frame=10 * (k + 1), started_at="", down_s=1.0, attempts=1, recovered=True))
    assert [o.after_frame for o in log.take(25)] == []  # the early ones fell out of the bounded list, unseen
    s = log.summary()
    assert s["count"] == OutageLog.RECENT + 5 and s["down_s"] == OutageLog.RECENT + 5
    assert len(s["recent"]) == OutageLog.RECENT


def test_outages_are_taken_once_at_the_frame_after_them():
    log = OutageLog()
    log.add(Outage(after_frame=5, started_at="", down_s=2.0, attempts=1, recovered=True))
    assert log.take(4) == []  # frames decoded before the outage are still being processed
    assert [o.after_frame for o in log.take(5)] == [5]
    assert log.take(6) == []
    log.add(Outage(after_frame=9, started_at="", down_s=1.0, attempts=2, recovered=True))
    assert [o.down_s for o in log.take(9)] == [1.0]
