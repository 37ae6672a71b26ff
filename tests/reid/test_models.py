"""ReID architectures: checkpoint compatibility, shapes, training-only behaviour, export."""
from __future__ import annotations

import subprocess
import sys
import warnings

import pytest
import torch
import torch.nn.functional as F

from trackreid.reid import build_model, get_spec, list_models
from trackreid.reid.models.bdb import BatchDropBlock
from trackreid.reid.models.osnet import OSNET_CONFIGS
from trackreid.reid.models.pmm import AttentiveHardMix


@pytest.fixture(scope="module")
def bdb():
    torch.manual_seed(0)
    return build_model("bdb", num_classes=5)


@pytest.fixture(scope="module")
def pmm():
    torch.manual_seed(0)
    return build_model("pmm", num_classes=5)


# ---------------------------------------------------------------------------------------------- registry
def test_registry_names_specs_and_errors():
    names = list_models()
    for n in ("osnet_x1_0", "osnet_x0_75", "osnet_x0_5", "osnet_x0_25", "osnet_ain_x1_0", "bdb", "pmm"):
        assert n in names
    assert get_spec("osnet") == get_spec("osnet_x1_0")
    assert get_spec("osnet_x0_25").input_size == (256, 128) and get_spec("osnet_x0_25").feature_dim == 512
    for n in ("bdb", "pmm"):
        assert get_spec(n).input_size == (384, 128) and get_spec(n).feature_dim == 1536
    assert get_spec("bdb").mean == (0.485, 0.456, 0.406)
    with pytest.raises(ValueError, match=r"Did you mean 'osnet_x0_25'.*Known models"):
        build_model("osnet_x025")
    with pytest.raises(ValueError, match="num_classes"):
        build_model("osnet_x0_25", num_classes=-1)


def test_import_is_light():
    code = "import sys, trackreid.reid as r; r.get_spec('pmm'); print('ultralytics' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False"]


# ---------------------------------------------------------------------------------------------- OSNet
def test_osnet_x1_0_size_and_feature_dim():
    model = build_model("osnet_x1_0").eval()
    n_params = sum(p.numel() for p in model.parameters())
    assert 2.1e6 < n_params < 2.3e6  # paper: 2.2 M
    with torch.no_grad():
        assert model(torch.randn(2, 3, 64, 32)).shape == (2, 512)


def test_real_checkpoint_loads_strict(shared_data):
    path = shared_data / "reid" / "osnet_x0_25_market1501.pt"
    if not path.is_file():
        pytest.skip(f"{path} absent")
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = build_model("osnet_x0_25", num_classes=751)
    model.load_state_dict(state, strict=True)
    model.eval()
    x = torch.randn(3, 3, 256, 128)
    with torch.no_grad():
        f = model(x)
        assert f.shape == (3, 512) and torch.isfinite(f).all()
        assert torch.allclose(model(x[:1]), f[:1], atol=1e-5)  # batch-size independent in eval


def test_real_weights_tell_people_apart(shared_data):
    """Real OSNet x0.25 weights on real MOT17 crops: the same person 7 frames later is the nearest neighbour."""
    cv2 = pytest.importorskip("cv2")
    import numpy as np

    root = shared_data / "mot17-mini" / "MOT17-04-FRCNN"
    weights = shared_data / "reid" / "osnet_x0_25_market1501.pt"
    if not (root.is_dir() and weights.is_file()):
        pytest.skip("MOT17-04 mini sequence or OSNet x0.25 weights absent")
    gt = np.loadtxt(root / "gt" / "gt.txt", delimiter=",")
    gt = gt[(gt[:, 6] == 1) & (gt[:, 7] == 1) & (gt[:, 8] > 0.8) & (gt[:, 5] >= 100)]
    ids = sorted(set(gt[gt[:, 0] == 1, 1]) & set(gt[gt[:, 0] == 8, 1]))[:10]
    assert len(ids) >= 5
    spec = get_spec("osnet_x0_25")
    mean, std = np.array(spec.mean), np.array(spec.std)

    def crops(frame):
        img = cv2.imread(str(root / "img1" / f"{frame:06d}.jpg"))
        out = []
        for pid in ids:
            x, y, w, h = gt[(gt[:, 0] == frame) & (gt[:, 1] == pid)][0, 2:6].astype(int)
            c = cv2.resize(img[max(y, 0):y + h, max(x, 0):x + w], spec.input_size[::-1])[:, :, ::-1] / 255.0
            out.append((c - mean) / std)
        return torch.tensor(np.stack(out), dtype=torch.float32).permute(0, 3, 1, 2)

    model = build_model("osnet_x0_25", num_classes=751)
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True), strict=True)
    model.eval()
    with torch.no_grad():
        sim = F.normalize(model(crops(1)), dim=1) @ F.normalize(model(crops(8)), dim=1).T
    off = ~torch.eye(len(ids), dtype=torch.bool)
    assert sim.diag().mean() > 0.85 and sim[off].mean() < 0.75  # measured: 0.96 vs 0.57
    assert (sim.argmax(dim=1) == torch.arange(len(ids))).float().mean() >= 0.9


