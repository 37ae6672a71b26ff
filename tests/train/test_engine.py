import csv
import os
import signal

import numpy as np
import pytest
import torch

from trackreid.train.engine import Trainer, TrainingInterrupted, evaluate, transform_config

from .conftest import tiny_config, write_market


def test_resume_mid_epoch_continues_exactly(market_dir, tmp_path):
    from trackreid.train.datasets import build_dataset
    from trackreid.train.sampler import PKBatchSampler

    pids = [p for _, p, _ in build_dataset("market1501", market_dir).train]
    per_epoch = [len(PKBatchSampler(pids, 8, 2, seed=0).batches(e)) for e in range(2)]
    assert per_epoch[1] >= 2
    cut_at = per_epoch[0] + 1  # one step into the second epoch
    full = Trainer(tiny_config(market_dir, tmp_path / "a", epochs=3), progress=False).fit()
    cut = Trainer(tiny_config(market_dir, tmp_path / "b", epochs=3, max_steps=cut_at), progress=False).fit()
    assert cut.steps == cut_at and len(cut.step_losses) == cut_at
    ck = torch.load(tmp_path / "b" / "last.pt", weights_only=True)  # everything loads with weights_only
    assert (ck["format"], ck["version"], ck["arch"], ck["num_classes"]) == ("trackreid-checkpoint", 1,
                                                                            "osnet_x0_25", 8)
    assert (ck["epoch"], ck["epoch_step"], ck["global_step"]) == (1, 1, cut_at)
    assert {"optimizer", "scheduler", "sampler", "rng", "config", "state_dict"} <= set(ck)
    rest = Trainer(tiny_config(market_dir, tmp_path / "b", epochs=3), resume=tmp_path / "b" / "last.pt",
                   progress=False).fit()
    assert cut.step_losses == full.step_losses[:cut_at]
    assert rest.step_losses[0] == full.step_losses[cut_at]  # the next step's loss equals the uninterrupted run's
    assert rest.step_losses == full.step_losses[cut_at:]
    assert rest.steps == full.steps
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_writes_checkpoint_and_resume_matches(market_dir, tmp_path, monkeypatch, sig):
    full = Trainer(tiny_config(market_dir, tmp_path / "a"), progress=False).fit()
    trainer = Trainer(tiny_config(market_dir, tmp_path / "b"), progress=False)
    real_step = trainer._train_step
    calls = []

    def step_then_ctrl_c(x, y):
        out = real_step(x, y)
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), sig)  # the handler only sets a flag; the step completes
        return out

    monkeypatch.setattr(trainer, "_train_step", step_then_ctrl_c)
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)  # SIG_IGN in a background job
    with pytest.raises(TrainingInterrupted) as info:
        trainer.fit()
    assert info.value.checkpoint == tmp_path / "b" / "last.pt"
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before  # handlers restored
    rest = Trainer(tiny_config(market_dir, tmp_path / "b"), resume=info.value.checkpoint, progress=False).fit()
    assert rest.step_losses == full.step_losses[3:]


def test_ctrl_c_during_evaluation_keeps_it_pending_for_resume(market_dir, tmp_path, monkeypatch):
    """Ctrl-C while the end-of-epoch evaluation runs (loader workers too): last.pt keeps the evaluation pending,
    --resume runs it first, and metrics.csv and best.pt end up as in an uninterrupted run."""
    cfg = dict(epochs=2, eval_every=1, workers=2)
    Trainer(tiny_config(market_dir, tmp_path / "a", **cfg), progress=False).fit()
    trainer = Trainer(tiny_config(market_dir, tmp_path / "b", **cfg), progress=False)
    real_eval = trainer.run_evaluation

    def ctrl_c_then_evaluate():
        os.kill(os.getpid(), signal.SIGINT)
        return real_eval()   # its loop sees the stop and gives up

    monkeypatch.setattr(trainer, "run_evaluation", ctrl_c_then_evaluate)
    with pytest.raises(TrainingInterrupted) as info:
        trainer.fit()
    assert not (tmp_path / "b" / "metrics.csv").exists()        # the epoch is not logged without its metrics
    assert torch.load(info.value.checkpoint, weights_only=True)["pending_row"]["epoch"] == 1
    Trainer(tiny_config(market_dir, tmp_path / "b", **cfg), resume=info.value.checkpoint, progress=False).fit()

    def table(run):
        rows = list(csv.DictReader(open(tmp_path / run / "metrics.csv")))
        return [{k: v for k, v in r.items() if k not in ("images_per_s", "epoch_s")} for r in rows]

    assert table("b") == table("a") and len(table("a")) == 2
    best = [torch.load(tmp_path / r / "best.pt", weights_only=True)["metrics"] for r in ("a", "b")]
    assert best[0] == best[1]


