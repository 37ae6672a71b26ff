"""Cross-camera identity metrics by the DukeMTMC multi-camera protocol (Ristani et al., ECCV 2016 workshops).

All cameras share one identity space: a ground-truth identity is the set of its boxes over every camera and frame,
and so is a result identity (result ids are taken as global across cameras). A (gt, result) pair *matches* in a
camera frame where both have a box there with IoU >= the threshold. One global bipartite matching of gt to result
identities maximises the matched frames over all cameras together (IDTP); every other gt box is an IDFN and every
other result box an IDFP. IDF1 = 2 IDTP / (gt boxes + result boxes), IDP = IDTP / result boxes, IDR = IDTP / gt
boxes. A tracker that keeps each person's id inside every camera but gives them a new id in the next camera loses
the frames of all but one camera, which per-camera IDF1 does not see.

Ground truth keeps rows whose consider flag (column 7) is not 0 and, for MOT17-style files with classes, class 1
(pedestrian). Unlike TrackEval's per-camera MOT17 preprocessing, results matched to distractor boxes are not
removed (synthetic multi-camera ground truth has none).

Layouts: ``GT_ROOT/<camera>/gt/gt.txt`` per camera; results ``RUN/<camera>.txt`` or ``RUN/<camera>/tracks.txt``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from trackreid.evaluation.mot import PEDESTRIAN, evaluate_mot_arrays, find_sequences
from trackreid.io.mot import normalise_mot_rows, read_mot

__all__ = ["MULTICAM", "RESULT_IDS", "identity_metrics", "find_camera_results", "read_multicam",
           "evaluate_multicam", "format_multicam"]

MULTICAM = "MULTICAM"
#: how result ids are read: "global" (the same id in two cameras is one identity) or "per_camera" (ids of different
#: cameras are different identities: what per-camera trackers without global ids mean)
RESULT_IDS = ("global", "per_camera")


def _keep_gt(gt: np.ndarray) -> np.ndarray:
    """Rows to score: consider flag != 0, and class 1 when the file carries MOT17 classes (column 8 >= 1)."""
    keep = gt[:, 6].astype(np.int64) != 0
    has_classes = len(gt) and (gt[:, 7] >= 1).all()
    if has_classes:
        keep &= gt[:, 7] == PEDESTRIAN
    return gt[keep]


def _check_unique(cam: np.ndarray, rows: np.ndarray, what: str, names: Sequence[str]) -> None:
    key = np.stack([cam, rows[:, 0], rows[:, 1]], 1)
    u, counts = np.unique(key, axis=0, return_counts=True)
    if (counts > 1).any():
        c, f, i = u[np.argmax(counts > 1)].astype(int)
        raise ValueError(f"{what}: id {i} has {counts.max()} boxes in frame {f} of {names[c]} "
                         "(expected at most one box per id and frame)")


def _pair_iou(g: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Row-wise IoU of xywh boxes ``g[k]`` and ``r[k]``."""
    ix = np.clip(np.minimum(g[:, 0] + g[:, 2], r[:, 0] + r[:, 2]) - np.maximum(g[:, 0], r[:, 0]), 0, None)
    iy = np.clip(np.minimum(g[:, 1] + g[:, 3], r[:, 1] + r[:, 3]) - np.maximum(g[:, 1], r[:, 1]), 0, None)
    inter = ix * iy
    union = g[:, 2] * g[:, 3] + r[:, 2] * r[:, 3] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def identity_metrics(data: Mapping[str, tuple], iou_threshold: float = 0.5, result_ids: str = "global") -> dict:
    """Cross-camera IDF1/IDP/IDR of ``{camera: (gt_rows, result_rows)}`` (MOT rows ``frame,id,x,y,w,h,...``).

    Returns ``IDF1, IDP, IDR`` (fractions) and ``IDTP, IDFP, IDFN, GT_dets, Res_dets, GT_ids, Res_ids`` (counts).
    """
    if result_ids not in RESULT_IDS:
        raise ValueError(f"result_ids: expected one of {RESULT_IDS}, got {result_ids!r}")
    if not 0 < iou_threshold <= 1:
        raise ValueError(f"iou_threshold: expected 0 < value <= 1, got {iou_threshold}")
    if not data:
        raise ValueError("identity_metrics: no cameras to evaluate")
    names = list(data)
    gts, ress, gc, rc = [], [], [], []
    for c, name in enumerate(names):
        gt_rows, res_rows = data[name]
        g = _keep_gt(normalise_mot_rows(gt_rows, f"{name} gt"))
        r = normalise_mot_rows(res_rows, f"{name} results")
        gts.append(g)
        ress.append(r)
        gc.append(np.full(len(g), c, np.int64))
        rc.append(np.full(len(r), c, np.int64))
    g, r = np.concatenate(gts), np.concatenate(ress)
    gcam, rcam = np.concatenate(gc), np.concatenate(rc)
    _check_unique(gcam, g, "ground truth", names)
    _check_unique(rcam, r, "results", names)
    # identities: gt ids are global; result ids global or made distinct per camera
    g_uid, g_idx = np.unique(g[:, 1].astype(np.int64), return_inverse=True)
    r_key = r[:, 1].astype(np.int64) if result_ids == "global" else np.stack([rcam, r[:, 1].astype(np.int64)], 1)
    if len(r):
        r_uid, r_idx = np.unique(r_key, axis=0 if r_key.ndim == 2 else None, return_inverse=True)
        r_idx = r_idx.reshape(-1)
    else:
        r_uid, r_idx = np.empty(0), np.empty(0, np.int64)
    n_g, n_r = len(g_uid), len(r_uid)
    # all (gt row, result row) pairs in the same camera frame, without a per-frame Python loop
    fmax = int(max(g[:, 0].max() if len(g) else 0, r[:, 0].max() if len(r) else 0)) + 1
    gk, rk = gcam * fmax + g[:, 0].astype(np.int64), rcam * fmax + r[:, 0].astype(np.int64)
    r_order = np.argsort(rk, kind="stable")
    rk_sorted = rk[r_order]
    lo, hi = np.searchsorted(rk_sorted, gk, "left"), np.searchsorted(rk_sorted, gk, "right")
    per = hi - lo
    gi = np.repeat(np.arange(len(g)), per)
    offs = np.arange(len(gi)) - np.repeat(np.cumsum(per) - per, per)
    rj = r_order[lo[gi] + offs]
    ok = _pair_iou(g[gi, 2:6], r[rj, 2:6]) >= iou_threshold - np.finfo(float).eps
    matches = np.zeros((n_g, n_r), np.int64)
    np.add.at(matches, (g_idx[gi[ok]], r_idx[rj[ok]]), 1)
    idtp = 0
    if n_g and n_r:
        rows, cols = linear_sum_assignment(matches, maximize=True)
        idtp = int(matches[rows, cols].sum())
    n_gt, n_res = len(g), len(r)
    return {
        "IDF1": 2 * idtp / (n_gt + n_res) if n_gt + n_res else 0.0,
        "IDP": idtp / n_res if n_res else 0.0,
        "IDR": idtp / n_gt if n_gt else 0.0,
        "IDTP": idtp, "IDFP": n_res - idtp, "IDFN": n_gt - idtp,
        "GT_dets": n_gt, "Res_dets": n_res, "GT_ids": n_g, "Res_ids": n_r,
    }


