import json

import numpy as np
import pytest

from trackreid.analytics import RunAnalytics, read_events


def test_run_writes_events_crops_and_draws(tmp_path):
    rng = np.random.default_rng(0)
    an = RunAnalytics(tmp_path, fps=10, lines=["0,100,400,100:door"], zones=["0,0,400,0,400,100,0,100:top"],
                      save_crops=2)
    for f in range(1, 16):
        img = (rng.random((240, 400, 3)) * 255).astype(np.uint8)
        y = 200 - 10 * f
        an.update(img, np.array([[100, y - 90, 140, y, 4, 0.9, 0, 0]], float), f)
        if f == 3:  # written as the run goes, flushed per frame
            assert [e["event"] for e in read_events(tmp_path / "events.jsonl")] == ["enter"]
        out = an.draw(img.copy())
        assert out.shape == img.shape and not np.array_equal(out, img)
    assert an.engine.frame_size == (400, 240)  # the images' size: people leaving the view are told apart
    s = an.close()
    assert an.close() is s
    ev = read_events(tmp_path / "events.jsonl")
    assert sorted(e["event"] for e in ev) == ["enter", "exit", "line_cross", "zone_enter", "zone_exit"]
    assert s["events"]["lines"]["door"]["in"] == 1 and s["events"]["zones"]["top"]["visitors"] == 1
    assert 1 <= s["crops"]["files"] <= 2 and json.dumps(s)


def test_nothing_asked_nothing_done(tmp_path):
    an = RunAnalytics(tmp_path, fps=25)
    assert not an.active and an.close() == {} and not (tmp_path / "events.jsonl").exists()


def test_crops_need_an_output_folder():
    with pytest.raises(ValueError, match="output folder"):
        RunAnalytics(None, fps=25, save_crops=4)
    with pytest.raises(ValueError, match="save-crops"):
        RunAnalytics("x", fps=25, save_crops=-1)
