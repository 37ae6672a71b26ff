"""Rendered synthetic people scenes with exact ground truth, and Market-1501-layout identity sets.

Real tracking data is scarce, so tests, demos and benchmarks use scenes rendered here, deterministic from a seed:

- :func:`generate_scene` simulates people walking on a ground plane seen by a pinhole camera (perspective sizes,
  1.0-1.8 m/s, heading wobble, stops, entering/leaving through the borders, crossings, occlusion, optional camera
  pan). It returns a :class:`Scene` with MOT17 ground truth (with visibility), noisy detections (jitter, misses that
  grow with occlusion, false positives, realistic scores) and synthetic appearance embeddings. Frames are rendered
  lazily with OpenCV drawing (a few ms per 1280x720 frame).
- :func:`write_mot_sequence` writes the MOT17 layout; :func:`write_market_dataset` writes a Market-1501-layout
  identity set rendered by the same figure drawer.
"""
from __future__ import annotations

import configparser
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

__all__ = ["SceneConfig", "DetectionNoise", "Scene", "Person", "generate_scene", "write_mot_sequence",
           "write_market_dataset", "render_person_crop"]

# --------------------------------------------------------------------------------------------------------------
# Appearance
# --------------------------------------------------------------------------------------------------------------

#: clothing colours (BGR); small on purpose, so several people share colours (what makes ReID hard)
CLOTH_COLOURS = np.array([
    (40, 40, 40), (230, 230, 230), (150, 60, 20), (40, 40, 180), (60, 140, 60), (40, 180, 220),
    (130, 130, 130), (120, 50, 110), (30, 80, 150), (200, 160, 90),
], np.float64)
#: bottom (trousers/skirt) colours (BGR)
BOTTOM_COLOURS = np.array([
    (35, 35, 35), (110, 60, 30), (150, 150, 150), (60, 90, 120), (200, 200, 210), (40, 50, 90),
], np.float64)
SKIN_COLOURS = np.array([(170, 200, 240), (120, 160, 210), (80, 120, 170), (50, 75, 110)], np.float64)
HAIR_COLOURS = np.array([(20, 20, 20), (30, 60, 100), (90, 150, 200), (160, 160, 170), (20, 30, 60)], np.float64)
PATTERNS = ("solid", "stripes", "two_tone")
#: attribute groups that form the appearance code (see :meth:`Scene.embeddings_at`)
_ATTR_SIZES = {"top": len(CLOTH_COLOURS), "second": len(CLOTH_COLOURS), "bottom": len(BOTTOM_COLOURS),
               "pattern": len(PATTERNS), "skin": len(SKIN_COLOURS), "hair": len(HAIR_COLOURS), "bag": 2}


@dataclass(frozen=True)
class Person:
    """Appearance of one identity: palette indices plus small identity-specific variations."""

    top: int
    second: int            # secondary top colour (stripes / lower half for two_tone)
    bottom: int
    pattern: int           # index into PATTERNS
    skin: int
    hair: int
    bag: int               # 0 none, 1 bag
    tint: tuple            # per-identity BGR offset of the clothes (-14..14), so look-alikes differ slightly
    build: float           # body width factor (0.85..1.15)
    stripes: int           # number of stripes when pattern == stripes
    bag_colour: tuple
    long_hair: bool
    height_m: float        # body height in metres

    def attribute_vector(self) -> np.ndarray:
        """Concatenated one-hot attribute groups (the part of the identity code look-alikes share)."""
        parts = []
        for name, size in _ATTR_SIZES.items():
            v = np.zeros(size)
            v[getattr(self, name)] = 1.0
            parts.append(v)
        return np.concatenate(parts)


def _sample_person(rng: np.random.Generator) -> Person:
    top = int(rng.integers(len(CLOTH_COLOURS)))
    second = int(rng.integers(len(CLOTH_COLOURS)))
    if second == top:
        second = (second + 1 + int(rng.integers(len(CLOTH_COLOURS) - 1))) % len(CLOTH_COLOURS)
    return Person(
        top=top, second=second, bottom=int(rng.integers(len(BOTTOM_COLOURS))),
        pattern=int(rng.choice(3, p=[0.5, 0.25, 0.25])), skin=int(rng.integers(len(SKIN_COLOURS))),
        hair=int(rng.integers(len(HAIR_COLOURS))), bag=int(rng.random() < 0.35),
        tint=tuple(int(v) for v in rng.integers(-14, 15, 3)), build=float(rng.uniform(0.85, 1.15)),
        stripes=int(rng.integers(3, 6)), bag_colour=tuple(int(v) for v in rng.integers(20, 200, 3)),
        long_hair=bool(rng.random() < 0.3), height_m=float(rng.uniform(1.6, 1.9)),
    )


def _col(c, tint=(0, 0, 0), gain=(1.0, 1.0, 1.0)) -> tuple:
    return tuple(int(np.clip((float(c[i]) + tint[i]) * gain[i], 0, 255)) for i in range(3))