def test_epoch_checkpoints_csv_best_and_eval(market_dir, tmp_path):
    cfg = tiny_config(market_dir, tmp_path / "run", epochs=2, eval_every=1)
    res = Trainer(cfg, progress=False).fit()
    rows = list(csv.DictReader(open(tmp_path / "run" / "metrics.csv")))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert all(0 <= float(r["mAP"]) <= 1 and float(r["images_per_s"]) > 0 for r in rows)
    best = torch.load(tmp_path / "run" / "best.pt", weights_only=True)
    assert best["format"] == "trackreid-checkpoint" and "optimizer" not in best
    assert best["metrics"]["mAP"] == pytest.approx(res.best_map)
    assert not list((tmp_path / "run").glob(".*tmp*"))  # no temporary files left behind
    # a fresh run in the same folder starts a new log instead of appending to the old one
    Trainer(tiny_config(market_dir, tmp_path / "run", epochs=1), progress=False).fit()
    assert [r["epoch"] for r in csv.DictReader(open(tmp_path / "run" / "metrics.csv"))] == ["1"]
    Trainer(cfg, progress=False).fit()
    # an end-of-epoch checkpoint resumes at the next epoch; nothing left to do when all epochs ran
    again = Trainer(cfg, resume=tmp_path / "run" / "last.pt", progress=False).fit()
    assert again.step_losses == [] and again.epoch == 2


def test_best_checkpoint_loads_with_load_weights(market_dir, tmp_path):
    weights = pytest.importorskip("trackreid.reid.weights")
    from trackreid.reid.models.registry import build_model

    Trainer(tiny_config(market_dir, tmp_path / "run", epochs=1, eval_every=1), progress=False).fit()
    trained = torch.load(tmp_path / "run" / "best.pt", weights_only=True)["state_dict"]
    model = build_model("osnet_x0_25", num_classes=0)
    weights.load_weights(model, tmp_path / "run" / "best.pt", arch="osnet_x0_25")
    own = model.state_dict()
    assert all(torch.equal(own[k], trained[k]) for k in own)


