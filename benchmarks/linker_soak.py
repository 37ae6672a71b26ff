"""Multi-camera linker on an endless site: per-frame ``link`` cost and table sizes as the site runs.

One camera (or several), ``--people`` in view at a time, a new track every ``--every`` frames (each person stays
``people * every`` frames), random appearance per person (a few of them return as someone the bank knows). Prints
the mean cost of a ``link`` call and every table's size at frame 1k/10k/50k (flat = bounded).

    python benchmarks/linker_soak.py --frames 50000
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from trackreid.tracking.global_ids import GlobalIdentities, LinkConfig


def soak(frames: int, people: int = 10, every: int = 6, cameras: int = 1, dim: int = 64, seed: int = 0,
         checkpoints=(1_000, 10_000, 50_000), config: LinkConfig | None = None, window: int = 500):
    """Run the linker over a synthetic stream; yields ``(frame, mean ms per link over the last window, sizes)`` at
    each checkpoint."""
    rng = np.random.default_rng(seed)
    linker = GlobalIdentities([f"cam{c + 1}" for c in range(cameras)], config or LinkConfig())
    stay = people * every
    looks: dict[int, np.ndarray] = {}
    costs: list[float] = []
    for f in range(1, frames + 1):
        for cam in range(cameras):
            first = max(1, (f - stay) // every + 1)
            ids = np.arange(first, f // every + 1, dtype=np.int64) * cameras + cam
            if len(ids) == 0:
                continue
            for i in ids.tolist():
                if i not in looks:
                    looks[i] = rng.normal(size=dim).astype(np.float32)
            for i in [i for i in looks if i < ids[0] - 2 * cameras]:
                del looks[i]
            feats = np.stack([looks[i] + 0.3 * rng.normal(size=dim).astype(np.float32) for i in ids.tolist()])
            feats /= np.linalg.norm(feats, axis=1, keepdims=True)
            x = ((f - (ids // cameras) * every) % 600).astype(np.float64)
            tracks = np.stack([x, np.full(len(ids), 50.0), x + 40, np.full(len(ids), 150.0), ids.astype(np.float64),
                               np.full(len(ids), 0.9), np.zeros(len(ids)), np.arange(len(ids))], axis=1)
            t0 = time.perf_counter()
            linker.link(cam, f, tracks, feats, np.ones(len(ids), bool))
            costs.append((time.perf_counter() - t0) * 1e3)
        if f in checkpoints:
            yield f, float(np.mean(costs[-window:])), linker.table_sizes()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=50_000)
    ap.add_argument("--people", type=int, default=10)
    ap.add_argument("--every", type=int, default=6)
    ap.add_argument("--cameras", type=int, default=1)
    ap.add_argument("--bank-size", type=int, default=LinkConfig.bank_size,
                    help="global identities kept (the bound every table follows)")
    a = ap.parse_args(argv)
    marks = tuple(m for m in (1_000, 10_000, 50_000, a.frames) if m <= a.frames)
    print(f"linker soak: {a.cameras} camera(s), {a.people} people in view, a new track every {a.every} frames; "
          f"{platform.processor() or platform.machine()}")
    print(f"{'frame':>7} {'ms/link':>8}  table sizes")
    print(f"bank_size {a.bank_size}")
    for f, ms, sizes in soak(a.frames, a.people, a.every, a.cameras, checkpoints=marks,
                             config=LinkConfig(bank_size=a.bank_size)):
        print(f"{f:>7} {ms:>8.3f}  " + " ".join(f"{k}={v}" for k, v in sizes.items()))


if __name__ == "__main__":
    main()
