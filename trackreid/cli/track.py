"""``trackreid SOURCE``: track people in a video, image folder, webcam or stream; a thin layer over
:func:`trackreid.pipeline.track_video`.

Exit codes: 0 done, 1 bad input or a failure (one line on stderr; ``--debug`` shows the traceback),
2 bad command line, 130 interrupted (outputs are kept up to the last frame).
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from trackreid.cli import UsageError, run_command

REID_CHOICES = "auto, osnet (= osnet_x1_0), osnet_x0_75, osnet_x0_5, osnet_x0_25, osnet_ain_x1_0, bdb, pmm, none"
EPILOG = """examples:
  trackreid street.mp4                                     # YOLO11n + OSNet x0.25 (bundled Market-1501 weights)
  trackreid street.mp4 --reid osnet --device cuda          # OSNet x1.0 (its trained file: see the error's URL)
  trackreid street.mp4 --reid-weights my_model.onnx        # an exported encoder (ONNX, OpenVINO, TensorRT)
  trackreid cam1.mp4 cam2.mp4 rtsp://cam3/stream --global-ids   # several cameras, one identity space
  trackreid MOT17-04-FRCNN/ --detector MOT17-04-FRCNN/det/det.txt --reid none --seq-name MOT17-04-FRCNN
  trackreid 0 --show                                       # webcam 0, q quits
  trackreid rtsp://camera/stream --max-frames 1000 --quiet
  trackreid rtsp://camera/stream --memory-file site-memory.npz --no-video   # 24/7: reconnects, IDs kept on restart

  trackreid street.mp4 --line 0,540,1920,540:door --zone 100,100,600,100,600,500,100,500:shop --save-crops 8

outputs (in --output, default runs/track/<source name>, numbered when it exists):
  annotated.mp4  tracks.txt (MOT)  tracks.jsonl (one JSON object per frame)  summary.json
  events.jsonl (with --line/--zone/--events)  crops/ (with --save-crops)
