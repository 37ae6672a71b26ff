"""``trackreid-synth``: write synthetic MOT sequences, identity sets, sprite sets and multi-camera scenes."""
from __future__ import annotations

import argparse
from pathlib import Path


DESCRIPTION = """Write synthetic data with exact ground truth:
  trackreid-synth mot OUT                      MOT17-layout sequences (rendered frames, gt, det, seqinfo.ini)
  trackreid-synth multicam OUT                 one sequence per camera of a site, global IDs, topology.yaml
  trackreid-synth market OUT                   a Market-1501-layout identity set
  trackreid-synth sprites OUT --from MOT_DIR   a sprite set of real person crops cut from MOT ground truth"""


def _frame_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--width", type=int, default=1280, help="image width in pixels (default 1280)")
    p.add_argument("--height", type=int, default=720, help="image height in pixels (default 720)")
    p.add_argument("--fps", type=float, default=30.0, help="frame rate (default 30)")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="trackreid-synth", description=DESCRIPTION,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("mot", help="rendered MOT17-layout sequences (img1/ or mp4, gt, det, seqinfo.ini)")
    m.add_argument("out", type=Path, help="folder that receives one SYN-<seed> sequence per seed")
    m.add_argument("--seeds", type=int, nargs="+", default=[0], help="one sequence SYN-<seed> per seed (default 0)")
    m.add_argument("--people", type=int, default=24, help="identities in each sequence (default 24)")
    m.add_argument("--frames", type=int, default=300, help="frames per sequence (default 300)")
    _frame_args(m)
    m.add_argument("--pan", type=float, default=0.0, help="camera pan in pixels/frame (default 0)")
    m.add_argument("--video", action="store_true", help="write SEQ/SEQ.mp4 instead of SEQ/img1/")
    m.add_argument("--reentry", action="store_true",
                   help="everyone leaves the view and comes back after 5-20 s (twice or more in 600 frames)")
    m.add_argument("--sprites", type=Path, default=None, metavar="DIR",
                   help="draw people from the real crops of a Market-1501-layout folder (see the sprites command)")
    k = sub.add_parser("market", help="Market-1501-layout identity set")
    k.add_argument("out", type=Path, help="folder of the set (bounding_box_train/, query/, bounding_box_test/)")
    k.add_argument("--train-ids", type=int, default=100, help="training identities (default 100)")
    k.add_argument("--test-ids", type=int, default=100, help="test identities, query and gallery (default 100)")
    k.add_argument("--cameras", type=int, default=4, help="cameras each identity is seen by (default 4)")
    k.add_argument("--seed", type=int, default=0, help="seed of everything (default 0)")
    c = sub.add_parser("multicam", help="one MOT sequence per camera of a site (global ids) + topology.yaml")
    c.add_argument("out", type=Path, help="folder that receives CAM1..CAMk and topology.yaml")
    c.add_argument("--cameras", type=int, default=3, help="cameras of the site (default 3)")
    c.add_argument("--people", type=int, default=20, help="people walking through the site (default 20)")
    c.add_argument("--frames", type=int, default=600, help="frames per camera (default 600)")
    _frame_args(c)
    c.add_argument("--seed", type=int, default=0, help="seed of everything (default 0)")
    c.add_argument("--video", action="store_true", help="write CAMk/CAMk.mp4 instead of CAMk/img1/")
    c.add_argument("--sprites", type=Path, default=None, metavar="DIR",
                   help="draw people from the real crops of a Market-1501-layout folder")
    s = sub.add_parser("sprites", help="Market-1501-layout sprite set cut from MOT ground-truth boxes")
    s.add_argument("out", type=Path, help="folder of the sprite set (Market-1501 layout)")
    s.add_argument("--from", dest="src", type=Path, required=True, metavar="MOT_DIR",
                   help="folder of MOT sequences (SEQ/img1, SEQ/gt/gt.txt)")
    s.add_argument("--min-visibility", type=float, default=0.5,
                   help="ground-truth boxes less visible than this are skipped (default 0.5)")
    s.add_argument("--min-height", type=float, default=64.0,
                   help="ground-truth boxes shorter than this, in pixels, are skipped (default 64)")
    return ap


def main(argv=None) -> int:
    """``trackreid-synth mot OUT`` writes MOT17-layout sequences; ``multicam OUT`` one per camera of a site;
    ``market OUT`` a Market-1501 set; ``sprites OUT --from MOT_DIR`` a sprite set of real crops."""
    from trackreid.cli import run_command

    a = build_parser().parse_args(argv)

    def body():
        from trackreid.synthetic.market import write_market_dataset
        from trackreid.synthetic.mot import write_mot_sequence
        from trackreid.synthetic.scene import SceneConfig, generate_scene
        from trackreid.synthetic.sprites import build_sprite_set, load_sprites

        if a.cmd == "mot":
            sprites = load_sprites(a.sprites) if a.sprites is not None else None
            for seed in a.seeds:
                cfg = SceneConfig(num_people=a.people, num_frames=a.frames, width=a.width, height=a.height, fps=a.fps,
                                  seed=seed, camera_pan=a.pan, reentry=a.reentry, sprites=sprites)
                print(write_mot_sequence(generate_scene(cfg), a.out, name=f"SYN-{seed:02d}", video=a.video))
        elif a.cmd == "multicam":
            from trackreid.synthetic.multicam import MulticamConfig, generate_multicam, write_multicam

            cfg = MulticamConfig(num_cameras=a.cameras, num_people=a.people, num_frames=a.frames, width=a.width,
                                 height=a.height, fps=a.fps, seed=a.seed,
                                 sprites=load_sprites(a.sprites) if a.sprites is not None else None)
            print(write_multicam(generate_multicam(cfg), a.out, video=a.video))
        elif a.cmd == "sprites":
            print(build_sprite_set(a.src, a.out, min_visibility=a.min_visibility, min_height=a.min_height))
        else:
            print(write_market_dataset(a.out, num_train_ids=a.train_ids, num_test_ids=a.test_ids,
                                       num_cameras=a.cameras, seed=a.seed))

    return run_command("trackreid-synth", body)
