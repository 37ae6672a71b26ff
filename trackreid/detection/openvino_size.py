"""Run an OpenVINO detector export at another input size (``--imgsz``): the one home of that logic.

An Ultralytics OpenVINO export made without ``dynamic=True`` has a fixed input (``1x3x640x640``) and Ultralytics
then ignores ``imgsz`` without a word: it letterboxes every frame to the export's size. YOLO is fully
convolutional, so the network itself runs at any multiple of its stride, but the export also bakes the detection
head's anchor grid (anchor centres, per-anchor strides, the anchor count in reshapes) as constants for its size.

:func:`resized_openvino_model` rebuilds those constants for the new size (after checking they are the ones the
export's size gives, so a head it does not know is refused rather than mis-decoded), reshapes the input with
OpenVINO, and saves the result once into ``detector_cache_dir()`` beside trackreid's weights cache: a
``<name>-<sha>-<H>x<W>_openvino_model/`` folder (the ``.xml``/``.bin`` pair and Ultralytics' ``metadata.yaml`` with
``imgsz`` updated), written into a temporary folder and renamed into place, so a crash leaves no half model and
concurrent runs agree. Later runs load that folder directly.

:func:`check_imgsz` is the one check of an ``imgsz`` value for every Ultralytics detector: a positive multiple of
32 (or of the model's stride), as an int (square) or ``(height, width)``.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from trackreid.detection.base import DetectorError

__all__ = ["check_imgsz", "detector_cache_dir", "openvino_xml", "ir_input_size", "resized_openvino_model"]

_MAX_STRIDE = 32


def check_imgsz(imgsz, stride: int = _MAX_STRIDE) -> tuple[int, int] | None:
    """``imgsz`` as ``(height, width)``; ``None`` stays ``None`` (the model's own size). An int is square; a
    ``(height, width)`` pair or a ``"HxW"`` / ``"H,W"`` string gives both. Each side must be a positive multiple
    of ``stride`` (YOLO's largest stride, 32): anything else raises :class:`DetectorError` naming the nearest
    valid sizes, instead of Ultralytics' silent rounding."""
    if imgsz is None:
        return None
    raw = imgsz
    if isinstance(imgsz, str):
        parts = [p for p in imgsz.lower().replace("x", ",").split(",") if p.strip()]
        try:
            imgsz = [int(p) for p in parts]
        except ValueError:
            raise DetectorError(f"imgsz: expected N or HxW (multiples of {stride}), got {raw!r}") from None
    if isinstance(imgsz, (int, np.integer)):
        sides = [imgsz]
    elif isinstance(imgsz, (list, tuple)):
        sides = list(imgsz)
    else:
        sides = []
    if not 1 <= len(sides) <= 2 or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool)
                                           for s in sides):
        raise DetectorError(f"imgsz: expected N or (height, width) in pixels, got {raw!r}")
    for s in sides:
        if s <= 0:
            raise DetectorError(f"imgsz: {s} is not a positive multiple of {stride}; use {stride} or more")
        if s % stride:
            lo, hi = max(stride, s // stride * stride), (s // stride + 1) * stride
            near = f"{lo} or {hi}" if s > stride else f"{hi}"
            raise DetectorError(f"imgsz: {s} is not a multiple of {stride} (the detector's largest stride); "
                                f"use {near}")
    h, w = (int(sides[0]), int(sides[-1]))
    return h, w


def detector_cache_dir() -> Path:
    """Where resized detector exports are kept: ``detectors/`` inside :func:`trackreid.reid.weights.cache_dir`
    (so ``$TRACKREID_WEIGHTS`` moves both)."""
    from trackreid.reid.weights import cache_dir

    return cache_dir() / "detectors"


def openvino_xml(path) -> Path | None:
    """The ``.xml`` of an OpenVINO IR given as its file or as its folder (one ``.xml`` in it); None otherwise."""
    p = Path(path).expanduser()
    if p.is_file():
        return p if p.suffix.lower() == ".xml" and p.with_suffix(".bin").is_file() else None
    if p.is_dir():
        xmls = sorted(x for x in p.glob("*.xml") if x.with_suffix(".bin").is_file())
        return xmls[0] if len(xmls) == 1 else None
    return None


def ir_input_size(xml) -> tuple[int, int] | None:
    """``(height, width)`` of an IR's image input, or None when they are dynamic."""
    import openvino as ov

    shape = ov.Core().read_model(str(xml)).input(0).get_partial_shape()
    if shape.rank.is_dynamic or len(shape) != 4 or shape[2].is_dynamic or shape[3].is_dynamic:
        return None
    return int(shape[2].get_length()), int(shape[3].get_length())


def _read_metadata(folder: Path) -> dict:
    import yaml

    f = folder / "metadata.yaml"
    if not f.is_file():
        return {}
    try:
        meta = yaml.safe_load(f.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return {}
    return meta if isinstance(meta, dict) else {}


def _digest(xml: Path) -> str:
    h = hashlib.sha256()
    for f in (xml, xml.with_suffix(".bin")):
        with open(f, "rb") as fh:
            while block := fh.read(1 << 20):
                h.update(block)
    return h.hexdigest()[:12]


def resized_openvino_model(path, imgsz, cache: str | Path | None = None) -> Path:
    """An OpenVINO IR (folder or ``.xml``) that takes ``imgsz`` input: ``path`` itself when its input already has
    that size or is dynamic, else a resized copy in ``cache`` (default :func:`detector_cache_dir`), made once and
    reused. Raises :class:`DetectorError` for a size that is not a multiple of the stride or a head it cannot
    rebuild."""
    path = Path(path).expanduser()
    xml = openvino_xml(path)
    if xml is None:
        raise DetectorError(f"{str(path)!r} is not an OpenVINO model (a folder with one .xml/.bin pair)")
    meta = _read_metadata(xml.parent)
    stride = max(_MAX_STRIDE, int(meta.get("stride", _MAX_STRIDE) or _MAX_STRIDE))
    size = check_imgsz(imgsz, stride)
    if size is None:
        return path
    old = ir_input_size(xml)
    if old is None or old == size:
        return path
    h, w = size
    out = Path(cache).expanduser() if cache is not None else detector_cache_dir()
    name = xml.parent.name if xml.parent.name.endswith("_openvino_model") else xml.stem
    name = name.removesuffix("_openvino_model")
    final = out / f"{name}-{_digest(xml)}-{h}x{w}_openvino_model"
    if (final / xml.name).is_file() and (final / xml.with_suffix(".bin").name).is_file():
        return final
    _write_resized(xml, meta, old, size, final)
    return final


def _write_resized(xml: Path, meta: dict, old: tuple[int, int], new: tuple[int, int], final: Path) -> None:
    import openvino as ov
    import yaml

    model = ov.Core().read_model(str(xml))
    try:
        _retarget_head(model, old, new)
        # not model.reshape(): it first re-checks the graph at the old size, which the new grid constants fail
        param = model.get_parameters()[0]
        shape = param.get_partial_shape()
        param.set_partial_shape(ov.PartialShape([shape[0], shape[1], new[0], new[1]]))
        model.validate_nodes_and_infer_types()
    except DetectorError as exc:
        raise DetectorError(f"cannot run OpenVINO model {str(xml.parent)!r} at imgsz {new[0]}x{new[1]}: {exc}; "
                            f"export it at that size (yolo export format=openvino imgsz={new[0]},{new[1]}) or with "
                            "dynamic=True") from None
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DetectorError(f"cannot reshape OpenVINO model {str(xml.parent)!r} to {new[0]}x{new[1]} ({first}); "
                            f"export it at that size (yolo export format=openvino imgsz={new[0]},{new[1]}) or with "
                            "dynamic=True") from None
    meta = dict(meta)
    meta["imgsz"] = [int(new[0]), int(new[1])]
    meta["resized_from"] = f"{xml.parent.name}/{xml.name} ({old[0]}x{old[1]}) by trackreid"
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=str(final.parent)))
    try:
        ov.save_model(model, str(tmp / xml.name), compress_to_fp16=False)
        (tmp / "metadata.yaml").write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")
        os.chmod(tmp, 0o755)  # mkdtemp makes it 0700
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / xml.name).is_file():  # not another run that finished first
                raise
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)


