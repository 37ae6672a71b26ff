"""Drawn figures, identity appearance and ground texture: the pixels of the synthetic scenes."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["Person", "render_person_crop"]


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

