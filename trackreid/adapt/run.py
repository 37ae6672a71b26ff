"""``adapt()``: track the sources with the current encoder, learn from the tracks, write ``DIR/reid.pt``.

Steps (each writes what the next needs, so an interrupted run resumes where it stopped):

1. the starting encoder: ``reid_weights`` (a checkpoint, an OSNet ``.onnx`` or a known name), else the bundled
   trained weights of ``reid`` (``osnet_x0_25``); its thresholds are the ones the tracker uses with it;
2. each source is tracked as ``trackreid`` would (same detector, encoder and tracker options) into
   ``DIR/tracking/<source>/``, and crops of every identity are kept at the encoder's input size
   (``DIR/crops.npz``, reused by a resumed run);
3. labels from the tracks (:mod:`trackreid.adapt.tracklets`), the starting encoder's distances deciding splits;
4. training (:mod:`trackreid.adapt.trainer`), ``DIR/adapt_last.pt`` every few steps; the trained weights are
   blended with the starting ones (``AdaptConfig.blend``);
5. label-free figures before and after on held-out labels, thresholds for the new encoder at the false-match rates
   the starting one had on the same people, ``DIR/reid.pt`` (a trackreid checkpoint carrying them), the export the
   CPU runtime uses, and ``DIR/adapt.json`` (the summary).
"""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Callable

import numpy as np

from trackreid.io.atomic import write_json_atomic
from trackreid.pipeline.options import detectors_per_source

from .collect import TrackCrops, track_and_collect
from .config import AdaptConfig
from .tracklets import Labels, NothingToLearn, build_labels
from .trainer import LAST, AdaptTrainer, blend_weights, embed_crops

CROPS_CACHE = "crops.npz"
WEIGHTS_NAME = "reid.pt"
SUMMARY_NAME = "adapt.json"
EXPORT_NAME = "reid_int8_openvino_model"


def start_encoder(reid="auto", reid_weights=None) -> tuple[str, object, "object"]:
    """(architecture, weights to load, their thresholds) of the encoder a run with these options uses; a checkpoint
    is needed: an export other than an OSNet ``.onnx`` cannot be trained."""
    from trackreid.reid.runtimes import file_format
    from trackreid.reid.models.registry import get_spec
    from trackreid.reid.thresholds import TUNED, stored_thresholds
    from trackreid.reid.weights import checkpoint_arch, default_weights, read_checkpoint

    if reid_weights is not None and str(reid_weights).strip().lower() == "none":
        raise ValueError("adapt: --reid-weights none is an untrained encoder; start from trained weights")
    if reid_weights is not None:
        fmt = file_format(reid_weights)
        if fmt not in (None, "onnxruntime"):
            raise ValueError(f"adapt: {reid_weights} is a {fmt} export and cannot be trained; give the checkpoint it "
                             "was exported from (--reid-weights FILE.pt)")
        ck = read_checkpoint(reid_weights)
        arch = checkpoint_arch(ck, os.fspath(reid_weights)) or (None if reid in (None, "auto") else reid)
        if arch is None:
            raise ValueError(f"adapt: cannot tell the architecture of {reid_weights}; pass --reid NAME")
        return get_spec(arch).name, ck, stored_thresholds(reid_weights, ck.meta) or TUNED
    arch = get_spec("osnet_x0_25" if reid in (None, "auto") else reid).name
    entry = default_weights(arch)
    if entry is None:
        raise ValueError(f"adapt: {arch} has no trained weights to start from; pass --reid-weights")
    ck = read_checkpoint(entry.name)
    return arch, ck, stored_thresholds(entry.name) or TUNED


def separation(features: np.ndarray, labels: Labels, which: np.ndarray, max_crops: int = 3000,
               seed: int = 0) -> dict:
    """Label-free figures of an encoder on the crops of labels ``which`` (bool over labels): ``auc``, how often a
    crop of one label is closer to another crop of it than to a crop of a label seen with it (ROC AUC of the
    same-label pairs against the known-different pairs), and ``nn_error``, the fraction of crops whose nearest
    crop among those is a known different person's."""
    sel = np.flatnonzero((labels.label >= 0) & which[np.maximum(labels.label, 0)])
    if len(sel) > max_crops:
        sel = np.sort(np.random.default_rng(seed).permutation(sel)[:max_crops])
    if len(sel) < 4:
        return {}
    f, lab = features[sel], labels.label[sel]
    d = 1.0 - f @ f.T
    same = (lab[:, None] == lab[None, :]) & ~np.eye(len(sel), dtype=bool)
    diff = labels.covis[lab][:, lab]
    if not same.any() or not diff.any():
        return {}
    pos, neg = d[np.triu(same, 1)], d[np.triu(diff, 1)]
    ranks = np.argsort(np.argsort(np.concatenate([pos, neg]), kind="stable"), kind="stable")
    auc = 1.0 - (ranks[:len(pos)].sum() - len(pos) * (len(pos) - 1) / 2) / (len(pos) * len(neg))
    masked = np.where(same | diff, d, np.inf)
    has = np.isfinite(masked).any(1) & same.any(1)
    nn = masked[has].argmin(1)
    err = float(np.mean(~same[np.flatnonzero(has), nn])) if has.any() else float("nan")
    own_p90 = np.array([np.quantile(d[k][same[k]], 0.9) if same[k].any() else np.nan for k in range(len(sel))])
    overlap = float(np.nanmean(np.where(diff, d < own_p90[:, None], np.nan)[np.triu(diff, 1)]))
    return {"auc": round(float(auc), 4), "nn_error": round(err, 4), "overlap": round(overlap, 4),
            "crops": int(len(sel)),
            "same_median": round(float(np.median(pos)), 4), "different_median": round(float(np.median(neg)), 4)}