# ------------------------------------------------------------------------------------------------------------------
# The detection head's grid constants
# ------------------------------------------------------------------------------------------------------------------
def _grid(size: tuple[int, int], strides: list[int]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Anchor centres (2, A) in grid units, per-anchor strides (A,) and the cells per level, in Ultralytics'
    ``make_anchors`` order (level by level, row by row, x first)."""
    centres, per, cells = [], [], []
    for s in strides:
        gh, gw = size[0] // s, size[1] // s
        ys, xs = np.meshgrid(np.arange(gh, dtype=np.float32) + 0.5, np.arange(gw, dtype=np.float32) + 0.5,
                             indexing="ij")
        centres.append(np.stack([xs.ravel(), ys.ravel()]))
        per.append(np.full(gh * gw, s, np.float32))
        cells.append(gh * gw)
    return np.concatenate(centres, 1), np.concatenate(per), cells


def _retarget_head(model, old: tuple[int, int], new: tuple[int, int]) -> None:
    """Replace the constants an export fixed for ``old``: the anchor centres, the per-anchor strides and the
    anchor count (and per-level cell counts) in reshape targets. Each is checked against what ``old`` gives."""
    import openvino as ov

    consts = [op for op in model.get_ordered_ops() if op.get_type_name() == "Constant"]
    stride_const, strides = None, None
    for c in consts:  # the per-anchor strides: (1, 1, A) of 8s, then 16s, then 32s ...
        shape = list(c.get_output_shape(0))
        if len(shape) < 2 or any(d != 1 for d in shape[:-1]) or shape[-1] < 3:
            continue
        v = c.get_data().ravel()
        levels = [int(s) for s in dict.fromkeys(v.tolist())]
        if (2 <= len(levels) <= 5 and all(s in (4, 8, 16, 32, 64, 128) for s in levels) and levels == sorted(levels)
                and np.array_equal(v, _grid(old, levels)[1])):
            stride_const, strides = c, levels
            break
    if stride_const is None:
        raise DetectorError("its detection head is not the anchor-grid head trackreid knows (no per-anchor stride "
                            "table found)")
    old_anchors, _, old_cells = _grid(old, strides)
    new_anchors, new_strides, new_cells = _grid(new, strides)
    n_old, n_new = old_anchors.shape[1], new_anchors.shape[1]
    count_map = {n_old: n_new, **dict(zip(old_cells, new_cells))}

    def swap(node, data: np.ndarray) -> None:
        new_node = ov.op.Constant(np.ascontiguousarray(data.astype(node.get_data().dtype)))
        new_node.set_friendly_name(node.get_friendly_name())
        for target in list(node.output(0).get_target_inputs()):
            target.replace_source_output(new_node.output(0))

    swap(stride_const, new_strides.reshape([1] * (len(stride_const.get_output_shape(0)) - 1) + [n_new]))
    for c in consts:
        if c is stride_const or n_old not in list(c.get_output_shape(0)):
            continue
        shape, v = list(c.get_output_shape(0)), c.get_data()
        if shape[-1] == n_old and v.size == 2 * n_old and np.allclose(v.reshape(2, n_old), old_anchors):
            swap(c, new_anchors.reshape(shape[:-1] + [n_new]))
        else:
            raise DetectorError(f"constant {c.get_friendly_name()!r} of shape {shape} depends on the input size")
    for op in model.get_ordered_ops():  # reshape targets that spell out the anchor count or a level's cells
        target = op.input_value(1).get_node() if op.get_type_name() == "Reshape" else None
        if target is None or target.get_type_name() != "Constant":
            continue
        v = target.get_data()
        if v.ndim == 1 and any(int(x) in count_map for x in v):
            new_node = ov.op.Constant(np.array([count_map.get(int(x), int(x)) for x in v], dtype=v.dtype))
            op.input(1).replace_source_output(new_node.output(0))
