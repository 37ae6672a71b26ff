"""What runs a ReID network: ONNX Runtime, OpenVINO or TensorRT, on a graph built in memory or read from a file.

A runner maps model-ready crops, an (N, 3, H, W) float32 torch tensor (RGB, normalised with the model's mean/std,
as ``Encoder.preprocess`` makes them), to an (N, D) float32 torch tensor of features. ``load_runner(path)`` reads an
exported file (``.onnx``; an OpenVINO IR ``.xml`` or the folder holding one; a TensorRT ``.engine``), checks that it
is a ReID encoder (one (batch, 3, H, W) input with fixed H and W, a (batch, D) output, a finite result on one crop)
and reads H, W and D from it. Files written by ``trackreid-export`` also record the architecture, weights and
normalisation (``read_meta``); other files are fed ImageNet mean/std.

Threads and streams: ``threads`` is how many cores a runner uses, by default ``default_threads()`` (torch's thread
count: all cores); ``streams`` is how many inferences run at once, each on ``threads // streams`` intra-op threads,
by default one stream per thread. A batch is split into ``streams`` consecutive parts that run concurrently and are
concatenated in order; each part runs the very same kernels, so the features equal the one-request result. Why:
OSNet's ~200 tiny layers each end at a barrier where every intra-op thread must meet, so on this 2-core CPU ONNX
Runtime fp32 runs 8 crops as fast on 1 thread as on 2 (``benchmarks/reid_speed.py``), and when more threads are
runnable than there are cores (the detector beside it) a descheduled thread stalls them all; two single-threaded
streams keep both cores busy with no barrier between them. ``streams=1`` is the old behaviour (one inference
using every thread). ONNX Runtime's threads never busy-wait between calls; OpenVINO runs without pinning threads to
cores.
"""
from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

__all__ = ["GraphInfo", "OrtRunner", "OpenVINORunner", "TensorRTRunner", "file_format", "load_runner", "read_meta",
           "META_KEY", "FILE_SUFFIXES", "onnxruntime_available", "openvino_available", "default_threads",
           "default_streams"]

META_KEY = "trackreid"  # ONNX metadata_props key / OpenVINO rt_info key of the JSON written by trackreid-export
FILE_SUFFIXES = {".onnx": "onnxruntime", ".xml": "openvino", ".engine": "tensorrt", ".trt": "tensorrt",
                 ".plan": "tensorrt"}


def onnxruntime_available() -> bool:
    """onnxruntime runs the graph; onnx is what torch's exporter writes it with."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def openvino_available() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class GraphInfo:
    """What a graph says about itself: input (H, W), embedding size D, and trackreid's metadata (may be empty:
    ``arch``, ``weights``, ``mean``, ``std``, ``precision``)."""

    input_size: tuple[int, int]
    dim: int
    meta: dict = field(default_factory=dict)


def default_threads() -> int:
    """Intra-op threads a runtime gets when none are asked for: torch's thread count (all cores by default)."""
    return max(1, torch.get_num_threads())


def default_streams(threads: int) -> int:
    """Concurrent inferences a runner with ``threads`` threads runs when none are asked for: one per thread (see
    the module docstring for why)."""
    return max(1, threads)


def _threads(threads: int | None) -> int:
    if threads is None:
        return default_threads()
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"threads: expected a positive int or None, got {threads!r}")
    return threads


def _streams(streams: int | None, threads: int) -> int:
    if streams is None:
        return default_streams(threads)
    if not isinstance(streams, int) or isinstance(streams, bool) or streams < 1:
        raise ValueError(f"streams: expected a positive int or None, got {streams!r}")
    if streams > threads:
        raise ValueError(f"streams: {streams} streams need at least as many threads, got threads={threads}")
    return streams


def _split(n: int, streams: int) -> list[slice]:
    """``streams`` (at most ``n``) consecutive, near-equal slices covering ``range(n)``."""
    k = max(1, min(streams, n))
    edges = [round(i * n / k) for i in range(k + 1)]
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]


def _dims(shape) -> list:
    """A shape as ints, None for dynamic/symbolic axes."""
    return [d if isinstance(d, int) and d > 0 else None for d in shape]


