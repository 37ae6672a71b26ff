"""Flat evaluation folders (``--data flat`` / ``cuhk03_flat``): names, camera rules, the query/gallery protocol."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from trackreid.cli.train import main
from trackreid.train.datasets import DatasetLayoutError, build_dataset, flat_dataset, parse_camera_rule

from .conftest import person_image


def write_flat(folder: Path, names: list[str]) -> Path:
    """One small 'person' image per name; the identity colours come from the leading digits when there are any."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in names:
        digits = "".join(c for c in name.split("_")[0] if c.isdigit())
        cv2.imwrite(str(folder / name), person_image(int(digits or 0), rng))
    return folder


# identities 3 and 12: both cameras of CUHK03's cell layout; 7: camera 0 only; 20: camera 1 only
CELLS = ["0003_00.jpg", "0003_01.jpg", "0003_05.jpg", "0003_09.jpg", "0007_00.jpg", "0007_02.jpg",
         "0012_01.jpg", "0012_03.jpg", "0012_06.jpg", "0020_05.jpg", "0020_06.jpg"]


def _rows(items):
    return [(Path(p).name, pid, cam) for p, pid, cam in items]


def test_cuhk03_flat_cell_layout_and_protocol(tmp_path):
    root = write_flat(tmp_path / "set", CELLS)
    (root / "README.txt").write_text("not an image")  # ignored, as are sub-folders
    (root / "sub").mkdir()
    ds = build_dataset("cuhk03_flat", root)
    assert ds.name == "cuhk03_flat" and ds.train == [] and ds.num_train_pids == 0
    # per identity: the first file of the lowest camera is the query, the other cameras' images the gallery
    assert _rows(ds.query) == [("0003_00.jpg", 3, 0), ("0012_01.jpg", 12, 0)]
    assert _rows(ds.gallery) == [("0003_05.jpg", 3, 1), ("0003_09.jpg", 3, 1), ("0012_06.jpg", 12, 1)]
    assert ds.has_camids and ds.skipped_identities == 2  # 7 and 20 are seen by one camera only
    assert "2 identities seen by one camera only skipped" in ds.summary()
    assert "camera rule 'cam//5'" in ds.summary()
    # flat with the same rule is the same set; root/images/ is found when root holds no image itself
    moved = tmp_path / "outer"
    moved.mkdir()
    root.rename(moved / "images")
    same = build_dataset("flat", moved, camera_rule="cam//5")
    assert same.root == moved / "images" and _rows(same.query) == _rows(ds.query)
    assert _rows(same.gallery) == _rows(ds.gallery)


def test_flat_default_rule_is_the_cam_group_as_is(tmp_path):
    ds = build_dataset("flat", write_flat(tmp_path / "set", CELLS))
    # every KK is its own camera: the query is KK's lowest image, every other image is in the gallery
    assert _rows(ds.query) == [("0003_00.jpg", 3, 0), ("0007_00.jpg", 7, 0), ("0012_01.jpg", 12, 1),
                               ("0020_05.jpg", 20, 5)]
    assert ("0003_01.jpg", 3, 1) in _rows(ds.gallery) and len(ds.gallery) == len(CELLS) - 4
    assert ds.skipped_identities == 0


def test_custom_pattern_and_rule(tmp_path):
    names = ["0001_c1s1_000151_01.jpg", "0001_c1s1_000152_01.jpg", "0001_c3s2_000040_02.jpg",
             "0002_c2s1_000010_01.jpg", "0002_c1s1_000020_01.jpg", "0002_c2s1_000011_01.jpg"]
    root = write_flat(tmp_path / "m", names)
    ds = build_dataset("flat", root, name_pattern=r"^(?P<pid>\d+)_c(?P<cam>\d)", camera_rule="cam-1")
    assert _rows(ds.query) == [("0001_c1s1_000151_01.jpg", 1, 0), ("0002_c1s1_000020_01.jpg", 2, 0)]
    assert sorted(_rows(ds.gallery)) == [("0001_c3s2_000040_02.jpg", 1, 2), ("0002_c2s1_000010_01.jpg", 2, 1),
                                         ("0002_c2s1_000011_01.jpg", 2, 1)]
    # groups may sit anywhere in the name (re.search) and in any order
    other = write_flat(tmp_path / "o", ["cam2-person17.png", "cam1-person17.png", "cam1-person4.png",
                                        "cam2-person4.png"])
    ds2 = flat_dataset(other, pattern=r"cam(?P<cam>\d+)-person(?P<pid>\d+)", camera_rule="cam - 1")
    assert _rows(ds2.query) == [("cam1-person4.png", 4, 0), ("cam1-person17.png", 17, 0)]
    # a rule that makes a camera id negative is refused, naming the file
    with pytest.raises(DatasetLayoutError, match=r"camera rule 'cam-2' gives camera -1 for 'cam1-person17.png'"):
        flat_dataset(other, pattern=r"cam(?P<cam>\d+)-person(?P<pid>\d+)", camera_rule="cam-2")


