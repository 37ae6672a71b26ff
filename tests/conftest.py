"""Shared fixtures. Real data lives in ../shared/data beside the checkout; tests that need it skip without it."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TRACKREID_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ../shared/data; skips the test when the folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture(scope="session", autouse=True)
def _runtime_choice_cache(tmp_path_factory):
    """runtime="auto"'s measured CPU runtime choice (``trackreid.reid.runtime_choice``) is cached in a file of this
    session, never the user's cache: each model is measured once per session, then the choice is reused; and it is
    measured briefly (one timed call at 1 and 8 crops: the tests check how the choice is made and used, not this
    machine's figures). Tests of the cache itself point it elsewhere."""
    from trackreid.reid import runtime_choice

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRACKREID_RUNTIME_CACHE", str(tmp_path_factory.mktemp("runtime-choice") / "runtime_choice.json"))
        mp.setattr(runtime_choice, "CALLS", 1)
        mp.setattr(runtime_choice, "BATCHES", (1, 8))
        yield