def _draw_person(img: np.ndarray, cx: float, foot_y: float, h: float, p: Person, phase: float, facing: int,
                 gain=(1.0, 1.0, 1.0), view: str = "side") -> None:
    """Draw one figure whose head top is at ``foot_y - h`` and feet at ``foot_y`` (box width about 0.4 h).

    ``facing`` is +1 (walking right) or -1; ``view`` is "side", "front" or "back"; ``phase`` is the walking cycle in
    radians; ``gain`` is a BGR lighting/colour-cast multiplier. Uses integer cv2 drawing with 2 bits of sub-pixel
    precision so small figures stay smooth.
    """
    if h < 6:
        return
    S = 4  # cv2 shift=2
    top_y = foot_y - h
    bw = 0.36 * h * p.build
    tint = p.tint
    top_c = _col(CLOTH_COLOURS[p.top], tint, gain)
    sec_c = _col(CLOTH_COLOURS[p.second], tint, gain)
    bot_c = _col(BOTTOM_COLOURS[p.bottom], tint, gain)
    skin_c = _col(SKIN_COLOURS[p.skin], (0, 0, 0), gain)
    hair_c = _col(HAIR_COLOURS[p.hair], (0, 0, 0), gain)
    shoe_c = _col((25, 25, 30), (0, 0, 0), gain)

    def P(x, y):
        return (int(round(x * S)), int(round(y * S)))

    def thick(t):
        return max(1, int(round(t)))

    swing = np.sin(phase)
    # legs: hip at 0.52h from the top, feet at foot_y
    hip_y = top_y + 0.52 * h
    leg_w = thick(0.085 * h * p.build)
    stride = 0.16 * h * (1.0 if view == "side" else 0.35)
    for s in (-1, 1):
        hx = cx + s * 0.06 * h * p.build
        fx = hx + s * swing * stride if view == "side" else hx + s * 0.02 * h
        fy = foot_y - leg_w / 2 - (0.03 * h * max(0.0, s * swing) if view != "side" else 0.0)
        cv2.line(img, P(hx, hip_y), P(fx, fy), bot_c, leg_w, cv2.LINE_AA, 2)
        cv2.line(img, P(fx - 0.02 * h + (0.03 * h * facing if view == "side" else 0), fy),
                 P(fx + 0.03 * h * (facing if view == "side" else 1), fy), shoe_c, thick(leg_w * 0.8), cv2.LINE_AA, 2)
    # torso: shoulders at 0.17h, hip at 0.52h
    sh_y = top_y + 0.17 * h
    x0, x1 = cx - bw / 2, cx + bw / 2
    torso = np.array([P(x0 + 0.04 * h, sh_y), P(x1 - 0.04 * h, sh_y), P(x1 - 0.02 * h, hip_y + 0.02 * h),
                      P(x0 + 0.02 * h, hip_y + 0.02 * h)], np.int32)
    cv2.fillConvexPoly(img, torso, top_c, cv2.LINE_AA, 2)
    pattern = PATTERNS[p.pattern]
    if pattern == "two_tone":
        mid = (sh_y + hip_y) / 2 + 0.02 * h
        lower = np.array([P(x0 + 0.03 * h, mid), P(x1 - 0.03 * h, mid), P(x1 - 0.02 * h, hip_y + 0.02 * h),
                          P(x0 + 0.02 * h, hip_y + 0.02 * h)], np.int32)
        cv2.fillConvexPoly(img, lower, sec_c, cv2.LINE_AA, 2)
    elif pattern == "stripes":
        n = p.stripes
        st = thick((hip_y - sh_y) / (2.2 * n))
        for k in range(n):
            yy = sh_y + (k + 0.6) * (hip_y - sh_y) / n
            cv2.line(img, P(x0 + 0.04 * h, yy), P(x1 - 0.04 * h, yy), sec_c, st, cv2.LINE_AA, 2)
    # bag on the far side first would be hidden; draw a shoulder bag in front
    if p.bag:
        bag_c = _col(p.bag_colour, (0, 0, 0), gain)
        side = -facing if view == "side" else 1
        bx = cx + side * (bw / 2 + 0.01 * h)
        cv2.rectangle(img, P(bx - 0.06 * h, hip_y - 0.12 * h), P(bx + 0.06 * h, hip_y + 0.04 * h), bag_c, -1,
                      cv2.LINE_AA, 2)
        cv2.line(img, P(bx, hip_y - 0.12 * h), P(cx - side * bw / 3, sh_y), bag_c, thick(0.015 * h), cv2.LINE_AA, 2)
    # arms
    arm_w = thick(0.06 * h * p.build)
    for s in (-1, 1):
        if view == "side":
            ax = cx + s * 0.03 * h
            hx = cx + s * swing * 0.13 * h
        else:
            ax = cx + s * (bw / 2 - 0.02 * h)
            hx = ax + s * 0.03 * h
        hy = top_y + 0.5 * h
        cv2.line(img, P(ax, sh_y + 0.02 * h), P(hx, hy), top_c, arm_w, cv2.LINE_AA, 2)
        cv2.circle(img, P(hx, hy), max(1, int(round(0.025 * h * S))), skin_c, -1, cv2.LINE_AA, 2)
    # neck + head
    head_r = 0.075 * h
    hc_y = top_y + head_r * 1.05
    cv2.line(img, P(cx, hc_y + head_r * 0.8), P(cx, sh_y + 0.01 * h), skin_c, thick(0.05 * h), cv2.LINE_AA, 2)
    axes = (max(1, int(round(head_r * 0.85 * S))), max(1, int(round(head_r * S))))
    cv2.ellipse(img, P(cx, hc_y), axes, 0, 0, 360, hair_c if view == "back" else skin_c, -1, cv2.LINE_AA, 2)
    # hair cap (and long hair down the back)
    if view != "back":
        off = -facing * 0.2 * head_r if view == "side" else 0.0
        cv2.ellipse(img, P(cx + off, hc_y - 0.25 * head_r), (axes[0], int(axes[1] * 0.8)), 0, 180, 360, hair_c,
                    -1, cv2.LINE_AA, 2)
    if p.long_hair:
        hx = cx - facing * 0.5 * head_r if view == "side" else cx
        cv2.line(img, P(hx, hc_y), P(hx, sh_y + 0.06 * h), hair_c, thick(head_r * (0.9 if view != "front" else 0.4)),
                 cv2.LINE_AA, 2)


