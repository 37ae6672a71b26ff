"""Distance thresholds on an encoder's own scale, measured on real person crops (``trackreid.reid.thresholds``).

For the reference encoder (OSNet x0.25 Market-1501, with which the tracker's thresholds were tuned) and each encoder
given, embeds MOT17 ground-truth crops (``--crops``: MOT sequences with gt; default ``../shared/data/mot17-mini``:
each sequence's first and last annotated frame), and prints the same-identity and different-identity distances
(different people of the same sequence), the false-match rate of each tuned threshold on the reference, and each
encoder's thresholds at the same false-match rates: the values to record in its manifest entry (``thresholds``)
or to pass with ``--tracker-config`` (``appearance_thresh``, ``reid_thresh``, ``memory_thresh``) and
``LinkConfig(thresh=...)``.

    python benchmarks/encoder_thresholds.py                                  # the bundled MSMT17 encoder
    python benchmarks/encoder_thresholds.py --weights runs/train/best.pt     # your own
"""
from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

from trackreid.reid.crop_sets import load_crop_set
from trackreid.reid.encoder import build_encoder
from trackreid.reid.thresholds import REFERENCE, TUNED, false_match_rates, pair_distances, scaled_thresholds

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def distances(weights: str, crops) -> tuple[np.ndarray, np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        enc = build_encoder(None if Path(weights).suffix == ".onnx" else "osnet_x0_25", weights=weights,
                            device="cpu", runtime="torch")
    feats = enc.encode_crops(crops.crops)
    return pair_distances(feats, crops.pids, crops.pids // 100000)  # crop_sets keeps sequences apart this way


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", nargs="+", default=["osnet_x0_25_msmt17"], help="encoders to measure")
    p.add_argument("--crops", default=str(SHARED / "mot17-mini"), help="MOT sequences with gt/gt.txt")
    args = p.parse_args(argv)
    crops = load_crop_set(args.crops)
    ref_same, ref_diff = distances(REFERENCE, crops)
    rates = false_match_rates(ref_diff, TUNED)
    print(f"{len(crops.crops)} crops from {crops.source}: {len(ref_same)} same-identity and {len(ref_diff)} "
          "different-identity pairs")
    print(f"{'encoder':<28} | same median | diff median | " + " | ".join(f"{k:>17}" for k in TUNED.to_dict()))
    print(f"{'false-match rate (ref.)':<28} | {'':>11} | {'':>11} | " +
          " | ".join(f"{100 * r:16.2f}%" for r in rates.values()))
    print(f"{REFERENCE:<28} | {np.median(ref_same):11.3f} | {np.median(ref_diff):11.3f} | " +
          " | ".join(f"{v:17.3f}" for v in TUNED.to_dict().values()))
    for w in args.weights:
        same, diff = distances(w, crops)
        scaled = scaled_thresholds(ref_diff, diff, ref_same, same)
        print(f"{Path(w).stem:<28} | {np.median(same):11.3f} | {np.median(diff):11.3f} | " +
              " | ".join(f"{v:17.3f}" for v in scaled.to_dict().values()))
        print(f"  manifest \"thresholds\": {json.dumps(scaled.to_dict())}")


if __name__ == "__main__":
    main()
