import numpy as np
import pytest

from trackreid.analytics import EventEngine, EventsConfig, parse_line, parse_zone

DOOR = parse_line("0,100,400,100:door")  # drawn left to right: walking up the image is "in"
TOP = parse_zone("0,0,400,0,400,100,0,100:top")  # everything above the door


def box(pid, y, x=100):
    """A track whose anchor (bottom centre) is at (x, y)."""
    return [x - 20, y - 60, x + 20, y, pid, 0.9, 0, 0]


def run(engine, frames):
    """frames: {frame_no: [rows]}; returns all events, including those of close()."""
    events = []
    for f in range(1, max(frames) + 1):
        events += engine.update(np.array(frames.get(f, []), dtype=float).reshape(-1, 8), f)
    return events + engine.close()


def kinds(events, kind):
    return [e for e in events if e["event"] == kind]


def test_direction_dwell_and_exit_at_end():
    eng = EventEngine([DOOR], [TOP], fps=10, config=EventsConfig(confirm_frames=2, zone_confirm_frames=2, exit_after=5))
    frames = {f: [box(1, 160 - 10 * f)] for f in range(1, 13)}  # walks up: y 150 -> 40, crosses at 100
    frames.update({f: [box(1, 40 + 10 * (f - 12)), box(2, 300)] for f in range(13, 25)})  # walks back down
    ev = run(eng, frames)
    cross = kinds(ev, "line_cross")
    assert [(e["id"], e["direction"], e["frame"]) for e in cross] == [(1, "in", 7), (1, "out", 19)]
    (ze,), (zx,) = kinds(ev, "zone_enter"), kinds(ev, "zone_exit")
    # the zone's border belongs to the zone: the anchor at y=100 (frames 6 and 18) is inside
    assert ze["frame"] == 6 and zx["frame"] == 18 and zx["dwell_s"] == pytest.approx(1.3)
    assert sorted((e["id"], e["frame"]) for e in kinds(ev, "exit")) == [(1, 24), (2, 24)]  # end of stream
    t = eng.totals()
    assert t["lines"]["door"] == {"in": 1, "out": 1, "people_in": 1, "people_out": 1}
    assert t["zones"]["top"]["visitors"] == 1 and t["zones"]["top"]["total_dwell_s"] == pytest.approx(1.3)
    assert t["people"] == 2 and t["entries"] == 2 and t["exits"] == 2 and t["in_view"] == 0


def test_flicker_at_the_line_counts_once():
    eng = EventEngine([DOOR], fps=30, config=EventsConfig(confirm_frames=3))
    ys = [130, 120, 110, 95, 105, 96, 104, 97, 103, 90, 85, 80, 70]  # jitters across the line, then goes in
    ev = run(eng, {f: [box(7, y)] for f, y in enumerate(ys, 1)})
    assert [(e["direction"], e["frame"]) for e in kinds(ev, "line_cross")] == [("in", 10)]


def test_reentry_counted_once_and_crossing_while_unseen():
    eng = EventEngine([DOOR], [TOP], fps=10, config=EventsConfig(confirm_frames=2, zone_confirm_frames=2,
                                                                 exit_after=3))
    frames = {f: [box(5, 150)] for f in range(1, 5)}  # below the line
    frames.update({f: [box(5, 60)] for f in range(15, 20)})  # gone 10 frames (exits), back above it: same id
    frames.update({f: [box(5, 62)] for f in range(30, 33)})  # gone again, back on the same side
    ev = run(eng, frames)
    enters = kinds(ev, "enter")
    assert [(e["frame"], e["reentry"]) for e in enters] == [(1, False), (15, True), (30, True)]
    assert [(e["direction"], e["frame"]) for e in kinds(ev, "line_cross")] == [("in", 15)]
    t = eng.totals()
    assert t["people"] == 1 and t["reentries"] == 2 and t["lines"]["door"]["in"] == 1
    assert t["zones"]["top"] == {"visitors": 1, "visits": 2, "inside_now": 0, "total_dwell_s": 0.8,
                                 "mean_dwell_s": 0.8}