def _background(rng: np.random.Generator, h: int, w: int, base=None) -> np.ndarray:
    """Textured ground: vertical gradient, paving joints and smooth noise (BGR uint8)."""
    base = np.asarray(base if base is not None else rng.integers(80, 170, 3), np.float32)
    yy = np.linspace(0.85, 1.1, h, dtype=np.float32)[:, None, None]
    img = np.broadcast_to(base * yy, (h, w, 3)).copy()
    small = rng.normal(0, 14, (max(2, h // 16), max(2, w // 16), 1)).astype(np.float32)
    small = small * rng.uniform(0.8, 1.2, 3).astype(np.float32)       # mostly grey, slightly coloured blotches
    img += cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    img += rng.normal(0, 4, (h, w, 1)).astype(np.float32)
    img = np.clip(img, 0, 255).astype(np.uint8)
    step = max(8, h // 12)
    dark = tuple(int(v) for v in (base * 0.75))
    for y in range(int(rng.integers(0, step)), h, step):
        cv2.line(img, (0, y), (w, y), dark, 1)
    for x in range(int(rng.integers(0, 2 * step)), w, 2 * step):
        cv2.line(img, (x, 0), (x, h), dark, 1)
    return img


# --------------------------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------------------------

@dataclass
class DetectionNoise:
    """How the simulated detector errs (all randomness is seeded by the scene)."""

    jitter: float = 0.04             #: std of each box edge's offset, as a fraction of the box width (x) / height (y)
    miss_rate: float = 0.03          #: probability of missing a fully visible person
    miss_occlusion: float = 0.6      #: extra miss probability at zero visibility: p = miss_rate + this*(1-vis)^2
    min_visibility: float = 0.1      #: people less visible than this are never detected
    false_positives: float = 0.5     #: mean number of false positives per frame (Poisson)
    score_mean: float = 0.88         #: mean score of a fully visible true detection
    score_occlusion_drop: float = 0.6   #: the mean score drops by this much at zero visibility (so some fall < 0.5)
    score_std: float = 0.1           #: std of true-detection scores
    fp_score_a: float = 2.0          #: false-positive scores ~ Beta(a, b): mostly low (mean 0.29 by default)
    fp_score_b: float = 5.0          #: see fp_score_a

    def __post_init__(self):
        for name in ("jitter", "miss_rate", "miss_occlusion", "min_visibility", "false_positives", "score_std"):
            if getattr(self, name) < 0:
                raise ValueError(f"DetectionNoise.{name}: expected >= 0, got {getattr(self, name)}")
        if self.fp_score_a <= 0 or self.fp_score_b <= 0:
            raise ValueError("DetectionNoise.fp_score_a/fp_score_b: expected > 0 (Beta distribution parameters)")


@dataclass
class SceneConfig:
    """A synthetic scene. Sizes in pixels, speeds in m/s; everything is deterministic from ``seed``."""

    num_people: int = 24             #: identities in the whole sequence (not all visible at once)
    num_frames: int = 300            #: frames; frame numbers are 1..num_frames
    width: int = 1280                #: image width
    height: int = 720                #: image height
    fps: float = 30.0                #: frames per second (sets per-frame motion)
    seed: int = 0                    #: seed of everything (people, motion, detections, embeddings, pixels)
    camera_pan: float = 0.0          #: horizontal camera pan in pixels/frame (scene content moves by -pan)
    min_person_height: float = 80.0  #: px height of a 1.75 m person at the far edge of the walking area, at 720p
    max_person_height: float = 300.0  #: px height of a 1.75 m person at the bottom image edge, at 720p
    #: (both heights scale with height / 720)
    speed_range: tuple = (1.0, 1.8)  #: walking speed range in m/s
    stop_rate: float = 0.05          #: chance per second that a walking person stops for 0.5-2.5 s
    present_at_start: float = 0.4    #: fraction of people already in view at frame 1; the rest enter later
    noise: DetectionNoise = field(default_factory=DetectionNoise)  #: simulated detector errors

    def __post_init__(self):
        for name in ("num_people", "num_frames", "width", "height"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"SceneConfig.{name}: expected a positive integer, got {v!r}")
        if self.width < 64 or self.height < 64:
            raise ValueError(f"SceneConfig: image must be at least 64x64, got {self.width}x{self.height}")
        if not self.fps > 0:
            raise ValueError(f"SceneConfig.fps: expected > 0, got {self.fps}")
        if not 0 < self.min_person_height < self.max_person_height:
            raise ValueError("SceneConfig: expected 0 < min_person_height < max_person_height")
        lo, hi = self.speed_range
        if not 0 < lo <= hi:
            raise ValueError(f"SceneConfig.speed_range: expected 0 < low <= high, got {self.speed_range}")
        if not 0 <= self.present_at_start <= 1:
            raise ValueError("SceneConfig.present_at_start: expected a fraction in [0, 1], "
                             f"got {self.present_at_start}")
        if not isinstance(self.noise, DetectionNoise):
            raise ValueError("SceneConfig.noise: expected a DetectionNoise")


# --------------------------------------------------------------------------------------------------------------
# Scene
# --------------------------------------------------------------------------------------------------------------

class Scene:
    """A simulated sequence: ground truth, detections, embeddings and lazily rendered frames.

    Attributes: ``config``, ``people`` (list of :class:`Person`, index = id - 1), ``gt`` (K, 9) MOT17 rows
    ``frame, id, x, y, w, h, 1, 1, visibility``, ``detections`` (L, 8) ``frame, x1, y1, x2, y2, score, cls, gt_id``.
    """

    def __init__(self, config: SceneConfig, people, states, gt, detections, det_vis):
        self.config = config
        self.people = people
        self._states = states          # per frame: (ids, foot_x_img, foot_y, height_px, phase, facing, depth)
        self.gt = gt
        self.detections = detections
        self._det_vis = det_vis
        f = detections[:, 0].astype(np.int64)
        self._det_start = np.searchsorted(f, np.arange(1, config.num_frames + 2))
        self._codes: dict[int, np.ndarray] = {}
        self._bg = None

    # ---- detections -------------------------------------------------------------------------------------------
    def _check_t(self, t) -> int:
        t = int(t)
        if not 1 <= t <= self.config.num_frames:
            raise ValueError(f"frame index t: expected 1..{self.config.num_frames} (1-based), got {t}")
        return t

    def _rows(self, t) -> slice:
        t = self._check_t(t)
        return slice(self._det_start[t - 1], self._det_start[t])

    def dets_at(self, t: int) -> np.ndarray:
        """Detections of frame ``t`` (1-based): (N, 6) float32 ``x1, y1, x2, y2, score, cls``."""
        return self.detections[self._rows(t), 1:7].astype(np.float32)

    def det_ids_at(self, t: int) -> np.ndarray:
        """Ground-truth identity (1-based) of each detection of frame ``t``; -1 for false positives."""
        return self.detections[self._rows(t), 7].astype(np.int64)

    def det_visibility_at(self, t: int) -> np.ndarray:
        """Ground-truth visibility behind each detection of frame ``t`` (1.0 for false positives)."""
        return self._det_vis[self._rows(t)].copy()

    def gt_at(self, t: int) -> np.ndarray:
        """Ground-truth rows (MOT17 layout) of frame ``t``."""
        t = self._check_t(t)
        return self.gt[self.gt[:, 0] == t]

    # ---- embeddings -------------------------------------------------------------------------------------------
    def identity_codes(self, dim: int = 128) -> np.ndarray:
        """Unit identity codes (num_people, dim): 65 % shared-attribute part, 35 % identity-specific part.

        Two people with identical attributes have cosine about 0.65; sharing some attributes gives less.
        """
        if dim not in self._codes:
            rng = np.random.default_rng([self.config.seed, dim, 1234])
            attrs = np.stack([p.attribute_vector() for p in self.people])
            proj = rng.normal(size=(attrs.shape[1], dim))
            a = attrs @ proj
            a /= np.linalg.norm(a, axis=1, keepdims=True)
            r = rng.normal(size=(len(self.people), dim))
            r /= np.linalg.norm(r, axis=1, keepdims=True)
            c = np.sqrt(0.65) * a + np.sqrt(0.35) * r
            self._codes[dim] = c / np.linalg.norm(c, axis=1, keepdims=True)
        return self._codes[dim]

    def embeddings_at(self, t: int, dim: int = 128, noise: float = 0.3) -> np.ndarray:
        """Appearance embeddings of frame ``t``'s detections: (N, dim) float32, L2-normalised, deterministic.

        True detections: identity code + Gaussian noise whose norm is about ``noise * (1 + 2 * (1 - visibility))``
        (so noise=0.3 gives same-identity cosine about 0.9 when fully visible, much lower when occluded).
        False positives: random unit vectors. Stands in for a ReID network so association quality can be measured
        apart from the CNN.
        """
        if int(dim) < 2:
            raise ValueError(f"embeddings_at: dim must be >= 2, got {dim}")
        if noise < 0:
            raise ValueError(f"embeddings_at: noise must be >= 0, got {noise}")
        rows = self._rows(t)
        ids = self.detections[rows, 7].astype(np.int64)
        vis = self._det_vis[rows]
        rng = np.random.default_rng([self.config.seed, int(t), int(dim), 99])
        n = len(ids)
        gauss = rng.normal(size=(n, dim)) / np.sqrt(dim)
        out = np.empty((n, dim))
        tp = ids > 0
        codes = self.identity_codes(int(dim))
        sigma = noise * (1.0 + 2.0 * (1.0 - vis[tp]))
        out[tp] = codes[ids[tp] - 1] + sigma[:, None] * gauss[tp]
        out[~tp] = gauss[~tp]
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out.astype(np.float32)

    # ---- rendering --------------------------------------------------------------------------------------------
    def _background(self) -> np.ndarray:
        if self._bg is None:
            c = self.config
            rng = np.random.default_rng([c.seed, 555])
            extra = int(np.ceil(abs(c.camera_pan) * (c.num_frames - 1)))
            self._bg = _background(rng, c.height, c.width + min(extra, 4 * c.width))
        return self._bg

    def render(self, t: int) -> np.ndarray:
        """Frame ``t`` (1-based) as (H, W, 3) uint8 BGR; figures drawn far to near, so nearer ones occlude."""
        t = self._check_t(t)
        c = self.config
        bg = self._background()
        off = c.camera_pan * (t - 1)
        bw = bg.shape[1]
        if c.camera_pan == 0:
            img = bg[:, : c.width].copy()
        else:
            o = int(round(off)) if c.camera_pan > 0 else int(round(off)) + (bw - c.width)
            o %= bw
            if o + c.width <= bw:
                img = bg[:, o: o + c.width].copy()
            else:   # very long pans wrap around the (periodic enough) background strip
                img = np.ascontiguousarray(np.take(bg, (np.arange(c.width) + o) % bw, axis=1))
        ids, fx, fy, hh, phase, facing, depth = self._states[t - 1]
        for k in np.argsort(-depth, kind="stable"):
            _draw_person(img, fx[k], fy[k], hh[k], self.people[ids[k] - 1], phase[k], int(facing[k]))
        return img

    def frames(self) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(t, image)`` for t = 1..num_frames."""
        for t in range(1, self.config.num_frames + 1):
            yield t, self.render(t)


def _visibility(boxes: np.ndarray, depth: np.ndarray, grid: int = 12) -> np.ndarray:
    """Visible fraction of each clipped box, occluded by the body region of nearer people's boxes."""
    n = len(boxes)
    if n == 0:
        return np.zeros(0)
    u = (np.arange(grid) + 0.5) / grid
    gx = boxes[:, 0:1] + u[None] * (boxes[:, 2:3] - boxes[:, 0:1])       # (n, g)
    gy = boxes[:, 1:2] + u[None] * (boxes[:, 3:4] - boxes[:, 1:2])
    # occluder body: box shrunk horizontally (the figure does not fill its box)
    w = boxes[:, 2] - boxes[:, 0]
    ox1, ox2 = boxes[:, 0] + 0.12 * w, boxes[:, 2] - 0.12 * w
    inx = (gx[:, :, None] >= ox1[None, None]) & (gx[:, :, None] <= ox2[None, None])     # (n, g, m)
    iny = (gy[:, :, None] >= boxes[None, None, :, 1]) & (gy[:, :, None] <= boxes[None, None, :, 3])
    nearer = depth[None, :] < depth[:, None]                                              # (n, m)
    covered = (inx[:, :, None, :] & iny[:, None, :, :] & nearer[:, None, None, :]).any(-1)  # (n, gx, gy)
    return 1.0 - covered.mean(axis=(1, 2))


def generate_scene(config: SceneConfig | None = None) -> Scene:
    """Simulate a scene (fast: no pixels are drawn until :meth:`Scene.render`)."""
    c = config or SceneConfig()
    if not isinstance(c, SceneConfig):
        raise ValueError(f"generate_scene: expected a SceneConfig, got {type(c).__name__}")
    rng = np.random.default_rng([c.seed, 1])
    W, H, T, P = c.width, c.height, c.num_frames, c.num_people
    dt = 1.0 / c.fps
    # camera: image y of the feet  y = yh + f * cam_h / Z ; height px = f * height_m / Z
    hmin, hmax = c.min_person_height * H / 720.0, c.max_person_height * H / 720.0
    f = 1.4 * H
    y_far = 0.32 * H
    k = (hmax - hmin) / (H - y_far)                  # height px per px of foot y
    yh = y_far - hmin / k
    cam_h = 1.75 / k
    z_near, z_far = f * cam_h / (H * 1.08 - yh), f * cam_h / (y_far - yh)
    people = [_sample_person(rng) for _ in range(P)]

    # entry schedule and paths
    start = np.where(rng.random(P) < c.present_at_start, 0, rng.integers(0, max(1, int(T * 0.85)), P))
    speed = rng.uniform(*c.speed_range, P)
    Z = np.exp(rng.uniform(np.log(z_near), np.log(z_far), P))
    Xhalf = W / 2 * Z / f                              # half visible width in metres at depth Z
    direction = np.where(rng.random(P) < 0.5, 1.0, -1.0)
    pan_m = c.camera_pan * start * Z / f               # camera offset at entry, in metres at that depth
    X = np.where(start == 0, rng.uniform(-0.9, 0.9, P) * Xhalf,
                 -direction * (Xhalf + 0.35) + pan_m)
    X = X + np.where(start == 0, pan_m, 0.0)
    heading = np.where(direction > 0, 0.0, np.pi) + rng.normal(0, 0.35, P)   # 0 = +X; small depth component
    phase = rng.uniform(0, 2 * np.pi, P)
    stop_left = np.zeros(P)
    alive = np.zeros(P, bool)
    gone = np.zeros(P, bool)

    states, gt_rows, det_rows, det_vis = [], [], [], []
    drng = np.random.default_rng([c.seed, 2])
    nz = c.noise
    for t in range(1, T + 1):
        alive |= (start == t - 1) & ~gone
        # motion update (vectorised over people)
        walking = alive & (stop_left <= 0)
        starts_stop = walking & (drng.random(P) < c.stop_rate * dt)
        stop_left[starts_stop] = drng.uniform(0.5, 2.5, starts_stop.sum())
        stop_left[alive & ~walking] -= dt
        walking &= ~starts_stop
        heading += drng.normal(0, 0.6 * np.sqrt(dt), P)
        base = np.where(direction > 0, 0.0, np.pi)
        heading = base + np.clip(np.angle(np.exp(1j * (heading - base))), -0.7, 0.7)
        # keep inside the depth band
        bounce = base - 0.5 * np.sin(heading) * direction      # mirror the depth component at the band's edges
        heading = np.where((Z < z_near * 1.05) & (np.sin(heading) < 0), bounce, heading)
        heading = np.where((Z > z_far * 0.97) & (np.sin(heading) > 0), bounce, heading)
        if t > 1:
            v = np.where(walking, speed, 0.0)
            X += v * np.cos(heading) * dt
            Z += v * np.sin(heading) * dt * 0.6
            Z = np.clip(Z, z_near * 0.95, z_far)
            phase += np.where(walking, speed * dt / 0.7 * np.pi, 0.0)
        pan = c.camera_pan * (t - 1)
        u = f * X / Z + W / 2 - pan
        fy = yh + f * cam_h / Z
        hp = f * np.array([p.height_m for p in people]) / Z
        w = 0.42 * hp * np.array([p.build for p in people])
        x1, x2, y1, y2 = u - w / 2, u + w / 2, fy - hp, fy
        # leaving: fully outside with a margin after having been inside
        outside = (x2 < -0.05 * W) | (x1 > 1.05 * W)
        leaving = alive & outside & (((direction > 0) & (x1 > W)) | ((direction < 0) & (x2 < 0)) | (c.camera_pan != 0))
        leaving &= t > start + 10
        gone |= leaving
        alive &= ~leaving
        cx1, cx2 = np.clip(x1, 0, W), np.clip(x2, 0, W)
        cy1, cy2 = np.clip(y1, 0, H), np.clip(y2, 0, H)
        inframe = alive & (cx2 - cx1 >= 2) & (cy2 - cy1 >= 2)
        idx = np.flatnonzero(inframe)
        boxes = np.stack([cx1[idx], cy1[idx], cx2[idx], cy2[idx]], 1)
        vis = _visibility(boxes, Z[idx])
        states.append((idx + 1, u[idx].copy(), fy[idx].copy(), hp[idx].copy(), phase[idx].copy(),
                       np.where(np.cos(heading[idx]) >= 0, 1, -1), Z[idx].copy()))
        for j, i in enumerate(idx):
            b = boxes[j]
            gt_rows.append((t, i + 1, b[0], b[1], b[2] - b[0], b[3] - b[1], 1, 1, round(float(vis[j]), 4)))
        # detections: true positives
        n = len(idx)
        if n:
            bw_, bh_ = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
            p_miss = nz.miss_rate + nz.miss_occlusion * (1 - vis) ** 2
            hit = (drng.random(n) >= p_miss) & (vis >= nz.min_visibility)
            jit = drng.normal(0, nz.jitter, (n, 4)) * np.stack([bw_, bh_, bw_, bh_], 1)
            db = boxes + jit
            db[:, [0, 2]] = np.clip(db[:, [0, 2]], 0, W)
            db[:, [1, 3]] = np.clip(db[:, [1, 3]], 0, H)
            db[:, 2] = np.maximum(db[:, 2], db[:, 0] + 1)
            db[:, 3] = np.maximum(db[:, 3], db[:, 1] + 1)
            score = np.clip(nz.score_mean - nz.score_occlusion_drop * (1 - vis) + drng.normal(0, nz.score_std, n),
                            0.05, 0.99)
            for j in np.flatnonzero(hit):
                det_rows.append((t, *db[j], score[j], 0, idx[j] + 1))
                det_vis.append(vis[j])
        # false positives: plausible person-sized boxes anywhere on the ground
        for _ in range(drng.poisson(nz.false_positives)):
            yy = drng.uniform(y_far, H)
            hh = k * (yy - yh) * drng.uniform(0.5, 1.1)
            ww = hh * drng.uniform(0.3, 0.6)
            xx = drng.uniform(0, W)
            bx = np.clip([xx - ww / 2, yy - hh, xx + ww / 2, yy], [0, 0, 0, 0], [W, H, W, H])
            if bx[2] - bx[0] < 2 or bx[3] - bx[1] < 2:
                continue
            det_rows.append((t, *bx, float(np.clip(drng.beta(nz.fp_score_a, nz.fp_score_b), 0.01, 0.99)), 0, -1))
            det_vis.append(1.0)

    gt = np.array(gt_rows, np.float64).reshape(-1, 9)
    dets = np.array(det_rows, np.float64).reshape(-1, 8)
    dvis = np.array(det_vis, np.float64)
    order = np.argsort(dets[:, 0], kind="stable")
    return Scene(c, people, states, gt, dets[order], dvis[order])


# --------------------------------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------------------------------

def write_mot_sequence(scene: Scene, root, name: str = "SYN-01", video: bool = False, jpeg_quality: int = 90) -> Path:
    """Write ``root/name/`` in the MOT17 layout and return that folder.

    Writes ``gt/gt.txt`` (``frame,id,x,y,w,h,1,1,visibility``), ``det/det.txt`` (``frame,-1,x,y,w,h,score,-1,-1,-1``)
    and ``seqinfo.ini``. Frames go to ``img1/000001.jpg ...`` or, with ``video=True``, to ``name.mp4`` (OpenCV
    mp4v) INSTEAD of ``img1/`` (seqinfo.ini still names imDir=img1 as MOT tools expect).
    """
    if not isinstance(scene, Scene):
        raise ValueError(f"write_mot_sequence: expected a Scene, got {type(scene).__name__}")
    if not name or "/" in name or "\\" in name:
        raise ValueError(f"write_mot_sequence: name must be a plain folder name, got {name!r}")
    c = scene.config
    seq = Path(root) / name
    (seq / "gt").mkdir(parents=True, exist_ok=True)
    (seq / "det").mkdir(parents=True, exist_ok=True)
    g = scene.gt
    with open(seq / "gt" / "gt.txt", "w") as fh:
        for r in g:
            fh.write(f"{int(r[0])},{int(r[1])},{r[2]:.2f},{r[3]:.2f},{r[4]:.2f},{r[5]:.2f},1,1,{r[8]:.4f}\n")
    d = scene.detections
    with open(seq / "det" / "det.txt", "w") as fh:
        for r in d:
            fh.write(f"{int(r[0])},-1,{r[1]:.2f},{r[2]:.2f},{r[3] - r[1]:.2f},{r[4] - r[2]:.2f},{r[5]:.4f},-1,-1,-1\n")
    ini = configparser.ConfigParser()
    ini.optionxform = str
    ini["Sequence"] = {"name": name, "imDir": "img1", "frameRate": f"{c.fps:g}", "seqLength": str(c.num_frames),
                       "imWidth": str(c.width), "imHeight": str(c.height), "imExt": ".jpg"}
    with open(seq / "seqinfo.ini", "w") as fh:
        ini.write(fh, space_around_delimiters=False)
    if video:
        path = seq / f"{name}.mp4"
        vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(c.fps), (c.width, c.height))
        if not vw.isOpened():
            raise RuntimeError(f"write_mot_sequence: OpenCV cannot open a mp4v writer for {path}")
        try:
            for _, img in scene.frames():
                vw.write(img)
        finally:
            vw.release()
    else:
        (seq / "img1").mkdir(exist_ok=True)
        for t, img in scene.frames():
            cv2.imwrite(str(seq / "img1" / f"{t:06d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
    return seq


def render_person_crop(person: Person, size=(128, 64), rng: np.random.Generator | None = None, view: str = "side",
                       facing: int = 1, gain=(1.0, 1.0, 1.0), background: np.ndarray | None = None) -> np.ndarray:
    """One figure rendered directly at crop scale, (H, W, 3) uint8 BGR, with slight scale/offset/pose jitter."""
    rng = rng or np.random.default_rng(0)
    H, W = size
    img = background.copy() if background is not None else np.full((H, W, 3), 128, np.uint8)
    h = H * rng.uniform(0.86, 0.96)
    foot = H - (H - h) * rng.uniform(0.3, 0.7)
    cx = W / 2 + rng.uniform(-0.05, 0.05) * W
    _draw_person(img, cx, foot, h, person, rng.uniform(0, 2 * np.pi), facing, gain, view)
    return img


def write_market_dataset(root, num_train_ids: int = 100, num_test_ids: int = 100, num_cameras: int = 4,
                         seed: int = 0, images_per_camera: tuple = (4, 7), num_distractors: int = 100,
                         num_junk: int = 50, size: tuple = (128, 64)) -> Path:
    """Write a Market-1501-layout identity set rendered by the scene's figure drawer; return ``root``.

    ``bounding_box_train/`` holds train identities 1..num_train_ids; test identities follow. Every identity appears in
    at least two cameras (``images_per_camera`` images each, drawn from the inclusive range); for each test identity
    one image per camera goes to ``query/`` and the rest to ``bounding_box_test/``, which also gets
    ``num_distractors`` distractors (``0000_...``: empty background or cut-off figures) and ``num_junk`` junk images
    (``-1_...``). Cameras differ in lighting/colour cast, background and viewpoint; images have pose, mirroring,
    scale and offset jitter. File names: ``PPPP_cCsS_FFFFFF_NN.jpg``.
    """
    for name, v in (("num_train_ids", num_train_ids), ("num_test_ids", num_test_ids)):
        if int(v) < 1:
            raise ValueError(f"write_market_dataset: {name} must be >= 1, got {v}")
    if not 2 <= int(num_cameras) <= 9:
        raise ValueError("write_market_dataset: num_cameras must be 2..9 (one digit in the file name), "
                         f"got {num_cameras}")
    if num_train_ids + num_test_ids > 9999:
        raise ValueError("write_market_dataset: at most 9999 identities fit the 4-digit name field")
    lo, hi = images_per_camera
    if not 2 <= lo <= hi:
        raise ValueError("write_market_dataset: images_per_camera must be (lo, hi) with 2 <= lo <= hi, "
                         f"got {images_per_camera}")
    root = Path(root)
    dirs = {k: root / k for k in ("bounding_box_train", "bounding_box_test", "query")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 77])
    Hc, Wc = size
    # cameras: lighting gain / colour cast, background colour, dominant viewpoint
    cams = []
    for _ in range(num_cameras):
        gain = tuple(float(g) for g in rng.uniform(0.85, 1.1) * rng.uniform(0.94, 1.06, 3))
        # low-contrast, greyish backgrounds: the person, not the camera's floor, should carry the identity
        bgs = []
        for _ in range(4):
            bg = _background(rng, Hc, Wc, base=rng.integers(90, 150) + rng.integers(-15, 16, 3)).astype(np.float32)
            bgs.append(np.clip(0.5 * bg + 0.5 * bg.mean(), 0, 255).astype(np.uint8))
        views = rng.permutation(["side", "side", "front", "back"])[:2].tolist()
        cams.append((gain, bgs, views))
    n_ids = num_train_ids + num_test_ids
    people = [_sample_person(rng) for _ in range(n_ids)]
    frame_no = np.zeros(num_cameras, np.int64)
    quality = [cv2.IMWRITE_JPEG_QUALITY, 92]

    def shot(p, cam, r):
        gain, bgs, views = cams[cam]
        g = tuple(x * r.uniform(0.92, 1.08) for x in gain)
        view = views[int(r.integers(len(views)))] if r.random() < 0.8 else ("side", "front", "back")[int(r.integers(3))]
        img = render_person_crop(p, size, r, view=view, facing=1 if r.random() < 0.5 else -1, gain=g,
                                 background=bgs[int(r.integers(len(bgs)))])
        if r.random() < 0.3:
            img = cv2.GaussianBlur(img, (3, 3), 0)
        return img

    def name(pid, cam, seq, bb):
        frame_no[cam] += int(rng.integers(5, 60))
        return f"{pid}_c{cam + 1}s{seq}_{frame_no[cam]:06d}_{bb:02d}.jpg"

    for i, p in enumerate(people):
        pid = i + 1
        r = np.random.default_rng([seed, 78, pid])
        k = int(r.integers(2, num_cameras + 1))
        cam_ids = sorted(r.choice(num_cameras, k, replace=False).tolist())
        for cam in cam_ids:
            n = int(r.integers(lo, hi + 1))
            seq = int(r.integers(1, 7))
            for j in range(n):
                img = shot(p, cam, r)
                fname = name(f"{pid:04d}", cam, seq, j + 1)
                if pid <= num_train_ids:
                    out = dirs["bounding_box_train"]
                else:
                    out = dirs["query"] if j == 0 else dirs["bounding_box_test"]
                cv2.imwrite(str(out / fname), img, quality)
    r = np.random.default_rng([seed, 79])
    for j in range(num_distractors + num_junk):
        cam = int(r.integers(num_cameras))
        gain, bgs, _ = cams[cam]
        img = bgs[int(r.integers(len(bgs)))].copy()
        if j >= num_distractors or r.random() < 0.5:
            # a cut-off figure: junk keeps only a part of a body, distractors show a stranger badly framed
            stranger = _sample_person(r)
            big = render_person_crop(stranger, (Hc * 2, Wc), r, gain=gain)
            y0 = int(r.integers(0, Hc))
            img[: Hc // 2] = big[y0: y0 + Hc // 2]
        pid = "-1" if j >= num_distractors else "0000"
        cv2.imwrite(str(dirs["bounding_box_test"] / name(pid, cam, int(r.integers(1, 7)), 1)), img, quality)
    return root


# --------------------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------------------

def main(argv=None) -> None:
    """``trackreid-synth mot OUT`` writes MOT17-layout sequences; ``trackreid-synth market OUT`` a Market-1501 set."""
    import argparse

    ap = argparse.ArgumentParser(prog="trackreid-synth", description=main.__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("mot", help="rendered MOT17-layout sequences (img1/ or mp4, gt, det, seqinfo.ini)")
    m.add_argument("out", type=Path)
    m.add_argument("--seeds", type=int, nargs="+", default=[0], help="one sequence SYN-<seed> per seed")
    m.add_argument("--people", type=int, default=24)
    m.add_argument("--frames", type=int, default=300)
    m.add_argument("--width", type=int, default=1280)
    m.add_argument("--height", type=int, default=720)
    m.add_argument("--fps", type=float, default=30.0)
    m.add_argument("--pan", type=float, default=0.0, help="camera pan in pixels/frame")
    m.add_argument("--video", action="store_true", help="write SEQ/SEQ.mp4 instead of SEQ/img1/")
    k = sub.add_parser("market", help="Market-1501-layout identity set")
    k.add_argument("out", type=Path)
    k.add_argument("--train-ids", type=int, default=100)
    k.add_argument("--test-ids", type=int, default=100)
    k.add_argument("--cameras", type=int, default=4)
    k.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    if a.cmd == "mot":
        for s in a.seeds:
            cfg = SceneConfig(num_people=a.people, num_frames=a.frames, width=a.width, height=a.height, fps=a.fps,
                              seed=s, camera_pan=a.pan)
            seq = write_mot_sequence(generate_scene(cfg), a.out, name=f"SYN-{s:02d}", video=a.video)
            print(seq)
    else:
        print(write_market_dataset(a.out, num_train_ids=a.train_ids, num_test_ids=a.test_ids,
                                   num_cameras=a.cameras, seed=a.seed))


if __name__ == "__main__":
    main()
