"""Events keyed to identities: entering and leaving the view, crossing lines, entering and leaving zones.

Fed once per frame with the tracker's output ``(M, 8)`` rows ``x1,y1,x2,y2,id,score,cls,det_index``, the 1-based
frame number; returns that frame's events as dicts::

    {"frame": 12, "id": 3, "event": "enter", "reentry": false}
    {"frame": 40, "id": 3, "event": "line_cross", "name": "door", "direction": "in"}
    {"frame": 41, "id": 3, "event": "zone_enter", "name": "queue"}
    {"frame": 95, "id": 3, "event": "zone_exit", "name": "queue", "dwell_s": 1.833}
    {"frame": 130, "id": 3, "event": "exit"}

Rules (the anchor of a box is its bottom centre, where a person stands):

* ``enter``: the first frame an identity is seen, and again when it comes back after an ``exit`` (``reentry``:
  true — the same identity, so the same person: it is not counted again in ``people``).
* ``exit``: an identity unseen for more than ``exit_after`` frames, or still in view when the stream ends
  (:meth:`EventEngine.close`); its ``frame`` is the last frame it was seen.
* ``line_cross``: the side of the line an identity stands on is *confirmed*; a crossing counts when its anchor is
  seen on the other side in ``confirm_frames`` observations in a row (frames where it is unseen, hidden, or beyond
  the line's ends neither extend nor break that run; an observation within ``line_margin`` box heights of the line
  breaks it, so someone walking along the line is not counted by the jitter of their box: the dead band does most
  of the debouncing, so lines need fewer observations than zones). ``frame`` is the first
  of those frames. The confirmed side is kept while the identity is unseen, so a track that flickers at the line,
  or a person who vanishes and comes back under the same identity, is counted once per real change of side — and a
  crossing made while unseen (occluded, or out of view and re-identified) is counted when they reappear on the
  other side. A new identity's start side (no crossing) is taken after ``start_frames`` clear observations in a
  row on it, so one jittered box next to the line does not put it on a side; clear observations on one side
  followed by clear ones on the other (someone who walked across while their feet were hidden, or right after
  stepping into view) set the first side to where they came from, and the crossing counts. ``direction``: ``in`` from the line's
  right-hand side to its left-hand side (see :mod:`trackreid.analytics.regions`), ``out`` the reverse.
* A box whose anchor lies under a box in front of it (lower bottom edge; :mod:`trackreid.analytics.occlusion`)
  gives no line or zone observation that frame: its feet are hidden, so its bottom edge is a guess - unless the
  box is as tall as the identity's recent clear boxes (``FULL_HEIGHT``): a box the occluder cuts is shorter. A person
  covered only at the side is observed. An identity unseen for at most ``occluder_frames`` still hides whoever is
  behind its last box (the detector missed the occluder, not the occluder left).
* ``zone_enter`` / ``zone_exit``: the same confirmation (``zone_confirm_frames``) on "anchor inside the polygon"; ``zone_enter``'s frame is
  the first frame inside, ``zone_exit``'s the last frame inside, ``dwell_s = (exit - enter + 1) / fps``. A visit
  still open when its identity exits the view closes then: at the frame before its first clear observation
  outside when it was seen outside since (the exit was not yet confirmed because it was hidden afterwards),
  otherwise at the last frame it was seen.

Why not ``supervision.LineZone`` for lines: it forgets a tracker id absent for ``minimum_crossing_threshold + 1``
frames and takes the first side seen on its return as the new reference without counting, so a person who
crosses while occluded or re-enters under the same identity is missed; identity memory is the point here, so the
side test (one cross product per anchor and line) and the per-identity state are done here, vectorised over the
frame. Zones use ``supervision.PolygonZone`` (bottom-centre anchor) for the inside test.

Totals (:meth:`EventEngine.totals`, for ``summary.json``) count people: ``people`` distinct identities seen,
per line ``in``/``out`` confirmed crossings and ``people_in``/``people_out`` distinct identities that crossed,
per zone ``visitors`` (distinct identities), ``visits``, ``total_dwell_s`` and ``mean_dwell_s`` (per visitor).
State is bounded: beyond ``max_identities`` the identities out of view longest are forgotten (one that comes
back after that counts as a new person).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .identities import IdentityTable
from .occlusion import hidden_anchors
from .regions import Line, Zone

EVENT_TYPES = ("enter", "exit", "line_cross", "zone_enter", "zone_exit")
FULL_HEIGHT = 0.95
"""A box under someone else's is still observed when at least this tall relative to the identity's recent clear
boxes (a box the occluder cuts is shorter)."""


@dataclass
class EventsConfig:
    exit_after: int = 30  #: frames an identity may stay unseen before it exits the view
    #: observations in a row beyond the dead band on a line's new side to confirm a crossing (the dead band already
    #: keeps jitter out; more observations only miss people who cross and turn back soon after)
    confirm_frames: int = 3
    #: observations in a row inside (outside) a zone to confirm entering (leaving) it: zones have no dead band, so
    #: a box jittering on the edge needs more of them
    zone_confirm_frames: int = 5
    #: clear observations in a row on one side that give a new identity its first side of a line (no crossing):
    #: more than one, so a single jittered box beside the line does not set it; no more than ``confirm_frames``, as
    #: people appear (enter the view, step out from behind someone) shortly before a line too
    start_frames: int = 3
    #: anchors closer to a line than this fraction of their box height are on neither side (a dead band against
    #: the jitter of someone walking along the line)
    line_margin: float = 0.1
    #: a box whose anchor lies inside a box in front of it, or less than this fraction of its height above that
    #: box's top, gives no line or zone observation that frame: its feet are hidden (see :mod:`.occlusion`)
    feet_margin: float = 0.05
    #: an identity unseen for at most this many frames still hides whoever is behind its last box (a detector
    #: misses an occluder now and then; without this the person behind it would be observed that frame)
    occluder_frames: int = 5
    #: an identity last seen within this many box widths of the image's edge has left the view (with the frame
    #: size known): its side of each line is forgotten when it exits, as its path out of view is unknown
    border: float = 0.5
    max_identities: int = 10000  #: identities whose state is kept; beyond it those out of view longest are dropped

    def __post_init__(self) -> None:
        for name, low in (("exit_after", 0), ("confirm_frames", 1), ("zone_confirm_frames", 1), ("start_frames", 1),
                          ("max_identities", 1), ("occluder_frames", 0)):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < low:
                raise ValueError(f"EventsConfig.{name}: expected an integer >= {low}, got {v!r}")
        if not (isinstance(self.feet_margin, (int, float)) and 0 <= self.feet_margin < 1):
            raise ValueError(f"EventsConfig.feet_margin: expected a fraction of the box height in [0, 1), "
                             f"got {self.feet_margin!r}")
        if not (isinstance(self.border, (int, float)) and 0 <= self.border < 10):
            raise ValueError(f"EventsConfig.border: expected a number of box widths >= 0, got {self.border!r}")
        if not (isinstance(self.line_margin, (int, float)) and 0 <= self.line_margin < 10):
            raise ValueError(f"EventsConfig.line_margin: expected a fraction of the box height >= 0, "
                             f"got {self.line_margin!r}")


def anchors(tracks: np.ndarray) -> np.ndarray:
    """Bottom-centre points (M, 2) of xyxy boxes."""
    return np.stack([(tracks[:, 0] + tracks[:, 2]) / 2, tracks[:, 3]], axis=1)


def line_sides(points: np.ndarray, lines: list[Line], margin: np.ndarray | float = 0.0
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Side of each point (M, 2) for each line: (M, L) int8, 1 on the right-hand side, 0 on the left; a mask (M, L)
    of clear observations, and one of points in the dead band (within ``margin`` pixels — scalar or (M,) — of the
    line, within its extent). Points beyond the line's ends (outside the band the segment sweeps perpendicular to
    itself) are in neither mask."""
    if not lines:
        empty = np.zeros((len(points), 0), bool)
        return empty.astype(np.int8), empty, empty
    seg = np.array([[ln.x1, ln.y1, ln.x2, ln.y2] for ln in lines], dtype=np.float64)
    a, d = seg[:, :2], seg[:, 2:] - seg[:, :2]  # (L, 2)
    rel = points[:, None, :] - a[None]  # (M, L, 2)
    cross = d[None, :, 0] * rel[..., 1] - d[None, :, 1] * rel[..., 0]
    t = (rel * d[None]).sum(-1) / (d * d).sum(-1)[None]
    dist = np.abs(cross) / np.linalg.norm(d, axis=1)[None]
    within = (t >= 0) & (t <= 1)
    near = within & ((cross == 0) | (dist < np.broadcast_to(np.asarray(margin, float), (len(points),))[:, None]))
    return (cross > 0).astype(np.int8), within & ~near, near