def test_new_identity_after_a_gap_is_a_new_person_and_misses_the_crossing():
    """The motion-only failure the identity memory fixes: a fragment starts on the far side uncounted."""
    eng = EventEngine([DOOR], fps=10, config=EventsConfig(confirm_frames=2, exit_after=3))
    frames = {f: [box(5, 150)] for f in range(1, 5)}
    frames.update({f: [box(9, 60)] for f in range(15, 20)})
    ev = run(eng, frames)
    assert kinds(ev, "line_cross") == [] and eng.totals()["people"] == 2


def test_outside_the_line_extent_does_not_count():
    eng = EventEngine([parse_line("0,100,100,100:short")], fps=10, config=EventsConfig(confirm_frames=1))
    ev = run(eng, {f: [box(1, 160 - 20 * f, x=300)] for f in range(1, 6)})
    assert kinds(ev, "line_cross") == []


def test_state_is_bounded():
    eng = EventEngine([DOOR], fps=10, config=EventsConfig(exit_after=1, max_identities=50))
    for f in range(1, 400):
        eng.update(np.array([box(f, 150), box(f + 10_000, 60)], dtype=float), f)
    assert len(eng._table) <= 50 and eng.totals()["people"] == 2 * 399


def test_bad_input():
    with pytest.raises(ValueError, match="fps"):
        EventEngine([DOOR], fps=0)
    with pytest.raises(ValueError, match="confirm_frames"):
        EventsConfig(confirm_frames=0)
    eng = EventEngine([DOOR], fps=10)
    eng.update(np.zeros((0, 8)), 3)
    with pytest.raises(ValueError, match="must increase"):
        eng.update(np.zeros((0, 8)), 3)


def test_stepping_across_and_turning_back_counts_both_ways():
    """Defaults: someone who walks in across the door, turns after a few steps and walks back out crossed twice
    (the geometric truth); a zone entered for as long is not a visit yet (zones need more observations)."""
    eng = EventEngine([DOOR], [TOP], fps=30)
    ys = [140, 130, 120, 110, 85, 80, 75, 80, 120, 125, 130, 135]  # beyond the dead band 3 frames, then back
    ev = run(eng, {f: [box(4, y)] for f, y in enumerate(ys, 1)})
    assert [(e["direction"], e["frame"]) for e in kinds(ev, "line_cross")] == [("in", 5), ("out", 9)]
    assert kinds(ev, "zone_enter") == []


def test_jitter_along_the_line_is_not_a_crossing():
    """Someone walking along the line: the box's bottom jitters a few pixels either side of it."""
    eng = EventEngine([DOOR], fps=30, config=EventsConfig(confirm_frames=3, line_margin=0.1))
    rng = np.random.default_rng(0)
    frames = {1: [box(3, 140)], 2: [box(3, 130)]}  # starts clearly below, then walks along the line
    frames.update({f: [box(3, 102 + rng.uniform(-7, 7), x=20 + 3 * f)] for f in range(3, 120)})
    ev = run(eng, frames)
    assert kinds(ev, "line_cross") == []


def test_hidden_feet_give_no_observation():
    """A person behind another, feet hidden, has the occluder's top as bottom edge: not a side or zone change."""
    eng = EventEngine([DOOR], [TOP], fps=10, config=EventsConfig(confirm_frames=2))
    frames = {f: [box(1, 150)] for f in range(1, 4)}
    # frames 4-8: the lower half of person 1 is hidden by person 2 standing in front: its box, cut, ends at y=90
    frames.update({f: [[80, 60, 120, 90, 1, 0.9, 0, 0], [70, 60, 130, 170, 2, 0.9, 0, 1]] for f in range(4, 9)})
    ev = run(eng, frames)
    assert kinds(ev, "line_cross") == [] and kinds(ev, "zone_enter") == []
    # a box as tall as the person's clear ones still reaches the feet, in front of someone or not: observed
    eng = EventEngine([DOOR], [TOP], fps=10, config=EventsConfig(confirm_frames=2))
    frames.update({f: [[80, 30, 120, 90, 1, 0.9, 0, 0], [70, 60, 130, 170, 2, 0.9, 0, 1]] for f in range(4, 9)})
    assert [e["direction"] for e in kinds(run(eng, frames), "line_cross")] == ["in"]


