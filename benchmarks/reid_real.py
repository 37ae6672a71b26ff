"""ReID on real people: rank-1 / mAP of every encoder available offline on the real sets in ../shared/data, in
PyTorch fp32 and in the runtime a CPU run uses by default, beside MOT17-09-half tracking with each.

Sets (the Market-1501 cross-camera protocol, ``trackreid.evaluation.reid``, Euclidean on L2-normalised features):

* ``cuhk03-val``: 100 CUHK03 identities, two campus cameras (``--data cuhk03_flat``: the first camera-0 image of
  each identity is the query, its camera-1 images the gallery), as ``trackreid-train --eval-only`` evaluates it;
* ``MOT17 GT crops``: ground-truth pedestrians of the mot17-mini sequences and of MOT17-09-half
  (``trackreid.reid.crop_sets``: each sequence's first annotated frame is the query, its last the gallery).

Encoders: the bundled default (OSNet x0.25 MSMT17), the bundled Market-1501 one, and an untrained OSNet x0.25.
Runtimes: ``torch`` (fp32) and ``default`` (what ``runtime="auto"`` picks on the CPU: the bundled INT8 OpenVINO
export for the default weights, ONNX Runtime fp32 for the others). Tracking: ``trackreid`` on MOT17-09-half's
public detections with that encoder, its stored thresholds and that runtime, scored by TrackEval.

    python benchmarks/reid_real.py                  # everything (about 5 min on 2 CPU cores)
    python benchmarks/reid_real.py --no-tracking    # the ReID columns only
"""
from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import cv2
import numpy as np

from trackreid.evaluation.reid import evaluate_reid
from trackreid.reid.crop_sets import load_crop_set
from trackreid.reid.encoder import build_encoder
from trackreid.train.datasets import build_dataset

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ENCODERS = {  # label -> weights (None: the default)
    "OSNet x0.25 MSMT17 (default)": None,
    "OSNet x0.25 Market-1501": "osnet_x0_25_market1501",
    "OSNet x0.25 untrained": "none",
}


def _cuhk03(root: Path):
    ds = build_dataset("cuhk03_flat", root)
    items = ds.query + ds.gallery
    crops = [cv2.imread(p) for p, _, _ in items]
    pids = np.array([pid for _, pid, _ in items])
    cams = np.array([c for _, _, c in items])
    query = np.arange(len(items)) < len(ds.query)
    return crops, pids, cams, query


def _mot_crops(roots: list[Path]):
    crops, pids, cams, query = [], [], [], []
    for k, root in enumerate(roots):
        cs = load_crop_set(root)
        crops += cs.crops
        pids.append(cs.pids + 10_000_000 * k)  # sets apart
        cams.append(cs.camids)
        query.append(cs.query)
    return crops, np.concatenate(pids), np.concatenate(cams), np.concatenate(query)


def scores(encoder, data) -> tuple[float, float]:
    crops, pids, cams, query = data
    feats = np.concatenate([encoder.encode_crops(crops[i:i + 64]) for i in range(0, len(crops), 64)])
    res = evaluate_reid(feats[query], feats[~query], pids[query], pids[~query], cams[query], cams[~query])
    return 100 * res["rank1"], 100 * res["mAP"]


def tracking(weights, runtime: str) -> dict:
    from trackreid.evaluation.mot import evaluate_mot
    from trackreid.pipeline import TrackingRun

    seq = SHARED / "mot17-09-half" / "MOT17-09-FRCNN"
    with tempfile.TemporaryDirectory() as out:
        TrackingRun(seq, detector=str(seq / "det" / "det.txt"), reid="osnet_x0_25", reid_weights=weights,
                    reid_runtime=runtime, device="cpu", output=out, save_video=False, quiet=True,
                    mot_name="MOT17-09-FRCNN.txt").run()
        res = evaluate_mot(seq.parent, out)["MOT17-09-FRCNN"]
    return {"HOTA": 100 * res["HOTA"], "IDF1": 100 * res["IDF1"], "IDSW": int(res["IDSW"])}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--no-tracking", action="store_true", help="skip the MOT17-09-half tracking columns")
    args = p.parse_args(argv)
    sets = {"cuhk03-val": _cuhk03(SHARED / "cuhk03-val"),
            "MOT17 GT crops": _mot_crops([SHARED / "mot17-mini", SHARED / "mot17-09-half"])}
    for name, (crops, pids, _, query) in sets.items():
        print(f"{name}: {len(crops)} crops, {len(set(pids))} identities, {int(query.sum())} queries")
    cols = " | ".join(f"{n + ' R1 / mAP':>24}" for n in sets)
    track = "" if args.no_tracking else f" | {'MOT17-09-half HOTA / IDF1 / IDSW':>32}"
    print(f"\n{'encoder':<30} | {'runtime':<22} | {cols}{track} | s")
    for label, weights in ENCODERS.items():
        for runtime in (("torch",) if weights == "none" else ("torch", "auto")):
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the untrained network warns; that row is there on purpose
                enc = build_encoder("osnet_x0_25", weights=weights, device="cpu", runtime=runtime)
            what = enc.runtime + (" INT8" if "int8" in str(enc.weights_report) else " fp32")
            row = " | ".join(f"{r1:12.1f} / {m:5.1f}    " for r1, m in (scores(enc, d) for d in sets.values()))
            if not args.no_tracking:
                t = tracking(weights, runtime)
                row += f" | {t['HOTA']:13.2f} / {t['IDF1']:5.2f} / {t['IDSW']:4d}"
            print(f"{label:<30} | {what:<22} | {row} | {time.perf_counter() - t0:.0f}", flush=True)


if __name__ == "__main__":
    main()
