"""Labels from tracks: split at gaps and ID switches, joined only when surely one person, negatives only between
people in view together."""
import numpy as np
import pytest

from trackreid.adapt import AdaptConfig, NothingToLearn, build_labels
from trackreid.adapt.collect import TrackCrops

DIM = 16


def code(k: int, rng, noise: float = 0.05) -> np.ndarray:
    v = np.zeros(DIM)
    v[k] = 1.0
    v = v + rng.normal(0, noise, DIM)
    return v / np.linalg.norm(v)


def scene(tracks):
    """``tracks``: (identity, frames, appearance code per frame) -> TrackCrops (one crop per frame) and features."""
    rng = np.random.default_rng(0)
    src, frame, ident, feats, presence = [], [], [], [], []
    for pid, frames, codes in tracks:
        for f, k in zip(frames, codes):
            src.append(0), frame.append(f), ident.append(pid), feats.append(code(k, rng))
            presence.append((0, f, pid))
    n = len(src)
    crops = TrackCrops(np.zeros((n, 4, 2, 3), np.uint8), np.array(src), np.array(frame), np.array(ident),
                       np.array(presence))
    return crops, np.array(feats)


CFG = AdaptConfig(min_crops=4, gap_split=10, holdout=0.0)


def people_in_view():
    """Identities 1-4 walk together (frames 1-20); identity 1's track switches to another person (code 9) at frame
    11; identity 5 leaves and comes back looking the same; identity 6 comes back as someone else (code 8)."""
    together = range(1, 21)
    return [(1, together, [0] * 10 + [9] * 10), (2, together, [1] * 20), (3, together, [2] * 20),
            (4, together, [3] * 20),
            (5, list(range(1, 11)) + list(range(40, 50)), [4] * 20),
            (6, list(range(1, 11)) + list(range(40, 50)), [5] * 10 + [8] * 10)]


def test_people_seen_together_never_share_a_label():
    crops, feats = scene(people_in_view())
    labels = build_labels(crops, feats, CFG)
    lab = labels.label
    for f in np.unique(crops.frame):  # the crops of one frame are different people: all different labels
        here = lab[(crops.frame == f) & (lab >= 0)]
        assert len(here) == len(np.unique(here))
        for a in here:  # ... and each pair of them is a known negative
            assert all(labels.covis[a, b] for b in here if b != a)
    assert not np.diag(labels.covis).any()


def test_switch_split_reentry_joined_only_when_surely_the_same():
    crops, feats = scene(people_in_view())
    labels = build_labels(crops, feats, CFG)
    lab = labels.label

    def labels_of(pid, frames=None):
        m = crops.ident == pid
        if frames is not None:
            m &= np.isin(crops.frame, list(frames))
        return set(lab[m].tolist())

    assert labels_of(1, range(1, 11)).isdisjoint(labels_of(1, range(11, 21)))  # the switch: two labels
    assert len(labels_of(1, range(1, 11))) == 1 and len(labels_of(1, range(11, 21))) == 1
    assert len(labels_of(5)) == 1  # back, looking the same: one label across the gap
    assert labels_of(6, range(1, 11)).isdisjoint(labels_of(6, range(40, 50)))  # back as someone else: two
    c = labels.counts
    assert c["split_at_switches"] >= 1 and c["split_at_gaps"] == 2 and c["joined_across_gaps"] == 1
    # the two halves of identity 1 were seen together with identity 2: both are its negatives
    (a,), (b,), (two,) = labels_of(1, range(1, 11)), labels_of(1, range(11, 21)), labels_of(2)
    assert labels.covis[a, two] and labels.covis[b, two] and not labels.covis[a, b]


def test_short_tracks_are_dropped():
    tracks = people_in_view() + [(7, range(1, 3), [6, 6])]  # two crops only
    crops, feats = scene(tracks)
    labels = build_labels(crops, feats, CFG)
    assert (labels.label[crops.ident == 7] == -1).all()


def test_nobody_seen_together_is_nothing_to_learn():
    crops, feats = scene([(1, range(1, 21), [0] * 20), (2, range(30, 50), [1] * 20)])
    with pytest.raises(NothingToLearn, match="two people in view together"):
        build_labels(crops, feats, CFG)
    with pytest.raises(NothingToLearn, match="no crop"):
        build_labels(scene([])[0], np.zeros((0, DIM)), CFG)
