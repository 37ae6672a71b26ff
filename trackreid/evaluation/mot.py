"""MOT metrics (HOTA, MOTA, IDF1, ...) computed by TrackEval's metric classes on MOTChallenge-format data.

trackreid reads the files and prepares TrackEval's per-frame data dict itself, then calls
``trackeval.metrics.HOTA / CLEAR / Identity`` directly. That avoids TrackEval's rigid folder layout and seqmaps
while keeping its metric code. The preparation follows TrackEval's ``MotChallenge2DBox`` preprocessing:

Ground-truth flavours (``gt_format``):
- ``"mot17"`` (MOT16/17 gt: column 8 holds classes 1..13). Per frame, results are matched to *all* gt boxes
  (Hungarian, IoU >= 0.5); results matched to a distractor (person on vehicle 2, static person 7, distractor 8,
  reflection 12) are removed. ``"mot20"`` is the same with non-MOT vehicle (6) also a distractor. Then only gt rows with class 1 (pedestrian) and consider flag (column 7) != 0 are
  kept. Visibility (column 9) is not used, as in the official evaluation.
- ``"plain"`` (MOT15 gt, custom gt with 6 columns): no classes; gt rows whose consider flag is 0 are dropped. This
  is the plain IoU CLEAR/ID evaluation of py-motmetrics.
- ``"auto"`` (default): if every gt class value (column 8) is an integer 1..13, ``"mot20"`` for sequences named
  ``MOT20-*`` and ``"mot17"`` otherwise; else ``"plain"`` (MOT15 gt holds -1 or 3D world coordinates there).

Frames: the evaluated frames are 1..T with T the last frame present in the gt or the results. Frames with neither
gt nor results change none of the reported metrics, so a ``seqinfo.ini`` whose ``seqLength`` is larger than the
frames present (trimmed gt) evaluates the same as the full length. ``seqLength`` is only used as a check: a row
with a frame beyond it raises ``ValueError`` (as in TrackEval; it signals results from another sequence).
Results in frames without gt boxes count as false positives (the standard). With trimmed gt and results for
the whole video, pass ``clip_to_gt=True`` to ignore result rows after the last gt frame.

A missing results file raises ``FileNotFoundError`` (listing every missing sequence) unless ``missing="empty"``,
which scores it as a tracker that output nothing (all gt are misses). An empty results file is valid.

``iou_threshold`` applies to MOTA/IDF1 (CLEAR and Identity); HOTA integrates over IoU 0.05..0.95 by definition.
"""
from __future__ import annotations

import configparser
import warnings
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from trackreid.io.mot import normalise_mot_rows, read_mot

PEDESTRIAN = 1
DISTRACTOR_CLASSES = (2, 7, 8, 12)  # person_on_vehicle, static_person, distractor, reflection (TrackEval MOT17)
MOT20_DISTRACTOR_CLASSES = DISTRACTOR_CLASSES + (6,)  # + non_mot_vehicle
GT_FORMATS = ("auto", "mot17", "mot20", "plain")
VALID_CLASSES = tuple(range(1, 14))  # MOT17/MOT20 class ids 1..13
COMBINED = "COMBINED"
SUMMARY_KEYS = ("HOTA", "MOTA", "IDF1", "IDSW", "FP", "FN")


def _iou_xywh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of (N,4) and (M,4) x,y,w,h boxes, with TrackEval's own function."""
    from trackeval.datasets._base_dataset import _BaseDataset

    return _BaseDataset._calculate_box_ious(a, b, box_format="xywh")


def _frame_slices(frames: np.ndarray, num_timesteps: int) -> np.ndarray:
    """For rows sorted by frame: start index of frames 1..T+1."""
    return np.searchsorted(frames, np.arange(1, num_timesteps + 2), side="left")