def test_best_checkpoint_drives_the_encoder_and_the_tracker_cli(market_dir, tmp_path):
    """best.pt is directly usable: build_encoder and ``trackreid --reid-weights`` read its architecture and the
    input size it was trained at (64x32 here, not the registry's 256x128) from the file."""
    import json
    import warnings

    import numpy as np

    from trackreid.cli.track import main as track_main
    from trackreid.reid.encoder import build_encoder

    Trainer(tiny_config(market_dir, tmp_path / "run", epochs=1, eval_every=1), progress=False).fit()
    best = tmp_path / "run" / "best.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # trained weights: no "random weights" warning
        enc = build_encoder(None, weights=best, device="cpu")
    assert enc.spec.name == "osnet_x0_25" and enc.input_size == (64, 32)
    frame = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    assert enc(frame, np.array([[10, 10, 50, 100]], np.float32)).shape == (1, 512)

    syn = pytest.importorskip("trackreid.synthetic")
    seq = syn.write_mot_sequence(syn.generate_scene(syn.SceneConfig(num_people=4, num_frames=5, width=320,
                                                                    height=240, seed=1)), tmp_path / "mot")
    out = tmp_path / "track"
    assert track_main([str(seq / "img1"), "--detector", str(seq / "det" / "det.txt"), "--reid-weights", str(best),
                       "--device", "cpu", "--output", str(out), "--no-video", "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["frames"] == 5


def test_resume_rejects_other_model_and_weights_only_file(market_dir, tmp_path):
    Trainer(tiny_config(market_dir, tmp_path / "run", epochs=1, eval_every=1), progress=False).fit()
    with pytest.raises(ValueError, match="best.pt holds only"):
        Trainer(tiny_config(market_dir, tmp_path / "run"), resume=tmp_path / "run" / "best.pt", progress=False)
    with pytest.raises(ValueError, match="osnet_x0_25 with 8 classes"):
        Trainer(tiny_config(market_dir, tmp_path / "run", model="osnet_x0_5"), resume=tmp_path / "run" / "last.pt",
                progress=False)


@pytest.mark.parametrize("model", ["bdb", "pmm"])
def test_bdb_pmm_training_steps_lower_the_loss(tmp_path, model):
    # one P=4 x K=2 batch, no augmentation, a few optimiser steps through the trainer: the loss must fall
    root = write_market(tmp_path / "m", train_ids=range(1, 5), test_ids=range(5, 7), cams=(1, 2), per_cam=1)
    cfg = tiny_config(root, tmp_path / "run", model=model, height=96, width=32, lr=1e-3, flip=0.0, pad=0,
                      erasing=0.0, triplet_margin=0.0, warmup_epochs=0)
    trainer = Trainer(cfg, progress=False)
    trainer._set_trainable(0)
    x, y, _, _ = next(iter(trainer.loader))
    assert len(set(y.tolist())) == 4
    out = trainer.model(x, labels=y)
    assert len(out["logits"]) == (2 if model == "bdb" else 3) and len(out["feats"]) == len(out["logits"])
    losses = [trainer._train_step(x, y)[0] for _ in range(4)]
    assert all(np.isfinite(losses))
    assert losses[-1] < losses[0]


def test_dataset_without_camera_ids_still_evaluates(tmp_path):
    """Custom sets without camera ids: the same-camera rule is off, so true matches are kept, not discarded."""
    import cv2

    from trackreid.reid.models.registry import build_model
    from trackreid.train.datasets import build_dataset

    from .conftest import person_image

    rng = np.random.default_rng(0)
    for pid in range(8):
        d = tmp_path / "set" / f"id{pid}"
        d.mkdir(parents=True)
        for k in range(3):
            cv2.imwrite(str(d / f"{k}.jpg"), person_image(pid, rng))
    ds = build_dataset("folder", tmp_path / "set")
    assert not ds.has_camids
    cfg = tiny_config(tmp_path / "set", tmp_path / "o")
    torch.manual_seed(0)
    model = build_model("osnet_x0_25")
    m = evaluate(model, ds, transform_config(cfg), torch.device("cpu"))
    # every query keeps its 2 true matches; the crude colour-block identities are easy even for a random net
    assert 0.0 < m["mAP"] <= 1.0 and m["rank5"] > 0
    # what the same-camera rule would do with one camera everywhere: nothing left to score
    from trackreid.evaluation.reid import evaluate_reid

    with pytest.raises(ValueError):
        evaluate_reid(torch.randn(4, 8), torch.randn(8, 8), np.arange(4), np.repeat(np.arange(4), 2),
                      np.zeros(4, int), np.zeros(8, int))


def test_single_camera_market_layout_switches_the_same_camera_rule_off(tmp_path):
    from trackreid.train.datasets import build_dataset
    from trackreid.train.engine import same_camera_rule

    two = build_dataset("market1501", write_market(tmp_path / "two"))
    assert same_camera_rule(two)
    warnings = []
    one = build_dataset("market1501", write_market(tmp_path / "one", cams=(1,), per_cam=3))
    assert one.has_camids and not same_camera_rule(one, warn=warnings.append)
    assert "without the same-camera rule" in warnings[0]
    cfg = tiny_config(tmp_path / "one", tmp_path / "o")
    from trackreid.reid.models.registry import build_model

    m = evaluate(build_model("osnet_x0_25"), one, transform_config(cfg), torch.device("cpu"), log=warnings.append)
    assert m["mAP"] > 0


def test_imagenet_backbone_given_as_a_file(market_dir, tmp_path):
    from trackreid.reid.models.registry import build_model
    from trackreid.train.config import build_config

    src = build_model("osnet_x0_25", num_classes=1000)
    path = tmp_path / "my_imagenet_osnet.pth"
    torch.save(src.state_dict(), path)
    cfg = tiny_config(market_dir, tmp_path / "run", pretrained_backbone=str(path))
    assert build_config("osnet", "osnet_x0_25", {"pretrained_backbone": "false"}).pretrained_backbone is False
    trainer = Trainer(cfg, progress=False)
    assert trainer.pretrained and torch.equal(trainer.model.conv1.conv.weight, src.conv1.conv.weight)
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        Trainer(tiny_config(market_dir, tmp_path / "r2", pretrained_backbone=str(tmp_path / "missing.pth")),
                progress=False)


@pytest.mark.parametrize("model,workers", [("pmm", 0), ("osnet_x0_25", 2)])
def test_resume_is_exact_with_random_layers_and_loader_workers(tmp_path, model, workers):
    """PMM draws its Hard-Mix donors from the RNG inside forward; loader workers augment
    each image from its own seed. Stopping after 2 steps and resuming (into the next epoch) gives the uninterrupted
    run's losses."""
    root = write_market(tmp_path / "m", train_ids=range(1, 7), test_ids=range(7, 9), cams=(1, 2), per_cam=2)
    kw = dict(model=model, workers=workers, epochs=2, eval_every=-1)
    if model == "pmm":
        kw.update(height=96, width=32, warmup_epochs=0)
    full = Trainer(tiny_config(root, tmp_path / "a", **kw), progress=False).fit()
    Trainer(tiny_config(root, tmp_path / "b", max_steps=2, **kw), progress=False).fit()
    rest = Trainer(tiny_config(root, tmp_path / "b", **kw), resume=tmp_path / "b" / "last.pt", progress=False).fit()
    assert len(full.step_losses) >= 4 and rest.step_losses == full.step_losses[2:]
