"""MOT text files: read/write round trip, padding, atomic writes, incremental writer."""
from __future__ import annotations

import numpy as np
import pytest

from trackreid.evaluation.mot import evaluate_mot_arrays
from trackreid.io.mot import MotWriter, read_mot, write_mot


def test_round_trip_keeps_values(tmp_path):
    rows = np.array([[1, 3, 10.5, 20.25, 30, 40, 0.875, -1, -1, -1], [2, 4, 1234.567, 0, 1, 1, 1, 1, 0.5, -1]])
    p = write_mot(tmp_path / "sub" / "a.txt", rows)
    back = read_mot(p)
    assert back.dtype == np.float64 and back.shape == (2, 10)
    np.testing.assert_allclose(back, rows)
    assert p.read_text().splitlines()[0] == "1,3,10.5,20.25,30,40,0.875,-1,-1,-1"


def test_short_rows_padded_and_whitespace_accepted(tmp_path):
    p = tmp_path / "gt.txt"
    p.write_text("1 2 3 4 5 6\n2 2 3 4 5 6\n")
    np.testing.assert_array_equal(read_mot(p)[0], [1, 2, 3, 4, 5, 6, 1, -1, -1, -1])
    q = tmp_path / "gt17.txt"
    q.write_text("1,2,3,4,5,6,0,7,0.25\n\n")  # MOT17 gt: 9 columns, trailing blank line
    np.testing.assert_array_equal(read_mot(q)[0], [1, 2, 3, 4, 5, 6, 0, 7, 0.25, -1])


def test_empty_file_and_errors(tmp_path):
    (tmp_path / "e.txt").write_text("")
    assert read_mot(tmp_path / "e.txt").shape == (0, 10)
    (tmp_path / "b.txt").write_text("1,2,3,4,5,6\n1,2,3\n")
    with pytest.raises(ValueError, match=r"b.txt:2: expected at least 6 fields"):
        read_mot(tmp_path / "b.txt")
    (tmp_path / "c.txt").write_text("1,2,x,4,5,6\n")
    with pytest.raises(ValueError, match="non-numeric"):
        read_mot(tmp_path / "c.txt")
    with pytest.raises(FileNotFoundError):
        read_mot(tmp_path / "missing.txt")


def test_write_is_atomic_and_failed_write_keeps_old_file(tmp_path):
    p = write_mot(tmp_path / "r.txt", [[1, 1, 0, 0, 5, 5]])
    old = p.read_text()
    with pytest.raises(ValueError, match="NaN"):
        write_mot(p, [[1, 1, np.nan, 0, 5, 5]])
    assert p.read_text() == old
    assert [f.name for f in tmp_path.iterdir()] == ["r.txt"]  # no temp file left behind


def test_mot_writer_appends_and_flushes_each_frame(tmp_path):
    p = tmp_path / "out" / "SEQ.txt"
    tracks1 = np.array([[10, 20, 40, 80, 1, 0.9, 0, 0], [100, 100, 110, 130, 2, 0.5, 0, 1]], np.float32)
    with MotWriter(p) as w:
        w.write(1, tracks1)
        # Readable before close: an interrupted run keeps every frame written so far.
        assert p.read_text().splitlines() == ["1,1,10,20,30,60,0.8999999762,-1,-1,-1",
                                              "1,2,100,100,10,30,0.5,-1,-1,-1"]
        w.write(2, np.empty((0, 8), np.float32))
        w.write(3, tracks1[:1])
        with pytest.raises(ValueError, match="frames must increase"):
            w.write(3, tracks1[:1])
        with pytest.raises(ValueError, match=r"shape \(M, 8\)"):
            w.write(4, np.zeros((2, 3)))
    rows = read_mot(p)
    assert rows[:, 0].tolist() == [1, 1, 3] and w.rows_written == 3
    with pytest.raises(ValueError, match="closed"):
        w.write(5, tracks1)


def test_mot_writer_output_scores_perfectly_against_same_boxes(tmp_path):
    rng = np.random.default_rng(1)
    gt, p = [], tmp_path / "S.txt"
    with MotWriter(p) as w:
        for t in range(1, 6):
            xy = rng.uniform(0, 500, (3, 2)).round()
            tracks = np.column_stack([xy, xy + [40, 90], [1, 2, 3], np.ones(3), np.zeros(3), np.arange(3)])
            w.write(t, tracks)
            gt += [[t, i + 1, *xy[i], 40, 90, 1, 1, 1] for i in range(3)]
    r = evaluate_mot_arrays({"S": (np.array(gt), read_mot(p))})["S"]
    assert (r["MOTA"], r["IDF1"], r["FP"], r["FN"]) == (1.0, 1.0, 0, 0)
