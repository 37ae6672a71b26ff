"""Thresholds that travel with an encoder: measured at equal false-match rates, stored with the weights, and
used by the tracker and the linker whenever that encoder runs unless the user sets them."""
from __future__ import annotations

import numpy as np
import pytest

from trackreid.pipeline.models import build_linker, build_tracker
from trackreid.reid.thresholds import (REFERENCE, TUNED, EncoderThresholds, false_match_rates, pair_distances,
                                       scaled_thresholds, stored_thresholds, thresholds_for)
from trackreid.tracking.config import TrackerConfig

WIDE = EncoderThresholds(appearance_thresh=0.7, reid_thresh=0.6, memory_thresh=0.4, link_thresh=0.55,
                         appearance_weight=0.35, link_margin=0.12)


class _Encoder:
    thresholds = WIDE


def test_reference_values_are_the_tracker_defaults():
    assert thresholds_for(REFERENCE) == TUNED
    assert TUNED.tracker_settings() == {k: getattr(TrackerConfig(), k) for k in TUNED.tracker_settings()}


def test_pair_distances_split_same_and_different_people_of_one_scene():
    f = np.array([[1, 0], [1, 0.1], [0, 1], [0, 1]], np.float32)
    same, diff = pair_distances(f, np.array([1, 1, 2, 3]), np.array([0, 0, 0, 1]))
    assert len(same) == 1 and same[0] < 0.01  # ids 1-1
    assert len(diff) == 2 and np.all(diff > 0.9)  # 1-2 twice; id 3 is in another scene


def test_scaled_thresholds_keep_the_reference_false_match_rates():
    rng = np.random.default_rng(0)
    ref = rng.uniform(0.0, 0.8, 20000)          # a tighter encoder
    wide = 0.1 + 1.2 * ref                      # the same ranking on a wider scale
    ref_same = rng.uniform(0.0, 0.2, 2000)
    wide_same = 1.5 * ref_same                  # one person's views spread further too
    scaled = scaled_thresholds(ref, wide, ref_same, wide_same)
    for key, rate in false_match_rates(ref, TUNED).items():
        assert abs(np.mean(wide < getattr(scaled, key)) - rate) < 0.002
    assert scaled.memory_thresh == pytest.approx(0.1 + 1.2 * TUNED.memory_thresh, abs=0.01)
    spread = np.median(ref) / np.median(wide)
    assert scaled.appearance_weight == pytest.approx(TUNED.appearance_weight * spread, abs=0.001)
    assert scaled.appearance_weight < TUNED.appearance_weight  # a wider encoder weighs appearance less
    # the link margin must rise above the noise of a person's own distance
    assert scaled.link_margin == pytest.approx(TUNED.link_margin * 1.5, abs=0.002)


def test_build_tracker_takes_the_encoder_thresholds_unless_set(tmp_path):
    assert build_tracker(None, encoder=_Encoder()).config.memory_thresh == WIDE.memory_thresh
    assert build_tracker(None).config.memory_thresh == TUNED.memory_thresh
    cfg = build_tracker({"memory_thresh": 0.2, "track_buffer": 30}, encoder=_Encoder()).config
    assert cfg.memory_thresh == 0.2 and cfg.reid_thresh == WIDE.reid_thresh and cfg.track_buffer == 30
    yaml_file = tmp_path / "t.yaml"
    yaml_file.write_text("appearance_thresh: 0.45\n")
    cfg = build_tracker(str(yaml_file), encoder=_Encoder()).config
    assert cfg.appearance_thresh == 0.45 and cfg.memory_thresh == WIDE.memory_thresh
    explicit = TrackerConfig(memory_thresh=0.1)
    assert build_tracker(explicit, encoder=_Encoder()).config is explicit   # a TrackerConfig is used as given
    linker = build_linker(["a", "b"], None, WIDE)
    assert (linker.cfg.thresh, linker.cfg.margin) == (WIDE.link_thresh, WIDE.link_margin)
    assert (build_linker(["a", "b"]).cfg.thresh, build_linker(["a", "b"]).cfg.margin) == (TUNED.link_thresh,
                                                                                          TUNED.link_margin)


def test_tracker_with_an_encoder_uses_its_thresholds():
    from trackreid import Tracker

    assert Tracker(encoder=lambda frame, boxes: None).config.memory_thresh == TUNED.memory_thresh
    enc = _Encoder()
    enc.__class__.__call__ = lambda self, frame, boxes: None
    assert Tracker(encoder=enc).config.reid_thresh == WIDE.reid_thresh


def test_stored_thresholds_come_from_export_metadata_or_the_manifest(tmp_path):
    assert stored_thresholds(None, {"thresholds": WIDE.to_dict()}) == WIDE
    # an export made before a value was recorded takes it from the manifest entry of its weights
    older = {k: v for k, v in thresholds_for("osnet_x0_25_msmt17").to_dict().items() if k != "link_margin"}
    assert stored_thresholds(None, {"thresholds": older, "weights": "osnet_x0_25_msmt17"}) == \
        thresholds_for("osnet_x0_25_msmt17")
    assert stored_thresholds("x.onnx", {"weights": "osnet_x0_25_market1501"}) == TUNED
    assert stored_thresholds("osnet_x0_25_msmt17") == thresholds_for("osnet_x0_25_msmt17") != TUNED
    # a file merely named like known weights (fine-tuned, say) is not taken for them
    fake = tmp_path / "osnet_x0_25_market1501.pt"
    fake.write_bytes(b"not the published file")
    assert stored_thresholds(fake) is None
