"""Identity memory: people who leave and come back keep their ID; look-alikes, other classes and people in view
never take one; the memory is bounded, expires, and survives a restart through a file."""
from __future__ import annotations

import numpy as np
import pytest

from trackreid import Tracker, TrackerConfig
from trackreid.tracking.memory import IdentityMemory, distinct_matches, update_exemplars


def box(cx, cy, w=40.0, h=100.0, score=0.9, cls=0.0):
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, score, cls]


def unit(x):
    x = np.asarray(x, np.float64)
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def codes(k, dim=64, seed=0):
    return unit(np.random.default_rng(seed).normal(size=(k, dim)))


def noisy(c, rng, noise=0.1):
    return unit(c + rng.normal(0, noise / np.sqrt(c.shape[1]), c.shape))


def ids_by_det(out):
    return {int(r[7]): int(r[4]) for r in out}


def walk(tracker, looks, frames, rng, x0=100.0, y0=200.0, cls=0.0, start=0):
    """People ``looks`` (K, D) walk side by side for ``frames`` frames; returns the IDs seen per person."""
    seen = [set() for _ in looks]
    for f in range(start, start + frames):
        dets = np.array([box(x0 + 3 * f, y0 + 250 * k, cls=cls) for k in range(len(looks))], np.float32)
        out = tracker.update(dets, embeddings=noisy(looks, rng))
        for d, i in ids_by_det(out).items():
            seen[d].add(i)
    return seen


def absent(tracker, frames, bystander=None, rng=None):
    for _ in range(frames):
        if bystander is None:
            tracker.update(np.empty((0, 6), np.float32))
        else:
            tracker.update(np.array([box(1500, 900)], np.float32), embeddings=noisy(bystander, rng))


# ---------------------------------------------------------------- re-entry
def test_returning_person_gets_the_old_id_after_removal():
    looks = codes(3, seed=1)
    rng = np.random.default_rng(0)
    t = Tracker(TrackerConfig(track_buffer=10))
    first = walk(t, looks, 30, rng)
    absent(t, 40)                                    # far beyond track_buffer: all three are removed
    assert t.tracks.n == 0 and t.memory_size == 3
    ids = set()
    reentries = {}
    for f in range(10):                              # they come back elsewhere, in another order, bigger
        dets = np.array([box(1200 - 5 * f, 600 + 300 * k, w=70, h=180) for k in range(3)], np.float32)
        out = t.update(dets, embeddings=noisy(looks[::-1], rng))
        reentries.update(t.last.reentries)
        ids |= {(d, i) for d, i in ids_by_det(out).items()}
    back = {d: {i for dd, i in ids if dd == d} for d in range(3)}
    assert [back[2 - k] for k in range(3)] == first  # each person got exactly their old ID back
    assert sorted(reentries) == sorted(i for s in first for i in s)
    assert all(40 < v < 45 for v in reentries.values())  # frames since each was last seen
    assert t.memory_size == 0                        # back in view: out of the memory


def test_memory_off_gives_new_ids():
    looks = codes(2, seed=1)
    rng = np.random.default_rng(0)
    t = Tracker(TrackerConfig(track_buffer=10, memory=False))
    first = walk(t, looks, 30, rng)
    absent(t, 40)
    again = walk(t, looks, 10, rng, x0=900)
    assert t.memory_size == 0 and not (set().union(*first) & set().union(*again))


