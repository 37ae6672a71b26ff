"""The training loop: mixed precision, checkpoint / exact resume, evaluation, DDP under ``torchrun``.

Exact resume rests on three things: the batch order is a pure function of (seed, epoch) and the checkpoint stores
the epoch and the batches already consumed; each image's augmentation is seeded from its sample seed, not from
worker state; and the checkpoint holds every RNG the step itself uses (torch, CUDA, numpy, python).
Checkpoints (``last.pt`` every epoch, on ``max_steps`` and on Ctrl-C; ``best.pt`` by mAP) load with
``torch.load(weights_only=True)`` and are read directly by ``trackreid.reid.weights.load_weights``; how they, the
RNG state and ``metrics.csv`` are written and read is :mod:`trackreid.train.checkpoint`. ``Trainer.fit`` runs
epochs as ``_train_epoch`` (the steps) then ``_end_epoch`` (schedule, evaluation, checkpoint, log).
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from trackreid.reid.encoder import resolve_torch_device as resolve_device  # one device rule for the package

from .checkpoint import (CHECKPOINT_FORMAT, CHECKPOINT_VERSION, CSV_FIELDS, MetricsCSV, read_resume_checkpoint,
                         rng_state, save_checkpoint, seed_everything, set_rng_state)
from .config import TrainConfig
from .datasets import Item, ReIDDataset, build_dataset
from .losses import ReIDLoss
from .sampler import PKBatchSampler, RandomBatchSampler
from .transforms import IMAGENET_MEAN, IMAGENET_STD, TransformConfig, read_rgb, test_transform, train_transform

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "CSV_FIELDS", "TrainImages", "TestImages", "Trainer",
           "TrainResult", "TrainingInterrupted", "evaluate", "evaluate_weights", "extract_features", "forward_features", "resolve_device",
           "same_camera_rule", "set_rng_state", "rng_state", "seed_everything", "transform_config"]


class TrainingInterrupted(Exception):
    """Raised after Ctrl-C / SIGTERM; ``checkpoint`` is the checkpoint to resume from, None when none exists yet."""

    def __init__(self, checkpoint: Path | None):
        checkpoint = checkpoint if checkpoint is not None and Path(checkpoint).is_file() else None
        super().__init__(f"interrupted; the checkpoint to resume from is {checkpoint}" if checkpoint else
                         "interrupted before the first checkpoint was written; nothing to resume")
        self.checkpoint = checkpoint


# ----------------------------------------------------------------------------------------------- data
class TrainImages(Dataset):
    """Training images keyed by ``(index, sample_seed)`` from the batch samplers."""

    def __init__(self, items: list[Item], tcfg: TransformConfig):
        self.items, self.tcfg = items, tcfg

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, key: tuple[int, int]):
        index, seed = key
        path, pid, cam = self.items[index]
        x = train_transform(read_rgb(path), self.tcfg, np.random.default_rng(seed))
        return x, pid, cam, index


class TestImages(Dataset):
    def __init__(self, items: list[Item], tcfg: TransformConfig):
        self.items, self.tcfg = items, tcfg

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        path, pid, cam = self.items[index]
        return test_transform(read_rgb(path), self.tcfg), pid, cam


def usable_workers(asked: int) -> int:
    """Data-loader workers: ``asked``, at most the cores this process may run on (more only compete)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(0, min(int(asked), cores))


