"""Identity memory: the people who left the view and what they looked like, so a returning person keeps an ID.

:class:`IdentityMemory` is a bounded store of identities, independent of any one tracker: each entry holds an ID, a
class, ``K`` appearance exemplars (slot 0 the track's smoothed feature, the others a diverse set of confident,
unoccluded views), their mean, the last box and the frame it was last seen (columns of a
:class:`~trackreid.tracking.store.ColumnStore`). ``put`` inserts or replaces entries by ID, ``search`` returns
cosine distances from query embeddings to the candidate identities, :func:`distinct_matches` applies the matching
rule to them, and ``save``/``load`` keep the store across restarts (``.npz``, no pickle).
Several trackers may share one store (a multi-camera identity bank): IDs come from ``allocate_ids`` so they never
collide, and a tracker leaves the IDs it holds itself out of ``search`` (``skip_ids``) and lets the people in its
view compete in the ratio test without ever being taken (``eligible``), so that two tracks seen at the same time in
one camera are never joined.

The matching rule (:func:`distinct_matches`): a query takes an identity only when it is the mutual best pair, its
distance is at most ``thresh``, and it beats the runner-up of its row and of its column by at least ``margin`` (a
two-way ratio test). Look-alikes and features that do not tell people apart (an untrained network) thus give no
match.

An identity's distance to a query is the cosine distance to the mean of its exemplars: because the exemplars are
chosen for diversity, the mean weighs every view seen (front, side, near, far) alike instead of the most frequent
one, and it is steadier than the nearest single exemplar, which lets look-alikes through.

Search cost: a search runs in the frame loop, so it must stay cheap on any CPU with a full store, whatever the number
of queries. Each identity's L2-normalised mean is kept with its 64-d random projection (``sketch``), updated by
``put`` and ``observe``, so a search reads one row per candidate, not K exemplars. Up to ``EXACT_IDS`` identities
every mean is scored. Above that, one product of all the frame's queries with every sketch picks each query's
``SHORTLIST`` best, and the union of these is scored exactly against every query (the matching rule compares a
candidate's distance to all queries). The best are found without partitioning each query's row of scores: a
threshold taken over the maxima of groups of rows passes a few more than needed, and only those are sorted.
Products run in blocks on the calling thread (``_BLOCK_MACS``). ``benchmarks/memory_speed.py`` measures the time
beside an exhaustive search and how often the two decide alike.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from trackreid.tracking.matching import distinct_pairs
from trackreid.tracking.store import ColumnStore, StoreAttr, rows_of
from trackreid.types import l2_normalise

EXACT_IDS = 256
"""Largest number of stored identities searched exhaustively; larger stores use the shortlist."""
SHORTLIST = 64
"""Candidate identities per query scored exactly when the store is searched through the shortlist."""
SKETCH_DIM = 64
"""Dimension of the random projection used for the shortlist."""
_BLOCK_MACS = 200_000
"""Products are cut into blocks of at most this many multiply-adds, which OpenBLAS runs on the calling thread:
waking its thread pool for a few queries costs tens of milliseconds on a busy CPU. A single row is doubled, as a
matrix-vector product may be threaded from a smaller size (9,216 multiply-adds in OpenBLAS's sources)."""
_GROUPS_PER_PICK = 4
"""The shortlist's threshold is taken over this many groups of rows per candidate picked (see ``_shortlist``)."""
MIN_EXEMPLAR_GAP = 0.02
"""A new exemplar closer than this (cosine distance) to one already kept adds nothing and is skipped."""
FILE_VERSION = 1


class Gallery(NamedTuple):
    """Candidates of one ``search``: ``dist[i, j]`` is the distance of query ``i`` to identity ``ids[j]`` (``inf``
    for another class); ``rows`` are the store rows, ``last_seen`` the frame each was last seen, ``cls`` its
    class."""

    ids: np.ndarray
    dist: np.ndarray
    last_seen: np.ndarray
    rows: np.ndarray
    cls: np.ndarray


class Identities(NamedTuple):
    """Identities as ``put`` takes them: ``ids`` (M,), ``exemplars`` (M, K, D), ``cls`` (M,), ``boxes`` (M, 4)
    xyxy, ``last_seen`` (M,) frames, ``counts`` (M,) valid exemplar slots (None: all)."""

    ids: np.ndarray
    exemplars: np.ndarray
    cls: np.ndarray
    boxes: np.ndarray
    last_seen: np.ndarray
    counts: np.ndarray | None = None


def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b.T`` for a few rows ``a`` (Q, D) against many ``b`` (N, D), single-threaded in blocks (a single row on
    either side is doubled: as a matrix-vector product OpenBLAS would use its threads, see ``_BLOCK_MACS``)."""
    if len(a) == 1 < len(b):
        return similarity(np.concatenate([a, a]), b)[:1]
    if len(b) == 1 < len(a):
        return similarity(a, np.concatenate([b, b]))[:, :1]
    out = np.empty((len(a), len(b)), np.result_type(a, b))
    step = max(1, _BLOCK_MACS // max(1, len(a) * a.shape[1]))
    for i in range(0, len(b), step):
        np.matmul(a, b[i:i + step].T, out=out[:, i:i + step])
    return out


def exemplar_mean(ex: np.ndarray, count: np.ndarray | None = None) -> np.ndarray:
    """(M, D) L2-normalised mean of each identity's exemplars ``ex`` (M, K, D); slots at or beyond ``count``
    (M,) are ignored."""
    if count is not None:
        ex = np.where(np.arange(ex.shape[1])[None, :, None] < count[:, None, None], ex, 0.0)
    v = ex.sum(axis=1)
    return l2_normalise(v).astype(np.float32)


def exemplar_distance(q: np.ndarray, ex: np.ndarray, count: np.ndarray | None = None) -> np.ndarray:
    """Cosine distance (Q, M) from queries ``q`` (Q, D) to each identity's exemplar mean (``ex`` (M, K, D),
    ``count`` (M,) valid slots)."""
    if len(q) == 0 or len(ex) == 0:
        return np.full((len(q), len(ex)), np.inf)
    return 1.0 - similarity(q, exemplar_mean(ex, count))


def distinct_matches(dist: np.ndarray, thresh: float, margin: float, eligible: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Query rows and gallery columns that match under the identity rule: mutual best, distance <= ``thresh`` and
    a ``margin`` over the runner-up of both row and column. Pairs where ``eligible`` ((G,) per column or (Q, G))
    is False compete in the ratio test (e.g. people live in the frame) but are never returned."""
    ok = distinct_pairs(dist, margin) & (dist <= thresh)
    if eligible is not None:
        ok &= eligible if eligible.ndim == 2 else eligible[None, :]
    return np.nonzero(ok)