"""


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """The detector, encoder and tracker options (``trackreid`` and ``trackreid-adapt`` share them)."""
    g = p.add_argument_group("models")
    g.add_argument("--reid", default="auto", metavar="NAME",
                   help=f"ReID encoder: {REID_CHOICES} (default auto: the architecture of --reid-weights, "
                   "else osnet_x0_25 with its bundled trained weights)")
    g.add_argument("--reid-weights", default=None, metavar="PATH|NAME",
                   help="ReID weights: a checkpoint (torchreid, BoxMOT or trackreid), an exported model (.onnx, "
                   "OpenVINO .xml or folder, TensorRT .engine) or a known name; default: the model's trained "
                   "weights (bundled for osnet_x0_25; other OSNets: the file named in the error, or TRACKREID_ALLOW_UNVERIFIED=1); "
                   "'none' runs untrained")
    g.add_argument("--reid-runtime", default="auto", choices=("auto", "torch", "onnxruntime", "openvino"),
                   help="where a PyTorch checkpoint runs (default auto: the fastest runtime checked against PyTorch "
                   "for the device)")
    g.add_argument("--reid-threads", type=int, default=None, metavar="N",
                   help="intra-op threads of the CPU ReID runtime (default: all cores)")
    g.add_argument("--reid-streams", type=int, default=None, metavar="N",
                   help="concurrent inferences each ReID batch is split into, threads/N threads each (default: one "
                   "per thread; 1: one inference on every thread)")
    g.add_argument("--detector", nargs="+", default=["yolo11n.pt"], metavar="PATH|NAME",
                   help="Ultralytics model (.pt, .onnx, OpenVINO folder; default yolo11n.pt, downloaded by "
                   "Ultralytics when online) or a MOT det.txt of precomputed detections; with several sources, one "
                   "model for all or one det.txt per source in source order")
    g.add_argument("--classes", nargs="+", default=["person"], metavar="CLASS",
                   help="class names or ids to track (default person; 'all' for every class)")
    g.add_argument("--conf", type=float, default=0.25, help="minimum detection score (default 0.25)")
    g.add_argument("--imgsz", type=_imgsz, default=None, metavar="N|H,W",
                   help="detector input size, N or HEIGHT,WIDTH, multiples of 32 (default: the model's, 640 for "
                   "YOLO exports). Faster at some recall: on 16:9 video a fixed-size 640 export (OpenVINO) keeps "
                   "its recall at 384,640 in about 70%% of the time; smaller sizes miss small people. See README "
                   "'Detector input size' for the measured table")
    g.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N (default auto: a GPU when usable)")
    g.add_argument("--half", action=argparse.BooleanOptionalAction, default=None,
                   help="fp16 inference (default: on for CUDA, off for CPU)")
    g.add_argument("--tracker-config", default=None, metavar="FILE.yaml", help="tracker settings (TrackerConfig keys)")


def _imgsz(text: str):
    """``--imgsz``: N or HEIGHT,WIDTH (also HxW), checked by the detector's one rule (multiples of 32)."""
    from trackreid.detection.openvino_size import check_imgsz

    try:
        h, w = check_imgsz(text.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("imgsz: ")) from None
    return h if h == w else (h, w)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="trackreid",
        description="Track people with a detector, a ReID encoder and a Kalman tracker; write an annotated video, "
        "MOT results, JSON lines and a summary as the run goes.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", nargs="+",
                   help="video file, image folder (or MOT sequence folder), webcam index, or stream URL; several "
                   "sources run in one process with batched detection and ReID (outputs in --output/<source name>/)")
    add_model_arguments(p)
    o = p.add_argument_group("outputs")
    o.add_argument("--output", "-o", default=None, metavar="DIR",
                   help="output folder (default runs/track/<source name>, numbered if it exists)")
    o.add_argument("--seq-name", default=None, metavar="SEQ",
                   help="write MOT results as SEQ.txt instead of tracks.txt (the layout trackreid-eval reads)")
    o.add_argument("--no-video", action="store_true", help="do not write the annotated video")
    o.add_argument("--video-format", choices=("mp4", "avi"), default="mp4",
                   help="annotated video container: mp4 (MPEG-4) or avi (Motion JPEG; readable even after a "
                   "hard kill) (default mp4)")
    o.add_argument("--trail", type=int, default=30, help="trail length in frames on the video (0: none; default 30)")
    o.add_argument("--show", action="store_true", help="display the annotated frames (q or Esc quits)")
    o.add_argument("--report", action="store_true",
                   help="also write OUTPUT/report.html at the end: identities with crops, timelines, counts, speed "
                   "(see trackreid-report)")
    o.add_argument("--max-gap", type=int, default=30, metavar="N",
                   help="fill gaps of at most N frames in a person's rows of the MOT file and tracks.jsonl with "
                   "interpolated boxes (rows wait N frames; 0: off; default 30)")
    a = p.add_argument_group("events and crops")
    a.add_argument("--line", action="append", default=[], metavar="X1,Y1,X2,Y2[:NAME]",
                   help="count people crossing this line, with direction (repeatable); events in events.jsonl")
    a.add_argument("--zone", action="append", default=[], metavar="X1,Y1,X2,Y2,X3,Y3,...[:NAME]",
                   help="a polygon: people entering/leaving it and their dwell time (repeatable)")
    a.add_argument("--events-config", default=None, metavar="FILE.yaml", help="lines and zones from a YAML file")
    a.add_argument("--events", action="store_true",
                   help="write events.jsonl (enter/exit of the view per identity) even without lines or zones")
    a.add_argument("--save-crops", type=int, default=0, metavar="N",
                   help="keep the N best crops of each identity under OUTPUT/crops (Market-1501 layout, for "
                   "trackreid-train --data tracks --root OUTPUT)")
    m = p.add_argument_group("several cameras")
    m.add_argument("--global-ids", action="store_true",
                   help="link the identities of different sources into global IDs by appearance (MOT files carry "
                   "the global ID; JSON lines carry id and global_id)")
    m.add_argument("--topology", default=None, metavar="FILE.yaml",
                   help="which cameras connect, with min/max transit times (narrows --global-ids candidates)")
    m.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="spread the sources over a Ray cluster (ADDRESS, e.g. auto or ray://head:10001; without it a "
                   "local Ray); needs pip install -e \".[ray]\"")
    live = p.add_argument_group("live cameras")
    live.add_argument("--reconnect", type=int, default=None, metavar="N",
                      help="reopening attempts per outage of a webcam or stream before it ends (default: keep "
                      "trying; 0: end at the first failure); files and folders end at their end")
    live.add_argument("--reconnect-max-delay", type=float, default=None, metavar="S",
                      help="longest wait in seconds between two reopening attempts (the waits double from 0.5 s; "
                      "default 30)")
    live.add_argument("--stream-timeout", type=float, default=10.0, metavar="S",
                      help="seconds a stream may stall before it counts as down (default 10)")
    live.add_argument("--memory-file", default=None, metavar="FILE.npz",
                      help="keep the identity memory (and with --global-ids the global bank) in this file across "
                      "runs: loaded at the start if it exists, saved every --memory-save-s seconds and at the end, "
                      "Ctrl-C or a failure; a file written with another encoder is an error")
    live.add_argument("--memory-save-s", type=float, default=60.0, metavar="S",
                      help="seconds between two saves of --memory-file (default 60)")
    r = p.add_argument_group("run")
    r.add_argument("--max-frames", type=int, default=None, metavar="N", help="stop after N frames")
    r.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no final report")
    r.add_argument("--no-overlap", action="store_true",
                   help="run detection, ReID and association one after the other (default: the detector works on "
                   "the next frame in a background thread meanwhile; outputs are identical)")
    r.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    return p


