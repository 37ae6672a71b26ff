"""An Ultralytics app with trackreid's IDs: ``attach(model)``, then the usual ``model.track(..., stream=True)`` loop.

``r.boxes.id`` carries trackreid's IDs (the same as the ``trackreid`` command's with the same detector). The loop
prints the IDs in view once a second of video; ``--mot FILE`` writes MOT rows keyed to *final* IDs (a returning
person recognised a few frames late is written under the remembered ID from their first row), the way a
``trackreid`` run writes its outputs. With the shared test data beside the checkout::

    python demos/ultralytics_app.py ../shared/data/videos/street-302f.mp4 \\
        --model ../shared/data/detectors/yolov8n_int8_openvino_model --max-frames 90 --mot runs/street_mot.txt

``--reid yolo`` takes appearance from the detector's own features instead of OSNet (a PyTorch ``.pt`` model only);
``--reid none`` tracks on motion alone.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("source", help="video file, image folder, webcam index or stream URL")
    p.add_argument("--model", default="yolo11n.pt", help="Ultralytics detection model (default: %(default)s)")
    p.add_argument("--reid", default="auto", help="ReID model name, 'yolo' (the detector's features) or 'none'")
    p.add_argument("--max-frames", type=int, default=None, help="stop after N frames")
    p.add_argument("--mot", default=None, help="write MOT rows with final IDs to this file")
    args = p.parse_args(argv)

    from ultralytics import YOLO

    from trackreid.integrations.ultralytics import attach
    from trackreid.io.deferred import FinalRows

    if not Path(args.source).exists() and not args.source.isdigit() and "://" not in args.source:
        print(f"ultralytics_app: error: source {args.source!r} does not exist", file=sys.stderr)
        return 1
    mot = None
    try:
        model = YOLO(args.model, task="detect")
        reid = attach(model, reid=args.reid)
        if args.mot:
            Path(args.mot).parent.mkdir(parents=True, exist_ok=True)
            mot = open(args.mot, "w")
        final_ids: set[int] = set()

        def write_final(frame_id, tracks):  # rows arrive in frame order, with their final IDs
            final_ids.update(tracks[:, 4].astype(int).tolist())
            for x1, y1, x2, y2, tid, score, *_ in tracks.tolist() if mot is not None else []:
                mot.write(f"{frame_id},{int(tid)},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},{score:.3f},-1,-1,-1\n")

        rows = None
        frames = 0
        for r in model.track(args.source, stream=True, verbose=False):
            frames += 1
            if rows is None:  # the tracker exists once the first frame is in
                rows = FinalRows.for_tracker(None, reid.tracker, listeners=[write_final])
            rows.write(frames, r.tracker_output.tracks)
            if frames % 30 == 1:
                ids = r.boxes.id.int().tolist()
                print(f"frame {frames}: {len(ids)} people in view, IDs {ids}")
            if args.max_frames and frames >= args.max_frames:
                break
        if rows is not None:
            rows.close()
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one line, no traceback, for a bad model, source or option
        print(f"ultralytics_app: error: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        return 1
    finally:
        if mot is not None:
            mot.close()
    print(f"{frames} frames, {len(final_ids)} identities (final IDs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