class EventEngine:
    """Per-identity events and totals for ``lines`` and ``zones``; :meth:`update` once per frame, then
    :meth:`close` at the end of the stream."""

    def __init__(self, lines: list[Line] = (), zones: list[Zone] = (), fps: float = 30.0,
                 config: EventsConfig | None = None, frame_size: tuple[int, int] | None = None):
        if fps is None or not np.isfinite(fps) or fps <= 0:
            raise ValueError(f"events: fps must be a positive number (the source's frame rate), got {fps!r}")
        self.lines, self.zones = list(lines), list(zones)
        self.fps = float(fps)
        self.config = config or EventsConfig()
        self.frame_size = _frame_size(frame_size)
        L, Z = len(self.lines), len(self.zones)
        self._table = IdentityTable({
            "in_view": (bool, (), False), "last_seen": (np.int64, (), 0), "at_border": (bool, (), False),
            "box": (np.float64, (4,), 0.0), "height": (np.float64, (), 0.0),
            "side": (np.int8, (L,), -1), "pend": (np.int8, (L,), -1), "run": (np.int32, (L,), 0),
            "run_start": (np.int64, (L,), 0),
            "crossed": (np.uint8, (L,), 0),
            "inside": (bool, (Z,), False), "zrun": (np.int32, (Z,), 0), "zrun_start": (np.int64, (Z,), 0),
            "zenter": (np.int64, (Z,), 0), "visited": (bool, (Z,), False),
        })
        self._polygons = None
        if Z:
            import supervision as sv

            self._polygons = [sv.PolygonZone(np.round(z.points).astype(np.int64),
                                             triggering_anchors=(sv.Position.BOTTOM_CENTER,)) for z in self.zones]
        self.frame = 0
        self.people = self.entries = self.exits = self.reentries = 0
        self.line_in = np.zeros(L, np.int64)
        self.line_out = np.zeros(L, np.int64)
        self.people_in = np.zeros(L, np.int64)
        self.people_out = np.zeros(L, np.int64)
        self.visitors = np.zeros(Z, np.int64)
        self.visits = np.zeros(Z, np.int64)
        self.dwell_total = np.zeros(Z, np.float64)
        self._closed = False

    # ................................................................................................ per frame
    def update(self, tracks: np.ndarray, frame: int, frame_size: tuple[int, int] | None = None) -> list[dict]:
        """Events of ``frame`` (1-based, increasing) given that frame's tracks (M, 8); ``frame_size`` ``(width,
        height)`` of the image, when known, tells an identity that leaves the view from one hidden in it."""
        if self._closed:
            raise ValueError("events: update() after close()")
        frame = int(frame)
        if frame <= self.frame:
            raise ValueError(f"events: frame numbers must increase; got {frame} after {self.frame}")
        tracks = np.asarray(tracks, dtype=np.float64).reshape(-1, 8) if np.size(tracks) else np.zeros((0, 8))
        if frame_size is not None:
            self.frame_size = _frame_size(frame_size)
        self.frame = frame
        ids, first = np.unique(tracks[:, 4].astype(np.int64), return_index=True)
        tracks = tracks[first]
        events: list[dict] = []
        T = self._table
        rows, new = T.rows(ids)
        back = ~new & ~T["in_view"][rows]
        entering = new | back
        T["in_view"][rows] = True
        T["last_seen"][rows] = frame
        if self.frame_size is not None and len(tracks):
            w, h = self.frame_size
            pad = self.config.border * (tracks[:, 2] - tracks[:, 0])
            T["at_border"][rows] = ((tracks[:, 0] <= pad) | (tracks[:, 2] >= w - pad) | (tracks[:, 3] <= pad)
                                    | (tracks[:, 3] >= h - pad))  # the feet for the top and bottom edges
        self.people += int(new.sum())
        self.entries += int(entering.sum())
        self.reentries += int(back.sum())
        events += [{"frame": frame, "id": int(i), "event": "enter", "reentry": bool(b)}
                   for i, b in zip(ids[entering], back[entering])]
        pts = anchors(tracks)
        seen = self._observed(rows, tracks, frame)
        T["box"][rows] = tracks[:, :4]
        if self.lines:
            margin = self.config.line_margin * (tracks[:, 3] - tracks[:, 1])
            events += self._update_lines(rows, ids, pts, margin, seen, frame, self._came_from(tracks, entering))
        if self.zones:
            events += self._update_zones(rows, ids, tracks, seen, frame)
        events += self._expire(frame - self.config.exit_after - 1)
        self._evict()
        return events

    def _observed(self, rows: np.ndarray, tracks: np.ndarray, frame: int) -> np.ndarray:
        """Tracks whose anchor is observed this frame: not hidden (:meth:`_unhidden`), or hidden but with a box as
        tall as the identity's clear boxes (``FULL_HEIGHT``): a box cut by whoever is in front is shorter, one
        that still reaches the feet is not, so its bottom edge is where the person stands."""
        T = self._table
        seen = self._unhidden(tracks, frame)
        h = tracks[:, 3] - tracks[:, 1]
        ref = T["height"][rows]
        seen |= (ref > 0) & (h >= FULL_HEIGHT * ref)
        ref = np.where(seen, np.where(ref > 0, 0.8 * ref + 0.2 * h, h), ref)
        T["height"][rows] = ref
        return seen

    def _unhidden(self, tracks: np.ndarray, frame: int) -> np.ndarray:
        """Tracks whose anchor is observed this frame: not under a box in front of it (:mod:`.occlusion`), among
        this frame's boxes and the last boxes of identities unseen for at most ``occluder_frames`` (this frame's
        identities have ``last_seen == frame`` already)."""
        T = self._table
        mem = T["in_view"] & (T["last_seen"] < frame) & (T["last_seen"] >= frame - self.config.occluder_frames)
        return ~hidden_anchors(tracks[:, :4], T["box"][mem], self.config.feet_margin)

    def _came_from(self, tracks: np.ndarray, new: np.ndarray) -> np.ndarray:
        """(M, 2) for identities entering the view (``new``: first seen, or back) with a box at the left or right
        image border: the point of that border beside their feet (they walked in from beyond it); NaN for the
        others."""
        out = self._side_border_point(tracks[:, :4])
        out[~new] = np.nan
        return out

    def _side_border_point(self, boxes: np.ndarray) -> np.ndarray:
        """(M, 2) for boxes at the left or right image border (within ``border`` box widths): the point of that
        border beside the feet; NaN for the others, and for all without a frame size."""
        out = np.full((len(boxes), 2), np.nan)
        if self.frame_size is None or not len(boxes):
            return out
        w = self.frame_size[0]
        pad = self.config.border * (boxes[:, 2] - boxes[:, 0])
        left = boxes[:, 0] <= pad
        right = (boxes[:, 2] >= w - pad) & ~left
        out[left, 0], out[right, 0] = 0.0, float(w)
        out[left | right, 1] = boxes[left | right, 3]
        return out

    def _update_lines(self, rows, ids, pts, margin, seen, frame, came_from) -> list[dict]:
        T, k = self._table, self.config.confirm_frames
        s, valid, near = line_sides(pts, self.lines, margin)
        entered = ~np.isnan(came_from[:, 0])
        if entered.any():  # walked in through a side border: their first side is that border's, no crossing
            cs0 = T["side"][rows]
            cs0[entered[:, None] & (cs0 >= 0)] = -1  # back after leaving: the side they left on says nothing now
            bs, bvalid, _ = line_sides(came_from[entered], self.lines, margin[entered])
            first = cs0[entered]
            first[bvalid] = bs[bvalid]
            cs0[entered] = first
            T["side"][rows] = cs0
        valid &= seen[:, None]
        cs, pend = T["side"][rows], T["pend"][rows]
        run, start = T["run"][rows], T["run_start"][rows]
        # back at the line: an excursion not yet confirmed is over (a first side's evidence stays: see below)
        run[near & seen[:, None] & (cs >= 0)] = 0
        # a first side takes start_frames clear observations in a row on it, and is no crossing; but clear
        # observations on one side (fewer than start_frames: hidden, or just in view) followed by clear ones on the
        # other mean the person walked across: the first side is where they came from, and the crossing counts
        # once confirmed like any other
        seed = valid & (cs < 0)
        moved = seed & (pend >= 0) & (pend != s) & (run > 0)
        cs[moved], run[moved] = pend[moved], 0
        seed &= ~moved
        restart = seed & ((pend != s) | (run == 0))
        pend[restart], run[restart], start[restart] = s[restart], 0, frame
        run[seed] += 1
        took = seed & (run >= self.config.start_frames)
        cs[took], run[took] = s[took], 0
        cross = _confirm(cs, s, valid & ~seed, run, start, frame, k)
        T["side"][rows], T["pend"][rows], T["run"][rows], T["run_start"][rows] = cs, pend, run, start
        if not cross.any():
            return []
        m, li = np.nonzero(cross)
        return self._count_crossings(rows[m], li, s[m, li] == 0, start[m, li])

    def _count_crossings(self, rows: np.ndarray, li: np.ndarray, is_in: np.ndarray, frames: np.ndarray
                         ) -> list[dict]:
        """Count crossings of identity ``rows`` over lines ``li`` (``is_in``: now on the left-hand side, come from
        the right), made at ``frames``: totals, distinct people per direction, and the events."""
        T = self._table
        np.add.at(self.line_in, li[is_in], 1)
        np.add.at(self.line_out, li[~is_in], 1)
        bit = np.where(is_in, 1, 2).astype(np.uint8)
        before = T["crossed"][rows, li]
        first_time = (before & bit) == 0
        np.add.at(self.people_in, li[is_in & first_time], 1)
        np.add.at(self.people_out, li[~is_in & first_time], 1)
        T["crossed"][rows, li] = before | bit
        return [{"frame": int(f), "id": int(T.ids[r]), "event": "line_cross", "name": self.lines[j].name,
                 "direction": "in" if d else "out"} for f, r, j, d in zip(frames, rows, li, is_in)]

    def _crossed_on_leaving(self, gone: np.ndarray) -> list[dict]:
        """Identities leaving the view on the other side of a line than their confirmed one count as crossing it:
        those with clear observations there not yet confirmed (they walked across and out, or were hidden right
        after), and those leaving through a side border that lies on the other side (they walked across while
        their feet were hidden): nothing can contradict them any more."""
        T = self._table
        side, run = T["side"][gone], T["run"][gone]
        final = np.where(run > 0, 1 - side, -1).astype(np.int8)
        box = T["box"][gone]
        point = self._side_border_point(box)
        out = ~np.isnan(point[:, 0])
        if out.any():
            bs, bvalid, _ = line_sides(point[out], self.lines, self.config.line_margin * (box[out, 3] - box[out, 1]))
            f = final[out]
            f[(f < 0) & bvalid] = bs[(f < 0) & bvalid]
            final[out] = f
        r, li = np.nonzero((side >= 0) & (final >= 0) & (final != side))
        if not len(r):
            return []
        rows = gone[r]
        at = np.where(run[r, li] > 0, T["run_start"][rows, li], T["last_seen"][rows])
        T["side"][rows, li] = final[r, li]
        return self._count_crossings(rows, li, final[r, li] == 0, at)

    def _update_zones(self, rows, ids, tracks, seen, frame) -> list[dict]:
        import supervision as sv

        T, k = self._table, self.config.zone_confirm_frames
        if len(tracks):
            det = sv.Detections(xyxy=tracks[:, :4].astype(np.float32))
            obs = np.stack([p.trigger(det) for p in self._polygons], axis=1)
        else:
            obs = np.zeros((0, len(self.zones)), bool)
        inside, run, start = T["inside"][rows], T["zrun"][rows], T["zrun_start"][rows]
        flip = _confirm(inside, obs, np.broadcast_to(seen[:, None], obs.shape), run, start, frame, k)
        T["inside"][rows], T["zrun"][rows], T["zrun_start"][rows] = inside, run, start
        if not flip.any():
            return []
        events = []
        m, zi = np.nonzero(flip)
        for mm, z in zip(m, zi):  # sparse: only the confirmed changes of this frame
            r, pid, f0 = rows[mm], int(ids[mm]), int(start[mm, z])
            if obs[mm, z]:
                T["zenter"][r, z] = f0
                self.visits[z] += 1
                if not T["visited"][r, z]:
                    T["visited"][r, z] = True
                    self.visitors[z] += 1
                events.append({"frame": f0, "id": pid, "event": "zone_enter", "name": self.zones[z].name})
            else:
                events.append(self._zone_exit(r, pid, z, f0 - 1))
        return events

    def _zone_exit(self, row: int, pid: int, z: int, last_inside: int) -> dict:
        dwell = (last_inside - int(self._table["zenter"][row, z]) + 1) / self.fps
        self.dwell_total[z] += dwell
        return {"frame": int(last_inside), "id": pid, "event": "zone_exit", "name": self.zones[z].name,
                "dwell_s": round(dwell, 3)}

    def _expire(self, seen_before_or_at: int) -> list[dict]:
        """Exit every identity in view whose last frame seen is <= ``seen_before_or_at``."""
        T = self._table
        gone = np.nonzero(T["in_view"] & (T["last_seen"] <= seen_before_or_at))[0]
        if len(gone) == 0:
            return []
        gone = gone[np.argsort(T["last_seen"][gone], kind="stable")]
        events = []
        for r in gone:  # sparse: identities leaving the view at this frame
            pid, last = int(T.ids[r]), int(T["last_seen"][r])
            for z in np.nonzero(T["inside"][r])[0]:  # clear observations outside since: the visit ended before
                end = int(T["zrun_start"][r, z]) - 1 if T["zrun"][r, z] > 0 else last
                events.append(self._zone_exit(r, pid, int(z), end))
            events.append({"frame": last, "id": pid, "event": "exit"})
        T["in_view"][gone] = False
        if self.zones:
            T["inside"][gone] = False
            T["zrun"][gone] = 0
        if self.lines:
            events += self._crossed_on_leaving(gone)
            T["run"][gone] = 0  # an excursion not yet confirmed is dropped; the confirmed side is kept ...
            out = gone[T["at_border"][gone]]  # ... unless it left the view: its path out of view is unknown
            T["side"][out] = -1
        self.exits += len(gone)
        return events

    def _evict(self) -> None:
        T, cap = self._table, self.config.max_identities
        if len(T) <= cap:
            return
        out = np.nonzero(~T["in_view"])[0]
        n_drop = min(len(out), len(T) - int(cap * 0.9))
        if n_drop > 0:
            T.remove(out[np.argsort(T["last_seen"][out], kind="stable")[:n_drop]])

    # ................................................................................................ end
    def close(self) -> list[dict]:
        """End of the stream: every identity still in view exits (zone visits close). Idempotent."""
        if self._closed:
            return []
        self._closed = True
        return self._expire(self.frame)

    @property
    def in_view(self) -> int:
        return int(self._table["in_view"].sum())

    def totals(self) -> dict:
        """Counts of people and dwell times so far (see the module docstring)."""
        inside_now = self._table["inside"].sum(axis=0) if len(self._table) else np.zeros(len(self.zones), int)
        return {
            "frames": self.frame, "people": self.people, "entries": self.entries, "exits": self.exits,
            "reentries": self.reentries, "in_view": self.in_view,
            "lines": {ln.name: {"in": int(self.line_in[i]), "out": int(self.line_out[i]),
                                "people_in": int(self.people_in[i]), "people_out": int(self.people_out[i])}
                      for i, ln in enumerate(self.lines)},
            "zones": {z.name: {"visitors": int(self.visitors[i]), "visits": int(self.visits[i]),
                               "inside_now": int(inside_now[i]),
                               "total_dwell_s": round(float(self.dwell_total[i]), 3),
                               "mean_dwell_s": round(float(self.dwell_total[i] / self.visitors[i]), 3)
                               if self.visitors[i] else 0.0}
                      for i, z in enumerate(self.zones)},
        }


def _frame_size(size) -> tuple[float, float] | None:
    if size is None:
        return None
    try:
        w, h = (float(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"events: frame_size must be (width, height) in pixels, got {size!r}") from None
    if not (w > 0 and h > 0):
        raise ValueError(f"events: frame_size must be (width, height) in pixels, got {size!r}")
    return w, h


def _confirm(state: np.ndarray, obs: np.ndarray, seen: np.ndarray, run: np.ndarray, start: np.ndarray, frame: int,
             k: int) -> np.ndarray:
    """Debounce, in place: where ``seen``, an observation ``obs`` that differs from ``state`` extends a run (started
    at ``start``) and one that agrees ends it; after ``k`` differing observations in a row the state takes the new
    value. Returns where it changed this frame."""
    diff = seen & (obs != state)
    run[seen & (obs == state)] = 0
    start[diff & (run == 0)] = frame
    run[diff] += 1
    flip = diff & (run >= k)
    state[flip] = obs[flip]
    run[flip] = 0
    return flip
