"""Cross-camera IDF1 (DukeMTMC multi-camera protocol) on hand-made ground truth with known answers."""
from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from trackreid.cli.eval import main as eval_main
from trackreid.evaluation.multicam import MULTICAM, evaluate_multicam, find_camera_results, identity_metrics


def track(pid, frames, x0=10.0, y=20.0, w=30.0, h=60.0, dx=2.0):
    """MOT rows of one identity walking right."""
    f = np.asarray(list(frames), np.float64)
    return np.stack([f, np.full_like(f, pid), x0 + dx * f, np.full_like(f, y), np.full_like(f, w), np.full_like(f, h),
                     np.ones_like(f), np.ones_like(f), np.ones_like(f), -np.ones_like(f)], 1)


def site():
    """Person 1 walks CAM1 (frames 1-10) then CAM2 (15-24); person 2 is in CAM2 (1-10, elsewhere in the image)."""
    return {"CAM1": track(1, range(1, 11)),
            "CAM2": np.concatenate([track(1, range(15, 25)), track(2, range(1, 11), x0=300)])}


def relabel(rows, mapping):
    out = rows.copy()
    out[:, 1] = [mapping[int(i)] for i in rows[:, 1]]
    return out


def test_perfect_result_scores_one():
    gt = site()
    m = identity_metrics({c: (g, g.copy()) for c, g in gt.items()})
    assert m["IDF1"] == m["IDP"] == m["IDR"] == 1.0
    assert (m["IDTP"], m["IDFP"], m["IDFN"], m["GT_ids"], m["Res_ids"]) == (30, 0, 0, 2, 2)


def test_person_split_across_cameras_loses_the_smaller_part():
    gt = site()
    res = {"CAM1": relabel(gt["CAM1"], {1: 7}), "CAM2": relabel(gt["CAM2"], {1: 8, 2: 9})}   # 1 -> 7 and 8
    m = identity_metrics({c: (gt[c], res[c]) for c in gt})
    # 1 can keep only one of its two result ids: 10 of its 20 boxes; person 2 all 10: IDTP 20 of 30 and 30
    assert m["IDTP"] == 20 and m["IDFP"] == 10 and m["IDFN"] == 10
    assert m["IDF1"] == pytest.approx(2 * 20 / 60) and m["IDP"] == pytest.approx(20 / 30)
    # the same result scored per camera is perfect: only the cross-camera metric sees the split
    for c in gt:
        assert identity_metrics({c: (gt[c], res[c])})["IDF1"] == 1.0


def test_one_result_id_for_two_people_in_different_cameras():
    gt = {"CAM1": track(1, range(1, 11)), "CAM2": track(2, range(1, 11))}
    res = {"CAM1": relabel(gt["CAM1"], {1: 4}), "CAM2": relabel(gt["CAM2"], {2: 4})}
    m = identity_metrics({c: (gt[c], res[c]) for c in gt})
    assert m["IDTP"] == 10 and m["IDF1"] == pytest.approx(0.5)
    # read as per-camera ids (a tracker without global ids), 4 in CAM1 and 4 in CAM2 are two identities
    assert identity_metrics({c: (gt[c], res[c]) for c in gt}, result_ids="per_camera")["IDF1"] == 1.0


def test_iou_threshold_and_frame_alignment():
    gt = {"CAM1": track(1, range(1, 11))}
    far = track(1, range(1, 11))
    far[:5, 2] += 30 * 0.5           # IoU of a box shifted by half its width = 1/3 < 0.5: five frames miss
    m = identity_metrics({"CAM1": (gt["CAM1"], far)})
    assert m["IDTP"] == 5 and m["IDF1"] == pytest.approx(0.5)
    assert identity_metrics({"CAM1": (gt["CAM1"], far)}, iou_threshold=0.3)["IDTP"] == 10
    late = track(1, range(2, 12))     # the right boxes one frame late: only frames 2-10 are shared, boxes moved
    assert identity_metrics({"CAM1": (gt["CAM1"], late)})["IDTP"] == 9   # 2 px shift of 30 px still IoU >= 0.5
    other_cam = {"CAM1": (gt["CAM1"], np.empty((0, 10))), "CAM2": (np.empty((0, 10)), gt["CAM1"].copy())}
    assert identity_metrics(other_cam)["IDTP"] == 0   # same boxes in another camera never match


def test_matches_a_plain_loop_on_random_data():
    rng = np.random.default_rng(0)
    data = {}
    for cam in ("A", "B", "C"):
        g = np.concatenate([track(p, sorted(rng.choice(40, 15, replace=False) + 1), x0=rng.uniform(0, 200))
                            for p in rng.choice(8, 4, replace=False) + 1])
        r = g.copy()
        r[:, 1] = rng.integers(1, 10, len(r))          # noisy ids ...
        r[:, 2:4] += rng.normal(0, 6, (len(r), 2))     # ... and boxes
        keep = np.unique(r[:, [0, 1]], axis=0, return_index=True)[1]
        data[cam] = (g, r[np.sort(keep)])
    m = identity_metrics(data)
    gids = sorted({int(i) for g, _ in data.values() for i in g[:, 1]})
    rids = sorted({int(i) for _, r in data.values() for i in r[:, 1]})
    M = np.zeros((len(gids), len(rids)))
    for g, r in data.values():
        for a in g:
            for b in r:
                if a[0] != b[0]:
                    continue
                ix = max(0, min(a[2] + a[4], b[2] + b[4]) - max(a[2], b[2]))
                iy = max(0, min(a[3] + a[5], b[3] + b[5]) - max(a[3], b[3]))
                iou = ix * iy / (a[4] * a[5] + b[4] * b[5] - ix * iy)
                if iou >= 0.5:
                    M[gids.index(int(a[1])), rids.index(int(b[1]))] += 1
    rr, cc = linear_sum_assignment(-M)
    assert m["IDTP"] == int(M[rr, cc].sum()) and 0 < m["IDTP"] < m["GT_dets"]


