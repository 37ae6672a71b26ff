"""Synthetic scenes and identity sets: determinism, formats, and the properties benchmarks rely on."""
from __future__ import annotations

import configparser
import re

import numpy as np
import pytest

from trackreid.synthetic import DetectionNoise, SceneConfig, generate_scene, write_market_dataset, write_mot_sequence

MARKET_RE = re.compile(r"^(-1|\d{4})_c(\d)s(\d)_(\d{6})_(\d{2})\.jpg$")


@pytest.fixture(scope="module")
def scene():
    return generate_scene(SceneConfig(num_people=20, num_frames=200, seed=3))


def test_same_seed_same_scene_and_pixels(scene):
    again = generate_scene(SceneConfig(num_people=20, num_frames=200, seed=3))
    np.testing.assert_array_equal(scene.gt, again.gt)
    np.testing.assert_array_equal(scene.detections, again.detections)
    np.testing.assert_array_equal(scene.render(50), again.render(50))
    np.testing.assert_array_equal(scene.embeddings_at(50, 32), again.embeddings_at(50, 32))
    other = generate_scene(SceneConfig(num_people=20, num_frames=200, seed=4))
    assert other.gt.shape != scene.gt.shape or not np.array_equal(other.gt, scene.gt)


def test_gt_rows_follow_mot17_layout(scene):
    gt = scene.gt
    assert gt.shape[1] == 9 and len(gt) > 0
    c = scene.config
    assert set(np.unique(gt[:, 0]).astype(int)) <= set(range(1, c.num_frames + 1))
    assert gt[:, 1].min() >= 1 and gt[:, 1].max() <= c.num_people
    assert (gt[:, 6] == 1).all() and (gt[:, 7] == 1).all()
    assert ((gt[:, 8] >= 0) & (gt[:, 8] <= 1)).all()
    # boxes clipped to the image, positive size
    assert (gt[:, 2] >= 0).all() and (gt[:, 3] >= 0).all() and (gt[:, 4] > 0).all() and (gt[:, 5] > 0).all()
    assert (gt[:, 2] + gt[:, 4] <= c.width + 1e-6).all() and (gt[:, 3] + gt[:, 5] <= c.height + 1e-6).all()
    # one row per identity per frame
    assert len(np.unique(gt[:, :2], axis=0)) == len(gt)
    # perspective: people lower in the image are taller (fully in-frame boxes)
    full = gt[(gt[:, 3] > 0) & (gt[:, 3] + gt[:, 5] < c.height - 1)]
    assert np.corrcoef(full[:, 3] + full[:, 5], full[:, 5])[0, 1] > 0.9


def test_people_enter_and_leave(scene):
    gt = scene.gt
    first = np.array([gt[gt[:, 1] == i, 0].min() for i in np.unique(gt[:, 1])])
    last = np.array([gt[gt[:, 1] == i, 0].max() for i in np.unique(gt[:, 1])])
    assert (first > 1).sum() >= 3                      # some enter later
    assert (last < scene.config.num_frames).sum() >= 3  # some leave before the end


def test_occlusion_and_crossings_happen(scene):
    gt = scene.gt
    assert (gt[:, 8] < 0.5).sum() >= 20
    # a crossing: two people overlapping in a frame whose left-right order differs between frames
    crossings = 0
    ids = np.unique(gt[:, 1]).astype(int)
    cx = {i: dict(zip(gt[gt[:, 1] == i, 0].astype(int), gt[gt[:, 1] == i, 2] + gt[gt[:, 1] == i, 4] / 2)) for i in ids}
    for a in ids:
        for b in ids[ids > a]:
            common = sorted(set(cx[a]) & set(cx[b]))
            if len(common) < 2:
                continue
            d = np.array([cx[a][t] - cx[b][t] for t in common])
            crossings += int((np.sign(d[:-1]) != np.sign(d[1:])).any())
    assert crossings >= 5


