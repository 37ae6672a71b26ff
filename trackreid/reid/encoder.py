"""The appearance encoder: (BGR frame, boxes) -> L2-normalised embeddings, with crops cut on the device.

Per frame the image goes to the device once (as uint8); every box is cut and resized there in one batched
``torchvision.ops.roi_align`` call (bilinear, ``aligned=True``, with adaptive sampling so that large boxes are
averaged rather than aliased when shrunk), then BGR -> RGB, /255 and the model's mean/std, and one forward per chunk
of ``batch_size`` crops. On CUDA the network runs in PyTorch, fp16 and channels_last. On the CPU, by default
(``runtime="auto"``), the fastest candidate measured on this machine (once per machine, model and batch range, then
cached; ``trackreid.reid.runtime_choice``): ONNX Runtime fp32 and OpenVINO fp32 (in-memory ONNX exports checked
against PyTorch when the encoder is built) and, for OSNet x0.25 with its default weights, the INT8 OpenVINO export
bundled with them (checked within 1 point of fp32 rank-1 and identity margin); with neither runtime installed,
PyTorch with channels_last. ``runtime=`` picks one without measuring (``benchmarks/reid_speed.py`` measures them
all). An exported file (``.onnx``, OpenVINO IR, TensorRT ``.engine``) passed as ``weights`` runs in
its own runtime with the same preprocessing (``trackreid.reid.runtimes``).
The CPU path runs the same roi_align arithmetic in fp32 (box by box from small regions, spread over the intra-op
threads, because there converting the whole frame to float costs more than the crops), so features agree within
floating-point tolerance.

Boxes are clipped to the frame. A box that is empty after clipping (entirely outside the frame, or zero-size) still
gets a row, cut from a 1-pixel box at the nearest border, so row ``i`` of the output always belongs to box ``i``;
such rows carry no identity information.
"""
from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from trackreid.types import validate_frame

from .runtimes import OpenVINORunner as _OpenVINORunner
from .runtimes import OrtRunner as _OrtRunner
from .runtimes import _streams as _check_streams
from .thresholds import stored_thresholds
from .runtimes import default_threads, file_format, load_runner, onnxruntime_available, openvino_available

__all__ = ["Encoder", "build_encoder", "resolve_torch_device"]


NO_WEIGHTS_WARNING = (
    "ReID encoder {name!r} has NO trained weights: it is randomly initialised, so its embeddings barely separate "
    "people and identities will be poor (ID switches after occlusions). Pass weights=... (a file or a known name "
    "such as 'osnet_x0_25_market1501'; see trackreid.reid.weights.known_weights()), or use 'osnet_x0_25', whose "
    "trained weights ship with trackreid."
)


def resolve_torch_device(device="auto") -> torch.device:
    """``"auto"`` -> the first CUDA GPU when usable, else CPU; ``"cuda"``/``"cuda:N"``/``N`` require that GPU."""
    if isinstance(device, torch.device):
        d = str(device)
    else:
        d = "auto" if device is None else str(device).strip().lower()
    if d.isdigit():
        d = f"cuda:{d}"
    if d == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    if d == "cpu":
        return torch.device("cpu")
    if d == "cuda" or (d.startswith("cuda:") and d[5:].isdigit()):
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} requested but no CUDA GPU is usable here "
                             "(torch.cuda.is_available() is False); use device cpu or auto")
        idx = int(d[5:]) if ":" in d else 0
        if idx >= torch.cuda.device_count():
            raise ValueError(f"device {device!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
        return torch.device(f"cuda:{idx}")
    if d == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ValueError("device 'mps' requested but Apple MPS is not available here")
        return torch.device("mps")
    raise ValueError(f"device {device!r}: expected auto, cpu, cuda, cuda:N or mps")


_POOL = None

RUNTIMES = ("auto", "torch", "onnxruntime", "openvino")
# the in-memory fp32 candidates runtime="auto" measures on the CPU (trackreid.reid.runtime_choice); ONNX Runtime is
# the baseline another candidate must clearly beat
CPU_AUTO_ORDER = ("onnxruntime", "openvino")
_AVAILABLE = {"onnxruntime": lambda: _onnxruntime_available(), "openvino": lambda: _openvino_available()}
_INSTALL = {"onnxruntime": "pip install onnx onnxruntime", "openvino": "pip install onnx openvino"}


def _onnxruntime_available() -> bool:
    return onnxruntime_available()


def _openvino_available() -> bool:
    return openvino_available() and onnxruntime_available()  # onnx writes the graph OpenVINO reads


def _cpu_pool(workers: int):
    """A shared thread pool for splitting CPU roi_align calls (created on first use, grown when needed)."""
    global _POOL
    if _POOL is None or _POOL._max_workers < workers:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="trackreid-pool-crop")
    return _POOL


def _roi_align(img: torch.Tensor, rois: torch.Tensor, size, sampling_ratio: int) -> torch.Tensor:
    from torchvision.ops import roi_align

    return roi_align(img, rois, output_size=size, spatial_scale=1.0, sampling_ratio=sampling_ratio, aligned=True)