def _ignore_sigint(worker_id: int) -> None:
    """Loader workers leave Ctrl-C to the main process, which finishes the step and writes a checkpoint."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def transform_config(cfg: TrainConfig, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> TransformConfig:
    return TransformConfig(height=cfg.height, width=cfg.width, flip=cfg.flip, pad=cfg.pad, erasing=cfg.erasing,
                           color_jitter=cfg.color_jitter, mean=tuple(mean), std=tuple(std))


# ----------------------------------------------------------------------------------------------- helpers
def unwrap(model: nn.Module) -> nn.Module:
    return model.module if hasattr(model, "module") and isinstance(model, nn.parallel.DistributedDataParallel) \
        else model


def _model_spec(name: str):
    try:
        from trackreid.reid.models.registry import get_spec
        return get_spec(name)
    except (ImportError, AttributeError):
        return None


def build_train_model(cfg: TrainConfig, num_classes: int, log: Callable[[str], None] = print
                      ) -> tuple[nn.Module, bool]:
    """The model with a ``num_classes`` classifier; returns (model, whether ImageNet weights were loaded)."""
    from trackreid.reid.models.registry import build_model

    if cfg.init_weights and cfg.init_weights.strip().lower() != "none":  # fine-tuning: all but the classifier
        from trackreid.reid.weights import load_weights

        model = build_model(cfg.model, num_classes=num_classes, pretrained_backbone=False)
        log(f"initialised from {load_weights(model, cfg.init_weights, arch=cfg.model)}")
        return model, True
    if isinstance(cfg.pretrained_backbone, str):  # an explicit file: its absence is an error, not a fallback
        return build_model(cfg.model, num_classes=num_classes, pretrained_backbone=cfg.pretrained_backbone), True
    if cfg.pretrained_backbone:
        try:
            return build_model(cfg.model, num_classes=num_classes, pretrained_backbone=True), True
        except (OSError, RuntimeError, ValueError, ImportError) as e:
            log(f"warning: ImageNet weights for {cfg.model} unavailable ({e}); training from random initialisation")
    return build_model(cfg.model, num_classes=num_classes, pretrained_backbone=False), False


def forward_features(model: nn.Module, x: torch.Tensor, flip: bool = False) -> torch.Tensor:
    """L2-normalised embeddings of the batch ``x`` (the model in eval mode), averaged with the mirrored batch's when
    ``flip``."""
    f = model(x)
    if isinstance(f, (list, tuple)):
        f = f[0]
    if flip:
        f2 = model(torch.flip(x, dims=[3]))
        f = (f + (f2[0] if isinstance(f2, (list, tuple)) else f2)) / 2
    return F.normalize(f.float(), dim=1)


@torch.no_grad()
def extract_features(model: nn.Module, items: list[Item], tcfg: TransformConfig, device: torch.device,
                     batch_size: int = 128, workers: int = 0, flip: bool = False,
                     should_stop: Callable[[], bool] | None = None) -> torch.Tensor:
    """L2-normalised features of ``items`` (batched on ``device``, optionally averaged with the mirror image)."""
    model.eval()
    loader = DataLoader(TestImages(items, tcfg), batch_size=batch_size, shuffle=False, num_workers=workers,
                        pin_memory=device.type == "cuda", worker_init_fn=_ignore_sigint if workers > 0 else None)
    autocast = torch.autocast("cuda", dtype=torch.float16) if device.type == "cuda" else _null_ctx()
    out = []
    for x, _, _ in loader:
        if should_stop is not None and should_stop():
            raise KeyboardInterrupt
        with autocast:
            out.append(forward_features(model, x.to(device, non_blocking=True), flip).cpu())
    return torch.cat(out) if out else torch.zeros(0, 1)


class _null_ctx:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def same_camera_rule(dataset: ReIDDataset, warn: Callable[[str], None] | None = None) -> bool:
    """Whether evaluation should apply Market-1501's same-camera rule to ``dataset``.

    Off when some test image has no camera id (custom folder sets), and off — with a warning — when the rule
    would leave no query with a true match at all (every identity seen by one camera only, e.g. a custom set
    stored in the Market layout with ``c1`` everywhere): other libraries then report undefined or zero metrics,
    the common complaint with custom data. Same-camera true matches then count, so the figures are easier than
    the cross-camera protocol and not comparable with published Market-1501 numbers.
    """
    if not dataset.has_camids:
        return False
    cams_of: dict[int, set[int]] = {}
    for _, pid, cam in dataset.gallery:
        cams_of.setdefault(pid, set()).add(cam)
    if any(cams_of.get(pid, set()) - {cam} for _, pid, cam in dataset.query):
        return True
    if warn is not None:
        warn(f"warning: {dataset.name}: no query identity appears in the gallery under another camera; "
             "evaluating without the same-camera rule (same-camera matches count)")
    return False


def evaluate(model: nn.Module, dataset: ReIDDataset, tcfg: TransformConfig, device: torch.device,
             batch_size: int = 128, workers: int = 0, flip: bool = False, rerank: bool = False, cuhk03: bool = False,
             should_stop: Callable[[], bool] | None = None, log: Callable[[str], None] | None = None
             ) -> dict[str, float]:
    """CMC and mAP of ``model`` on the dataset's query/gallery under the Market-1501 protocol.

    The same-camera rule (gallery images of the query's identity seen by the query's camera are ignored) applies
    when :func:`same_camera_rule` says so; otherwise no gallery image is discarded. ``cuhk03``: CUHK03's
    single-gallery-shot CMC instead of Market's (mAP is unchanged).
    """
    from trackreid.evaluation.reid import evaluate_reid

    qf = extract_features(model, dataset.query, tcfg, device, batch_size, workers, flip, should_stop)
    gf = extract_features(model, dataset.gallery, tcfg, device, batch_size, workers, flip, should_stop)
    q_pids = np.array([p for _, p, _ in dataset.query])
    g_pids = np.array([p for _, p, _ in dataset.gallery])
    q_cams = g_cams = None
    if same_camera_rule(dataset, warn=log):
        q_cams = np.array([c for _, _, c in dataset.query])
        g_cams = np.array([c for _, _, c in dataset.gallery])
    res = evaluate_reid(qf, gf, q_pids, g_pids, q_cams, g_cams, rerank=rerank, cuhk03=cuhk03, device=device)
    skipped = int(res.get("num_skipped_queries", 0))
    if skipped and log is not None:
        log(f"note: {skipped} of {len(q_pids)} queries have no true match in the gallery (after the protocol's "
            "exclusions) and are left out of the metrics")
    return {k: float(res[k]) for k in ("mAP", "rank1", "rank5", "rank10")}


def dataset_of(cfg: TrainConfig) -> ReIDDataset:
    """The dataset ``cfg.data`` at ``cfg.root``, with the flat datasets' name options of ``cfg``."""
    return build_dataset(cfg.data, cfg.root, name_pattern=cfg.name_pattern, camera_rule=cfg.camera_rule)