def update_exemplars(ex: np.ndarray, count: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Offer one new embedding ``e`` (M, D) to each of M exemplar sets ``ex`` (M, E, D) holding ``count`` (M,)
    valid rows; returns the updated sets and counts. A set that is not full takes the embedding unless it nearly
    repeats one it holds; a full set swaps it for one exemplar of its closest pair when that makes the smallest
    pairwise distance larger (greedy max-min diversity, so the set spans different views)."""
    m, cap = ex.shape[:2]
    if m == 0:
        return ex, count
    slot = np.arange(cap)
    valid = slot[None, :] < count[:, None]
    d_new = np.where(valid, 1.0 - np.einsum("med,md->me", ex, e), np.inf)          # (M, E)
    nearest = d_new.min(axis=1)
    ex, count = ex.copy(), count.copy()
    grow = (count < cap) & (nearest >= MIN_EXEMPLAR_GAP)
    if grow.any():
        r = np.flatnonzero(grow)
        ex[r, count[r]] = e[r]
        count[r] += 1
    full = np.flatnonzero((count == cap) & ~grow & (cap > 1))
    if len(full):
        x = ex[full]
        g = 1.0 - np.einsum("med,mfd->mef", x, x)
        g[:, slot, slot] = np.inf
        nn = g.min(axis=2)                                   # each exemplar's nearest neighbour in its set
        worst = nn.argmin(axis=1)                            # one of the closest pair
        cur = nn.min(axis=1)
        drop = slot[None, :] == worst[:, None]
        g_rest = np.where(drop[:, :, None] | drop[:, None, :], np.inf, g).min(axis=(1, 2))
        d_rest = np.where(drop, np.inf, d_new[full]).min(axis=1)
        better = np.minimum(g_rest, d_rest) > cur
        if better.any():
            r = full[better]
            ex[r, worst[better]] = e[r]
    return ex, count


class IdentityMemory:
    """Bounded store of identities (see the module docstring); ``size`` entries at most, the least recently seen
    evicted first; with ``ttl`` > 0 an entry not seen for more than ``ttl`` frames is forgotten."""

    def __init__(self, size: int = 10_000, exemplars: int = 6, ttl: int = 0, dim: int | None = None):
        if int(size) < 1 or int(exemplars) < 1 or int(ttl) < 0:
            raise ValueError(f"IdentityMemory: size and exemplars must be >= 1 and ttl >= 0, got size={size}, "
                             f"exemplars={exemplars}, ttl={ttl}")
        self.size, self.k, self.ttl = int(size), int(exemplars), int(ttl)
        self.next_id = 1
        """Smallest ID not yet handed out by ``allocate_ids`` nor held in the store."""
        self.dim: int | None = None
        self._proj: np.ndarray | None = None
        self._store = self._new_store()
        if dim is not None:
            self._set_dim(int(dim))

    # ------------------------------------------------------------------ storage
    ids = StoreAttr("_store")
    cls = StoreAttr("_store")
    ex = StoreAttr("_store")
    count = StoreAttr("_store")
    box = StoreAttr("_store")
    last_seen = StoreAttr("_store")
    n = StoreAttr("_store")
    cap = StoreAttr("_store")

    def _new_store(self) -> ColumnStore:
        return ColumnStore({
            "ids": (np.int64, (), 0),
            "cls": (np.float32, (), 0.0),
            "ex": (np.float32, (self.k, 0), 0.0),
            "count": (np.int32, (), 0),           # valid exemplar slots
            "box": (np.float32, (4,), 0.0),
            "last_seen": (np.int64, (), 0),
            "mean": (np.float32, (0,), 0.0),             # L2-normalised exemplar mean (what ``search`` scores)
            "sketch": (np.float32, (SKETCH_DIM,), 0.0),  # ``mean`` projected by ``_proj`` (shortlist)
        }, min_capacity=64, max_capacity=self.size)

    def _set_dim(self, dim: int) -> None:
        if self.dim is not None and dim != self.dim:
            raise ValueError(f"identity memory: embeddings of dimension {dim} given, the memory holds {self.dim}-d "
                             "exemplars (from another ReID model?); use a memory of that model or clear it")
        if self.dim is None:
            self.dim = dim
            rng = np.random.default_rng(0)
            self._proj = np.linalg.qr(rng.standard_normal((dim, SKETCH_DIM)))[0].astype(np.float32)
            self._store.set_shape(ex=(self.k, dim), mean=(dim,), sketch=(self._proj.shape[1],))

    def __len__(self) -> int:
        return self.n

    def _sketch(self, v: np.ndarray) -> np.ndarray:
        """Random projections (M, S) of exemplar means ``v`` (M, D): a frame's few on the calling thread (see
        ``_BLOCK_MACS``), a file's many in one product."""
        return similarity(v, self._proj.T) if len(v) * v.shape[1] <= _BLOCK_MACS else v @ self._proj

    @property
    def nbytes(self) -> int:
        return self._store.nbytes()

    def clear(self) -> None:
        """Forget every identity (and the embedding size) and restart ID numbering at 1."""
        self.next_id = 1
        self.dim = None
        self._proj = None
        self._store = self._new_store()

    def allocate_ids(self, k: int, start: int = 1) -> np.ndarray:
        """Hand out ``k`` fresh IDs, never below ``start`` and never one the store holds or handed out before."""
        first = max(self.next_id, int(start))
        self.next_id = first + int(k)
        return np.arange(first, first + int(k), dtype=np.int64)

    def find(self, ids) -> np.ndarray:
        """Store rows of ``ids`` (-1 where absent)."""
        return rows_of(self._store["ids"], ids)

    def put(self, ids, exemplars, cls, boxes, last_seen, counts=None) -> None:
        """Insert or replace identities: ``ids`` (M,), ``exemplars`` (M, K', D) L2-normalised, ``cls`` (M,),
        ``boxes`` (M, 4) xyxy, ``last_seen`` (M,) frames, ``counts`` (M,) valid exemplar slots (default all).
        When full, the least recently seen entries make room."""
        ids = np.asarray(ids, np.int64).reshape(-1)
        m = len(ids)
        if m == 0:
            return
        ex = np.asarray(exemplars, np.float32)
        if ex.ndim != 3 or len(ex) != m:
            raise ValueError(f"identity memory: exemplars must be (M, K, D) with M={m}, got {ex.shape}")
        self._set_dim(ex.shape[2])
        counts = np.full(m, ex.shape[1]) if counts is None else np.asarray(counts).reshape(-1)
        counts = np.clip(counts, 1, min(self.k, ex.shape[1]))
        # a set with fewer than K views repeats them in turn: its mean stays that of its views, and the repeats
        # are the first slots a new view replaces (update_exemplars)
        slot = np.arange(self.k)[None, :] % counts[:, None]
        ex = np.take_along_axis(ex, slot[:, :, None], axis=1)
        if m > self.size:                                   # more than fit: keep the most recently seen
            last = np.argsort(np.asarray(last_seen), kind="stable")[-self.size:]
            ids, ex, counts = ids[last], ex[last], counts[last]
            cls, boxes, last_seen = np.asarray(cls)[last], np.asarray(boxes)[last], np.asarray(last_seen)[last]
            m = len(ids)
        self.remove(ids)
        free = self.size - self.n
        if m > free:                                        # evict the least recently seen
            old = np.argsort(self.last_seen[: self.n], kind="stable")[: m - free]
            keep = np.ones(self.n, bool)
            keep[old] = False
            self._store.keep(keep, stable=False)
        mean = exemplar_mean(ex)
        self._store.append(m, ids=ids, cls=np.asarray(cls, np.float32).reshape(-1), ex=ex, count=counts,
                           box=np.asarray(boxes, np.float32).reshape(m, 4),
                           last_seen=np.asarray(last_seen, np.int64).reshape(-1), mean=mean,
                           sketch=self._sketch(mean))
        self.next_id = max(self.next_id, int(ids.max()) + 1)

    def remove(self, ids) -> None:
        """Forget these IDs (absent ones are ignored)."""
        rows = self.find(ids)
        rows = rows[rows >= 0]
        if len(rows):
            keep = np.ones(self.n, bool)
            keep[rows] = False
            self._store.keep(keep, stable=False)

    def observe(self, ids, views, cls, boxes, frame: int, replace: bool = False) -> None:
        """Fold one new view per identity into the store: ``ids`` (M,), ``views`` (M, D) L2-normalised, ``cls``
        (M,), ``boxes`` (M, 4), seen at ``frame``. Known identities update their exemplar set in place (diversity
        rule of :func:`update_exemplars`; with ``replace``, the view becomes the identity's only exemplar, e.g. a
        running centroid), box and last-seen frame; new ones are added. For a bank fed by several trackers (one
        call per camera and frame with the tracks in view)."""
        ids = np.asarray(ids, np.int64).reshape(-1)
        views = np.asarray(views, np.float32).reshape(len(ids), -1)
        boxes = np.asarray(boxes, np.float32).reshape(len(ids), 4)
        cls = np.asarray(cls, np.float32).reshape(-1)
        rows = self.find(ids)
        new = rows < 0
        if new.any():
            self.put(ids[new], views[new][:, None, :], cls[new], boxes[new], np.full(int(new.sum()), frame))
        old = np.flatnonzero(~new)
        if len(old):
            r = rows[old]
            if replace:
                self.ex[r] = views[old][:, None, :]
                self.count[r] = 1
            else:
                self.ex[r], self.count[r] = update_exemplars(self.ex[r], self.count[r], views[old])
            self.box[r] = boxes[old]
            self.last_seen[r] = frame
            mean = exemplar_mean(self.ex[r])
            self._store.mean[r] = mean
            self._store.sketch[r] = self._sketch(mean)

    def expire(self, now: int) -> None:
        """Forget entries not seen for more than ``ttl`` frames (no-op when ``ttl`` is 0)."""
        if self.ttl and self.n:
            keep = now - self.last_seen[: self.n] <= self.ttl
            if not keep.all():
                self._store.keep(keep, stable=False)

    # ------------------------------------------------------------------ search
    def search(self, q: np.ndarray, cls: np.ndarray, now: int | None = None, skip_ids=None) -> Gallery:
        """Distances from L2-normalised queries ``q`` (Q, D) of classes ``cls`` (Q,) to the remembered identities
        (all of them, or a shortlist per query in a large store); ``inf`` for another class. ``skip_ids`` are left
        out (e.g. identities the caller also holds elsewhere)."""
        if now is not None:
            self.expire(now)
        q = np.asarray(q, np.float32)
        if self.n and q.shape[1] != self.dim:
            raise ValueError(f"identity memory: query embeddings are {q.shape[1]}-d, the memory holds {self.dim}-d")
        n = self.n
        skip = np.unique(np.asarray(skip_ids, np.int64)) if skip_ids is not None else np.empty(0, np.int64)
        if len(q) and n > EXACT_IDS + len(skip):            # more than EXACT_IDS are left whatever is skipped
            rows = self._shortlist(q, skip)
        else:
            rows = np.flatnonzero(~np.isin(self.ids[:n], skip)) if len(skip) else np.arange(n)
            if len(q) and len(rows) > EXACT_IDS:
                rows = self._shortlist(q, skip)
        if len(q) == 0 or len(rows) == 0:
            return Gallery(np.empty(0, np.int64), np.full((len(q), 0), np.inf), np.empty(0, np.int64),
                           np.empty(0, np.int64), np.empty(0, np.float32))
        dist = 1.0 - similarity(q, self._store.mean[rows])
        c = self.cls[rows]
        dist = np.where(c[None, :] == np.asarray(cls, np.float32).reshape(-1, 1), dist, np.inf)
        return Gallery(self.ids[rows], dist, self.last_seen[rows], rows, c)

    def _shortlist(self, q: np.ndarray, skip: np.ndarray) -> np.ndarray:
        """Sorted store rows of the union of each query's ``SHORTLIST`` best identities by sketch (IDs in ``skip``
        left out). One pass for all queries: the sketch scores of every row, then, per query, the ``need``-th
        largest of the maxima of ``need * _GROUPS_PER_PICK`` groups of rows: at least ``need`` scores reach it and
        few more do, so only those few are sorted."""
        n = self.n
        need = SHORTLIST + len(skip)                        # enough that SHORTLIST remain once ``skip`` is out
        if need >= n:
            return np.flatnonzero(~np.isin(self.ids[:n], skip)) if len(skip) else np.arange(n)
        qq = np.concatenate([q, q]) if len(q) == 1 else q  # two at least: matrix products only (see _BLOCK_MACS)
        qs = similarity(self._proj.T, qq)                   # (S, Q) the queries' sketches
        nq = qs.shape[1]
        groups = min(n, need * _GROUPS_PER_PICK)
        per = -(-n // groups)
        score = np.empty((per * groups, nq), np.float32)   # row i is in group i % groups; padding never picked
        score[n:] = -np.inf
        sketch = self._store.sketch
        step = max(1, _BLOCK_MACS // qs.size)
        for i in range(0, n, step):
            j = min(i + step, n)
            np.matmul(sketch[i:j], qs, out=score[i:j])
        if nq > len(q):
            nq = len(q)
            score = np.ascontiguousarray(score[:, :nq])
        wide = score.reshape(per, groups * nq)
        best = wide.max(axis=0).reshape(groups, nq)         # every group holds a row of the store
        floor = np.partition(best, groups - need, axis=0)[groups - need]
        hit = np.flatnonzero(wide >= np.tile(floor, groups))  # row * nq + query
        if len(skip):
            hit = hit[~np.isin(self.ids[hit // nq], skip)]
        r, j = np.divmod(hit, nq)
        order = np.lexsort((-score.ravel()[hit], j))        # by query, best first
        j = j[order]
        rank = np.arange(len(j)) - np.searchsorted(j, j)
        pick = np.zeros(n, bool)
        pick[r[order[rank < SHORTLIST]]] = True
        return np.flatnonzero(pick)

    def views(self, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The first ``k`` exemplars (R, k, D) of store ``rows`` (from :meth:`search`'s ``Gallery.rows``) and how many
        each holds (R,)."""
        rows = np.asarray(rows, np.int64)
        return self.ex[rows, :k], self.count[rows].copy()

    # ------------------------------------------------------------------ files
    FILE_ARRAYS = ("version", "dim", "next_id", "ids", "cls", "exemplars", "counts", "boxes", "age")
    """The arrays :meth:`to_arrays` gives and :meth:`from_arrays` needs."""

    def save(self, path, now: int = 0, also: Identities | None = None, next_id: int = 1) -> Path:
        """Write the store, plus the identities ``also`` (e.g. tracks still in view), to ``path`` (``.npz``, no
        pickled objects), atomically; ages are kept relative to ``now`` so a TTL carries over to the process that
        loads it."""
        from trackreid.io.atomic import write_bytes_atomic

        buf = io.BytesIO()
        np.savez(buf, **self.to_arrays(now, also, next_id))
        return write_bytes_atomic(path, buf.getvalue())

    def to_arrays(self, now: int = 0, also: Identities | None = None, next_id: int = 1) -> dict[str, np.ndarray]:
        """The store (plus ``also``) as the plain arrays :meth:`save` writes (:attr:`FILE_ARRAYS`), e.g. to keep
        several memories in one file."""
        n = self.n
        ids, ex, cls, box, seen = self.ids[:n], self.ex[:n], self.cls[:n], self.box[:n], self.last_seen[:n]
        cnt = self.count[:n]
        if also is not None and len(also.ids):
            a_ex = np.asarray(also.exemplars, np.float32)
            if n and a_ex.shape[2] != self.dim:
                raise ValueError(f"identity memory: {a_ex.shape[2]}-d identities cannot join {self.dim}-d ones")
            k = self.k
            a_cnt = np.full(len(a_ex), a_ex.shape[1]) if also.counts is None else np.asarray(also.counts)
            a_cnt = np.clip(a_cnt, 1, k)
            a_ex = a_ex[:, :k] if a_ex.shape[1] >= k else np.concatenate(
                [a_ex, np.zeros((len(a_ex), k - a_ex.shape[1], a_ex.shape[2]), np.float32)], axis=1)
            mine = ~np.isin(ids, also.ids)
            ids = np.concatenate([ids[mine], np.asarray(also.ids, np.int64)])
            cnt = np.concatenate([cnt[mine], a_cnt])
            ex = np.concatenate([ex[mine].reshape(-1, k, a_ex.shape[2]), a_ex])
            cls = np.concatenate([cls[mine], np.asarray(also.cls, np.float32)])
            box = np.concatenate([box[mine], np.asarray(also.boxes, np.float32).reshape(-1, 4)])
            seen = np.concatenate([seen[mine], np.asarray(also.last_seen, np.int64)])
        dim = ex.shape[2] if len(ids) else (self.dim or 0)
        return {"version": np.int64(FILE_VERSION), "dim": np.int64(dim),
                "next_id": np.int64(max(self.next_id, int(next_id), int(ids.max()) + 1 if len(ids) else 1)),
                "ids": ids, "cls": cls, "exemplars": ex, "counts": cnt.astype(np.int32), "boxes": box,
                "age": np.int64(now) - seen}

    def load(self, path, now: int = 0, dim: int | None = None) -> None:
        """Replace the content with a file written by ``save``. A missing, corrupt or foreign file, or one whose
        embedding size differs from ``dim`` (or this memory's), raises ``ValueError``."""
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"identity memory file not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as z:
                a = {k: z[k] for k in self.FILE_ARRAYS if k in z.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
            raise ValueError(f"identity memory file {path} is not a trackreid memory (.npz written by "
                             f"save_memory): {exc}") from None
        self.from_arrays(a, now, dim, where=f"identity memory file {path}")

    def from_arrays(self, a: dict, now: int = 0, dim: int | None = None, where: str = "identity memory") -> None:
        """Replace the content with arrays from :meth:`to_arrays` (``where`` names them in errors: ``ValueError``
        for missing, inconsistent or corrupt arrays, or another embedding size than ``dim`` or this memory's)."""
        missing = [k for k in self.FILE_ARRAYS if k not in a]
        if missing:
            raise ValueError(f"{where} is not a trackreid memory (.npz written by save_memory): missing arrays "
                             f"{missing}")
        a = {k: np.asarray(a[k]) for k in self.FILE_ARRAYS}
        if int(a["version"]) != FILE_VERSION:
            raise ValueError(f"{where}: format version {int(a['version'])}, expected {FILE_VERSION}")
        m, file_dim = len(a["ids"]), int(a["dim"])
        ex = a["exemplars"]
        shapes_ok = (a["ids"].ndim == 1 and a["cls"].shape == (m,) and a["boxes"].shape == (m, 4)
                     and a["counts"].shape == (m,) and (m == 0 or 1 <= a["counts"].min())
                     and a["age"].shape == (m,) and ex.ndim == 3 and len(ex) == m and ex.shape[1] >= 1
                     and (m == 0 or ex.shape[2] == file_dim))
        if not shapes_ok or not all(np.issubdtype(np.asarray(a[k]).dtype, np.number) for k in self.FILE_ARRAYS):
            raise ValueError(f"{where} is corrupt: inconsistent array shapes or types")
        if not (np.isfinite(ex).all() and np.isfinite(a["boxes"]).all()):
            raise ValueError(f"{where} is corrupt: exemplars or boxes hold NaN or inf")
        want = dim if dim is not None else self.dim
        dim = int(a["dim"])
        if dim and want is not None and dim != want:
            raise ValueError(f"{where} holds {dim}-d embeddings, this tracker uses "
                             f"{want}-d ones (another ReID model?)")
        self.clear()
        if dim:
            self._set_dim(dim)
        if m:
            cnt = np.minimum(a["counts"].astype(np.int64), ex.shape[1])
            valid = np.arange(ex.shape[1])[None, :] < cnt[:, None]
            norms = np.linalg.norm(ex, axis=2)
            if (norms[valid] == 0).any():
                raise ValueError(f"{where} is corrupt: an all-zero exemplar")
            ex = np.where(valid[:, :, None], l2_normalise(ex), 0.0)
            self.put(a["ids"], ex, a["cls"], a["boxes"], np.int64(now) - a["age"].astype(np.int64), cnt)
        self.next_id = max(self.next_id, int(a["next_id"]))
