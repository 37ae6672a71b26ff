"""Identity resolution: which ID a track carries, decided apart from which detection it gets.

The tracker (``tracking/tracker.py``) associates detections with tracks; this module decides identities:

- fresh IDs for newly confirmed tracks, unless a track's appearance distinctly matches someone remembered (the
  :class:`~trackreid.tracking.memory.IdentityMemory`) or a lost track anywhere in the frame (``reentries``);
- recall: a young track with a fresh ID asks again on each new good view during ``memory_recall_frames``, then
  switches to the remembered ID (``renamed``);
- the checks that keep a look-alike from taking someone's ID: the ratio test over every candidate, the column
  half of it with the people in view as rivals (:meth:`IdentityResolver._contested`), and whether the person could
  have walked from where they were last seen (:meth:`IdentityResolver._reachable`);
- merges (a lost track re-found by a new one takes over its state) and exemplar upkeep (each track's diverse set of
  good views, handed to the memory when the track is removed).

It works on the tracker's :class:`~trackreid.tracking.track.TrackStore` and uses only the memory's public methods.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from trackreid.tracking.calibration import AppearanceThresholds
from trackreid.tracking.config import TrackerConfig
from trackreid.tracking.kalman import xyxy_to_cxcywh
from trackreid.tracking.memory import (
    Identities,
    IdentityMemory,
    distinct_matches,
    exemplar_distance,
    update_exemplars,
)
from trackreid.tracking.track import CONFIRMED, TENTATIVE, TrackStore
from trackreid.types import l2_normalise

__all__ = ["Identified", "IdentityResolver", "RECALL_MIN_VIEWS"]

RECALL_MIN_VIEWS = 1
"""Good views a young track must have shown before it may still take a remembered ID."""


class Identified(NamedTuple):
    """What one :meth:`IdentityResolver.identify` call decided."""

    dest: np.ndarray              # (Q,) the track row that now carries each queried track's identity
    reentries: dict[int, int]     # IDs that came back -> frames since that identity was last seen
    renamed: dict[int, int]       # young tracks that switched to a remembered or lost ID: old ID -> new ID


class IdentityResolver:
    """Gives tracks their identities (fresh, remembered or re-found) and keeps their exemplar sets.

    ``memory`` may be an :class:`IdentityMemory` shared with other trackers (one bank for several cameras); by
    default the resolver owns one, which :meth:`reset` clears.
    """

    def __init__(self, config: TrackerConfig, tracks: TrackStore, memory: IdentityMemory | None = None):
        self.config = config
        self._own_memory = memory is None
        self.memory = memory if memory is not None else IdentityMemory(
            config.memory_size, config.memory_exemplars, config.memory_ttl)
        self.reset(tracks)

    def reset(self, tracks: TrackStore) -> None:
        """A new video: work on ``tracks``, number IDs from 1 again, forget an identity memory of its own."""
        self.tracks = tracks
        self.next_id = 1
        if self._own_memory:
            self.memory.clear()

    @property
    def active(self) -> bool:
        """Is identity memory in use: enabled, appearance weighted, and the embedding size known?"""
        cfg = self.config
        return cfg.memory and cfg.appearance_weight > 0 and self.tracks.dim > 0

    # ------------------------------------------------------------------ exemplars
    def offer_views(self, rows: np.ndarray, good: np.ndarray, e: np.ndarray, appearance_thresh: float
                    ) -> np.ndarray:
        """Offer the good views ``e`` of track ``rows`` to their exemplar sets; a view farther than
        ``appearance_thresh`` from every exemplar a track holds (someone else, after a swap) is refused. Returns the
        rows that gained an exemplar."""
        T = self.tracks
        count = T.ex_n[rows]
        sim = np.einsum("mkd,md->mk", T.ex[rows], e)
        sim = np.where(np.arange(sim.shape[1])[None, :] < count[:, None], sim, -np.inf)
        good = good & ((count == 0) | (1.0 - sim.max(axis=1, initial=-np.inf) <= appearance_thresh))
        r = rows[good]
        if not len(r):
            return r
        before, n_before = T.ex[r].copy(), T.ex_n[r].copy()
        T.ex[r], T.ex_n[r] = update_exemplars(T.ex[r], T.ex_n[r], e[good])
        # a new slot counts even if it repeats what a reused row held before
        return r[(T.ex_n[r] != n_before) | (T.ex[r] != before).any(axis=(1, 2))]

    def may_recall(self, rows: np.ndarray, frame: int) -> np.ndarray:
        """Which track ``rows`` are young enough, and have shown enough good views, to still take a remembered ID."""
        T = self.tracks
        return (T.recall_until[rows] >= frame) & (T.ex_n[rows] >= RECALL_MIN_VIEWS)

    # ------------------------------------------------------------------ identities
    def new_ids(self, k: int) -> np.ndarray:
        """``k`` fresh IDs, above every ID the memory holds."""
        ids = self.memory.allocate_ids(k, start=self.next_id)
        self.next_id = int(ids[-1]) + 1 if k else self.next_id
        return ids

    def identify(self, q: np.ndarray, fresh: bool, frame: int, thresholds: AppearanceThresholds | None = None
                 ) -> Identified:
        """Rows ``q`` take a remembered or lost identity on a distinct appearance match (``thresholds.memory`` and
        the memory margin times ``thresholds.scale``; default: ``TrackerConfig``'s values); otherwise, with
        ``fresh``
        (just confirmed), a fresh ID that stays open to recall for ``memory_recall_frames``. A re-found lost
        track's row then carries the identity (the row in ``q`` is to be dropped)."""
        T = self.tracks
        cfg = self.config
        dest = q.copy()
        ids = np.full(len(q), -1, np.int64) if fresh else T.track_id[q].copy()
        found = np.zeros(len(q), bool)
        reentries: dict[int, int] = {}
        renamed: dict[int, int] = {}
        if self.active:
            ask = np.flatnonzero(T.has_feat[q])
            if len(ask):
                found = self._recall(q, ask, ids, dest, frame, reentries,
                                     thresholds or AppearanceThresholds.configured(cfg))
        if not fresh and found.any():
            renamed.update(zip(T.track_id[q[found]].tolist(), ids[found].tolist()))
        if fresh:
            new = ~found
            ids[new] = self.new_ids(int(new.sum()))
            if self.active and cfg.memory_recall_frames:
                T.recall_until[q[new]] = frame + cfg.memory_recall_frames
        T.track_id[dest] = ids
        # an identity from the memory is settled; a lost track re-found keeps its own recall window
        T.recall_until[dest[found & (dest == q)]] = 0
        return Identified(dest, reentries, renamed)

    def _gallery_exemplars(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exemplars (M, K, D) and counts of track ``rows``; a track without a good view yet uses its feature."""
        T = self.tracks
        ex, count = T.ex[rows].copy(), T.ex_n[rows].copy()
        none = count == 0
        ex[none, 0] = T.feat[rows[none]]
        count[none] = 1
        return ex, count

    def _recall(self, q, ask, ids, dest, frame: int, reentries: dict, thr: AppearanceThresholds) -> np.ndarray:
        """Match rows ``q[ask]`` against remembered identities and the tracker's confirmed and lost tracks (one
        gallery; people in view compete in the ratio test but are never taken). Fills ``ids``, ``dest`` and
        ``reentries``; returns which rows of ``q`` found an identity."""
        cfg = self.config
        T = self.tracks
        n = T.n
        qr = q[ask]
        qf, qc = self._query_vectors(qr), T.cls[qr]
        held = np.flatnonzero((T.state[:n] != TENTATIVE) & (T.track_id[:n] >= 0) & T.has_feat[:n])
        held = held[~np.isin(held, qr)]
        g = self.memory.search(qf, qc, frame, skip_ids=T.track_id[held])
        d_trk = exemplar_distance(qf, *self._gallery_exemplars(held))
        d_trk = np.where(T.cls[held][None, :] == qc[:, None], d_trk, np.inf)
        seen = np.concatenate([g.last_seen, frame - T.lost_for[held]])
        eligible = seen[None, :] < T.born[qr][:, None]        # never someone seen while this track was
        eligible[:, len(g.ids):] &= self._reachable(qr, held)
        dist = np.concatenate([g.dist, d_trk], axis=1)
        margin = cfg.memory_margin * thr.scale
        qi, gj = distinct_matches(dist, thr.memory, margin, eligible)
        if len(qi):
            ok = ~self._contested(dist[qi, gj], gj, g, held, margin)
            qi, gj = qi[ok], gj[ok]
        found = np.zeros(len(q), bool)
        found[ask[qi]] = True
        if not len(qi):
            return found
        all_ids = np.concatenate([g.ids, T.track_id[held]])
        reentries.update(zip(all_ids[gj].tolist(), (frame - seen[gj]).tolist()))
        from_mem = gj < len(g.ids)
        if from_mem.any():
            r, mj = qr[qi[from_mem]], gj[from_mem]
            ids[ask[qi[from_mem]]] = g.ids[mj]
            views, counts = self.memory.views(g.rows[mj], T.ex.shape[1])   # the remembered views, then its own
            counts = np.minimum(counts, T.ex.shape[1])
            for i, row in enumerate(r.tolist()):                             # a handful per frame at most
                mine = T.ex[row, :T.ex_n[row]].copy()
                T.ex[row, :views.shape[1]], T.ex_n[row] = views[i], counts[i]
                if len(mine):
                    T.ex[row:row + 1], T.ex_n[row:row + 1] = update_exemplars(
                        T.ex[row:row + 1], T.ex_n[row:row + 1], mine[-1:])
            self.memory.remove(g.ids[mj])
        if (~from_mem).any():
            src, lost = qr[qi[~from_mem]], held[gj[~from_mem] - len(g.ids)]
            self._merge(src, lost)
            ids[ask[qi[~from_mem]]] = T.track_id[lost]
            dest[ask[qi[~from_mem]]] = lost
        return found

    def _query_vectors(self, rows: np.ndarray) -> np.ndarray:
        """(M, D) the mean of each track's good views (its feature while it has none), L2-normalised."""
        ex, count = self._gallery_exemplars(rows)
        v = np.where(np.arange(ex.shape[1])[None, :, None] < count[:, None, None], ex, 0.0).sum(axis=1)
        return l2_normalise(v)

    def _contested(self, d_pair: np.ndarray, gj: np.ndarray, g, held: np.ndarray, margin: float) -> np.ndarray:
        """For matched pairs (distance ``d_pair``, gallery column ``gj``): does a tracked person other than the
        column's own identity look as much like that identity as the query (within ``margin``)? The
        column half of the ratio test, with the people in view as competitors."""
        if not len(held):
            return np.zeros(len(gj), bool)
        T = self.tracks
        k = T.ex.shape[1]
        ex = np.zeros((len(gj), k, T.ex.shape[2]), np.float32)
        count = np.full(len(gj), k)
        mem = gj < len(g.ids)
        if mem.any():
            ex[mem], count[mem] = self.memory.views(g.rows[gj[mem]], k)
        if (~mem).any():
            ex[~mem], count[~mem] = self._gallery_exemplars(held[gj[~mem] - len(g.ids)])
        d = exemplar_distance(self._query_vectors(held), ex, count)            # (H, P)
        cls = np.concatenate([g.cls, T.cls[held]])[gj]
        d = np.where(T.cls[held][:, None] == cls[None, :], d, np.inf)           # rivals are of the same class
        own = np.zeros_like(d, bool)
        own[gj[~mem] - len(g.ids), np.flatnonzero(~mem)] = True                # a track is not its own rival
        d = np.where(own, np.inf, d)
        return d.min(axis=0) < d_pair + margin

    def _reachable(self, q: np.ndarray, held: np.ndarray) -> np.ndarray:
        """(Q, H): could the person of track ``held`` have walked to where track ``q`` is now since last seen?"""
        T = self.tracks
        cfg = self.config
        qc = T.mean[q, :4]
        hc = xyxy_to_cxcywh(T.box[held].astype(np.float64))
        dist = np.hypot(qc[:, None, 0] - hc[None, :, 0], qc[:, None, 1] - hc[None, :, 1])
        height = np.maximum(qc[:, None, 3], hc[None, :, 3])
        return dist <= (cfg.reid_gate_max + cfg.memory_speed * T.lost_for[held])[None, :] * height

    def _merge(self, src: np.ndarray, dst: np.ndarray) -> None:
        """Lost tracks ``dst`` take over the state of the new tracks ``src`` that re-found them."""
        T = self.tracks
        a = self.config.ema_alpha
        T.mean[dst], T.cov[dst] = T.mean[src], T.cov[src]
        T.state[dst] = CONFIRMED
        T.lost_for[dst] = 0
        T.hits[dst] += T.hits[src]
        T.score[dst], T.box[dst] = T.score[src], T.box[src]
        T.feat[dst] = l2_normalise(a * T.feat[dst] + (1.0 - a) * T.feat[src])
        T.state[src] = TENTATIVE

    # ------------------------------------------------------------------ the memory
    def identities(self, frame: int, rows: np.ndarray | None = None) -> Identities:
        """Identities of track ``rows`` (default: every confirmed or lost track with a good view) at ``frame``, in
        the form ``IdentityMemory.put`` takes."""
        T = self.tracks
        n = T.n
        if rows is None:
            rows = np.flatnonzero((T.state[:n] != TENTATIVE) & (T.track_id[:n] >= 0) & (T.ex_n[:n] > 0))
        return Identities(T.track_id[rows].copy(), T.ex[rows], T.cls[rows].copy(), T.box[rows].copy(),
                          frame - T.lost_for[rows].astype(np.int64), T.ex_n[rows].copy())

    def remember(self, rows: np.ndarray, frame: int) -> None:
        """Track ``rows`` are being removed: those with good views go into the memory (when it is in use)."""
        if self.active:
            rows = rows[self.tracks.ex_n[rows] > 0]
            self.memory.put(*self.identities(frame, rows))

    def save(self, path, frame: int) -> None:
        """Write the memory plus every identity still tracked (as if it left now) to ``path``."""
        also = self.identities(frame) if self.tracks.dim else None
        self.memory.save(path, now=frame, also=also, next_id=self.next_id)

    def to_arrays(self, frame: int) -> dict:
        """What :meth:`save` writes, as arrays (:meth:`IdentityMemory.to_arrays`)."""
        also = self.identities(frame) if self.tracks.dim else None
        return self.memory.to_arrays(now=frame, also=also, next_id=self.next_id)

    def load(self, path, frame: int) -> None:
        """Replace the memory with a file from :meth:`save`; fresh IDs continue above the remembered ones."""
        self.memory.load(path, now=frame, dim=self.tracks.dim or None)
        self._loaded()

    def from_arrays(self, arrays: dict, frame: int, where: str) -> None:
        """:meth:`load` from the arrays of :meth:`to_arrays` (``where`` names them in errors)."""
        self.memory.from_arrays(arrays, now=frame, dim=self.tracks.dim or None, where=where)
        self._loaded()

    def _loaded(self) -> None:
        if not self.tracks.dim and self.memory.dim:
            self.tracks.set_dim(int(self.memory.dim))
        self.next_id = max(self.next_id, self.memory.next_id)