def test_camera_rules():
    assert [parse_camera_rule("cam")(c) for c in (0, 4, 9)] == [0, 4, 9]
    assert [parse_camera_rule("cam//5")(c) for c in (0, 4, 5, 9)] == [0, 0, 1, 1]
    assert parse_camera_rule(" cam // 3 ")(7) == 2
    assert parse_camera_rule("cam-1")(3) == 2 and parse_camera_rule("cam-0")(3) == 3
    for bad in ("", "cam*2", "cam/5", "cam+1", "cam%2", "CAM", "cam//", "cam//-1", "c//5", "cam//5//2", "5"):
        with pytest.raises(ValueError) as e:
            parse_camera_rule(bad)
        msg = str(e.value)
        assert "\n" not in msg and "expected cam, cam//N" in msg and "cam-N" in msg
    with pytest.raises(ValueError, match="must be >= 1"):
        parse_camera_rule("cam//0")


def test_malformed_name_is_refused_on_one_line(tmp_path):
    root = write_flat(tmp_path / "set", CELLS + ["abc.jpg"])
    with pytest.raises(DatasetLayoutError) as e:
        build_dataset("flat", root)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg == (r"flat: cannot read identity and camera from 'abc.jpg' with pattern '^(?P<pid>\d+)_(?P<cam>\d+)'; "
                   "name files IIII_KK.jpg or pass --name-pattern REGEX with groups pid and cam (both integers)")
    # a custom pattern whose cam group is optional or not a number: the same one line, naming the file
    with pytest.raises(DatasetLayoutError, match=r"from '0003_00.jpg' with pattern '\^\(\?P<pid>\\d\+\)\(_x"):
        build_dataset("flat", root, name_pattern=r"^(?P<pid>\d+)(_x(?P<cam>\d+))?")
    with pytest.raises(DatasetLayoutError, match="from '0003_00.jpg'.*pass another --name-pattern"):
        build_dataset("flat", root, name_pattern=r"^(?P<pid>\d+)(?P<cam>_)")
    # a pattern without the groups, or not a regex at all
    with pytest.raises(ValueError, match="lacks the named group.s. cam"):
        build_dataset("flat", root, name_pattern=r"^(?P<pid>\d+)")
    with pytest.raises(ValueError, match="not a valid regular expression"):
        build_dataset("flat", root, name_pattern=r"^(?P<pid>\d+")


def test_missing_empty_and_too_small_folders(tmp_path):
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        build_dataset("flat", tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetLayoutError, match="holds no images"):
        build_dataset("cuhk03_flat", tmp_path / "empty")
    with pytest.raises(DatasetLayoutError, match="holds 1 identity; an evaluation needs at least 2"):
        build_dataset("cuhk03_flat", write_flat(tmp_path / "one", ["0001_00.jpg", "0001_05.jpg"]))
    # two identities, but only one seen by both cameras: nothing to rank against, and the rule is named
    with pytest.raises(DatasetLayoutError, match="only 1 of the 2 identities .* camera rule 'cam//5'"):
        build_dataset("cuhk03_flat", write_flat(tmp_path / "two", ["0001_00.jpg", "0001_05.jpg", "0002_00.jpg"]))


def test_name_options_belong_to_flat_datasets_only(market_dir):
    with pytest.raises(ValueError, match="--camera-rule: only for --data flat or cuhk03_flat, not 'market1501'"):
        build_dataset("market1501", market_dir, camera_rule="cam//5")
    # None / "" mean the dataset's own
    assert build_dataset("market1501", market_dir, name_pattern="", camera_rule=None).num_train_pids == 8


def test_config_fields_round_trip_and_set_keeps_the_regex_raw():
    from trackreid.train.config import TrainConfig, build_config, merge, parse_set

    over = parse_set(["name_pattern=^(?P<pid>[0-9]+)_(?P<cam>[0-9]+)", "camera_rule=cam//5", "lr=0.001"])
    assert over["name_pattern"] == "^(?P<pid>[0-9]+)_(?P<cam>[0-9]+)"  # not a YAML list
    cfg = build_config("osnet", "osnet_x0_25", {"data": "cuhk03_flat", **over})
    assert (cfg.name_pattern, cfg.camera_rule) == ("^(?P<pid>[0-9]+)_(?P<cam>[0-9]+)", "cam//5")
    again = TrainConfig(**merge(cfg.to_dict(), {}, "checkpoint"))  # as --resume rebuilds it from a checkpoint
    assert again == cfg
    assert build_config("osnet").name_pattern is None and build_config("osnet").camera_rule is None
    assert build_config("osnet", None, parse_set(["camera_rule="])).camera_rule is None
    with pytest.raises(ValueError, match="camera_rule"):
        TrainConfig(camera_rule=5)