def test_detection_ids_map_to_gt_and_misses_grow_with_occlusion(scene):
    gt = scene.gt
    key = {(int(r[0]), int(r[1])): r for r in gt}
    d = scene.detections
    assert d.shape[1] == 8 and (d[:, 6] == 0).all()
    tp = d[d[:, 7] > 0]
    for r in tp:
        g = key[(int(r[0]), int(r[7]))]
        gx1, gy1, gx2, gy2 = g[2], g[3], g[2] + g[4], g[3] + g[5]
        iw = max(0.0, min(r[3], gx2) - max(r[1], gx1))
        ih = max(0.0, min(r[4], gy2) - max(r[2], gy1))
        inter = iw * ih
        iou = inter / ((r[3] - r[1]) * (r[4] - r[2]) + g[4] * g[5] - inter)
        assert iou > 0.4
    assert (d[:, 7] == -1).sum() > 0                                   # false positives exist
    detected = {(int(r[0]), int(r[7])) for r in tp}
    hit = np.array([(int(r[0]), int(r[1])) in detected for r in gt])
    vis = gt[:, 8]
    assert hit[vis > 0.9].mean() > 0.9
    assert hit[vis < 0.4].mean() < hit[vis > 0.9].mean() - 0.2
    # scores: occluded true detections score lower; some true detections fall below 0.5; FPs mostly low
    det_vis = np.array([key[(int(r[0]), int(r[7]))][8] for r in tp])
    assert tp[det_vis < 0.5, 5].mean() < tp[det_vis > 0.9, 5].mean() - 0.15
    assert (tp[:, 5] < 0.5).sum() > 0
    assert np.median(d[d[:, 7] == -1, 5]) < 0.5


def test_per_frame_accessors(scene):
    t = 60
    dets, ids = scene.dets_at(t), scene.det_ids_at(t)
    assert dets.dtype == np.float32 and dets.shape[1] == 6 and ids.dtype == np.int64 and len(ids) == len(dets)
    rows = scene.detections[scene.detections[:, 0] == t]
    np.testing.assert_allclose(dets, rows[:, 1:7].astype(np.float32))
    assert (dets[:, 2] > dets[:, 0]).all() and (dets[:, 3] > dets[:, 1]).all()
    with pytest.raises(ValueError, match="1-based"):
        scene.dets_at(0)
    with pytest.raises(ValueError):
        scene.dets_at(scene.config.num_frames + 1)


def test_embeddings_separate_identities(scene):
    same, diff = [], []
    feats, ids = [], []
    for t in range(1, 200, 7):
        e, i = scene.embeddings_at(t, dim=64, noise=0.3), scene.det_ids_at(t)
        assert e.shape == (len(i), 64) and e.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
        feats.append(e[i > 0])
        ids.append(i[i > 0])
    f, i = np.concatenate(feats), np.concatenate(ids)
    s = f @ f.T
    m = i[:, None] == i[None]
    off = ~np.eye(len(i), dtype=bool)
    same, diff = s[m & off], s[~m]
    assert same.mean() > diff.mean() + 0.4
    # look-alikes exist: some different identities are much closer than average
    codes = scene.identity_codes(64)
    c = codes @ codes.T
    np.fill_diagonal(c, -1)
    assert c.max() > 0.4


def test_render_draws_people(scene):
    img = scene.render(30)
    c = scene.config
    assert img.shape == (c.height, c.width, 3) and img.dtype == np.uint8
    t, first = next(iter(scene.frames()))
    assert t == 1 and first.shape == img.shape
    # pixels inside a well visible person box differ from the empty background there
    gt = scene.gt_at(30)
    r = gt[np.argmax(gt[:, 8] * gt[:, 5])]
    x, y, w, h = (int(v) for v in r[2:6])
    bg = scene._background()[:, : c.width]
    diff = np.abs(img[y:y + h, x:x + w].astype(int) - bg[y:y + h, x:x + w].astype(int)).sum(-1)
    assert (diff > 30).mean() > 0.2


def test_camera_pan_shifts_content():
    a = generate_scene(SceneConfig(num_people=6, num_frames=40, seed=1, present_at_start=1.0))
    b = generate_scene(SceneConfig(num_people=6, num_frames=40, seed=1, present_at_start=1.0, camera_pan=3.0))
    ga, gb = a.gt_at(30), b.gt_at(30)
    common = np.intersect1d(ga[:, 1], gb[:, 1])
    ca = {int(r[1]): r[2] + r[4] / 2 for r in ga if r[1] in common and r[4] > 10 and 0 < r[2] and r[2] + r[4] < 1279}
    cb = {int(r[1]): r[2] + r[4] / 2 for r in gb if r[1] in common and r[4] > 10 and 0 < r[2] and r[2] + r[4] < 1279}
    shifts = [ca[k] - cb[k] for k in set(ca) & set(cb)]
    fa, fb = a.render(30), b.render(30)
    assert fb.shape == fa.shape and fb.flags.c_contiguous and not np.array_equal(fa, fb)
    # the background moves with the pan too: frame 1 shifted by 3 px equals frame 2 away from people
    f1, f2 = b._background()[:, :1280], b.render(2)
    assert np.array_equal(f1[:40, 3:], f2[:40, :-3])
    assert shifts and np.allclose(shifts, 3.0 * 29, atol=1.0)


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="num_people"):
        SceneConfig(num_people=0)
    with pytest.raises(ValueError, match="jitter"):
        DetectionNoise(jitter=-1)
    with pytest.raises(ValueError, match="SceneConfig"):
        generate_scene({"num_people": 3})


