"""A site of several cameras whose people walk from camera to camera, with global ground-truth identities.

Cameras form a chain CAM1 - CAM2 - ... - CAMn. Links alternate: CAM1-CAM2 overlap (a person steps into the next
view while still seen in this one), CAM2-CAM3 do not (a transit of a few seconds between the views), CAM3-CAM4
overlap, and so on. A person walks through a view (entering on the side that faces the previous camera, leaving on
the other), then on to the neighbouring camera; at an end of the chain they walk out of the site and come back
through the same view a few seconds later. Each camera is a
:class:`Scene` of the same people (same appearance, same sprite identity, same walking speed), so ground-truth
ids are global across cameras. ``topology.yaml`` states the links with their minimum/maximum transit in frames
(first frame seen in the next camera minus last frame seen in this one: negative when the views overlap).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trackreid.synthetic.render import _sample_person
from trackreid.synthetic.scene import (DetectionNoise, Scene, SceneConfig, _simulate, assign_sprites,
                                       camera_geometry, resolve_sprites)

__all__ = ["MulticamConfig", "MulticamSite", "generate_multicam", "write_multicam", "camera_names"]


@dataclass
class MulticamConfig:
    """A multi-camera site; sizes in pixels, times in seconds, deterministic from ``seed``."""

    num_cameras: int = 3             #: cameras in the chain (2..99)
    num_people: int = 20             #: identities walking around the site
    num_frames: int = 600            #: frames per camera (all cameras are synchronised, frame 1 = same instant)
    width: int = 1280                #: image width of every camera
    height: int = 720                #: image height of every camera
    fps: float = 30.0                #: frames per second
    seed: int = 0                    #: seed of everything
    transit: tuple = (3.0, 8.0)      #: seconds between leaving a view and entering the next on non-overlapping links
    overlap: tuple = (0.25, 0.6)     #: on overlapping links, the next view is entered this fraction of the way
    #: through the current one before its end (so both cameras see the person for a while)
    start_within: float = 0.4        #: people first appear within this fraction of the sequence
    sprites: object = None           #: real crops (folder or SpriteSet) instead of drawn figures, as in SceneConfig
    noise: DetectionNoise = field(default_factory=DetectionNoise)  #: simulated detector errors of every camera

    def __post_init__(self):
        if not 2 <= int(self.num_cameras) <= 99:
            raise ValueError(f"MulticamConfig.num_cameras: expected 2..99, got {self.num_cameras}")
        lo, hi = self.transit
        if not 0 < lo <= hi:
            raise ValueError(f"MulticamConfig.transit: expected 0 < low <= high seconds, got {self.transit}")
        lo, hi = self.overlap
        if not 0 < lo <= hi < 1:
            raise ValueError(f"MulticamConfig.overlap: expected 0 < low <= high < 1, got {self.overlap}")
        if not 0 < self.start_within <= 1:
            raise ValueError(f"MulticamConfig.start_within: expected a fraction in (0, 1], got {self.start_within}")
        self.camera_config(0)        # validates the per-camera fields (sizes, fps, people, frames)

    def camera_config(self, cam: int) -> SceneConfig:
        """The scene settings of camera index ``cam`` (0-based): its own seed, the site's sizes and noise."""
        return SceneConfig(num_people=self.num_people, num_frames=self.num_frames, width=self.width,
                           height=self.height, fps=self.fps, seed=int(self.seed) * 1000 + cam + 1,
                           noise=self.noise, sprites=self.sprites)

    def overlapping(self, link: int) -> bool:
        """Whether link ``link`` (between cameras ``link`` and ``link + 1``, 0-based) has overlapping views."""
        return link % 2 == 0


def camera_names(n: int) -> list[str]:
    return [f"CAM{i + 1}" for i in range(n)]


