"""ReID embedding speed: trackreid's encoder beside BoxMOT's ReID backend, same weights, same frames, one run.

Prints (1) embedding cost per 1080p frame with 10, 40 and 100 boxes, ours (on the CPU with both runtimes, PyTorch
and ONNX Runtime) vs BoxMOT's ``get_features`` and the ratio, with the cosine agreement of the two feature sets
(a fair comparison computes the same thing); and (2) the bare network forward throughput (crops/s) at batch 1, 32
and 256.

  python benchmarks/reid_speed.py                                  # auto device; fp16 on CUDA
  python benchmarks/reid_speed.py --device cpu --frames 3
  python benchmarks/reid_speed.py --weights path/to/osnet_x0_25_market1501.pt --reid osnet_x0_25

Frames come from ``trackreid.synthetic`` (rendered 1080p people; boxes topped up with random person-sized boxes to
reach each count). BoxMOT is optional (``pip install boxmot``); without it only our figures are printed.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
DEFAULT_WEIGHTS = REPO.parent / "shared" / "data" / "reid" / "osnet_x0_25_market1501.pt"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_frames(n_frames: int, n_boxes: int, seed: int = 0):
    """``n_frames`` 1080p BGR frames and (n_boxes, 4) xyxy person-sized boxes for each."""
    rng = np.random.default_rng(seed)
    try:
        from trackreid.synthetic import SceneConfig, generate_scene

        scene = generate_scene(SceneConfig(num_people=max(n_boxes, 10), num_frames=n_frames, width=1920,
                                           height=1080, seed=seed))
        frames = [scene.render(t) for t in range(1, n_frames + 1)]
        base = [scene.dets_at(t)[:, :4] for t in range(1, n_frames + 1)]
    except Exception:  # noqa: BLE001 - synthetic scenes unavailable: random images
        frames = [rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8) for _ in range(n_frames)]
        base = [np.empty((0, 4), np.float32) for _ in range(n_frames)]
    out = []
    for img, b in zip(frames, base):
        b = b[:n_boxes]
        k = n_boxes - len(b)
        h = rng.uniform(80, 420, k)
        w = h * rng.uniform(0.3, 0.5, k)
        x = rng.uniform(0, 1920 - w)
        y = rng.uniform(0, 1080 - h)
        extra = np.stack([x, y, x + w, y + h], 1)
        out.append((img, np.concatenate([b, extra]).astype(np.float32)))
    return out


def time_calls(fns, items, device, repeats: int) -> list[float]:
    """Median ms per call of each ``fn(frame, boxes)`` over ``repeats`` passes of ``items`` (after a warm-up
    pass). The functions alternate call by call, so load from other processes hits them alike."""
    for fn in fns:
        for it in items:
            fn(*it)
    _sync(device)
    times = [[] for _ in fns]
    for _ in range(repeats):
        for it in items:
            for fn, acc in zip(fns, times):
                t = time.perf_counter()
                fn(*it)
                _sync(device)
                acc.append((time.perf_counter() - t) * 1e3)
    return [statistics.median(t) for t in times]


def boxmot_backend(weights: Path, device: torch.device, half: bool, workdir: Path):
    """BoxMOT's PyTorch ReID backend on a copy of ``weights`` named as BoxMOT expects (no download attempted)."""
    from boxmot.reid.backends.pytorch_backend import PyTorchBackend

    local = workdir / weights.name
    if not local.exists():
        shutil.copy(weights, local)
    import logging

    logging.getLogger("boxmot").setLevel(logging.WARNING)
    return PyTorchBackend(local, device, half)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reid", default="osnet_x0_25")
    p.add_argument("--weights", default=str(DEFAULT_WEIGHTS))
    p.add_argument("--device", default="auto")
    p.add_argument("--runtimes", default="",
                   help="comma-separated encoder runtimes to time (default: torch,onnxruntime on CPU, torch on GPU)")
    p.add_argument("--frames", type=int, default=3, help="distinct frames per box count (default 3)")
    p.add_argument("--repeats", type=int, default=0, help="passes over the frames (default: 3 on CPU, 20 on GPU)")
    p.add_argument("--boxes", default="10,40,100")
    p.add_argument("--batches", default="1,32,256")
    p.add_argument("--no-boxmot", action="store_true")
    args = p.parse_args(argv)

    from trackreid.reid.encoder import build_encoder, resolve_torch_device

    device = resolve_torch_device(args.device)
    weights = Path(args.weights)
    if not weights.is_file():
        print(f"weights {weights} not found; pass --weights", file=sys.stderr)
        return 1
    runtimes = [r for r in args.runtimes.split(",") if r] or (
        ["torch", "onnxruntime"] if device.type == "cpu" else ["torch"])
    encs = {r: build_encoder(args.reid, weights=weights, device=device, runtime=r) for r in runtimes}
    enc0 = next(iter(encs.values()))
    repeats = args.repeats or (20 if device.type == "cuda" else 3)
    print(f"# device={device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'}, "
          f"{torch.get_num_threads()} torch threads), model={args.reid}, half={enc0.half}, weights={weights.name}, "
          f"torch {torch.__version__}")

    bm = None
    tmp = tempfile.TemporaryDirectory()
    if not args.no_boxmot:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                bm = boxmot_backend(weights, device, enc0.half, Path(tmp.name))
        except Exception as exc:  # noqa: BLE001
            print(f"# BoxMOT backend unavailable ({type(exc).__name__}: {exc}); ours only")

    print("\n## Embedding cost per 1080p frame (ms, median)")
    cols = " | ".join(f"trackreid ({r})" for r in encs)
    print(f"| boxes | {cols} | BoxMOT get_features | BoxMOT / best ours | cosine ours vs BoxMOT (mean / min) |")
    print("|---:|" + "---:|" * (len(encs) + 2) + "---|")
    for n in (int(v) for v in args.boxes.split(",")):
        items = make_frames(args.frames, n, seed=n)
        fns = list(encs.values()) + ([lambda f, b: bm.get_features(b, f)] if bm is not None else [])
        times = time_calls(fns, items, device, repeats)
        ours = " | ".join(f"{t:.1f}" for t in times[:len(encs)])
        if bm is not None:
            theirs = times[-1]
            cos = np.concatenate([(enc0(f, b) * bm.get_features(b, f)).sum(1) for f, b in items])
            print(f"| {n} | {ours} | {theirs:.1f} | {theirs / min(times[:len(encs)]):.2f}x | "
                  f"{cos.mean():.4f} / {cos.min():.4f} |")
        else:
            print(f"| {n} | {ours} | - | - | - |")

    print("\n## Bare network forward (crops/s, model-ready input on the device)")
    print("| batch | " + " | ".join(f"{r} crops/s | {r} ms per batch" for r in encs) + " |")
    print("|---:|" + "---:|---:|" * len(encs))
    h, w = enc0.input_size
    for bsz in (int(v) for v in args.batches.split(",")):
        row = []
        for enc in encs.values():
            x = torch.randn(bsz, 3, h, w, device=device, dtype=enc.dtype)
            if enc.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            enc.batch_size = bsz  # one network call per batch
            iters = (max(1, (repeats * 10) // max(1, bsz // 8)) if device.type == "cuda"
                     else max(1, 8 // max(1, bsz // 4)))
            enc.forward(x)
            _sync(device)
            t = time.perf_counter()
            for _ in range(iters):
                enc.forward(x)
            _sync(device)
            dt = (time.perf_counter() - t) / iters
            row.append(f"{bsz / dt:,.0f} | {dt * 1e3:.1f}")
        print(f"| {bsz} | " + " | ".join(row) + " |")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