def _check_rows(rows: np.ndarray, what: str, seq_length: int | None) -> None:
    if len(rows) == 0:
        return
    if rows[:, 0].min() < 1:
        raise ValueError(f"{what}: frame numbers are 1-based, found frame {int(rows[:, 0].min())}")
    if seq_length is not None and rows[:, 0].max() > seq_length:
        raise ValueError(
            f"{what}: frame {int(rows[:, 0].max())} is beyond seqLength={seq_length} in seqinfo.ini "
            "(results from another sequence, or a frame offset?)"
        )
    if (rows[:, 4] < 0).any() or (rows[:, 5] < 0).any():
        i = int(np.flatnonzero((rows[:, 4] < 0) | (rows[:, 5] < 0))[0])
        raise ValueError(
            f"{what}: negative box width/height in row {i} ({rows[i, 2:6].tolist()}); "
            "MOT boxes are x,y,w,h (top-left corner + size), not x1,y1,x2,y2"
        )
    # One box per identity per frame (TrackEval requires it).
    keys = rows[:, 0].astype(np.int64) * (2**32) + (rows[:, 1].astype(np.int64) - np.int64(rows[:, 1].min()))
    uniq, counts = np.unique(keys, return_counts=True)
    if (counts > 1).any():
        k = uniq[np.flatnonzero(counts > 1)[0]]
        frame = int(k // (2**32))
        ident = int(k % (2**32) + rows[:, 1].min())
        raise ValueError(f"{what}: identity {ident} appears more than once in frame {frame}")


def _resolve_format(gt: np.ndarray, gt_format: str, name: str) -> str:
    what = f"{name} gt"
    if gt_format not in GT_FORMATS:
        raise ValueError(f"gt_format: expected one of {GT_FORMATS}, got {gt_format!r}")
    if gt_format == "auto":
        classes_ok = len(gt) and np.isin(gt[:, 7], VALID_CLASSES).all()
        gt_format = ("mot20" if name.startswith("MOT20-") else "mot17") if classes_ok else "plain"
    if gt_format in ("mot17", "mot20") and len(gt):
        bad = np.setdiff1d(np.unique(gt[:, 7]), VALID_CLASSES)
        if len(bad):
            raise ValueError(
                f"{what}: gt class values {bad[:10].tolist()} are not MOT17 classes 1..13; "
                "use gt_format='plain' for gt without classes"
            )
    return gt_format


def prepare_sequence(
    gt_rows,
    res_rows,
    *,
    gt_format: str = "auto",
    seq_length: int | None = None,
    clip_to_gt: bool = False,
    name: str = "sequence",
) -> dict:
    """Build TrackEval's per-sequence data dict from MOT gt and result rows (see the module docstring)."""
    gt = normalise_mot_rows(gt_rows, f"{name} gt")
    res = normalise_mot_rows(res_rows, f"{name} results")
    _check_rows(gt, f"{name} gt", seq_length)
    if clip_to_gt and len(res):
        last = int(gt[:, 0].max()) if len(gt) else 0
        res = res[res[:, 0] <= last]
    _check_rows(res, f"{name} results", seq_length)
    fmt = _resolve_format(gt, gt_format, name)
    distractors = MOT20_DISTRACTOR_CLASSES if fmt == "mot20" else DISTRACTOR_CLASSES

    gt = gt[np.argsort(gt[:, 0], kind="stable")]
    res = res[np.argsort(res[:, 0], kind="stable")]
    num_t = int(max(gt[:, 0].max() if len(gt) else 0, res[:, 0].max() if len(res) else 0))
    gs, rs = _frame_slices(gt[:, 0], num_t), _frame_slices(res[:, 0], num_t)

    data = {k: [None] * num_t for k in ("gt_ids", "tracker_ids", "similarity_scores")}
    raw_res_dets = 0
    for t in range(num_t):
        g = gt[gs[t] : gs[t + 1]]
        r = res[rs[t] : rs[t + 1]]
        raw_res_dets += len(r)
        sim = _iou_xywh(g[:, 2:6], r[:, 2:6]) if len(g) and len(r) else np.zeros((len(g), len(r)))
        if fmt in ("mot17", "mot20"):
            if len(g) and len(r):
                # TrackEval: remove results matched (IoU >= 0.5, fixed) to distractor gt boxes.
                scores = sim.copy()
                scores[scores < 0.5 - np.finfo("float").eps] = 0
                mr, mc = linear_sum_assignment(-scores)
                ok = scores[mr, mc] > np.finfo("float").eps
                mr, mc = mr[ok], mc[ok]
                drop = mc[np.isin(g[mr, 7], distractors)]
                if len(drop):
                    r = np.delete(r, drop, axis=0)
                    sim = np.delete(sim, drop, axis=1)
            keep = (g[:, 6].astype(np.int64) != 0) & (g[:, 7] == PEDESTRIAN)
        else:
            keep = g[:, 6].astype(np.int64) != 0
        data["gt_ids"][t] = g[keep, 1].astype(np.int64)
        data["tracker_ids"][t] = r[:, 1].astype(np.int64)
        data["similarity_scores"][t] = sim[keep]

    # Relabel identities to 0..n-1 (TrackEval indexes arrays by id).
    for key, count_key in (("gt_ids", "num_gt_ids"), ("tracker_ids", "num_tracker_ids")):
        ids = np.concatenate(data[key]) if num_t else np.empty(0, np.int64)
        uniq = np.unique(ids)
        data[count_key] = len(uniq)
        data[key] = [np.searchsorted(uniq, x).astype(int) for x in data[key]]
    data["num_gt_dets"] = int(sum(len(x) for x in data["gt_ids"]))
    data["num_tracker_dets"] = int(sum(len(x) for x in data["tracker_ids"]))
    data["num_timesteps"] = num_t
    data["seq"] = name
    data["gt_format"] = fmt
    data["removed_res_dets"] = raw_res_dets - data["num_tracker_dets"]
    return data


def _metrics(iou_threshold: float):
    from trackeval.metrics import CLEAR, HOTA, Identity

    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold: expected a value in (0, 1], got {iou_threshold}")
    cfg = {"THRESHOLD": float(iou_threshold), "PRINT_CONFIG": False}
    return HOTA(), CLEAR(cfg), Identity(cfg)


def _summarise(hota: dict, clear: dict, ident: dict, counts: dict) -> dict:
    out = {
        "HOTA": float(np.mean(hota["HOTA"])),
        "DetA": float(np.mean(hota["DetA"])),
        "AssA": float(np.mean(hota["AssA"])),
        "LocA": float(np.mean(hota["LocA"])),
        "MOTA": float(clear["MOTA"]),
        "MOTP": float(clear["MOTP"]),
        "IDF1": float(ident["IDF1"]),
        "IDP": float(ident["IDP"]),
        "IDR": float(ident["IDR"]),
        "Recall": float(clear["CLR_Re"]),
        "Precision": float(clear["CLR_Pr"]),
        "IDSW": int(clear["IDSW"]),
        "FP": int(clear["CLR_FP"]),
        "FN": int(clear["CLR_FN"]),
        "TP": int(clear["CLR_TP"]),
        "MT": int(clear["MT"]),
        "PT": int(clear["PT"]),
        "ML": int(clear["ML"]),
        "Frag": int(clear["Frag"]),
    }
    out.update(counts)
    return out


def evaluate_prepared(sequences: Mapping[str, dict], iou_threshold: float = 0.5) -> dict[str, dict]:
    """Run TrackEval's HOTA, CLEAR and Identity on prepared data dicts; per sequence plus ``"COMBINED"``."""
    if not sequences:
        raise ValueError("no sequences to evaluate")
    if COMBINED in sequences:
        raise ValueError(f"{COMBINED!r} is reserved for the combined result; rename that sequence")
    hota_m, clear_m, id_m = _metrics(iou_threshold)
    raw = {"hota": {}, "clear": {}, "id": {}}
    out = {}
    for name, data in sequences.items():
        raw["hota"][name] = hota_m.eval_sequence(data)
        raw["clear"][name] = clear_m.eval_sequence(data)
        raw["id"][name] = id_m.eval_sequence(data)
        counts = {
            "GT_dets": data["num_gt_dets"],
            "GT_ids": data["num_gt_ids"],
            "Res_dets": data["num_tracker_dets"],
            "Res_ids": data["num_tracker_ids"],
        }
        out[name] = _summarise(raw["hota"][name], raw["clear"][name], raw["id"][name], counts)
    combined_counts = {k: int(sum(out[n][k] for n in sequences)) for k in ("GT_dets", "GT_ids", "Res_dets", "Res_ids")}
    out[COMBINED] = _summarise(
        hota_m.combine_sequences(raw["hota"]),
        clear_m.combine_sequences(raw["clear"]),
        id_m.combine_sequences(raw["id"]),
        combined_counts,
    )
    return out


def evaluate_mot_arrays(
    sequences: Mapping[str, tuple],
    iou_threshold: float = 0.5,
    *,
    gt_format: str = "auto",
    clip_to_gt: bool = False,
) -> dict[str, dict]:
    """Evaluate in-memory data: ``{name: (gt_rows, result_rows)}``, both MOT rows (K, >=6) ``frame,id,x,y,w,h,...``.

    Returns the same dict as :func:`evaluate_mot`. Handy for benchmarks on synthetic scenes
    (``scene.gt`` is MOT17-style gt).
    """
    prepared = {
        name: prepare_sequence(gt, res, gt_format=gt_format, clip_to_gt=clip_to_gt, name=str(name))
        for name, (gt, res) in sequences.items()
    }
    return evaluate_prepared(prepared, iou_threshold)


def with_true_identities(gt_rows, res_rows, iou_threshold: float = 0.5) -> np.ndarray:
    """``res_rows`` with each box's ID replaced by the identity of the ground-truth box it overlaps (Hungarian per
    frame, IoU >= ``iou_threshold``; every gt row is a candidate, as in TrackEval's distractor matching); boxes that
    overlap none keep a unique ID of their own. Scored, it is the ceiling of any identity decision on these boxes:
    what perfect association would give without changing which boxes exist."""
    gt = normalise_mot_rows(gt_rows, "gt")
    res = normalise_mot_rows(res_rows, "results").copy()
    if not len(res):
        return res
    unmatched = np.arange(len(res)) + (gt[:, 1].max() + 1 if len(gt) else 0) + 1
    out_ids = unmatched.astype(np.float64)
    for f in np.unique(res[:, 0]):
        ri = np.flatnonzero(res[:, 0] == f)
        g = gt[gt[:, 0] == f]
        if not len(g):
            continue
        sim = _iou_xywh(res[ri, 2:6], g[:, 2:6])
        r, c = linear_sum_assignment(-sim)
        ok = sim[r, c] >= iou_threshold - np.finfo("float").eps
        out_ids[ri[r[ok]]] = g[c[ok], 1]
    res[:, 1] = out_ids
    return res


def read_seq_length(seq_dir) -> int | None:
    """``seqLength`` from ``seq_dir/seqinfo.ini``, or None when the file or key is absent."""
    ini = Path(seq_dir) / "seqinfo.ini"
    if not ini.is_file():
        return None
    cp = configparser.ConfigParser()
    try:
        cp.read(ini, encoding="utf-8")
        value = cp.get("Sequence", "seqLength", fallback=None)
        return int(value) if value is not None else None
    except (configparser.Error, ValueError) as exc:
        raise ValueError(f"{ini}: cannot read seqLength ({exc})") from None


def find_sequences(gt_root) -> list[str]:
    """Names of the folders under ``gt_root`` that contain ``gt/gt.txt``, sorted."""
    root = Path(gt_root)
    if not root.is_dir():
        raise FileNotFoundError(f"gt_root: folder not found: {root}")
    return sorted(p.name for p in root.iterdir() if (p / "gt" / "gt.txt").is_file())


def evaluate_mot(
    gt_root,
    results_dir,
    sequences: Sequence[str] | None = None,
    iou_threshold: float = 0.5,
    *,
    gt_format: str = "auto",
    missing: str = "error",
    clip_to_gt: bool = False,
) -> dict[str, dict]:
    """Evaluate ``results_dir/SEQ.txt`` against ``gt_root/SEQ/gt/gt.txt`` with TrackEval.

    Returns ``{seq: metrics, ..., "COMBINED": metrics}``; metrics hold ``HOTA, MOTA, IDF1`` (fractions 0..1),
    ``IDSW, FP, FN`` (counts) and extras (DetA, AssA, MOTP, IDP, IDR, Recall, Precision, TP, MT, PT, ML, Frag,
    GT_dets, GT_ids, Res_dets, Res_ids). ``sequences`` defaults to every folder of ``gt_root`` holding
    ``gt/gt.txt``. See the module docstring for gt formats, frame ranges and missing files.
    """
    if missing not in ("error", "empty"):
        raise ValueError(f"missing: expected 'error' or 'empty', got {missing!r}")
    gt_root, results_dir = Path(gt_root), Path(results_dir)
    if not results_dir.is_dir():
        raise FileNotFoundError(f"results_dir: folder not found: {results_dir}")
    if sequences is None:
        sequences = find_sequences(gt_root)
        if not sequences:
            raise FileNotFoundError(f"gt_root: no SEQ/gt/gt.txt found under {gt_root}")
    elif isinstance(sequences, str):
        sequences = [sequences]
    for seq in sequences:
        if not (gt_root / seq / "gt" / "gt.txt").is_file():
            raise FileNotFoundError(f"ground truth not found: {gt_root / seq / 'gt' / 'gt.txt'}")
    absent = [s for s in sequences if not (results_dir / f"{s}.txt").is_file()]
    if absent and missing == "error":
        raise FileNotFoundError(
            f"results missing for {len(absent)} sequence(s) in {results_dir}: {', '.join(absent)} "
            "(expected SEQ.txt per sequence; pass missing='empty' / --missing empty to score them as empty)"
        )
    for s in absent:
        warnings.warn(f"no results file for {s}; scored as empty (every gt box is a miss)", stacklevel=2)
    prepared = {}
    for seq in sequences:
        res_path = results_dir / f"{seq}.txt"
        res = read_mot(res_path) if res_path.is_file() else np.empty((0, 10))
        prepared[seq] = prepare_sequence(
            read_mot(gt_root / seq / "gt" / "gt.txt"),
            res,
            gt_format=gt_format,
            seq_length=read_seq_length(gt_root / seq),
            clip_to_gt=clip_to_gt,
            name=seq,
        )
    return evaluate_prepared(prepared, iou_threshold)


def format_table(results: Mapping[str, Mapping[str, float]], keys: Sequence[str] = SUMMARY_KEYS) -> str:
    """A plain-text table: one row per sequence (COMBINED last), fractions shown as percentages."""
    names = [n for n in results if n != COMBINED] + ([COMBINED] if COMBINED in results else [])
    width = max(len("Sequence"), *(len(n) for n in names))
    cols = [max(8, len(k) + 2) for k in keys]
    head = f"{'Sequence':<{width}}" + "".join(f"{k:>{c}}" for k, c in zip(keys, cols))
    lines = [head, "-" * len(head)]
    for n in names:
        cells = []
        for k, c in zip(keys, cols):
            v = results[n][k]
            cells.append(f"{v:>{c}d}" if isinstance(v, (int, np.integer)) else f"{100 * v:>{c}.2f}")
        lines.append(f"{n:<{width}}" + "".join(cells))
    return "\n".join(lines)
