"""Sprite sets: built from MOT ground truth or the synthetic Market generator, drawn into scenes with masks."""
from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

from trackreid.synthetic import (SceneConfig, build_sprite_set, generate_scene, load_sprites, main,
                                 write_market_dataset, write_mot_sequence)
from trackreid.synthetic.sprites import sprite_alpha

NAME = re.compile(r"^(\d{4})_c(\d)s(\d)_(\d{6})_00\.jpg$")


@pytest.fixture(scope="module")
def market_sprites(tmp_path_factory):
    root = tmp_path_factory.mktemp("sprites") / "market"
    return write_market_dataset(root, num_train_ids=8, num_test_ids=1, num_cameras=2, seed=1, num_distractors=1,
                                num_junk=1)


def test_load_sprites_groups_identities(market_sprites):
    s = load_sprites(market_sprites)
    assert len(s) == 8 and s.pids == list(range(1, 9))
    for cs, al in zip(s.crops, s.alphas):
        assert len(cs) >= 2 and all(c.shape[:2] == a.shape and a.dtype == np.float32 for c, a in zip(cs, al))
    assert np.allclose(s.aspect(), 0.5)
    # the walking phase walks through the crops
    picked = {id(s.pick(0, ph)[0]) for ph in np.linspace(0, 2 * np.pi, 40, endpoint=False)}
    assert len(picked) == len(s.crops[0])
    with pytest.raises(ValueError, match="Market-1501"):
        load_sprites(market_sprites.parent)                        # a folder without person crops


def test_alpha_keeps_person_and_drops_background():
    crop = np.full((128, 64, 3), (60, 160, 60), np.uint8)           # green background
    cv2.rectangle(crop, (20, 10), (44, 120), (40, 40, 200), -1)      # a red "person"
    a = sprite_alpha(crop)
    assert a[64, 32] > 0.95 and a[20, 32] > 0.9                      # body opaque
    assert a[2, 2] < 0.05 and a[125, 2] < 0.05 and a[64, 4] < 0.2    # corners and border background transparent