def _check_io(where: str, in_shapes: list, out_shapes: list) -> GraphInfo:
    """``GraphInfo`` from the graph's input/output shapes, or a one-line ValueError saying why it is no encoder."""
    if len(in_shapes) != 1:
        raise ValueError(f"{where}: not a ReID encoder: it has {len(in_shapes)} inputs, expected one "
                         "(batch, 3, H, W) image input")
    s = _dims(in_shapes[0])
    if len(s) != 4 or s[1] != 3 or s[2] is None or s[3] is None:
        raise ValueError(f"{where}: not a ReID encoder: input shape {list(in_shapes[0])}, expected "
                         "(batch, 3, H, W) with fixed H and W")
    if not out_shapes:
        raise ValueError(f"{where}: not a ReID encoder: the graph has no output")
    o = _dims(out_shapes[0])
    if len(o) != 2 or o[1] is None:
        raise ValueError(f"{where}: not a ReID encoder: output shape {list(out_shapes[0])}, expected "
                         "(batch, D) with a fixed embedding size D")
    return GraphInfo((s[2], s[3]), o[1])


def _one_line(exc: BaseException, limit: int = 200) -> str:
    return " ".join(str(exc).split())[:limit]


def _smoke_test(runner, where: str) -> None:
    """One zero crop through the graph: a (1, D) finite result, or a one-line ValueError."""
    h, w = runner.info.input_size
    try:
        out = runner(torch.zeros((1, 3, h, w)))
    except Exception as exc:  # noqa: BLE001 - any runtime failure on a valid-looking graph
        raise ValueError(f"{where}: the graph failed on a (1, 3, {h}, {w}) crop "
                         f"({type(exc).__name__}: {_one_line(exc)})") from None
    if tuple(out.shape) != (1, runner.info.dim) or not torch.isfinite(out).all():
        raise ValueError(f"{where}: not a ReID encoder: one crop gave output {tuple(out.shape)}, expected "
                         f"(1, {runner.info.dim}) finite values")


class OrtRunner:
    """ONNX Runtime sessions. ``source``: ONNX bytes or a file path. On a CUDA ``device`` the CUDA execution
    provider is used when onnxruntime has it (``onnxruntime-gpu``), else the CPU. On the CPU, ``streams`` sessions
    of ``threads // streams`` intra-op threads each run the parts of a batch concurrently (module docstring)."""

    name = "onnxruntime"

    def __init__(self, source, threads: int | None = None, device: torch.device | str = "cpu",
                 where: str | None = None, streams: int | None = None):
        import onnxruntime as ort

        self.where = where or (str(source) if not isinstance(source, (bytes, bytearray)) else "in-memory ONNX graph")
        self.threads = _threads(threads)
        self.streams = _streams(streams, self.threads)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads // self.streams
        opts.inter_op_num_threads = 1
        # no busy-waiting between calls: the detector, the decoder and the crop threads need those cores
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        device = torch.device(device)
        providers = ["CPUExecutionProvider"]
        if device.type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers = [("CUDAExecutionProvider", {"device_id": device.index or 0}), "CPUExecutionProvider"]
        src = bytes(source) if isinstance(source, (bytes, bytearray)) else os.fspath(source)
        try:
            self.session = ort.InferenceSession(src, opts, providers=providers)
        except Exception as exc:  # noqa: BLE001 - corrupt bytes, unsupported ops, ...
            raise ValueError(f"{self.where}: not a readable ONNX model ({_one_line(exc)})") from None
        self.device = torch.device("cuda", device.index or 0) if providers[0] != "CPUExecutionProvider" \
            else torch.device("cpu")
        if self.device.type != "cpu":
            self.streams = 1  # one GPU: one session
        self._sessions = [self.session] + [ort.InferenceSession(src, opts, providers=providers)
                                           for _ in range(self.streams - 1)]
        self._pool = _stream_pool(self.streams)
        ins, outs = self.session.get_inputs(), self.session.get_outputs()
        self.info = _check_io(self.where, [i.shape for i in ins], [o.shape for o in outs])
        self.info.meta = _parse_meta(self.session.get_modelmeta().custom_metadata_map.get(META_KEY))
        self._input = ins[0].name
        self._output = outs[0].name
        self._half = "float16" in ins[0].type

    def _run(self, session, arr: np.ndarray) -> np.ndarray:
        return np.asarray(session.run([self._output], {self._input: arr})[0], dtype=np.float32)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        arr = x.detach().to("cpu", torch.float16 if self._half else torch.float32).contiguous().numpy()
        parts = _split(len(arr), self.streams)
        if len(parts) == 1:
            return torch.from_numpy(self._run(self.session, arr))
        # part 0 in this thread, the others in the pool (session.run releases the GIL)
        futs = [self._pool.submit(self._run, s, arr[p]) for s, p in zip(self._sessions[1:], parts[1:])]
        first = self._run(self.session, arr[parts[0]])
        return torch.from_numpy(np.concatenate([first] + [f.result() for f in futs]))


