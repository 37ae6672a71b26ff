"""Rows held back until their IDs are final, written in frame order."""
import numpy as np


class _Sink:
    def __init__(self):
        self.rows, self.images, self.closed = [], 0, None

    def write(self, frame_id, tracks, annotated=None, extra=None, global_ids=None, reentries=None):
        self.rows.append((frame_id, None if global_ids is None else list(global_ids)))

    def write_image(self, annotated):
        self.images += 1

    def close(self, summary=None):
        self.closed = summary


def test_deferred_outputs_wait_for_final_ids_in_frame_order():
    from trackreid.io.deferred import FinalRows

    known = {1: (101, False), 2: (102, True)}
    sink = _Sink()
    out = FinalRows(sink, lambda lids: (np.array([known[int(i)][0] for i in lids]),
                                        np.array([known[int(i)][1] for i in lids])), delay=3, rename=False)
    t = lambda *ids: np.array([[0, 0, 10, 10, i, 1, 0, 0] for i in ids], np.float64)
    out.write(1, t(2), annotated=np.zeros((2, 2, 3), np.uint8))
    assert sink.rows == [(1, [102])] and sink.images == 1     # final at once; the image is never held back
    out.write(2, t(1, 2), annotated=np.zeros((2, 2, 3), np.uint8))
    out.write(3, t(), annotated=np.zeros((2, 2, 3), np.uint8))
    assert sink.rows == [(1, [102])] and out.pending == 2 and sink.images == 3
    known[1] = (7, True)                                      # track 1 matched a banked identity: ID 7 for good
    out.write(4, t(1))
    assert sink.rows == [(1, [102]), (2, [7, 102]), (3, None), (4, [7])]
    known[3] = (103, False)
    for f in range(5, 9):                                     # never final: written after at most 3 frames
        out.write(f, t(3))
    assert [r[0] for r in sink.rows] == list(range(1, 6)) and out.pending == 3
    out.close({"status": "interrupted"})                      # Ctrl-C / end: everything held back is written
    assert [r[0] for r in sink.rows] == list(range(1, 9)) and sink.closed == {"status": "interrupted"}


def test_global_ids_replace_a_cameras_own_wait_for_final_ids():
    """A camera's outputs already wait for its tracker's final IDs; a multi-camera linker puts its global-ID wait in
    place of that one (SourceRun.hold_rows), not on top of it, and nothing held is lost."""
    from types import SimpleNamespace

    from trackreid.io.deferred import FinalRows
    from trackreid.pipeline import SourceRun

    sink = _Sink()
    run = SimpleNamespace(outputs=sink, _on_final=lambda frame, tracks: None)
    run.rows = FinalRows(sink, lambda lids: (np.asarray(lids), np.zeros(len(lids), bool)), delay=5, rename=True)
    run.rows.write(1, np.array([[0, 0, 10, 10, 3, 1, 0, 0]], np.float64))
    SourceRun.hold_rows(run, lambda lids: (np.asarray(lids) + 100, np.ones(len(lids), bool)), 150, rename=False)
    assert not run.rows.rename and run.rows.outputs is sink
    assert sink.rows == [(1, None)]                            # the held frame was written before the switch
    run.rows.write(2, np.array([[0, 0, 10, 10, 3, 1, 0, 0]], np.float64))
    assert sink.rows == [(1, None), (2, [103])]


def _box_rows(*rows):
    """Tracks (M, 8) from (id, x) pairs: 20x40 boxes at x, matched to detection 0."""
    return np.array([[x, 0, x + 20, 40, i, 0.9, 0, 0] for i, x in rows], np.float64).reshape(-1, 8)


def _collect(max_gap, frames, final_ids=None):
    from trackreid.io.deferred import FinalRows

    got = {}
    out = FinalRows(None, final_ids, delay=10 if final_ids else 0, max_gap=max_gap,
                    listeners=[lambda f, tracks: got.__setitem__(f, tracks.copy())])
    for f, tracks in enumerate(frames, start=1):
        out.write(f, tracks)
        assert all(now <= f - max_gap for now in got)      # nothing is written before its gap window has passed
    out.close()
    return got


def test_a_short_gap_between_rows_of_one_id_is_filled_by_interpolation():
    # person 1 seen at frames 1-2, missed at 3-5, seen again at 6; person 2 seen throughout
    frames = [_box_rows((1, 0), (2, 200)), _box_rows((1, 10), (2, 200)), _box_rows((2, 200)), _box_rows((2, 200)),
              _box_rows((2, 200)), _box_rows((1, 50), (2, 200))]
    got = _collect(3, frames)
    assert sorted(got) == [1, 2, 3, 4, 5, 6]
    for f, x in zip((3, 4, 5), (20.0, 30.0, 40.0)):             # linear between x=10 (frame 2) and x=50 (frame 6)
        row = got[f][got[f][:, 4] == 1]
        assert len(row) == 1 and row[0, 0] == x and row[0, 2] == x + 20 and row[0, 7] == -1
    assert (got[6][:, 7] == 0).all() and len(got[6]) == 2       # real rows untouched
    # a gap longer than max_gap stays a gap
    got = _collect(2, frames)
    assert all((got[f][:, 4] != 1).all() for f in (3, 4, 5))


def test_no_filling_between_two_different_people_or_when_off():
    frames = [_box_rows((1, 0)), _box_rows(), _box_rows((2, 20))]
    assert len(_collect(5, frames)[2]) == 0
    frames = [_box_rows((1, 0)), _box_rows(), _box_rows((1, 20))]
    assert len(_collect(0, frames)[2]) == 0 and len(_collect(1, frames)[2]) == 1


def test_gaps_are_filled_under_final_ids():
    """A young track that the identity memory later renames to the person seen before closes that person's gap."""
    renamed = {7: 1}
    frames = [_box_rows((1, 0)), _box_rows(), _box_rows((7, 20)), _box_rows((7, 30))]
    final = lambda ids: (np.array([renamed.get(int(i), int(i)) for i in ids]), np.ones(len(ids), bool))
    got = _collect(3, frames, final)
    assert got[2][:, 4].tolist() == [1] and got[2][0, 0] == 10.0 and got[3][:, 4].tolist() == [1]


def test_interpolated_rows_are_flagged_in_json_lines():
    from trackreid.io.sinks import tracks_to_records

    recs = tracks_to_records(np.array([[0, 0, 10, 10, 1, 0.9, 0, 3], [0, 0, 10, 10, 2, 0.9, 0, -1]]))
    assert "interpolated" not in recs[0] and recs[1]["interpolated"] is True and recs[1]["det"] == -1
