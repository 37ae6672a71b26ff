"""Cross-camera identity quality: synthetic sites of 3 cameras whose people (real-person sprites cut from the MOT17
ground truth in ../shared/data) walk from camera to camera, tracked in one multi-source run with OSNet x0.25
(its bundled Market-1501 weights), scored by the DukeMTMC multi-camera protocol (one identity space over all
cameras: cross-camera IDF1/IDP/IDR) beside the mean per-camera IDF1.

    python benchmarks/multicam_quality.py                       # seeds 0-3, 3 cameras, 20 people, 600 frames
    python benchmarks/multicam_quality.py --seeds 0 --frames 300

Rows: ``--global-ids`` (appearance only), ``--global-ids --topology`` (the site's topology.yaml narrows the
candidates by camera links and transit times), and the same run without global IDs (each camera's IDs are its
own: scored with per-camera result IDs, what separate trackers give).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("TRACKREID_SHARED_DATA", ROOT.parent / "shared" / "data"))

VARIANTS = {"global ids + topology": dict(global_ids=True, topology=True),
            "global ids": dict(global_ids=True, topology=False),
            "no global ids": dict(global_ids=False, topology=False)}


def run_site(site_dir: Path, out: Path, cameras: list[str], variant: dict, args) -> dict:
    from trackreid.evaluation.multicam import MULTICAM, evaluate_multicam
    from trackreid.streams import StreamsRun

    summary = StreamsRun([site_dir / c for c in cameras], detector=[str(site_dir / c / "det" / "det.txt") for c in cameras],
               reid=args.reid, reid_weights=args.reid_weights, device=args.device, output=out, quiet=True,
               save_video=False, names=cameras, global_ids=variant["global_ids"],
               topology=site_dir / "topology.yaml" if variant["topology"] else None,
               tracker_config=args.tracker_config).run()
    m = evaluate_multicam(site_dir, out, cameras, result_ids="global" if variant["global_ids"] else "per_camera")
    dets = sum(src.get("detections") or 0 for src in summary["sources"])
    crops = sum(src.get("crops_embedded") or 0 for src in summary["sources"])
    return {"cross": m[MULTICAM], "per_camera": statistics.fmean(m[c]["IDF1"] for c in cameras),
            "crops": crops / max(dets, 1)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    p.add_argument("--cameras", type=int, default=3)
    p.add_argument("--people", type=int, default=20)
    p.add_argument("--frames", type=int, default=600)
    p.add_argument("--width", type=int, default=960)
    p.add_argument("--height", type=int, default=540)
    p.add_argument("--reid", default="osnet_x0_25")
    p.add_argument("--reid-weights", default=None, help="default: the model's bundled trained weights")
    p.add_argument("--tracker-config", default=None, help="a tracker YAML for every camera (e.g. embed_policy: always)")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    if not (DATA / "mot17-mini").is_dir():
        print(f"multicam_quality: {DATA / 'mot17-mini'} not found (real-person sprites need the shared data)",
              file=sys.stderr)
        return 1
    from trackreid.synthetic import MulticamConfig, build_sprite_set, generate_multicam, write_multicam

    print(f"{args.cameras} cameras, {args.people} people, {args.frames} frames, {args.width}x{args.height}, "
          f"real-person sprites, reid {args.reid}, seeds {args.seeds}")
    rows: dict[str, list] = {k: [] for k in VARIANTS}
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        sprites = build_sprite_set(DATA / "mot17-mini", d / "sprites")
        for seed in args.seeds:
            t0 = time.perf_counter()
            site = generate_multicam(MulticamConfig(num_cameras=args.cameras, num_people=args.people,
                                                    num_frames=args.frames, width=args.width, height=args.height,
                                                    seed=seed, sprites=sprites))
            site_dir = write_multicam(site, d / f"site{seed}")
            for name, variant in VARIANTS.items():
                r = run_site(site_dir, d / f"run{seed}-{name.replace(' ', '_')}", list(site.names), variant, args)
                rows[name].append(r)
                c = r["cross"]
                print(f"seed {seed} {name:<22} cross-camera IDF1 {c['IDF1']:.3f} (IDP {c['IDP']:.3f}, "
                      f"IDR {c['IDR']:.3f})  per-camera IDF1 {r['per_camera']:.3f}  crops {100 * r['crops']:.0f}% of "
                      "detections", flush=True)
            print(f"  (seed {seed}: {time.perf_counter() - t0:.0f} s)", flush=True)
    print(f"\n{'mean over seeds':<24}{'cross IDF1':>11}{'IDP':>7}{'IDR':>7}{'per-camera IDF1':>17}{'crops':>7}")
    for name, rs in rows.items():
        m = {k: statistics.fmean(r["cross"][k] for r in rs) for k in ("IDF1", "IDP", "IDR")}
        print(f"{name:<24}{m['IDF1']:>11.3f}{m['IDP']:>7.3f}{m['IDR']:>7.3f}"
              f"{statistics.fmean(r['per_camera'] for r in rs):>17.3f}{100 * statistics.fmean(r['crops'] for r in rs):>6.0f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
