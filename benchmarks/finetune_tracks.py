"""From your own video to a fine-tuned encoder: crops saved while tracking, then ``--data tracks`` fine-tuning.

    python benchmarks/finetune_tracks.py [--work /tmp/finetune_tracks] [--epochs 4] [--crops 8]

1. ``street-302f.mp4`` is tracked with the Python API (INT8 OpenVINO YOLOv8n, OSNet x0.25 Market-1501 embeddings)
   and a crop bank keeps the best ``--crops`` crops of each identity (``RUN/crops``, camera 0);
2. a sprite scene (people cut from the MOT17-mini ground truth, walking in a rendered scene) is written as a MOT
   sequence and tracked the same way from its detections file into a second run folder;
3. ``tracks_dataset("RUN1,RUN2")`` splits identities into train and held-out query/gallery;
4. the Market-1501 checkpoint is evaluated on the held-out identities, fine-tuned a few epochs on the training
   identities from that checkpoint (``init_weights``) and evaluated again. CPU, small: the figures show the loop
   works end to end, not what a long fine-tune on a large set gives.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def track_into_crops(source, run_dir: Path, detector, weights: str, crops: int, max_frames=None) -> dict:
    from trackreid import track_video
    from trackreid.analytics import RunAnalytics

    an = RunAnalytics(run_dir, fps=30, save_crops=crops)
    frames = 0
    for r in track_video(source, detector=detector, reid="osnet_x0_25", reid_weights=weights, device="cpu",
                         quiet=True, max_frames=max_frames):
        an.update(r.image, r.tracks, r.frame_id)
        frames += 1
    stats = an.close()["crops"]
    stats["frames"] = frames
    return stats


def sprite_sequence(work: Path, people: int, frames: int) -> Path:
    from trackreid.synthetic import SceneConfig, build_sprite_set, generate_scene, write_mot_sequence

    sprites = build_sprite_set(DATA / "mot17-mini", work / "sprites")
    scene = generate_scene(SceneConfig(num_people=people, num_frames=frames, seed=7, sprites=sprites))
    return write_mot_sequence(scene, work / "mot", "SPRITE-01")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", default="/tmp/finetune_tracks", help="scratch folder (recreated)")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--crops", type=int, default=8, help="crops kept per identity")
    ap.add_argument("--people", type=int, default=30, help="people in the sprite scene")
    ap.add_argument("--frames", type=int, default=300, help="frames of the sprite scene")
    ap.add_argument("--street-frames", type=int, default=None, help="frames of the street video (default all)")
    args = ap.parse_args(argv)
    video = DATA / "videos" / "street-302f.mp4"
    det = DATA / "detectors" / "yolov8n_int8_openvino_model"
    weights = str(DATA / "reid" / "osnet_x0_25_market1501.pt")
    if not video.is_file() or not det.is_dir():
        sys.exit(f"finetune_tracks: needs {video} and {det} (the shared data folder)")
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    t0 = time.perf_counter()
    street = track_into_crops(str(video), work / "street", str(det), weights, args.crops, args.street_frames)
    print(f"street-302f.mp4: {street['frames']} frames tracked, {street['identities']} identities, "
          f"{street['files']} crops ({time.perf_counter() - t0:.0f}s)", flush=True)
    t0 = time.perf_counter()
    seq = sprite_sequence(work, args.people, args.frames)
    sprite = track_into_crops(str(seq), work / "sprite", str(seq / "det" / "det.txt"), weights, args.crops)
    print(f"sprite scene: {sprite['frames']} frames tracked, {sprite['identities']} identities, "
          f"{sprite['files']} crops ({time.perf_counter() - t0:.0f}s)", flush=True)

    from trackreid.train.config import build_config
    from trackreid.train.datasets import build_dataset
    from trackreid.train.engine import Trainer, evaluate_weights

    root = f"{work / 'street'},{work / 'sprite'}"
    dataset = build_dataset("tracks", root)
    print(dataset.summary(), flush=True)
    cfg = build_config("osnet", "osnet_x0_25", dict(
        data="tracks", root=root, output=str(work / "train"), init_weights=weights, epochs=args.epochs,
        batch_size=32, sampler="pk", num_instances=4, triplet_weight=1.0, lr=0.0003, scheduler="constant",
        fixbase_epochs=1, eval_every=0, workers=2, device="cpu", flip=0.5, pad=10, erasing=0.5))
    before = evaluate_weights(weights, cfg, dataset, log=lambda s: None)
    t0 = time.perf_counter()
    result = Trainer(cfg, dataset=dataset, progress=False, log=lambda s: None).fit()
    after = result.metrics
    print(f"fine-tuned {args.epochs} epochs ({result.steps} steps, {time.perf_counter() - t0:.0f}s); "
          f"weights: {result.best_checkpoint}")
    print("\n| held-out identities | mAP | rank-1 | rank-5 |\n|---|---:|---:|---:|")
    for label, m in (("osnet_x0_25_market1501 (before)", before),
                     (f"fine-tuned {args.epochs} epochs on the training identities", after)):
        print(f"| {label} | {m['mAP'] * 100:.1f} | {m['rank1'] * 100:.1f} | {m['rank5'] * 100:.1f} |")


if __name__ == "__main__":
    main()
