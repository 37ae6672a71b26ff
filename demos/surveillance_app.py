"""A surveillance-style app that owns its detector loop and uses trackreid's ``Tracker`` with a ReID encoder.

It reports people entering and leaving the scene (or a zone), and people loitering, as timestamped events,
then prints a visit table. It shows how to embed the tracker in your own loop: you run the detector, the
tracker turns detections into identities (the encoder attached to it embeds the crops).

Run it on the shared street video with the OpenVINO YOLOv8n detector and OSNet x0.25 Market-1501 weights::

    python demos/surveillance_app.py ../shared/data/videos/street-302f.mp4 \\
        --detector ../shared/data/detectors/yolov8n_int8_openvino_model \\
        --reid osnet_x0_25 --reid-weights ../shared/data/reid/osnet_x0_25_market1501.pt \\
        --loiter-seconds 5 --events runs/surveillance/events.jsonl

or with precomputed MOT detections on a MOT sequence folder (no detector model needed)::

    python demos/surveillance_app.py ../shared/data/mot17-mini/MOT17-04-FRCNN \\
        --detector ../shared/data/mot17-mini/MOT17-04-FRCNN/det/det.txt --reid none --leave-after 2

``--zone x1,y1,x2,y2`` restricts events to a rectangle (pixels): a person "enters" when their feet enter it.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trackreid.detection.base import build_detector
from trackreid.io.sources import open_source
from trackreid.tracking.tracker import Tracker, TrackerConfig


@dataclass
class Visit:
    """One identity's stay in the watched area."""

    track_id: int
    first_frame: int
    last_frame: int
    loiter_reported: bool = False
    left: bool = False


class VisitLog:
    """Turns per-frame track ids into enter / leave / loiter events.

    A person has left when unseen for ``leave_after`` frames (short occlusions are not exits: the tracker keeps
    the identity and the visit goes on). Loitering is reported once, when a stay exceeds ``loiter_frames``.
    """

    def __init__(self, fps: float, leave_after: int, loiter_frames: int, on_event):
        self.fps, self.leave_after, self.loiter_frames, self.on_event = fps, leave_after, loiter_frames, on_event
        self.active: dict[int, Visit] = {}
        self.done: list[Visit] = []

    def clock(self, frame: int) -> str:
        """Video time of 1-based ``frame`` as mm:ss.s."""
        s = (frame - 1) / self.fps
        return f"{int(s // 60):02d}:{s % 60:04.1f}"

    def update(self, frame: int, ids) -> None:
        for tid in ids:
            v = self.active.get(tid)
            if v is None:
                v = self.active[tid] = Visit(tid, frame, frame)
                self.on_event(frame, "entered", tid, f"person {tid} entered at {self.clock(frame)}")
            v.last_frame = frame
            if not v.loiter_reported and frame - v.first_frame >= self.loiter_frames:
                v.loiter_reported = True
                secs = (frame - v.first_frame) / self.fps
                self.on_event(frame, "loitering", tid, f"person {tid} loitering: in view for {secs:.1f} s")
        for tid in [t for t, v in self.active.items() if frame - v.last_frame > self.leave_after]:
            self._close(tid, frame)

    def finish(self, frame: int) -> None:
        for tid in list(self.active):
            self._close(tid, frame, still_there=True)

    def _close(self, tid: int, frame: int, still_there: bool = False) -> None:
        v = self.active.pop(tid)
        stay = (v.last_frame - v.first_frame + 1) / self.fps
        if not still_there:
            v.left = True
            self.on_event(frame, "left", tid, f"person {tid} left at {self.clock(v.last_frame)} after {stay:.1f} s")
        self.done.append(v)


