"""ReID embeddings of a frame's detections (or of several frames' at once), only of the rows the tracker reads."""
from __future__ import annotations

import time

import numpy as np


def to_embed(tracker, dets: np.ndarray):
    """What to pass ``tracker`` for ``dets`` (N, 6) and the (K, 4) boxes whose embeddings it reads, in order.

    Our :class:`~trackreid.Tracker` validates the detections once into a
    :class:`~trackreid.types.Detections` that marks the rows it reads (high-score boxes); any other tracker
    (BoxMOT's interface) gets the array itself and an embedding for every row."""
    rule = getattr(tracker, "detections", None)
    if rule is not None:
        given = rule(dets)
        return given, given.boxes_to_embed()
    arr = np.asarray(dets)
    return arr, np.ascontiguousarray(arr[:, :4]) if len(arr) else np.empty((0, 4), np.float32)


def embed_detections(encoder, tracker, frame, dets: np.ndarray):
    """``(given, embeddings, ms)`` for one frame: what to pass the tracker (:func:`to_embed`), the (K, D) embeddings
    of the boxes it reads (None without an encoder or with nothing to embed) and the milliseconds spent; a run
    without an encoder spends exactly 0."""
    t0 = time.perf_counter()
    given, boxes = to_embed(tracker, dets)
    if encoder is None:
        return given, None, 0.0
    emb = embed_many(encoder, [frame], [boxes])[0]
    return given, emb, (time.perf_counter() - t0) * 1e3


def embed_many(encoder, frames: list[np.ndarray], boxes: list[np.ndarray]) -> list[np.ndarray | None]:
    """Embeddings (K, D) of ``boxes`` (K, 4) of one or several frames, every crop in one forward when the encoder
    can (its ``preprocess`` and ``forward``), else one call per frame; None for a frame with no box."""
    if encoder is None:
        return [None] * len(frames)
    pre, fwd = getattr(encoder, "preprocess", None), getattr(encoder, "forward", None)
    if pre is not None and fwd is not None and sum(len(b) for b in boxes):
        import torch

        crops = [pre(f, b) for f, b in zip(frames, boxes) if len(b)]
        feats = fwd(torch.cat(crops)).float().cpu().numpy()
        parts, at = [], 0
        for b in boxes:
            parts.append(feats[at:at + len(b)] if len(b) else None)
            at += len(b)
        return parts
    return [np.asarray(encoder(f, b), np.float32) if len(b) else None for f, b in zip(frames, boxes)]