def _randomise_norms(model):
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
        if getattr(m, "affine", False):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)


@pytest.mark.parametrize("name", sorted(OSNET_CONFIGS))
def test_osnet_matches_boxmot_layout(name):
    variants = pytest.importorskip("boxmot.reid.backbones.families.osnet.variants")
    ref = getattr(variants, name)(num_classes=7, pretrained=False)
    ref_sd = ref.state_dict()
    mine = build_model(name, num_classes=7)
    assert [(k, tuple(v.shape)) for k, v in mine.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in ref_sd.items()
    ]
    if name.endswith("x0_25") or name == "osnet_ibn_x1_0":  # same weights -> same embedding (cheap variants)
        _randomise_norms(ref)
        mine.load_state_dict(ref.state_dict(), strict=True)
        x = torch.randn(2, 3, 64, 32)
        with torch.no_grad():
            assert torch.allclose(mine.eval()(x), ref.eval()(x), atol=1e-5)


@pytest.mark.parametrize("name", sorted(OSNET_CONFIGS))
def test_osnet_layout_matches_recorded_community_layout(name):
    """Without BoxMOT installed (CI): every parameter/buffer name and shape, in order, hashes to what BoxMOT 25's
    (torchreid's) OSNet gives (``osnet_layouts.json``, recorded from it with num_classes=7), so the published
    checkpoints of every variant load with strict=True."""
    import hashlib
    import json
    from pathlib import Path

    ref = json.loads((Path(__file__).parent / "osnet_layouts.json").read_text())[name]
    sd = build_model(name, num_classes=7).state_dict()
    listing = "\n".join(f"{k}:{tuple(v.shape)}" for k, v in sd.items())
    assert len(sd) == ref["tensors"] and sum(v.numel() for v in sd.values()) == ref["elements"]
    assert hashlib.sha256(listing.encode()).hexdigest() == ref["sha256"]


def test_osnet_train_contract_and_no_classifier():
    model = build_model("osnet_x0_25", num_classes=4).train()
    out = model(torch.randn(4, 3, 64, 32), torch.tensor([0, 1, 2, 3]))
    assert [t.shape for t in out["logits"]] == [(4, 4)] and [t.shape for t in out["feats"]] == [(4, 512)]
    bare = build_model("osnet_x0_25").train()
    assert not any(k.startswith("classifier") for k in bare.state_dict())
    out = bare(torch.randn(2, 3, 64, 32))
    assert out["logits"] == [] and out["feats"][0].shape == (2, 512)


def test_osnet_imagenet_checkpoint_loads_non_strict(tmp_path):
    src = build_model("osnet_x0_25", num_classes=1000)
    path = tmp_path / "osnet_x0_25_imagenet.pth"
    torch.save({"module." + k: v for k, v in src.state_dict().items()}, path)
    model = build_model("osnet_x0_25", num_classes=751, pretrained_backbone=path)
    assert torch.equal(model.conv1.conv.weight, src.conv1.conv.weight)
    assert model.classifier.weight.shape == (751, 512)
    with pytest.raises(ValueError, match="matches only"):
        build_model("osnet_x1_0", pretrained_backbone=path)  # wrong variant


