"""Any Ultralytics detection model (``.pt``, ``.onnx``, an OpenVINO ``*_openvino_model/`` folder, TensorRT ...).

Loading checks the input first so that a typo fails at once with one clear sentence instead of an Ultralytics
traceback, and a missing default model on an offline machine says how to pass a local file.
"""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import numpy as np

from trackreid.detection.base import DetectorError

_MODEL_SUFFIXES = (".pt", ".onnx", ".engine", ".torchscript", ".mlpackage", ".tflite", ".pb", ".xml", ".yaml")


@contextlib.contextmanager
def _torch_threads_kept():
    """Ultralytics' device selection sets torch's thread count to cores - 1 for the whole process (1 on a
    2-core machine), which would slow every other torch user and the ReID runtimes sized from it; put it back."""
    import torch

    n = torch.get_num_threads()
    try:
        yield
    finally:
        if torch.get_num_threads() != n:
            torch.set_num_threads(n)


def _looks_like_path(spec: str) -> bool:
    return any(sep in spec for sep in ("/", "\\")) or spec.startswith((".", "~"))


class YoloDetector:
    """Runs an Ultralytics model on one frame and returns (N, 6) float32 ``x1,y1,x2,y2,score,cls``.

    ``classes``: names (``"person"``) or ids to keep, ``None`` for all; ``conf``: minimum score;
    ``device``: ``"cpu"``, ``"cuda:0"``...; ``half``: fp16 inference (CUDA only); ``imgsz``: inference size, an
    int (square) or ``(height, width)``, multiples of 32 (default: the model's own). An OpenVINO export with a
    fixed input runs at ``imgsz`` through a resized copy made once in the cache
    (:mod:`trackreid.detection.openvino_size`); Ultralytics alone would ignore ``imgsz`` for it.
    """

    def __init__(self, model="yolo11n.pt", classes=("person",), conf: float = 0.25, device: str = "cpu",
                 half: bool = False, imgsz: int | None = None, quiet: bool = False):
        spec = str(model)
        self.name = spec
        path = Path(spec).expanduser()
        if not path.exists() and (_looks_like_path(spec) or not spec.lower().endswith(_MODEL_SUFFIXES)):
            raise DetectorError(
                f"detector {spec!r} does not exist; pass an Ultralytics model file or folder "
                "(--detector yolo11n.pt | model.onnx | yolov8n_openvino_model/) or a MOT det.txt"
            )
        from trackreid.detection.openvino_size import check_imgsz, openvino_xml, resized_openvino_model

        size = check_imgsz(imgsz)
        load = path
        if size is not None and path.exists() and openvino_xml(path) is not None:
            load = resized_openvino_model(path, size)  # itself when it already has that size or is dynamic
        self.model_path = str(load) if path.exists() else spec
        try:
            from ultralytics import YOLO
            from ultralytics.utils import LOGGER
        except ImportError as exc:  # pragma: no cover - ultralytics is a dependency
            raise DetectorError(f"the ultralytics package is needed for detector {spec!r}: {exc}") from None
        # Ultralytics logs every model load and frame at INFO; keep our progress bar readable. While loading, its
        # download warnings would only repeat what the one error line below says.
        LOGGER.setLevel(logging.ERROR)
        try:
            with _torch_threads_kept():
                self.model = YOLO(self.model_path, task="detect")
        except ConnectionError as exc:
            raise DetectorError(
                f"detector {spec!r} is not on this machine and could not be downloaded ({_first_line(exc)}); "
                "pass a local model with --detector PATH (.pt, .onnx or an OpenVINO folder)"
            ) from None
        except FileNotFoundError as exc:
            raise DetectorError(
                f"detector {spec!r} not found ({_first_line(exc)}); pass a local model with --detector PATH"
            ) from None
        except Exception as exc:
            raise DetectorError(f"cannot load detector {spec!r} with Ultralytics: {type(exc).__name__}: "
                                f"{_first_line(exc)}") from None
        finally:
            LOGGER.setLevel(logging.WARNING)
        if getattr(self.model, "task", "detect") not in ("detect", "segment", "pose", "obb"):
            raise DetectorError(f"detector {spec!r} is a {self.model.task!r} model; a detection model is needed")
        with _torch_threads_kept():  # reading names sets up Ultralytics' predictor
            names = self.model.names
        self.class_names = {int(k): str(v) for k, v in (names.items() if isinstance(names, dict) else enumerate(names))}
        self.classes = resolve_classes(classes, self.class_names, spec)
        self.conf = float(conf)
        self.device = str(device)
        self.half = bool(half) and self.device.startswith("cuda")
        self.imgsz = None if size is None else size[0] if size[0] == size[1] else size
        self._kw = dict(conf=self.conf, classes=self.classes, device=self.device, verbose=False)
        if size is not None:
            self._kw["imgsz"] = list(size)
        if self.half:  # newer Ultralytics spells fp16 "quantize=16" and warns on every call about "half"
            from ultralytics.cfg import DEFAULT_CFG_DICT

            self._kw.update({"quantize": 16} if "quantize" in DEFAULT_CFG_DICT else {"half": True})

    def __call__(self, frame: np.ndarray, frame_index: int = 0) -> np.ndarray:
        return self.detect_batch([frame], [frame_index])[0]

    def detect_batch(self, frames: list[np.ndarray], frame_indices: list[int]) -> list[np.ndarray]:
        """Detections of several frames (of one or several sources) in one batched forward."""
        try:
            with _torch_threads_kept():
                results = self.model.predict(list(frames), **self._kw)
        except Exception as exc:
            at = frame_indices[0] if len(frame_indices) == 1 else list(frame_indices)
            raise DetectorError(f"detector {self.name!r} failed on frame {at}: {type(exc).__name__}: "
                                f"{_first_line(exc)}") from exc
        return [_as_detections(r.boxes) for r in results]


def _as_detections(boxes) -> np.ndarray:
    if boxes is None or len(boxes) == 0:
        return np.empty((0, 6), np.float32)
    data = boxes.data
    data = data.cpu().numpy() if hasattr(data, "cpu") else np.asarray(data)
    # columns: x1,y1,x2,y2,(track id when tracking),score,cls -> keep the detection layout
    if data.shape[1] > 6:
        data = np.concatenate([data[:, :4], data[:, -2:]], axis=1)
    return np.ascontiguousarray(data, dtype=np.float32)


def resolve_classes(classes, class_names: dict[int, str], model: str = "detector") -> list[int] | None:
    """Class names or ids to the model's ids; ``None`` or ``"all"`` keeps every class."""
    if classes is None:
        return None
    if isinstance(classes, (str, int)):
        classes = [classes]
    classes = list(classes)
    if any(str(c).lower() == "all" for c in classes):
        return None
    by_name = {v.lower(): k for k, v in class_names.items()}
    ids = []
    for c in classes:
        key = str(c).strip().lower()
        if key.isdigit() and int(key) in class_names:
            ids.append(int(key))
        elif key in by_name:
            ids.append(by_name[key])
        else:
            sample = ", ".join(list(class_names.values())[:8])
            raise DetectorError(f"class {c!r} is not one of {model!r}'s classes ({sample}, ...); "
                                "use names or ids the model knows, or 'all'")
    return sorted(set(ids))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0].strip(" ❌⚠️") if text else type(exc).__name__
