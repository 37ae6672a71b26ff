"""Distance thresholds that fit an encoder's scale.

The tracker's appearance decisions compare cosine distances with fixed thresholds (the appearance veto, the
re-identification of lost tracks, the identity memory, cross-camera linking). Encoders differ in scale: one trained
on more cameras spreads different people further apart and the same person's views a little further too, so
thresholds tuned with one encoder are too tight or too loose with another. Each known encoder therefore carries
its own values (the ``thresholds`` of its entry in ``manifest.json``), applied whenever it runs unless the user
sets a value explicitly.

The values are measured, not tuned: on real person crops (MOT17 ground-truth crops, different people of the same
sequence as the negatives) each threshold keeps the false-match rate the reference encoder (``REFERENCE``, whose
values were tuned on the tracking benchmarks) has at its tuned value, and the appearance weight of the fused
association cost shrinks as the encoder spreads different people further than the reference does. The cross-camera
linker's ratio-test margin grows with the spread of one person's own views (the median same-identity distance): a
true match must beat the runner-up by more than the noise of its own distance. ``benchmarks/
encoder_thresholds.py`` runs the procedure for any encoder and prints the values.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

__all__ = ["EncoderThresholds", "FALSE_MATCH_RATES", "REFERENCE", "TUNED", "false_match_rates", "pair_distances",
           "scaled_thresholds", "stored_thresholds", "thresholds_at_rates", "thresholds_for"]

REFERENCE = "osnet_x0_25_market1501"
"""The encoder the tracker's thresholds were tuned with (synthetic and real tracking benchmarks)."""


@dataclass(frozen=True)
class EncoderThresholds:
    """Cosine distances on one encoder's scale (each documented where it is used)."""

    appearance_thresh: float
    """``TrackerConfig.appearance_thresh``: the appearance veto of association."""
    reid_thresh: float
    """``TrackerConfig.reid_thresh``: re-identification of a lost track."""
    memory_thresh: float
    """``TrackerConfig.memory_thresh``: a new track taking a remembered or lost identity."""
    link_thresh: float
    """``LinkConfig.thresh``: a track taking a global identity from another camera."""
    appearance_weight: float
    """``TrackerConfig.appearance_weight``: the appearance distance's weight in the fused association cost, so that
    a wider-spread encoder does not outweigh motion more than the reference does."""
    link_margin: float | None = None
    """``LinkConfig.margin``: the cross-camera ratio test's margin (None: ``LinkConfig``'s default; older manifests
    and exports do not record it)."""

    def tracker_settings(self) -> dict:
        """The ``TrackerConfig`` keys these values set."""
        return {"appearance_thresh": self.appearance_thresh, "reid_thresh": self.reid_thresh,
                "memory_thresh": self.memory_thresh, "appearance_weight": self.appearance_weight}

    def thresholds(self) -> dict:
        """The distance thresholds alone (what :func:`false_match_rates` rates)."""
        return {k: v for k, v in self.to_dict().items() if k not in ("appearance_weight", "link_margin")}

    def link_settings(self) -> dict:
        """The ``LinkConfig`` keys these values set."""
        out = {"thresh": self.link_thresh}
        if self.link_margin is not None:
            out["margin"] = self.link_margin
        return out

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _tuned() -> EncoderThresholds:
    from trackreid.tracking.config import TrackerConfig
    from trackreid.tracking.global_ids import LinkConfig

    return EncoderThresholds(appearance_thresh=TrackerConfig.appearance_thresh,
                             reid_thresh=TrackerConfig.reid_thresh, memory_thresh=TrackerConfig.memory_thresh,
                             link_thresh=LinkConfig.thresh, appearance_weight=TrackerConfig.appearance_weight,
                             link_margin=LinkConfig.margin)


TUNED = _tuned()
"""The values tuned with the ``REFERENCE`` encoder: the defaults of ``TrackerConfig`` and ``LinkConfig``."""


FALSE_MATCH_RATES = {"appearance_thresh": 0.6611, "reid_thresh": 0.1754, "memory_thresh": 0.0055,
                     "link_thresh": 0.0887}
"""The fraction of different-people pairs of one scene that each tuned threshold accepts with the reference encoder
(``benchmarks/encoder_thresholds.py`` prints them: MOT17 ground-truth crops of mot17-mini). Any encoder's
thresholds keep these rates: offline on the same crops (:func:`scaled_thresholds`), online on the people a video
shows together (``trackreid.tracking.calibration``)."""