def _rank_world() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 0, 1
    return int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")), world


# ----------------------------------------------------------------------------------------------- trainer
@dataclass
class TrainResult:
    """What a call to :meth:`Trainer.fit` did."""

    steps: int  #: optimiser steps run in total (including those before a resume)
    epoch: int  #: index of the next epoch to run
    step_losses: list[float] = field(default_factory=list)  #: loss of each step run in this call
    metrics: dict[str, float] = field(default_factory=dict)  #: last evaluation
    best_map: float = -1.0  #: best mAP so far (-1 when never evaluated)
    last_checkpoint: Path | None = None
    best_checkpoint: Path | None = None
    seconds: float = 0.0  #: wall time of this call
    images_per_s: float = 0.0  #: mean training throughput of this call


@dataclass
class _Epoch:
    """The training part of one epoch, as :meth:`Trainer._train_epoch` ran it."""

    index: int  #: 0-based epoch
    lr: float  #: learning rate during it
    sums: dict[str, float] = field(default_factory=lambda: {"loss": 0.0, "ce": 0.0, "triplet": 0.0, "acc": 0.0})
    steps: int = 0  #: steps run in this call
    images: int = 0  #: images trained on in this call (all processes)
    seconds: float = 0.0
    stop_now: bool = False  #: a stop or max_steps ended it
    finished: bool = True  #: the epoch is complete (False: stopped mid-epoch)


