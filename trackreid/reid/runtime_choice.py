"""Which CPU runtime ``runtime="auto"`` runs a ReID network in: measured once per machine, model and batch range,
then cached.

The candidates are what the encoder can run on the CPU: ONNX Runtime fp32 and OpenVINO fp32 (in-memory exports,
each checked against PyTorch) and, for default weights that ship one, their bundled INT8 OpenVINO export; each with
the thread and stream settings the encoder will use. Which is fastest depends on the CPU (the INT8 export is 6.3x
ONNX Runtime fp32 on a Xeon with AVX-512 VNNI/AMX, 1.04-1.24x on a 2-core AVX2 EPYC), so it is measured here:

* **Measurement** (a few seconds): for each batch size in ``BATCHES`` (1, 8 and 32 crops, capped at the encoder's
  ``batch_size``) every candidate runs one warm-up call, then ``CALLS`` timed calls on random model-ready crops,
  alternating candidate by candidate (the order rotating each round) so that load from other processes hits them
  alike. Per candidate and batch size: the median ms per crop, and the spread (max - min) / median of its calls.
* **Rule** (``pick``): the baseline is ONNX Runtime fp32. A candidate's score is its mean ms per crop over the batch
  sizes (each size counts equally). Another candidate replaces the baseline only when it is clearly faster: no
  batch size more than 5% slower than the baseline (``SLOWER``), and a score lower by at least ``max(5%, noise)``
  (``MIN_GAIN``), where noise is the mean over batch sizes of the larger spread of the two (capped at 50%, so a
  candidate twice as fast always qualifies). The lowest-scoring qualifying candidate wins; none: ONNX Runtime fp32.
  So the choice is never more than 5% slower than ONNX Runtime fp32 at any measured batch size on the machine that
  measured, and on a noisy machine it stays on ONNX Runtime fp32 unless another is clearly faster.
* **Cache**: ``runtime_choice.json`` beside the weights cache (``trackreid.reid.weights.cache_dir()``), one entry
  per key: the CPU (model name, the SIMD/matrix flags that decide kernel speed, core counts), the onnxruntime,
  openvino and trackreid versions, the model (architecture, weights fingerprint, input size), the candidates, the
  threads and streams and the batch sizes. Written atomically (a temporary file, then ``os.replace``); a corrupt or
  unreadable file is ignored with one log line and rewritten. ``TRACKREID_RUNTIME_CACHE``: unset, the file above;
  ``off``, measure every time and read/write nothing; ``refresh``, measure again and overwrite the entry; anything
  else, the path of the cache file to use.

``runtime=`` (``--reid-runtime``) other than ``"auto"`` runs that runtime without measuring.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import torch

__all__ = ["BASELINE", "BATCHES", "CALLS", "Choice", "cache_key", "cache_path", "choose", "cpu_identity", "pick",
           "time_candidates"]

log = logging.getLogger(__name__)

BASELINE = "onnxruntime-fp32"
BATCHES = (1, 8, 32)      # crops per call: one person, a typical frame, a crowd / the tracker's batches
CALLS = 3                 # timed calls per candidate and batch size, after one warm-up call
SLOWER = 0.05             # never more than 5% slower than the baseline at any batch size
MIN_GAIN = 0.05           # a candidate must beat the baseline's score by max(MIN_GAIN, noise)
MAX_NOISE = 0.5
CACHE_FILE = "runtime_choice.json"
CACHE_VERSION = 1
ENV = "TRACKREID_RUNTIME_CACHE"
_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_int8",
          "amx_bf16", "asimd", "asimddp", "sve", "i8mm")


@dataclass
class Choice:
    """What ``choose`` decided: the candidate's name (None: no candidate could be built), its ready runner, and
    the report that ``Encoder.describe()`` carries as ``runtime_choice``."""

    name: str | None
    runner: Any
    report: dict = field(default_factory=dict)


# ---- the key -------------------------------------------------------------------------------------------------------
def _cpuinfo() -> dict:
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return {}
    info: dict = {}
    for line in text.splitlines():
        k, sep, v = line.partition(":")
        k = k.strip().lower()
        if sep and k in ("model name", "flags", "features", "hardware", "cpu part") and k not in info:
            info[k] = v.strip()
    return info


def cpu_identity() -> dict:
    """The CPU as far as kernel speed goes: model name, the SIMD / matrix flags present, logical cores (all and
    usable by this process)."""
    info = _cpuinfo()
    name = info.get("model name") or info.get("hardware") or platform.processor() or platform.machine()
    flags = set((info.get("flags") or info.get("features") or "").split())
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 1
    return {"model": " ".join(str(name).split()), "part": info.get("cpu part"), "machine": platform.machine(),
            "flags": sorted(flags.intersection(_FLAGS)), "cores": os.cpu_count() or 1, "usable_cores": usable}


def _version(module: str) -> str | None:
    try:
        return __import__(module).__version__
    except Exception:  # noqa: BLE001 - not installed or no version
        return None


def cache_key(model: dict, candidates, threads: int, streams: int, batches) -> dict:
    """Everything the measured choice depends on (see the module docstring)."""
    from trackreid import __version__

    return {"cpu": cpu_identity(),
            "versions": {"onnxruntime": _version("onnxruntime"), "openvino": _version("openvino"),
                         "trackreid": __version__},
            "model": model, "candidates": sorted(candidates), "threads": int(threads), "streams": int(streams),
            "batches": [int(b) for b in batches]}


def _digest(key: dict) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]


# ---- the cache -----------------------------------------------------------------------------------------------------
def _mode() -> str:
    v = os.environ.get(ENV, "").strip()
    if v.lower() in ("off", "0", "no", "false", "none"):
        return "off"
    if v.lower() == "refresh":
        return "refresh"
    return "on"


def cache_path() -> Path | None:
    """The cache file (None with ``TRACKREID_RUNTIME_CACHE=off``)."""
    v = os.environ.get(ENV, "").strip()
    if _mode() == "off":
        return None
    if v and _mode() == "on":
        return Path(v).expanduser()
    from .weights import cache_dir

    return cache_dir() / CACHE_FILE


def _read(path: Path) -> dict:
    """The cache's entries; {} when there is no file; {} with one log line when it is corrupt or unreadable."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or not isinstance(data.get("entries"), dict):
            raise ValueError("not a runtime choice cache")
        if data.get("version") != CACHE_VERSION:
            return {}  # another layout: measured again, then rewritten in this one
        return data["entries"]
    except (OSError, ValueError) as exc:
        log.warning("ReID runtime choice cache %s is corrupt or unreadable (%s); ignoring it: the runtimes are "
                    "measured again and the file rewritten", path, " ".join(str(exc).split())[:120])
        return {}


