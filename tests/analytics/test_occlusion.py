import numpy as np

from trackreid.analytics.occlusion import hidden_anchors


def test_feet_under_a_box_in_front_are_hidden():
    boxes = np.array([[80, 30, 120, 150],     # 0: feet at (100, 150), behind 1
                      [70, 60, 130, 170],     # 1: in front (lower bottom edge), covers 0's feet
                      [200, 30, 240, 150],    # 2: feet at (220, 150)
                      [225, 60, 300, 170]])   # 3: in front of 2 but covers only its right side
    assert hidden_anchors(boxes).tolist() == [True, False, False, False]


def test_a_box_cut_off_at_the_occluders_top_is_hidden_within_the_margin():
    """A detector boxes only the visible part: the box ends at, or a little above, the occluder's top."""
    occluder = [70, 100, 130, 220]
    just_above = [80, 10, 120, 97]   # ends 3 px above the top; 87 px tall: 0.05 * 87 = 4.35 px
    well_above = [80, 10, 120, 90]   # 10 px above: the feet are in view
    assert hidden_anchors(np.array([just_above, occluder]))[0]
    assert not hidden_anchors(np.array([just_above, occluder]), margin=0.0)[0]
    assert not hidden_anchors(np.array([well_above, occluder]))[0]


def test_extra_occluders_and_empty_input():
    boxes = np.array([[80, 30, 120, 150]])
    assert hidden_anchors(boxes).tolist() == [False]  # alone
    assert hidden_anchors(boxes, np.array([[70, 60, 130, 170]])).tolist() == [True]
    assert hidden_anchors(boxes, np.array([[70, 20, 130, 140]])).tolist() == [False]  # behind it: no cover
    assert hidden_anchors(np.zeros((0, 4)), np.array([[70, 60, 130, 170]])).shape == (0,)