class _PlannedVisits:
    """The re-entry schedule interface (see ``reentry``) driven by a fixed plan of walk-through visits."""

    def __init__(self, num_people: int, visits: list):
        self.visits = sorted(visits)               # (frame, person, direction, depth)
        self._next = 0
        self.turn_at = np.full(num_people, np.inf)
        self.leaving = np.zeros(num_people, bool)
        self._due: list = []          # visits starting this frame
        self._waiting: list = []      # due visits of people still in view

    def initial_present(self, rng, fraction) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(len(self.turn_at), bool), np.zeros(len(self.turn_at))

    def due_to_return(self, t: int, alive: np.ndarray) -> np.ndarray:
        """People whose next planned visit is due; a visit waits while the person is still in view."""
        while self._next < len(self.visits) and self.visits[self._next][0] <= t:
            self._waiting.append(self.visits[self._next])
            self._next += 1
        m = np.zeros(len(self.turn_at), bool)
        self._due, keep = [], []
        for v in self._waiting:
            if alive[v[1]] or m[v[1]]:
                keep.append(v)
            else:
                m[v[1]] = True
                self._due.append(v)
        self._waiting = keep
        return m

    def entry(self, mask: np.ndarray):
        by_person = {v[1]: v for v in self._due}
        idx = np.flatnonzero(mask)
        return (np.array([by_person[i][2] for i in idx], np.float64),
                np.array([by_person[i][3] for i in idx], np.float64))

    def entry_speed(self, mask, speed):
        return speed

    def start_visits(self, t, mask) -> None:
        pass

    def due_to_turn(self, t, alive) -> np.ndarray:
        return np.zeros(len(self.turn_at), bool)   # walk through: leave on the far side

    def left(self, t, mask) -> None:
        pass


@dataclass
class MulticamSite:
    """The generated site: one :class:`Scene` per camera (global ids) and the planned visits."""

    config: MulticamConfig
    names: list                      #: camera names CAM1..CAMn
    scenes: list                     #: one Scene per camera
    plan: list                       #: per person: [(camera index, entry frame), ...] in walking order

    def transits(self) -> list[tuple[int, int, int, int]]:
        """Observed camera changes from the ground truth: ``(person id, from cam, to cam, transit frames)`` with
        transit = first frame in the next camera - last frame in the previous one (negative: overlap)."""
        spans = {}
        for c, sc in enumerate(self.scenes):
            g = sc.gt
            for pid in np.unique(g[:, 1]).astype(int):
                f = np.sort(g[g[:, 1] == pid, 0]).astype(int)
                br = np.flatnonzero(np.diff(f) > 1)
                for a, b in zip(np.r_[f[0], f[br + 1]], np.r_[f[br], f[-1]]):
                    spans.setdefault(pid, []).append((int(a), int(b), c))
        out = []
        for pid, s in sorted(spans.items()):
            s.sort()
            for (a0, b0, c0), (a1, b1, c1) in zip(s[:-1], s[1:]):
                if c0 != c1:
                    out.append((pid, c0, c1, a1 - b0))
        return out

    def topology(self, margin_s: float = 1.0) -> dict:
        """Links with their overlap flag and min/max transit in frames: every transit observed in the ground truth
        widened by ``margin_s`` (overlapping links stay <= 0); a link nobody walked gets the configured range."""
        c = self.config
        seen: dict[int, list] = {}
        for _, a, b, dt in self.transits():
            if abs(a - b) == 1:
                seen.setdefault(min(a, b), []).append(dt)
        m = int(round(margin_s * c.fps))
        links = []
        for k in range(c.num_cameras - 1):
            obs = seen.get(k)
            if obs:
                lo, hi = min(obs) - m, max(obs) + m
            else:
                lo, hi = (-int(10 * c.fps), 0) if c.overlapping(k) else (int(c.transit[0] * c.fps) - m,
                                                                          int(c.transit[1] * c.fps) + m)
            if c.overlapping(k):
                hi = min(hi, 0)
            else:
                lo = max(lo, 1)
            links.append({"cameras": [self.names[k], self.names[k + 1]], "overlap": bool(c.overlapping(k)),
                          "min_transit_frames": int(lo), "max_transit_frames": int(hi)})
        return {"fps": float(c.fps), "cameras": list(self.names), "links": links}


