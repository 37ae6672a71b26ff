"""Simulated people scenes: motion on a ground plane, exact MOT ground truth, noisy detections, embeddings."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from trackreid.synthetic.reentry import ReentrySchedule
from trackreid.synthetic.render import _background, _draw_person, _sample_person
from trackreid.synthetic.sprites import SpriteSet, composite_sprite, load_sprites
from trackreid.types import l2_normalise

__all__ = ["SceneConfig", "DetectionNoise", "Scene", "generate_scene"]


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
    reentry: bool = False            #: everyone leaves the view and comes back (see trackreid.synthetic.reentry)
    reentry_gap: tuple = (5.0, 20.0)  #: seconds out of view before coming back (range; squeezed to fit returns)
    reentry_visit: tuple = (1.0, 4.0)  #: seconds walked inward on each visit before heading for the nearer side
    reentry_returns: int = 2         #: comebacks per person the schedule makes room for when frames allow
    #: people drawn from real crops: a Market-1501-layout folder or a loaded SpriteSet (None: drawn figures);
    #: it needs at least num_people identities, which are assigned to people by the seed
    sprites: object = None

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
        glo, ghi = self.reentry_gap
        if not 0 < glo <= ghi:
            raise ValueError(f"SceneConfig.reentry_gap: expected 0 < low <= high seconds, got {self.reentry_gap}")
        vlo, vhi = self.reentry_visit
        if not 0 < vlo <= vhi:
            raise ValueError(f"SceneConfig.reentry_visit: expected 0 < low <= high seconds, got {self.reentry_visit}")
        if int(self.reentry_returns) < 0:
            raise ValueError(f"SceneConfig.reentry_returns: expected >= 0, got {self.reentry_returns}")
        if self.reentry and self.camera_pan != 0:
            raise ValueError("SceneConfig: reentry needs a still camera (camera_pan=0)")


# --------------------------------------------------------------------------------------------------------------
# Scene
# --------------------------------------------------------------------------------------------------------------

class Scene:
    """A simulated sequence: ground truth, detections, embeddings and lazily rendered frames.

    Attributes: ``config``, ``people`` (list of :class:`Person`, index = id - 1), ``gt`` (K, 9) MOT17 rows
    ``frame, id, x, y, w, h, 1, 1, visibility``, ``detections`` (L, 8) ``frame, x1, y1, x2, y2, score, cls, gt_id``,
    ``sprites`` (the :class:`SpriteSet` people are drawn from, or None) and ``sprite_index`` (each person's identity
    in it).
    """

    def __init__(self, config: SceneConfig, people, states, gt, detections, det_vis, sprites=None,
                 sprite_index=None, width_factor=None):
        self.config = config
        self.people = people
        self.sprites = sprites                 # SpriteSet or None (drawn figures)
        self.sprite_index = sprite_index       # sprite identity of each person (index = id - 1)
        self._wf = width_factor
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
            a = l2_normalise(attrs @ proj)
            r = l2_normalise(rng.normal(size=(len(self.people), dim)))
            self._codes[dim] = l2_normalise(np.sqrt(0.65) * a + np.sqrt(0.35) * r)
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
        return l2_normalise(out).astype(np.float32)

    # ---- rendering --------------------------------------------------------------------------------------------
    def _background(self) -> np.ndarray:
        if self._bg is None:
            c = self.config
            rng = np.random.default_rng([c.seed, 555])
            extra = int(np.ceil(abs(c.camera_pan) * (c.num_frames - 1)))
            # real crops look best on a grey, street-like ground; drawn figures keep the random tint
            base = None if self.sprites is None else rng.integers(95, 125) + rng.integers(-6, 7, 3)
            self._bg = _background(rng, c.height, c.width + min(extra, 4 * c.width), base=base)
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
            if self.sprites is None:
                _draw_person(img, fx[k], fy[k], hh[k], self.people[ids[k] - 1], phase[k], int(facing[k]))
            else:
                crop, alpha = self.sprites.pick(int(self.sprite_index[ids[k] - 1]), float(phase[k]))
                w = self._wf[ids[k] - 1] * hh[k]
                composite_sprite(img, crop, alpha, (fx[k] - w / 2, fy[k] - hh[k], fx[k] + w / 2, fy[k]),
                                 flip=facing[k] < 0)
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
    people = [_sample_person(rng) for _ in range(c.num_people)]
    sprites = resolve_sprites(c.sprites)
    sprite_index = assign_sprites(sprites, c.num_people, [c.seed, 4])
    schedule = None
    if c.reentry:
        schedule = ReentrySchedule(np.random.default_rng([c.seed, 5]), c.num_people, c.num_frames, c.fps,
                                   c.reentry_gap, c.reentry_visit, c.reentry_returns)
    return _simulate(c, rng, people, sprites, sprite_index, schedule)


def assign_sprites(sprites, num_people: int, seed) -> np.ndarray | None:
    """One sprite identity per person, a random subset of the set drawn from ``seed``; None without sprites."""
    if sprites is None:
        return None
    if len(sprites) < num_people:
        raise ValueError(f"sprites: {len(sprites)} identities in the sprite set, expected at least "
                         f"num_people={num_people} (one identity per person)")
    return np.random.default_rng(seed).permutation(len(sprites))[:num_people]


def resolve_sprites(sprites):
    """``None``, a loaded :class:`SpriteSet`, or a folder to load one from."""
    if sprites is None or isinstance(sprites, SpriteSet):
        return sprites
    if isinstance(sprites, (str, Path)):
        return load_sprites(sprites)
    raise ValueError(f"SceneConfig.sprites: expected a folder or a SpriteSet, got {type(sprites).__name__}")


def camera_geometry(c: SceneConfig) -> tuple:
    """The ground-plane camera of a scene: ``(f, y_far, k, yh, cam_h, z_near, z_far)``.

    Image y of the feet is ``yh + f * cam_h / Z`` and a person's height in pixels ``f * height_m / Z`` (``f`` the
    focal length in pixels, ``k`` pixels of height per pixel of foot y); people walk at depths z_near..z_far
    (metres), whose feet lie between ``y_far`` and just below the image.
    """
    H = c.height
    hmin, hmax = c.min_person_height * H / 720.0, c.max_person_height * H / 720.0
    f = 1.4 * H
    y_far = 0.32 * H
    k = (hmax - hmin) / (H - y_far)
    yh = y_far - hmin / k
    cam_h = 1.75 / k
    return f, y_far, k, yh, cam_h, f * cam_h / (H * 1.08 - yh), f * cam_h / (y_far - yh)


def _simulate(c: SceneConfig, rng: np.random.Generator, people: list, sprites, sprite_index, schedule,
              speed=None) -> Scene:
    """The motion / ground-truth / detection loop; ``schedule`` (None: walk across once) decides visits;
    ``speed`` (m/s per person) replaces the drawn walking speeds."""
    W, H, T, P = c.width, c.height, c.num_frames, len(people)
    dt = 1.0 / c.fps
    f, y_far, k, yh, cam_h, z_near, z_far = camera_geometry(c)
    # box width = w_mul * height * w_shape: 0.42 * build for drawn figures, the crops' aspect for sprites
    w_mul, w_shape = 0.42, np.array([p.build for p in people])
    if sprites is not None:
        w_mul, w_shape = 1.0, np.clip(sprites.aspect()[sprite_index], 0.28, 0.6)
    wf = w_mul * w_shape

    # entry schedule and paths
    start = np.where(rng.random(P) < c.present_at_start, 0, rng.integers(0, max(1, int(T * 0.85)), P))
    speed = rng.uniform(*c.speed_range, P) if speed is None else np.array(speed, np.float64)
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
    entered = start.copy()
    margin = 0.05 * W
    if schedule is not None:
        srng = np.random.default_rng([c.seed, 6])
        margin = 0.0
        present, out_s = schedule.initial_present(srng, c.present_at_start)
        start = np.where(present, 0, T + 10)
        entered = start.copy()
        side = np.where(srng.random(P) < 0.5, 1.0, -1.0)       # present people walk out towards this side
        direction = np.where(present, side, direction)
        # placed so that walking out (at ~0.9 x speed along X, 0.35 m half body) takes them out_s seconds
        X = np.where(present, side * (Xhalf + 0.35 - 0.9 * speed * out_s), X)
        heading = np.where(direction > 0, 0.0, np.pi) + srng.normal(0, 0.2, P)

    states, gt_rows, det_rows, det_vis = [], [], [], []
    drng = np.random.default_rng([c.seed, 2])
    nz = c.noise
    for t in range(1, T + 1):
        alive |= (start == t - 1) & ~gone
        # motion update (vectorised over people)
        if schedule is not None:
            back = schedule.due_to_return(t, alive)
            if back.any():
                n = int(back.sum())
                direction[back], depth = schedule.entry(back)
                Z[back] = np.exp(np.log(z_near) + depth * 0.5 * np.log(z_far / z_near))   # the nearer half
                speed[back] = schedule.entry_speed(back, speed[back])
                X[back] = -direction[back] * (W / 2 * Z[back] / f + 0.45)
                heading[back] = np.where(direction[back] > 0, 0.0, np.pi) + srng.normal(0, 0.2, n)
                stop_left[back] = 0.0
                alive |= back
                entered[back] = t - 1
                schedule.start_visits(t, back)
            # turn only once fully in view (a stop while stepping in must not end the visit unseen)
            half = wf * f * np.array([p.height_m for p in people]) / Z / 2
            inside = np.abs(f * X / Z) + np.minimum(half, W / 4) <= W / 2
            turn = schedule.due_to_turn(t, alive & inside)
            if turn.any():
                direction[turn] = np.where(X[turn] >= 0, 1.0, -1.0)
                heading[turn] = np.where(direction[turn] > 0, 0.0, np.pi) + srng.normal(0, 0.15, int(turn.sum()))
                stop_left[turn] = 0.0
        walking = alive & (stop_left <= 0)
        starts_stop = walking & (drng.random(P) < c.stop_rate * dt)
        if schedule is not None:
            starts_stop &= ~schedule.leaving
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
        w = w_mul * hp * w_shape
        x1, x2, y1, y2 = u - w / 2, u + w / 2, fy - hp, fy
        # leaving: fully outside with a margin after having been inside
        outside = (x2 < -margin) | (x1 > W + margin)
        leaving = alive & outside & (((direction > 0) & (x1 > W)) | ((direction < 0) & (x2 < 0)) | (c.camera_pan != 0))
        leaving &= t > entered + 10
        if schedule is not None:
            schedule.left(t, leaving)
        else:
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
    return Scene(c, people, states, gt, dets[order], dvis[order], sprites=sprites, sprite_index=sprite_index,
                 width_factor=wf)

