"""The column store shared by tracks, identity memory and analytics tables; the ID-to-row lookup."""
from __future__ import annotations

import numpy as np
import pytest

from trackreid.tracking.store import ColumnStore, rows_of
from trackreid.types import l2_normalise


def store(**kw):
    return ColumnStore({"id": (np.int64, (), -1), "v": (np.float32, (2, 0), 0.5), "box": (np.float32, (4,), 0.0)},
                       **kw)


def test_append_fills_unnamed_columns_and_grows():
    s = store(min_capacity=4)
    assert s.cap == 0 and len(s) == 0 and s["id"].shape == (0,)
    rows = s.append(3, id=[7, 8, 9], box=1.0)
    assert rows.tolist() == [0, 1, 2] and s.cap == 4
    assert s["id"].tolist() == [7, 8, 9] and (s["box"] == 1.0).all() and s["v"].shape == (3, 2, 0)
    s.append(2, id=[1, 2])
    assert s.cap == 8 and s.n == 5                   # doubled
    assert s["id"].tolist() == [7, 8, 9, 1, 2] and (s["box"][3:] == 0.0).all()
    s.append(20)
    assert s.cap == 25 and (s["id"][5:] == -1).all()  # grown straight to what is needed
    assert s.id.shape == (25,) and np.shares_memory(s["id"], s.id)
    with pytest.raises(ValueError, match="no column"):
        s.append(1, nope=3)


def test_capacity_is_capped():
    s = store(min_capacity=64, max_capacity=10)
    s.append(3)
    assert s.cap == 10
    s.append(7)
    assert s.cap == 10 and s.n == 10


def test_view_writes_through():
    s = store()
    s.append(2, id=[1, 2])
    s["box"][1] = [1, 2, 3, 4]
    assert s.box[1].tolist() == [1, 2, 3, 4]


def test_keep_stable_and_unstable():
    s = store()
    s.append(6, id=np.arange(6))
    s.box[: s.n, 0] = np.arange(6)
    s.keep(np.array([1, 0, 1, 0, 1, 1], bool))
    assert s["id"].tolist() == [0, 2, 4, 5] and s["box"][:, 0].tolist() == [0, 2, 4, 5]
    s.keep(np.array([0, 1, 1, 1], bool), stable=False)  # the last row fills the hole
    assert s["id"].tolist() == [5, 2, 4] and s["box"][:, 0].tolist() == [5, 2, 4]
    s.keep(np.ones(3, bool), stable=False)
    s.keep(np.ones(3, bool))
    assert s["id"].tolist() == [5, 2, 4]


def test_shrink_after_keep():
    s = store(capacity=32, min_capacity=32, shrink=True)
    s.append(200, id=np.arange(200))
    assert s.cap == 200
    mask = np.zeros(200, bool)
    mask[[3, 150]] = True
    s.keep(mask)
    assert s.cap == 100 and s["id"].tolist() == [3, 150]
    s.keep(np.ones(2, bool))                # nothing deleted: no resize
    assert s.cap == 100
    s.keep(np.array([True, False]))
    assert s.cap == 50 and s["id"].tolist() == [3]
    s.append(1)
    s.keep(np.array([True, False]))
    assert s.cap == 32 and s["id"].tolist() == [3]   # never below min_capacity
    fixed = store(capacity=32)
    fixed.append(200)
    fixed.keep(np.zeros(200, bool))
    assert fixed.cap == 200 and fixed.n == 0


def test_set_shape_keeps_other_columns():
    s = store()
    s.append(3, id=[4, 5, 6])
    s.set_shape(v=(2, 8))
    assert s.v.shape == (s.cap, 2, 8) and (s["v"] == 0.5).all() and s["id"].tolist() == [4, 5, 6]
    s.append(1, v=np.ones((1, 2, 8)))
    assert (s["v"][3] == 1).all() and s.v.dtype == np.float32
    with pytest.raises(ValueError, match="no column"):
        s.set_shape(w=(1,))


def test_nbytes_counts_every_allocated_row():
    s = store(capacity=10)
    s.set_shape(v=(2, 3))
    assert s.nbytes() == 10 * (8 + 2 * 3 * 4 + 4 * 4)


def test_column_name_may_not_shadow_the_store():
    with pytest.raises(ValueError, match="taken"):
        ColumnStore({"keep": (bool, (), False)})
    with pytest.raises(ValueError, match="taken"):
        ColumnStore({"n": (int, (), 0)})


def test_rows_of():
    keys = np.array([30, 10, 20, 10], np.int64)
    assert rows_of(keys, [10, 20, 30, 99, -1]).tolist() == [1, 2, 0, -1, -1]   # a repeated key: its first row
    order = np.argsort(keys, kind="stable")
    assert rows_of(keys, np.array([40, 5, 20]), order).tolist() == [-1, -1, 2]
    assert rows_of(np.zeros(0, np.int64), [1, 2]).tolist() == [-1, -1]
    assert rows_of(keys, []).dtype == np.int64 and len(rows_of(keys, [])) == 0
    assert rows_of(keys, 20).tolist() == [2]


def test_l2_normalise():
    v = np.array([[3, 4], [0, 0]], np.float32)
    out = l2_normalise(v)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.array([[0.6, 0.8], [0, 0]], np.float32))
    np.testing.assert_allclose(np.linalg.norm(l2_normalise(np.ones((2, 3, 4))), axis=-1), 1.0)