def test_bad_input_is_a_clear_error():
    g = track(1, range(1, 5))
    with pytest.raises(ValueError, match="id 1 has 2 boxes in frame 3 of CAM1"):
        identity_metrics({"CAM1": (g, np.concatenate([g, g[2:3]]))})
    with pytest.raises(ValueError, match="result_ids"):
        identity_metrics({"CAM1": (g, g)}, result_ids="local")
    with pytest.raises(ValueError, match="no cameras"):
        identity_metrics({})


def _write_site(root, gt):
    from trackreid.io.mot import write_mot

    for cam, rows in gt.items():
        write_mot(root / cam / "gt" / "gt.txt", rows)


def test_both_result_layouts_and_the_command_line(tmp_path, capsys):
    from trackreid.io.mot import write_mot

    gt = site()
    _write_site(tmp_path / "gt", gt)
    run = tmp_path / "run"
    write_mot(run / "CAM1.txt", relabel(gt["CAM1"], {1: 7}))                       # flat layout
    write_mot(run / "CAM2" / "tracks.txt", relabel(gt["CAM2"], {1: 8, 2: 9}))     # per-source folder layout
    assert find_camera_results(run, ["CAM1", "CAM2"]) == {"CAM1": run / "CAM1.txt",
                                                          "CAM2": run / "CAM2" / "tracks.txt"}
    res = evaluate_multicam(tmp_path / "gt", run)
    assert set(res) == {"CAM1", "CAM2", "COMBINED", MULTICAM}
    assert res["CAM1"]["IDF1"] == pytest.approx(1.0) and res["CAM2"]["IDF1"] == pytest.approx(1.0)
    assert res[MULTICAM]["IDF1"] == pytest.approx(2 / 3)
    out_json = tmp_path / "m.json"
    assert eval_main(["--gt", str(tmp_path / "gt"), "--results", str(run), "--multicam", "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "CAM1" in out and "CAM2" in out and "Cross-camera" in out and "IDF1 66.67" in out
    assert json.loads(out_json.read_text())[MULTICAM]["IDTP"] == 20
    # both layouts for one camera is ambiguous; a missing camera is an error unless --missing empty
    write_mot(run / "CAM2.txt", gt["CAM2"])
    assert eval_main(["--gt", str(tmp_path / "gt"), "--results", str(run), "--multicam"]) == 1
    assert "keep one result file per camera" in capsys.readouterr().err
    (run / "CAM2.txt").unlink()
    (run / "CAM2" / "tracks.txt").unlink()
    assert eval_main(["--gt", str(tmp_path / "gt"), "--results", str(run), "--multicam"]) == 1
    assert "results missing for CAM2" in capsys.readouterr().err
    assert eval_main(["--gt", str(tmp_path / "gt"), "--results", str(run), "--multicam", "--missing", "empty"]) == 0
    assert "IDF1 50.00" in capsys.readouterr().out          # CAM1's 10 of 30 gt boxes: 2*10 / (30 + 10)
    assert eval_main(["--gt", str(tmp_path / "gt"), "--results", str(run), "--multicam", "--clip-to-gt"]) == 2


def test_synthetic_site_per_camera_ids_lose_every_other_camera(tmp_path):
    from trackreid.synthetic import MulticamConfig, generate_multicam

    s = generate_multicam(MulticamConfig(num_cameras=3, num_people=8, num_frames=300, width=320, height=180, seed=1))
    data = {n: (sc.gt, sc.gt.copy()) for n, sc in zip(s.names, s.scenes)}
    assert identity_metrics(data)["IDF1"] == 1.0
    # ids made unique per camera: each person keeps only the camera where it has the most boxes
    local = {n: (g, np.c_[r[:, :1], r[:, 1:2] + 1000 * (k + 1), r[:, 2:]]) for k, (n, (g, r)) in enumerate(data.items())}
    per_cam = {}
    for k, (n, (g, _)) in enumerate(data.items()):
        for pid, cnt in zip(*np.unique(g[:, 1].astype(int), return_counts=True)):
            per_cam.setdefault(pid, []).append(cnt)
    total = sum(len(g) for g, _ in data.values())
    expect = sum(max(v) for v in per_cam.values())
    m = identity_metrics(local)
    assert m["IDTP"] == expect < total and m["IDF1"] == pytest.approx(expect / total)
    assert identity_metrics(data, result_ids="per_camera")["IDTP"] == expect
