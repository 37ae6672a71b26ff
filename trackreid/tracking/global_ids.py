"""Global identities across cameras: one ID for a person in every camera of a site.

Each camera keeps its own :class:`~trackreid.Tracker` (and its own identity memory, so a person who comes back to
the same camera keeps that camera's ID). :class:`GlobalIdentities` links the per-camera track IDs into global IDs
through a shared identity bank, the :class:`~trackreid.tracking.memory.IdentityMemory` store: a camera's new track
takes the global ID of a banked identity only under the memory's distinctness rule (mutual best, an absolute
threshold and a two-way ratio test, :func:`~trackreid.tracking.memory.distinct_matches`), never the global ID of a
track live at the same time in the same camera, and, with a topology, only from a camera connected to it within
the allowed transit time. A track that matches nobody gets a fresh global ID. Young tracks (fewer than
``settle`` frames) are asked again every frame until they match or settle, so a first, poor view (a person half
inside the frame) does not decide alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trackreid.tracking.memory import IdentityMemory, distinct_matches, update_exemplars


@dataclass
class LinkConfig:
    """Settings of cross-camera linking."""

    thresh: float = 0.3
    """Largest cosine distance (nearest exemplar) at which a track takes a banked global ID..."""
    margin: float = 0.1
    """...and only when it beats the runner-up of its row and column by this much (two-way ratio test)."""
    settle: int = 15
    """Frames during which a track that got a fresh global ID is still compared with the bank."""
    exemplars: int = 6
    """Appearance exemplars kept per global identity."""
    bank_size: int = 10_000
    """Most global identities kept in the bank (least recently seen forgotten first)."""


class Topology:
    """Which cameras connect and how long the walk between them takes (in frames).

    YAML::

        fps: 25                 # optional: transit times below are in seconds when given, else in frames
        links:
          - [CAM1, CAM2, 2, 20]   # from, to, min, max transit; add the reverse link for two-way paths
          - {from: CAM2, to: CAM3, min: 0, max: 10}

    A camera always connects to itself (re-entry). Cameras not named in any link connect to nobody else.
    """

    def __init__(self, cameras: list[str], links: list[tuple[str, str, float, float]]):
        self.cameras = list(cameras)
        idx = {c: i for i, c in enumerate(self.cameras)}
        n = len(cameras)
        self.lo = np.full((n, n), np.inf)
        self.hi = np.full((n, n), -np.inf)
        np.fill_diagonal(self.lo, 0.0)
        np.fill_diagonal(self.hi, np.inf)
        for a, b, lo, hi in links:
            for c in (a, b):
                if c not in idx:
                    raise ValueError(f"topology: camera {c!r} is not one of the sources {self.cameras}")
            if not 0 <= lo <= hi:
                raise ValueError(f"topology: link {a}->{b} needs 0 <= min <= max transit, got {lo}, {hi}")
            self.lo[idx[a], idx[b]], self.hi[idx[a], idx[b]] = lo, hi

    @classmethod
    def load(cls, cameras: list[str], spec) -> "Topology":
        """From a YAML path or an already-parsed mapping."""
        if isinstance(spec, (str, Path)):
            import yaml

            path = Path(spec)
            if not path.is_file():
                raise ValueError(f"topology file not found: {path}")
            spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(spec, dict) or not isinstance(spec.get("links", []), list):
            raise ValueError("topology: expected a mapping with a 'links' list of [from, to, min, max]")
        scale = float(spec.get("fps", 1.0))
        links = []
        for item in spec.get("links", []):
            if isinstance(item, dict):
                item = [item.get("from"), item.get("to"), item.get("min", 0), item.get("max")]
            if not isinstance(item, (list, tuple)) or len(item) != 4 or item[3] is None:
                raise ValueError(f"topology: a link must be [from, to, min, max], got {item!r}")
            links.append((str(item[0]), str(item[1]), float(item[2]) * scale, float(item[3]) * scale))
        return cls(cameras, links)

    def allowed(self, cam: int, last_cam: np.ndarray, gap: np.ndarray, live_elsewhere: np.ndarray) -> np.ndarray:
        """Which banked identities (last seen in ``last_cam``, ``gap`` frames ago) a new track of ``cam`` may be;
        an identity live now in another camera is possible only where the cameras overlap (min transit 0)."""
        lo, hi = self.lo[last_cam, cam], self.hi[last_cam, cam]
        return np.where(live_elsewhere, lo <= 0, (gap >= lo) & (gap <= hi))


class GlobalIdentities:
    """Per-camera track IDs -> global IDs (see the module docstring). ``relabel(cam, frame, tracks, tracker)`` is
    called by each camera's run after its tracker, before the outputs are written."""

    def __init__(self, cameras: list[str], config: LinkConfig | None = None, topology: Topology | None = None,
                 bank: IdentityMemory | None = None):
        self.cameras = list(cameras)
        self.cfg = config or LinkConfig()
        self.topology = topology
        self.bank = bank if bank is not None else IdentityMemory(self.cfg.bank_size, self.cfg.exemplars)
        self._map: list[dict[int, int]] = [{} for _ in cameras]       # local id -> global id, per camera
        self._age: list[dict[int, int]] = [{} for _ in cameras]       # local id -> frames seen, per camera
        self._matched: list[set[int]] = [set() for _ in cameras]      # local ids whose global id came from the bank
        self._live: list[set[int]] = [set() for _ in cameras]         # global ids live in each camera this frame
        self._where: dict[int, tuple[int, int]] = {}                  # global id -> (last camera, last frame)

    @classmethod
    def from_topology(cls, cameras: list[str], topology=None, config: LinkConfig | None = None):
        return cls(cameras, config, Topology.load(cameras, topology) if topology is not None else None)

    @property
    def num_identities(self) -> int:
        return len({g for m in self._map for g in m.values()})

    def attach(self, cam: int, run) -> None:
        """Make a :class:`~trackreid.pipeline.SourceRun` write global IDs (its ``relabel`` hook)."""
        run.relabel = lambda frame, tracks, tracker: self.relabel(cam, frame, tracks, tracker)

    def relabel(self, cam: int, frame: int, tracks: np.ndarray, tracker) -> np.ndarray:
        """Global IDs (M,) for the tracker output ``tracks`` (M, 8) of camera ``cam`` at ``frame``."""
        return self.link(cam, frame, tracks, *track_appearance(tracker, tracks[:, 4].astype(np.int64)))

    def link(self, cam: int, frame: int, tracks: np.ndarray, feats: np.ndarray, exemplars: np.ndarray | None,
             has: np.ndarray) -> np.ndarray:
        """:meth:`relabel` with the tracks' appearance given (:func:`track_appearance`): what a remote bank gets."""
        local = tracks[:, 4].astype(np.int64)
        mapping, age, matched = self._map[cam], self._age[cam], self._matched[cam]
        ask = np.zeros(len(local), bool)
        for i, lid in enumerate(local.tolist()):
            age[lid] = age.get(lid, 0) + 1
            # open to a bank match: new tracks, and young ones that got a fresh ID
            ask[i] = has[i] and (lid not in mapping or (age[lid] <= self.cfg.settle and lid not in matched))
        if ask.any():
            self._link(cam, frame, local, ask, feats, tracks)
        for lid in local.tolist():
            if lid not in mapping:
                mapping[lid] = int(self.bank.allocate_ids(1)[0])
        gids = np.array([mapping[lid] for lid in local.tolist()], np.int64)
        self._live[cam] = set(gids.tolist())
        for g in gids.tolist():
            self._where[g] = (cam, frame)
        if has.any():
            self._bank_update(gids[has], feats[has], None if exemplars is None else exemplars[has], tracks[has],
                              frame)
        return gids

    def _link(self, cam, frame, local, ask, feats, tracks) -> None:
        rows = np.flatnonzero(ask)
        g = self.bank.search(feats[rows], tracks[rows, 6])
        if len(g.ids) == 0:
            return
        mapping = self._map[cam]
        # never the global id of another track live in this camera now
        others = [mapping[lid] for lid in local.tolist() if lid in mapping]
        eligible = ~np.isin(g.ids, np.asarray(others, np.int64))
        if self.topology is not None:
            where = np.array([self._where.get(int(i), (cam, frame)) for i in g.ids], np.int64).reshape(-1, 2)
            live_elsewhere = np.array([int(i) in self._live[c] and c != cam for i, c in zip(g.ids, where[:, 0])],
                                      bool)
            eligible &= self.topology.allowed(cam, where[:, 0], frame - where[:, 1], live_elsewhere)
        qi, gj = distinct_matches(g.dist, self.cfg.thresh, self.cfg.margin, eligible)
        for q, j in zip(qi.tolist(), gj.tolist()):
            lid = int(local[rows[q]])
            old = mapping.get(lid)
            mapping[lid] = int(g.ids[j])
            self._matched[cam].add(lid)
            if old is not None and old != mapping[lid] and not any(old in m.values() for m in self._map):
                self.bank.remove([old])  # a provisional identity nobody else holds: merged into the match

    def _bank_update(self, gids, feats, exemplars, tracks, frame) -> None:
        """Fold the tracks' current appearance into their global identities' exemplars (in place for banked
        identities, so a large bank is not rewritten every frame)."""
        bank = self.bank
        rows = bank.find(gids)
        new = rows < 0
        if new.any():
            ex = feats[new][:, None, :] if exemplars is None else exemplars[new]
            bank.put(gids[new], ex, tracks[new, 6], tracks[new, :4], np.full(int(new.sum()), frame))
        old = np.flatnonzero(~new)
        if len(old):
            r = rows[old]
            ex, count = bank.ex[r], np.full(len(r), bank.k, np.int64)
            if exemplars is not None:
                for j in range(exemplars.shape[1]):
                    ex, count = update_exemplars(ex, count, exemplars[old, j])
            ex, count = update_exemplars(ex, count, feats[old])
            _refresh(bank, r, ex, tracks[old, :4], frame)