def _install_warning_format() -> None:
    """Warnings as one ``trackreid: warning: ...`` line on stderr (``--quiet`` keeps them: each says something
    is off)."""

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"trackreid: warning: {' '.join(str(message).split())}", file=sys.stderr)

    warnings.showwarning = show


def _default_output(sources: list[str]) -> Path:
    from trackreid.io.sinks import next_run_dir
    from trackreid.io.sources import source_name

    return next_run_dir(Path("runs") / "track", source_name(sources[0]) if len(sources) == 1 else "streams")


def _report(summary: dict, out: Path) -> None:
    fps = summary.get("fps") or 0.0
    if "sources" in summary:  # a multi-source run
        print(f"{len(summary['sources'])} sources, {summary['frames']} frames in {summary['wall_s']:.1f} s "
              f"({fps:.1f} fps together), status {summary['status']}"
              + (f", {summary['global_identities']} global identities" if "global_identities" in summary else ""))
        for s in summary["sources"]:
            more = f" ({s['message']})" if s["message"] else ""
            print(f"  {s['name']}: {s['frames']} frames, {s['fps'] or 0:.1f} fps, {s['unique_identities']} "
                  f"identities, {s['status']}{more}{_outages(s)}")
    else:
        stages = "  ".join(f"{k} {v:.1f}" for k, v in summary["stage_ms"].items())
        print(f"{summary['frames']} frames in {summary['wall_s']:.1f} s ({fps:.1f} fps), "
              f"{summary['unique_identities']} identities, status {summary['status']}")
        print(f"ms per frame: {stages}")
        if summary.get("outages", {}).get("count"):
            print(f"source down:{_outages(summary)[1:]}")
    print(f"outputs: {out}")


def _outages(summary: dict) -> str:
    o = summary.get("outages")
    if not o or not o["count"]:
        return ""
    return f", {o['count']} outage{'s' if o['count'] > 1 else ''} ({o['down_s']:.1f} s in all, longest {o['longest_s']:.1f} s)"


def model_options(args) -> dict:
    """The :class:`~trackreid.pipeline.TrackingOptions` fields :func:`add_model_arguments` sets."""
    return dict(
        reid=args.reid, reid_weights=args.reid_weights, reid_runtime=args.reid_runtime, reid_threads=args.reid_threads,
        reid_streams=args.reid_streams,
        detector=args.detector[0] if len(args.detector) == 1 else args.detector, classes=args.classes, conf=args.conf,
        device=args.device, half=args.half, tracker_config=args.tracker_config, imgsz=args.imgsz)


