"""Many streams on one machine: one batched ``trackreid SRC1 ... SRCN`` run against N separate ``trackreid``
processes, side by side in one run.

    python benchmarks/multistream_speed.py                      # 1, 4 and 8 copies of street-302f.mp4, CPU
    python benchmarks/multistream_speed.py --streams 1 4 --frames 60 --device cuda:0

For each N it prints the aggregate frames/s (all streams together) and per-stream latency, measured two ways:
end to end (wall clock of the whole job, model loading included: what a user waits for) and in steady state
(frames over the tracking loop's own time, from each run's summary.json). Same detector, ReID model and weights in
both; outputs are written as a user would get them (MOT, JSON lines; no video unless --video).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("TRACKREID_SHARED_DATA", ROOT.parent / "shared" / "data"))


def _cmd(args, sources, out) -> list[str]:
    cmd = [sys.executable, "-m", "trackreid.cli.track", *map(str, sources), "--output", str(out), "--quiet",
           "--detector", args.detector, "--reid", args.reid, "--device", args.device,
           "--max-frames", str(args.frames)]
    if args.reid_weights:
        cmd += ["--reid-weights", args.reid_weights]
    if not args.write_video:
        cmd.append("--no-video")
    return cmd


def batched(args, n: int, tmp: Path) -> dict:
    out = tmp / f"batched-{n}"
    t0 = time.perf_counter()
    subprocess.run(_cmd(args, [args.video] * n, out), check=True)
    wall = time.perf_counter() - t0
    s = json.loads((out / "summary.json").read_text())
    if n == 1:  # a single source writes the one-source summary
        lat = [s["pipeline_ms"]]
        frames, loop = s["frames"], s["wall_s"]
    else:
        lat = [x["latency_ms"] for x in s["sources"]]
        frames, loop = s["frames"], s["wall_s"]
    return {"frames": frames, "wall": wall, "loop_fps": frames / loop, "latency_ms": sum(lat) / len(lat)}


def separate(args, n: int, tmp: Path) -> dict:
    outs = [tmp / f"separate-{n}-{i}" for i in range(n)]
    t0 = time.perf_counter()
    procs = [subprocess.Popen(_cmd(args, [args.video], o)) for o in outs]
    for p in procs:
        if p.wait() != 0:
            raise SystemExit(f"multistream_speed: a trackreid process failed (exit {p.returncode})")
    wall = time.perf_counter() - t0
    sums = [json.loads((o / "summary.json").read_text()) for o in outs]
    frames = sum(s["frames"] for s in sums)
    return {"frames": frames, "wall": wall, "loop_fps": sum(s["fps"] for s in sums),
            "latency_ms": sum(s["pipeline_ms"] for s in sums) / n}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--video", type=Path, default=DATA / "videos" / "street-302f.mp4")
    p.add_argument("--detector", default=str(DATA / "detectors" / "yolov8n_int8_openvino_model"))
    p.add_argument("--reid", default="osnet_x0_25")
    p.add_argument("--reid-weights", default=None, help="default: the model's bundled trained weights")
    p.add_argument("--streams", type=int, nargs="+", default=[1, 4, 8])
    p.add_argument("--frames", type=int, default=90, help="frames per stream (default 90)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--video-out", dest="write_video", action="store_true", help="also write annotated videos")
    args = p.parse_args(argv)
    if not args.video.is_file():
        print(f"multistream_speed: {args.video} not found (the shared data is needed)", file=sys.stderr)
        return 1
    print(f"{args.video.name}, {args.frames} frames per stream, detector {Path(args.detector).name}, "
          f"reid {args.reid}, device {args.device}, {os.cpu_count()} CPUs")
    print(f"{'streams':>7} | {'batched: e2e fps':>16} {'loop fps':>9} {'latency ms':>10} | "
          f"{'separate: e2e fps':>17} {'loop fps':>9} {'latency ms':>10} | {'batched/separate e2e':>20} {'loop':>6}")
    with tempfile.TemporaryDirectory() as d:
        for n in args.streams:
            b, s = batched(args, n, Path(d)), separate(args, n, Path(d))
            be, se = b["frames"] / b["wall"], s["frames"] / s["wall"]
            print(f"{n:>7} | {be:>16.1f} {b['loop_fps']:>9.1f} {b['latency_ms']:>10.1f} | {se:>17.1f} "
                  f"{s['loop_fps']:>9.1f} {s['latency_ms']:>10.1f} | {be / se:>19.2f}x {b['loop_fps'] / s['loop_fps']:>5.2f}x",
                  flush=True)
    print("e2e: all frames over the wall clock of the whole job, model loading included; loop: frames over the "
          "tracking loops' own time (separate: the sum of each process's rate). latency: mean ms from a frame's "
          "detection to its result (batched) or per-frame pipeline ms (separate).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
