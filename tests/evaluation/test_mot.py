"""MOT evaluation: reference values, agreement with TrackEval's own MOTChallenge pipeline, edge cases, CLI."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from trackreid.cli.eval import main as eval_main
from trackreid.evaluation.mot import COMBINED, evaluate_mot, evaluate_mot_arrays, with_true_identities
from trackreid.io.mot import read_mot, write_mot

TUD = ("TUD-Campus", "TUD-Stadtmitte")


def _row(frame, ident, x, y, w=10.0, h=20.0, conf=1.0, cls=-1.0, vis=-1.0):
    return [frame, ident, x, y, w, h, conf, cls, vis, -1.0]


def _make_seq(root: Path, name: str, gt_rows, res_rows=None, res_dir: Path | None = None, seq_length=None):
    write_mot(root / name / "gt" / "gt.txt", np.array(gt_rows, float))
    if seq_length is not None:
        (root / name / "seqinfo.ini").write_text(f"[Sequence]\nname={name}\nseqLength={seq_length}\n")
    if res_rows is not None:
        write_mot((res_dir or root / "res") / f"{name}.txt", np.array(res_rows, float).reshape(-1, 10))


# ---------------------------------------------------------------- reference values (py-motmetrics 1.4.0)


def test_tud_reproduces_motmetrics_reference(shared_data):
    root = shared_data / "mot-metrics"
    ref = {r[""]: r for r in csv.DictReader(open(root / "motmetrics_1.4.0_reference.csv"))}
    got = evaluate_mot(root, root / "results")
    assert set(got) == {*TUD, COMBINED}
    for seq, key in [(s, s) for s in TUD] + [(COMBINED, "OVERALL")]:
        assert got[seq]["MOTA"] == pytest.approx(float(ref[key]["mota"]), abs=1e-3)
        assert got[seq]["IDF1"] == pytest.approx(float(ref[key]["idf1"]), abs=1e-3)
        assert got[seq]["FP"] == int(ref[key]["num_false_positives"])
        assert got[seq]["FN"] == int(ref[key]["num_misses"])
        assert got[seq]["IDSW"] == int(ref[key]["num_switches"])
        assert got[seq]["MOTP"] == pytest.approx(1 - float(ref[key]["motp"]), abs=1e-6)  # motmetrics: distance
        assert 0.0 < got[seq]["HOTA"] < 1.0


# ---------------------------------------------------------------- agreement with TrackEval's own pipeline


def _official_trackeval(gt_root: Path, res_dir: Path, seqs, bench: str, tmp: Path) -> dict:
    """Run TrackEval's MotChallenge2DBox dataset + Evaluator on a MOTChallenge folder layout built in tmp."""
    import trackeval

    gdir = tmp / "gt" / f"{bench}-train"
    for s in seqs:
        shutil.copytree(gt_root / s, gdir / s, ignore=shutil.ignore_patterns("img1", "det"))
    (tmp / "gt" / "seqmaps").mkdir(parents=True)
    (tmp / "gt" / "seqmaps" / f"{bench}-train.txt").write_text("name\n" + "\n".join(seqs) + "\n")
    tdir = tmp / "trackers" / f"{bench}-train" / "T" / "data"
    tdir.mkdir(parents=True)
    for s in seqs:
        shutil.copy(res_dir / f"{s}.txt", tdir / f"{s}.txt")
    ec = trackeval.Evaluator.get_default_eval_config()
    ec.update(USE_PARALLEL=False, PRINT_RESULTS=False, PRINT_CONFIG=False, TIME_PROGRESS=False,
              OUTPUT_SUMMARY=False, OUTPUT_DETAILED=False, PLOT_CURVES=False, DISPLAY_LESS_PROGRESS=True)
    dc = trackeval.datasets.MotChallenge2DBox.get_default_dataset_config()
    dc.update(GT_FOLDER=str(tmp / "gt"), TRACKERS_FOLDER=str(tmp / "trackers"), BENCHMARK=bench,
              SPLIT_TO_EVAL="train", TRACKERS_TO_EVAL=["T"], PRINT_CONFIG=False)
    metrics = [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR({"PRINT_CONFIG": False}),
               trackeval.metrics.Identity({"PRINT_CONFIG": False})]
    res, _ = trackeval.Evaluator(ec).evaluate([trackeval.datasets.MotChallenge2DBox(dc)], metrics)
    out = {}
    for seq, v in res["MotChallenge2DBox"]["T"].items():
        p = v["pedestrian"]
        out[COMBINED if seq == "COMBINED_SEQ" else seq] = {
            "HOTA": float(np.mean(p["HOTA"]["HOTA"])), "MOTA": p["CLEAR"]["MOTA"], "IDF1": p["Identity"]["IDF1"],
            "IDSW": p["CLEAR"]["IDSW"], "FP": p["CLEAR"]["CLR_FP"], "FN": p["CLEAR"]["CLR_FN"],
        }
    return out


