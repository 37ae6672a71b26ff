"""Soak: the full per-frame path on an endless crowd, to show that cost, memory and every table stay flat.

Each frame of each source goes through :class:`trackreid.pipeline.SourceRun` as in a live run - tracker with its
identity memory, events (a counting line, a zone, enter/exit), the rows held back until their IDs are final and
gaps filled (``FinalRows``), the distinct-ID count - fed by :class:`trackreid.synthetic.endless.EndlessCrowd`
(arrays and one small frame: no decoding, detector or encoder, which hold no state across frames). Two runs: one
source alone, and three sources linked into global IDs (the multi-camera linker and its bank). At each checkpoint it
prints the mean ms per source-frame over the last window, the process RSS and every table's size.

    python benchmarks/soak.py                      # 200,000 frames, checkpoints 1k / 10k / 100k / 200k
    python benchmarks/soak.py --frames 20000       # a shorter one
"""
from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np

from trackreid.io.sources import SourceInfo
from trackreid.pipeline import TrackingOptions
from trackreid.pipeline.models import Models
from trackreid.pipeline.source_run import SourceRun
from trackreid.synthetic.endless import EndlessConfig, EndlessCrowd
from trackreid.tracking.global_ids import GlobalIdentities, LinkConfig

CHECKPOINTS = (1_000, 10_000, 100_000, 200_000)


def rss_mb() -> float:
    """Resident memory of this process now, MiB (Linux ``/proc``; 0 elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def table_sizes(runs: list[SourceRun], linker: GlobalIdentities | None) -> dict[str, int]:
    """Entries of every table that lives across frames, summed over the sources (and the linker's)."""
    sizes = {"tracks": 0, "memory": 0, "id_log": 0, "held_rows": 0, "ids_counted": 0, "event_ids": 0}
    for r in runs:
        t = r.tracker
        sizes["tracks"] += t.tracks.n
        sizes["memory"] += len(t.memory)
        sizes["id_log"] += len(t.id_log)
        sizes["held_rows"] += r.rows.pending
        sizes["ids_counted"] += r.ids_seen.held
        sizes["event_ids"] += len(r.analytics.engine._table) if r.analytics is not None else 0
    if linker is not None:
        sizes.update({f"link.{k}": v for k, v in linker.table_sizes().items()})
    return sizes


def soak(frames: int, sources: int = 1, global_ids: bool = False, checkpoints=CHECKPOINTS, memory_size: int = 1_000,
         window: int = 1_000, seed: int = 0):
    """Run ``sources`` sources (linked into global IDs with ``global_ids``) for ``frames`` frames each; yields
    ``(frame, ms per source-frame over the last window, RSS MiB, table sizes)`` at each checkpoint. The identity
    memory and the global bank hold ``memory_size`` identities (the bound the tables follow)."""
    crowd = EndlessCrowd(EndlessConfig(views=sources, seed=seed))
    w, h = crowd.config.width, crowd.config.height
    opts = TrackingOptions(detector="unused", reid=None, events=True, lines=[f"{w // 2},0,{w // 2},{h}:middle"],
                           zones=[f"0,0,{w // 3},0,{w // 3},{h},0,{h}:left"],
                           tracker_config={"memory_size": memory_size})
    models = Models(detector=None, encoder=None, device="cpu", class_names={0: "person"})
    names = [f"cam{i + 1}" for i in range(sources)]
    runs = [SourceRun(name, SourceInfo(name, "stream", 30.0, w, h, None), opts, models, camera=i)
            for i, name in enumerate(names)]
    linker = None
    if global_ids:
        linker = GlobalIdentities(names, LinkConfig(bank_size=memory_size))
        for i, r in enumerate(runs):
            linker.attach(i, r)
    image = np.zeros((h, w, 3), np.uint8)
    costs = np.zeros(window)
    for f in range(frames):
        views = crowd.step()
        t0 = time.perf_counter()
        for r, (dets, emb, _) in zip(runs, views):
            r.step(f, image, dets, emb, {})
        costs[f % window] = (time.perf_counter() - t0) * 1e3 / sources
        if f + 1 in checkpoints:
            yield f + 1, float(costs[: min(f + 1, window)].mean()), rss_mb(), table_sizes(runs, linker)
    for r in runs:
        r.status = "completed"
        r.finish(wall=1.0, setup_s=None, started="")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=200_000, help="frames per source (default 200000)")
    ap.add_argument("--memory-size", type=int, default=1_000,
                    help="identities the memory and the global bank keep (default 1000)")
    ap.add_argument("--only", choices=("one", "three"), default=None,
                    help="only the single source, or only the three sources with global IDs (default both)")
    a = ap.parse_args(argv)
    marks = tuple(m for m in CHECKPOINTS if m < a.frames) + (a.frames,)
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"soak: {a.frames} frames per source, memory/bank size {a.memory_size}; {cpu}")
    for sources, global_ids in ((1, False), (3, True)):
        if a.only and a.only != ("one" if sources == 1 else "three"):
            continue
        print(f"\n{sources} source(s){', global IDs' if global_ids else ''}")
        print(f"{'frame':>7} {'ms/frame':>9} {'RSS MiB':>8}  table sizes")
        for f, ms, rss, sizes in soak(a.frames, sources, global_ids, marks, a.memory_size):
            print(f"{f:>7} {ms:>9.3f} {rss:>8.1f}  " + " ".join(f"{k}={v}" for k, v in sizes.items()), flush=True)


if __name__ == "__main__":
    main()
