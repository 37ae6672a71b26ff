"""Global identities across cameras: one ID for a person in every camera of a site.

Each camera keeps its own :class:`~trackreid.Tracker` (and its own identity memory, so a person who comes back to
the same camera keeps that camera's ID). :class:`GlobalIdentities` links the per-camera track IDs into global IDs
through a shared identity bank, the :class:`~trackreid.tracking.memory.IdentityMemory` store holding each global
identity's appearance centroid (the mean of its tracks' features over every frame and camera): a camera's new
track, by its own centroid, takes the global ID of a banked identity only under the memory's distinctness rule (mutual best, an absolute
threshold and a two-way ratio test, :func:`~trackreid.tracking.memory.distinct_matches`), never the global ID of a
track live at the same time in the same camera, and, with a topology, only from a camera connected to it within
the allowed transit time. A track that matches nobody gets a fresh global ID. Young tracks (fewer than
``settle`` frames) are asked again every frame until they match or settle, and none is asked before ``min_age`` frames, so
the first, poor views (a person half inside the frame) do not decide. Meanwhile a young track carries a provisional
global ID; the MOT file, ``tracks.jsonl``, events and crops hold its rows back
(:class:`~trackreid.io.deferred.FinalRows`, at most ``write_delay`` frames) and write them with the final ID, while
the per-step results and the annotated video show the IDs known at that frame.

Bounded on an endless site: a camera's tables forget a local track that ended more than ``write_delay`` (and
``settle``) frames ago; only its global ID stays (so a track the camera's identity memory brings back keeps it) until
the global identity leaves the bank; per-frame cost depends on the tracks of the last frames, not on the site's age.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trackreid.tracking.id_log import IdLog
from trackreid.tracking.memory import IdentityMemory, distinct_matches
from trackreid.types import TrackerOutput, l2_normalise


@dataclass
class LinkConfig:
    """Settings of cross-camera linking."""

    thresh: float = 0.3
    """Largest cosine distance between a track's appearance centroid and a global identity's at which it takes that
    ID (on OSNet x0.25 Market-1501's scale; an encoder recording its own replaces it, ``trackreid.reid.thresholds``)..."""
    margin: float = 0.08
    """...and only when it beats the runner-up of its row and column by this much (two-way ratio test; on the same
    scale, replaced by the encoder's own value like ``thresh``)."""
    min_age: int = 5
    """Frames a track is followed before its appearance is compared with the bank: a few first views of a person
    (walking in at the image border, partly cut off) look like anybody's."""
    settle: int = 150
    """Frames during which a track that got a fresh global ID is still compared with the bank (a person walking
    in from another camera may first look unlike their banked centroid and match only after more views). Longer
    links more people, at the price of rows waiting longer for their final ID (``write_delay``)."""
    write_delay: int | None = None
    """Most frames a track's rows in the MOT file and ``tracks.jsonl`` wait for its global ID to be final (matched
    to a banked identity, or followed past ``settle`` frames), so no provisional ID reaches those files (None:
    ``settle``; 0: write each frame at once with the IDs known then)."""
    appearance_every: int = 3
    """With appearance on demand (``TrackerConfig.embed_policy``), a camera's tracks still compared with the bank
    (young, unmatched) are embedded every this-many frames (``Tracker.want_appearance``), so their centroids gather
    views while they are being linked; other boxes only when their own tracker needs them."""
    bank_size: int = 10_000
    """Most global identities kept in the bank (least recently seen forgotten first)."""

    def __post_init__(self) -> None:
        if int(self.appearance_every) < 1:
            raise ValueError(f"LinkConfig.appearance_every must be >= 1, got {self.appearance_every}")


class Topology:
    """Which cameras connect and how long the walk between them takes, in frames.

    Transit = first frame seen in the next camera minus last frame seen in this one (negative where the views
    overlap). YAML (``trackreid-synth multicam`` writes the first form)::

        links:
          - {cameras: [CAM1, CAM2], min_transit_frames: -300, max_transit_frames: 0}   # both directions
          - {from: CAM2, to: CAM3, min_transit_frames: 60, max_transit_frames: 300}     # one direction
          - [CAM3, CAM4, 30, 200]                                                      # from, to, min, max

    A camera always connects to itself (a person coming back to the same view). Cameras linked to nothing connect
    to nobody else. ``tolerance`` frames of slack cover a few missed detections at either end of a transit.
    """

    def __init__(self, cameras: list[str], links: list[tuple[str, str, float, float]], tolerance: int = 15):
        self.cameras = list(cameras)
        idx = {c: i for i, c in enumerate(self.cameras)}
        n = len(cameras)
        self.lo = np.full((n, n), np.inf)
        self.hi = np.full((n, n), -np.inf)
        np.fill_diagonal(self.lo, 0.0)
        np.fill_diagonal(self.hi, np.inf)
        self.tolerance = int(tolerance)
        for a, b, lo, hi in links:
            for c in (a, b):
                if c not in idx:
                    raise ValueError(f"topology: camera {c!r} is not one of the sources {self.cameras}")
            if not lo <= hi:
                raise ValueError(f"topology: link {a}->{b} needs min <= max transit, got {lo}, {hi}")
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
            raise ValueError("topology: expected a mapping with a 'links' list")
        links = []
        for item in spec.get("links", []):
            try:
                if isinstance(item, dict):
                    lo, hi = float(item["min_transit_frames"]), float(item["max_transit_frames"])
                    if "cameras" in item:
                        a, b = item["cameras"]
                        links += [(str(a), str(b), lo, hi), (str(b), str(a), lo, hi)]
                    else:
                        links.append((str(item["from"]), str(item["to"]), lo, hi))
                else:
                    a, b, lo, hi = item
                    links.append((str(a), str(b), float(lo), float(hi)))
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"topology: cannot read link {item!r}; expected {{cameras: [A, B], "
                                 "min_transit_frames: N, max_transit_frames: M}, {from:, to:, ...} or "
                                 "[from, to, min, max]") from None
        return cls(cameras, links)

    def allowed(self, cam: int, last_cam: np.ndarray, transit: np.ndarray) -> np.ndarray:
        """Which banked identities, last seen in cameras ``last_cam``, a track of ``cam`` may be, given the transit
        from their last sighting to the track's first frame (negative: they were still seen elsewhere then)."""
        lo, hi = self.lo[last_cam, cam], self.hi[last_cam, cam]
        return (transit >= lo - self.tolerance) & (transit <= hi + self.tolerance)