def _region(b: np.ndarray, w: int, h: int) -> tuple[int, int, int, int]:
    """Integer x0, y0, x1, y1 covering boxes ``b`` plus a 1-pixel margin, inside the frame."""
    return (max(int(np.floor(b[:, 0].min())) - 1, 0), max(int(np.floor(b[:, 1].min())) - 1, 0),
            min(int(np.ceil(b[:, 2].max())) + 1, w), min(int(np.ceil(b[:, 3].max())) + 1, h))


def _axis_taps(start: float, end: float, out: int, size: int, sampling_ratio: int):
    """roi_align (aligned=True) along one axis as taps: ``(out, T)`` pixel indices and weights whose weighted
    sum gives each output position the mean of its bin's bilinear samples (zero weight outside the image, edges
    clamped as torchvision does)."""
    start, length = start - 0.5, end - start
    grid = sampling_ratio if sampling_ratio > 0 else int(np.ceil(length / out))
    if grid <= 0:
        return np.zeros((out, 1), np.intp), np.zeros((out, 1), np.float32)
    bin_size = length / out
    pos = start + np.arange(out)[:, None] * bin_size + (np.arange(grid)[None, :] + 0.5) * (bin_size / grid)
    valid = (pos >= -1.0) & (pos <= size)
    pos = np.maximum(pos, 0.0)
    low = np.minimum(pos.astype(np.intp), size - 1)
    pos = np.where(low >= size - 1, low, pos)
    high = np.minimum(low + 1, size - 1)
    frac = (pos - low) * valid
    idx = np.concatenate([low, high], axis=1)
    w = np.concatenate([valid - frac, frac], axis=1) / grid
    return idx, w.astype(np.float32)


def _cut_boxes_cpu(frame: torch.Tensor, boxes: np.ndarray, size, sampling_ratio: int) -> torch.Tensor:
    """(k, 3, h, w) float crops of ``boxes`` from the uint8 (H, W, 3) ``frame``: torchvision's
    ``roi_align(aligned=True)`` to float rounding, computed as weighted sums of pixel rows, then of columns (its
    sampling grid is separable). It reads only the pixels the crop needs, takes no intra-op threads (roi_align's
    barriers stall on a busy machine) and costs a fraction of roi_align on the CPU."""
    img = frame.numpy() if isinstance(frame, torch.Tensor) else frame
    hh, ww = img.shape[:2]
    oh, ow = size
    out = np.empty((len(boxes), 3, oh, ow), np.float32)
    for i, (x1, y1, x2, y2) in enumerate(boxes.tolist()):
        ri, rw = _axis_taps(y1, y2, oh, hh, sampling_ratio)
        ci, cw = _axis_taps(x1, x2, ow, ww, sampling_ratio)
        c0 = int(ci.min())
        reg = img[:, c0:int(ci.max()) + 1]
        rows = rw[:, 0, None, None] * reg[ri[:, 0]]                    # (oh, w, 3)
        for t in range(1, ri.shape[1]):
            rows += rw[:, t, None, None] * reg[ri[:, t]]
        rows = rows.transpose(1, 0, 2)                                  # (w, oh, 3)
        ci -= c0
        acc = cw[:, 0, None, None] * rows[ci[:, 0]]                     # (ow, oh, 3)
        for t in range(1, ci.shape[1]):
            acc += cw[:, t, None, None] * rows[ci[:, t]]
        out[i] = acc.transpose(2, 1, 0)
    return torch.from_numpy(out)