def test_lost_track_refound_beyond_the_gate_at_another_scale():
    """The crosswalk case: hidden for 36 frames (inside track_buffer), back closer to the camera (twice the
    height, beyond size_ratio) and several box heights from where she was predicted: the lost track is re-found."""
    looks = codes(3, seed=4)
    rng = np.random.default_rng(0)

    def run(cfg):
        t = Tracker(cfg)
        seen = set()
        for f in range(30):
            dets = np.array([box(300 + 3 * f, 300), box(1500, 300), box(1500, 700)], np.float32)
            out = t.update(dets, embeddings=noisy(looks, rng))
            seen.add(ids_by_det(out)[0])
        for _ in range(36):
            t.update(np.array([box(1500, 300), box(1500, 700)], np.float32), embeddings=noisy(looks[1:], rng))
        reentered = {}
        for f in range(8):  # cut by the bottom edge: a wide, tall partial box 5 box heights from the prediction
            dets = np.array([box(900, 800, w=90, h=200), box(1500, 300), box(1500, 700)], np.float32)
            out = t.update(dets, embeddings=noisy(looks, rng))
            reentered.update(t.last.reentries)
            if 0 in ids_by_det(out):
                seen.add(ids_by_det(out)[0])
        return seen, reentered

    seen, reentered = run(TrackerConfig())
    assert seen == {1} and set(reentered) == {1} and reentered[1] == 38   # 36 hidden + 1 tentative + 1
    seen, reentered = run(TrackerConfig(memory=False))
    assert len(seen) == 2 and not reentered


def test_look_alikes_do_not_take_a_remembered_id():
    """Two remembered people look alike; when one of them returns, appearance cannot tell which: a fresh ID."""
    base = codes(1, seed=2)[0]
    other = codes(1, seed=3)[0]
    twins = unit(np.stack([base + 0.12 * other, base - 0.12 * other]))       # ~0.03 cosine distance apart
    rng = np.random.default_rng(0)
    t = Tracker(TrackerConfig(track_buffer=5))
    first = walk(t, twins, 20, rng, y0=200)
    absent(t, 20)
    assert t.memory_size == 2
    again = walk(t, twins[:1], 10, rng, x0=800)
    assert again[0] and not (again[0] & set().union(*first))
    assert t.memory_size == 2


def test_look_alike_of_someone_in_view_does_not_take_a_remembered_id():
    """A leaves for good while B, who looks like A, stays in view; a newcomer looking like A gets a fresh ID
    (B competes in the ratio test, though B's own ID can never be taken)."""
    base, other = codes(1, seed=2)[0], codes(1, seed=3)[0]
    twins = unit(np.stack([base + 0.12 * other, base - 0.12 * other]))
    rng = np.random.default_rng(1)
    t = Tracker(TrackerConfig(track_buffer=5))
    first = walk(t, twins, 20, rng)
    for f in range(20, 40):                                   # A is gone, B walks on
        t.update(np.array([box(100 + 3 * f, 450)], np.float32), embeddings=noisy(twins[1:], rng))
    assert t.memory_size == 1
    ids = set()
    for f in range(40, 50):                                   # the newcomer looks exactly like A
        dets = np.array([box(100 + 3 * f, 450), box(1500, 900)], np.float32)
        out = t.update(dets, embeddings=noisy(twins[[1, 0]], rng))
        ids |= {i for d, i in ids_by_det(out).items() if d == 1}
    assert ids and not (ids & set().union(*first))


def test_features_that_do_not_tell_people_apart_never_merge():
    """An untrained network: everyone's embedding is nearly the same. Nobody may take a remembered ID."""
    same = np.repeat(codes(1, seed=6), 4, axis=0)
    rng = np.random.default_rng(0)
    t = Tracker(TrackerConfig(track_buffer=5))
    first = walk(t, same[:2], 20, rng)
    absent(t, 15)
    again = walk(t, same[2:], 10, rng, x0=700)
    assert not (set().union(*again) & set().union(*first)) and not t.last.reentries