class Trainer:
    """Train a ReID model on a dataset according to a :class:`TrainConfig`.

    ``dataset`` may be given (e.g. a custom split); by default it is loaded from ``cfg.data`` / ``cfg.root``.
    ``resume``: a checkpoint path whose model, optimiser, scheduler, sampler and RNG states are restored.
    """

    def __init__(self, cfg: TrainConfig, dataset: ReIDDataset | None = None, resume: str | Path | None = None,
                 progress: bool = True, log: Callable[[str], None] | None = None):
        cfg.validate()
        self.cfg = cfg
        self.rank, self.local_rank, self.world = _rank_world()
        self.is_main = self.rank == 0
        self._log = log or (lambda s: print(s, file=sys.stderr, flush=True))
        self.progress = progress and self.is_main
        if self.world > 1:
            import datetime

            import torch.distributed as dist
            if not dist.is_initialized():
                # ranks > 0 wait at a barrier while rank 0 evaluates: allow a long (MSMT17, re-ranked) evaluation
                dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo",
                                        timeout=datetime.timedelta(hours=3))
            self.device = torch.device(f"cuda:{self.local_rank}") if torch.cuda.is_available() \
                else torch.device("cpu")
            if self.device.type == "cuda":
                torch.cuda.set_device(self.device)
        else:
            self.device = resolve_device(cfg.device)
        self.out_dir = Path(cfg.output)
        if dataset is None:
            # rank 0 first: building a dataset may write files (CUHK03's image extraction), once
            self._barrier(not self.is_main)
            dataset = dataset_of(cfg)
            self._barrier(self.is_main)
        if not dataset.train:
            raise ValueError(f"{dataset.name} at {dataset.root} has no training images: it is an evaluation-only set "
                             "(every identity is held out for query/gallery); evaluate with --eval-only --weights "
                             "FILE, or train on another --data")
        self.dataset = dataset
        if self.is_main:
            self.log(self.dataset.summary())

        seed_everything(cfg.seed)
        if cfg.deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)
            torch.backends.cudnn.benchmark = False
        elif self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        num_classes = self.dataset.num_train_pids
        model, self.pretrained = build_train_model(cfg, num_classes, self.log)
        self.model = model.to(self.device)
        spec = _model_spec(cfg.model)
        mean = getattr(spec, "mean", IMAGENET_MEAN) if spec is not None else IMAGENET_MEAN
        std = getattr(spec, "std", IMAGENET_STD) if spec is not None else IMAGENET_STD
        self.tcfg = transform_config(cfg, mean, std)
        self.num_classes = num_classes
        self.criterion = ReIDLoss(cfg.label_smooth, cfg.ce_weight, cfg.triplet_weight, cfg.triplet_margin)
        self.optimizer = self._build_optimizer()
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, cfg.lr_factor)
        self.amp_dtype = None
        if self.device.type == "cuda" and cfg.amp:
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)

        pids = [pid for _, pid, _ in self.dataset.train]
        if cfg.sampler == "pk":
            self.sampler = PKBatchSampler(pids, cfg.batch_size, cfg.num_instances, cfg.seed, self.rank, self.world)
        else:
            self.sampler = RandomBatchSampler(len(pids), cfg.batch_size, cfg.seed, self.rank, self.world)
        workers = usable_workers(cfg.workers)
        if workers < cfg.workers:
            self.log(f"data loading: {workers} worker(s), the cores this process may use (asked {cfg.workers})")
        self.loader = DataLoader(TrainImages(self.dataset.train, self.tcfg), batch_sampler=self.sampler,
                                 num_workers=workers, pin_memory=self.device.type == "cuda",
                                 generator=torch.Generator(), persistent_workers=False,
                                 worker_init_fn=_ignore_sigint if workers > 0 else None)

        self.epoch, self.epoch_step, self.global_step = 0, 0, 0
        self.best_map, self.metrics = -1.0, {}
        self._pending_row: dict[str, Any] | None = None  # an epoch whose evaluation a stop cut short
        self._stop = False
        if resume is not None:
            self._load(Path(resume))
        if self.world > 1:
            self.model = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=cfg.fixbase_epochs > 0)
        self._tb = None

    # .................................................................................... setup helpers
    def _barrier(self, when: bool = True) -> None:
        """A DDP barrier on the ranks for which ``when`` holds (the others meet it elsewhere); no-op alone."""
        if self.world > 1 and when:
            import torch.distributed as dist
            dist.barrier()

    def _sync_stop(self) -> bool:
        """Under DDP a stop (Ctrl-C, SIGTERM) seen by any rank stops all of them at the same step, so no rank is left
        waiting in a collective; returns the agreed flag."""
        if self.world > 1:
            import torch.distributed as dist
            flag = torch.tensor([1.0 if self._stop else 0.0], device=self.device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            self._stop = bool(flag.item() > 0)
        return self._stop

    def log(self, msg: str) -> None:
        if self.is_main:
            self._log(msg)

    def _build_optimizer(self) -> torch.optim.Optimizer:
        c = self.cfg
        params = [p for p in self.model.parameters()]
        if c.optimizer in ("adam", "amsgrad"):
            return torch.optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay, betas=(c.momentum, 0.999),
                                    amsgrad=c.optimizer == "amsgrad")
        if c.optimizer == "adamw":
            return torch.optim.AdamW(params, lr=c.lr, weight_decay=c.weight_decay, betas=(c.momentum, 0.999))
        return torch.optim.SGD(params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay, nesterov=True)

    def _set_trainable(self, epoch: int) -> bool:
        """Fixbase: during the first ``fixbase_epochs`` only ``open_layers`` train (pretrained backbones only)."""
        model = unwrap(self.model)
        model.train()
        fix = epoch < self.cfg.fixbase_epochs and self.pretrained
        names = dict(model.named_children())
        if fix:
            missing = [n for n in self.cfg.open_layers if n not in names]
            if missing:
                raise ValueError(f"open_layers {missing} are not top-level modules of {self.cfg.model}; "
                                 f"it has {sorted(names)}")
        for name, child in names.items():
            trainable = not fix or name in self.cfg.open_layers
            child.train(trainable)
            for p in child.parameters():
                p.requires_grad_(trainable)
        return fix

    # .................................................................................... checkpoints
    def checkpoint_dict(self, full: bool = True) -> dict[str, Any]:
        state = {k: v.detach().cpu() for k, v in unwrap(self.model).state_dict().items()}
        ck: dict[str, Any] = {
            "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "arch": self.cfg.model,
            "num_classes": self.num_classes, "state_dict": state, "epoch": self.epoch,
            "epoch_step": self.epoch_step, "global_step": self.global_step,
            "metrics": dict(self.metrics), "best_mAP": self.best_map,
            "input_size": [self.cfg.height, self.cfg.width], "config": self.cfg.to_dict(),
        }
        if full and self._pending_row is not None:
            ck["pending_row"] = dict(self._pending_row)
        if full:
            ck.update({"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                       "scaler": self.scaler.state_dict(), "sampler": self.sampler.state_dict(),
                       "rng": rng_state()})
        return ck

    def save(self, name: str = "last.pt", full: bool = True) -> Path:
        path = self.out_dir / name
        if self.is_main:
            save_checkpoint(self.checkpoint_dict(full), path)
        return path

    def _load(self, path: Path) -> None:
        ck = read_resume_checkpoint(path)
        if ck["arch"] != self.cfg.model or ck["num_classes"] != self.num_classes:
            raise ValueError(f"--resume: {path} is {ck['arch']} with {ck['num_classes']} classes, but this run "
                             f"is {self.cfg.model} with {self.num_classes} classes")
        unwrap(self.model).load_state_dict(ck["state_dict"])
        self.optimizer.load_state_dict(ck["optimizer"])
        self.scheduler.load_state_dict(ck["scheduler"])
        self.scaler.load_state_dict(ck["scaler"])
        self.sampler.load_state_dict(ck["sampler"])
        self.epoch, self.epoch_step = int(ck["epoch"]), int(ck["epoch_step"])
        self.global_step = int(ck["global_step"])
        self.best_map, self.metrics = float(ck.get("best_mAP", -1.0)), dict(ck.get("metrics", {}))
        self._pending_row = ck.get("pending_row")
        set_rng_state(ck["rng"])
        self.log(f"resumed from {path}: epoch {self.epoch}, step {self.epoch_step} of it, "
                 f"{self.global_step} steps in total")

    # .................................................................................... signals
    def _install_signals(self) -> dict:
        """Ctrl-C (SIGINT) and SIGTERM (what torchrun and schedulers send) finish the step and write a checkpoint;
        a second one aborts. Returns the previous handlers."""
        if threading.current_thread() is not threading.main_thread():
            return {}

        def handler(signum, frame):
            if self._stop:  # the second signal: stop now
                raise KeyboardInterrupt
            self._stop = True
            self.log("\ninterrupt: finishing this step, then writing a checkpoint (Ctrl-C again to abort)")

        return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    # .................................................................................... loop
    def _train_step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, dict[str, float], float]:
        c = self.cfg
        self.optimizer.zero_grad(set_to_none=True)
        ctx = torch.autocast("cuda", dtype=self.amp_dtype) if self.amp_dtype is not None else _null_ctx()
        with ctx:
            out = self.model(x, labels=y)
        if not isinstance(out, dict) or "logits" not in out:
            raise TypeError(f"{c.model} in train mode must return a dict with 'logits' and 'feats' lists")
        loss, parts = self.criterion(out, y)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss became {float(loss)} at step {self.global_step}; lower the lr "
                                     "(--set lr=...) or enable gradient clipping (--set grad_clip=5)")
        self.scaler.scale(loss).backward()
        if c.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), c.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        with torch.no_grad():
            acc = float((out["logits"][0].argmax(1) == y).float().mean())
        return float(loss.detach()), parts, acc

    def _tensorboard(self):
        if self._tb is None and self.is_main:
            try:
                from torch.utils.tensorboard import SummaryWriter
                self._tb = SummaryWriter(str(self.out_dir / "tensorboard"))
            except ImportError:
                self._tb = False
        return self._tb or None

    def run_evaluation(self) -> dict[str, float]:
        c = self.cfg
        metrics = evaluate(unwrap(self.model), self.dataset, self.tcfg, self.device, c.eval_batch_size,
                           min(usable_workers(c.workers), 4), c.eval_flip, c.rerank, c.cuhk03_metric,
                           should_stop=lambda: self._stop, log=self.log)
        return metrics

    def _close_epoch(self, row: dict[str, Any], do_eval: bool, result: TrainResult) -> None:
        """Evaluate (when due), checkpoint and log an epoch whose training is done. A stop before or during its
        evaluation leaves the evaluation pending in last.pt and ``--resume`` runs it first, so metrics.csv and
        best.pt come out as if the run had never stopped."""
        evaluated = not do_eval
        if do_eval and not self._stop:
            if self.is_main:
                try:
                    self.metrics = self.run_evaluation()
                except KeyboardInterrupt:
                    self._stop = True
                else:
                    evaluated = True
                    row.update({k: f"{v:.4f}" for k, v in self.metrics.items()})
                    self.log(f"epoch {row['epoch']}: mAP {self.metrics['mAP']:.4f} "
                             f"rank-1 {self.metrics['rank1']:.4f} rank-5 {self.metrics['rank5']:.4f}")
                    if self.metrics["mAP"] > self.best_map:
                        self.best_map = self.metrics["mAP"]
                        result.best_checkpoint = self.save("best.pt", full=False)
            self._barrier()
            self._sync_stop()  # a stop during rank 0's evaluation stops every rank here
        self._pending_row = None if evaluated else dict(row)
        result.last_checkpoint = self.save("last.pt")
        if evaluated and self.is_main:
            MetricsCSV(self.out_dir / "metrics.csv").append(row)
            tb = self._tensorboard()
            if tb:
                for k in ("loss", "acc", "lr", "images_per_s", "mAP", "rank1"):
                    if row.get(k, "") != "":
                        tb.add_scalar(f"train/{k}" if k not in ("mAP", "rank1") else f"eval/{k}", float(row[k]),
                                      int(row["epoch"]))

    def _train_epoch(self, result: TrainResult) -> _Epoch:
        """Run the optimiser steps of the current epoch (from ``epoch_step`` on) until its end, ``steps_per_epoch``,
        ``max_steps`` or a stop; ``finished`` says whether the epoch is complete."""
        from tqdm import tqdm

        c = self.cfg
        ep = _Epoch(index=self.epoch, lr=self.optimizer.param_groups[0]["lr"])
        self.sampler.set_epoch(ep.index, self.epoch_step)
        fixed = self._set_trainable(ep.index)
        n_batches = len(self.sampler) + self.epoch_step
        if c.steps_per_epoch:
            n_batches = min(n_batches, c.steps_per_epoch)
        if n_batches <= 0:
            raise ValueError("an epoch has no batch: the training set is smaller than one batch "
                             f"({c.batch_size} images); lower --batch-size")
        bar = tqdm(total=n_batches, initial=self.epoch_step, disable=not self.progress, leave=True,
                   desc=f"epoch {ep.index + 1}/{c.epochs}" + (" (classifier only)" if fixed else ""),
                   dynamic_ncols=True, file=sys.stderr, mininterval=1.0)
        t_epoch = time.perf_counter()
        for x, y, _, _ in self.loader:
            x = x.to(self.device, non_blocking=True)
            y = y.to(self.device, non_blocking=True)
            loss, parts, acc = self._train_step(x, y)
            self.global_step += 1
            self.epoch_step += 1
            result.step_losses.append(loss)
            for k, v in (("loss", loss), ("ce", parts["ce"]), ("triplet", parts["triplet"]), ("acc", acc)):
                ep.sums[k] += v
            ep.steps += 1
            ep.images += len(y) * self.world
            speed = ep.images / max(1e-9, time.perf_counter() - t_epoch)
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}", acc=f"{acc:.2f}", img_s=f"{speed:.0f}", lr=f"{ep.lr:.2e}")
            if self._sync_stop() or (c.max_steps and self.global_step >= c.max_steps):
                ep.stop_now = True
                break
            if c.steps_per_epoch and self.epoch_step >= c.steps_per_epoch:
                break
        bar.close()
        ep.seconds = time.perf_counter() - t_epoch
        ep.finished = not (ep.stop_now and self.epoch_step < n_batches)
        return ep

    def _end_epoch(self, ep: _Epoch, result: TrainResult) -> None:
        """A complete epoch: step the schedule, then evaluate (when due), checkpoint and log it."""
        c = self.cfg
        self.scheduler.step()
        self.epoch, self.epoch_step = ep.index + 1, 0
        n = max(1, ep.steps)
        row = {"epoch": ep.index + 1, "step": self.global_step, "lr": f"{ep.lr:.6g}",
               "loss": f"{ep.sums['loss'] / n:.5f}", "ce": f"{ep.sums['ce'] / n:.5f}",
               "triplet": f"{ep.sums['triplet'] / n:.5f}", "acc": f"{ep.sums['acc'] / n:.4f}",
               "images_per_s": f"{ep.images / max(ep.seconds, 1e-9):.1f}", "epoch_s": f"{ep.seconds:.1f}"}
        last_epoch = self.epoch >= c.epochs or (c.max_steps and self.global_step >= c.max_steps)
        do_eval = c.eval_every >= 0 and (last_epoch or (c.eval_every > 0 and self.epoch % c.eval_every == 0))
        self._close_epoch(row, do_eval, result)

    def fit(self) -> TrainResult:
        """Train until ``cfg.epochs`` (or ``cfg.max_steps``); raises :class:`TrainingInterrupted` after Ctrl-C."""
        c = self.cfg
        result = TrainResult(steps=self.global_step, epoch=self.epoch, best_map=self.best_map)
        if self.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            # a fresh run starts a new metrics.csv; a resumed one keeps the rows of the epochs it has not undone
            MetricsCSV(self.out_dir / "metrics.csv").keep_through(self.epoch if self.global_step > 0 else 0)
        old_handlers = self._install_signals()
        t_start, images = time.perf_counter(), 0
        try:
            if self._pending_row is not None:  # the evaluation a stop cut short comes first
                self._close_epoch(self._pending_row, True, result)
                if self._stop:
                    raise TrainingInterrupted(result.last_checkpoint)
            while self.epoch < c.epochs:
                if c.max_steps and self.global_step >= c.max_steps:
                    break
                ep = self._train_epoch(result)
                images += ep.images
                if not ep.finished:  # mid-epoch stop: keep the position inside the epoch
                    result.last_checkpoint = self.save("last.pt")
                    if self._stop:
                        raise TrainingInterrupted(result.last_checkpoint)
                    break
                self._end_epoch(ep, result)
                if self._stop:
                    raise TrainingInterrupted(result.last_checkpoint)
                if ep.stop_now:
                    break
        except KeyboardInterrupt:
            # a second Ctrl-C (or one outside the main thread): the step in flight may be half done, so nothing is
            # written; the last checkpoint on disk (end of the previous epoch or an earlier stop) stays valid
            raise TrainingInterrupted(self.out_dir / "last.pt") from None
        finally:
            for sig, h in old_handlers.items():
                signal.signal(sig, h)
            if self._tb:
                self._tb.flush()
        result.steps, result.epoch = self.global_step, self.epoch
        result.metrics, result.best_map = dict(self.metrics), self.best_map
        result.seconds = time.perf_counter() - t_start
        result.images_per_s = images / max(result.seconds, 1e-9)
        if result.best_checkpoint is None and self.best_map >= 0 and (self.out_dir / "best.pt").is_file():
            result.best_checkpoint = self.out_dir / "best.pt"
        return result