def test_scene_with_sprites_shows_people_and_nearer_in_front(market_sprites):
    c = SceneConfig(num_people=6, num_frames=120, width=480, height=270, seed=2, sprites=market_sprites,
                    present_at_start=1.0)
    sc = generate_scene(c)
    plain = generate_scene(SceneConfig(num_people=6, num_frames=120, width=480, height=270, seed=2,
                                       present_at_start=1.0))
    assert sc.sprite_index is not None and len(set(sc.sprite_index.tolist())) == 6
    bg = sc._background()[:, :480].astype(int)
    found = 0
    for t in (1, 30, 60):
        img = sc.render(t)
        assert not np.array_equal(img, plain.render(t))
        for r in sc.gt_at(t):
            x, y, w, h = (int(v) for v in r[2:6])
            if r[8] < 0.99 or w < 6 or h < 12 or r[2] < 1 or r[2] + r[4] > 478 or r[3] < 1 or r[3] + r[5] > 268:
                continue
            diff = np.abs(img[y:y + h, x:x + w].astype(int) - bg[y:y + h, x:x + w]).sum(-1)
            core = diff[h // 4: 3 * h // 4, w // 3: 2 * w // 3]
            assert (core > 30).mean() > 0.5                          # the person is there
            others = sc.gt_at(t)
            others = others[others[:, 1] != r[1]]
            alone = not ((others[:, 2] <= x + 2) & (others[:, 2] + others[:, 4] >= x)
                         & (others[:, 3] <= y + 2) & (others[:, 3] + others[:, 5] >= y)).any()
            if alone:                                                # the top-left corner shows the ground
                assert diff[:2, :2].mean() < 20 < core.mean()
            found += 1
    assert found >= 3
    # occlusion order: where a nearer person's body core lies inside a farther person's box, the nearer one's
    # pixels win (the result equals the nearer sprite drawn alone there)
    from trackreid.synthetic.sprites import composite_sprite
    checked = 0
    for t in range(1, 121):
        ids, fx, fy, hh, phase, facing, depth = sc._states[t - 1]
        img = None
        for a in range(len(ids)):
            for b in range(len(ids)):
                if depth[a] >= depth[b]:
                    continue
                wa, wb = sc._wf[ids[a] - 1] * hh[a], sc._wf[ids[b] - 1] * hh[b]
                x0, x1 = int(fx[a] - wa / 8), int(fx[a] + wa / 8)
                y0, y1 = int(fy[a] - hh[a] * 0.6), int(fy[a] - hh[a] * 0.4)
                if x0 < 0 or x1 > 480 or y0 < 0 or y1 > 270 or x1 - x0 < 2 or y1 - y0 < 2 or not (
                        fx[b] - wb / 2 < x0 and x1 < fx[b] + wb / 2 and fy[b] - hh[b] < y0 and y1 < fy[b]):
                    continue
                wc = sc._wf[ids - 1] * hh
                if ((depth < depth[a]) & (fx - wc / 2 < x1) & (fx + wc / 2 > x0) & (fy - hh < y1) & (fy > y0)).any():
                    continue                                         # someone nearer still covers this spot
                img = sc.render(t) if img is None else img
                alone = sc._background()[:, :480].copy()
                crop, alpha = sc.sprites.pick(int(sc.sprite_index[ids[a] - 1]), float(phase[a]))
                composite_sprite(alone, crop, alpha, (fx[a] - wa / 2, fy[a] - hh[a], fx[a] + wa / 2, fy[a]),
                                 flip=facing[a] < 0)
                opaque = np.zeros_like(alone)
                composite_sprite(opaque, np.full_like(crop, 255), alpha,
                                 (fx[a] - wa / 2, fy[a] - hh[a], fx[a] + wa / 2, fy[a]), flip=facing[a] < 0)
                m = opaque[y0:y1, x0:x1, 0] == 255
                if m.sum() < 2:
                    continue
                assert np.abs(img[y0:y1, x0:x1].astype(int) - alone[y0:y1, x0:x1])[m].max() <= 1
                checked += 1
    assert checked >= 1


def test_too_few_identities_is_a_clear_error(market_sprites):
    with pytest.raises(ValueError, match="at least num_people"):
        generate_scene(SceneConfig(num_people=20, num_frames=10, width=160, height=120, sprites=market_sprites))
    with pytest.raises(ValueError, match="not a folder"):
        generate_scene(SceneConfig(num_people=2, num_frames=10, width=160, height=120, sprites="/nonexistent/x"))


def test_build_sprite_set_from_mot_layout(tmp_path):
    # a tiny MOT sequence rendered by the generator stands in for MOT17 here
    sc = generate_scene(SceneConfig(num_people=5, num_frames=6, width=640, height=360, seed=4, present_at_start=1.0))
    write_mot_sequence(sc, tmp_path / "mot", name="SEQ-A")
    write_mot_sequence(sc, tmp_path / "mot", name="SEQ-B")
    out = build_sprite_set(tmp_path / "mot", tmp_path / "sprites", min_visibility=0.5, min_height=64)
    names = sorted(p.name for p in (out / "bounding_box_train").iterdir())
    assert names and all(NAME.match(n) for n in names)
    gt = sc.gt
    keep = gt[(gt[:, 8] >= 0.5) & (gt[:, 5] >= 64) & (gt[:, 2] >= 0) & (gt[:, 2] + gt[:, 4] <= 640)]
    pids = {int(NAME.match(n).group(1)) for n in names}
    cams = {int(NAME.match(n).group(2)) for n in names}
    assert cams == {1, 2} and len(pids) >= 2 * len(np.unique(keep[:, 1])) - 2
    rows = (out / "sources.csv").read_text().splitlines()
    assert rows[0] == "pid,sequence,gt_id" and len(rows) - 1 == len(pids)
    # the crop is the ground-truth box of that frame
    pid, seq, gid = rows[1].split(",")
    first = sorted(n for n in names if n.startswith(f"{int(pid):04d}_"))[0]
    frame = int(NAME.match(first).group(4))
    r = gt[(gt[:, 0] == frame) & (gt[:, 1] == int(gid))][0]
    img = cv2.imread(str(out / "bounding_box_train" / first))
    assert abs(img.shape[0] - r[5]) <= 2 and abs(img.shape[1] - r[4]) <= 2
    assert len(load_sprites(out)) == len(pids)
    with pytest.raises(ValueError, match="gt.txt"):
        build_sprite_set(tmp_path / "sprites", tmp_path / "x")


def test_build_sprite_set_from_mot17_mini(shared_data, tmp_path):
    out = build_sprite_set(shared_data / "mot17-mini", tmp_path / "s")
    s = load_sprites(out)
    assert len(s) >= 40
    assert all(min(c.shape[0] for c in cs) >= 60 for cs in s.crops)


def test_cli_sprites_and_reentry_with_sprites(market_sprites, tmp_path, capsys):
    assert main(["mot", str(tmp_path / "mot"), "--seeds", "1", "--people", "4", "--frames", "60", "--width", "320",
                 "--height", "180", "--reentry", "--sprites", str(market_sprites)]) == 0
    seq = tmp_path / "mot" / "SYN-01"
    assert (seq / "img1" / "000060.jpg").is_file() and (seq / "gt" / "gt.txt").stat().st_size > 0
    assert main(["sprites", str(tmp_path / "s"), "--from", str(tmp_path / "nothing")]) == 1
    assert "no SEQ/gt/gt.txt" in capsys.readouterr().err
    assert main(["sprites", str(tmp_path / "s2"), "--from", str(tmp_path / "mot"), "--min-height", "20"]) == 0
    assert list((tmp_path / "s2" / "bounding_box_train").glob("*.jpg"))