def test_live_identity_is_never_reused():
    """The same look twice in one frame: only one of them may be the remembered person."""
    look = codes(1, seed=7)
    rng = np.random.default_rng(0)
    t = Tracker(TrackerConfig(track_buffer=5))
    old = walk(t, look, 20, rng)[0]
    absent(t, 15)
    frames_ids = []
    for f in range(10):
        dets = np.array([box(300 + 3 * f, 300), box(1200, 700)], np.float32)
        out = t.update(dets, embeddings=noisy(np.repeat(look, 2, axis=0), rng))
        frames_ids.append(ids_by_det(out))
        assert len(set(ids_by_det(out).values())) == len(out)
    later = frames_ids[-1]
    assert len(later) == 2 and list(later.values()).count(next(iter(old))) <= 1
    # at the store level: an identity marked not eligible (live in view) is never returned, but still competes,
    # so its look-alike is not taken either
    mem = IdentityMemory(size=10, exemplars=2)
    alike = unit(look + 0.2 * codes(1, seed=70))
    mem.put([5, 6], np.stack([look, alike]).repeat(2, axis=1), [0, 0], [[0, 0, 10, 10]] * 2, [0, 0])
    g = mem.search(look, [0])
    assert sorted(g.ids.tolist()) == [5, 6] and g.dist.max() <= 0.3
    qi, gj = distinct_matches(g.dist, thresh=0.3, margin=0.0)
    assert qi.tolist() == [0] and g.ids[gj].tolist() == [5]
    qi, gj = distinct_matches(g.dist, thresh=0.3, margin=0.0, eligible=g.ids != 5)
    assert len(qi) == 0


def test_class_separation():
    look = codes(1, seed=8)
    rng = np.random.default_rng(0)
    t = Tracker(TrackerConfig(track_buffer=5))
    old = walk(t, look, 20, rng, cls=0.0)[0]
    absent(t, 15)
    again = walk(t, look, 10, rng, cls=2.0, x0=600)[0]     # same look, another class: a new identity
    assert again and not (again & old)
    back = walk(t, look, 10, rng, cls=0.0, x0=300, y0=700)[0]
    assert back == old
    mem = IdentityMemory(size=10, exemplars=2)
    mem.put([3], look[:, None].repeat(2, axis=1), [0], [[0, 0, 10, 10]], [0])
    assert mem.search(look, [0]).dist[0, 0] < 0.01
    g = mem.search(look, [2])
    assert g.ids.tolist() == [3] and np.isinf(g.dist).all()
    assert len(distinct_matches(g.dist, thresh=0.3, margin=0.1)[0]) == 0


# ---------------------------------------------------------------- bounds
def test_memory_is_bounded_least_recently_seen_evicted():
    mem = IdentityMemory(size=5, exemplars=3)
    looks = codes(12, dim=16, seed=9)
    for i in range(12):
        mem.put([i + 1], np.repeat(looks[i][None, None], 3, axis=1), [0], [[0, 0, 1, 1]], [100 + i])
        assert len(mem) <= 5
    assert sorted(mem.ids[: len(mem)].tolist()) == [8, 9, 10, 11, 12]
    assert mem.allocate_ids(2).tolist() == [13, 14]           # never an ID handed out before
    t = Tracker(TrackerConfig(track_buffer=2, memory_size=3))
    rng = np.random.default_rng(0)
    for k in range(6):                                        # six people pass one after the other
        walk(t, codes(1, seed=20 + k), 8, rng, x0=100 + 200 * k)
        absent(t, 4)
    assert t.memory_size == 3 and t.memory.ex.shape[0] <= 64


def test_ttl_forgets_old_identities():
    look = codes(1, seed=10)
    for ttl, gap, same in ((30, 20, True), (30, 60, False), (0, 300, True)):
        rng = np.random.default_rng(0)
        t = Tracker(TrackerConfig(track_buffer=5, memory_ttl=ttl))
        old = walk(t, look, 20, rng)[0]
        absent(t, gap)
        again = walk(t, look, 6, rng, x0=700)[0]
        assert (again == old) is same, (ttl, gap)


def test_exemplars_are_diverse_views():
    """Views of three poses, the first seen many times: the exemplar set keeps one of each pose."""
    poses = codes(3, dim=32, seed=11)
    rng = np.random.default_rng(0)
    ex = np.zeros((1, 3, 32), np.float32)
    n = np.zeros(1, np.int32)
    for p in [0] * 20 + [1] * 3 + [0] * 10 + [2] * 3:
        ex, n = update_exemplars(ex, n, noisy(poses[p:p + 1], rng, 0.05))
    assert n[0] == 3
    nearest_pose = np.argmax(ex[0] @ poses.T, axis=1)
    assert sorted(nearest_pose.tolist()) == [0, 1, 2]


