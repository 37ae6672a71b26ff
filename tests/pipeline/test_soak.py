"""A short soak (benchmarks/soak.py): on an endless crowd, every table of the per-frame path stays within the
bounds set by the identity memory's size, alone and with three sources linked into global IDs (sizes, not times)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SOAK = Path(__file__).resolve().parents[2] / "benchmarks" / "soak.py"


@pytest.fixture(scope="module")
def soak():
    if not SOAK.is_file():
        pytest.skip("benchmarks/soak.py is not in this checkout")
    spec = importlib.util.spec_from_file_location("trackreid_bench_soak", SOAK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.soak


@pytest.mark.parametrize("sources, global_ids", [(1, False), (3, True)])
def test_tables_stay_bounded_on_an_endless_crowd(soak, sources, global_ids):
    cap = 30  # identities the memory (and the bank) keep: far fewer than the crowd brings (~90 per 1000 frames)
    marks = (1_000, 2_000)
    rows = {f: sizes for f, _, _, sizes in soak(2_000, sources, global_ids, marks, memory_size=cap)}
    first, last = rows[1_000], rows[2_000]
    for k in ("memory", "ids_counted", "event_ids"):
        assert first[k] >= sources * cap // 2 and last[k] <= sources * cap, (k, first, last)  # filled, then capped
    in_view = 6 * sources
    assert last["tracks"] <= 4 * in_view and last["id_log"] <= 4 * in_view
    assert last["held_rows"] <= sources * 200  # at most max_gap (+ the global-ID settle) frames per source
    if global_ids:
        for k in ("map", "gsum", "where", "refs", "bank"):
            assert last[f"link.{k}"] <= sources * cap, (k, last)
        assert last["link.sum"] <= 4 * in_view and last["link.held"] <= 4 * in_view
