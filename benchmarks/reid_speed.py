"""ReID embedding speed: every runtime and thread setting side by side in one run, and BoxMOT's ReID backend.

Prints
(1) network forward throughput (crops/s, model-ready input) for each runtime x intra-op threads x batch, idle and
    beside a busy neighbour (another process keeping one core busy, as the video decoder and the detector do in the
    pipeline), with each runtime's first call, and the speed-up over ONNX Runtime fp32 as trackreid ran it before
    (all cores, no spinning, rebuilt in memory): the row marked ``(old default)``; the last row is what
    ``build_encoder(reid)`` gives now;
(2) embedding cost per 1080p frame with 10, 40 and 100 boxes (crop + forward) for the default encoder and the old
    one, and BoxMOT's ``get_features`` with the cosine agreement of the two feature sets (where BoxMOT is installed);
(3) ``runtime="auto"`` beside every candidate it measures (``trackreid.reid.runtime_choice``: ONNX Runtime fp32,
    OpenVINO fp32 and, with default weights, the bundled INT8 OpenVINO export, each with the encoder's default
    threads and streams): crops/s per batch and ms per 1080p frame with 10 boxes, then the auto row (its choice
    measured afresh, not read from the user's cache, unless ``--cached-choice``) and whether it is the fastest or
    within 5% of it.

  python benchmarks/reid_speed.py                                 # bundled osnet_x0_25 Market-1501 weights
  python benchmarks/reid_speed.py --files q8_openvino_model/,reid_int8.onnx   # exported files as extra rows
  python benchmarks/reid_speed.py --threads 1,2 --batches 1,8,32 --repeats 5 --no-boxmot
  python benchmarks/reid_speed.py --auto-only --repeats 5          # section (3) only

Calls alternate between configurations call by call, so load from other processes hits them alike; figures are
medians. Frames come from ``trackreid.synthetic`` (rendered 1080p people, topped up with random person-sized boxes).
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]


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
    """Median ms per call of each ``fn(*item)`` over ``repeats`` passes of ``items`` (after a warm-up pass). The
    functions alternate call by call, so load from other processes hits them alike."""
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


class Config:
    """One runtime x thread setting: ``forward(x)`` on model-ready crops; torch's thread count is set per call."""

    def __init__(self, label: str, enc, threads: int):
        self.label, self.enc, self.threads = label, enc, threads
        self.first_ms = float("nan")

    def forward(self, x: torch.Tensor):
        if self.enc.runtime == "torch":
            torch.set_num_threads(self.threads)
        self.enc.batch_size = len(x)  # one network call per batch
        return self.enc.forward(x)


def _old_default(reid: str, weights, device, threads: int):
    """The CPU encoder as trackreid built it before: ONNX Runtime fp32, ``threads`` intra-op threads, no spinning."""
    from trackreid.reid.encoder import build_encoder

    return build_encoder(reid, weights=weights, device=device, runtime="onnxruntime", threads=threads, streams=1)


def build_configs(args, device):
    from trackreid.reid.encoder import build_encoder

    cores = torch.get_num_threads()
    out = []
    for t in args.threads:
        for r in args.runtimes:
            t0 = time.perf_counter()
            old = r == "onnxruntime" and t == cores  # one request on every thread, as before streams
            enc = build_encoder(args.reid, weights=args.weights, device=device, runtime=r, threads=t,
                                streams=1 if old else None)
            label = f"{r} fp32" + (" (old default)" if old else "")
            out.append(Config(label, enc, t))
            out[-1].build_s = time.perf_counter() - t0
        for f in args.files:
            t0 = time.perf_counter()
            enc = build_encoder(None, weights=f, device=device, threads=t)
            prec = (enc.runtime, Path(f).name)
            out.append(Config(f"{prec[0]} {prec[1]}", enc, t))
            out[-1].build_s = time.perf_counter() - t0
    return out


def forward_table(configs, device, batches, repeats, busy: bool) -> dict:
    """{(config index, batch): median ms} with the calls interleaved across configurations."""
    h, w = configs[0].enc.input_size
    res = {}
    for bsz in batches:
        x = torch.randn(bsz, 3, h, w, generator=torch.Generator().manual_seed(bsz))
        fns = [lambda c=c: c.forward(x) for c in configs]
        for c, f in zip(configs, fns):
            if bsz == batches[0] and not busy:
                t = time.perf_counter()
                f()
                c.first_ms = (time.perf_counter() - t) * 1e3  # first call at this shape: warm-up cost
        ms = time_calls(fns, [()], device, repeats)
        for i, m in enumerate(ms):
            res[(i, bsz)] = m
    return res