# ---------------------------------------------------------------- files
def test_save_and_load_keep_ids_across_a_restart(tmp_path):
    looks = codes(4, seed=12)
    rng = np.random.default_rng(0)
    t = Tracker(TrackerConfig(track_buffer=5))
    gone = walk(t, looks[:2], 20, rng)                        # two leave for good ...
    absent(t, 10)
    stay = walk(t, looks[2:], 20, rng, start=30)              # ... two are in view when the app stops
    path = tmp_path / "ids.npz"
    t.save_memory(path)
    with np.load(path, allow_pickle=False) as z:
        assert len(z["ids"]) == 4
    t2 = Tracker(TrackerConfig(track_buffer=5))
    t2.load_memory(path)
    assert t2.memory_size == 4
    # frame 1 of the restarted app: all four back at once, plus a newcomer
    everyone = np.concatenate([looks, codes(1, seed=13)])
    dets = np.array([box(200 + 250 * k, 500) for k in range(5)], np.float32)
    out = t2.update(dets, embeddings=noisy(everyone, rng))
    got = ids_by_det(out)
    expect = [next(iter(s)) for s in gone + stay]
    assert [got[k] for k in range(4)] == expect
    assert got[4] > max(expect)                               # a fresh ID never collides with a remembered one
    assert set(t2.last.reentries) == set(expect)


def test_corrupt_and_foreign_memory_files_raise(tmp_path):
    t = Tracker()
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match="not a trackreid memory"):
        t.load_memory(bad)
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    with pytest.raises(ValueError, match="missing arrays"):
        t.load_memory(tmp_path / "other.npz")
    with pytest.raises(ValueError, match="not found"):
        t.load_memory(tmp_path / "absent.npz")
    # a file from another embedding size
    rng = np.random.default_rng(0)
    t64 = Tracker(TrackerConfig(track_buffer=2))
    walk(t64, codes(1, dim=64), 5, rng)
    t64.save_memory(tmp_path / "d64.npz")
    t32 = Tracker()
    t32.update(np.array([box(100, 100)], np.float32), embeddings=codes(1, dim=32))
    with pytest.raises(ValueError, match="64-d embeddings.*32-d"):
        t32.load_memory(tmp_path / "d64.npz")
    # a fresh tracker takes the file's size, and then refuses other embeddings clearly
    t_new = Tracker()
    t_new.load_memory(tmp_path / "d64.npz")
    with pytest.raises(ValueError, match="dimension 64"):
        t_new.update(np.array([box(100, 100)], np.float32), embeddings=codes(1, dim=32))
    # damaged content: NaN exemplars
    with np.load(tmp_path / "d64.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["exemplars"][:] = np.nan
    np.savez(tmp_path / "nan.npz", **arrays)
    with pytest.raises(ValueError, match="corrupt"):
        Tracker().load_memory(tmp_path / "nan.npz")


# ---------------------------------------------------------------- one rule for what gets embedded
def test_embed_rows_and_embed():
    t = Tracker()
    dets = np.array([box(100, 100), [300, 50, 300, 150, 0.9, 0], box(500, 100, score=0.3), box(700, 100)],
                    np.float32)
    assert t.embed_rows(dets).tolist() == [0, 3]
    calls = []

    def enc(frame, boxes):
        calls.append(np.array(boxes))
        return codes(len(boxes), dim=8)

    frame = np.zeros((200, 800, 3), np.uint8)
    d = t.detections(dets)
    emb = t.embed(frame, d, encoder=enc)
    assert emb.shape == (2, 8) and len(calls) == 1                           # exactly the rows it reads
    np.testing.assert_array_equal(calls[0], dets[[0, 3], :4])
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-6)
    out = t.update(d, frame, embeddings=emb)
    assert sorted(out[:, 7].astype(int).tolist()) == [0, 3]                  # det_index into the caller's array
    with pytest.raises(ValueError, match="4 rows for 2 detections"):
        t.update(d, frame, embeddings=np.ones((4, 8), np.float32))           # one row per marked detection
    assert t.embed(None, dets[[2]], encoder=enc) is None                     # nothing the tracker would read
    with pytest.raises(ValueError, match="no encoder"):
        t.embed(None, dets)