def test_leaving_the_view_and_returning_on_the_other_side_is_not_a_crossing():
    """With the frame size known, a person who walks out of the view above the door and comes back below it
    did not cross the door in view: the side is forgotten; hidden in the view (not at its edge), it is kept."""
    cfg = EventsConfig(confirm_frames=2, exit_after=3)
    left_view = {f: [box(5, 60, x=30 - 5 * f)] for f in range(1, 6)}  # walks out through the left edge
    left_view.update({f: [box(5, 150, x=5 + 5 * (f - 20))] for f in range(20, 26)})  # back, below the door
    eng = EventEngine([DOOR], fps=10, config=cfg, frame_size=(400, 300))
    ev = run(eng, left_view)
    assert kinds(ev, "line_cross") == [] and eng.totals()["reentries"] == 1 and eng.totals()["people"] == 1
    hidden = {f: [box(5, 60, x=200)] for f in range(1, 6)}  # mid-image, hidden for 14 frames, back below
    hidden.update({f: [box(5, 150, x=200)] for f in range(20, 26)})
    eng = EventEngine([DOOR], fps=10, config=cfg, frame_size=(400, 300))
    assert [(e["direction"], e["frame"]) for e in kinds(run(eng, hidden), "line_cross")] == [("out", 20)]
    # without the frame size the side is kept across leaving the view (the engine cannot tell the edge)
    eng = EventEngine([DOOR], fps=10, config=cfg)
    assert [e["direction"] for e in kinds(run(eng, left_view), "line_cross")] == ["out"]
    with pytest.raises(ValueError, match="frame_size"):
        EventEngine([DOOR], fps=10, frame_size=(0, 300))


def test_an_occluder_missed_by_the_detector_still_hides():
    """Person 1 (below the door) walks behind person 2; its visible-part box ends above the door at y=90. Person 2
    is missed by the detector in some frames: its last box still hides person 1's feet there."""
    behind = [80, 60, 120, 90, 1, 0.9, 0, 0]  # cut by person 2: shorter than its clear boxes
    front = [70, 60, 130, 170, 2, 0.9, 0, 1]
    frames = {f: [box(1, 150), box(2, 250, x=300)] for f in range(1, 4)}
    frames.update({f: [behind] + ([front] if f in (4, 5, 8, 11) else []) for f in range(4, 13)})
    frames.update({f: [box(1, 150), box(2, 170, x=300)] for f in range(13, 16)})  # back in view, still below
    ev = run(EventEngine([DOOR], fps=10, config=EventsConfig(confirm_frames=2)), frames)
    assert kinds(ev, "line_cross") == []
    ev = run(EventEngine([DOOR], fps=10, config=EventsConfig(confirm_frames=2, occluder_frames=0)), frames)
    assert [e["direction"] for e in kinds(ev, "line_cross")] == ["in", "out"]  # what the memory prevents


def test_covered_at_the_side_is_still_observed():
    """Half of person 1 is behind person 2 walking beside it, a step nearer the camera, but its feet are in view:
    its crossing counts."""
    frames = {f: [box(1, 160 - 10 * f), box(2, 165 - 10 * f, x=125)] for f in range(1, 13)}  # y 150 -> 40
    ev = run(EventEngine([DOOR], fps=10, config=EventsConfig(confirm_frames=2)), frames)
    assert [(e["id"], e["direction"]) for e in kinds(ev, "line_cross")] == [(1, "in"), (2, "in")]


