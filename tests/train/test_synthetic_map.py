"""The training proof: osnet_x0_25 trained from scratch on the synthetic identity set reaches mAP >= 0.90 within
a CPU-minute budget (``benchmarks/train_synthetic.py`` prints the same run with its timings).

Measured with this configuration on the 2-core CI-size machine: mAP 0.382 -> 0.959 (rank-1 0.600 -> 0.975) with
torch on 2 threads, 0.932 on 1 thread, in 74-120 s of training. Fewer epochs are not safe: 6 gave 0.933 on 2
threads and 0.872 on 1, 8 gave 0.894 on 1 (the thread count changes the order of float sums). The starting point is the randomly initialised network, which already ranks some clothing
colours right (random features score mAP 0.023 on this set); the assertion asks for the 0.90 the issue sets."""
import pytest

from trackreid.train.config import build_config
from trackreid.train.datasets import build_dataset
from trackreid.train.engine import Trainer, evaluate

#: size of the test version; the benchmark uses more identities and epochs
TRAIN_IDS, TEST_IDS, CAMERAS, EPOCHS = 80, 40, 2, 12


@pytest.fixture(scope="module")
def synthetic_market(tmp_path_factory):
    synthetic = pytest.importorskip("trackreid.synthetic")
    root = tmp_path_factory.mktemp("synmarket")
    return synthetic.write_market_dataset(root / "set", num_train_ids=TRAIN_IDS, num_test_ids=TEST_IDS,
                                          num_cameras=CAMERAS, seed=0)


def test_training_from_scratch_raises_map(synthetic_market, tmp_path):
    cfg = build_config("osnet", "osnet_x0_25", {
        "data": "market1501", "root": str(synthetic_market), "output": str(tmp_path / "run"),
        "pretrained_backbone": False, "height": 128, "width": 64, "batch_size": 16, "sampler": "random",
        "triplet_weight": 0.0, "optimizer": "adam", "lr": 0.003, "epochs": EPOCHS,
        "scheduler": "cosine", "fixbase_epochs": 0, "pad": 4, "erasing": 0.0, "eval_every": 0, "workers": 0,
        "seed": 0, "device": "cpu"})
    trainer = Trainer(cfg, progress=False)
    dataset = build_dataset("market1501", synthetic_market)
    before = evaluate(trainer.model, dataset, trainer.tcfg, trainer.device)
    result = trainer.fit()
    after = result.metrics
    print(f"synthetic set: mAP {before['mAP']:.3f} -> {after['mAP']:.3f}, rank-1 {before['rank1']:.3f} -> "
          f"{after['rank1']:.3f} in {result.seconds:.0f} s")
    assert before["mAP"] < 0.5
    assert after["mAP"] >= 0.90
    assert (tmp_path / "run" / "best.pt").is_file()