@pytest.mark.parametrize("overlap_px, kept", [(12.0, True), (28.0, False)])
def test_partly_covered_view_becomes_an_exemplar(overlap_px, kept):
    """A person about a quarter covered by someone in front still gives appearance exemplars (more views per
    visit); one covered more than half does not."""
    looks = codes(2, seed=5)
    rng = np.random.default_rng(0)
    t = Tracker(TrackerConfig())
    for f in range(6):
        x = 200.0 + 3 * f
        back = box(x, 200)                                              # x - 20 .. x + 20, y 150 .. 250
        front = box(x + 20 - overlap_px + 20, 210)                      # bottom edge lower: in front of it
        out = t.update(np.array([back, front], np.float32), embeddings=noisy(looks, rng))
    rows = t.tracks.track_id[: t.tracks.n] == ids_by_det(out)[0]
    assert rows.sum() == 1
    assert (t.tracks.ex_n[: t.tracks.n][rows][0] > 0) == kept


def test_observe_with_replace_keeps_one_running_view():
    """A bank of centroids (the multi-camera linker's use): each observation replaces the identity's exemplar."""
    mem = IdentityMemory(size=10, exemplars=1)
    a, b = np.eye(4, dtype=np.float32)[:2]
    mem.observe([7], a[None], [0], [[0, 0, 10, 20]], frame=1, replace=True)
    mem.observe([7], b[None], [0], [[5, 5, 15, 25]], frame=2, replace=True)
    r = mem.find([7])[0]
    np.testing.assert_allclose(mem.ex[r, 0], b)
    assert mem.count[r] == 1 and mem.last_seen[r] == 2 and len(mem) == 1
    for q, matched in ((b, [7]), (a, [])):
        g = mem.search(q[None], [0])
        assert g.ids[distinct_matches(g.dist, thresh=0.1, margin=0.0)[1]].tolist() == matched


def test_young_track_switches_to_its_remembered_id_and_earlier_rows_can_follow():
    """She returns through the left border: her first, cut-off views sit ~0.35 from her look, so she gets a fresh
    ID; her first whole view matches the memory and the young track switches. ``renamed`` and ``ids_now`` say so,
    so rows written under the fresh ID can be rewritten; an unrecognised newcomer's ID stays open until its recall
    window ends."""
    look, stranger, newcomer = codes(3, seed=5)
    rng = np.random.default_rng(0)
    t = Tracker(TrackerConfig(track_buffer=5, memory_recall_frames=20))
    (old,), _ = walk(t, np.stack([look, stranger]), 20, rng, y0=200)
    absent(t, 20)
    assert t.memory_size == 2 and t.id_delay == 20
    off = unit(look + 1.2 * codes(1, seed=6)[0])                # a cut-off view: cosine distance ~0.35
    seen, renamed = [], {}
    for f in range(12):
        x1 = 0.0 if f < 4 else 10.0 + 3 * f                     # touching the border, then whole
        dets = np.array([[x1, 400, x1 + 40, 500, 0.9, 0], box(1500, 800)], np.float32)
        e = np.stack([off if f < 4 else noisy(look[None], rng)[0], noisy(newcomer[None], rng)[0]])
        out = t.update(dets, embeddings=e)
        renamed.update(t.last.renamed)
        seen.append(ids_by_det(out).get(0))
    fresh = seen[1]
    assert fresh not in (None, old) and seen[-1] == old and renamed == {fresh: old}
    ids, final = t.ids_now([fresh, old, ids_by_det(out)[1]])
    assert ids.tolist() == [old, old, ids_by_det(out)[1]] and final.tolist() == [True, True, False]
    absent(t, 25)                                               # the newcomer's recall window has closed
    assert t.ids_now([ids_by_det(out)[1]])[1].all()
    assert t.ids_now([fresh])[0].tolist() == [old]              # the ID log still knows (crops are filed later)


