"""OSNet ONNX exports read back as PyTorch checkpoints: same features as ONNX Runtime, a clear error otherwise."""
from __future__ import annotations

import numpy as np
import pytest
import torch

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from trackreid.reid.encoder import build_encoder  # noqa: E402
from trackreid.reid.models.registry import build_model  # noqa: E402
from trackreid.reid.onnx_checkpoint import OnnxCheckpointError, read_onnx_checkpoint  # noqa: E402
from trackreid.reid.weights import load_weights, read_checkpoint  # noqa: E402


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def _third_party_export(model: torch.nn.Module, path, size=(256, 128)) -> None:
    """An export as model zoos make them: eval mode, constants folded (batch norm merged into the convolutions)."""
    import warnings

    kwargs = {"dynamo": False} if "dynamo" in torch.onnx.export.__code__.co_varnames else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(model.eval(), torch.zeros(1, 3, *size), str(path), input_names=["images"],
                          output_names=["output"], opset_version=12, do_constant_folding=True,
                          dynamic_axes={"images": {0: "batch"}, "output": {0: "batch"}}, **kwargs)


@pytest.fixture(scope="module")
def trained_like(tmp_path_factory):
    """A randomly initialised OSNet x0.25 with non-trivial batch-norm statistics, and its folded ONNX export."""
    torch.manual_seed(0)
    model = build_model("osnet_x0_25", num_classes=0)
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.1, 0.1)
    path = tmp_path_factory.mktemp("onnx") / "osnet_x0_25_custom.onnx"
    _third_party_export(model, path)
    return model.eval(), path


def test_folded_export_rebuilds_the_same_network(trained_like):
    model, path = trained_like
    ck = read_checkpoint(path)
    assert ck.kind == "onnx" and ck.arch == "osnet_x0_25" and ck.input_size == (256, 128)
    rebuilt = build_model("osnet_x0_25", num_classes=0)
    rebuilt.load_state_dict(ck.state_dict, strict=True)
    x = torch.randn(4, 3, 256, 128)
    with torch.no_grad():
        want, got = model(x).numpy(), rebuilt.eval()(x).numpy()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    graph = sess.run(None, {"images": x.numpy()})[0]
    assert _cosine(got, graph).min() >= 0.9999 and _cosine(got, want).min() >= 0.9999
    # fine-tuning starts from it: load_weights reads the .onnx like any checkpoint
    fresh = build_model("osnet_x0_25", num_classes=10)
    report = load_weights(fresh, path, arch="osnet_x0_25")
    assert report.kind == "onnx" and report.loaded == len(ck.state_dict)
    assert all(torch.equal(fresh.state_dict()[k], v) for k, v in ck.state_dict.items())


def test_encoder_runs_an_onnx_file_in_pytorch(trained_like):
    _, path = trained_like
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    boxes = np.array([[10, 10, 80, 200], [150, 40, 260, 290], [300, 0, 390, 180]], np.float32)
    in_torch = build_encoder(None, weights=path, device="cpu", runtime="torch")
    in_ort = build_encoder(None, weights=path, device="cpu")
    assert in_torch.model is not None and in_ort.model is None
    a, b = in_torch(frame, boxes), in_ort(frame, boxes)
    a, b = (np.asarray(v.cpu() if hasattr(v, "cpu") else v, np.float32) for v in (a, b))
    assert _cosine(a, b).min() >= 0.999


def test_real_msmt17_export_matches_onnx_runtime_on_real_crops(shared_data):
    from trackreid.reid.crop_sets import load_crop_set

    path = shared_data / "reid" / "osnet_x0_25_msmt17.onnx"
    crops = load_crop_set(shared_data / "mot17-mini")
    boxes_of = [np.array([[0, 0, c.shape[1], c.shape[0]]], np.float32) for c in crops.crops[:48]]
    in_torch = build_encoder(None, weights=path, device="cpu", runtime="torch")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = torch.cat([in_torch.preprocess(c, b) for c, b in zip(crops.crops[:48], boxes_of)]).numpy()
    graph = sess.run(None, {"images": x})[0]
    with torch.no_grad():
        ours = in_torch.model(torch.from_numpy(x)).numpy()
    assert _cosine(ours, graph).min() >= 0.999


def test_not_an_osnet_graph_is_refused_in_one_line(tmp_path):
    path = tmp_path / "tiny.onnx"
    _third_party_export(torch.nn.Sequential(torch.nn.Conv2d(3, 5, 3), torch.nn.ReLU()), path, size=(32, 16))
    with pytest.raises(OnnxCheckpointError) as err:
        read_onnx_checkpoint(path)
    msg = str(err.value)
    assert "\n" not in msg and "tiny.onnx" in msg and "onnxruntime" in msg
