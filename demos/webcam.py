"""Live tracking from a webcam or an RTSP/HTTP stream, shown on screen (q or Esc quits).

It consumes :func:`trackreid.track_video` frame by frame and draws each result itself, which is the pattern
for any live application (alerts, counters, your own UI)::

    python demos/webcam.py 0                                   # webcam 0, YOLO11n (downloaded once) + OSNet
    python demos/webcam.py rtsp://user:pass@192.168.1.20:554/stream1 --reid osnet_x0_25 \\
        --reid-weights osnet_x0_25_market1501.pt --detector yolov8n_openvino_model/

Needs an OpenCV build with GUI support (trackreid installs ``opencv-python``; if another package brought in the
``-headless`` wheel, which has no windows: ``pip uninstall -y opencv-python-headless opencv-python &&
pip install opencv-python``).
Without a display, ``--no-display`` prints one line per second instead, e.g. on the shared street video::

    python demos/webcam.py ../shared/data/videos/street-302f.mp4 --no-display --max-frames 60 \\
        --detector ../shared/data/detectors/yolov8n_int8_openvino_model \\
        --reid osnet_x0_25 --reid-weights ../shared/data/reid/osnet_x0_25_market1501.pt

Add ``--output DIR`` to also record the annotated video, MOT results, JSON lines and a summary.
"""
from __future__ import annotations

import argparse
import sys
import time

import cv2

from trackreid.io.draw import TrackDrawer
from trackreid.io.video import display_problem
from trackreid.pipeline import TrackingRun


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("source", help="webcam index (0), stream URL, or a video file")
    p.add_argument("--detector", default="yolo11n.pt")
    p.add_argument("--reid", default="auto")
    p.add_argument("--reid-weights", default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--output", default=None, help="also write outputs to this folder")
    p.add_argument("--max-frames", type=int, default=None)
    p.add_argument("--no-display", action="store_true", help="print a status line each second instead of a window")
    args = p.parse_args(argv)

    if not args.no_display:
        problem = display_problem()
        if problem:
            print(f"webcam: error: {problem}; pass --no-display", file=sys.stderr)
            return 1

    run = TrackingRun(args.source, detector=args.detector, reid=args.reid, reid_weights=args.reid_weights,
                      device=args.device, output=args.output, max_frames=args.max_frames, quiet=True)
    drawer = TrackDrawer(trail=30)
    last_print = t_start = None
    try:
        for r in run:
            if t_start is None:  # models load before the first frame; count from there
                last_print = t_start = time.monotonic()
            fps = (r.frame_id - 1) / max(time.monotonic() - t_start, 1e-6)
            if args.no_display:
                if time.monotonic() - last_print >= 1.0:
                    last_print = time.monotonic()
                    print(f"frame {r.frame_id}: {len(r.tracks)} people, ids {sorted(r.ids.tolist())}, {fps:.1f} fps")
                continue
            view = drawer.draw(r.image, r.tracks, info=f"{len(r.tracks)} people  {fps:.1f} fps")
            cv2.imshow("trackreid", view)
            if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                break
    except KeyboardInterrupt:
        pass
    except (ValueError, OSError) as exc:
        print(f"webcam: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    finally:
        if not args.no_display:
            cv2.destroyAllWindows()
    s = run.summary
    if s:
        print(f"{s['frames']} frames, {s['unique_identities']} identities, {s['fps'] or 0:.1f} fps ({s['status']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