def test_one_jittered_box_does_not_set_the_start_side():
    """A new track's first box lands just past the dead band, the next ones stay on the line: no side is taken
    (a first side takes start_frames), so standing at the line counts nothing."""
    cfg = EventsConfig(confirm_frames=5, start_frames=3, line_margin=0.1)
    ys = [107, 102, 99, 97, 99, 101, 98, 100, 102, 99, 97]  # box height 60: the band is 94..106
    ev = run(EventEngine([DOOR], fps=30, config=cfg), {f: [box(4, y)] for f, y in enumerate(ys, 1)})
    assert kinds(ev, "line_cross") == []
    eng = EventEngine([DOOR], fps=30, config=cfg)
    ys = [120, 115, 110, 102, 99, 97, 95, 93, 90, 85, 80, 75, 70]  # three clear frames below: the crossing counts
    ev = run(eng, {f: [box(4, y)] for f, y in enumerate(ys, 1)})
    assert [(e["direction"], e["frame"]) for e in kinds(ev, "line_cross")] == [("in", 8)]


def test_a_crossing_after_a_single_clear_box_counts():
    """One clear box below the line (the person just stepped into view, or their feet were hidden), then clearly
    above it for confirm_frames: they walked across, from where they were first seen (the geometric truth)."""
    cfg = EventsConfig(confirm_frames=5, start_frames=3, line_margin=0.1)
    ys = [107, 102, 99, 97, 95, 93, 90, 85, 80, 75, 70]
    ev = run(EventEngine([DOOR], fps=30, config=cfg), {f: [box(4, y)] for f, y in enumerate(ys, 1)})
    assert [(e["direction"], e["frame"]) for e in kinds(ev, "line_cross")] == [("in", 6)]


def test_people_walking_in_and_out_through_a_side_border_cross_a_line_next_to_it():
    """A line 40 px from the left edge: a person walks in from the left border and on (in), later walks back out
    through the left border with their feet hidden by someone in front the whole way (out, counted on leaving)."""
    edge = parse_line("40,0,40,400:edge")
    eng = EventEngine([edge], fps=30, config=EventsConfig(exit_after=3), frame_size=(640, 400))
    frames = {f: [[max(0.0, -30 + 8 * f), 100, -30 + 8 * f + 40, 200, 1, 0.9, 0, 0]] for f in range(1, 20)}
    for f in range(20, 40):  # walking back out, hidden behind person 2 (lower bottom edge, in front)
        x = 122 - 8 * (f - 20)
        frames[f] = [[max(0.0, x), 100, max(1.0, x + 40), 200, 1, 0.9, 0, 0],
                     [max(0.0, x - 20), 90, max(1.0, x + 60), 230, 2, 0.9, 0, 1]]
    ev = run(eng, frames)
    crossings = [(e["id"], e["direction"]) for e in kinds(ev, "line_cross")]
    assert (1, "in") in crossings and (1, "out") in crossings
    assert len([c for c in crossings if c[0] == 1]) == 2


def test_a_visit_ends_where_the_person_was_last_seen_inside_when_hidden_on_the_way_out():
    """Person 1 leaves the zone, is seen outside twice (fewer than zone_confirm_frames), then walks on with its feet
    hidden by person 2 until it leaves the view: its visit ends before the first frame seen outside."""
    zone = parse_zone("0,0,400,0,400,100,0,100:top")
    frames = {f: [box(1, 60)] for f in range(1, 11)}  # inside, frames 1-10
    frames.update({11: [box(1, 120)], 12: [box(1, 130)]})  # outside, not yet confirmed (k=4)
    hidden = [[80, 80, 120, 140, 1, 0.9, 0, 0], [70, 100, 130, 220, 2, 0.9, 0, 1]]
    frames.update({f: hidden for f in range(13, 21)})
    eng = EventEngine([], [zone], fps=10, config=EventsConfig(zone_confirm_frames=4, exit_after=3))
    ev = run(eng, frames)
    (zx,) = kinds(ev, "zone_exit")
    assert zx["frame"] == 10 and zx["dwell_s"] == pytest.approx(1.0)
