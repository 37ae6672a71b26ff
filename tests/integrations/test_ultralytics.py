"""trackreid attached to an Ultralytics YOLO model gives the IDs the ``trackreid`` pipeline gives, across calls."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ultralytics")
pytest.importorskip("openvino")

from trackreid.integrations.ultralytics import attach, detach  # noqa: E402
from trackreid.pipeline import PipelineError  # noqa: E402

FRAMES = 20


@pytest.fixture(scope="module")
def street(shared_data):
    """The shared YOLOv8n detector, the street video and its first FRAMES frames."""
    import cv2

    video = shared_data / "videos" / "street-302f.mp4"
    cap = cv2.VideoCapture(str(video))
    frames = [cap.read()[1] for _ in range(FRAMES)]
    cap.release()
    return shared_data / "detectors" / "yolov8n_int8_openvino_model", video, frames


@pytest.fixture(scope="module")
def cli(street):
    """What ``track_video`` (the ``trackreid`` command's pipeline, default options) gives on those frames."""
    from trackreid import track_video

    detector, video, _ = street
    return [r.tracks.copy() for r in track_video(str(video), detector=str(detector), max_frames=FRAMES, quiet=True)]


@pytest.fixture(scope="module")
def yolo(street):
    from ultralytics import YOLO

    return YOLO(str(street[0]), task="detect")


def _assert_same(cli, ours):
    assert len(ours) == len(cli)
    for i, (want, got) in enumerate(zip(cli, ours)):
        np.testing.assert_array_equal(got[:, 4], want[:, 4], err_msg=f"IDs differ at frame {i}")
        h, w = 1080, 1920
        clipped = np.clip(want[:, :4], 0, [w, h, w, h])  # Ultralytics clips boxes to the image
        np.testing.assert_allclose(got[:, :4], clipped, atol=1e-3, err_msg=f"boxes differ at frame {i}")
        np.testing.assert_allclose(got[:, 5:7], want[:, 5:7], atol=1e-6)


def test_track_stream_gives_the_cli_ids(street, cli, yolo):
    video = street[1]
    ids = np.concatenate([t[:, 4] for t in cli])
    assert len(np.unique(ids)) >= 8 and all(len(t) for t in cli)  # a busy street: the comparison means something
    reid = attach(yolo)
    ours = []
    for r in yolo.track(str(video), stream=True, verbose=False):
        ours.append(r.boxes.data.cpu().numpy())
        assert r.boxes.is_track and r.tracker_output.tracks.shape[0] == len(r.boxes)
        if len(ours) == FRAMES:
            break
    _assert_same(cli, ours)
    assert reid.tracker.frame_id == FRAMES
    now, final = reid.ids_now(ours[-1][:, 4])
    np.testing.assert_array_equal(now, ours[-1][:, 4])  # nobody renamed in 20 frames of a busy street
    assert final.dtype == bool and len(final) == len(now)


def test_ids_persist_across_track_and_predict_calls(street, cli, yolo):
    """Frame by frame over several calls (a user's own loop): the same IDs as one run; persist=False restarts."""
    frames = street[2]
    reid = attach(yolo)
    half = FRAMES // 2
    ours = [r.boxes.data.cpu().numpy() for r in yolo.track(frames[:half], verbose=False)]
    for frame in frames[half:]:
        ours.append(yolo.predict(frame, verbose=False)[0].boxes.data.cpu().numpy())
    _assert_same(cli, ours)
    again = yolo.track(frames[:1], persist=False, verbose=False)[0]
    np.testing.assert_array_equal(again.boxes.id.numpy(), cli[0][:, 4])  # IDs from 1 again, as on a new video
    reid.reset()
    assert reid.tracker is None


def test_detach_gives_plain_ultralytics_predictions(street, yolo):
    frames = street[2]
    attach(yolo)
    detach(yolo)
    r = yolo.predict(frames[0], verbose=False)[0]
    assert not r.boxes.is_track and "track" not in yolo.__dict__
    assert len(np.unique(r.boxes.cls.numpy())) > 1  # every class again (attached: people only)


def test_detector_features_reach_the_tracker(street):
    """reid='yolo' takes appearance from the detector's Detect-head inputs. No trained PyTorch YOLO exists offline:
    a model built from its YAML, with thresholds below its untrained scores, shows the features reaching the
    tracker and IDs holding on a repeated frame."""
    from ultralytics import YOLO

    frame = street[2][0]
    model = YOLO("yolov8n.yaml")
    low = {"track_low_thresh": 1e-6, "track_high_thresh": 1e-5, "new_track_thresh": 1e-5}
    reid = attach(model, reid="yolo", tracker_config=low, classes=[0])
    assert reid.encoder is None
    results = [model.track(frame, conf=1e-7, max_det=20, imgsz=320, verbose=False)[0] for _ in range(3)]
    assert reid.tracker.tracks.dim == 64  # YOLOv8n's narrowest head input: the feature length Ultralytics cuts
    ids = [set(r.boxes.id.numpy().astype(int).tolist()) for r in results]
    assert ids[0] and ids[0] == ids[1] == ids[2]


def test_bad_input_is_one_clear_error(yolo):
    from ultralytics import YOLO

    with pytest.raises(PipelineError, match="expected an Ultralytics model"):
        attach("yolov8n.pt")
    with pytest.raises(PipelineError, match="'classify' model; trackreid needs a detection model"):
        attach(YOLO("yolov8n-cls.yaml"))
    with pytest.raises(PipelineError, match="reid='yolo' needs a PyTorch YOLO model"):
        attach(yolo, reid="yolo")
    with pytest.raises(PipelineError, match=r"unknown option\(s\) \['output'\]"):
        attach(yolo, output="runs/x")
    with pytest.raises(PipelineError, match="class 'unicorn' is not one of"):
        attach(yolo, classes=["unicorn"])