def test_pretrained_backbone_missing_is_explained(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="resnet50-0676ba61.pth"):
        build_model("bdb", pretrained_backbone=True)
    with pytest.warns(UserWarning, match="random initialisation"):
        build_model("osnet_x0_25", pretrained_backbone="auto")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_model("pmm", pretrained_backbone=tmp_path / "nope.pth")


def test_resnet_imagenet_file_from_hub_cache(tmp_path, monkeypatch):
    from torchvision.models import resnet50

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    tv = resnet50()
    torch.save(tv.state_dict(), tmp_path / "hub" / "checkpoints" / "resnet50-0676ba61.pth")
    model = build_model("bdb", pretrained_backbone=True)
    assert torch.equal(model.backbone.layer4[2].conv3.weight, tv.layer4[2].conv3.weight)


def test_osnet_onnx_dynamic_batch(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    model = build_model("osnet_x0_25").eval()
    path = tmp_path / "m.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(2, 3, 64, 32),), str(path), input_names=["x"], output_names=["f"],
                          dynamic_axes={"x": {0: "n"}, "f": {0: "n"}}, dynamo=False)
    x = torch.randn(5, 3, 64, 32)
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x.numpy()})[0]
    with torch.no_grad():
        assert torch.allclose(torch.from_numpy(got), model(x), atol=1e-4)


# ---------------------------------------------------------------------------------------------- BDB
def test_backbone_last_stride_one(bdb):
    with torch.no_grad():
        assert bdb.backbone.eval()(torch.randn(1, 3, 384, 128)).shape == (1, 2048, 24, 8)


def test_batch_dropblock_single_shared_band():
    drop = BatchDropBlock(0.3, 1.0).train()
    torch.manual_seed(1)
    bands = set()
    for _ in range(20):
        out = drop(torch.ones(3, 2, 24, 8))
        zero = out == 0
        rows = zero.all(dim=3)  # (N, C, H): whole row zeroed
        assert torch.equal(zero, rows.unsqueeze(-1).expand_as(zero))  # only full-width rows are dropped
        assert (rows == rows[0:1, 0:1]).all()  # the same rows for every sample and channel
        idx = rows[0, 0].nonzero().flatten()
        assert len(idx) == round(0.3 * 24) and torch.equal(idx, torch.arange(idx[0], idx[0] + len(idx)))
        bands.add(int(idx[0]))
    assert len(bands) > 3  # the band moves between batches
    x = torch.randn(2, 4, 24, 8)
    assert torch.equal(drop.eval()(x), x)


def test_bdb_train_step_and_eval_contract(bdb):
    x, labels = torch.randn(4, 3, 128, 64), torch.tensor([0, 0, 1, 2])
    captured = []
    handle = bdb.batch_drop.register_forward_hook(lambda m, i, o: captured.append(o.detach()))
    try:
        bdb.train().zero_grad(set_to_none=True)
        out = bdb(x, labels)
        assert [t.shape for t in out["logits"]] == [(4, 5), (4, 5)]
        assert [t.shape for t in out["feats"]] == [(4, 512), (4, 1024)]
        zero_rows = (captured[0] == 0).all(dim=(1, 3))  # (N, H) rows zeroed in every channel
        assert zero_rows.sum(dim=1).eq(round(0.3 * 8)).all() and (zero_rows == zero_rows[0]).all()
        _step(bdb, out, labels)
        bdb.eval()
        with torch.no_grad():
            e = bdb(x)
            assert e.shape == (4, 1536) and torch.equal(e, bdb(x))
            assert torch.allclose(bdb(x[1:3]), e[1:3], atol=1e-4)
        assert not (captured[-1] == 0).all(dim=(1, 3)).any()  # nothing dropped in eval
    finally:
        handle.remove()