def test_training_on_a_flat_set_is_a_clear_error(tmp_path, capsys):
    from trackreid.train.engine import Trainer

    from .conftest import tiny_config

    root = write_flat(tmp_path / "set", CELLS)
    with pytest.raises(ValueError, match="no training images: it is an evaluation-only set.*--eval-only"):
        Trainer(tiny_config(root, tmp_path / "run", data="cuhk03_flat"), progress=False)
    assert main(["--data", "cuhk03_flat", "--root", str(root), "--output", str(tmp_path / "run"),
                 "--workers", "0", "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(err)
    assert "evaluation-only set" in err[-1] and "--eval-only --weights" in err[-1]
    assert not (tmp_path / "run").exists()


def test_cli_eval_only_on_a_flat_folder(tmp_path, capsys):
    import torch

    from trackreid.reid.models.registry import build_model

    torch.manual_seed(0)
    weights = tmp_path / "untrained.pt"
    torch.save(build_model("osnet_x0_25", num_classes=10).state_dict(), weights)
    root = write_flat(tmp_path / "set", CELLS)
    tiny = ["--set", "height=64", "--set", "width=32", "--json", "--workers", "0", "--device", "cpu"]
    assert main(["--eval-only", "--weights", str(weights), "--data", "cuhk03_flat", "--root", str(root),
                 *tiny]) == 0
    out = capsys.readouterr()
    a = json.loads(out.out.strip().splitlines()[-1])
    assert set(a) >= {"mAP", "rank1", "rank5", "rank10"} and 0.0 <= a["mAP"] <= 1.0
    assert "cuhk03_flat at" in out.err and "2 identities seen by one camera only skipped" in out.err
    # the same set through --data flat and the two options (and through --set) gives the same figures
    assert main(["--eval-only", "--weights", str(weights), "--data", "flat", "--root", str(root),
                 "--camera-rule", "cam//5", "--name-pattern", r"^(?P<pid>\d+)_(?P<cam>\d+)", *tiny]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == a
    assert main(["--eval-only", "--weights", str(weights), "--data", "flat", "--root", str(root),
                 "--set", "camera_rule=cam//5", *tiny]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == a
    # a bad rule and a malformed name: one line each, exit 1
    assert main(["--eval-only", "--weights", str(weights), "--data", "flat", "--root", str(root),
                 "--camera-rule", "cam*5", *tiny]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "camera rule 'cam*5': expected cam, cam//N" in err[0]
    write_flat(root, ["person.jpg"])
    assert main(["--eval-only", "--weights", str(weights), "--data", "flat", "--root", str(root), *tiny]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'person.jpg'" in err[0] and "--name-pattern" in err[0]


def test_shared_cuhk03_val(shared_data):
    root = shared_data / "cuhk03-val"
    if not root.is_dir():
        pytest.skip(f"{root} is absent")
    ds = build_dataset("cuhk03_flat", root)
    assert ds.root == root / "images"
    assert len({p for _, p, _ in ds.query}) == 100 and len(ds.query) == 100
    assert {c for _, _, c in ds.query} == {0} and {c for _, _, c in ds.gallery} == {1}
    assert len(ds.gallery) == 487 and ds.skipped_identities == 0
    assert all(Path(p).name.endswith("_00.jpg") for p, _, _ in ds.query)
    flat = build_dataset("flat", root, camera_rule="cam//5")
    assert flat.query == ds.query and flat.gallery == ds.gallery


@pytest.mark.slow
def test_shared_cuhk03_val_market_osnet_figures(shared_data):
    """The figures the shared data's README gives for the Market-1501 OSNet x0.25: rank-1 18.0, mAP 20.5."""
    weights = shared_data / "reid" / "osnet_x0_25_market1501.pt"
    if not (shared_data / "cuhk03-val").is_dir() or not weights.is_file():
        pytest.skip("cuhk03-val or the Market-1501 OSNet x0.25 weights are absent")
    from trackreid.train.config import build_config
    from trackreid.train.engine import evaluate_weights

    cfg = build_config("osnet", "osnet_x0_25", {"data": "cuhk03_flat", "root": str(shared_data / "cuhk03-val"),
                                                "device": "cpu", "workers": 2})
    m = evaluate_weights(weights, cfg, log=lambda s: None)
    assert m["rank1"] == pytest.approx(0.180, abs=0.006) and m["mAP"] == pytest.approx(0.205, abs=0.006)