class OpenVINORunner:
    """An OpenVINO model compiled for the CPU. ``source``: an ``openvino.Model``, ONNX bytes, or a file path (IR
    ``.xml`` or ``.onnx``). With ``streams`` > 1 it is compiled with that many CPU streams (``threads // streams``
    threads each) and the parts of a batch run as concurrent infer requests (module docstring)."""

    name = "openvino"

    def __init__(self, source, threads: int | None = None, where: str | None = None, streams: int | None = None):
        import openvino as ov

        self.where = where or (str(source) if isinstance(source, (str, Path)) else "in-memory OpenVINO model")
        core = ov.Core()
        try:
            if isinstance(source, (bytes, bytearray)):
                model = ov.convert_model(io.BytesIO(bytes(source)))
            elif isinstance(source, (str, Path)):
                model = core.read_model(os.fspath(source))
            else:
                model = source
        except Exception as exc:  # noqa: BLE001 - corrupt IR, missing .bin, ...
            raise ValueError(f"{self.where}: not a readable OpenVINO model ({_one_line(exc)})") from None
        self.info = _check_io(self.where, [_ov_shape(i.get_partial_shape()) for i in model.inputs],
                              [_ov_shape(o.get_partial_shape()) for o in model.outputs])
        self.info.meta = _parse_meta(model.get_rt_info([META_KEY]).astype(str)
                                     if model.has_rt_info([META_KEY]) else None)
        self.threads = _threads(threads)
        self.streams = _streams(streams, self.threads)
        config = {"INFERENCE_NUM_THREADS": self.threads, "ENABLE_CPU_PINNING": False, "INFERENCE_PRECISION_HINT": "f32"}
        if self.streams == 1:
            config["PERFORMANCE_HINT"] = "LATENCY"
        else:
            config.update({"PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": self.streams})
        try:
            self.compiled = core.compile_model(model, "CPU", config)
        except Exception as exc:  # noqa: BLE001
            raise ValueError(f"{self.where}: OpenVINO could not compile it for the CPU ({_one_line(exc)})") from None
        self._requests = [self.compiled.create_infer_request() for _ in range(self.streams)]
        self.request = self._requests[0]
        self.device = torch.device("cpu")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        arr = x.detach().to("cpu", torch.float32).contiguous().numpy()
        parts = _split(len(arr), self.streams)
        if len(parts) == 1:
            self.request.infer({0: arr})
            return torch.from_numpy(np.array(self.request.get_output_tensor(0).data, dtype=np.float32, copy=True))
        reqs = self._requests[:len(parts)]
        for r, p in zip(reqs, parts):  # OpenVINO runs each request on its own stream; no Python thread needed
            r.start_async({0: arr[p]})
        outs = []
        for r in reqs:
            r.wait()
            outs.append(np.array(r.get_output_tensor(0).data, dtype=np.float32, copy=True))
        return torch.from_numpy(np.concatenate(outs))


def _ov_shape(ps) -> list:
    if ps.rank.is_dynamic:
        return []
    return [d.get_length() if d.is_static else None for d in ps]


class TensorRTRunner:
    """A serialised TensorRT engine (TensorRT >= 8.5 tensor API) on a CUDA device; I/O stays on the GPU."""

    name = "tensorrt"

    def __init__(self, path, device: torch.device | str = "cuda"):
        self.where = str(path)
        try:
            import tensorrt as trt
        except ImportError:
            raise ValueError(f"{path}: a TensorRT engine needs the 'tensorrt' package and an NVIDIA GPU "
                             "(pip install tensorrt); run an .onnx export with ONNX Runtime instead") from None
        device = torch.device(device)
        if device.type != "cuda" or not torch.cuda.is_available():
            raise ValueError(f"{path}: a TensorRT engine runs on a CUDA GPU; none is usable here (device {device})")
        self.device = torch.device("cuda", device.index or 0)
        self._trt = trt
        logger = trt.Logger(trt.Logger.WARNING)
        with torch.cuda.device(self.device):
            self.engine = trt.Runtime(logger).deserialize_cuda_engine(Path(path).read_bytes())
            if self.engine is None:
                raise ValueError(f"{path}: not a TensorRT engine this TensorRT {trt.__version__} can read (built "
                                 "by another version or for another GPU?); rebuild it with trackreid-export")
            self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        mode = trt.TensorIOMode.INPUT
        self._inputs = [n for n in names if self.engine.get_tensor_mode(n) == mode]
        self._outputs = [n for n in names if self.engine.get_tensor_mode(n) != mode]
        self.info = _check_io(self.where, [list(self.engine.get_tensor_shape(n)) for n in self._inputs],
                              [list(self.engine.get_tensor_shape(n)) for n in self._outputs])
        self._in_dtype = torch.float16 if self.engine.get_tensor_dtype(self._inputs[0]) == trt.float16 \
            else torch.float32
        self._out_dtype = torch.float16 if self.engine.get_tensor_dtype(self._outputs[0]) == trt.float16 \
            else torch.float32

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, self._in_dtype).contiguous()
        name_in, name_out = self._inputs[0], self._outputs[0]
        self.context.set_input_shape(name_in, tuple(x.shape))
        out = torch.empty((x.shape[0], self.info.dim), dtype=self._out_dtype, device=self.device)
        self.context.set_tensor_address(name_in, x.data_ptr())
        self.context.set_tensor_address(name_out, out.data_ptr())
        stream = torch.cuda.current_stream(self.device)
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise RuntimeError(f"{self.where}: TensorRT execution failed")
        return out.float()