def find_camera_results(results_root, cameras: Sequence[str]) -> dict[str, Path | None]:
    """Each camera's result file: ``RUN/<camera>.txt`` or ``RUN/<camera>/tracks.txt`` (None when absent)."""
    root = Path(results_root)
    if not root.is_dir():
        raise FileNotFoundError(f"results: folder not found: {root}")
    out = {}
    for cam in cameras:
        flat, nested = root / f"{cam}.txt", root / cam / "tracks.txt"
        if flat.is_file() and nested.is_file():
            raise ValueError(f"results: both {flat} and {nested} exist; keep one result file per camera")
        out[cam] = flat if flat.is_file() else nested if nested.is_file() else None
    return out


def read_multicam(gt_root, results_root, cameras: Sequence[str] | None = None,
                  missing: str = "error") -> dict[str, tuple]:
    """``{camera: (gt_rows, result_rows)}`` for every camera folder of ``gt_root`` (or the given ones)."""
    if missing not in ("error", "empty"):
        raise ValueError(f"missing: expected 'error' or 'empty', got {missing!r}")
    gt_root = Path(gt_root)
    cameras = list(cameras) if cameras else find_sequences(gt_root)
    if not cameras:
        raise FileNotFoundError(f"gt_root: no CAMERA/gt/gt.txt found under {gt_root}")
    files = find_camera_results(results_root, cameras)
    absent = [c for c, p in files.items() if p is None]
    if absent and missing == "error":
        raise FileNotFoundError(f"results missing for {', '.join(absent)} in {results_root} (expected CAMERA.txt or "
                                "CAMERA/tracks.txt; pass missing='empty' / --missing empty to score them as empty)")
    out = {}
    for cam in cameras:
        gt_file = gt_root / cam / "gt" / "gt.txt"
        if not gt_file.is_file():
            raise FileNotFoundError(f"ground truth not found: {gt_file}")
        out[cam] = (read_mot(gt_file), read_mot(files[cam]) if files[cam] is not None else np.empty((0, 10)))
    return out


def evaluate_multicam(gt_root, results_root, cameras: Sequence[str] | None = None, iou_threshold: float = 0.5, *,
                      gt_format: str = "auto", missing: str = "error", result_ids: str = "global") -> dict:
    """Per-camera MOT metrics (TrackEval, as :func:`evaluate_mot`) plus ``"COMBINED"`` and the cross-camera
    identity metrics under ``"MULTICAM"`` (see :func:`identity_metrics`)."""
    data = read_multicam(gt_root, results_root, cameras, missing)
    out = evaluate_mot_arrays(data, iou_threshold, gt_format=gt_format)
    out[MULTICAM] = identity_metrics(data, iou_threshold, result_ids)
    return out


def format_multicam(m: Mapping[str, float]) -> str:
    """One line of the cross-camera metrics."""
    return (f"Cross-camera (DukeMTMC multi-camera protocol, one identity space over all cameras): "
            f"IDF1 {100 * m['IDF1']:.2f}  IDP {100 * m['IDP']:.2f}  IDR {100 * m['IDR']:.2f}  "
            f"(IDTP {m['IDTP']}, IDFP {m['IDFP']}, IDFN {m['IDFN']}; {m['GT_ids']} gt / {m['Res_ids']} result ids)")

