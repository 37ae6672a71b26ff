import json

import pytest

from trackreid.cli.train import main

TINY = ["--set", "height=64", "--set", "width=32", "--set", "sampler=pk", "--set", "num_instances=2",
        "--set", "pretrained_backbone=false", "--set", "fixbase_epochs=0", "--set", "eval_every=1",
        "--workers", "0", "--batch-size", "8", "--no-progress"]


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err and "Traceback" not in "\n".join(err)
    return err[-1]


def test_errors_are_one_line_without_traceback(tmp_path, capsys):
    assert main(["--model", "osnet_x0_25", "--data", "market1501", "--root", str(tmp_path / "nope")]) == 1
    assert "market1501: dataset folder" in _one_line_error(capsys)
    (tmp_path / "empty").mkdir()
    assert main(["--data", "market1501", "--root", str(tmp_path / "empty")]) == 1
    assert "expected the folders bounding_box_train" in _one_line_error(capsys)
    assert main(["--data", "market1501", "--root", str(tmp_path), "--set", "learning_rate=1"]) == 1
    assert "unknown setting 'learning_rate'" in _one_line_error(capsys)
    assert main(["--data", "market1501"]) == 2
    assert "--root" in _one_line_error(capsys)
    assert main(["--eval-only", "--data", "market1501", "--root", str(tmp_path)]) == 2
    assert "--weights" in _one_line_error(capsys)
    assert main(["--resume", str(tmp_path / "missing.pt")]) == 1
    assert "does not exist" in _one_line_error(capsys)
    with pytest.raises(ValueError):
        main(["--data", "market1501", "--root", str(tmp_path / "nope"), "--debug"])


def test_show_config_applies_recipe_and_overrides(capsys):
    import yaml

    assert main(["--model", "pmm", "--show-config", "--epochs", "3", "--set", "lr=0.0002"]) == 0
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["model"] == "pmm" and cfg["epochs"] == 3 and cfg["lr"] == 0.0002 and cfg["warmup"] == "step5"


def test_train_resume_and_eval_only(market_dir, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--model", "osnet_x0_25", "--data", "market1501", "--root", str(market_dir), "--output", str(out),
            "--epochs", "2", *TINY]
    assert main(args + ["--max-steps", "2"]) == 0
    assert (out / "last.pt").is_file()
    capsys.readouterr()
    # --resume without a path continues OUTPUT/last.pt with the checkpoint's configuration
    assert main(["--resume", "--output", str(out), "--no-progress", "--json"]) == 0
    captured = capsys.readouterr()
    assert "resumed from" in captured.err
    metrics = json.loads(captured.out.strip().splitlines()[-1])
    assert 0.0 <= metrics["mAP"] <= 1.0
    assert (out / "best.pt").is_file()
    pytest.importorskip("trackreid.reid.weights")
    assert main(["--eval-only", "--weights", str(out / "best.pt"), "--data", "market1501", "--root",
                 str(market_dir), "--set", "height=64", "--set", "width=32", "--json", "--workers", "0"]) == 0
    evaluated = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(evaluated) >= {"mAP", "rank1", "rank5", "rank10"}


@pytest.mark.parametrize("fmt", ["torchreid", "boxmot_renamed"])
def test_eval_only_reads_torchreid_and_boxmot_files(market_dir, tmp_path, capsys, fmt):
    """A torchreid checkpoint ({'state_dict', 'epoch', 'rank1', 'optimizer'}, named model.pth.tar-60) and a BoxMOT
    state_dict under a name that says nothing: the architecture is recognised from the tensors."""
    import torch

    from trackreid.reid.models.registry import build_model

    sd = build_model("osnet_x0_25", num_classes=751).state_dict()
    if fmt == "torchreid":
        path = tmp_path / "model.pth.tar-60"
        torch.save({"state_dict": {f"module.{k}": v for k, v in sd.items()}, "epoch": 60, "rank1": 0.9,
                    "optimizer": {}}, path)
    else:
        path = tmp_path / "my_reid_weights.pt"
        torch.save(sd, path)
    assert main(["--eval-only", "--weights", str(path), "--data", "market1501", "--root", str(market_dir),
                 "--set", "height=64", "--set", "width=32", "--json", "--workers", "0"]) == 0
    captured = capsys.readouterr()
    assert set(json.loads(captured.out.strip().splitlines()[-1])) >= {"mAP", "rank1"}
    assert "classifier not loaded" in captured.err   # 751 classes in the file, none needed to evaluate


def test_checkpoint_mismatch_is_reported_on_one_line(market_dir, tmp_path, capsys):
    import torch

    from trackreid.reid.models.registry import build_model

    path = tmp_path / "other.pt"
    torch.save(build_model("osnet_x0_5").state_dict(), path)
    assert main(["--eval-only", "--model", "osnet_x0_25", "--weights", str(path), "--data", "market1501",
                 "--root", str(market_dir), "--workers", "0"]) == 1
    last = _one_line_error(capsys)
    assert "does not fit osnet_x0_25" in last and "shape mismatch" in last and "'osnet_x0_5'" in last
