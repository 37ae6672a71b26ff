"""Appearance thresholds measured on the video itself.

Fixed cosine-distance thresholds fit one encoder's scale. The video says what scale this encoder has here: people
seen in the same frame are different people, and a track's new view against its own earlier views is one person.
From those two samples, kept in bounded reservoirs, the calibration measures where this video's different-people
distances put the appearance veto's false-match rate (``trackreid.reid.thresholds.FALSE_MATCH_RATES``, the rate
the fixed veto has on real crops) and scales every appearance threshold and margin by the ratio to the fixed veto,
and the fused cost reads appearance distances in the fixed scale. Two encoders whose distances differ by a scale
thus make the same decisions; an encoder the stored thresholds do not know (fine-tuned, exported) gets thresholds
on its own scale.

One scale, not one quantile per threshold: the memory threshold sits at a 0.55% false-match rate, too far in the
tail to estimate per video. The scale only tightens (at most 1): where different people are further apart than on
the scale the fixed values were set for, the fixed values stay (loosening merged people whose occluded views drift,
on the synthetic benchmark). Until enough pairs are seen (``TrackerConfig.calibration_pairs``) the fixed values
apply. When a track's own views are not clearly closer than different people (an untrained network, features that
do not tell these people apart), appearance decides nothing: no veto, no re-identification, no recall from the
memory.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trackreid.reid.thresholds import FALSE_MATCH_RATES

__all__ = ["AppearanceThresholds", "DistanceCalibration"]

PAIRS_PER_FRAME = 64
"""Most different-people pairs taken from one frame (a crowd does not flood the reservoir with one moment)."""
REFRESH_FRAMES = 30
"""Observed frames between two computations of the thresholds (distances change slowly; quantiles cost)."""
MAX_OVERLAP = 0.05
"""Appearance counts as informative when at most this fraction of the different-people distances is smaller than
the 90th percentile of a track's distances to its own new views (a trained encoder on real footage: 0%; an
untrained network: 13%)."""


@dataclass(frozen=True)
class AppearanceThresholds:
    """The distances one frame's appearance decisions use (each documented in ``TrackerConfig``)."""

    appearance: float
    """Veto of association (``appearance_thresh``)."""
    reid: float
    """Re-identification of a lost track (``reid_thresh``)."""
    memory: float
    """A new track taking a remembered or lost identity (``memory_thresh``)."""
    scale: float = 1.0
    """This video's appearance distances over the fixed scale (at most 1): the thresholds above are the fixed ones
    times it, the ratio-test margins (``appearance_margin``, ``memory_margin``) are too, and the fused cost divides
    appearance distances by it."""
    source: str = "fixed"
    """``fixed`` (the configured values), ``calibrated`` (measured on this video) or ``uninformative`` (this
    encoder does not tell these people apart: appearance decides nothing)."""

    @classmethod
    def configured(cls, cfg) -> "AppearanceThresholds":
        """The fixed values of a ``TrackerConfig``."""
        return cls(cfg.appearance_thresh, cfg.reid_thresh, cfg.memory_thresh)


class DistanceCalibration:
    """Reservoirs of different-people and same-person distances from one video, and the thresholds they give.

    ``observe`` takes one frame's matched views; ``thresholds(fixed)`` returns the values to use now. Memory is
    bounded (``size`` distances per reservoir, replaced at random once full, so old footage fades out)."""

    def __init__(self, min_pairs: int = 1000, size: int = 4096, seed: int = 0):
        self.size, self.min_pairs = int(size), int(min_pairs)
        self._rng = np.random.default_rng(seed)
        self.reset()

    def reset(self) -> None:
        self.different = np.empty(0, np.float32)
        self.same = np.empty(0, np.float32)
        self._seen = {"different": 0, "same": 0}
        self._cached: tuple[AppearanceThresholds, AppearanceThresholds] | None = None  # (fixed, result)
        self._since = 0  # frames observed since the cached result

    def _add(self, name: str, values: np.ndarray) -> None:
        """Reservoir sampling: every distance seen so far has the same chance of being held."""
        values = np.asarray(values, np.float32).reshape(-1)
        held = getattr(self, name)
        seen = self._seen[name]
        room = self.size - len(held)
        if room > 0:
            held = np.concatenate([held, values[:room]])
            seen += min(room, len(values))
            values = values[room:]
        if len(values):
            slots = self._rng.integers(0, seen + np.arange(1, len(values) + 1))
            keep = slots < self.size
            held[slots[keep]] = values[keep]
            seen += len(values)
        setattr(self, name, held)
        self._seen[name] = seen

    def observe(self, views: np.ndarray, own: np.ndarray) -> None:
        """One frame: ``views`` (M, D) L2-normalised embeddings of M different tracked people seen in it, ``own``
        (M, D) each one's smoothed feature from before this frame (rows of zeros where a track has none yet)."""
        self._since += 1
        m = len(views)
        if m >= 2:
            i, j = np.triu_indices(m, 1)
            if len(i) > PAIRS_PER_FRAME:
                pick = self._rng.choice(len(i), PAIRS_PER_FRAME, replace=False)
                i, j = i[pick], j[pick]
            self._add("different", 1.0 - np.einsum("kd,kd->k", views[i], views[j]))
        has = np.abs(own).sum(1) > 0
        if has.any():
            self._add("same", 1.0 - np.einsum("kd,kd->k", views[has], own[has]))

    @property
    def ready(self) -> bool:
        return len(self.different) >= self.min_pairs and len(self.same) >= self.min_pairs // 4

    def thresholds(self, fixed: AppearanceThresholds) -> AppearanceThresholds:
        """The thresholds to use now: ``fixed`` scaled to this video once enough pairs are seen, else ``fixed``
        (computed again every ``REFRESH_FRAMES`` observed frames)."""
        if not self.ready:
            return fixed
        if self._cached is not None and self._cached[0] == fixed and self._since < REFRESH_FRAMES:
            return self._cached[1]
        self._cached, self._since = (fixed, self._measure(fixed)), 0
        return self._cached[1]

    def _measure(self, fixed: AppearanceThresholds) -> AppearanceThresholds:
        d = self.different
        if np.mean(d < np.quantile(self.same, 0.9)) > MAX_OVERLAP:
            return AppearanceThresholds(2.0, 0.0, 0.0, 1.0, "uninformative")
        scale = min(1.0, float(np.quantile(d, FALSE_MATCH_RATES["appearance_thresh"])) / fixed.appearance)
        return AppearanceThresholds(fixed.appearance * scale, fixed.reid * scale, fixed.memory * scale, scale,
                                    "calibrated")

    def stats(self) -> dict:
        """What the calibration holds (pairs seen, medians held), for tests and diagnostics."""
        out = {"different_pairs": int(self._seen["different"]), "same_pairs": int(self._seen["same"])}
        if len(self.different) and len(self.same):
            out.update(different_median=round(float(np.median(self.different)), 4),
                       same_median=round(float(np.median(self.same)), 4))
        return out
