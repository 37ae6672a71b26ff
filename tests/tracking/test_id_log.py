"""The ID log: which ID earlier rows end up with, through chains, forgotten after its horizon."""
import numpy as np
import pytest

from trackreid.tracking.id_log import IdLog


def test_resolves_chains_and_leaves_other_ids_alone():
    log = IdLog(horizon=100)
    log.record({7: 3}, frame=10)
    log.record({9: 7}, frame=12)           # a young track merged into a young one that later took ID 3
    assert log.resolve([9, 7, 3, 5]).tolist() == [3, 3, 3, 5]
    assert len(log) == 2


def test_forgets_renames_older_than_its_horizon():
    log = IdLog(horizon=5)
    log.record({7: 3}, frame=10)
    for f in range(11, 16):
        log.record({}, frame=f)
    assert log.resolve([7]).tolist() == [3]
    log.record({}, frame=16)
    assert log.resolve([7]).tolist() == [7] and len(log) == 0


def test_bad_horizon_is_a_clear_error():
    with pytest.raises(ValueError, match="horizon"):
        IdLog(-1)


def test_resolve_keeps_the_shape():
    log = IdLog(10)
    log.record({4: 1}, 1)
    assert log.resolve(np.array([[4, 2]])).tolist() == [[1, 2]]
