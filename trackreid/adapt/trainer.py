"""Fine-tuning the encoder on its own tracks: known-negative triplets, from the starting weights, few steps.

The starting encoder's knowledge is kept by starting from it, a low learning rate, few steps, frozen batch-norm
statistics (a batch holds a handful of people from one camera, whose statistics would replace those of the large
set the encoder learnt from) and a distillation term pulling each crop's embedding towards the starting encoder's
(``distill``); optionally every ``mix_every``-th batch comes from a labelled set (P identities x K
crops, every other identity a negative). Crops are held in memory at the encoder's input size, so a step costs
the network's forward and backward only. Resumable: ``adapt_last.pt`` every ``checkpoint_every`` steps. The weights
written are the trained ones blended with the starting ones (``blend``, :func:`blend_weights`)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from trackreid.train.transforms import TransformConfig, read_rgb, test_transform, train_transform

from .config import AdaptConfig
from .loss import known_negative_triplet
from .tracklets import Labels

LAST = "adapt_last.pt"


def freeze_batchnorm(model: nn.Module) -> nn.Module:
    """Batch-norm layers in eval mode: running statistics stay those of the starting weights."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
    return model


@torch.no_grad()
def blend_weights(model: nn.Module, start: dict[str, torch.Tensor], blend: float) -> nn.Module:
    """``model``'s floating-point parameters and buffers set to ``blend`` x theirs + (1 - ``blend``) x ``start``'s
    (a state dict of the same architecture: the weights training started from); integer buffers stay. In place."""
    if blend >= 1.0:
        return model
    for name, value in model.state_dict().items():
        if value.is_floating_point():
            value.mul_(blend).add_(start[name].to(value.device, value.dtype), alpha=1.0 - blend)
    return model


@torch.no_grad()
def embed_crops(model: nn.Module, images: np.ndarray, tcfg: TransformConfig, batch: int = 64) -> np.ndarray:
    """L2-normalised embeddings (N, D) of RGB uint8 crops (N, H, W, 3), the model in eval mode."""
    from trackreid.train.engine import forward_features

    was = model.training
    model.eval()
    device = next(model.parameters()).device
    out = []
    for i in range(0, len(images), batch):
        x = torch.stack([test_transform(im, tcfg) for im in images[i:i + batch]]).to(device)
        out.append(forward_features(model, x).cpu().numpy())
    model.train(was)
    dim = out[0].shape[1] if out else 0
    return np.concatenate(out) if out else np.zeros((0, dim), np.float32)


@dataclass
class LabelledSet:
    """A labelled crop set mixed into training: image paths and identities."""

    paths: list[str]
    pids: np.ndarray

    @staticmethod
    def load(spec: str) -> "LabelledSet":
        """``NAME:ROOT`` (any ``trackreid-train --data`` name) or a folder (one sub-folder per identity, else
        Market-1501 file names); its training split, or all its images when it has none."""
        from trackreid.train.datasets import build_dataset

        name, _, root = spec.partition(":") if ":" in spec and not Path(spec).exists() else ("", "", spec)
        if name:
            ds = build_dataset(name, root)
        else:
            try:
                ds = build_dataset("folder", root)
            except ValueError:
                ds = build_dataset("market_layout", root)
        items = ds.train or (ds.query + ds.gallery)
        pids = np.array([p for _, p, _ in items], np.int64)
        if len(np.unique(pids)) < 2:
            raise ValueError(f"--mix {spec}: needs at least two identities, found {len(np.unique(pids))}")
        return LabelledSet([str(p) for p, _, _ in items], pids)


