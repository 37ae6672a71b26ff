import numpy as np
import pytest

from trackreid.types import validate_detections, validate_embeddings, validate_frame


def test_valid_detections_pass_and_keep_indices():
    dets = [[0, 0, 10, 20, 0.9, 0], [5, 5, 5, 30, 0.5, 0], [1, 2, 3, 4, 1.5, 2]]
    out, keep = validate_detections(dets)
    assert out.dtype == np.float32 and out.shape == (2, 6)
    assert keep.tolist() == [0, 2]  # the zero-width box is dropped, its index never reappears
    assert out[1, 4] == 1.0  # score clipped into [0, 1]


@pytest.mark.parametrize("empty", [None, [], np.empty((0, 6)), np.empty(0)])
def test_empty_frame_is_normal(empty):
    out, keep = validate_detections(empty)
    assert out.shape == (0, 6) and keep.shape == (0,)


@pytest.mark.parametrize(
    "dets, match",
    [
        (np.zeros((3, 5)), r"shape \(N, 6\)"),
        (np.array([[0, 0, 1, 1, np.nan, 0]]), "NaN"),
        (np.array([[0, 0, np.inf, 1, 0.5, 0]]), "NaN or inf"),
        (np.array([[10, 0, 5, 10, 0.5, 0]]), "inverted"),
        (np.array([["a"] * 6]), "numeric"),
        (np.ones((1, 6), complex), "real numbers"),
        (np.ones((1, 6), bool), "real numbers"),
    ],
)
def test_bad_detections_raise_clear_errors(dets, match):
    with pytest.raises(ValueError, match=match):
        validate_detections(dets)


def test_embeddings_are_normalised_and_checked():
    emb = validate_embeddings(np.array([[3.0, 4.0], [0.0, 2.0]]), 2)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="2 rows for 3 detections"):
        validate_embeddings(np.ones((2, 4)), 3)
    with pytest.raises(ValueError, match="dimension 8"):
        validate_embeddings(np.ones((2, 4)), 2, dim=8)
    with pytest.raises(ValueError, match="NaN"):
        validate_embeddings(np.array([[np.nan, 1.0]]), 1)


def test_frame_checks():
    validate_frame(np.zeros((4, 5, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        validate_frame(np.zeros((4, 5, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        validate_frame(np.zeros((4, 5), np.uint8))
    with pytest.raises(ValueError, match="numpy array"):
        validate_frame([[1, 2, 3]])
