"""Per-frame ``update`` cost on the CPU, ours beside BoxMOT's BotSort and ByteTrack, same inputs, one run.

Inputs are precomputed: N people walk across a 1920x1080 frame (straight lines, a little jitter, people
crossing) with 512-d embeddings (identity code + noise; ``--dim`` changes the size), so only association is
timed -- no detector, no ReID model. BotSort receives the same embeddings through a stub ``reid_model`` (no network is loaded) and runs without
camera-motion compensation, like ours. The first 30 frames of each run are warm-up and not timed.

    python benchmarks/tracker_speed.py                 # 10, 40, 100 detections, 300 frames each
    python benchmarks/tracker_speed.py --sizes 40 --frames 1000
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from tracker_quality import EmbeddingFeed, make_boxmot  # noqa: E402

from trackreid import Tracker, TrackerConfig  # noqa: E402

WIDTH, HEIGHT = 1920, 1080


def make_inputs(n: int, frames: int, seed: int = 0, dim: int = 512) -> list[tuple[np.ndarray, np.ndarray]]:
    """``frames`` frames of n walking people: (dets (n, 6) float32, embeddings (n, dim) float32)."""
    rng = np.random.default_rng(seed)
    h = rng.uniform(80, 260, n)
    w = h * rng.uniform(0.35, 0.45, n)
    x = rng.uniform(0, WIDTH - w)
    y = rng.uniform(0, HEIGHT - h)
    v = rng.normal(0, 3, (n, 2))
    codes = rng.normal(size=(n, dim))
    codes /= np.linalg.norm(codes, axis=1, keepdims=True)
    out = []
    for _ in range(frames):
        x += v[:, 0]
        y += v[:, 1]
        bounce_x = (x < 0) | (x + w > WIDTH)
        bounce_y = (y < 0) | (y + h > HEIGHT)
        v[bounce_x, 0] *= -1
        v[bounce_y, 1] *= -1
        x = np.clip(x, 0, WIDTH - w)
        y = np.clip(y, 0, HEIGHT - h)
        j = rng.normal(0, 1.5, (n, 4))
        dets = np.stack([x + j[:, 0], y + j[:, 1], x + w + j[:, 2], y + h + j[:, 3],
                         rng.uniform(0.3, 0.95, n), np.zeros(n)], axis=1).astype(np.float32)
        e = codes + rng.normal(0, 0.3 / np.sqrt(dim), codes.shape)
        e /= np.linalg.norm(e, axis=1, keepdims=True)
        out.append((dets, e.astype(np.float32)))
    return out


def time_tracker(name: str, inputs, warmup: int = 30) -> float:
    """Mean milliseconds per ``update`` after the warm-up frames."""
    img = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    if name == "ours":
        tracker = Tracker(TrackerConfig())

        def step(d, e):
            tracker.update(d, embeddings=e)
    elif name == "ours-motion":
        tracker = Tracker(TrackerConfig(appearance_weight=0.0))

        def step(d, e):
            tracker.update(d)
    else:
        feed = EmbeddingFeed()
        tracker = make_boxmot(name, feed)

        def step(d, e):
            feed.embeddings = e
            tracker.update(d, img)
    for d, e in inputs[:warmup]:
        step(d, e)
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for d, e in inputs[warmup:]:
            step(d, e)
        dt = time.perf_counter() - t0
    finally:
        gc.enable()
    return dt / (len(inputs) - warmup) * 1e3


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[10, 40, 100], help="detections per frame")
    p.add_argument("--frames", type=int, default=300, help="frames per run (first 30 are warm-up)")
    p.add_argument("--repeats", type=int, default=3, help="runs per tracker and size; the fastest is reported")
    p.add_argument("--dim", type=int, default=512, help="embedding size (512: OSNet; 1536: BDB/PMM)")
    args = p.parse_args(argv)

    names = ["ours", "ours-motion", "botsort", "bytetrack"]
    print(f"CPU per-frame update cost (ms, best of {args.repeats}; {args.frames} frames; precomputed "
          f"{args.dim}-d embeddings; threads: {os.environ.get('OMP_NUM_THREADS', 'default')})")
    header = f"{'dets':>5} | " + " | ".join(f"{n:>11}" for n in names) + " | BotSort/ours | ByteTrack/ours"
    print(header)
    print("-" * len(header))
    for n in args.sizes:
        inputs = make_inputs(n, args.frames, dim=args.dim)
        ms = {name: min(time_tracker(name, inputs) for _ in range(args.repeats)) for name in names}
        row = f"{n:>5} | " + " | ".join(f"{ms[name]:>11.3f}" for name in names)
        row += f" | {ms['botsort'] / ms['ours']:>11.1f}x | {ms['bytetrack'] / ms['ours']:>13.1f}x"
        print(row, flush=True)


if __name__ == "__main__":
    main()