def _write(path: Path, entries: dict) -> None:
    """Atomically (``trackreid.io.atomic``). A failure is one log line."""
    from trackreid.io.atomic import write_json_atomic

    try:
        write_json_atomic(path, {"version": CACHE_VERSION, "entries": entries}, indent=1)
    except OSError as exc:
        log.warning("could not write the ReID runtime choice cache %s (%s); the choice is measured again next time",
                    path, exc)


# ---- measurement and rule ------------------------------------------------------------------------------------------
def time_candidates(runners: dict, input_size, batches, calls: int | None = None) -> dict:
    """{name: [[ms of each timed call] per batch size]}: per batch size one warm-up call each, then ``calls``
    (default ``CALLS``) rounds of one call per candidate, the order rotating each round."""
    calls = CALLS if calls is None else calls
    names = list(runners)
    h, w = input_size
    out = {n: [] for n in names}
    gen = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for b in batches:
            x = torch.randn((b, 3, h, w), generator=gen)
            for n in names:
                runners[n](x)
            times = {n: [] for n in names}
            for r in range(calls):
                for n in names[r % len(names):] + names[:r % len(names)]:
                    t = time.perf_counter()
                    runners[n](x)
                    times[n].append((time.perf_counter() - t) * 1e3)
            for n in names:
                out[n].append(times[n])
    return out


