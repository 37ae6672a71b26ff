"""``--data tracks``: crops saved by the tracker's crop bank as a ReID dataset, and a tiny fine-tune on them."""
import json

import cv2
import numpy as np
import pytest

from trackreid.analytics.crops import CropBank, CropConfig, crop_name
from trackreid.cli.train import main
from trackreid.train.datasets import DatasetLayoutError, build_dataset

from .conftest import person_image
from .test_cli import TINY, _one_line_error


def write_run(run, ids=range(1, 13), frames=range(0, 200, 20), cams=(0,), seed=0):
    rng = np.random.default_rng(seed)
    (run / "crops").mkdir(parents=True)
    for pid in ids:
        for cam in cams:
            for f in frames:
                cv2.imwrite(str(run / "crops" / crop_name(pid, cam, f + 1)), person_image(pid, rng))
    return run


def test_split_has_no_leakage(tmp_path):
    a, b = write_run(tmp_path / "a"), write_run(tmp_path / "b", ids=range(1, 6), seed=1)
    ds = build_dataset("tracks", f"{a},{b}")
    assert ds.name == "tracks"
    train_files = {p for p, _, _ in ds.train}
    test_files = {p for p, _, _ in ds.query + ds.gallery}
    assert not train_files & test_files
    # every crop is used except, per query, the one crop 20 frames after it (closer than the 30-frame gap)
    assert len(train_files | test_files) == 12 * 10 + 5 * 10 - len(ds.query)
    run_id = lambda p: (p.split("/crops/")[0], p.rsplit("/", 1)[1][:4])  # noqa: E731
    assert not {run_id(p) for p in train_files} & {run_id(p) for p in test_files}
    assert ds.query and all(c == -1 for _, _, c in ds.query + ds.gallery)  # one camera: the frame gap rule
    frame = lambda p: int(p.rsplit("_", 2)[1])  # noqa: E731
    for qp, qid, _ in ds.query:
        g = [frame(p) for p, pid, _ in ds.gallery if pid == qid]
        assert g and min(abs(f - frame(qp)) for f in g) >= 30
    assert build_dataset("tracks", f"{a},{b}").query == ds.query  # deterministic


def test_two_cameras_keep_camera_ids(tmp_path):
    ds = build_dataset("tracks", write_run(tmp_path / "r", cams=(0, 1), frames=range(0, 40, 10)))
    assert {c for _, _, c in ds.query} == {0, 1} and ds.has_camids


def test_run_folder_without_crops_is_refused_in_one_line(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    with pytest.raises(DatasetLayoutError, match="holds no crops.*--save-crops"):
        build_dataset("tracks", tmp_path / "run")
    assert main(["--data", "tracks", "--root", str(tmp_path / "run")] + TINY) == 1
    line = _one_line_error(capsys)
    assert line.startswith("trackreid-train:") and "holds no crops" in line
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        build_dataset("tracks", tmp_path / "absent")


def test_too_few_identities_is_refused(tmp_path):
    with pytest.raises(DatasetLayoutError, match="training identities"):
        build_dataset("tracks", write_run(tmp_path / "r", ids=[1, 2]))


@pytest.mark.slow
def test_crop_bank_to_fine_tuned_encoder(tmp_path, capsys):
    """Video -> crops -> trackreid-train --data tracks, then a second run fine-tuned from the first's weights."""
    from trackreid.synthetic import SceneConfig, generate_scene

    scene = generate_scene(SceneConfig(num_people=14, num_frames=150, width=640, height=360, seed=4,
                                       present_at_start=1.0))
    bank = CropBank(tmp_path / "run", CropConfig(per_identity=6, min_height=40, min_gap=10))
    for t in range(1, 151):
        g = scene.gt_at(t)
        tracks = np.c_[g[:, 2], g[:, 3], g[:, 2] + g[:, 4], g[:, 3] + g[:, 5], g[:, 1], np.ones((len(g), 3))]
        bank.add(scene.render(t), tracks, t)
    stats = bank.close()
    assert stats["identities"] >= 8
    args = ["--data", "tracks", "--root", str(tmp_path / "run"), "--epochs", "1", "--json"] + TINY
    assert main(args + ["--output", str(tmp_path / "a")]) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 0 < first["mAP"] <= 1
    assert main(args + ["--output", str(tmp_path / "b"), "--set", f"init_weights={tmp_path / 'a' / 'best.pt'}"]) == 0
    out = capsys.readouterr()
    assert "initialised from" in out.err and 0 < json.loads(out.out.strip().splitlines()[-1])["mAP"] <= 1


def test_tracks_start_from_the_trained_weights_not_random(tmp_path, capsys):
    """``--data tracks`` fine-tunes the encoder the runs used (here none is named: the bundled trained weights)."""
    from trackreid.reid.weights import default_weights

    run = write_run(tmp_path / "r")
    args = ["--data", "tracks", "--root", str(run), "--epochs", "1", "--max-steps", "1", "--output",
            str(tmp_path / "out")] + TINY
    assert main(args) == 0
    err = capsys.readouterr().err
    assert f"starting from {default_weights('osnet_x0_25').name}" in err and "initialised from" in err
    assert "random initialisation" not in err and "warning" not in err.lower()


def test_resume_with_nothing_left_says_so(tmp_path, capsys):
    run = write_run(tmp_path / "r")
    args = ["--data", "tracks", "--root", str(run), "--epochs", "1", "--output", str(tmp_path / "out")] + TINY
    assert main(args) == 0
    capsys.readouterr()
    assert main(args + ["--resume"]) == 0
    err = capsys.readouterr().err
    assert "nothing to train" in err and "--epochs" in err and "last checkpoint None" not in err
