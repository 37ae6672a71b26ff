"""Export a ReID network to ONNX, OpenVINO IR or a TensorRT engine, optionally INT8, checked before it is written.

Every exported graph takes ``images``: (B, 3, H, W) float32, RGB, already normalised with the model's mean/std
(what ``Encoder.preprocess`` produces; dynamic batch), and returns ``features``: (B, D) L2-normalised embeddings,
the same as ``Encoder.forward``. ONNX and OpenVINO files record the architecture, weights, mean/std and precision
(``trackreid.reid.runtimes.read_meta``), so ``build_encoder(None, weights=file)`` needs nothing else.

The check runs the file as written (from a temporary name, in the runtime that will run it) against PyTorch on
person crops (``trackreid.reid.crop_sets``: a folder's MOT ground truth or Market layout; a rendered synthetic set
when no folder is given). fp32 (and fp16 engines): every crop's cosine similarity to PyTorch >= ``COSINE_BAR``
(fp16: ``COSINE_BAR_HALF``) and max |diff| <= ``atol``. INT8 (post-training quantisation with NNCF, calibrated on
crops): rank-1 and the same-identity / different-identity cosine margin on a labelled set within ``INT8_TOLERANCE``
of PyTorch fp32. A file that fails is not written, and the ``ExportError`` says why.
"""
from __future__ import annotations

import copy
import io
import json
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

__all__ = ["ExportError", "ExportResult", "export_onnx", "export_openvino", "export_tensorrt", "export",
           "onnx_model_bytes", "FORMATS", "COSINE_BAR", "INT8_TOLERANCE"]

log = logging.getLogger(__name__)
FORMATS = ("onnx", "openvino", "engine")
COSINE_BAR = 0.999  # fp32 exports: min cosine(export, PyTorch) over the check crops
COSINE_BAR_HALF = 0.998  # fp16 exports (TensorRT/ONNX --half)
INT8_TOLERANCE = 0.01  # INT8: rank-1 and same/different-identity margin at most 1 point below fp32's
CHECK_CROPS = 64  # crops the fp32 check runs (evenly spread over the check set)
CHUNK = 32


class ExportError(ValueError):
    """An export could not be made or verified; the message says why."""


@dataclass
class ExportResult:
    """path: the written file (or OpenVINO .xml); max_abs_diff / min_cosine: the fp32 check against PyTorch (None
    if not checked); scores: the INT8 check's retrieval scores, ``{"fp32": {...}, "int8": {...}}``; checked_on:
    what the check crops were."""

    path: Path
    format: str
    max_abs_diff: float | None = None
    min_cosine: float | None = None
    int8: bool = False
    scores: dict = field(default_factory=dict)
    checked_on: str = ""

    def summary(self) -> str:
        if self.int8 and self.scores:
            f, q = self.scores["fp32"], self.scores["int8"]
            return (f"INT8 rank-1 {q['rank1']:.3f} (fp32 {f['rank1']:.3f}), margin {q['margin']:.3f} (fp32 "
                    f"{f['margin']:.3f}) on {self.checked_on}")
        if self.min_cosine is not None:
            return (f"min cosine to PyTorch {self.min_cosine:.5f}, max |diff| {self.max_abs_diff:.1e} on "
                    f"{self.checked_on}")
        return "not checked"


class _Normalised(torch.nn.Module):
    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.normalize(self.model(images), dim=1)


def _load(name: str, weights, model: torch.nn.Module | None):
    """(PyTorch reference encoder, spec). ``weights`` None with no ``model``: refused unless ``"none"``-like
    (``random`` exports go through ``weights="none"``)."""
    from .encoder import Encoder
    from .models.registry import build_model, get_spec
    from .weights import load_weights

    spec = get_spec(name)
    if model is None:
        model = build_model(spec.name, num_classes=0)
        if weights is None or str(weights).strip().lower() == "none":
            warnings.warn(f"exporting {spec.name} with random weights: identities will be poor", stacklevel=3)
        else:
            load_weights(model, weights, arch=spec.name)
    model = copy.deepcopy(model).eval().float().cpu().to(memory_format=torch.contiguous_format)
    return Encoder(model, spec, device="cpu", runtime="torch", batch_size=CHUNK), spec


