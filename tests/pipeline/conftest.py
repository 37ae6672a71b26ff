"""Fixtures of the pipeline tests."""
from __future__ import annotations

import pytest

from tests._pipeline_data import make_sequence
from tests.pipeline.outputs import FRAMES


@pytest.fixture(scope="package")
def seq(tmp_path_factory):
    return make_sequence(tmp_path_factory.mktemp("pipe"), "SEQ", frames=FRAMES, video=True, images=True)