# ----------------------------------------------------------------------------------------------- eval-only
def evaluate_weights(weights: str | Path, cfg: TrainConfig, dataset: ReIDDataset | None = None,
                     log: Callable[[str], None] = print) -> dict[str, float]:
    """Evaluate any checkpoint (trackreid, torchreid or BoxMOT; a path, a known name or a read ``Checkpoint``) as
    ``cfg.model`` at ``cfg.height`` x ``cfg.width`` on ``cfg.data``/``cfg.root``."""
    from trackreid.reid.models.registry import build_model
    from trackreid.reid.weights import load_weights

    device = resolve_device(cfg.device)
    dataset = dataset if dataset is not None else dataset_of(cfg)
    log(dataset.summary())
    model = build_model(cfg.model, num_classes=0, pretrained_backbone=False)
    report = load_weights(model, weights, arch=cfg.model)
    if report is not None:
        log(f"loaded {report}")
    model.to(device)
    spec = _model_spec(cfg.model)
    tcfg = transform_config(cfg, getattr(spec, "mean", IMAGENET_MEAN), getattr(spec, "std", IMAGENET_STD))
    return evaluate(model, dataset, tcfg, device, cfg.eval_batch_size, min(usable_workers(cfg.workers), 4),
                    cfg.eval_flip, cfg.rerank, cfg.cuhk03_metric, log=log)
