import re

import numpy as np
import pytest

from trackreid.analytics import CropBank, CropConfig
from trackreid.analytics.crops import crop_name, sharpness
from trackreid.synthetic import SceneConfig, generate_scene

NAME = re.compile(r"^(\d{4,})_c(\d+)s1_(\d{6})_00\.jpg$")


def gt_tracks(scene, t, id_offset=0):
    g = scene.gt_at(t)
    out = np.zeros((len(g), 8))
    out[:, :4] = np.c_[g[:, 2], g[:, 3], g[:, 2] + g[:, 4], g[:, 3] + g[:, 5]]
    out[:, 4] = g[:, 1] + id_offset
    out[:, 5] = 1.0
    return out


def test_sharpness_prefers_the_sharp_crop():
    rng = np.random.default_rng(0)
    img = (rng.random((128, 64, 3)) * 255).astype(np.uint8)
    import cv2
    assert sharpness(img) > 3 * sharpness(cv2.GaussianBlur(img, (9, 9), 3))


def test_bounded_on_a_long_stream(tmp_path):
    """An 'endless' stream: the scene replayed with new identities each pass; memory and disk stay capped."""
    scene = generate_scene(SceneConfig(num_people=10, num_frames=60, width=320, height=240, seed=3))
    cfg = CropConfig(per_identity=3, min_height=20, min_gap=2, flush_after=10, max_active=6, max_identities=15)
    bank = CropBank(tmp_path, cfg, camera=1)
    frame_no = 0
    for cycle in range(8):
        for t in range(1, 61):
            frame_no += 1
            bank.add(scene.render(t), gt_tracks(scene, t, id_offset=1000 * cycle), frame_no)
            assert len(bank._held) <= cfg.max_active and len(bank._table) <= cfg.max_active
            assert all(len(v) <= cfg.per_identity for v in bank._held.values())
    stats = bank.close()
    files = sorted(p.name for p in (tmp_path / "crops").iterdir())
    assert 0 < stats["identities"] <= cfg.max_identities and stats["files"] == len(files)
    assert bank.files_deleted > 0  # older identities were dropped from disk to keep the bound
    per_id: dict[str, int] = {}
    for name in files:
        m = NAME.match(name)
        assert m, name
        assert m.group(2) == "2"  # camera = source index 1 -> c2 in Market naming
        per_id[m.group(1)] = per_id.get(m.group(1), 0) + 1
    assert max(per_id.values()) <= cfg.per_identity and len(per_id) <= cfg.max_identities
    assert min(int(k) for k in per_id) >= 5000  # the first passes were deleted, the most recent kept


def test_returning_identity_keeps_n_files(tmp_path):
    scene = generate_scene(SceneConfig(num_people=4, num_frames=80, width=320, height=240, seed=5))
    cfg = CropConfig(per_identity=2, min_height=20, min_gap=1, flush_after=3)
    bank = CropBank(tmp_path, cfg)
    for t in range(1, 81):
        if 30 <= t < 40:  # everyone gone long enough to be flushed, then back with the same ids
            bank.add(scene.render(t), np.zeros((0, 8)), t)
            continue
        bank.add(scene.render(t), gt_tracks(scene, t), t)
    bank.close()
    names = [p.name for p in (tmp_path / "crops").iterdir()]
    ids = [n.split("_")[0] for n in names]
    assert ids and max(ids.count(i) for i in set(ids)) <= 2


def test_occluded_and_small_boxes_are_not_kept(tmp_path):
    img = (np.random.default_rng(1).random((200, 200, 3)) * 255).astype(np.uint8)
    tracks = np.array([[10, 10, 60, 150, 1, 1, 0, 0],   # behind: covered by 2 (whose bottom is lower)
                       [12, 12, 62, 160, 2, 1, 0, 1],
                       [150, 150, 160, 170, 3, 1, 0, 2]], float)  # too small
    bank = CropBank(tmp_path, CropConfig(per_identity=2, min_height=64))
    bank.add(img, tracks, 1)
    bank.close()
    assert sorted(p.name for p in (tmp_path / "crops").iterdir()) == [crop_name(2, 0, 1)]


def test_bad_config():
    with pytest.raises(ValueError, match="per_identity"):
        CropConfig(per_identity=0)
    with pytest.raises(ValueError, match="max_occlusion"):
        CropConfig(max_occlusion=0)
