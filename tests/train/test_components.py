import math
from collections import Counter

import numpy as np
import pytest
import torch

from trackreid.train.config import TrainConfig, build_config, load_recipe, parse_set
from trackreid.train.losses import BatchHardTripletLoss, LabelSmoothingCrossEntropy, ReIDLoss
from trackreid.train.sampler import PKBatchSampler, RandomBatchSampler
from trackreid.train.transforms import TransformConfig, train_transform
from trackreid.train.transforms import test_transform as eval_transform


# ------------------------------------------------------------------ sampler
PIDS = [i // 5 for i in range(50)] + [10, 10, 11]  # 10 ids with 5 images, id 10 with 2, id 11 with 1


def test_pk_batches_have_p_distinct_ids_with_k_images():
    s = PKBatchSampler(PIDS, batch_size=8, num_instances=2, seed=3)
    batches = s.batches(0)
    assert len(batches) >= 5
    for b in batches:
        counts = Counter(PIDS[i] for i, _ in b)
        assert len(counts) == 4 and set(counts.values()) == {2}
    seen = {i for b in batches for i, _ in b}
    assert len(seen) >= 35  # an epoch covers most images (K=2 leaves one of 5 out per identity)
    assert len({seed for b in batches for _, seed in b}) == sum(len(b) for b in batches)  # distinct sample seeds


def test_sampler_order_is_a_function_of_seed_and_epoch_and_resumes_mid_epoch():
    a = PKBatchSampler(PIDS, 8, 2, seed=1)
    b = PKBatchSampler(PIDS, 8, 2, seed=1)
    assert a.batches(2) == b.batches(2)
    assert a.batches(2) != a.batches(3)
    assert a.batches(2) != PKBatchSampler(PIDS, 8, 2, seed=2).batches(2)
    a.set_epoch(4)
    full = list(a)
    b.load_state_dict({"seed": 1, "epoch": 4, "start_batch": 3})
    assert list(b) == full[3:] and len(b) == len(full) - 3


def test_distributed_ranks_get_disjoint_equal_shards():
    r0 = RandomBatchSampler(53, 4, seed=0, rank=0, world_size=2).batches(0)
    r1 = RandomBatchSampler(53, 4, seed=0, rank=1, world_size=2).batches(0)
    assert len(r0) == len(r1) == 6
    assert not {i for b in r0 for i, _ in b} & {i for b in r1 for i, _ in b}


def test_sampler_errors():
    with pytest.raises(ValueError, match="multiple"):
        PKBatchSampler(PIDS, 9, 2)
    with pytest.raises(ValueError, match="at least P"):
        PKBatchSampler([0, 0, 1, 1], 8, 2)
    with pytest.raises(ValueError, match="batch size"):
        RandomBatchSampler(3, 8)


# ------------------------------------------------------------------ transforms
def test_train_transform_is_deterministic_per_seed_and_shaped():
    img = np.random.default_rng(0).integers(0, 256, (100, 40, 3), dtype=np.uint8)
    cfg = TransformConfig(height=64, width=32, erasing=1.0, color_jitter=0.3)
    a = train_transform(img, cfg, np.random.default_rng(5))
    b = train_transform(img, cfg, np.random.default_rng(5))
    c = train_transform(img, cfg, np.random.default_rng(6))
    assert a.shape == (3, 64, 32) and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c)
    # random erasing leaves a rectangle at the mean (0 after normalisation)
    assert (a == 0).all(0).sum() >= 0.02 * 64 * 32 * 0.9


def test_flip_and_normalisation():
    img = np.zeros((64, 32, 3), np.uint8)
    img[:, :16] = 255
    cfg = TransformConfig(height=64, width=32, flip=1.0, pad=0, erasing=0.0)
    x = train_transform(img, cfg, np.random.default_rng(0))
    assert x[0, 0, 0] < 0 < x[0, 0, -1]  # flipped: bright half now on the right
    t = eval_transform(img, cfg)
    assert torch.allclose(t[:, 0, 0], (1 - torch.tensor(cfg.mean)) / torch.tensor(cfg.std), atol=1e-5)


# ------------------------------------------------------------------ losses
def test_label_smoothing_matches_formula():
    logits = torch.tensor([[2.0, 0.0, -1.0]])
    y = torch.tensor([0])
    logp = torch.log_softmax(logits, 1)[0]
    eps = 0.1
    expected = -((1 - eps) * logp[0] + eps / 3 * logp.sum())
    assert torch.isclose(LabelSmoothingCrossEntropy(eps)(logits, y), expected)
    assert torch.isclose(LabelSmoothingCrossEntropy(0.0)(logits, y), torch.nn.functional.cross_entropy(logits, y))