def _meta(spec, weights, precision: str) -> str:
    w = None if weights is None else (Path(os.fspath(weights)).name if not isinstance(weights, str) or
                                      os.sep in weights or Path(weights).suffix else weights)
    from .thresholds import stored_thresholds

    known = stored_thresholds(weights) if weights is not None else None
    return json.dumps({"format": "trackreid-reid-export", "arch": spec.name, "weights": w,
                       "input_size": list(spec.input_size), "feature_dim": spec.feature_dim,
                       "mean": list(spec.mean), "std": list(spec.std), "precision": precision,
                       **({"thresholds": known.to_dict()} if known is not None else {})})


def _onnx_bytes(net: torch.nn.Module, example: torch.Tensor, opset: int = 17) -> bytes:
    """The ONNX graph of ``net`` traced on ``example``, input ``images`` and output ``features``, both with a
    dynamic batch axis."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (example,), buf, input_names=["images"], output_names=["features"],
                          dynamic_axes={"images": {0: "batch"}, "features": {0: "batch"}},
                          opset_version=opset, do_constant_folding=True, dynamo=False)
    return buf.getvalue()


def onnx_model_bytes(model: torch.nn.Module, input_size: tuple[int, int], opset: int = 17) -> bytes:
    """In-memory ONNX export of an eval-mode fp32 ReID network (L2-normalised output), as the encoder's
    ONNX Runtime / OpenVINO paths use it; ``model`` itself is not modified."""
    net = _Normalised(copy.deepcopy(model).eval().float().cpu().to(memory_format=torch.contiguous_format))
    h, w = input_size
    return _onnx_bytes(net, torch.zeros(2, 3, h, w), opset)


def _with_meta(graph: bytes, meta: str) -> bytes:
    import onnx

    from .runtimes import META_KEY

    model = onnx.load_from_string(graph)
    entry = model.metadata_props.add()
    entry.key, entry.value = META_KEY, meta
    return model.SerializeToString()


# ---- crops for the checks and the calibration ------------------------------------------------------------------
def _check_set(check_data, calib, need_labels: bool):
    """The crops the check runs on: ``check_data``, else ``calib`` when usable, else a synthetic Market set."""
    from .crop_sets import load_crop_set, synthetic_crop_set

    if check_data is not None:
        crops = load_crop_set(check_data)
        if need_labels and not crops.labelled:
            raise ExportError(f"check data {check_data}: the INT8 check needs identities (MOT sequences with "
                              "gt/gt.txt or a Market-1501 layout), found unlabelled images")
        return crops
    if calib is not None:
        crops = load_crop_set(calib if isinstance(calib, (str, Path)) else list(calib)[0])
        if crops.labelled or not need_labels:
            return crops
    return synthetic_crop_set()


def _calibration_inputs(ref, calib, count: int) -> list[np.ndarray]:
    """``count`` model-ready crops (1, 3, H, W) from the ``calib`` folder(s) (:func:`~trackreid.reid.crop_sets.
    calibration_crops`), or synthetic ones without a folder."""
    from .crop_sets import calibration_crops, synthetic_crop_set

    crops = calibration_crops(calib, count) if calib is not None else synthetic_crop_set().sample(count)
    x = torch.cat([ref.preprocess_crops(crops[s:s + CHUNK]) for s in range(0, len(crops), CHUNK)])
    return [x[i:i + 1].numpy() for i in range(len(x))]


def _features(fn, ref, crops: list) -> tuple[np.ndarray, np.ndarray]:
    """(PyTorch features, ``fn``'s features) of ``crops``, L2-normalised, in chunks of ``CHUNK`` (and batch 1
    for the first crop: the batch axis really is dynamic)."""
    ours, theirs = [], []
    for s in range(0, len(crops), CHUNK):
        x = ref.preprocess_crops(crops[s:s + CHUNK])
        ours.append(ref.forward(x).numpy())
        theirs.append(torch.nn.functional.normalize(fn(x).float(), dim=1).numpy())
    one = torch.nn.functional.normalize(fn(ref.preprocess_crops(crops[:1])).float(), dim=1).numpy()
    if not np.allclose(one[0], theirs[0][0], atol=1e-3):
        raise ExportError("the exported graph gives another result for a batch of 1 than for a larger batch")
    return np.concatenate(ours), np.concatenate(theirs)


def _check(fn, ref, crops_set, where, *, int8: bool, half: bool = False, atol: float = 1e-3) -> dict:
    """Compare ``fn`` (a runner) with the PyTorch ``ref`` on ``crops_set``; ``ExportError`` naming ``where``."""
    from .crop_sets import retrieval_scores

    if not int8:
        a, b = _features(fn, ref, crops_set.sample(CHECK_CROPS))
        if a.shape != b.shape:
            raise ExportError(f"{where}: output shape {b.shape}, expected {a.shape}; not written")
        cos = float((a * b).sum(1).min())
        diff = float(np.abs(a - b).max())
        bar = COSINE_BAR_HALF if half else COSINE_BAR
        if not (cos >= bar and diff <= max(atol, 2e-2 if half else atol)):
            raise ExportError(f"{where}: differs from PyTorch on {crops_set.source} (min cosine {cos:.5f}, bar "
                              f"{bar}; max |diff| {diff:.2e}, bar {atol:.0e}); not written")
        return {"min_cosine": cos, "max_abs_diff": diff}
    a, b = _features(fn, ref, crops_set.crops)
    fp, q = retrieval_scores(a, crops_set), retrieval_scores(b, crops_set)
    lost = {k: fp[k] - q[k] for k in ("rank1", "margin")}
    if lost["rank1"] > INT8_TOLERANCE + 1e-9 or lost["margin"] > INT8_TOLERANCE + 1e-9:
        raise ExportError(f"{where}: INT8 loses too much on {crops_set.source} (rank-1 {q['rank1']:.3f} vs fp32 "
                          f"{fp['rank1']:.3f}; margin {q['margin']:.3f} vs {fp['margin']:.3f}; bar: at most "
                          f"{INT8_TOLERANCE:.2f} below); not written. Calibrate on crops closer to yours (--calib)")
    return {"scores": {"fp32": fp, "int8": q}}


def _quantize(model, inputs: list[np.ndarray], input_name: str | None):
    """NNCF post-training INT8 quantisation of an ``openvino.Model`` or ``onnx.ModelProto``."""
    try:
        import nncf
    except ImportError:
        raise ExportError("--int8 needs NNCF for post-training quantisation (pip install nncf)") from None
    transform = (lambda x: {input_name: x}) if input_name else (lambda x: x)
    logging.getLogger("nncf").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The default (symmetric) preset, with the first convolution and the embedding layer kept in fp32: calibrated
        # on synthetic crops only, that keeps OSNet x0.25's identity margin on MOT17 crops 0.003 below fp32's;
        # quantising them too lost 0.010-0.011, and the mixed preset 0.017.
        return nncf.quantize(model, nncf.Dataset(inputs, transform), subset_size=len(inputs),
                             ignored_scope=nncf.IgnoredScope(names=_sensitive_layers(model), validate=False))


def _sensitive_layers(model) -> list[str]:
    """Names of the first convolution and of the fully connected layers of an OpenVINO or ONNX graph."""
    if hasattr(model, "get_ordered_ops"):
        ops = [(o.get_type_name(), o.get_friendly_name()) for o in model.get_ordered_ops()]
        conv, dense = "Convolution", ("MatMul",)
    else:
        ops = [(n.op_type, n.name) for n in model.graph.node]
        conv, dense = "Conv", ("Gemm", "MatMul")
    convs = [name for kind, name in ops if kind == conv]
    return convs[:1] + [name for kind, name in ops if kind in dense]


def _default_output(weights, spec, suffix: str) -> Path:
    """``<weights stem><suffix>`` next to a weights file, in the current folder for a known name (or none)."""
    if weights is None or str(weights).lower() == "none":
        return Path(f"{spec.name}{suffix}")
    path = Path(os.fspath(weights)).expanduser()
    return (path.parent if path.is_file() else Path()) / f"{path.stem}{suffix}"


# ---- formats ---------------------------------------------------------------------------------------------------
def export_onnx(name: str, weights=None, output=None, *, model: torch.nn.Module | None = None, opset: int = 17,
                half: bool = False, batch: int = 8, verify: bool = True, atol: float = 1e-3, int8: bool = False,
                calib=None, calib_count: int = 300, check_data=None) -> ExportResult:
    """Write ``name`` (with ``weights``) as ONNX with a dynamic batch axis, checked in ONNX Runtime against PyTorch
    (see the module docstring) before it takes the name ``output`` (default ``<weights stem or name>.onnx``).

    half: store fp16 weights and I/O (GPU runtimes). int8: NNCF quantisation calibrated on ``calib_count`` crops
    of the ``calib`` folder (synthetic crops when None). check_data: crops folder for the check (default: ``calib``
    when it is labelled, else synthetic). batch: kept for compatibility (the check batch is fixed).
    """
    import onnx  # noqa: F401 - the exporter needs it; fail with a clear ImportError otherwise

    from .runtimes import OrtRunner

    if half and int8:
        raise ExportError("choose --half or --int8, not both")
    ref, spec = _load(name, weights, model)
    suffix = "_int8" if int8 else "_fp16" if half else ""
    output = Path(output) if output is not None else _default_output(weights, spec, f"{suffix}.onnx")
    h, w = spec.input_size
    if half:
        net = _Normalised(copy.deepcopy(ref.model).to(memory_format=torch.contiguous_format).half())
        graph = _onnx_bytes(net, torch.zeros(2, 3, h, w, dtype=torch.float16), opset)
    else:
        graph = onnx_model_bytes(ref.model, spec.input_size, opset)
    if int8:
        import onnx

        q = _quantize(onnx.load_from_string(graph), _calibration_inputs(ref, calib, calib_count), "images")
        graph = q.SerializeToString()
    graph = _with_meta(graph, _meta(spec, weights, "int8" if int8 else "fp16" if half else "fp32"))
    res = ExportResult(output, "onnx", int8=int8)
    if verify:  # run from a temporary name: a failed check leaves no file behind
        crops = _check_set(check_data, calib, need_labels=int8)
        output.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=output.parent, prefix=f".{output.name}.") as tmp:
            part = Path(tmp) / output.name
            part.write_bytes(graph)
            runner = OrtRunner(part, where=str(output))
            got = _check(runner, ref, crops, output, int8=int8, half=half, atol=atol)
        res.checked_on = crops.source
        _fill(res, got)
    from trackreid.io.atomic import write_bytes_atomic

    write_bytes_atomic(output, graph)
    log.info("wrote %s (%s)", output, res.summary())
    return res


def _fill(res: ExportResult, got: dict) -> None:
    res.max_abs_diff = got.get("max_abs_diff")
    res.min_cosine = got.get("min_cosine")
    res.scores = got.get("scores", {})


def export_openvino(name: str, weights=None, output=None, *, model: torch.nn.Module | None = None, opset: int = 17,
                    int8: bool = False, calib=None, calib_count: int = 300, check_data=None, verify: bool = True,
                    atol: float = 1e-3, **_ignored) -> ExportResult:
    """Write ``name`` as an OpenVINO IR (``.xml`` + ``.bin``, fp32 weights, or INT8 with ``int8``), checked in
    OpenVINO against PyTorch before it is moved into place. ``output``: a folder (default
    ``<weights stem>_openvino_model/`` or ``..._int8_openvino_model/``) or an ``.xml`` path. Other arguments as
    :func:`export_onnx`."""
    if _ignored.get("half"):
        raise ExportError("--half is for GPU runtimes (onnx, engine); OpenVINO exports are fp32 or --int8")
    try:
        import openvino as ov
    except ImportError:
        raise ExportError("OpenVINO export needs the openvino package (pip install openvino)") from None
    from .runtimes import OpenVINORunner

    ref, spec = _load(name, weights, model)
    if output is None:
        output = _default_output(weights, spec, "_int8_openvino_model" if int8 else "_openvino_model")
    output = Path(output)
    folder, xml_name = (output.parent, output.name) if output.suffix.lower() == ".xml" else \
        (output, f"{output.name.removesuffix('_openvino_model') or spec.name}.xml")
    ov_model = ov.convert_model(io.BytesIO(onnx_model_bytes(ref.model, spec.input_size, opset)))
    if int8:
        ov_model = _quantize(ov_model, _calibration_inputs(ref, calib, calib_count), None)
    from .runtimes import META_KEY

    ov_model.set_rt_info(_meta(spec, weights, "int8" if int8 else "fp32"), [META_KEY])
    folder.mkdir(parents=True, exist_ok=True)
    res = ExportResult(folder / xml_name, "openvino", int8=int8)
    with tempfile.TemporaryDirectory(dir=folder, prefix=f".{xml_name}.") as tmp:
        part = Path(tmp) / xml_name
        ov.save_model(ov_model, str(part), compress_to_fp16=False)
        if verify:
            crops = _check_set(check_data, calib, need_labels=int8)
            runner = OpenVINORunner(part, where=str(res.path))
            _fill(res, _check(runner, ref, crops, res.path, int8=int8, atol=atol))
            res.checked_on = crops.source
        for src in (part.with_suffix(".bin"), part):  # the weights first: an .xml never points at a missing .bin
            os.replace(src, folder / src.name)
    log.info("wrote %s (%s)", res.path, res.summary())
    return res


def export_tensorrt(name: str, weights=None, output=None, *, model=None, half: bool = True, batch: int = 64,
                    opset: int = 17, workspace_gb: float = 4.0, verify: bool = True, check_data=None,
                    int8: bool = False, **_ignored) -> ExportResult:
    """Build a TensorRT engine (dynamic batch 1..max(``batch``, 256), optimised for ``batch``) from an ONNX export,
    checked against PyTorch on the GPU before it is written. Needs the ``tensorrt`` package and a CUDA GPU;
    raises ``ExportError`` saying so otherwise."""
    if int8:
        raise ExportError("--int8 is made with NNCF for --format onnx or openvino; TensorRT engines are fp32/fp16")
    try:
        import tensorrt as trt
    except ImportError:
        raise ExportError("TensorRT export needs the 'tensorrt' Python package and an NVIDIA GPU "
                          "(pip install tensorrt); use --format onnx here") from None
    if not torch.cuda.is_available():
        raise ExportError("TensorRT export needs a CUDA GPU; none is usable here")
    from .models.registry import get_spec
    from .runtimes import TensorRTRunner

    spec = get_spec(name)
    output = Path(output) if output is not None else _default_output(weights, spec, ".engine")
    onnx_path = output.with_suffix(".onnx")
    export_onnx(name, weights, onnx_path, model=model, opset=opset, check_data=check_data, verify=verify)
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
    res = ExportResult(output, "engine")
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=f".{output.name}.") as tmp:
        part = Path(tmp) / output.name
        part.write_bytes(bytes(engine))
        if verify:
            ref, _ = _load(name, weights, model)
            crops = _check_set(check_data, None, need_labels=False)
            runner = TensorRTRunner(part, "cuda")
            _fill(res, _check(lambda x: runner(x).cpu(), ref, crops, output, int8=False, half=half))
            res.checked_on = crops.source
        os.replace(part, output)
    return res


def export(name: str, weights=None, format: str = "onnx", output=None, **kw) -> ExportResult:
    """Dispatch to ``export_onnx`` / ``export_openvino`` / ``export_tensorrt`` by ``format`` ("onnx", "openvino",
    "engine"/"tensorrt")."""
    fmt = str(format).lower()
    if fmt == "onnx":
        return export_onnx(name, weights, output, **kw)
    if fmt in ("openvino", "ov"):
        return export_openvino(name, weights, output, **kw)
    if fmt in ("engine", "tensorrt", "trt"):
        return export_tensorrt(name, weights, output, **kw)
    raise ExportError(f"format {format!r}: expected one of onnx, openvino, engine (TensorRT)")