def _as_boxes(boxes) -> np.ndarray:
    """(N, >=4) array-like -> float32 (N, 4) xyxy; only the first four columns are read, so (N, 6) detections
    can be passed as they are."""
    if boxes is None:
        return np.empty((0, 4), np.float32)
    arr = np.asarray(boxes)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"boxes: expected a numeric (N, 4) array of x1,y1,x2,y2, got dtype {arr.dtype}")
    if arr.size == 0:
        return np.empty((0, 4), np.float32)
    if arr.ndim != 2 or arr.shape[1] < 4:
        raise ValueError(f"boxes: expected shape (N, 4) as x1,y1,x2,y2, got {arr.shape}")
    arr = np.ascontiguousarray(arr[:, :4], dtype=np.float32)
    if not np.isfinite(arr).all():
        raise ValueError(f"boxes: rows {np.flatnonzero(~np.isfinite(arr).all(1))[:10].tolist()} contain NaN or inf")
    inv = (arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1])
    if inv.any():
        i = int(np.flatnonzero(inv)[0])
        raise ValueError(f"boxes: {int(inv.sum())} inverted box(es), e.g. row {i} = {arr[i].tolist()}; expected "
                         "x1,y1,x2,y2 with x2 >= x1 and y2 >= y1 (convert xywh first)")
    return arr


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Clip xyxy boxes to the frame; boxes left empty become 1-pixel boxes at the nearest border."""
    b = boxes.copy()
    np.clip(b[:, 0::2], 0.0, width, out=b[:, 0::2])
    np.clip(b[:, 1::2], 0.0, height, out=b[:, 1::2])
    for lo, hi, size in ((0, 2, width), (1, 3, height)):
        empty = b[:, hi] - b[:, lo] < 1.0
        if empty.any():
            start = np.minimum(b[empty, lo], size - 1.0)
            b[empty, lo] = start
            b[empty, hi] = start + 1.0
    return b


class Encoder:
    """Turns (frame, boxes) into (N, D) float32 L2-normalised embeddings (see the module docstring).

    model: the network (eval mode is set here), or None when ``runner`` runs an exported file; spec: its
    ``ModelSpec`` (input size, mean, std, feature_dim). device: where crops are cut and the network runs.
    half: fp16 (CUDA only; None = on CUDA). batch_size: crops per forward; bigger N is split into chunks of this
    size. sampling_ratio: roi_align samples per output pixel per axis; 0 (default) adapts to the box size
    (ceil(box / output)), which averages when shrinking large boxes instead of aliasing.
    runtime: what runs ``model``: "torch", "onnxruntime" or "openvino" (CPU only; an in-memory ONNX export), or
    "auto" (default: on the CPU the fastest of ``CPU_AUTO_ORDER`` and ``cpu_exports`` measured on this machine,
    see ``trackreid.reid.runtime_choice``; else torch). An in-memory graph is
    checked against PyTorch on one batch when built; if they disagree (max |diff| > 1e-3) or the export fails,
    the encoder warns and stays on torch. threads: cores the ONNX Runtime / OpenVINO runtime uses (None:
    ``runtimes.default_threads()``, all cores); streams: concurrent inferences splitting each batch, ``threads //
    streams`` threads each (None: one per thread; 1: one inference on every thread, the old way; see
    ``trackreid.reid.runtimes``). runner: a ready runner from
    ``trackreid.reid.runtimes.load_runner`` (an exported file); it decides the runtime and device, ``model`` is
    then None. thresholds: see the attribute. cpu_exports: exported files of the same weights (candidate name ->
    path) that ``runtime="auto"`` also measures on the CPU; one that wins runs instead of ``model``
    (``build_encoder`` passes the bundled INT8 export of default weights).
    """

    def __init__(self, model: torch.nn.Module | None, spec, device="auto", half: bool | None = None,
                 batch_size: int = 64, sampling_ratio: int = 0, weights_report=None, runtime: str = "auto",
                 threads: int | None = None, runner=None, streams: int | None = None, thresholds=None,
                 weights_name: str | None = None, weights_path=None, cpu_exports: dict | None = None):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
        if runner is None and runtime not in RUNTIMES:
            raise ValueError(f"runtime {runtime!r}: expected one of {', '.join(RUNTIMES)}")
        self.device = runner.device if runner is not None else resolve_torch_device(device)
        self.threads = threads if threads is not None else default_threads()
        if streams is not None:
            _check_streams(streams, self.threads)  # a bad setting is an error, not a silent fallback to torch
        self.streams = streams
        if runner is None and runtime in _AVAILABLE:
            if self.device.type != "cpu":
                raise ValueError(f"runtime {runtime!r} runs on the CPU; on {self.device} use runtime='torch' "
                                 "(fp16, channels_last) or 'auto'")
            if not _AVAILABLE[runtime]():
                raise ValueError(f"runtime {runtime!r} needs its package ({_INSTALL[runtime]})")
        elif runner is None and runtime == "auto" and self.device.type != "cpu":
            runtime = "torch"
        if half and self.device.type != "cuda":
            warnings.warn(f"half=True is for CUDA; running fp32 on {self.device}", stacklevel=2)
            half = False
        elif runner is not None:
            half = False  # an exported file's precision is in the file
        elif half is None:
            half = self.device.type == "cuda"
        self.half = bool(half)
        self.spec = spec
        self.dim = int(spec.feature_dim)
        self.input_size = tuple(int(v) for v in spec.input_size)
        self.batch_size = batch_size
        self.sampling_ratio = int(sampling_ratio)
        self.weights_report = weights_report
        self.weights_name = weights_name
        """The known weights (a ``weights/manifest.json`` name) this network holds, when known."""
        self.weights_path = Path(os.fspath(weights_path)) if weights_path is not None else None
        """The file the weights were read from (a checkpoint or an exported model); None: untrained."""
        self._sha256: str | None = None
        self.thresholds = thresholds
        """Distance thresholds on this encoder's scale (:class:`~trackreid.reid.thresholds.EncoderThresholds`), when
        its weights are known; None: the tracker's defaults apply."""
        self.dtype = torch.float16 if self.half else torch.float32
        self.model = None
        if model is not None:
            self.model = model.eval().to(self.device)
            if self.half:
                self.model = self.model.half()
        self.runtime_choice: dict | None = None
        """How ``runtime="auto"`` chose the CPU runtime (``trackreid.reid.runtime_choice``): the chosen candidate,
        ms per crop of each, whether the choice came from the cache; None when a runtime was forced or off the
        CPU."""
        if runner is None and runtime == "auto":
            runner = self._auto_cpu_runner(cpu_exports or {})
        elif runner is None and runtime in _AVAILABLE:
            runner = self._build_runtime(runtime)
        self._runner = runner
        self.runtime = self._runner.name if self._runner is not None else "torch"
        self.streams = getattr(self._runner, "streams", 1)
        # channels_last: faster convolutions with cuDNN fp16 and with oneDNN on CPU (~1.3x for OSNet x0.25 there)
        self.channels_last = self._runner is None and self.device.type in ("cuda", "cpu")
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        # x_norm = x_bgr_flipped * scale + bias  (== (x / 255 - mean) / std, per RGB channel)
        mean = torch.tensor(spec.mean, dtype=torch.float32)
        std = torch.tensor(spec.std, dtype=torch.float32)
        self._scale = (1.0 / (255.0 * std)).view(1, 3, 1, 1).to(self.device)
        self._bias = (-mean / std).view(1, 3, 1, 1).to(self.device)
        self._scale_np, self._bias_np = self._scale.cpu().numpy(), self._bias.cpu().numpy()
        self._pinned: torch.Tensor | None = None
        self._uploaded = None  # CUDA event: the last copy out of the pinned buffer has completed

    def _auto_cpu_runner(self, exports: dict):
        """``runtime="auto"`` on the CPU: the runner of the candidate ``trackreid.reid.runtime_choice`` measures
        fastest here (or has cached): ONNX Runtime / OpenVINO fp32 in-memory exports and ``exports`` (candidate name
        -> an exported file of the same weights, e.g. the bundled INT8 export); None (torch) when none runs. An
        exported file that wins replaces the PyTorch model (``weights_path`` / ``weights_report`` name it)."""
        from functools import partial

        from . import runtime_choice

        graph: dict = {}  # the in-memory ONNX export and PyTorch's check output, made once for both fp32 candidates
        cands = {f"{r}-fp32": partial(self._build_runtime, r, auto=True, graph=graph)
                 for r in CPU_AUTO_ORDER if _AVAILABLE[r]()}
        cands.update({name: partial(self._export_runner, path) for name, path in exports.items()})
        if not cands:
            return None
        batches = sorted({min(b, self.batch_size) for b in runtime_choice.BATCHES})
        model = {"arch": self.spec.name, "fingerprint": self.fingerprint(), "input_size": list(self.input_size)}
        choice = runtime_choice.choose(cands, model=model, threads=self.threads,
                                       streams=_check_streams(self.streams, self.threads),
                                       input_size=self.input_size, batches=batches)
        self.runtime_choice = choice.report
        if choice.name in exports:
            path = exports[choice.name]
            self.model = None
            self.weights_path = Path(os.fspath(path))
            self._sha256 = None
            self.weights_report = _file_report(choice.runner.name, choice.runner.info.meta, path)
        return choice.runner

    def _export_runner(self, path):
        """A runner for an exported file of this encoder's weights, or None (with a warning) when it cannot run
        or does not fit (another input or embedding size)."""
        try:
            runner = load_runner(path, "cpu", self.threads, self.streams)
        except ValueError as exc:
            warnings.warn(f"{exc}; it is left out of the CPU runtime choice", stacklevel=4)
            return None
        if tuple(runner.info.input_size) != self.input_size or runner.info.dim != self.dim:
            warnings.warn(f"{os.fspath(path)} takes {runner.info.input_size} crops and gives {runner.info.dim} "
                          f"values, not {self.input_size} and {self.dim}; it is left out of the CPU runtime choice",
                          stacklevel=4)
            return None
        return runner

    def _build_runtime(self, runtime: str, auto: bool = False, graph: dict | None = None):
        """The in-memory ONNX Runtime / OpenVINO runner for the CPU, checked against PyTorch; None (torch is used;
        with ``auto``, the runtime is left out of the choice) if the export or the runtime fails or the two
        disagree. ``graph``: a dict keeping the ONNX export and PyTorch's reference output for the next call."""
        from .export import onnx_model_bytes

        instead = "it is left out of the CPU runtime choice" if auto else "the encoder runs in PyTorch instead"
        memo = {} if graph is None else graph
        try:
            if "onnx" not in memo:
                memo["onnx"] = onnx_model_bytes(self.model, self.input_size)
            runner = (_OrtRunner(memo["onnx"], self.threads, where=f"{self.spec.name} (in-memory ONNX)",
                                 streams=self.streams)
                      if runtime == "onnxruntime" else
                      _OpenVINORunner(memo["onnx"], self.threads, where=f"{self.spec.name} (in-memory OpenVINO)",
                                      streams=self.streams))
        except Exception as exc:  # noqa: BLE001 - any exporter/runtime failure: PyTorch still works
            warnings.warn(f"{self.spec.name} could not run in {runtime} ({type(exc).__name__}: "
                          f"{' '.join(str(exc).split())[:200]}); {instead}", stacklevel=3)
            return None
        x = torch.randn((2, 3, *self.input_size), generator=torch.Generator().manual_seed(0))
        with torch.inference_mode():
            if "ref" not in memo:
                memo["ref"] = torch.nn.functional.normalize(self.model(x).float(), dim=1)
            ref = memo["ref"]
            got = torch.nn.functional.normalize(runner(x).float(), dim=1)
        diff = float((got - ref).abs().max()) if got.shape == ref.shape else float("inf")
        if not diff <= 1e-3:
            warnings.warn(f"{runtime} output of {self.spec.name} differs from PyTorch by {diff:.1e}; {instead}",
                          stacklevel=3)
            return None
        return runner

    def __repr__(self) -> str:
        return (f"Encoder({self.spec.name}, dim={self.dim}, device={self.device}, runtime={self.runtime}, "
                f"threads={self.threads}, streams={self.streams}, "
                f"half={self.half}, "
                f"input={self.input_size[0]}x{self.input_size[1]}, batch_size={self.batch_size})")

    @property
    def weights_sha256(self) -> str | None:
        """sha256 of the weights file (an OpenVINO model's ``.bin``), computed once; None when untrained."""
        if self._sha256 is None and self.weights_path is not None:
            from .runtimes import _ir_xml
            from .weights import sha256_file

            p = self.weights_path
            if file_format(p) == "openvino":
                p = _ir_xml(p).with_suffix(".bin")
            self._sha256 = sha256_file(p) if p.is_file() else None
        return self._sha256

    def describe(self) -> dict:
        """What runs, for ``summary.json``: architecture, embedding size, weights (known name, file, sha256 prefix),
        runtime, precision, device, and how ``runtime="auto"`` chose the CPU runtime (``runtime_choice``)."""
        meta = getattr(getattr(self._runner, "info", None), "meta", None) or {}
        digest = self.weights_sha256
        return {"arch": self.spec.name, "dim": self.dim, "weights": self.weights_name,
                "file": str(self.weights_path) if self.weights_path is not None else None,
                "sha256": digest[:16] if digest else None, "runtime": self.runtime,
                "precision": meta.get("precision") or ("fp16" if self.half else "fp32"), "device": str(self.device),
                "runtime_choice": self.runtime_choice}

    def fingerprint(self) -> str:
        """Which embedding space this encoder's vectors live in: architecture, size and weights (the known name,
        else the file's sha256 prefix), the same for every runtime and precision of one network. Memory files
        record it so that identities are never compared across encoders."""
        if self.weights_name:
            net = self.weights_name
        elif self.weights_sha256:
            net = "sha256:" + self.weights_sha256[:16]
        else:
            net = "untrained"
        return f"{self.spec.name}/{self.dim}/{net}"

    # ---- preprocessing ------------------------------------------------------------------------------------------
    def _upload(self, frame: np.ndarray) -> torch.Tensor:
        """The (H, W, 3) uint8 frame on the device, through a reused pinned buffer on CUDA."""
        src = torch.from_numpy(np.ascontiguousarray(frame))
        if self.device.type != "cuda":
            return src.to(self.device)
        if self._pinned is None or self._pinned.shape != src.shape:
            self._pinned = torch.empty(src.shape, dtype=torch.uint8, pin_memory=True)
            self._uploaded = torch.cuda.Event()
        else:
            self._uploaded.synchronize()  # the previous frame's copy must have left the buffer before it is reused
        self._pinned.copy_(src)
        out = self._pinned.to(self.device, non_blocking=True)
        self._uploaded.record(torch.cuda.current_stream(self.device))
        return out

    def _normalise(self, crops: torch.Tensor) -> torch.Tensor:
        """(N, 3, h, w) float BGR 0..255 -> model input (RGB, mean/std, dtype and memory format)."""
        x = torch.flip(crops, dims=(1,)).mul_(self._scale).add_(self._bias)
        if self.half:
            x = x.to(self.dtype)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _prepare(self, frame: np.ndarray, boxes):
        """Upload the frame once. On an accelerator: the (1, 3, h, w) float32 region the boxes cover and their
        (N, 5) rois. On CPU: the uint8 frame tensor and the clipped (N, 4) boxes (cut box by box, see ``_cut``)."""
        frame = validate_frame(frame)
        h, w = frame.shape[:2]
        b = clip_boxes(_as_boxes(boxes), w, h)
        if self.device.type == "cpu":
            return torch.from_numpy(np.ascontiguousarray(frame)), b
        # Only the region the boxes cover is converted to float. This is exact: with a 1-pixel margin every
        # bilinear tap roi_align takes lies inside it, and at the frame border both clamp the same way.
        x0, y0, x1, y1 = _region(b, w, h)
        img = self._upload(frame)[y0:y1, x0:x1]
        img = img.permute(2, 0, 1).unsqueeze(0).to(torch.float32, memory_format=torch.contiguous_format)
        b[:, 0::2] -= x0
        b[:, 1::2] -= y0
        rois = np.concatenate([np.zeros((len(b), 1), np.float32), b], axis=1)
        return img, torch.from_numpy(rois).to(self.device, non_blocking=True)

    def _cut(self, img, rois) -> torch.Tensor:
        """Crops at the model's input size, normalised. On an accelerator one roi_align call cuts every box. On
        CPU each box is cut from the pixels it needs (``_cut_boxes_cpu``), with the boxes shared among the
        intra-op threads; the arithmetic is the same."""
        if self.device.type != "cpu":
            return self._normalise(_roi_align(img, rois, self.input_size, self.sampling_ratio))
        parts = min(torch.get_num_threads(), len(rois) // 4)
        if parts <= 1:
            return self._normalise_cpu(_cut_boxes_cpu(img, rois, self.input_size, self.sampling_ratio).numpy())
        pool = _cpu_pool(parts)
        futs = [pool.submit(_cut_boxes_cpu, img, r, self.input_size, self.sampling_ratio)
                for r in np.array_split(rois, parts)]
        return self._normalise_cpu(np.concatenate([f.result().numpy() for f in futs]))

    def _normalise_cpu(self, crops: np.ndarray) -> torch.Tensor:
        """:meth:`_normalise` of CPU crops (N, 3, h, w) in numpy, on the calling thread: the same arithmetic
        without torch's intra-op threads, which on a busy 2-core machine wait milliseconds for a core right after
        an inference (the ReID runtime's own threads still spin): 19 ms instead of 1.7 ms per frame measured."""
        x = crops[:, ::-1] * self._scale_np
        x += self._bias_np
        t = torch.from_numpy(x)
        if self.half:
            t = t.to(self.dtype)
        if self.channels_last:
            t = t.contiguous(memory_format=torch.channels_last)
        return t

    def preprocess(self, frame: np.ndarray, boxes) -> torch.Tensor:
        """Model-ready crops (N, 3, H, W) of ``boxes`` in ``frame``, cut on the device in one batch."""
        if len(_as_boxes(boxes)) == 0:
            validate_frame(frame)
            return torch.empty((0, 3, *self.input_size), dtype=self.dtype, device=self.device)
        return self._cut(*self._prepare(frame, boxes))

    # ---- inference ----------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Model-ready batch -> (N, D) float32 L2-normalised features on the device, in chunks of batch_size."""
        n = x.shape[0]
        out = torch.empty((n, self.dim), dtype=torch.float32, device=self.device)
        run = self._runner if self._runner is not None else self.model
        for s in range(0, n, self.batch_size):
            out[s:s + self.batch_size] = run(x[s:s + self.batch_size]).float()
        return torch.nn.functional.normalize(out, dim=1)

    @torch.inference_mode()
    def __call__(self, frame: np.ndarray, boxes) -> np.ndarray:
        """Embeddings (N, D) float32, L2-normalised, row i for box i; (0, D) for no boxes."""
        b = _as_boxes(boxes)
        n = len(b)
        if n == 0:
            validate_frame(frame)
            return np.empty((0, self.dim), np.float32)
        img, rois = self._prepare(frame, b)
        if n <= self.batch_size:
            return self.forward(self._cut(img, rois)).cpu().numpy()
        # Large N: one upload, then cut and run one chunk at a time so crop memory stays bounded.
        out = torch.empty((n, self.dim), dtype=torch.float32, device=self.device)
        for s in range(0, n, self.batch_size):
            out[s:s + self.batch_size] = self.forward(self._cut(img, rois[s:s + self.batch_size]))
        return out.cpu().numpy()

    embed = __call__

    @staticmethod
    def _as_crops(crops) -> list:
        if isinstance(crops, np.ndarray) and crops.ndim == 3:
            crops = [crops]
        crops = list(crops)
        for i, c in enumerate(crops):
            try:
                validate_frame(c)
            except ValueError as exc:
                raise ValueError(f"crops[{i}]: {exc}") from None
        return crops

    @torch.inference_mode()
    def preprocess_crops(self, crops) -> torch.Tensor:
        """Model-ready input (N, 3, H, W) of already-cut BGR uint8 crops (see ``encode_crops``)."""
        crops = self._as_crops(crops)
        if not crops:
            return torch.empty((0, 3, *self.input_size), dtype=self.dtype, device=self.device)
        return torch.cat([self._crops_chunk(crops[s:s + self.batch_size])
                          for s in range(0, len(crops), self.batch_size)])

    def _crops_chunk(self, part: list) -> torch.Tensor:
        hm = max(c.shape[0] for c in part)
        wm = max(c.shape[1] for c in part)
        canvas = torch.zeros((len(part), hm, wm, 3), dtype=torch.uint8)
        for i, c in enumerate(part):
            h, w = c.shape[:2]
            t = torch.from_numpy(np.ascontiguousarray(c))
            canvas[i, :h, :w] = t
            # replicate the last row/column once: bilinear taps at the crop edge then read what they would
            # read at a frame border (the frame path's clamping), so both paths give the same pixels
            if h < hm:
                canvas[i, h, :w] = t[-1]
            if w < wm:
                canvas[i, :h, w] = t[:, -1]
            if h < hm and w < wm:
                canvas[i, h, w] = t[-1, -1]
        img = canvas.to(self.device).permute(0, 3, 1, 2).to(torch.float32, memory_format=torch.contiguous_format)
        rois = torch.tensor([[i, 0.0, 0.0, c.shape[1], c.shape[0]] for i, c in enumerate(part)],
                            dtype=torch.float32, device=self.device)
        return self._normalise(_roi_align(img, rois, self.input_size, self.sampling_ratio))

    @torch.inference_mode()
    def encode_crops(self, crops) -> np.ndarray:
        """Embeddings of already-cut BGR uint8 crops (a list of (h, w, 3) arrays of any sizes, or (N, h, w, 3)),
        with the same resize and normalisation as ``__call__`` (each crop is treated as a whole-image box)."""
        crops = self._as_crops(crops)
        if not crops:
            return np.empty((0, self.dim), np.float32)
        out = torch.empty((len(crops), self.dim), dtype=torch.float32, device=self.device)
        for s in range(0, len(crops), self.batch_size):
            out[s:s + self.batch_size] = self.forward(self._crops_chunk(crops[s:s + self.batch_size]))
        return out.cpu().numpy()


def build_encoder(name: str | None = "osnet_x0_25", weights=None, device="auto", half: bool | None = None,
                  batch_size: int = 64, *, sampling_ratio: int = 0, runtime: str = "auto", threads: int | None = None,
                  trust: bool = False, allow_unverified: bool | None = None,
                  streams: int | None = None) -> Encoder:
    """Build a ReID encoder.

    name: a model name (``osnet_x1_0``, ``osnet_x0_25``, ``osnet_ain_x1_0``, ``bdb``, ``pmm``; see
        ``trackreid.reid.models.list_models()``), or None / ``"auto"`` to take the architecture from ``weights``
        (an exported file, a manifest entry, a trackreid checkpoint, BoxMOT's ``<arch>_<dataset>.pt`` file name, or
        the tensors). A trackreid checkpoint trained at another input size (``height``/``width``) is fed crops of
        that size.
    weights:
        * None (default): the architecture's trained weights (``trackreid.reid.weights.default_weights``):
          ``osnet_x0_25`` uses Market-1501 weights shipped inside the package (sha256-checked); other OSNets download
          theirs once (offline: one line saying which file to fetch and where to put it). Architectures with no
          known weights (``bdb``, ``pmm``, ``osnet_ain_x0_*``) run untrained with a loud warning.
        * ``"none"``: untrained on purpose (random initialisation, same warning).
        * a PyTorch checkpoint path or a known weights name (``osnet_x0_25_market1501``).
        * an exported file: ``.onnx`` (ONNX Runtime; its CUDA provider on a GPU when installed), an OpenVINO IR
          ``.xml`` or its folder (OpenVINO, CPU), a TensorRT ``.engine`` (CUDA). Input size and embedding size come
          from the file; ``half`` and the ``name`` (if given, it must match what the file records) do not change
          what runs. ``runtime="torch"`` runs an OSNet ``.onnx`` in PyTorch instead (its tensors read back into
          our network by :mod:`trackreid.reid.onnx_checkpoint`).
    device: "auto" (CUDA if usable, else CPU), "cpu", "cuda", "cuda:N". half: fp16 (CUDA only); None = on CUDA.
    batch_size: crops per forward pass. runtime: "auto" (on the CPU: the fastest of ONNX Runtime fp32, OpenVINO
        fp32 and, with default weights, their bundled INT8 OpenVINO export, measured once on this machine and
        cached, see ``trackreid.reid.runtime_choice``; torch when neither runtime is installed; on CUDA torch),
        "torch", "onnxruntime" or "openvino" (fp32, see :class:`Encoder`; no measuring).
    threads: cores the ONNX Runtime / OpenVINO runtime uses (None: torch's thread count, see
        ``trackreid.reid.runtimes.default_threads``). streams: concurrent inferences each batch is split into
        (None: one per thread, the fastest measured on the CPU; 1: one inference on all threads, as before).
    trust / allow_unverified: see ``trackreid.reid.weights``.
    """
    from .models.registry import build_model, get_spec
    from .weights import checkpoint_arch, default_weights, load_weights, read_checkpoint

    if isinstance(name, str) and name.strip().lower() == "auto":
        name = None
    untrained = weights is not None and isinstance(weights, str) and weights.strip().lower() in {"", "none"}
    onnx_in_torch = runtime == "torch" and file_format(weights) == "onnxruntime" if weights is not None else False
    if weights is not None and not untrained and file_format(weights) is not None and not onnx_in_torch:
        return _encoder_from_file(name, weights, device, batch_size, sampling_ratio, runtime, threads, half,
                                  streams)
    ck = None
    if weights is not None and not untrained:
        ck = read_checkpoint(weights, trust=trust, allow_unverified=allow_unverified)
    if name is None:
        if ck is None:
            raise ValueError("build_encoder: give a model name, or weights to infer the architecture from")
        name = checkpoint_arch(ck, os.fspath(weights))
        if name is None:
            raise ValueError(f"cannot tell the architecture of {ck.path}; pass it as build_encoder(NAME, ...)")
    spec = get_spec(name)
    dev = resolve_torch_device(device)  # fail on a bad device before loading anything
    exports = None
    if weights is None and runtime == "auto" and dev.type == "cpu":
        fast = _default_cpu_export(spec.name)  # a candidate of the measured choice (trackreid.reid.runtime_choice)
        exports = {"openvino-int8": fast} if fast is not None else None
    if weights is None:
        ck = _default_checkpoint(spec.name, allow_unverified)
    if ck is not None and ck.input_size is not None and ck.input_size != tuple(spec.input_size):
        spec = dataclasses.replace(spec, input_size=ck.input_size)  # crops at the size the network was trained at
    model = build_model(spec.name, num_classes=0)
    report = None
    if ck is None:
        warnings.warn(NO_WEIGHTS_WARNING.format(name=spec.name), UserWarning, stacklevel=2)
    else:
        report = load_weights(model, ck, arch=spec.name)
    known = default_weights(spec.name).name if weights is None and ck is not None else weights
    from .weights import identify

    entry = identify(known) if ck is not None else None
    return Encoder(model, spec, device=device, half=half, batch_size=batch_size, sampling_ratio=sampling_ratio,
                   weights_report=report, runtime=runtime, threads=threads, streams=streams,
                   thresholds=None if untrained else stored_thresholds(known, ck.meta if ck is not None else None),
                   weights_name=entry.name if entry is not None else None,
                   weights_path=ck.path if ck is not None else None, cpu_exports=exports)


def _default_cpu_export(arch: str) -> Path | None:
    """The bundled INT8 OpenVINO export of ``arch``'s default weights (sha256-checked), when there is one and
    OpenVINO is installed: a candidate of ``runtime="auto"``'s measured choice (6.3x ONNX Runtime fp32 on a Xeon
    with AVX-512 VNNI/AMX, ~1.1x on an AVX2 EPYC; ``benchmarks/reid_speed.py``), made and checked by
    ``trackreid-export --int8`` (rank-1 and identity margin within 1 point of fp32; see ``weights/README.md``)."""
    from .weights import bundled_export, default_weights, verified_export

    entry = default_weights(arch)
    if entry is None or not entry.bundled or not openvino_available():
        return None
    exp = bundled_export(entry.name, "openvino", "int8")
    return verified_export(exp) if exp is not None else None


def _default_checkpoint(arch: str, allow_unverified):
    """The checkpoint of ``arch``'s default trained weights (bundled or downloaded), None when it has none; offline,
    one line naming the file to fetch, where to put it, and the bundled alternative."""
    from .weights import DownloadError, cache_dir, default_weights, read_checkpoint

    entry = default_weights(arch)
    if entry is None:
        return None
    if entry.bundled:
        return read_checkpoint(entry.name)  # a damaged bundled file fails its sha256 with its own clear line
    try:
        return read_checkpoint(entry.name, allow_unverified=allow_unverified)
    except DownloadError as exc:
        why = ("no sha256 is recorded for it, so it is not downloaded automatically unless "
               "TRACKREID_ALLOW_UNVERIFIED=1" if "no sha256" in str(exc) else "the download failed: offline?")
        raise DownloadError(
            f"{arch}'s trained weights {entry.file} are not on this machine ({why}): download {entry.url} and put "
            f"it at {cache_dir() / entry.file}, or use osnet_x0_25, whose trained weights ship with trackreid "
            f"(--reid osnet_x0_25), or run {arch} untrained with weights='none' (--reid-weights none)") from None


def _encoder_from_file(name, path, device, batch_size, sampling_ratio, runtime, threads, half=None,
                       streams=None) -> Encoder:
    """An encoder running the exported file ``path`` in its runtime (see ``build_encoder``)."""
    from .models.registry import IMAGENET_MEAN, IMAGENET_STD, ModelSpec, get_spec

    fmt = file_format(path)
    if runtime not in ("auto", fmt):
        more = " or runtime='torch' to read an OSNet export into PyTorch" if fmt == "onnxruntime" else ""
        raise ValueError(f"runtime {runtime!r} cannot run {os.fspath(path)}: that file runs in {fmt} "
                         f"(leave runtime='auto'{more})")
    dev = resolve_torch_device(device)
    if fmt == "openvino" and dev.type != "cpu":
        if str(device).lower() not in ("auto", "none"):
            raise ValueError(f"{os.fspath(path)}: OpenVINO runs this file on the CPU, not on {dev}; use device cpu "
                             "or an .onnx / TensorRT export for the GPU")
        dev = torch.device("cpu")
    if fmt == "onnxruntime" and dev.type == "cuda":
        import onnxruntime as ort

        if "CUDAExecutionProvider" not in ort.get_available_providers():
            if str(device).lower() not in ("auto", "none"):
                raise ValueError(f"{os.fspath(path)}: this onnxruntime has no CUDA provider (pip install "
                                 "onnxruntime-gpu); use device cpu")
            dev = torch.device("cpu")
    runner = load_runner(path, dev, threads, streams)
    meta = runner.info.meta
    spec = None
    if name is not None:
        spec = get_spec(name)
        if meta.get("arch") and get_spec(meta["arch"]).name != spec.name:
            raise ValueError(f"{os.fspath(path)} holds {meta['arch']}, not {spec.name}; pass name=None (or "
                             f"--reid auto) to use what the file holds")
    label = meta.get("arch") or (spec.name if spec is not None else Path(os.fspath(path)).stem)
    spec = ModelSpec(label, runner.info.input_size, tuple(meta.get("mean", IMAGENET_MEAN)),
                     tuple(meta.get("std", IMAGENET_STD)), runner.info.dim)
    from .weights import get_entry

    known = meta.get("weights") if isinstance(meta.get("weights"), str) else None
    return Encoder(None, spec, half=half, batch_size=batch_size, sampling_ratio=sampling_ratio, runner=runner,
                   threads=threads, streams=streams, weights_report=_file_report(fmt, meta, path),
                   thresholds=stored_thresholds(path, meta),
                   weights_name=known if known and get_entry(known) is not None else None, weights_path=path)


def _file_report(fmt: str, meta: dict, path) -> str:
    """The ``weights_report`` of an encoder running an exported file."""
    what = f"{meta.get('precision', '')} {fmt} export of {meta['weights']}" if meta.get("weights") else f"{fmt} file"
    return f"{what.strip()} ({os.fspath(path)})"
