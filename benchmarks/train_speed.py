"""Training throughput (images/s) and peak memory per model, and what bounds it.

    python benchmarks/train_speed.py [--models osnet_x0_25 osnet_x1_0 bdb pmm] [--steps 3] [--device auto]

Each model runs in its own subprocess (so peak memory is its own): a few warm-up steps, then timed optimiser
steps on batches already in memory (compute only: forward, the recipe's losses, backward, Adam step). Separately,
the data path (JPEG decode + augmentation of Market-sized 128x64 crops, one process) is timed, so the table says
whether loading or compute would bound a real run and how many loader workers would keep up.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_BATCH = {"osnet_x0_25": 32, "osnet_x1_0": 32, "bdb": 16, "pmm": 16}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_one(model_name: str, batch: int, steps: int, device: str) -> dict:
    import torch

    from trackreid.reid.models.registry import build_model, get_spec
    from trackreid.train.config import build_config
    from trackreid.train.engine import resolve_device
    from trackreid.train.losses import ReIDLoss

    dev = resolve_device(device)
    cfg = build_config(None, model_name, {"pretrained_backbone": False})
    h, w = get_spec(model_name).input_size
    num_classes = 751
    torch.manual_seed(0)
    model = build_model(model_name, num_classes=num_classes).to(dev).train()
    crit = ReIDLoss(cfg.label_smooth, cfg.ce_weight, cfg.triplet_weight, cfg.triplet_margin)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, amsgrad=cfg.optimizer == "amsgrad")
    x = torch.randn(batch, 3, h, w, device=dev)
    y = torch.arange(batch // 4, device=dev).repeat_interleave(4)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if dev.type == "cuda" else None
    base_rss = _peak_rss_mb()

    def step():
        opt.zero_grad(set_to_none=True)
        if amp is not None:
            with amp:
                out = model(x, labels=y)
        else:
            out = model(x, labels=y)
        loss, _ = crit(out, y)
        loss.backward()
        opt.step()

    step()  # warm-up
    if dev.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else _peak_rss_mb()
    return {"model": model_name, "input": f"{h}x{w}", "batch": batch, "images_per_s": batch * steps / dt,
            "step_s": dt / steps, "peak_mb": peak, "memory_kind": "GPU allocated" if dev.type == "cuda" else
            "process RSS", "start_rss_mb": base_rss, "device": str(dev), "threads": torch.get_num_threads()}


def data_rate(n: int = 256) -> float:
    """Images/s of decode + training augmentation (256x128, flip, pad-crop, erasing) in one process."""
    import cv2
    import numpy as np

    from trackreid.train.engine import TrainImages
    from trackreid.train.transforms import TransformConfig

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as d:
        items = []
        for i in range(64):
            p = str(Path(d) / f"{i:04d}_c1s1_000000_00.jpg")
            cv2.imwrite(p, rng.integers(0, 256, (128, 64, 3), dtype=np.uint8))
            items.append((p, i % 16, 0))
        ds = TrainImages(items, TransformConfig())
        t0 = time.perf_counter()
        for i in range(n):
            ds[(i % 64, i)]
        return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=list(DEFAULT_BATCH))
    ap.add_argument("--batch", type=int, help="batch size for every model (default: 32 OSNet, 16 BDB/PMM)")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.batch or DEFAULT_BATCH.get(args.one, 32), args.steps, args.device)))
        return
    rows = []
    for m in args.models:
        cmd = [sys.executable, __file__, "--one", m, "--steps", str(args.steps), "--device", args.device]
        if args.batch:
            cmd += ["--batch", str(args.batch)]
        out = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
        if out.returncode:
            print(f"{m}: failed: {out.stderr.strip().splitlines()[-1] if out.stderr else out.returncode}")
            continue
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    load = data_rate()
    import platform

    import torch
    print(f"device: {rows[0]['device'] if rows else args.device}, torch {torch.__version__}, "
          f"{rows[0]['threads'] if rows else '?'} threads, CPU: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f})")
    print(f"{'model':<12} {'input':>7} {'batch':>5} {'step s':>8} {'train img/s':>12} {'peak MB':>9} "
          f"{'before MB':>9}  bound")
    for r in rows:
        bound = "compute" if r["images_per_s"] < load else f"data loading (needs {r['images_per_s'] / load:.1f} workers)"
        print(f"{r['model']:<12} {r['input']:>7} {r['batch']:>5} {r['step_s']:>8.2f} {r['images_per_s']:>12.1f} "
              f"{r['peak_mb']:>9.0f} {r['start_rss_mb']:>9.0f}  {bound}")
    kind = rows[0]["memory_kind"] if rows else ""
    print(f"data path (decode + augment, one process): {load:.0f} images/s; peak memory = {kind} "
          "('before MB': after building the model, before the first step)")
    if rows:
        slowest_data = max(r["images_per_s"] for r in rows) / load
        if slowest_data < 1:
            print(f"note: compute bounds training here (the data path is {1 / slowest_data:.0f}x faster than the "
                  "fastest model); on a GPU (~1,000-3,000 img/s for these models) JPEG decoding and augmentation "
                  "bound it unless several loader workers (--workers) run in parallel.")
        else:
            print(f"note: the data path bounds training here: about {slowest_data:.1f} loader workers (--workers) "
                  "are needed to keep the fastest model fed.")


if __name__ == "__main__":
    main()
