"""trackreid inside an Ultralytics YOLO model: ``attach(model)``, then ``model.track`` / ``model.predict`` results carry
trackreid IDs in ``r.boxes.id``.

>>> from ultralytics import YOLO
>>> from trackreid.integrations.ultralytics import attach
>>> model = YOLO("yolo11n.pt")
>>> reid = attach(model)                       # OSNet x0.25 (bundled weights) + trackreid's tracker
>>> for r in model.track("street.mp4", stream=True):
...     print(r.boxes.id, r.boxes.xyxy)         # IDs known at this frame
>>> reid.ids_now([3, 7])                        # (IDs now, final?): see "IDs and final IDs" below

Attached the way Ultralytics attaches its own trackers: two predictor callbacks, ``on_predict_start`` (a tracker
per stream) and ``on_predict_postprocess_end`` (each frame's detections -> ReID embeddings -> ``Tracker.step``; the
result keeps the tracked boxes, with the track's box, score, class and ID, as Ultralytics' trackers return them).
The detections, the encoder and the tracker are exactly those of a ``trackreid`` run with the same detector, so the
IDs are the same as the CLI's on the same frames. Differences from Ultralytics' own ``model.track``:

- IDs persist across calls (as ``persist=True``; tracks, the identity memory and the ID counter are kept) until
  :meth:`Attachment.reset`; ``model.track(..., persist=False)`` starts that call afresh.
- ``conf`` defaults to 0.25 as in ``trackreid`` (Ultralytics' trackers take 0.1); where tracks start follows the
  ``conf`` of the first call (``trackreid.pipeline.models.start_thresholds``).
- Only people are tracked when the call names no ``classes`` (``classes=`` of :func:`attach` changes that).
- Each result also carries ``r.tracker_output``: the frame's :class:`~trackreid.types.TrackerOutput` (re-entries,
  renames).

IDs and final IDs: a result shows the IDs known at its frame. A young track that the identity memory recognises
within ``memory_recall_frames`` (90 by default) switches to the remembered ID from then on; what a ``trackreid`` run
writes (MOT file, ``tracks.jsonl``, events) waits for that decision (``trackreid.io.deferred.FinalRows``, asking the
tracker's ``id_log``). Code that writes rows itself asks :meth:`Attachment.ids_now` (or uses
``FinalRows.for_tracker(None, reid.tracker, listeners=[...])``) to get the same final IDs.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from trackreid.integrations._models import load_encoder, model_options, new_tracker
from trackreid.pipeline.embed import embed_detections
from trackreid.pipeline.options import PipelineError

__all__ = ["Attachment", "attach", "detach"]

YOLO_FEATURES = "yolo"
"""``reid=`` value that takes appearance from the detector's own feature maps (the input of its Detect head, as
Ultralytics' BoT-SORT ``model: auto`` does) instead of a ReID encoder: no second network, weaker identities."""
_TRACKABLE = ("detect", "segment", "pose")


def attach(model, *, persist: bool = True, **options: Any) -> "Attachment":
    """Make ``model`` (an ``ultralytics.YOLO`` detection, segmentation or pose model) track with trackreid.

    ``options``: ``reid`` (a ReID model name, an encoder, ``"none"`` for motion only, or ``"yolo"`` for the model's
    own features), ``reid_weights``, ``reid_runtime``, ``reid_threads``, ``reid_streams``, ``device`` (the encoder's),
    ``half``, ``tracker_config`` and ``classes``, each as documented on :class:`~trackreid.pipeline.TrackingOptions`.
    ``persist``: keep IDs across calls (False: every call starts afresh, like Ultralytics' default).
    Attaching again replaces the earlier attachment; :func:`detach` restores the model.
    """
    return Attachment(model, persist=persist, **options)


def detach(model, keep_predictor: bool = False) -> None:
    """Remove trackreid from ``model`` (its ``track`` is Ultralytics' own again); nothing happens if not attached."""
    att = model.__dict__.get("_trackreid")
    if att is not None:
        att.detach(keep_predictor)