def _pairs(features: np.ndarray, labels: Labels, max_crops: int = 2000, seed: int = 0):
    """(same-label distances, known-different distances) over the labelled crops."""
    sel = np.flatnonzero(labels.label >= 0)
    if len(sel) > max_crops:
        sel = np.sort(np.random.default_rng(seed).permutation(sel)[:max_crops])
    f, lab = features[sel], labels.label[sel]
    d = 1.0 - f @ f.T
    up = np.triu(np.ones(d.shape, bool), 1)
    return d[up & (lab[:, None] == lab[None, :])], d[up & labels.covis[lab][:, lab]]


def _source_name(source, taken: set) -> str:
    from trackreid.io.sources import source_name

    name = source_name(source)
    out, k = name, 2
    while out in taken:
        out, k = f"{name}_{k}", k + 1
    taken.add(out)
    return out


def adapt(sources, output, *, config: AdaptConfig | None = None, resume: bool = False, device: str = "auto",
          log: Callable[[str], None] = print, **tracking) -> dict:
    """Adapt the encoder to ``sources`` (see the module docstring); ``tracking``: :class:`~trackreid.pipeline.
    TrackingOptions` fields (``detector``, ``reid``, ``reid_weights``, ``conf``, ``tracker_config``...). Returns the
    summary written to ``DIR/adapt.json``. Raises :class:`~trackreid.adapt.tracklets.NothingToLearn` when the
    tracks hold nothing to learn from."""
    import torch

    from trackreid.reid.models.registry import build_model, get_spec
    from trackreid.reid.thresholds import scaled_thresholds
    from trackreid.reid.weights import CHECKPOINT_FORMAT, load_weights
    from trackreid.reid.encoder import resolve_torch_device
    from trackreid.train.checkpoint import save_checkpoint
    from trackreid.train.transforms import TransformConfig

    config = config or AdaptConfig()
    sources = [sources] if isinstance(sources, (str, os.PathLike, int)) else list(sources)
    if not sources:
        raise ValueError("adapt: give at least one source")
    per_source = detectors_per_source(tracking.get("detector"), len(sources))  # as ``trackreid`` takes them
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    arch, ck, start_thresholds = start_encoder(tracking.get("reid", "auto"), tracking.get("reid_weights"))
    spec = get_spec(arch)
    size = ck.input_size or tuple(spec.input_size)
    started = str(ck.path) if ck.path is not None else arch
    log(f"starting encoder: {arch} from {started}, input {size[0]}x{size[1]}")

    # 2: crops of every identity, tracked with the starting encoder
    cache = out / CROPS_CACHE
    tracking_s = 0.0
    summaries = []
    runs = out / "tracking" / "runs.json"
    if resume and cache.is_file():
        crops = TrackCrops.load(cache)
        summaries = json.loads(runs.read_text()) if runs.is_file() else []
        log(f"resumed: {len(crops)} crops from {cache}")
    else:
        parts, taken = [], set()
        for i, src in enumerate(sources):
            t0 = time.perf_counter()
            run_dir = out / "tracking" / _source_name(src, taken)
            opts = {"quiet": True, "save_video": False, "device": device, **tracking}
            if per_source is not None:
                opts["detector"] = per_source[i]
            part, summary = track_and_collect(src, i, opts, size, config, run_dir)
            tracking_s += time.perf_counter() - t0
            summaries.append({"source": str(src), "frames": summary.get("frames"), "status": summary.get("status"),
                              "identities": summary.get("unique_identities"), "crops": len(part),
                              "outputs": str(run_dir)})
            log(f"tracked {src}: {summary.get('frames')} frames, {summary.get('unique_identities')} identities, "
                f"{len(part)} crops")
            parts.append(part)
        crops = TrackCrops.concat(parts)
        write_json_atomic(runs, summaries)
        crops.save(cache)

    # 3: labels, judged by the starting encoder
    dev = resolve_torch_device(device)
    model = build_model(arch, num_classes=0)
    load_weights(model, ck, arch=arch)
    model = model.to(dev)
    start_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    tcfg = TransformConfig(height=size[0], width=size[1], mean=tuple(spec.mean), std=tuple(spec.std))
    t0 = time.perf_counter()
    before = embed_crops(model, crops.images, tcfg)
    labels = build_labels(crops, before, config, seed=config.seed)
    log("labels: " + ", ".join(f"{k} {v}" for k, v in labels.counts.items()))

    # 4: training
    trainer = AdaptTrainer(model, crops.images, labels, config, tcfg, out, log=log, teacher=before)
    last = out / LAST
    if resume and last.is_file():
        trainer.resume(last)
        log(f"resumed training at step {trainer.step} from {last}")
    trained = trainer.fit()
    blend_weights(model, start_state, config.blend)

    # 5: figures, thresholds, weights, export, summary
    after = embed_crops(model, crops.images, tcfg)
    held = labels.holdout if labels.holdout.any() else np.ones(labels.num_labels, bool)
    figures = {"before": separation(before, labels, held), "after": separation(after, labels, held),
               "on": "held-out labels" if labels.holdout.any() else "all labels (too few to hold any out)"}
    same0, diff0 = _pairs(before, labels)
    same1, diff1 = _pairs(after, labels)
    thresholds = scaled_thresholds(diff0, diff1, same0, same1, tuned=start_thresholds)
    weights = out / WEIGHTS_NAME
    save_checkpoint({"format": CHECKPOINT_FORMAT, "version": 1, "arch": arch, "num_classes": 0,
                     "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                     "input_size": list(size), "epoch": 0, "metrics": {},
                     "thresholds": thresholds.to_dict(), "adapted_from": started}, weights)
    export = _export(arch, weights, crops, labels, config.export, out, log)
    summary = {
        "weights": str(weights), "export": export, "adapted_from": started, "arch": arch,
        "input_size": list(size), "sources": summaries, "labels": labels.counts, "training": trained,
        "label_free": figures, "thresholds": thresholds.to_dict(), "config": config.to_dict(),
        "time_s": {"tracking": round(tracking_s, 1), "training": trained["train_s"],
                   "total": round(time.perf_counter() - t_start, 1)},
    }
    write_json_atomic(out / SUMMARY_NAME, summary)
    return summary