def test_batch_hard_triplet_by_hand():
    f = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0], [0.0, 5.0]])
    y = torch.tensor([0, 0, 1, 1])
    # hardest positive / nearest negative of each anchor
    d_ap = torch.tensor([1.0, 1.0, 2.0, 2.0])
    d_an = torch.tensor([3.0, math.sqrt(10), 3.0, 5.0])
    hard = BatchHardTripletLoss(margin=2.5)(f, y)
    assert torch.isclose(hard, torch.relu(d_ap - d_an + 2.5).mean(), atol=1e-5)
    soft = BatchHardTripletLoss(margin=0)(f, y)
    assert torch.isclose(soft, torch.nn.functional.softplus(d_ap - d_an).mean(), atol=1e-5)
    # gradient is finite even with identical features
    z = torch.zeros(4, 2, requires_grad=True)
    BatchHardTripletLoss(0.3)(z, y).backward()
    assert torch.isfinite(z.grad).all()


def test_reid_loss_sums_branches():
    torch.manual_seed(0)
    y = torch.tensor([0, 0, 1, 1])
    out = {"logits": [torch.randn(4, 3), torch.randn(4, 3)], "feats": [torch.randn(4, 5), torch.randn(4, 5)]}
    loss_fn = ReIDLoss(0.1, 1.0, 1.0, 0.0)
    total, parts = loss_fn(out, y)
    ce, tri = LabelSmoothingCrossEntropy(0.1), BatchHardTripletLoss(0.0)
    expected = sum(ce(lg, y) + tri(ft, y) for lg, ft in zip(out["logits"], out["feats"]))
    assert torch.isclose(total, expected)
    assert parts["ce"] > 0 and parts["triplet"] > 0


# ------------------------------------------------------------------ config and recipes
def test_recipes_hold_the_published_values():
    o = load_recipe("osnet")
    assert (o["optimizer"], o["lr"], o["weight_decay"], o["batch_size"], o["epochs"], o["steps"],
            o["fixbase_epochs"], o["label_smooth"], o["height"], o["width"]) == \
        ("amsgrad", 0.0015, 5e-4, 64, 150, [60], 10, 0.1, 256, 128)
    for name in ("bdb", "pmm"):
        r = load_recipe(name)
        assert (r["optimizer"], r["lr"], r["batch_size"], r["num_instances"], r["epochs"], r["steps"],
                r["height"], r["triplet_margin"], r["sampler"]) == ("adam", 0.001, 128, 4, 400, [200, 300], 384,
                                                                     0.0, "pk")
        assert r["model"] == name and r["erasing"] > 0


def test_pmm_warmup_and_step_schedule():
    cfg = build_config("pmm")
    lr = [cfg.lr * cfg.lr_factor(e) for e in range(400)]
    for e in (0, 4, 5, 23, 45, 49):
        assert lr[e] == pytest.approx(1e-4 * (e // 5 + 1))
    assert lr[50] == pytest.approx(1e-3) and lr[199] == pytest.approx(1e-3)
    assert lr[200] == pytest.approx(1e-4) and lr[300] == pytest.approx(1e-5)
    osn = build_config("osnet", overrides={"scheduler": "cosine", "epochs": 250})
    assert osn.lr_factor(0) == 1.0 and osn.lr_factor(125) == pytest.approx(0.5)


def test_overrides_and_errors():
    cfg = build_config(None, "bdb", parse_set(["lr=0.0003", "steps=[20, 40]", "amp=false", "epochs=7"]))
    assert cfg.model == "bdb" and cfg.lr == 0.0003 and cfg.steps == [20, 40] and cfg.amp is False
    assert cfg.height == 384  # from the bdb recipe, chosen by the model name
    assert build_config().model == "osnet_x1_0"
    with pytest.raises(ValueError, match="unknown setting 'lrr'"):
        build_config(overrides={"lrr": 1})
    with pytest.raises(ValueError, match="expected an integer"):
        build_config(overrides={"epochs": "many"})
    with pytest.raises(ValueError, match="multiple of num_instances"):
        build_config("bdb", overrides={"batch_size": 30})
    with pytest.raises(ValueError, match="unknown recipe"):
        build_config("nonsense")
    with pytest.raises(ValueError, match="key=value"):
        parse_set(["lr"])
    assert TrainConfig(erasing=0.0).erasing == 0.0