class AdaptTrainer:
    """``fit()`` trains ``model`` on ``images`` (N, H, W, 3) with ``labels`` and returns per-step losses."""

    def __init__(self, model: nn.Module, images: np.ndarray, labels: Labels, config: AdaptConfig,
                 tcfg: TransformConfig, out_dir: str | Path, log: Callable[[str], None] = print,
                 teacher: np.ndarray | None = None):
        self.model, self.images, self.labels, self.config, self.tcfg = model, images, labels, config, tcfg
        #: the starting encoder's embeddings of ``images`` (N, D), the distillation targets (None: no distillation)
        self.device = next(model.parameters()).device
        self.teacher = (torch.from_numpy(np.asarray(teacher, np.float32)).to(self.device) if teacher is not None
                        else None)
        self.out_dir = Path(out_dir)
        self.log = log
        L = labels.num_labels
        train = ~labels.holdout
        self.negatives = torch.from_numpy(labels.covis & train[:, None] & train[None, :])
        self.crops_of = [np.flatnonzero(labels.label == j) for j in range(L)]
        self.anchors = np.flatnonzero(train & self.negatives.numpy().any(1))
        if not len(self.anchors):
            raise ValueError("no training label was seen together with another one")
        self.mix = LabelledSet.load(config.mix) if config.mix else None
        self.optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=config.lr,
                                          weight_decay=config.weight_decay)
        self.rng = np.random.default_rng(config.seed)
        self.step = 0
        self.losses: list[float] = []

    # ........................................................................................ batches
    def _track_batch(self) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
        c = self.config
        a = int(self.rng.choice(self.anchors))
        others = np.flatnonzero(self.negatives[a].numpy())
        chosen = [a] + self.rng.permutation(others)[:c.identities_per_batch - 1].tolist()
        idx, lab = [], []
        for j in chosen:
            pool = self.crops_of[j]
            pick = self.rng.choice(pool, c.crops_per_identity, replace=len(pool) < c.crops_per_identity)
            idx += pick.tolist()
            lab += [j] * len(pick)
        x = torch.stack([train_transform(self.images[i], self.tcfg, self.rng) for i in idx])
        return x, torch.tensor(lab, dtype=torch.long), np.asarray(idx)

    def _mix_batch(self) -> tuple[torch.Tensor, torch.Tensor, None]:
        c, m = self.config, self.mix
        ids = self.rng.permutation(np.unique(m.pids))[:c.identities_per_batch]
        idx, lab = [], []
        for k, pid in enumerate(ids):
            pool = np.flatnonzero(m.pids == pid)
            pick = self.rng.choice(pool, c.crops_per_identity, replace=len(pool) < c.crops_per_identity)
            idx += pick.tolist()
            lab += [k] * len(pick)
        x = torch.stack([train_transform(read_rgb(m.paths[i]), self.tcfg, self.rng) for i in idx])
        return x, torch.tensor(lab, dtype=torch.long), None

    # ........................................................................................ loop
    def _features(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        return out["feats"][0] if isinstance(out, dict) else out

    def fit(self, should_stop: Callable[[], bool] = lambda: False) -> dict:
        self.model.train()
        freeze_batchnorm(self.model)
        t0, self.images_seen = time.perf_counter(), 0
        try:
            self._loop(should_stop, t0)
        except KeyboardInterrupt:  # keep what was learnt: --resume continues from here
            self.save()
            raise
        self.model.eval()
        wall = time.perf_counter() - t0
        return {"steps": self.step, "train_s": round(wall, 1),
                "images_per_s": round(self.images_seen / max(wall, 1e-9), 1),
                "loss_first": round(float(np.mean(self.losses[:10])), 4) if self.losses else None,
                "loss_last": round(float(np.mean(self.losses[-10:])), 4) if self.losses else None}

    def _loop(self, should_stop: Callable[[], bool], t0: float) -> None:
        c = self.config
        while self.step < c.steps and not should_stop():
            mixed = self.mix is not None and (self.step + 1) % c.mix_every == 0
            x, y, idx = self._mix_batch() if mixed else self._track_batch()
            x, y = x.to(self.device), y.to(self.device)
            negatives = (torch.ones(int(y.max()) + 1, int(y.max()) + 1, dtype=torch.bool) if mixed
                         else self.negatives).to(self.device)
            feats = self._features(x)
            loss, _ = known_negative_triplet(feats, y, negatives, c.margin)
            if c.distill > 0 and idx is not None and self.teacher is not None:
                cos = (torch.nn.functional.normalize(feats.float(), dim=1) * self.teacher[idx]).sum(1)
                loss = loss + c.distill * (1.0 - cos).mean()
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.losses.append(float(loss.detach()))
            self.step += 1
            self.images_seen += len(x)
            if self.step % c.checkpoint_every == 0 or self.step == c.steps:
                self.save()
                recent = float(np.mean(self.losses[-c.checkpoint_every:]))
                self.log(f"step {self.step}/{c.steps}: loss {recent:.4f}, "
                         f"{self.images_seen / (time.perf_counter() - t0):.1f} images/s")

    # ........................................................................................ resume
    def save(self) -> Path:
        from trackreid.train.checkpoint import rng_state, save_checkpoint

        state = {"step": self.step, "state_dict": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
                 "optimizer": self.optimizer.state_dict(), "losses": torch.tensor(self.losses),
                 "rng": rng_state(), "sampler": _generator_state(self.rng), "config": self.config.to_dict()}
        return save_checkpoint(state, self.out_dir / LAST)

    def resume(self, path: str | Path) -> None:
        from trackreid.train.checkpoint import set_rng_state

        ck = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(ck, dict) or "step" not in ck or "optimizer" not in ck:
            raise ValueError(f"--resume: {path} is not a trackreid-adapt checkpoint")
        self.model.load_state_dict(ck["state_dict"])
        self.optimizer.load_state_dict(ck["optimizer"])
        self.step = int(ck["step"])
        self.losses = [float(v) for v in ck["losses"].tolist()]
        set_rng_state(ck["rng"])
        self.rng.bit_generator.state = _generator_from(ck["sampler"])


def _generator_state(rng: np.random.Generator) -> dict:
    """A numpy Generator's state as tensors and primitives (``weights_only``-loadable)."""
    s = rng.bit_generator.state
    return {"bit_generator": s["bit_generator"], "state": str(s["state"]["state"]),
            "inc": str(s["state"]["inc"]), "has_uint32": int(s["has_uint32"]),
            "uinteger": int(s["uinteger"])}


def _generator_from(d: dict) -> dict:
    return {"bit_generator": d["bit_generator"],
            "state": {"state": int(d["state"]), "inc": int(d["inc"])},
            "has_uint32": d["has_uint32"], "uinteger": d["uinteger"]}
