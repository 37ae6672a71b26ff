"""``report.html``: every final identity with crops and a timeline, counts over time, speed; checked in a real
headless browser where one is installed."""
import json
import re
import shutil
import subprocess

import pytest

from tests._pipeline_data import make_sequence
from trackreid.cli.track import main


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    seq = make_sequence(root, "SEQ", frames=30, video=True, images=False)
    out = root / "run"
    assert main([str(seq / "SEQ.mp4"), "--detector", str(seq / "det" / "det.txt"), "--output", str(out),
                 "--line", "100,0,100,240:mid", "--report", "--quiet", "--no-video", "--device", "cpu"]) == 0
    return out


def final_ids(run):
    ids = set()
    for line in (run / "tracks.jsonl").read_text().splitlines():
        ids.update(t["id"] for t in json.loads(line)["tracks"])
    return ids


def test_report_shows_every_final_identity_with_a_crop(run):
    page = (run / "report.html").read_text()
    shown = {int(m) for m in re.findall(r'class="identity" data-id="(\d+)"', page)}
    assert shown == final_ids(run) and len(shown) == 3
    assert page.count('<img src="data:image/jpeg;base64,') >= len(shown)  # cut from the source video
    assert "mid in" in page or "mid out" in page  # the line's crossings over time
    assert "Speed per stage" in page and "src=\"http" not in page  # self-contained


def test_report_of_a_folder_that_is_not_a_run_is_one_line(tmp_path, capsys):
    from trackreid.cli.report import main as report_main

    assert report_main([str(tmp_path)]) == 1
    assert "no summary.json" in capsys.readouterr().err


BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@pytest.mark.skipif(not any(shutil.which(b) for b in BROWSERS), reason="no Chromium / Chrome installed")
def test_report_renders_in_a_headless_browser(run, tmp_path):
    import cv2

    browser = next(shutil.which(b) for b in BROWSERS if shutil.which(b))
    url = (run / "report.html").resolve().as_uri()
    flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    shot = tmp_path / "shot.png"
    subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1000,1400", url],
                   capture_output=True, timeout=120, check=True)
    img = cv2.imread(str(shot))
    assert img is not None and img.std() > 5  # not blank: text, timelines and crops were painted
    dom = subprocess.run([browser, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120,
                         check=True).stdout
    assert {int(m) for m in re.findall(r'data-id="(\d+)"', dom)} == final_ids(run)