# ---------------------------------------------------------------------------------------------- PMM
def test_hard_mix_replaces_the_top_patches_with_another_identity():
    mix = AttentiveHardMix((3, 2), 3)
    n, c, h, w = 4, 5, 24, 8
    fmap = torch.randn(n, c, h, w)
    cam = torch.rand(n, h, w) * 0.1
    hot = [(0, 0), (3, 1), (7, 3)]  # (patch row, patch col) made salient for every sample
    for r, q in hot:
        cam[:, r * 3:(r + 1) * 3, q * 2:(q + 1) * 2] += 5.0
    labels = torch.tensor([0, 0, 1, 1])
    mixed, mask, donors = mix(fmap, cam, labels)
    expect = torch.zeros(h, w, dtype=torch.bool)
    for r, q in hot:
        expect[r * 3:(r + 1) * 3, q * 2:(q + 1) * 2] = True
    assert (mask[:, 0] == expect).all()
    assert (labels[donors] != labels).all()
    for i in range(n):
        assert torch.equal(mixed[i][:, expect], fmap[donors[i]][:, expect])
        assert torch.equal(mixed[i][:, ~expect], fmap[i][:, ~expect])
    # a batch of one identity has no donor: nothing changes
    same, mask1, _ = mix(fmap, cam, torch.zeros(n, dtype=torch.long))
    assert torch.equal(same, fmap) and not mask1.any()


def test_pmm_hard_mix_in_training_uses_autograd_grad(pmm, monkeypatch):
    calls = []
    real_grad = torch.autograd.grad

    def spy(*args, **kwargs):
        calls.append(kwargs.get("retain_graph"))
        return real_grad(*args, **kwargs)

    monkeypatch.setattr(torch.autograd, "grad", spy)
    mixes = []
    handle = pmm.hard_mix.register_forward_hook(lambda m, i, o: mixes.append((i, o)))
    try:
        pmm.train().zero_grad(set_to_none=True)
        x, labels = torch.randn(4, 3, 192, 64), torch.tensor([0, 0, 1, 2])
        out = pmm(x, labels)
        assert calls == [True, True] and len(mixes) == 2
        assert all(p.grad is None for p in pmm.parameters())  # CAMs wrote no gradients
        for (fmap, _cam, lab), (mixed, mask, donors) in mixes:
            assert fmap.shape[-2:] == (12, 4)
            assert mask.sum(dim=(1, 2, 3)).eq(3 * 3 * 2).all()  # exactly 3 patches of 3x2 per sample
            assert (lab[donors] != lab).all()
            m = mask.expand_as(fmap)
            assert torch.equal(mixed[m], fmap[donors][m]) and torch.equal(mixed[~m], fmap[~m])
        assert [t.shape for t in out["logits"]] == [(4, 5)] * 3 and [t.shape for t in out["feats"]] == [(4, 512)] * 3
        _step(pmm, out, labels)  # the graph survived the two CAM gradients
        assert pmm.backbone.conv1.weight.grad is not None and pmm.classifier3.weight.grad.abs().sum() > 0
        mixes.clear()
        pmm(x)  # no labels: no Hard-Mix
        assert not mixes
    finally:
        handle.remove()


def test_pmm_eval_deterministic_and_batch_independent(pmm):
    pmm.eval()
    x = torch.randn(3, 3, 192, 64)
    with torch.no_grad():
        e = pmm(x)
        assert e.shape == (3, 1536) and torch.equal(e, pmm(x))
        assert torch.allclose(pmm(x[2:]), e[2:], atol=1e-4)


# ---------------------------------------------------------------------------------------------- training step
def _step(model, out, labels):
    """CE on every logits + a feature term, backward, one SGD step; the classifier must move."""
    assert len(out["logits"]) == len(out["feats"]) >= 1
    loss = sum(F.cross_entropy(s, labels) for s in out["logits"]) + sum(f.pow(2).mean() for f in out["feats"])
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    classifier = [p for n, p in model.named_parameters() if "classifier" in n][-1]
    before = classifier.detach().clone()
    torch.optim.SGD(model.parameters(), lr=0.01).step()
    assert not torch.equal(before, classifier.detach())


@pytest.mark.parametrize("name", ["osnet_x0_25", "osnet_ain_x0_25"])
def test_osnet_training_step(name):
    torch.manual_seed(0)
    model = build_model(name, num_classes=5).train()
    labels = torch.tensor([0, 0, 3, 4])
    _step(model, model(torch.randn(4, 3, 64, 32), labels), labels)