def auto_table(args, device, batches) -> None:
    """Section (3): the auto choice beside each candidate, built as ``runtime="auto"`` builds them."""
    from trackreid.reid.encoder import _default_cpu_export, build_encoder
    from trackreid.reid.models.registry import get_spec
    from trackreid.reid.runtimes import onnxruntime_available, openvino_available

    if device.type != "cpu":
        print("\n# runtime='auto' measures CPU runtimes only; on this device it runs torch")
        return
    cands = {}
    if onnxruntime_available():
        cands["onnxruntime-fp32"] = build_encoder(args.reid, weights=args.weights, device=device, runtime="onnxruntime")
    if openvino_available():
        cands["openvino-fp32"] = build_encoder(args.reid, weights=args.weights, device=device, runtime="openvino")
        fast = _default_cpu_export(get_spec(args.reid).name) if args.weights is None else None
        if fast is not None:
            cands["openvino-int8"] = build_encoder(None, weights=fast, device=device)
    t0 = time.perf_counter()
    auto = build_encoder(args.reid, weights=args.weights, device=device)
    build_s = time.perf_counter() - t0
    choice = auto.runtime_choice or {}
    chosen = choice.get("chosen") or auto.runtime
    rows = {**cands, f"**auto** -> {chosen}": auto}
    configs = [Config(label, enc, enc.threads) for label, enc in rows.items()]
    fwd = forward_table(configs, device, batches, args.repeats, busy=False)
    for c in configs:
        c.enc.batch_size = 64
    items = make_frames(args.frames, 10, seed=10)
    frame_ms = time_calls([c.enc for c in configs], items, device, max(1, args.repeats // 2))
    print(f"\n## runtime='auto' beside its candidates ({auto.threads} threads, {auto.streams} streams; choice "
          f"{'from the cache' if choice.get('cached') else f'measured in this run, build {build_s:.1f} s'})")
    head = " | ".join(f"batch {b}" for b in batches)
    print(f"| candidate | crops/s {head} | ms/crop, mean over batches | ms per 1080p frame, 10 boxes | "
          "auto's own measurement, ms/crop |")
    print("|---|" + "---:|" * len(batches) + "---:|---:|---:|")
    mean_ms = {}
    for i, c in enumerate(configs):
        mean_ms[i] = sum(fwd[(i, b)] / b for b in batches) / len(batches)
        rates = " | ".join(f"{b / fwd[(i, b)] * 1e3:,.0f}" for b in batches)
        own = choice.get("ms_per_crop", {}).get(c.label)
        print(f"| {c.label} | {rates} | {mean_ms[i]:.2f} | {frame_ms[i]:.1f} | "
              f"{f'{own:.2f}' if own is not None else '-'} |")
    a = len(configs) - 1
    if a == 0:
        return
    for what, vals in (("ms/crop (mean over batches)", mean_ms), ("ms per 1080p frame (10 boxes)",
                                                                  dict(enumerate(frame_ms)))):
        best = min(range(a), key=lambda i: vals[i])
        ratio = vals[a] / vals[best]
        verdict = ("the fastest" if ratio <= 1.0 else "within 5% of the fastest" if ratio <= 1.05
                   else f"{(ratio - 1) * 100:.0f}% slower than the fastest")
        print(f"auto ({chosen}) by {what}: {vals[a]:.2f} against {configs[best].label} {vals[best]:.2f}: {verdict}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reid", default="osnet_x0_25")
    p.add_argument("--weights", default=None, help="default: the architecture's trained weights (bundled for x0.25)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--runtimes", default="",
                   help="comma-separated in-memory runtimes (default: torch,onnxruntime,openvino on CPU, torch on GPU)")
    p.add_argument("--files", default="", help="comma-separated exported files (.onnx, OpenVINO IR) timed as rows")
    p.add_argument("--threads", default="", help="intra-op thread settings to time (default: 1 and all cores)")
    p.add_argument("--batches", default="1,8,32")
    p.add_argument("--busy-batch", type=int, default=8, help="batch timed beside a busy neighbour (default 8)")
    p.add_argument("--repeats", type=int, default=7, help="timed calls per configuration and batch (default 7)")
    p.add_argument("--frames", type=int, default=2, help="distinct frames per box count (default 2)")
    p.add_argument("--boxes", default="10,40")
    p.add_argument("--no-boxmot", action="store_true")
    p.add_argument("--no-busy", action="store_true", help="skip the busy-neighbour column")
    p.add_argument("--auto-only", action="store_true", help="only section (3): runtime='auto' beside its candidates")
    p.add_argument("--cached-choice", action="store_true",
                   help="let runtime='auto' use the user's cached choice (default: measure afresh, cache untouched)")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    if not args.cached_choice:
        import os

        os.environ["TRACKREID_RUNTIME_CACHE"] = "off"

    from trackreid.reid.encoder import build_encoder, resolve_torch_device
    from trackreid.reid.runtimes import onnxruntime_available, openvino_available

    device = resolve_torch_device(args.device)
    cores = torch.get_num_threads()
    avail = {"torch": True, "onnxruntime": onnxruntime_available(), "openvino": openvino_available()}
    args.runtimes = [r for r in args.runtimes.split(",") if r] or (
        [r for r in ("torch", "onnxruntime", "openvino") if avail[r]] if device.type == "cpu" else ["torch"])
    args.files = [f for f in args.files.split(",") if f]
    args.threads = [int(t) for t in args.threads.split(",") if t] or sorted({1, cores})
    batches = [int(b) for b in args.batches.split(",")]
    if args.auto_only:
        auto_table(args, device, batches)
        return 0
    configs = build_configs(args, device)
    default = build_encoder(args.reid, weights=args.weights, device=device)
    prec = "int8" if "int8" in str(default.weights_report) else "fp32"
    configs.append(Config(f"**default** ({default.runtime} {prec})", default, default.threads))
    configs[-1].build_s = float("nan")
    print(f"# device={device}, {cores} torch threads on {torch.get_num_threads()} cores, model={args.reid}, "
          f"weights={args.weights or 'default (bundled)'}, default encoder: {default.runtime}, "
          f"threads={default.threads or cores}; torch {torch.__version__}")

    idle = forward_table(configs, device, batches, args.repeats, busy=False)
    busy = {}
    if not args.no_busy and device.type == "cpu":
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # one core busy, as decode/detect are
        try:
            time.sleep(0.3)
            busy = forward_table(configs, device, [args.busy_batch], args.repeats, busy=True)
        finally:
            hog.kill()
            hog.wait()

    old = next((i for i, c in enumerate(configs) if "(old default)" in c.label), None)
    print("\n## Network forward, crops/s (median; model-ready input)")
    head = " | ".join(f"batch {b}" for b in batches)
    print(f"| runtime | threads | {head} | x old at batch {batches[-1]} | batch {args.busy_batch} beside a busy "
          f"core (ms) | first call (ms) | build (s) |")
    print("|---|---:|" + "---:|" * len(batches) + "---:|---:|---:|---:|")
    for i, c in enumerate(configs):
        rates = " | ".join(f"{b / idle[(i, b)] * 1e3:,.0f}" for b in batches)
        ratio = (f"{idle[(old, batches[-1])] / idle[(i, batches[-1])]:.2f}x" if old is not None else "-")
        b_ms = f"{busy[(i, args.busy_batch)]:.1f}" if busy else "-"
        print(f"| {c.label} | {c.threads} | {rates} | {ratio} | {b_ms} | {c.first_ms:.0f} | {c.build_s:.1f} |")
    if old is not None:
        d = len(configs) - 1
        gains = ", ".join(f"batch {b}: {idle[(old, b)] / idle[(d, b)]:.2f}x" for b in batches)
        print(f"\ndefault vs old default (onnxruntime fp32, {cores} threads), crops/s: {gains}")
        if busy:
            print(f"beside a busy core, batch {args.busy_batch}: old default {busy[(old, args.busy_batch)]:.1f} ms "
                  f"(idle {idle.get((old, args.busy_batch), float('nan')):.1f} ms), default "
                  f"{busy[(d, args.busy_batch)]:.1f} ms (intra-op threads meet at a barrier after every layer, so when "
                  "more threads are runnable than there are cores a forward waits for descheduled threads)")

    default.batch_size = 64  # the forward table set it per batch; back to build_encoder's default
    print("\n## Embedding cost per 1080p frame, crop + forward (ms, median)")
    old_enc = _old_default(args.reid, args.weights, device, cores) if device.type == "cpu" and avail[
        "onnxruntime"] else None
    encs = {f"default ({default.runtime})": default}
    if old_enc is not None:
        encs["old default (onnxruntime)"] = old_enc
    bm = None
    tmp = tempfile.TemporaryDirectory()
    if not args.no_boxmot:
        try:
            from trackreid.reid.weights import resolve_weights

            wpath = resolve_weights(args.weights or "osnet_x0_25_market1501")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                bm = boxmot_backend(Path(wpath), device, default.half, Path(tmp.name))
        except Exception as exc:  # noqa: BLE001
            print(f"# BoxMOT backend unavailable ({type(exc).__name__}: {exc}); ours only")
    cols = " | ".join(encs)
    print(f"| boxes | {cols} | BoxMOT get_features | BoxMOT / default | cosine default vs BoxMOT (mean / min) |")
    print("|---:|" + "---:|" * (len(encs) + 2) + "---|")
    for n in (int(v) for v in args.boxes.split(",")):
        items = make_frames(args.frames, n, seed=n)
        fns = list(encs.values()) + ([lambda f, b: bm.get_features(b, f)] if bm is not None else [])
        times = time_calls(fns, items, device, max(1, args.repeats // 3))
        ours = " | ".join(f"{t:.1f}" for t in times[:len(encs)])
        if bm is not None:
            cos = np.concatenate([(default(f, b) * bm.get_features(b, f)).sum(1) for f, b in items])
            print(f"| {n} | {ours} | {times[-1]:.1f} | {times[-1] / times[0]:.2f}x | {cos.mean():.4f} / "
                  f"{cos.min():.4f} |")
        else:
            print(f"| {n} | {ours} | - | - | - |")
    tmp.cleanup()
    auto_table(args, device, batches)
    return 0


if __name__ == "__main__":
    sys.exit(main())