def options_from_args(args, output) -> dict:
    """The :class:`~trackreid.pipeline.TrackingOptions` fields the command line sets."""
    return dict(
        **model_options(args), output=output,
        save_video=not args.no_video, show=args.show, max_frames=args.max_frames, quiet=args.quiet,
        trail=args.trail, video_name=f"annotated.{args.video_format}",
        mot_name=f"{args.seq_name}.txt" if args.seq_name else "tracks.txt", overlap=not args.no_overlap,
        lines=args.line, zones=args.zone, events_config=args.events_config, events=args.events or None,
        save_crops=args.save_crops, max_gap=args.max_gap, reconnect=_reconnect(args),
        stream_timeout_s=args.stream_timeout, memory_file=args.memory_file, memory_save_s=args.memory_save_s,
    )


def _reconnect(args):
    """``TrackingOptions.reconnect`` from ``--reconnect`` and ``--reconnect-max-delay`` (None: the defaults)."""
    if args.reconnect is None and args.reconnect_max_delay is None:
        return None
    from trackreid.io.sources import Reconnect

    kw = {} if args.reconnect_max_delay is None else {"max_delay_s": args.reconnect_max_delay}
    try:
        return Reconnect(attempts=args.reconnect, **kw)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _install_logging(quiet: bool) -> None:
    """trackreid's log lines (a stream down and back, weights downloaded) as ``trackreid: ...`` on stderr; with
    ``--quiet`` only warnings."""
    import logging

    logger = logging.getLogger("trackreid")
    if not any(getattr(h, "trackreid_cli", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("trackreid: %(message)s"))
        handler.trackreid_cli = True
        logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = False


def _stop_on_sigterm():
    """SIGTERM (``systemctl stop``, ``docker stop``) ends the run as Ctrl-C does: outputs closed, summary and
    memory file written. Returns the previous handler (None outside the main thread)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def stop(signum, frame):
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, stop)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.debug:
        _install_warning_format()
        from trackreid.io.sources import quiet_native_logs

        quiet_native_logs()  # FFmpeg's and OpenCV's own lines: each failure reaches the user as one line of ours
    _install_logging(args.quiet)
    previous = _stop_on_sigterm()
    from trackreid.pipeline import TrackingRun

    out = Path(args.output) if args.output else _default_output(args.source)
    holder: dict = {}

    def body():
        if args.line or args.zone:
            from trackreid.analytics.regions import build_regions

            try:
                build_regions(args.line, args.zone, None)
            except ValueError as exc:  # a malformed --line / --zone is a command-line mistake
                raise UsageError(str(exc)) from None
        opts = options_from_args(args, out)
        if args.ray is not None:
            from trackreid.distributed import run_on_ray

            holder["summary"] = run_on_ray(args.source, address=args.ray or None, global_ids=args.global_ids,
                                           topology=args.topology, **opts)
            return
        if len(args.source) == 1 and not args.global_ids:
            if len(args.detector) > 1:
                raise UsageError(f"{len(args.detector)} detectors for one source; give one --detector")
            holder["run"] = TrackingRun(args.source[0], **opts)
        else:
            from trackreid.streams import StreamsRun

            holder["run"] = StreamsRun(args.source, global_ids=args.global_ids, topology=args.topology, **opts)
        holder["summary"] = holder["run"].run()

    def kept():
        run = holder.get("run")
        if run is not None and run.summary and run.summary.get("frames"):
            return f" (after {run.summary['frames']} frames; outputs kept in {run.output_dir})"
        return ""

    def interrupted():
        run = holder.get("run")
        if run is None:
            return None
        frames = run.summary["frames"] if run.summary else 0
        where = f"; outputs kept in {run.output_dir}" if run.summary and run.output_dir else ""
        return f"trackreid: interrupted after {frames} frames{where}"

    try:
        code = run_command("trackreid", body, debug=args.debug, on_interrupt=interrupted, context=kept)
    finally:
        if previous is not None:
            import signal

            signal.signal(signal.SIGTERM, previous)
    if code:
        return code
    summary = holder["summary"]
    if args.report:
        from trackreid.io.report import write_report

        report = write_report(out)
        if not args.quiet:
            print(f"report: {report}")
    if not args.quiet:
        _report(summary, out)
        if summary["status"] == "source_ended":
            print(f"trackreid: warning: {summary['message']}", file=sys.stderr)
        elif summary["status"] == "completed" and summary.get("message"):
            print(f"trackreid: note: {summary['message']}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