def pick(times: dict, batches, baseline: str = BASELINE) -> tuple[str, dict]:
    """The winner by the module's rule and, per candidate, its score (mean ms per crop) and per-batch ms per crop.
    ``times``: what ``time_candidates`` returns."""
    per_crop = {n: [statistics.median(ts) / b for ts, b in zip(v, batches)] for n, v in times.items()}
    spread = {n: [(max(ts) - min(ts)) / max(statistics.median(ts), 1e-9) for ts in v] for n, v in times.items()}
    score = {n: sum(v) / len(v) for n, v in per_crop.items()}
    base = baseline if baseline in times else min(times, key=score.get)
    best, best_score = base, score[base]
    for n in times:
        if n == base:
            continue
        noise = min(MAX_NOISE, sum(max(a, c) for a, c in zip(spread[n], spread[base])) / len(batches))
        ok = all(m <= (1 + SLOWER) * mb for m, mb in zip(per_crop[n], per_crop[base]))
        if ok and score[n] <= (1 - max(MIN_GAIN, noise)) * score[base] and score[n] < best_score:
            best, best_score = n, score[n]
    return best, {"ms_per_crop": {n: round(s, 4) for n, s in score.items()},
                  "ms_per_crop_by_batch": {n: [round(v, 4) for v in per_crop[n]] for n in per_crop},
                  "spread": {n: round(sum(v) / len(v), 3) for n, v in spread.items()}}


RULE = ("mean ms/crop over the batch sizes; another runtime replaces onnxruntime-fp32 only if no batch size is >5% "
        "slower and its mean is lower by max(5%, timing noise)")


def choose(candidates: dict[str, Callable[[], Any]], *, model: dict, threads: int, streams: int, input_size,
           batches=BATCHES) -> Choice:
    """The runtime to use: the cached choice for this key when there is one (only it is built), else every
    candidate built (``candidates``: name -> a function returning a ready runner, or None when it cannot run),
    measured (``time_candidates``), decided (``pick``) and cached. Returns the winner's runner; the others are
    dropped."""
    batches = [int(b) for b in batches]
    key = cache_key(model, candidates, threads, streams, batches)
    digest = _digest(key)
    path = cache_path()
    entries = _read(path) if path is not None else {}
    hit = entries.get(digest) if _mode() == "on" else None
    if isinstance(hit, dict) and hit.get("chosen") in candidates:
        runner = candidates[hit["chosen"]]()
        if runner is not None:
            report = {k: hit[k] for k in ("chosen", "ms_per_crop", "ms_per_crop_by_batch", "spread", "batches",
                                          "measured_at") if k in hit}
            report.update(cached=True, cache=str(path), rule=RULE)
            log.info("ReID runtime: %s, chosen by measuring this CPU on %s (cached in %s; %s=refresh measures "
                     "again)", hit["chosen"], hit.get("measured_at", "?"), path, ENV)
            return Choice(hit["chosen"], runner, report)
    runners = {}
    for name, build in candidates.items():
        r = build()
        if r is not None:
            runners[name] = r
    if not runners:
        return Choice(None, None, {"chosen": None, "cached": False, "why": "no candidate runtime could be built"})
    t0 = time.perf_counter()
    times = time_candidates(runners, input_size, batches)
    chosen, figures = pick(times, batches)
    entry = {"chosen": chosen, **figures, "batches": batches,
             "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
             "measure_s": round(time.perf_counter() - t0, 2), "key": key}
    if path is not None:
        entries[digest] = entry
        _write(path, entries)
    ms = ", ".join(f"{n} {v:.2f}" for n, v in sorted(figures["ms_per_crop"].items(), key=lambda kv: kv[1]))
    log.info("ReID runtime: %s, measured on this CPU in %.1f s (ms per crop, mean over batches %s: %s)%s", chosen,
             entry["measure_s"], "/".join(map(str, batches)), ms, f"; cached in {path}" if path else "")
    report = {k: entry[k] for k in ("chosen", "ms_per_crop", "ms_per_crop_by_batch", "spread", "batches",
                                    "measured_at")}
    report.update(cached=False, cache=str(path) if path else None, rule=RULE)
    return Choice(chosen, runners[chosen], report)