_POOLS: dict = {}


def _stream_pool(streams: int):
    """A shared thread pool running the extra ONNX Runtime streams (None for one stream)."""
    if streams <= 1:
        return None
    if streams not in _POOLS:
        from concurrent.futures import ThreadPoolExecutor

        _POOLS[streams] = ThreadPoolExecutor(max_workers=streams - 1, thread_name_prefix="trackreid-pool-reid")
    return _POOLS[streams]


def _parse_meta(text) -> dict:
    if not text:
        return {}
    try:
        meta = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def file_format(path) -> str | None:
    """The runtime an exported file needs ("onnxruntime", "openvino", "tensorrt"), or None for anything else
    (e.g. a PyTorch checkpoint). A folder counts as OpenVINO IR when it holds exactly one ``.xml``."""
    p = Path(os.fspath(path)).expanduser()
    if p.is_dir():
        return "openvino" if len(list(p.glob("*.xml"))) == 1 else None
    return FILE_SUFFIXES.get(p.suffix.lower())


def _ir_xml(p: Path) -> Path:
    if p.is_dir():
        xmls = sorted(p.glob("*.xml"))
        if len(xmls) != 1:
            raise ValueError(f"{p}: expected an OpenVINO IR folder with one .xml (and its .bin), found {len(xmls)}")
        return xmls[0]
    return p


def read_meta(path) -> dict:
    """trackreid's metadata in an exported ONNX / OpenVINO file ({} when it has none or is unreadable)."""
    p = Path(os.fspath(path)).expanduser()
    fmt = file_format(p)
    try:
        if fmt == "onnxruntime":
            import onnx

            model = onnx.load(os.fspath(p), load_external_data=False)
            return _parse_meta({e.key: e.value for e in model.metadata_props}.get(META_KEY))
        if fmt == "openvino":
            import openvino as ov

            model = ov.Core().read_model(os.fspath(_ir_xml(p)))
            return _parse_meta(model.get_rt_info([META_KEY]).astype(str) if model.has_rt_info([META_KEY]) else None)
    except Exception:  # noqa: BLE001 - unreadable: load_runner reports it properly
        return {}
    return {}


def load_runner(path, device: torch.device | str = "cpu", threads: int | None = None, streams: int | None = None):
    """A checked runner for the exported file ``path`` (see the module docstring); one-line ValueError when the
    file is missing, unreadable, needs a runtime that is not installed, or is not a ReID encoder."""
    p = Path(os.fspath(path)).expanduser()
    if not p.exists():
        raise ValueError(f"weights {str(path)!r}: no such file")
    fmt = file_format(p)
    if fmt is None:
        raise ValueError(f"{p}: not an exported encoder (expected .onnx, an OpenVINO .xml or IR folder, or a "
                         "TensorRT .engine)")
    device = torch.device(device)
    if fmt == "onnxruntime":
        if not onnxruntime_available():
            raise ValueError(f"{p}: running an .onnx file needs onnxruntime (pip install onnx onnxruntime)")
        runner = OrtRunner(p, threads, device, streams=streams)
    elif fmt == "openvino":
        if not openvino_available():
            raise ValueError(f"{p}: running an OpenVINO model needs the openvino package (pip install openvino)")
        xml = _ir_xml(p)
        if not xml.with_suffix(".bin").is_file():
            raise ValueError(f"{xml}: its weights file {xml.with_suffix('.bin').name} is missing beside it")
        runner = OpenVINORunner(xml, threads, streams=streams)
    else:
        runner = TensorRTRunner(p, device)
    _smoke_test(runner, runner.where)
    return runner
