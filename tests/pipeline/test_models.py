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




def test_track_starts_follow_conf_unless_the_config_sets_them():
    """--conf moves where tracks start by as much as it moves from its default: a user who lowers it to track
    fainter people gets them tracked; the defaults hold at the default --conf."""
    from trackreid.pipeline.models import build_tracker, start_thresholds
    from trackreid.tracking.config import TrackerConfig

    assert build_tracker(None, conf=0.25).config.new_track_thresh == TrackerConfig.new_track_thresh
    low = build_tracker(None, conf=0.1).config
    assert (low.track_high_thresh, low.new_track_thresh) == (0.35, 0.45) == tuple(start_thresholds(0.1).values())
    high = build_tracker(None, conf=0.5).config
    assert (high.track_high_thresh, high.new_track_thresh) == (0.75, 0.85)
    assert build_tracker(None, conf=0.9).config.new_track_thresh == 0.95          # capped below 1
    mine = build_tracker({"new_track_thresh": 0.3}, conf=0.1).config              # set explicitly: kept
    assert mine.new_track_thresh == 0.3 and mine.track_high_thresh == 0.35


def test_a_lower_conf_tracks_fainter_people(seq, tmp_path):
    """A person the detector reports at 0.5 only: no track starts at the default --conf (tracks start at 0.6), one
    does at --conf 0.1 (tracks start at 0.45)."""
    import numpy as np

    from trackreid.pipeline import track_video

    def faint(frame, index):
        return np.array([[40, 40, 80, 140, 0.5, 0]], np.float32)

    kw = dict(detector=faint, reid="none", quiet=True, save_video=False, max_gap=0)
    assert not any(len(r.tracks) for r in track_video(seq / "SEQ.mp4", conf=0.25, **kw))
    assert sum(len(r.tracks) for r in track_video(seq / "SEQ.mp4", conf=0.1, **kw)) >= 10