def _perturbed_results(gt: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A plausible tracker output from MOT17 gt: all boxes incl. distractors, jittered, dropped, swapped, + FPs."""
    rows = gt[gt[:, 7] != 9].copy()  # keep pedestrians, distractors, vehicles... (not occluders)
    rows = rows[rng.random(len(rows)) > 0.15]
    rows[:, 2:4] += rng.normal(0, 0.08, (len(rows), 2)) * rows[:, 4:6]
    ids = np.unique(rows[:, 1])
    a, b = rng.choice(ids, 2, replace=False)
    late = rows[:, 0] > np.median(rows[:, 0])
    swap_a, swap_b = late & (rows[:, 1] == a), late & (rows[:, 1] == b)
    rows[swap_a, 1], rows[swap_b, 1] = b, a
    fps = rows[rng.choice(len(rows), 5, replace=False)].copy()
    fps[:, 1] = 10_000 + np.arange(5)
    fps[:, 2] += 3 * fps[:, 4]
    rows = np.concatenate([rows, fps])
    rows[:, 6], rows[:, 7:] = rng.random(len(rows)), -1
    return rows[np.argsort(rows[:, 0], kind="stable")]


def test_mot17_matches_trackeval_pipeline(shared_data, tmp_path):
    gt_root = shared_data / "mot17-mini"
    seqs = ["MOT17-02-FRCNN", "MOT17-09-FRCNN", "MOT17-13-FRCNN"]  # distractors, zero-marked rows, vehicles
    rng = np.random.default_rng(0)
    for s in seqs:
        write_mot(tmp_path / "res" / f"{s}.txt", _perturbed_results(read_mot(gt_root / s / "gt" / "gt.txt"), rng))
    ours = evaluate_mot(gt_root, tmp_path / "res", sequences=seqs)
    ref = _official_trackeval(gt_root, tmp_path / "res", seqs, "MOT17", tmp_path / "official")
    assert set(ours) == set(ref)
    for seq in ref:
        for k in ("HOTA", "MOTA", "IDF1"):
            assert ours[seq][k] == pytest.approx(ref[seq][k], abs=1e-9), (seq, k)
        for k in ("IDSW", "FP", "FN"):
            assert ours[seq][k] == ref[seq][k], (seq, k)
    assert ours[COMBINED]["IDSW"] > 0 and ours[COMBINED]["FP"] > 0 and ours[COMBINED]["FN"] > 0


def test_mot17_gt_against_itself_is_perfect_despite_seqinfo_length(shared_data, tmp_path):
    gt_root = shared_data / "mot17-mini"
    seq = "MOT17-04-FRCNN"  # seqinfo says 1050 frames; 8 are present
    gt = read_mot(gt_root / seq / "gt" / "gt.txt")
    peds = gt[(gt[:, 6] == 1) & (gt[:, 7] == 1)]
    write_mot(tmp_path / f"{seq}.txt", peds)
    r = evaluate_mot(gt_root, tmp_path, sequences=[seq])[seq]
    assert (r["MOTA"], r["IDF1"], r["FP"], r["FN"], r["IDSW"]) == (1.0, 1.0, 0, 0, 0)
    assert r["HOTA"] == pytest.approx(1.0)
    assert r["GT_dets"] == 336  # pedestrians with consider flag 1 only
    # Reporting the other gt boxes too: boxes on distractors (static people) are ignored, vehicles are FPs.
    write_mot(tmp_path / f"{seq}.txt", gt[gt[:, 7] != 9])
    r = evaluate_mot(gt_root, tmp_path, sequences=[seq])[seq]
    assert r["FN"] == 0 and r["FP"] == int(np.isin(gt[:, 7], [3, 4, 5, 10, 11]).sum())


# ---------------------------------------------------------------- hand-computed cases


def test_hand_computed_switch_fp_fn():
    # Two people over 4 frames (8 gt boxes). Tracker: swaps ids of person 2 at frame 3, misses person 1 at
    # frame 4, and adds one box nowhere near anybody at frame 2.
    gt = [_row(t, 1, 0, 0) for t in range(1, 5)] + [_row(t, 2, 100, 0) for t in range(1, 5)]
    res = [_row(t, 7, 0, 0) for t in range(1, 4)]
    res += [_row(1, 8, 100, 0), _row(2, 8, 100, 0), _row(3, 9, 100, 0), _row(4, 9, 100, 0)]
    res += [_row(2, 50, 500, 500)]
    r = evaluate_mot_arrays({"s": (np.array(gt), np.array(res))})["s"]
    assert (r["FP"], r["FN"], r["IDSW"], r["TP"]) == (1, 1, 1, 7)
    assert r["MOTA"] == pytest.approx(1 - (1 + 1 + 1) / 8)
    # IDF1: best identity matching gt1<->7 (3 frames), gt2<->8 (2 frames): IDTP = 5, 8 gt, 8 predicted boxes.
    assert r["IDF1"] == pytest.approx(2 * 5 / (8 + 8))



def test_true_identities_remove_switches_but_keep_the_boxes():
    # the same run as above: perfect identities on its boxes fix the switch; the miss and the stray box stay
    gt = [_row(t, 1, 0, 0) for t in range(1, 5)] + [_row(t, 2, 100, 0) for t in range(1, 5)]
    res = [_row(t, 7, 0, 0) for t in range(1, 4)]
    res += [_row(1, 8, 100, 0), _row(2, 8, 100, 0), _row(3, 9, 100, 0), _row(4, 9, 100, 0)]
    res += [_row(2, 50, 500, 500), _row(3, 51, 500, 500)]
    fixed = with_true_identities(np.array(gt), np.array(res))
    assert len(fixed) == len(res) and np.array_equal(fixed[:, 2:6], np.array(res)[:, 2:6])
    assert len(np.unique(fixed[-2:, 1])) == 2 and not np.isin(fixed[-2:, 1], [1, 2]).any()  # strays: one ID each
    r = evaluate_mot_arrays({"s": (np.array(gt), fixed)})["s"]
    assert (r["FP"], r["FN"], r["IDSW"]) == (2, 1, 0)
    assert r["IDF1"] == pytest.approx(2 * 7 / (8 + 9))

def test_iou_threshold_controls_matching():
    gt = np.array([_row(1, 1, 0, 0, 10, 10)])
    res = np.array([_row(1, 1, 3, 0, 10, 10)])  # IoU = 70 / 130 = 0.538
    assert evaluate_mot_arrays({"s": (gt, res)}, iou_threshold=0.5)["s"]["FP"] == 0
    assert evaluate_mot_arrays({"s": (gt, res)}, iou_threshold=0.6)["s"]["FP"] == 1
    with pytest.raises(ValueError, match="iou_threshold"):
        evaluate_mot_arrays({"s": (gt, res)}, iou_threshold=0.0)


def test_mot17_distractors_zero_marked_and_other_classes():
    gt = np.array([
        _row(1, 1, 0, 0, cls=1),            # pedestrian: counted
        _row(1, 2, 100, 0, cls=8),          # distractor: a result on it is neither TP nor FP
        _row(1, 3, 200, 0, cls=3),          # car: not a miss when nobody tracks it
        _row(1, 4, 300, 0, conf=0, cls=1),  # pedestrian marked "do not consider": a result on it is an FP
    ])
    res = np.array([_row(1, 1, 0, 0), _row(1, 2, 100, 0), _row(1, 4, 300, 0)])
    r = evaluate_mot_arrays({"s": (gt, res)})["s"]
    assert (r["TP"], r["FP"], r["FN"], r["GT_dets"], r["Res_dets"]) == (1, 1, 0, 1, 2)
    # The same rows evaluated as plain gt (no classes): every box with consider flag 1 counts.
    p = evaluate_mot_arrays({"s": (gt, res)}, gt_format="plain")["s"]
    assert (p["TP"], p["FP"], p["FN"]) == (2, 1, 1)


def test_mot20_also_ignores_non_mot_vehicles():
    gt = np.array([_row(1, 1, 0, 0, cls=1), _row(1, 2, 100, 0, cls=6)])
    res = np.array([_row(1, 1, 0, 0), _row(1, 2, 100, 0)])
    assert evaluate_mot_arrays({"MOT17-XX": (gt, res)})["MOT17-XX"]["FP"] == 1
    assert evaluate_mot_arrays({"MOT20-XX": (gt, res)})["MOT20-XX"]["FP"] == 0  # auto: named MOT20-*
    assert evaluate_mot_arrays({"s": (gt, res)}, gt_format="mot20")["s"]["FP"] == 0


def test_auto_format_invalid_class_rejected_when_forced():
    gt = np.array([_row(1, 1, 0, 0, cls=42)])
    assert evaluate_mot_arrays({"s": (gt, gt)})["s"]["MOTA"] == 1.0  # auto -> plain
    with pytest.raises(ValueError, match="MOT17 classes"):
        evaluate_mot_arrays({"s": (gt, gt)}, gt_format="mot17")


# ---------------------------------------------------------------- frames, files, bad input


def test_seq_length_larger_than_frames_present(tmp_path):
    gt = [_row(t, 1, 10 * t, 0) for t in (1, 2, 3)]
    res = [_row(t, 5, 10 * t, 0) for t in (1, 2)]
    _make_seq(tmp_path / "a", "S", gt, res, res_dir=tmp_path / "res", seq_length=600)
    _make_seq(tmp_path / "b", "S", gt)  # no seqinfo.ini
    with_ini = evaluate_mot(tmp_path / "a", tmp_path / "res")["S"]
    without = evaluate_mot(tmp_path / "b", tmp_path / "res")["S"]
    assert with_ini == without
    assert (with_ini["TP"], with_ini["FN"]) == (2, 1)


def test_results_beyond_seq_length_rejected(tmp_path):
    _make_seq(tmp_path, "S", [_row(1, 1, 0, 0)], [_row(1, 1, 0, 0), _row(7, 1, 0, 0)], seq_length=5)
    with pytest.raises(ValueError, match="beyond seqLength=5"):
        evaluate_mot(tmp_path, tmp_path / "res")


def test_results_after_last_gt_frame_are_fps_unless_clipped(tmp_path):
    gt = [_row(t, 1, 0, 0) for t in (1, 2)]
    res = [_row(t, 1, 0, 0) for t in (1, 2, 3, 4)]
    _make_seq(tmp_path, "S", gt, res, seq_length=600)
    assert evaluate_mot(tmp_path, tmp_path / "res")["S"]["FP"] == 2
    clipped = evaluate_mot(tmp_path, tmp_path / "res", clip_to_gt=True)["S"]
    assert (clipped["FP"], clipped["MOTA"]) == (0, 1.0)


def test_missing_results_file(tmp_path):
    _make_seq(tmp_path, "A", [_row(1, 1, 0, 0)], [_row(1, 1, 0, 0)])
    _make_seq(tmp_path, "B", [_row(1, 1, 0, 0), _row(2, 1, 0, 0)])
    with pytest.raises(FileNotFoundError, match="B"):
        evaluate_mot(tmp_path, tmp_path / "res")
    with pytest.warns(UserWarning, match="no results file for B"):
        r = evaluate_mot(tmp_path, tmp_path / "res", missing="empty")
    assert (r["B"]["FN"], r["B"]["MOTA"], r["A"]["MOTA"]) == (2, 0.0, 1.0)
    assert r[COMBINED]["FN"] == 2


def test_empty_results_file(tmp_path):
    _make_seq(tmp_path, "S", [_row(1, 1, 0, 0), _row(2, 1, 0, 0), _row(2, 2, 50, 0)])
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "S.txt").write_text("")
    r = evaluate_mot(tmp_path, tmp_path / "res")["S"]
    assert (r["FN"], r["FP"], r["MOTA"], r["IDF1"], r["HOTA"]) == (3, 0, 0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    "res, match",
    [
        ([_row(1, 1, 0, 0), _row(1, 1, 50, 0)], "identity 1 appears more than once in frame 1"),
        ([_row(0, 1, 0, 0)], "1-based"),
        ([_row(1, 1, 10, 10, w=-5)], "negative box width"),
        ([_row(1, 1.5, 0, 0)], "id values must be integers"),
    ],
)
def test_bad_results_rows_raise(res, match):
    gt = np.array([_row(1, 1, 0, 0)])
    with pytest.raises(ValueError, match=match):
        evaluate_mot_arrays({"s": (gt, np.array(res))})


def test_bad_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="gt_root"):
        evaluate_mot(tmp_path / "nope", tmp_path)
    with pytest.raises(FileNotFoundError, match="results_dir"):
        evaluate_mot(tmp_path, tmp_path / "nope")


# ---------------------------------------------------------------- CLI


def test_cli_prints_table_and_writes_json(shared_data, tmp_path, capsys):
    root = shared_data / "mot-metrics"
    out = tmp_path / "m.json"
    assert eval_main(["--gt", str(root), "--results", str(root / "results"), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    for word in ("HOTA", "MOTA", "IDF1", "IDSW", "FP", "FN", *TUD, COMBINED):
        assert word in text
    assert "52.65" in text and "55.77" in text  # TUD-Campus MOTA, IDF1 in %
    data = json.loads(out.read_text())
    assert data["TUD-Campus"]["MOTA"] == pytest.approx(0.52646, abs=1e-4)
    assert data[COMBINED]["FP"] == 58


def test_cli_error_is_reported_not_raised(tmp_path, capsys):
    _make_seq(tmp_path, "S", [_row(1, 1, 0, 0)])
    (tmp_path / "res").mkdir()
    assert eval_main(["--gt", str(tmp_path), "--results", str(tmp_path / "res")]) == 1
    assert "results missing" in capsys.readouterr().err
