"""DDP under torchrun: two CPU processes (gloo) train, stop at --max-steps, resume and evaluate."""
from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest
import torch

from .conftest import write_market

TINY = ["--set", "height=64", "--set", "width=32", "--set", "sampler=pk", "--set", "num_instances=2",
        "--set", "pretrained_backbone=false", "--set", "fixbase_epochs=0", "--set", "eval_every=1",
        "--workers", "0", "--batch-size", "4", "--device", "cpu", "--no-progress"]


def _torchrun(args, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "trackreid.cli.train", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)


@pytest.mark.slow
def test_two_process_training_stops_resumes_and_evaluates(tmp_path):
    root = write_market(tmp_path / "market", train_ids=range(1, 9), per_cam=2)
    out = tmp_path / "run"
    base = ["--model", "osnet_x0_25", "--data", "market1501", "--root", str(root), "--output", str(out)]
    first = _torchrun(base + ["--epochs", "2", "--max-steps", "3", *TINY], tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    ck = torch.load(out / "last.pt", weights_only=True)
    assert ck["global_step"] == 3
    rest = _torchrun(["--resume", "--output", str(out), "--no-progress"], tmp_path)
    assert rest.returncode == 0, rest.stderr[-3000:]
    assert "resumed from" in rest.stderr
    ck = torch.load(out / "last.pt", weights_only=True)
    from trackreid.train.datasets import build_dataset
    from trackreid.train.sampler import PKBatchSampler

    pids = [p for _, p, _ in build_dataset("market1501", root).train]
    per_epoch = len(PKBatchSampler(pids, 4, 2, 0, rank=0, world_size=2))   # each rank: half the batches
    assert per_epoch < len(PKBatchSampler(pids, 4, 2, 0))
    assert ck["epoch"] == 2 and ck["global_step"] == 2 * per_epoch
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [r["epoch"] for r in rows] == ["1", "2"] and all(r["mAP"] for r in rows)
    assert (out / "best.pt").is_file()