def feet_in_zone(tracks: np.ndarray, zone) -> np.ndarray:
    """Mask of tracks whose bottom-centre (feet) lies inside ``zone`` = (x1, y1, x2, y2); all True without a zone."""
    if zone is None:
        return np.ones(len(tracks), bool)
    fx = (tracks[:, 0] + tracks[:, 2]) / 2
    fy = tracks[:, 3]
    x1, y1, x2, y2 = zone
    return (fx >= x1) & (fx <= x2) & (fy >= y1) & (fy <= y2)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("source", help="video file, image folder, webcam index or stream URL")
    p.add_argument("--detector", default="yolo11n.pt", help="Ultralytics model or MOT det.txt")
    p.add_argument("--reid", default="osnet_x0_25", help="ReID model name, or none")
    p.add_argument("--reid-weights", default=None, help="ReID weights file or known name")
    p.add_argument("--device", default="cpu")
    p.add_argument("--conf", type=float, default=0.25)
    p.add_argument("--zone", default=None, help="x1,y1,x2,y2 rectangle to watch (default: the whole frame)")
    p.add_argument("--leave-after", type=int, default=30, help="frames unseen before a person has left (30)")
    p.add_argument("--loiter-seconds", type=float, default=20.0, help="stay that counts as loitering (20 s)")
    p.add_argument("--max-frames", type=int, default=None)
    p.add_argument("--events", type=Path, default=None, help="also append events to this JSON-lines file")
    args = p.parse_args(argv)

    zone = None
    if args.zone:
        zone = tuple(float(v) for v in args.zone.split(","))
        if len(zone) != 4:
            p.error("--zone expects x1,y1,x2,y2")
    try:
        source = open_source(args.source)
        detector = build_detector(args.detector, classes=("person",), conf=args.conf, device=args.device)
        encoder = None
        if args.reid.lower() != "none":
            from trackreid.reid.encoder import build_encoder

            encoder = build_encoder(args.reid, weights=args.reid_weights, device=args.device)
    except (ValueError, OSError) as exc:
        print(f"surveillance_app: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    tracker = Tracker(TrackerConfig(), encoder=encoder)

    fps = source.info.fps or 30.0
    events_file = None
    if args.events:
        args.events.parent.mkdir(parents=True, exist_ok=True)
        events_file = open(args.events, "a", encoding="utf-8")

    def on_event(frame, kind, tid, text):
        print(f"[frame {frame:5d}] {text}")
        if events_file:
            events_file.write(json.dumps({"frame": frame, "time_s": round((frame - 1) / fps, 2), "event": kind,
                                         "id": tid}) + "\n")
            events_file.flush()

    log = VisitLog(fps, args.leave_after, int(args.loiter_seconds * fps), on_event)
    frame_no, status = 0, 0
    try:
        for index, image in enumerate(source):
            if args.max_frames and index >= args.max_frames:
                break
            frame_no = index + 1
            dets = detector(image, index)                  # your detector: (N, 6) x1,y1,x2,y2,score,cls
            tracks = tracker.update(dets, image)           # the tracker embeds the crops with its encoder
            inside = feet_in_zone(tracks, zone)
            log.update(frame_no, tracks[inside, 4].astype(int).tolist())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    except (ValueError, OSError) as exc:  # a detector or source failing mid-run: one line, then the visits so far
        print(f"surveillance_app: error: {' '.join(str(exc).split())}", file=sys.stderr)
        status = 1
    finally:
        source.close()
        log.finish(frame_no)
        if events_file:
            events_file.close()

    visits = sorted(log.done, key=lambda v: v.first_frame)
    print(f"\n{len(visits)} people seen in {frame_no} frames ({frame_no / fps:.1f} s)")
    print(f"{'id':>5} {'entered':>8} {'last seen':>9} {'stay s':>7}  status")
    for v in visits:
        state = ("left" if v.left else "still there") + (", loitered" if v.loiter_reported else "")
        print(f"{v.track_id:>5} {log.clock(v.first_frame):>8} {log.clock(v.last_frame):>9} "
              f"{(v.last_frame - v.first_frame + 1) / fps:7.1f}  {state}")
    return status


if __name__ == "__main__":
    sys.exit(main())