# ---------------------------------------------------------------- search
def test_shortlist_search_finds_what_an_exhaustive_search_finds(monkeypatch):
    """Above ``EXACT_IDS`` identities the search scores a shortlist per query (one sketch pass over the store for
    all queries). On 3,000 identities it gives the exact distances and the decisions of an exhaustive search, for
    one query and for eight in one call, with skipped IDs and another class left out, also after ``observe``
    changed exemplars; a store of fewer than ``SHORTLIST`` identities above ``EXACT_IDS`` is scored whole."""
    from trackreid.tracking import memory

    rng = np.random.default_rng(0)
    n, k, dim = 3000, 4, 128
    looks = codes(n, dim=dim, seed=30)
    ids, cls = np.arange(1, n + 1), (np.arange(n) % 5 == 0).astype(np.float32)
    mem = IdentityMemory(size=n, exemplars=k)
    mem.put(ids, unit(looks[:, None] + rng.normal(0, 1 / np.sqrt(dim), (n, k, dim))), cls, np.zeros((n, 4)),
            np.zeros(n))
    mem.observe(ids[:300], noisy(looks[:300], rng, noise=1.0), cls[:300], np.zeros((300, 4)), frame=1)

    def search(q, c, skip, exact_ids):
        monkeypatch.setattr(memory, "EXACT_IDS", exact_ids)
        return mem.search(q, c, skip_ids=skip)

    def decisions(g):
        out = np.full(len(g.dist), -1)
        qi, gj = distinct_matches(g.dist, thresh=0.5, margin=0.05)
        out[qi] = g.ids[gj]
        return out

    found = 0
    for nq in (1, 8, 8):
        who = rng.choice(n, nq, replace=False)
        q, c = noisy(looks[who], rng, noise=1.0), cls[who]
        skip = np.concatenate([ids[who[-1:]], rng.choice(ids, 20)]) if nq > 1 else None
        g, e = search(q, c, skip, 16), search(q, c, skip, n + 1)
        assert len(g.ids) <= nq * memory.SHORTLIST < len(e.ids)
        assert skip is None or not np.isin(g.ids, skip).any()
        col = np.searchsorted(e.ids, g.ids)                       # e.ids: every identity left, in ID order here
        assert (e.ids[col] == g.ids).all()
        np.testing.assert_allclose(g.dist, e.dist[:, col], rtol=0, atol=1e-6)   # other product blocks: rounding
        own = np.where(np.isinf(g.dist), np.inf, memory.exemplar_distance(q, *mem.views(g.rows, k)))
        np.testing.assert_allclose(g.dist, own, rtol=0, atol=1e-6)              # the kept means are up to date
        back = np.ones(nq, bool) if skip is None else ~np.isin(ids[who], skip)  # own identity is a candidate
        np.testing.assert_array_equal(g.ids[g.dist.argmin(1)][back], e.ids[e.dist.argmin(1)][back])
        assert (decisions(g) == decisions(e)).all()
        found += int((decisions(g) == ids[who]).sum())
    assert found >= 10

    small = IdentityMemory(size=40, exemplars=1)
    small.put(ids[:40], looks[:40, None], np.zeros(40), np.zeros((40, 4)), np.zeros(40))
    monkeypatch.setattr(memory, "EXACT_IDS", 8)
    g = small.search(looks[:2], [0, 0], skip_ids=[3])
    assert sorted(g.ids.tolist()) == [i for i in range(1, 41) if i != 3]