def thresholds_at_rates(different: np.ndarray, rates: dict | None = None) -> dict:
    """Each threshold at the quantile of the different-identity distances ``different`` that accepts its false-match
    rate (default :data:`FALSE_MATCH_RATES`)."""
    rates = FALSE_MATCH_RATES if rates is None else rates
    return {k: round(float(np.quantile(different, r)), 3) for k, r in rates.items()}


def pair_distances(features: np.ndarray, pids: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosine distances of (same-identity pairs, different-identity pairs of the same group).

    features: (N, D) embeddings; pids: (N,) identities; groups: (N,) scene or sequence of each crop (negatives are
    people seen in the same place, the ones a tracker must tell apart)."""
    f = np.asarray(features, np.float64)
    f = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
    dist = 1.0 - f @ f.T
    upper = np.triu(np.ones(dist.shape, bool), 1)
    same_id = pids[:, None] == pids[None, :]
    same_group = groups[:, None] == groups[None, :]
    return dist[upper & same_id], dist[upper & ~same_id & same_group]


def false_match_rates(different: np.ndarray, thresholds: EncoderThresholds) -> dict:
    """Fraction of different-identity pairs each threshold would accept."""
    return {k: float(np.mean(different < v)) for k, v in thresholds.thresholds().items()}


def scaled_thresholds(reference_different: np.ndarray, different: np.ndarray, reference_same: np.ndarray,
                      same: np.ndarray, tuned: EncoderThresholds = TUNED) -> EncoderThresholds:
    """Thresholds for an encoder whose different- and same-identity distances are ``different`` and ``same``: each
    keeps the false-match rate ``tuned`` has on the reference encoder's ``reference_different`` (same crops for
    both); the appearance weight shrinks by the ratio of the two encoders' median different-identity distances; the
    link margin grows by the ratio of their median same-identity distances."""
    values = thresholds_at_rates(different, false_match_rates(reference_different, tuned))
    spread = float(np.median(reference_different) / np.median(different))
    noise = float(np.median(same) / np.median(reference_same))
    return EncoderThresholds(**values, appearance_weight=round(tuned.appearance_weight * spread, 3),
                             link_margin=round(tuned.link_margin * noise, 3))


def thresholds_for(weights_name: str | None) -> EncoderThresholds | None:
    """The thresholds recorded for known weights (a manifest name), or None when none are recorded."""
    from .weights import get_entry

    entry = get_entry(weights_name) if weights_name else None
    if entry is None or not entry.thresholds:
        return None
    return EncoderThresholds(**entry.thresholds)


def stored_thresholds(weights, meta: dict | None = None) -> EncoderThresholds | None:
    """The thresholds stored with ``weights``: an export's or a checkpoint's metadata (``meta``, read from a
    trackreid checkpoint file when not given; values it does not record come from the manifest entry of the weights
    it was made from), else the manifest entry of known weights (a name, or a file holding them:
    :func:`trackreid.reid.weights.identify`); None when unknown."""
    from pathlib import Path

    from .weights import identify

    if meta is None:
        meta = _checkpoint_meta(weights)
    entry = identify(weights) if weights is not None else None
    if entry is None and meta and meta.get("weights") and not Path(str(meta["weights"])).suffix:
        entry = identify(meta["weights"])  # an export of known weights, made by name
    known = thresholds_for(entry.name) if entry is not None else None
    if meta and isinstance(meta.get("thresholds"), dict):
        recorded = dict(meta["thresholds"])
        if known is not None:
            recorded = {**{k: v for k, v in known.to_dict().items() if v is not None}, **recorded}
        return EncoderThresholds(**recorded)
    return known


def _checkpoint_meta(weights) -> dict | None:
    """What a trackreid checkpoint file records about itself (``trackreid-adapt`` writes its thresholds there);
    None for names, exports and other files."""
    import os
    from pathlib import Path

    if weights is None or (isinstance(weights, str) and not Path(weights).suffix):
        return None
    path = Path(os.fspath(weights))
    if path.suffix.lower() not in (".pt", ".pth", ".tar") or not path.is_file():
        return None
    from .weights import WeightsError, read_checkpoint

    try:
        return read_checkpoint(path).meta
    except WeightsError:
        return None
