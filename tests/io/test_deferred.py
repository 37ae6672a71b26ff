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
