"""Tracker settings: one dataclass, each default documented once, loadable from YAML."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path

CMC_METHODS = (None, "sparse_flow")
EMBED_POLICIES = ("on_demand", "always")


@dataclass
class TrackerConfig:
    """Association policy and lifecycle settings of :class:`trackreid.Tracker`.

    Distances are in [0, 1] for IoU (``1 - IoU``) and in [0, 2] for appearance (cosine distance of L2-normalised
    features). Spatial gates are in units of the track's box height, so they scale with how far a person is from
    the camera.
    """

    # --- detection split (ByteTrack) ---
    track_high_thresh: float = 0.5
    """Detections scoring at least this enter the first (appearance + motion) association stage."""
    track_low_thresh: float = 0.1
    """Detections scoring below this are ignored; those between low and high only extend existing tracks."""
    new_track_thresh: float = 0.6
    """An unmatched high-score detection starts a new (tentative) track only if it scores at least this."""

    # --- first stage: confirmed and lost tracks vs high-score detections ---
    match_thresh: float = 0.8
    """Largest fused cost accepted in the first stage."""
    appearance_weight: float = 0.5
    """Weight of the appearance distance in the fused cost (the rest goes to ``1 - IoU``); 0 = motion only."""
    appearance_thresh: float = 0.5
    """Cosine distance above which a track and a detection are never matched where motion is ambiguous (a veto on
    clear mismatches, so a crossing cannot hand a track to someone who looks different; a pair that motion alone
    would join with no rival in its row or column is left to motion, a lost track's never is). This, ``reid_thresh`` and ``memory_thresh`` are
    on the scale of OSNet x0.25 Market-1501, with which they were tuned; an encoder whose weights record their own
    (``trackreid.reid.thresholds``, e.g. the default MSMT17 one) replaces them unless they are set explicitly."""
    appearance_margin: float = 0.1
    """Appearance alone may join a track and a detection (beyond the IoU rule of motion-only matching, or to
    re-identify a lost track) only for a mutual-best pair whose cosine distance beats the runner-up of its row and of
    its column by at least this. Features that do not tell people apart (an untrained network) thus never override
    motion; 0 trusts every mutual-best pair."""
    gate_radius: float = 1.0
    """Spatial gate of the fused (motion + appearance) cost: largest centre distance, in track box heights;
    boxes overlapping the prediction (IoU > 0.1) always pass."""
    size_ratio: float = 1.6
    """Largest ratio between track and detection box heights accepted by the spatial gate."""

    # --- re-identification of lost tracks (leans on appearance) ---
    track_buffer: int = 90
    """Frames a confirmed track is kept as lost (re-identifiable) before it is removed for good."""
    reid_thresh: float = 0.35
    """Largest cosine distance for re-identifying a lost track (appearance is then the main cost)."""
    reid_gate_growth: float = 0.08
    """The spatial gate of a lost track widens by this many box heights per frame lost..."""
    reid_gate_max: float = 4.0
    """...up to this many box heights."""
    reid_motion_weight: float = 0.2
    """Weight of the normalised centre distance added to the appearance distance when re-identifying."""
    refind_iou: float = 0.5
    """A high-score box overlapping a lost track's last seen box by at least this IoU (the person back where they
    vanished, e.g. after an occluder passed or an umbrella opened) re-finds that track when appearance is within
    ``reid_thresh``, without the ratio test (a partial view may look about as much like someone else in view).
    Elsewhere a lost track matches only within ``reid_thresh`` and distinctly. 1: off."""

    # --- second stage (low-score detections, motion only) and tentative tracks ---
    low_match_thresh: float = 0.5
    """Largest ``1 - IoU`` accepted when a low-score detection extends an unmatched confirmed track."""
    tentative_match_thresh: float = 0.7
    """Largest fused cost accepted when matching tentative tracks to the remaining high-score detections."""
    min_hits: int = 2
    """Matched frames (including the first) before a tentative track is confirmed and gets an ID."""

    # --- which detections are embedded ---
    embed_policy: str = "on_demand"
    """``"on_demand"``: embed a high-score detection only where appearance can change a decision or is due
    (``trackreid.tracking.demand``: near another person or track, not claimed by one settled track, and every
    ``embed_period``-th frame); the rest are matched by motion. ``"always"``: every high-score detection, every
    frame. Embeddings given for every row (an (N, 6) array with N embeddings) are all read either way."""
    embed_period: int = 10
    """With ``on_demand``, every this-many frames every high-score detection is embedded: fresh features, good views
    for the identity memory and people seen together for the calibration, for every track at once."""

    # --- appearance memory ---
    ema_alpha: float = 0.9
    """Feature memory momentum: ``f = a * f + (1 - a) * e`` for a fully trusted detection."""
    occlusion_trust: bool = False
    """Trust the embedding of a detection that someone in front covers less: its weight in the feature-memory
    update shrinks with the covered fraction, and when more than half is covered the appearance veto is skipped.
    Off by default (on the synthetic benchmark the veto on every box keeps more identities); worth trying with a
    ReID model whose features of half-hidden people are unreliable."""

    calibrate: bool = True
    """Fit ``appearance_thresh``, ``reid_thresh``, ``memory_thresh`` and the margins to this video's appearance scale
    (``trackreid.tracking.calibration``: people seen together are different people, a track's new view and its
    earlier ones are one); until ``calibration_pairs`` are seen, and with False, the values above apply."""
    calibration_pairs: int = 1000
    """Different-people distances (pairs of people seen together) needed before calibrating."""

    # --- identity memory: re-entry after a track was lost or removed ---
    memory: bool = True
    """Give a new track the ID of a person seen before when its appearance matches them distinctly: a removed
    identity kept in the memory, or a lost track anywhere in the frame and at any size (beyond the gates above).
    Active whenever appearance is available (``embeddings=`` or an encoder, ``appearance_weight`` > 0); False: every
    new track gets a fresh ID."""
    memory_size: int = 10_000
    """Most identities remembered; the least recently seen are forgotten first."""
    memory_ttl: int = 0
    """Frames an identity stays remembered after it was last seen; 0 = until ``memory_size`` evicts it."""
    memory_thresh: float = 0.15
    """Largest cosine distance (mean of the track's good views vs mean of the identity's exemplars) at which a new
    track takes a remembered or lost ID; kept tight because a newcomer who merely resembles someone who left would
    otherwise take that person's ID..."""
    memory_margin: float = 0.05
    """...and only if that distance beats the runner-up of its row and column by this much (two-way ratio test;
    people in view compete too, so a look-alike of someone present never takes a remembered ID)."""
    memory_speed: float = 0.1
    """A lost track is re-found this way only within ``reid_gate_max`` plus this many box heights per frame it
    was missing (a bound no walker breaks; identities already removed may come back anywhere)."""
    memory_exemplars: int = 6
    """Appearance exemplars kept per identity: diverse views from good detections (score >= ``new_track_thresh``,
    not covered by someone in front, not cut by the image border, not a sliver)."""
    memory_recall_frames: int = 90
    """A track that got a fresh ID may still take a remembered or lost ID during this many frames, when a good view
    of it arrives (people entering through the border are first seen cut off); 0 = only when it is confirmed."""

    # --- motion model ---
    std_weight_position: float = 1.0 / 20
    """Kalman position noise, as a fraction of box size."""
    std_weight_velocity: float = 1.0 / 160
    """Kalman velocity noise, as a fraction of box size."""
    nsa: bool = False
    """Scale the measurement noise by ``1 - score`` (StrongSORT's NSA Kalman): confident boxes move tracks more.
    Off by default: with jittery boxes the smoothing of the plain filter localises better."""
    cmc: str | None = None
    """Camera-motion compensation: None or ``"sparse_flow"`` (OpenCV optical flow; needs ``frame``)."""
    cmc_downscale: int = 2
    """Frames are shrunk by this factor before camera-motion estimation."""

    # --- classes ---
    class_aware: bool = True
    """Only match a track to detections of its own class (False: the class is ignored for association)."""

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.type == "float" and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise ValueError(f"TrackerConfig.{f.name} must be a number, got {v!r}")
            if f.type == "int" and (isinstance(v, bool) or not isinstance(v, int)):
                raise ValueError(f"TrackerConfig.{f.name} must be an integer, got {v!r}")
            if f.type == "bool" and not isinstance(v, bool):
                raise ValueError(f"TrackerConfig.{f.name} must be true or false, got {v!r}")
        for name in ("track_high_thresh", "track_low_thresh", "new_track_thresh", "ema_alpha"):
            v = getattr(self, name)
            if not 0.0 <= float(v) <= 1.0:
                raise ValueError(f"TrackerConfig.{name} must be in [0, 1], got {v}")
        if self.track_low_thresh > self.track_high_thresh:
            raise ValueError(
                f"TrackerConfig.track_low_thresh ({self.track_low_thresh}) must not exceed "
                f"track_high_thresh ({self.track_high_thresh})"
            )
        if not 0.0 <= self.appearance_weight <= 1.0:
            raise ValueError(f"TrackerConfig.appearance_weight must be in [0, 1], got {self.appearance_weight}")
        for name in ("match_thresh", "low_match_thresh", "tentative_match_thresh", "appearance_thresh",
                     "reid_thresh", "gate_radius", "reid_gate_max", "std_weight_position", "memory_thresh",
                     "std_weight_velocity"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"TrackerConfig.{name} must be > 0, got {getattr(self, name)}")
        for name in ("reid_gate_growth", "reid_motion_weight", "appearance_margin", "memory_margin",
                     "memory_speed"):
            if float(getattr(self, name)) < 0:
                raise ValueError(f"TrackerConfig.{name} must be >= 0, got {getattr(self, name)}")
        if self.size_ratio < 1:
            raise ValueError(f"TrackerConfig.size_ratio must be >= 1, got {self.size_ratio}")
        if int(self.calibration_pairs) < 1:
            raise ValueError(f"TrackerConfig.calibration_pairs must be >= 1, got {self.calibration_pairs}")
        if not 0.0 < self.refind_iou <= 1.0:
            raise ValueError(f"TrackerConfig.refind_iou must be in (0, 1] (1: off), got {self.refind_iou}")
        if int(self.track_buffer) < 0 or int(self.min_hits) < 1 or int(self.cmc_downscale) < 1:
            raise ValueError("TrackerConfig: track_buffer must be >= 0, min_hits >= 1 and cmc_downscale >= 1")
        if self.memory_size < 1 or self.memory_ttl < 0 or self.memory_exemplars < 2 or self.memory_recall_frames < 0:
            raise ValueError("TrackerConfig: memory_size must be >= 1, memory_ttl >= 0 (0 = forever) and "
                             f"memory_exemplars >= 2 and memory_recall_frames >= 0, got {self.memory_size}, "
                             f"{self.memory_ttl}, {self.memory_exemplars}, {self.memory_recall_frames}")
        if self.embed_policy not in EMBED_POLICIES:
            raise ValueError(f"TrackerConfig.embed_policy must be one of {EMBED_POLICIES}, got {self.embed_policy!r}")
        if int(self.embed_period) < 1:
            raise ValueError(f"TrackerConfig.embed_period must be >= 1, got {self.embed_period}")
        if self.cmc not in CMC_METHODS:
            raise ValueError(f"TrackerConfig.cmc must be one of {CMC_METHODS}, got {self.cmc!r}")

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_dict(cls, values: dict, defaults: dict | None = None) -> "TrackerConfig":
        """Build from a mapping; unknown keys raise ``ValueError`` listing the valid ones. ``defaults``: values for
        the keys ``values`` leaves out (e.g. the encoder's thresholds), before the class defaults."""
        if not isinstance(values, dict):
            raise ValueError(f"tracker config: expected a mapping of settings, got {type(values).__name__}")
        valid = cls.field_names()
        unknown = sorted(set(values) - set(valid))
        if unknown:
            raise ValueError(f"tracker config: unknown key(s) {unknown}; valid keys are: {', '.join(valid)}")
        return cls(**{**(defaults or {}), **values})

    @classmethod
    def from_yaml(cls, path: str | Path, defaults: dict | None = None) -> "TrackerConfig":
        """Load settings from a YAML mapping (the CLI's ``--tracker-config``); absent keys keep their defaults
        (``defaults``, then the class's)."""
        import yaml

        path = Path(path)
        if not path.is_file():
            raise ValueError(f"tracker config: file not found: {path}")
        with path.open("r", encoding="utf-8") as fh:
            values = yaml.safe_load(fh)
        if values is None:
            values = {}
        try:
            return cls.from_dict(values, defaults)
        except ValueError as exc:
            raise ValueError(f"{exc} (in {path})") from None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