def _plan(c: MulticamConfig, speed: np.ndarray, rng: np.random.Generator) -> tuple[list, list]:
    """Per camera: visits (frame, person, direction, depth); per person: [(camera, frame), ...]."""
    cam0 = c.camera_config(0)
    f, *_, z_near, z_far = camera_geometry(cam0)
    horizon = c.num_frames / c.fps
    visits: list[list] = [[] for _ in range(c.num_cameras)]
    plan = []
    for p in range(c.num_people):
        t = rng.uniform(0, c.start_within * horizon)
        cam = int(rng.integers(c.num_cameras))
        step = 1 if cam == 0 else -1 if cam == c.num_cameras - 1 else int(rng.choice([-1, 1]))
        mine = []
        while t < horizon:
            depth = rng.random()
            Z = np.exp(np.log(z_near) + depth * 0.5 * np.log(z_far / z_near))
            # crossing: the view's width at that depth plus the body, at ~85 % of the speed (heading wobble, stops)
            cross = (c.width * Z / f + 1.0) / (0.85 * speed[p])
            frame = int(round(t * c.fps)) + 1
            visits[cam].append((frame, p, float(step), float(depth)))
            mine.append((cam, frame))
            nxt = cam + step
            if not 0 <= nxt < c.num_cameras:
                # the end of the chain: walk out of the site, turn round and come back through the same view
                step = -step
                t += cross + rng.uniform(*c.transit)
                continue
            t += cross * (1.0 - rng.uniform(*c.overlap)) if c.overlapping(min(cam, nxt)) else \
                cross + rng.uniform(*c.transit)
            cam = nxt
        plan.append(mine)
    return visits, plan


def generate_multicam(config: MulticamConfig | None = None) -> MulticamSite:
    """Simulate every camera of the site (no pixels drawn until a scene's ``render``)."""
    c = config or MulticamConfig()
    if not isinstance(c, MulticamConfig):
        raise ValueError(f"generate_multicam: expected a MulticamConfig, got {type(c).__name__}")
    rng = np.random.default_rng([c.seed, 31])
    people = [_sample_person(rng) for _ in range(c.num_people)]
    speed = rng.uniform(*SceneConfig.speed_range, c.num_people)
    sprites = resolve_sprites(c.sprites)
    sprite_index = assign_sprites(sprites, c.num_people, [c.seed, 32])
    visits, plan = _plan(c, speed, np.random.default_rng([c.seed, 33]))
    scenes = []
    for cam in range(c.num_cameras):
        cc = c.camera_config(cam)
        cc.sprites = sprites
        scenes.append(_simulate(cc, np.random.default_rng([cc.seed, 1]), people, sprites, sprite_index,
                                _PlannedVisits(c.num_people, visits[cam]), speed=speed))
    return MulticamSite(c, camera_names(c.num_cameras), scenes, plan)


def write_multicam(site: MulticamSite, root, video: bool = False) -> Path:
    """Write ``root/CAM1 .. CAMn`` (MOT17 layout each: img1/, gt/gt.txt, det/det.txt, seqinfo.ini) and
    ``root/topology.yaml``; return ``root``."""
    import yaml

    from trackreid.io.atomic import write_text_atomic
    from trackreid.synthetic.mot import write_mot_sequence

    if not isinstance(site, MulticamSite):
        raise ValueError(f"write_multicam: expected a MulticamSite, got {type(site).__name__}")
    root = Path(root)
    for name, sc in zip(site.names, site.scenes):
        write_mot_sequence(sc, root, name=name, video=video)
    text = ("# camera links: transit = first frame in the next camera - last frame in this one (negative: the views\n"
            "# overlap); min/max cover every transit of the ground truth\n"
            + yaml.safe_dump(site.topology(), sort_keys=False))
    write_text_atomic(root / "topology.yaml", text)
    return root
