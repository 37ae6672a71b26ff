"""What a training run writes and reads back: checkpoints, the RNG state they carry, and the metrics CSV.

Checkpoints (``last.pt``: everything needed to resume; ``best.pt``: weights and metrics) hold only tensors and
Python primitives, so they load with ``torch.load(weights_only=True)`` and are read directly by
``trackreid.reid.weights.load_weights``. Every file is written atomically (``trackreid.io.atomic``): a crash or
Ctrl-C mid-write leaves the previous file intact.
"""
from __future__ import annotations

import csv
import io
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trackreid.io.atomic import atomic_write, write_bytes_atomic
from trackreid.reid.weights import CHECKPOINT_FORMAT

CHECKPOINT_VERSION = 1
CSV_FIELDS = ["epoch", "step", "lr", "loss", "ce", "triplet", "acc", "images_per_s", "epoch_s",
              "mAP", "rank1", "rank5", "rank10"]


# ----------------------------------------------------------------------------------------------- RNG state
def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """All global RNG states as tensors and python primitives (``weights_only``-loadable)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": list(torch.cuda.get_rng_state_all()) if torch.cuda.is_available() else [],
        "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": {"version": py_version, "state": list(py_state), "gauss": py_gauss},
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))


# ----------------------------------------------------------------------------------------------- checkpoints
def save_checkpoint(obj: dict[str, Any], path: str | Path) -> Path:
    """``torch.save`` of ``obj`` to ``path``, atomically."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return write_bytes_atomic(path, buf.getbuffer())


def read_resume_checkpoint(path: str | Path) -> dict[str, Any]:
    """A full training checkpoint (``last.pt``) to resume from; ValueError naming the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--resume: checkpoint {path} does not exist")
    ck = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT or "optimizer" not in ck:
        raise ValueError(f"--resume: {path} is not a full trackreid training checkpoint (best.pt holds only "
                         "weights; resume from last.pt)")
    return ck


# ----------------------------------------------------------------------------------------------- metrics CSV
class MetricsCSV:
    """``metrics.csv``: one row per evaluated epoch (:data:`CSV_FIELDS`), rewritten atomically on each change
    (the log is small)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def rows(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        with open(self.path, newline="") as f:
            return list(csv.DictReader(f))

    def write(self, rows: list[dict[str, Any]]) -> None:
        with atomic_write(self.path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
            w.writeheader()
            w.writerows({k: r.get(k, "") for k in CSV_FIELDS} for r in rows)

    def append(self, row: dict[str, Any]) -> None:
        self.write(self.rows() + [row])

    def keep_through(self, epoch: int) -> None:
        """Keep the rows of epochs ``<= epoch`` (a resumed run), or none when ``epoch`` is 0 (a fresh run)."""
        if self.path.is_file():
            self.write([r for r in self.rows() if epoch > 0 and int(r["epoch"]) <= epoch])
