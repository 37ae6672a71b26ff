"""Options: a bad one fails before any output exists."""
from __future__ import annotations

import pytest

from trackreid.pipeline import PipelineError, run


def test_bad_options_fail_before_any_output(seq, tmp_path):
    out = tmp_path / "never"
    with pytest.raises(PipelineError, match="max_frames"):
        run(seq / "SEQ.mp4", reid="none", detector=seq / "det" / "det.txt", output=out, max_frames=0)
    with pytest.raises(PipelineError, match="tracker config"):
        run(seq / "SEQ.mp4", reid="none", detector=seq / "det" / "det.txt", output=out,
            tracker_config=tmp_path / "missing.yaml")
    with pytest.raises(PipelineError, match="reid-weights"):
        run(seq / "SEQ.mp4", reid="none", reid_weights="x.pt", detector=seq / "det" / "det.txt", output=out)
    assert not out.exists()


def test_bad_lines_zones_and_crop_options_fail_before_any_output(seq, tmp_path):
    out = tmp_path / "never"
    det = seq / "det" / "det.txt"
    with pytest.raises(ValueError, match="line"):
        run(seq / "SEQ.mp4", reid="none", detector=det, output=out, lines=["1,2,3"])
    with pytest.raises(ValueError, match="zone"):
        run(seq / "SEQ.mp4", reid="none", detector=det, output=out, zones=["0,0,10,0:two-points"])
    with pytest.raises(PipelineError, match="output folder"):
        run(seq / "SEQ.mp4", reid="none", detector=det, save_crops=4)
    assert not out.exists()