class Attachment:
    """trackreid attached to one YOLO model: its trackers (one per stream), the encoder, and the callbacks.

    ``tracker``: the tracker of the first (or only) stream, None before the first call; ``trackers``: one per
    stream of a multi-stream source; ``encoder``: the ReID encoder (None with ``reid="none"`` or ``"yolo"``).
    """

    def __init__(self, model, *, persist: bool = True, **options: Any):
        _check_model(model)
        yolo_features = isinstance(options.get("reid"), str) and options["reid"].strip().lower() == YOLO_FEATURES
        if yolo_features:
            _check_features(model)
            if options.get("reid_weights"):
                raise PipelineError("attach: reid_weights given with reid='yolo' (the detector's own features); "
                                    "drop the weights or choose a ReID model")
            options = {**options, "reid": "none"}
        self.options = model_options("attach", options, extra=("classes",))
        self.persist = bool(persist)
        _drop_ultralytics_tracking(model)
        self.yolo_features = yolo_features
        """Appearance from the detector's features (``reid="yolo"``) instead of :attr:`encoder`."""
        self.classes = _class_ids(model, self.options.classes)
        """Class ids tracked when a call names none (None: every class)."""
        self.encoder = None if yolo_features else load_encoder(self.options)
        self.trackers: list = []
        self.model = model
        self._fresh = False        # the next call starts afresh (``track(persist=False)``)
        self._predictor = None     # the predictor of the call in progress (the feature hook writes to it)
        self._hook = None          # (module, handle) of the feature hook
        detach(model, keep_predictor=True)
        model.add_callback("on_predict_start", self._on_predict_start)
        model.add_callback("on_predict_postprocess_end", self._on_predict_postprocess_end)
        model.track = self.track   # this instance only: Ultralytics' own tracker callbacks stay unregistered
        model._trackreid = self

    # ------------------------------------------------------------------ public
    @property
    def tracker(self):
        """The tracker of the first stream (None before the first call)."""
        return self.trackers[0] if self.trackers else None

    def track(self, source=None, stream: bool = False, persist: bool | None = None, **kwargs):
        """``model.track`` while attached: ``model.predict`` in track mode, one frame per batch unless ``batch`` is
        given. ``persist``: None keeps :func:`attach`'s choice; False starts this call afresh; True keeps IDs."""
        if persist is not None and not persist:
            self._fresh = True
        if kwargs.get("conf") is None:
            kwargs.pop("conf", None)   # predict's default, 0.25, as trackreid's
        kwargs["batch"] = kwargs.get("batch") or 1
        kwargs["mode"] = "track"
        return self.model.predict(source=source, stream=stream, **kwargs)

    def reset(self) -> None:
        """Forget every track and remembered identity; the next frame starts at ID 1 (a new video)."""
        self.trackers = []

    def ids_now(self, ids, stream: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """For IDs results showed up to ``memory_recall_frames`` ago: the ID each ends up with as known now, and
        whether it is final (``Tracker.ids_now`` of stream ``stream``)."""
        if stream >= len(self.trackers):
            raise PipelineError(f"ids_now: no tracker for stream {stream} yet ({len(self.trackers)} in use)")
        return self.trackers[stream].ids_now(ids)

    def detach(self, keep_predictor: bool = False) -> None:
        """Remove the callbacks, the feature hook and the ``track`` override from the model (and its predictor,
        which the next call builds afresh, unless ``keep_predictor``)."""
        model = self.model
        for event, fn in (("on_predict_start", self._on_predict_start),
                          ("on_predict_postprocess_end", self._on_predict_postprocess_end)):
            model.callbacks[event] = [cb for cb in model.callbacks[event] if cb != fn]
        if self._hook is not None:
            self._hook[1].remove()
            self._hook = None
        if model.__dict__.get("track") == self.track:
            del model.__dict__["track"]
        if model.__dict__.get("_trackreid") is self:
            del model.__dict__["_trackreid"]
        if not keep_predictor:
            model.predictor = None

    # ------------------------------------------------------------------ callbacks
    def _on_predict_start(self, predictor) -> None:
        """A tracker per stream (kept from earlier calls unless this one starts afresh); people only unless the
        call names classes; the feature hook for ``reid="yolo"``."""
        self._predictor = predictor
        if predictor.args.classes is None and self.classes is not None:
            predictor.args.classes = list(self.classes)
        if self._fresh or not self.persist:
            self.trackers, self._fresh = [], False
        dataset = predictor.dataset
        streams = dataset.bs if getattr(dataset, "mode", None) == "stream" else 1
        while len(self.trackers) < streams:
            self.trackers.append(new_tracker(self.options, self.encoder, float(predictor.args.conf)))
        if self.yolo_features:
            self._hook_features(predictor)

    def _on_predict_postprocess_end(self, predictor) -> None:
        stream = getattr(predictor.dataset, "mode", None) == "stream"
        for i, result in enumerate(predictor.results):
            predictor.results[i] = self._track(self.trackers[i if stream else 0], result)

    # ------------------------------------------------------------------ per frame
    def _track(self, tracker, result):
        """One frame: the detections as the CLI reads them, embedded as the CLI embeds them, one tracker step; the
        result keeps the tracked rows with the track's box, ID, score and class."""
        import torch

        from trackreid.detection.yolo import _as_detections

        dets = _as_detections(result.boxes)
        frame = result.orig_img
        if self.yolo_features:
            given = tracker.detections(dets)
            emb = _yolo_embeddings(result, given)
        else:
            given, emb, _ = embed_detections(self.encoder, tracker, frame, dets)
        out = tracker.step(given, frame, embeddings=emb)
        kept = result[out.tracks[:, 7].astype(np.int64)]
        kept.update(boxes=torch.as_tensor(out.tracks[:, :7], device=result.boxes.data.device))
        kept.tracker_output = out
        return kept

    def _hook_features(self, predictor) -> None:
        """Keep the input of the model's Detect head on the predictor, from which Ultralytics' postprocess cuts
        each kept box's feature vector (``r.feats``)."""
        head = predictor.model.model.model[-1]
        if self._hook is not None and self._hook[0] is head:
            return
        if self._hook is not None:
            self._hook[1].remove()

        def keep_inputs(module, inputs):
            if self._predictor is not None:
                self._predictor._feats = list(inputs[0])

        self._hook = (head, head.register_forward_pre_hook(keep_inputs))


def _yolo_embeddings(result, given):
    """The rows of ``r.feats`` the tracker reads (None when it reads none)."""
    if not given.embed.any():
        return None
    feats = getattr(result, "feats", None)
    if feats is None or len(feats) != given.given:
        raise PipelineError("reid='yolo': the model gave no feature for each detection; use reid='auto' "
                            "(trackreid's encoder)")
    feats = feats.float().cpu().numpy() if hasattr(feats, "cpu") else np.asarray(feats, np.float32)
    return feats[given.embed_index]


def _check_model(model) -> None:
    try:
        from ultralytics.engine.model import Model
    except ImportError:
        raise PipelineError("attach: the ultralytics package is not installed (pip install ultralytics)") from None
    if not isinstance(model, Model):
        raise PipelineError(f"attach: expected an Ultralytics model (ultralytics.YOLO(...)), got "
                            f"{type(model).__name__}")
    task = getattr(model, "task", None)
    if task not in _TRACKABLE:
        raise PipelineError(f"attach: {_name(model)!r} is a {task!r} model; trackreid needs a detection model "
                            f"(task {', '.join(_TRACKABLE)}): load one with YOLO(path, task='detect')")


def _check_features(model) -> None:
    import torch

    net = model.__dict__.get("_modules", {}).get("model")
    head = net.model[-1] if isinstance(net, torch.nn.Module) and hasattr(net, "model") else None
    from ultralytics.nn.modules.head import Detect

    if not isinstance(head, Detect) or getattr(head, "end2end", False):
        raise PipelineError(f"attach: reid='yolo' needs a PyTorch YOLO model with an NMS Detect head (a .pt or .yaml "
                            f"model, not end-to-end); {_name(model)!r} has none: use reid='auto' (trackreid's encoder)")


def _class_ids(model, classes):
    from trackreid.detection.yolo import _torch_threads_kept, resolve_classes

    with _torch_threads_kept():  # reading names may set up Ultralytics' predictor, which sets torch's threads
        names = model.names
    names = {int(k): str(v) for k, v in (names.items() if isinstance(names, dict) else enumerate(names))}
    try:
        return resolve_classes(classes, names, _name(model))
    except ValueError as exc:
        raise PipelineError(f"attach: {exc}") from None


def _drop_ultralytics_tracking(model) -> None:
    """Remove Ultralytics' own tracker callbacks (from an earlier ``model.track``) and its predictor, which may
    hold their hooks; the next call builds a fresh predictor."""
    try:
        from ultralytics.trackers import track as ultra_track
    except ImportError:  # pragma: no cover - an Ultralytics without trackers
        ultra_track = None
    if ultra_track is not None:
        theirs = (ultra_track.on_predict_start, ultra_track.on_predict_postprocess_end)
        for event in ("on_predict_start", "on_predict_postprocess_end"):
            model.callbacks[event] = [cb for cb in model.callbacks[event] if getattr(cb, "func", cb) not in theirs]
    model.predictor = None


def _name(model) -> str:
    return str(getattr(model, "model_name", None) or getattr(model, "ckpt_path", None) or type(model).__name__)