class GlobalIdentities:
    """Per-camera track IDs -> global IDs (see the module docstring). ``relabel(cam, frame, tracker_output)`` is
    called by each camera's run after its tracker, before the outputs are written."""

    def __init__(self, cameras: list[str], config: LinkConfig | None = None, topology: Topology | None = None,
                 bank: IdentityMemory | None = None):
        self.cameras = list(cameras)
        self.cfg = config or LinkConfig()
        self.topology = topology
        self.bank = bank if bank is not None else IdentityMemory(self.cfg.bank_size, exemplars=1)
        n = len(self.cameras)
        # per camera, keyed by local track ID; forgotten once a track ended more than `horizon` frames ago
        self._sum: list[dict[int, np.ndarray]] = [{} for _ in range(n)]    # summed features of each local track
        self._born: list[dict[int, int]] = [{} for _ in range(n)]          # first frame of each local track
        self._last: list[OrderedDict[int, int]] = [OrderedDict() for _ in range(n)]  # last frame, oldest first
        self._age: list[dict[int, int]] = [{} for _ in range(n)]           # frames seen
        self._held: list[set[int]] = [set() for _ in range(n)]             # local ids each camera's tracker holds
        self._alias = [IdLog(self.horizon) for _ in range(n)]              # renames by the camera's tracker
        # per camera, kept while the global identity may come back (at most bank_size each)
        self._map: list[OrderedDict[int, int]] = [OrderedDict() for _ in range(n)]  # local id -> global id
        self._matched: list[set[int]] = [set() for _ in range(n)]          # local ids whose global id came from the bank
        # per global identity, for those in some camera's map
        self._gsum: dict[int, np.ndarray] = {}                            # summed features of each global identity
        self._where: dict[int, tuple[int, int]] = {}                      # global id -> (last camera, last frame)
        self._refs: dict[int, int] = {}                                   # global id -> local ids mapped to it
        self._retired = 0                                                 # global identities forgotten by every map
        self._frame = 0                                                   # latest frame linked, any camera

    @property
    def horizon(self) -> int:
        return link_horizon(self.cfg)

    def table_sizes(self) -> dict[str, int]:
        """Entries in every table (for soak tests and ``benchmarks/linker_soak.py``)."""
        per_cam = {"sum": self._sum, "born": self._born, "last": self._last, "age": self._age, "map": self._map,
                   "matched": self._matched, "held": self._held}
        out = {k: sum(len(t) for t in v) for k, v in per_cam.items()}
        out.update(alias=sum(len(a) for a in self._alias), gsum=len(self._gsum), where=len(self._where),
                   refs=len(self._refs), bank=len(self.bank))
        return out

    def _map_set(self, cam: int, lid: int, gid: int) -> None:
        mapping = self._map[cam]
        old = mapping.get(lid)
        if old == gid:
            return
        mapping[lid] = gid
        self._refs[gid] = self._refs.get(gid, 0) + 1
        if old is not None:
            self._unref(old)

    def _unref(self, gid: int) -> bool:
        """One local ID less maps to ``gid``; forgets the identity when none does. True when forgotten."""
        left = self._refs.get(gid, 0) - 1
        if left > 0:
            self._refs[gid] = left
            return False
        self._refs.pop(gid, None)
        self._gsum.pop(gid, None)
        self._where.pop(gid, None)
        return True

    def _forget(self, cam: int, frame: int) -> None:
        """Drop the tables of camera ``cam``'s tracks that ended more than ``horizon`` frames ago (their global ID
        stays mapped), and the oldest mapped local IDs beyond ``bank_size``."""
        last, held = self._last[cam], self._held[cam]
        cutoff = frame - self.horizon
        for _ in range(len(last)):
            lid, seen = next(iter(last.items()))
            if seen >= cutoff:
                break
            if lid in held:          # lost but still tracked: keep (checked again when it is seen or dropped)
                last.move_to_end(lid)
                continue
            del last[lid]
            self._sum[cam].pop(lid, None)
            self._born[cam].pop(lid, None)
            self._age[cam].pop(lid, None)
        mapping = self._map[cam]
        while len(mapping) > self.cfg.bank_size:
            lid, gid = mapping.popitem(last=False)
            self._matched[cam].discard(lid)
            if self._unref(gid):
                self._retired += 1
                self.bank.remove([gid])

    @classmethod
    def from_topology(cls, cameras: list[str], topology=None, config: LinkConfig | None = None):
        return cls(cameras, config, Topology.load(cameras, topology) if topology is not None else None)

    @property
    def num_identities(self) -> int:
        """Global identities given out so far (not counting provisional ones merged into a match)."""
        return len(self._refs) + self._retired

    def attach(self, cam: int, run) -> None:
        """Make a :class:`~trackreid.pipeline.SourceRun` write global IDs (its ``relabel`` hook), every output that
        records IDs held back until they are final (``SourceRun.hold_rows``)."""
        def relabel(frame, out):
            gids = self.relabel(cam, frame, out)
            want_open_views(run.tracker, self.cfg, frame, out.ids, lambda: self.state(cam, out.ids)[1])
            return gids

        run.relabel = relabel
        run.hold_rows(lambda lids: self.state(cam, lids), write_delay(self.cfg), rename=False)

    def state(self, cam: int, lids) -> tuple[np.ndarray, np.ndarray]:
        """Current global IDs of camera ``cam``'s local tracks ``lids`` (-1: never linked) and whether each is
        final: matched to a banked identity, or followed past ``settle`` frames (then nothing changes it again)."""
        lids = self._alias[cam].resolve(np.asarray(lids, np.int64).reshape(-1)).tolist()
        mapping, age, matched, settle = self._map[cam], self._age[cam], self._matched[cam], self.cfg.settle
        gids = np.array([mapping.get(lid, -1) for lid in lids], np.int64)
        # a local ID whose tables were forgotten (ended long ago) has its global ID for good
        final = np.array([lid in matched or age.get(lid, settle + 1 if lid in mapping else 0) > settle
                          for lid in lids], bool)
        return gids, final

    def relabel(self, cam: int, frame: int, out: TrackerOutput) -> np.ndarray:
        """Global IDs (M,) for the tracks of camera ``cam``'s tracker at ``frame`` (its ``step`` result)."""
        return self.link(cam, frame, out.tracks, *out.appearance(), renamed=out.renamed)

    def link(self, cam: int, frame: int, tracks: np.ndarray, feats: np.ndarray, has: np.ndarray,
             held: np.ndarray | None = None, renamed: dict | None = None) -> np.ndarray:
        """:meth:`relabel` with the tracks' smoothed features given (``TrackerOutput.appearance``): what a remote bank
        gets. ``held``: local IDs the camera's tracker still holds (live or lost; default: those in ``tracks``),
        whose global IDs no other track of the camera may take. ``renamed``: the tracker's young tracks that just
        switched to a remembered local ID (``TrackerOutput.renamed``)."""
        self._alias[cam].record(renamed or {}, frame)
        self._frame = max(self._frame, int(frame))
        if renamed:
            self._rename(cam, renamed)
        local = tracks[:, 4].astype(np.int64)
        self._held[cam] = set((local if held is None else np.asarray(held, np.int64)).tolist()) | set(local.tolist())
        mapping, age, matched, cfg = self._map[cam], self._age[cam], self._matched[cam], self.cfg
        # a track back after its tables were forgotten (the camera's identity memory) keeps its global ID
        ages = np.array([age.get(lid, cfg.settle if lid in mapping else 0) + 1 for lid in local.tolist()], np.int64)
        age.update(zip(local.tolist(), ages.tolist()))
        last = self._last[cam]
        for lid in local.tolist():
            self._born[cam].setdefault(lid, frame)
            last[lid] = frame
            last.move_to_end(lid)
            if lid in mapping:
                mapping.move_to_end(lid)
        sums = self._sum[cam]
        for lid, f, h in zip(local.tolist(), feats, has.tolist()):
            if h:
                sums[lid] = sums[lid] + f if lid in sums else f.astype(np.float64)
        ready = has & (ages >= cfg.min_age)
        # open to a bank match: followed long enough to compare, still on a fresh (provisional) global ID
        ask = ready & (ages <= cfg.settle) & np.array([lid not in matched for lid in local.tolist()], bool)
        if ask.any():
            self._link(cam, frame, local, ask, tracks)
        for lid in local.tolist():
            if lid not in mapping:
                self._map_set(cam, lid, int(self.bank.allocate_ids(1)[0]))
        gids = np.array([mapping[lid] for lid in local.tolist()], np.int64)
        for g in gids.tolist():
            self._where[g] = (cam, frame)
        if has.any():
            self._bank_update(gids[has], feats[has], tracks[has], frame)
        self._forget(cam, frame)
        return gids

    def _rename(self, cam: int, renamed: dict) -> None:
        """A camera's young tracks that took a remembered local ID (its tracker's identity memory): their held-back
        rows follow it to that ID's global identity (:meth:`state`), and a provisional global identity of theirs
        gives its appearance to that one and leaves the bank."""
        mapping, sums = self._map[cam], self._sum[cam]
        for old, new in renamed.items():
            old, new = int(old), int(new)
            if old in sums:
                moved = sums.pop(old)
                sums[new] = sums[new] + moved if new in sums else moved
            og, ng = mapping.get(old), mapping.get(new)
            if og is None or og == ng or old in self._matched[cam]:
                continue
            if ng is None:  # an identity the linker never saw (a memory loaded from a file): keep the young one's
                self._map_set(cam, new, og)
                continue
            moved = self._gsum.pop(og, None)
            if moved is not None:
                self._gsum[ng] = self._gsum[ng] + moved if ng in self._gsum else moved
            self._map_set(cam, old, ng)
            if og not in self._refs:
                self.bank.remove([og])

    def _centroid(self, cam: int, lids) -> np.ndarray:
        return l2_normalise(np.stack([self._sum[cam][lid] for lid in lids]).astype(np.float32))

    def _link(self, cam, frame, local, ask, tracks) -> None:
        rows = np.flatnonzero(ask)
        mapping = self._map[cam]
        # a young track's own provisional identity is in the bank too: it is not a candidate for itself
        own = [mapping[lid] for lid in local[rows].tolist() if lid in mapping]
        g = self.bank.search(self._centroid(cam, local[rows].tolist()), tracks[rows, 6], skip_ids=own)
        if len(g.ids) == 0:
            return
        # never the global id of another track of this camera that it still holds (live now, or lost and maybe
        # coming back) or that was seen while this one was: two boxes of one person in one frame cannot be
        born = np.array([self._born[cam][lid] for lid in local[rows].tolist()], np.int64)
        others = [(mapping[lid], seen if lid not in self._held[cam] else frame)
                  for lid, seen in self._last[cam].items() if lid in mapping]
        eligible = np.ones((len(rows), len(g.ids)), bool)
        if others:
            og, olast = np.array(others, np.int64).T
            q = local[rows]
            qmap = np.array([mapping.get(int(lid), -1) for lid in q.tolist()], np.int64)
            # (Q, O): the other track overlaps the query's lifetime (and is not the query itself)
            clash = (olast[None, :] >= born[:, None]) & (og[None, :] != qmap[:, None])
            clash |= np.isin(og, [mapping[lid] for lid in self._held[cam] if lid in mapping])[None, :]
            clash &= og[None, :] != qmap[:, None]
            eligible = ~((og[None, :, None] == g.ids[None, None, :]) & clash[:, :, None]).any(1)
        dist = g.dist
        if self.topology is not None:  # people who could not have walked here by then are no candidates at all
            where = np.array([self._where.get(int(i), (cam, frame)) for i in g.ids], np.int64).reshape(-1, 2)
            possible = self.topology.allowed(cam, where[None, :, 0], born[:, None] - where[None, :, 1])
            dist = np.where(possible, dist, np.inf)
        qi, gj = distinct_matches(dist, self.cfg.thresh, self.cfg.margin, eligible)
        for q, j in zip(qi.tolist(), gj.tolist()):
            lid = int(local[rows[q]])
            old, new = mapping.get(lid), int(g.ids[j])
            self._matched[cam].add(lid)
            if old is not None and old != new:  # the provisional identity's appearance moves to the match
                moved = self._gsum.pop(old, None)
                if moved is not None:
                    self._gsum[new] = self._gsum[new] + moved if new in self._gsum else moved
            self._map_set(cam, lid, new)
            if old is not None and old != new and old not in self._refs:
                self.bank.remove([old])

    def _bank_update(self, gids, feats, tracks, frame) -> None:
        """Add the tracks' current smoothed features to their global identities' sums; the bank holds each
        identity's centroid (written in place for banked identities, so a large bank is not rewritten per frame).
        Centroids, not nearest views: a person's views average to something distinct, while single views (at the
        border, far away) can look like anybody's."""
        for g, f in zip(gids.tolist(), feats):
            self._gsum[g] = self._gsum[g] + f if g in self._gsum else f.astype(np.float64)
        cen = l2_normalise(np.stack([self._gsum[g] for g in gids.tolist()]).astype(np.float32))
        self.bank.observe(gids, cen, tracks[:, 6], tracks[:, :4], frame, replace=True)


    # ------------------------------------------------------------------ files
    def to_arrays(self) -> dict[str, np.ndarray]:
        """What a restarted site needs to give returning people their global IDs, as plain arrays: the bank
        (:meth:`IdentityMemory.to_arrays`, keys ``bank.*``), each camera's local-to-global map, the identities'
        appearance sums and where each was last seen (ages relative to the latest frame)."""
        now = self._frame
        cams, lids, gids = [], [], []
        for cam, mapping in enumerate(self._map):
            cams += [cam] * len(mapping)
            lids += list(mapping.keys())
            gids += list(mapping.values())
        sums = sorted(self._gsum)
        dim = self.bank.dim or 0
        where = sorted(self._where)
        out = {f"bank.{k}": v for k, v in self.bank.to_arrays(now).items()}
        out.update({
            "cameras": np.array(self.cameras, dtype=str), "retired": np.int64(self._retired),
            "map_cam": np.array(cams, np.int64), "map_lid": np.array(lids, np.int64),
            "map_gid": np.array(gids, np.int64), "sum_ids": np.array(sums, np.int64),
            "sums": np.array([self._gsum[g] for g in sums], np.float64).reshape(len(sums), dim),
            "where_ids": np.array(where, np.int64), "where_cam": np.array([self._where[g][0] for g in where], np.int64),
            "where_age": np.array([now - self._where[g][1] for g in where], np.int64)})
        return out

    def from_arrays(self, a: dict, where: str = "global identity bank") -> None:
        """Restore a fresh linker from :meth:`to_arrays`; cameras are matched by name (one the file does not
        know starts empty, one this run lacks is dropped). ``ValueError`` names ``where`` when the arrays are
        missing or inconsistent."""
        need = ("cameras", "retired", "map_cam", "map_lid", "map_gid", "sum_ids", "sums", "where_ids", "where_cam",
                "where_age")
        missing = [k for k in need if k not in a]
        if missing:
            raise ValueError(f"{where} is not a trackreid global identity bank: missing arrays {missing}")
        a = {k: np.asarray(v) for k, v in a.items()}
        n_map, n_sum, n_where = len(a["map_lid"]), len(a["sum_ids"]), len(a["where_ids"])
        if (a["map_cam"].shape != (n_map,) or a["map_gid"].shape != (n_map,) or a["sums"].ndim != 2
                or len(a["sums"]) != n_sum or a["where_cam"].shape != (n_where,)
                or a["where_age"].shape != (n_where,) or not np.isfinite(a["sums"]).all()):
            raise ValueError(f"{where} is corrupt: inconsistent array shapes or values")
        self.bank.from_arrays({k[5:]: v for k, v in a.items() if k.startswith("bank.")}, now=0,
                              where=f"{where} (bank)")
        file_cams = [str(c) for c in a["cameras"].tolist()]
        to_mine = np.array([self.cameras.index(c) if c in self.cameras else -1 for c in file_cams], np.int64)
        for cam, lid, gid in zip(a["map_cam"].tolist(), a["map_lid"].tolist(), a["map_gid"].tolist()):
            mine = int(to_mine[cam]) if 0 <= cam < len(to_mine) else -1
            if mine >= 0:
                self._map_set(mine, int(lid), int(gid))
        for gid, vec in zip(a["sum_ids"].tolist(), a["sums"]):
            if gid in self._refs:
                self._gsum[int(gid)] = vec.astype(np.float64)
        for gid, cam, age in zip(a["where_ids"].tolist(), a["where_cam"].tolist(), a["where_age"].tolist()):
            mine = int(to_mine[cam]) if 0 <= cam < len(to_mine) else -1
            if gid in self._refs and mine >= 0:
                self._where[int(gid)] = (mine, -int(age))
        self._retired = int(a["retired"])


def write_delay(cfg: LinkConfig) -> int:
    """Most frames rows wait for their global IDs (``cfg.write_delay``, default ``cfg.settle``)."""
    return int(cfg.settle) if cfg.write_delay is None else int(cfg.write_delay)


def want_open_views(tracker, cfg: LinkConfig, frame: int, ids: np.ndarray, final) -> None:
    """Every ``cfg.appearance_every`` frames, ask a camera's tracker for a fresh view of its tracks ``ids`` whose
    global ID is not final yet (``Tracker.want_appearance``; trackers without it are left alone). ``final``: a
    function giving (M,) whether each ID is final, called only on those frames."""
    want = getattr(tracker, "want_appearance", None)
    if want is None or frame % cfg.appearance_every:
        return
    final = np.asarray(final(), bool)
    if not final.all():
        want(ids[~final])


def link_horizon(cfg: LinkConfig) -> int:
    """Frames after its last sighting that what a linker knows of a local track is kept: as long as rows may wait
    for it and it may still be compared with the bank."""
    return max(int(cfg.settle), write_delay(cfg)) + 1