def track_appearance(tracker, ids: np.ndarray):
    """Smoothed features (M, D), exemplars (M, E, D) or None, and which rows have appearance (M,), of the
    tracker's tracks ``ids``."""
    m = len(ids)
    T = getattr(tracker, "tracks", None)
    if T is None or not getattr(T, "dim", 0) or m == 0:
        return np.zeros((m, 0), np.float32), None, np.zeros(m, bool)
    n = T.n
    pos = {int(t): r for r, t in enumerate(T.track_id[:n].tolist())}
    rows = np.array([pos.get(int(i), -1) for i in ids.tolist()], np.int64)
    has = rows >= 0
    has[has] = T.has_feat[rows[has]]
    rows = np.where(has, rows, 0)
    feats = T.feat[rows].astype(np.float32)
    ex = None
    if getattr(T, "n_ex", 0) and hasattr(T, "ex"):
        cnt = T.ex_n[rows]
        ex = T.ex[rows].copy()
        short = np.arange(ex.shape[1])[None, :] >= cnt[:, None]
        ex[short] = np.broadcast_to(feats[:, None, :], ex.shape)[short]  # unused slots repeat the smoothed feature
    return feats, ex, has


def _refresh(bank: IdentityMemory, rows: np.ndarray, ex: np.ndarray, boxes: np.ndarray, frame: int) -> None:
    """Rewrite the exemplars, box and last-seen frame of banked identities at ``rows`` in place."""
    bank.ex[rows] = ex
    bank.box[rows] = boxes
    bank.last_seen[rows] = frame
    mean = ex.mean(axis=1)
    mean /= np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
    bank._sketch[rows] = mean @ bank._proj
