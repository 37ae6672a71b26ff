"""The multi-camera linker: global IDs never shared by tracks seen together, renames followed, tables bounded."""
import numpy as np

from trackreid.tracking.global_ids import GlobalIdentities, LinkConfig


def test_linker_tables_stay_bounded_over_10k_frames():
    """One camera, 3 people in view, a new track every 8 frames, for 10,000 frames (1,250 identities, the bank full
    after 800 frames): the per-track tables hold only the tracks of the last frames, the identity tables at most
    bank_size entries (sizes, not times; the 200k-frame soak is benchmarks/soak.py)."""
    rng = np.random.default_rng(0)
    cfg = LinkConfig(bank_size=100, settle=30)
    linker = GlobalIdentities(["cam1"], cfg)
    every, stay, dim = 8, 24, 32
    sizes = {}
    for f in range(1, 10_001):
        ids = np.arange(max(1, (f - stay) // every + 1), f // every + 1, dtype=np.int64)
        if len(ids) == 0:
            continue
        feats = rng.normal(size=(len(ids), dim)).astype(np.float32)
        feats /= np.linalg.norm(feats, axis=1, keepdims=True)
        tracks = np.zeros((len(ids), 8))
        tracks[:, :4] = [0, 0, 40, 100]
        tracks[:, 4] = ids
        linker.link(0, f, tracks, feats, np.ones(len(ids), bool))
        if f in (2_000, 10_000):
            sizes[f] = linker.table_sizes()
    horizon = linker.horizon
    for f, s in sizes.items():
        assert s["sum"] <= (horizon + stay) / every + 2 and s["last"] == s["sum"] and s["age"] == s["sum"], (f, s)
        assert s["map"] <= cfg.bank_size and s["gsum"] <= cfg.bank_size and s["bank"] <= cfg.bank_size, (f, s)
    assert linker.num_identities > 10 * cfg.bank_size            # identities still counted once forgotten


def test_a_track_back_after_its_tables_were_forgotten_keeps_its_global_id():
    """A camera's identity memory can bring a local ID back minutes later: it keeps its global ID."""
    linker = GlobalIdentities(["cam1"], LinkConfig(settle=10))
    f = np.ones((1, 4), np.float32) / 2
    t = np.array([[0, 0, 40, 100, 7, 0.9, 0, 0]], np.float64)
    g = [int(linker.link(0, k, t, f, np.ones(1, bool))[0]) for k in range(1, 20)]
    other = np.array([[0, 0, 40, 100, 8, 0.9, 0, 0]], np.float64)
    for k in range(20, 200):                                     # someone else; track 7 is long gone
        linker.link(0, k, other, -f, np.ones(1, bool))
    assert linker.table_sizes()["last"] == 1
    back = int(linker.link(0, 200, t, f, np.ones(1, bool))[0])
    assert back == g[0] and linker.state(0, [7])[1].all()


def test_a_global_id_is_never_given_to_two_tracks_seen_together_in_one_camera():
    from trackreid.tracking.global_ids import GlobalIdentities

    cfg = LinkConfig(min_age=1, settle=50, margin=0.05)
    L = GlobalIdentities(["A", "B"], cfg)
    e = np.eye(4, dtype=np.float32)
    box = lambda i: np.array([[0, 0, 10, 10, i, 1, 0, 0]], np.float64)
    two = lambda i, j: np.array([[0, 0, 10, 10, i, 1, 0, 0], [20, 0, 30, 10, j, 1, 0, 0]], np.float64)
    ok = np.ones(1, bool)
    g1 = L.link(1, 1, box(1), e[:1], ok)[0]                   # camera B: a person who looks like e0
    # camera A, one frame: track 5 looks like that person and takes their global ID; track 6 looks like e1
    gA = L.link(0, 2, two(5, 6), np.stack([e[0], e[1]]), np.ones(2, bool))
    assert gA[0] == g1 and gA[1] != g1
    for f in range(3, 6):                                     # 5 leaves camera A's tracker; 6 goes on, now like e0
        gA6 = L.link(0, f, box(6), e[:1], ok, held=np.array([6]))[0]
    assert gA6 != g1  # 5 and 6 were seen in the same frame: never one identity, whatever they look like
    assert L.state(0, [5, 6])[0].tolist() == [g1, gA6]


def test_rows_of_a_young_track_follow_its_switch_to_a_remembered_id():
    """A camera's tracker switches young track 7 to remembered local ID 3 (its identity memory): rows held back
    under 7 get 3's global identity, and 7's provisional identity leaves the bank."""
    from trackreid.tracking.global_ids import GlobalIdentities

    L = GlobalIdentities(["A"], LinkConfig(min_age=5, settle=50))
    e = np.eye(4, dtype=np.float32)
    box = lambda i: np.array([[0, 0, 10, 10, i, 1, 0, 0]], np.float64)
    ok = np.ones(1, bool)
    g3 = L.link(0, 1, box(3), e[:1], ok)[0]
    for f in range(2, 60):                                    # 3 is followed past settle: final
        L.link(0, f, box(3), e[:1], ok)
    g7 = L.link(0, 80, box(7), e[1:2], ok)[0]                 # a young track with a provisional identity
    assert g7 != g3 and L.state(0, [7])[0][0] == g7
    L.link(0, 81, box(3), e[:1], ok, held=np.array([3]), renamed={7: 3})
    gids, final = L.state(0, [7, 3])
    assert gids.tolist() == [g3, g3] and final.all()
    assert g7 not in L.bank.search(e[1:2], np.zeros(1)).ids.tolist()


def test_the_bank_and_the_maps_survive_a_restart_through_arrays():
    """to_arrays / from_arrays: a restarted linker keeps each camera's local-to-global map (cameras matched by
    name), the bank and the numbering, so a local ID a camera's memory brings back keeps its global ID."""
    rng = np.random.default_rng(1)
    feats = rng.normal(size=(2, 16)).astype(np.float32)
    feats /= np.linalg.norm(feats, axis=1, keepdims=True)
    a = GlobalIdentities(["door", "hall"], LinkConfig(settle=5))
    t = np.array([[0, 0, 40, 100, 3, 0.9, 0, 0], [60, 0, 100, 100, 4, 0.9, 0, 0]], np.float64)
    for k in range(1, 12):
        g_door = a.link(0, k, t, feats, np.ones(2, bool))
    b = GlobalIdentities(["hall", "door", "yard"], LinkConfig(settle=5))
    b.from_arrays(a.to_arrays())
    assert b.state(1, [3, 4])[0].tolist() == g_door.tolist() and b.state(1, [3, 4])[1].all()
    assert len(b.bank) == len(a.bank) and b.num_identities == a.num_identities
    assert int(b.bank.allocate_ids(1)[0]) > max(g_door)          # fresh global IDs continue above the old ones
    back = b.link(1, 1, t[:1], feats[:1], np.ones(1, bool))      # the door camera's track 3 shows again
    assert back.tolist() == g_door[:1].tolist()


def test_the_linker_asks_for_fresh_views_of_tracks_it_is_still_linking():
    """With appearance on demand a settled lone walker is embedded only on refresh frames; once a linker is
    attached, its young (unlinked) track is embedded every ``appearance_every`` frames until its global ID is
    final, then no more."""
    from types import SimpleNamespace

    from trackreid import Tracker, TrackerConfig

    tracker = Tracker(TrackerConfig(embed_period=1000))
    cfg = LinkConfig(settle=40, appearance_every=3)
    linker = GlobalIdentities(["cam1"], cfg)
    run = SimpleNamespace(tracker=tracker, relabel=None, hold_rows=lambda *a, **k: None)
    linker.attach(0, run)
    code = np.ones((1, 16), np.float32) / 4.0
    marked = {}
    for f in range(1, 81):
        d = tracker.detections(np.array([[100 + 2 * f, 100, 140 + 2 * f, 200, 0.9, 0]], np.float32))
        marked[f] = bool(d.embed[0])
        out = tracker.step(d, embeddings=code if d.embed.any() else None)
        run.relabel(f, out)
    young = [f for f in range(6, 40) if marked[f]]
    assert young and all((f - 1) % cfg.appearance_every == 0 for f in young)   # asked after frames 6, 9, 12...
    assert not any(marked[f] for f in range(45, 81))                          # final: back to on demand