def test_write_mot_sequence(tmp_path):
    sc = generate_scene(SceneConfig(num_people=5, num_frames=12, width=320, height=240, seed=2, fps=25.0))
    seq = write_mot_sequence(sc, tmp_path, name="SYN-07")
    assert seq == tmp_path / "SYN-07"
    ini = configparser.ConfigParser()
    ini.read(seq / "seqinfo.ini")
    s = ini["Sequence"]
    assert s["name"] == "SYN-07" and s["imDir"] == "img1" and s["imExt"] == ".jpg"
    assert int(s["seqLength"]) == 12 and int(s["imWidth"]) == 320 and int(s["imHeight"]) == 240
    assert float(s["frameRate"]) == 25.0
    assert len(list((seq / "img1").glob("*.jpg"))) == 12 and (seq / "img1" / "000001.jpg").is_file()
    gt = np.loadtxt(seq / "gt" / "gt.txt", delimiter=",", ndmin=2)
    np.testing.assert_allclose(gt, sc.gt, atol=0.01)
    det = np.loadtxt(seq / "det" / "det.txt", delimiter=",", ndmin=2)
    assert det.shape == (len(sc.detections), 10) and (det[:, 1] == -1).all() and (det[:, 7:] == -1).all()
    np.testing.assert_allclose(det[:, 2] + det[:, 4], sc.detections[:, 3], atol=0.02)
    vid = write_mot_sequence(sc, tmp_path, name="SYN-08", video=True)
    assert (vid / "SYN-08.mp4").stat().st_size > 0 and not (vid / "img1").exists()
    import cv2
    cap = cv2.VideoCapture(str(vid / "SYN-08.mp4"))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 12


def test_market_layout(tmp_path):
    root = write_market_dataset(tmp_path / "m", num_train_ids=6, num_test_ids=5, num_cameras=3, seed=0,
                                num_distractors=4, num_junk=3)
    parsed = {}
    for split in ("bounding_box_train", "bounding_box_test", "query"):
        names = [p.name for p in (root / split).iterdir()]
        assert names, split
        for n in names:
            m = MARKET_RE.match(n)
            assert m, n
            assert 1 <= int(m.group(2)) <= 3
        parsed[split] = [MARKET_RE.match(n).groups() for n in names]
    train_ids = {int(g[0]) for g in parsed["bounding_box_train"]}
    gallery_ids = {int(g[0]) for g in parsed["bounding_box_test"]}
    query = [(int(g[0]), int(g[1])) for g in parsed["query"]]
    assert train_ids == set(range(1, 7))
    assert {q[0] for q in query} <= gallery_ids and {q[0] for q in query} == set(range(7, 12))
    assert not train_ids & {q[0] for q in query}
    assert len(query) == len(set(query))                      # one query per identity and camera
    assert {0, -1} <= gallery_ids
    # each query has a same-identity gallery image from another camera (Market protocol can score it)
    gal = [(int(g[0]), int(g[1])) for g in parsed["bounding_box_test"]]
    for pid, cam in query:
        assert any(p == pid and c != cam for p, c in gal)
    import cv2
    img = cv2.imread(str(next((root / "query").iterdir())))
    assert img.shape == (128, 64, 3)
    again = write_market_dataset(tmp_path / "m2", num_train_ids=6, num_test_ids=5, num_cameras=3, seed=0,
                                 num_distractors=4, num_junk=3)
    assert sorted(p.name for p in (again / "query").iterdir()) == sorted(p.name for p in (root / "query").iterdir())
    with pytest.raises(ValueError, match="num_cameras"):
        write_market_dataset(tmp_path / "bad", num_cameras=1)


def test_command_line_writes_both_layouts(tmp_path, capsys):
    from trackreid.synthetic import main

    main(["mot", str(tmp_path / "mot"), "--seeds", "3", "--people", "3", "--frames", "5", "--width", "160",
          "--height", "120"])
    assert (tmp_path / "mot" / "SYN-03" / "img1" / "000005.jpg").is_file()
    main(["market", str(tmp_path / "mk"), "--train-ids", "2", "--test-ids", "2", "--cameras", "2"])
    assert len(list((tmp_path / "mk" / "query").glob("*.jpg"))) == 4
    assert str(tmp_path / "mk") in capsys.readouterr().out
