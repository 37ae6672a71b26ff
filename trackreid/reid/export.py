"""Export a ReID network to ONNX (dynamic batch) and, where TensorRT is installed, to a TensorRT engine.

The exported graph takes ``images``: (B, 3, H, W) float32, RGB, already normalised with the model's mean/std (what
``Encoder.preprocess`` produces), and returns ``features``: (B, D) L2-normalised embeddings, the same as
``Encoder.forward``.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

__all__ = ["ExportError", "ExportResult", "export_onnx", "export_tensorrt", "export", "onnx_model_bytes"]

log = logging.getLogger(__name__)
FORMATS = ("onnx", "engine")


class ExportError(ValueError):
    """An export could not be made or verified; the message says why."""


@dataclass
class ExportResult:
    """path: the written file; max_abs_diff: largest |ONNX - PyTorch| on the check batch (None if not checked)."""

    path: Path
    format: str
    max_abs_diff: float | None = None


class _Normalised(torch.nn.Module):
    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.normalize(self.model(images), dim=1)


def _load(name: str, weights, model: torch.nn.Module | None):
    from .models.registry import build_model, get_spec
    from .weights import load_weights

    spec = get_spec(name)
    if model is None:
        model = build_model(spec.name, num_classes=0)
        if weights is None:
            warnings.warn(f"exporting {spec.name} with random weights: identities will be poor", stacklevel=3)
        else:
            load_weights(model, weights, arch=spec.name)
    return _Normalised(model.eval().float().cpu()), spec


def export_onnx(name: str, weights=None, output=None, *, model: torch.nn.Module | None = None, opset: int = 17,
                half: bool = False, batch: int = 8, verify: bool = True, atol: float = 1e-3) -> ExportResult:
    """Write ``name`` (with ``weights``) as ONNX with a dynamic batch axis; by default check it with onnxruntime
    against PyTorch on a random batch of ``batch`` images (max |diff| <= ``atol``, else ``ExportError``).

    half: store fp16 weights and I/O (for GPU runtimes; checked with a looser tolerance). output: file path
    (default ``<weights stem or name>.onnx`` in the current folder).
    """
    import onnx  # noqa: F401 - the exporter needs it; fail with a clear ImportError otherwise

    wrapped, spec = _load(name, weights, model)
    if output is None:
        stem = Path(str(weights)).stem if weights is not None else spec.name
        output = Path(f"{stem}{'_fp16' if half else ''}.onnx")
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    h, w = spec.input_size
    torch.manual_seed(0)
    x = torch.randn(max(batch, 2), 3, h, w)
    with torch.inference_mode():
        ref = wrapped(x).numpy()
    net, inp = (wrapped, x) if not half else (_half_copy(wrapped), x.half())
    tmp = output.with_name(output.name + ".part")
    diff = None
    try:
        tmp.write_bytes(_onnx_bytes(net, inp, opset))
        if verify:  # checked before it takes the output's name: a failed check leaves no bad file behind
            diff = _check_onnx(tmp, x.numpy().astype(np.float16 if half else np.float32), ref,
                               atol if not half else max(atol, 2e-2), name=output)
        tmp.replace(output)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("wrote %s (max |onnx - torch| = %s)", output, diff)
    return ExportResult(output, "onnx", diff)


def _onnx_bytes(net: torch.nn.Module, example: torch.Tensor, opset: int = 17) -> bytes:
    """The ONNX graph of ``net`` traced on ``example``, input ``images`` and output ``features``, both with a
    dynamic batch axis."""
    import io

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (example,), buf, input_names=["images"], output_names=["features"],
                          dynamic_axes={"images": {0: "batch"}, "features": {0: "batch"}},
                          opset_version=opset, do_constant_folding=True, dynamo=False)
    return buf.getvalue()


def onnx_model_bytes(model: torch.nn.Module, input_size: tuple[int, int], opset: int = 17) -> bytes:
    """In-memory ONNX export of an eval-mode fp32 ReID network (L2-normalised output), as the encoder's
    onnxruntime path uses it; ``model`` itself is not modified."""
    import copy

    net = _Normalised(copy.deepcopy(model).eval().float().cpu().to(memory_format=torch.contiguous_format))
    h, w = input_size
    return _onnx_bytes(net, torch.zeros(2, 3, h, w), opset)


def _half_copy(module: torch.nn.Module) -> torch.nn.Module:
    import copy

    return copy.deepcopy(module).half()


def _check_onnx(path: Path, x: np.ndarray, ref: np.ndarray, atol: float, name: Path | None = None) -> float:
    """Max |onnxruntime - PyTorch| of the graph at ``path`` on two batch sizes; ``ExportError`` (naming ``name``)
    if it exceeds ``atol`` or the shapes differ."""
    name = name or path
    try:
        import onnxruntime as ort
    except ImportError:
        log.warning("onnxruntime is not installed; %s was not checked (pip install onnxruntime)", name)
        return float("nan")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    diff = 0.0
    for xb, rb in ((x, ref), (x[:1], ref[:1])):  # two batch sizes: the batch axis really is dynamic
        out = sess.run(["features"], {"images": xb})[0].astype(np.float32)
        if out.shape != rb.shape:
            raise ExportError(f"{name}: ONNX output shape {out.shape}, expected {rb.shape}")
        diff = max(diff, float(np.abs(out - rb).max()))
    if not diff <= atol:
        raise ExportError(f"{name}: ONNX output differs from PyTorch by {diff:.2e} (> {atol:.0e}); not written")
    return diff


def export_tensorrt(name: str, weights=None, output=None, *, model=None, half: bool = True, batch: int = 64,
                    opset: int = 17, workspace_gb: float = 4.0) -> ExportResult:
    """Build a TensorRT engine (dynamic batch 1..max(``batch``, 256), optimised for ``batch``) from an ONNX export.
    Needs the ``tensorrt`` package and a CUDA GPU; raises ``ExportError`` saying so otherwise."""
    try:
        import tensorrt as trt
    except ImportError:
        raise ExportError("TensorRT export needs the 'tensorrt' Python package and an NVIDIA GPU "
                          "(pip install tensorrt); use --format onnx here") from None
    if not torch.cuda.is_available():
        raise ExportError("TensorRT export needs a CUDA GPU; none is usable here")
    from .models.registry import get_spec

    spec = get_spec(name)
    output = Path(output) if output is not None else Path(
        f"{Path(str(weights)).stem if weights is not None else spec.name}.engine")
    onnx_path = output.with_suffix(".onnx")
    export_onnx(name, weights, onnx_path, model=model, opset=opset, batch=min(batch, 8))
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if int(trt.__version__.split(".")[0]) < 10:  # TensorRT 8.x needs explicit batch asked for (10 has nothing else)
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errs = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ExportError(f"TensorRT could not parse {onnx_path}: {errs}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gb * (1 << 30)))
    if half and builder.platform_has_fast_fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    h, w = spec.input_size
    profile = builder.create_optimization_profile()
    # any batch from 1 to 256 (the encoder's chunks are up to 64 crops), tuned for ``batch``
    profile.set_shape("images", (1, 3, h, w), (batch, 3, h, w), (max(batch, 256), 3, h, w))
    config.add_optimization_profile(profile)
    engine = builder.build_serialized_network(network, config)
    if engine is None:
        raise ExportError("TensorRT failed to build the engine (see its log above)")
    output.write_bytes(bytes(engine))
    return ExportResult(output, "engine")


def export(name: str, weights=None, format: str = "onnx", output=None, **kw) -> ExportResult:
    """Dispatch to ``export_onnx`` / ``export_tensorrt`` by ``format`` ("onnx" or "engine"/"tensorrt")."""
    fmt = str(format).lower()
    if fmt == "onnx":
        return export_onnx(name, weights, output, **kw)
    if fmt in ("engine", "tensorrt", "trt"):
        return export_tensorrt(name, weights, output, **kw)
    raise ExportError(f"format {format!r}: expected one of onnx, engine (TensorRT)")
