"""A supervision app with trackreid's IDs: ``ReIDTracker`` where ``sv.ByteTrack`` / ``trackers`` would be, a
``LineZone`` counting people, annotators drawing boxes, IDs and traces.

Detections come from any detector as ``sv.Detections`` (here an Ultralytics model); ``tracker.update(detections,
frame)`` sets ``tracker_id``. The line counts each person once by ID. With the shared test data beside the
checkout::

    python demos/supervision_app.py ../shared/data/videos/street-302f.mp4 \\
        --model ../shared/data/detectors/yolov8n_int8_openvino_model --max-frames 90 --output runs/street_sv.mp4

``--line x1,y1,x2,y2`` places the counting line (default: across the middle of the frame).
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("source", help="video file")
    p.add_argument("--model", default="yolo11n.pt", help="Ultralytics detection model (default: %(default)s)")
    p.add_argument("--reid", default="auto", help="ReID model name or 'none' (motion only)")
    p.add_argument("--line", default=None, help="counting line x1,y1,x2,y2 in pixels (default: the middle row)")
    p.add_argument("--max-frames", type=int, default=None, help="stop after N frames")
    p.add_argument("--output", default=None, help="write the annotated video here")
    args = p.parse_args(argv)

    import supervision as sv
    from ultralytics import YOLO

    from trackreid.integrations.supervision import ReIDTracker

    if not Path(args.source).is_file():
        print(f"supervision_app: error: video {args.source!r} does not exist", file=sys.stderr)
        return 1
    try:
        info = sv.VideoInfo.from_video_path(args.source)
        if args.line:
            x1, y1, x2, y2 = (float(v) for v in args.line.split(","))
        else:
            x1, y1, x2, y2 = 0, info.height / 2, info.width, info.height / 2
    except ValueError as exc:
        print(f"supervision_app: error: --line expects x1,y1,x2,y2 ({exc})", file=sys.stderr)
        return 2
    try:
        model = YOLO(args.model, task="detect")
        tracker = ReIDTracker(reid=args.reid)
        line = sv.LineZone(sv.Point(x1, y1), sv.Point(x2, y2))
        boxes, labels, traces = sv.BoxAnnotator(), sv.LabelAnnotator(), sv.TraceAnnotator()
        line_drawer = sv.LineZoneAnnotator()
        ids: set[int] = set()
        frames = 0
        if args.output:
            Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        with sv.VideoSink(args.output, info) if args.output else contextlib.nullcontext() as sink:
            for frame in sv.get_video_frames_generator(args.source, end=args.max_frames):
                frames += 1
                detections = sv.Detections.from_ultralytics(model(frame, classes=[0], verbose=False)[0])
                detections = tracker.update(detections, frame)
                line.trigger(detections)
                ids.update(detections.tracker_id.tolist())
                if sink is not None:
                    shown = boxes.annotate(frame.copy(), detections)
                    shown = traces.annotate(shown, detections)
                    shown = labels.annotate(shown, detections, labels=[f"#{t}" for t in detections.tracker_id])
                    sink.write_frame(line_drawer.annotate(shown, line_counter=line))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one line, no traceback, for a bad model or option
        print(f"supervision_app: error: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        return 1
    print(f"{frames} frames, {len(ids)} IDs, line in {line.in_count} / out {line.out_count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
