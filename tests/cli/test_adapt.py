"""``trackreid-adapt``: from a video to weights the tracker uses, resumable; refused in one line when the tracks
hold nothing to learn from."""
import json

import numpy as np

from tests._pipeline_data import make_sequence
from trackreid.cli.adapt import main

QUICK = ["--steps", "2", "--batch", "3", "2", "--export", "none", "--quiet"]


def test_adapt_writes_weights_with_their_thresholds_and_resumes(tmp_path, capsys):
    from trackreid.reid.encoder import build_encoder

    seq = make_sequence(tmp_path, "SEQ", frames=24, video=False, images=True)
    out = tmp_path / "adapt"
    args = [str(seq), "--detector", str(seq / "det" / "det.txt"), "--output", str(out), "--device", "cpu"]
    assert main(args + QUICK) == 0, capsys.readouterr().err
    summary = json.loads((out / "adapt.json").read_text())
    assert summary["labels"]["labels"] == 3 and summary["labels"]["covisible_pairs"] == 3  # three walkers
    assert summary["training"]["steps"] == 2 and summary["sources"][0]["frames"] == 24
    enc = build_encoder(weights=str(out / "reid.pt"), device="cpu")
    assert enc.thresholds is not None and enc.thresholds.to_dict() == summary["thresholds"]
    emb = enc(np.zeros((240, 320, 3), np.uint8), np.array([[10, 10, 40, 80]], np.float32))
    assert emb.shape == (1, 512)
    # more steps on the same footage: the crops and the last checkpoint are reused, training goes on from step 2
    assert main(args + ["--resume", "--steps", "3", "--batch", "3", "2", "--export", "none", "--quiet"]) == 0
    summary = json.loads((out / "adapt.json").read_text())
    assert summary["training"]["steps"] == 3 and summary["sources"][0]["frames"] == 24


def test_footage_with_nothing_to_learn_is_refused_in_one_line(tmp_path, capsys):
    seq = make_sequence(tmp_path, "ONE", frames=12, video=False, images=True)
    det = seq / "det" / "det.txt"
    rows = [line for line in det.read_text().splitlines() if line]
    det.write_text("\n".join(rows[::3]) + "\n")  # the first walker only (three detections per frame)
    code = main([str(seq), "--detector", str(det), "--output", str(tmp_path / "a"), "--device", "cpu"] + QUICK)
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "two people in view together" in err


def test_several_sources_each_with_its_det_txt_and_blend_zero_keeps_the_start(tmp_path, capsys):
    import torch

    from trackreid.adapt.run import start_encoder

    seqs = [make_sequence(tmp_path, name, frames=16, video=False, images=True) for name in ("CAM1", "CAM2")]
    dets = [str(s / "det" / "det.txt") for s in seqs]
    out = tmp_path / "adapt"
    args = [*map(str, seqs), "--detector", *dets, "--output", str(out), "--device", "cpu"]
    assert main(args + QUICK + ["--blend", "0"]) == 0, capsys.readouterr().err
    summary = json.loads((out / "adapt.json").read_text())
    assert [s["frames"] for s in summary["sources"]] == [16, 16] and summary["config"]["blend"] == 0
    written = torch.load(out / "reid.pt", map_location="cpu", weights_only=False)["state_dict"]
    start = start_encoder()[1].state_dict
    assert all(torch.equal(written[k], start[k]) for k in written if written[k].is_floating_point())
    code = main([*map(str, seqs), "--detector", dets[0], dets[1], dets[0], "--output", str(tmp_path / "b"),
                 "--device", "cpu"] + QUICK)
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "3 detectors for 2 sources" in err