def _labelled_crop_set(crops: TrackCrops, labels: Labels, folder: Path, total: int = 300,
                       per_label: int = 6) -> Path:
    """About ``total`` crops (at least ``per_label`` of each label where it has them), spread over time, as a
    Market-1501 layout (each label's first crop the query, the others the gallery, as another camera): INT8 is
    calibrated and checked on the camera's own people."""
    import cv2

    from trackreid.analytics.crops import crop_name

    shutil.rmtree(folder, ignore_errors=True)
    (folder / "query").mkdir(parents=True)
    (folder / "bounding_box_test").mkdir()
    for j in range(labels.num_labels):
        rows = np.flatnonzero(labels.label == j)
        rows = rows[np.argsort(crops.frame[rows], kind="stable")]
        take = min(max(per_label, -(-total // labels.num_labels)), len(rows))
        rows = rows[np.unique(np.linspace(0, len(rows) - 1, take).round().astype(int))]
        for n, k in enumerate(rows):
            where, cam = ("query", 0) if n == 0 else ("bounding_box_test", 1)
            cv2.imwrite(str(folder / where / crop_name(j + 1, cam, int(crops.frame[k]))),
                        cv2.cvtColor(crops.images[k], cv2.COLOR_RGB2BGR))
    return folder


def _export(arch: str, weights: Path, crops: TrackCrops, labels: Labels, how: str, out: Path,
            log: Callable[[str], None]) -> dict | None:
    """The export the CPU runtime runs (see ``AdaptConfig.export``), calibrated on the adaptation's own crops; a
    failed export is reported, the weights stay."""
    if how == "none":
        return None
    if how == "auto":
        try:
            import nncf  # noqa: F401
            import openvino  # noqa: F401
        except ImportError:
            return None
        how = "openvino-int8"
    from trackreid.reid.export import ExportError, export_onnx, export_openvino

    check = out / "export_crops"
    try:
        if how == "onnx":
            res = export_onnx(arch, weights=str(weights), output=out / "reid.onnx")
        else:
            _labelled_crop_set(crops, labels, check)
            res = export_openvino(arch, weights=str(weights), output=out / EXPORT_NAME, int8=True, calib=check,
                                  check_data=check)
    except (ExportError, ImportError, RuntimeError, ValueError) as exc:
        log(f"export ({how}) not written: {exc}")
        return {"format": how, "path": None, "error": str(exc)}
    finally:
        shutil.rmtree(check, ignore_errors=True)
    log(f"export: {res.path} ({res.summary()})")
    return {"format": how, "path": str(res.path), "check": res.summary()}


__all__ = ["AdaptConfig", "NothingToLearn", "adapt", "separation", "start_encoder"]
