"""Models and tracker of a run: tracker config, device resolution, trained ReID weights by default."""
from __future__ import annotations

import warnings

import pytest

from tests.pipeline.outputs import check_outputs_agree
from trackreid.pipeline import PipelineError, resolve_device, run


def test_tracker_config_yaml_is_used(seq, tmp_path):
    cfg = tmp_path / "t.yaml"
    cfg.write_text("min_hits: 1\nnew_track_thresh: 0.95\n")  # 0.9-score detections can start no track
    summary = run(seq / "SEQ.mp4", reid="none", detector=seq / "det" / "det.txt", tracker_config=cfg, quiet=True)
    assert summary["unique_identities"] == 0


def test_device_resolution():
    import torch

    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda:0" if torch.cuda.is_available() else "cpu")
    with pytest.raises(PipelineError, match="expected auto"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(PipelineError, match="no CUDA GPU"):
            resolve_device("cuda")


def test_osnet_is_trained_by_default_and_untrained_only_on_request(seq, tmp_path):
    """``reid="osnet_x0_25"`` without weights runs the bundled Market-1501 weights, with no untrained warning;
    ``reid_weights="none"`` runs untrained, with the warning."""
    for reid, weights, warned in (("osnet_x0_25", None, False), ("auto", "none", True)):
        out = tmp_path / f"osnet-{weights}"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            summary = run(seq / "SEQ.mp4", reid=reid, reid_weights=weights, detector=seq / "det" / "det.txt",
                          output=out, device="cpu", quiet=True, max_frames=8)
        assert any("NO trained weights" in str(w.message) for w in caught) == warned
        check_outputs_agree(out, 8)
        assert summary["stage_ms"]["embed"] > 0 and summary["unique_identities"] == 3


