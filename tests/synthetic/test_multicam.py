"""Multi-camera sites: people walk from camera to camera with global ids; topology.yaml matches the ground truth."""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from trackreid.synthetic import (MulticamConfig, generate_multicam, load_sprites, main, write_market_dataset,
                                 write_multicam)


@pytest.fixture(scope="module")
def site():
    return generate_multicam(MulticamConfig(num_cameras=3, num_people=12, num_frames=600, width=320, height=180,
                                            seed=2))


def test_people_walk_between_cameras_with_global_ids(site):
    assert site.names == ["CAM1", "CAM2", "CAM3"] and len(site.scenes) == 3
    ids = [set(np.unique(sc.gt[:, 1]).astype(int)) for sc in site.scenes]
    assert set().union(*ids) <= set(range(1, 13))
    per_person = {p: sum(p in s for s in ids) for p in range(1, 13)}
    assert sum(v >= 2 for v in per_person.values()) >= 6            # most people are seen by two cameras or more
    tr = site.transits()
    assert tr and all(abs(a - b) == 1 for _, a, b, _ in tr)          # only neighbouring cameras connect
    over = [d for _, a, b, d in tr if min(a, b) == 0]                 # CAM1-CAM2 overlap
    far = [d for _, a, b, d in tr if min(a, b) == 1]                  # CAM2-CAM3 do not
    assert over and far and max(over) < 0 and min(far) > 0
    # the same person looks the same in every camera (shared appearance), cameras differ in noise and ground
    assert site.scenes[0].people is site.scenes[1].people
    assert not np.array_equal(site.scenes[0].render(1), site.scenes[1].render(1))


def test_topology_covers_every_transit(site, tmp_path):
    root = write_multicam(site, tmp_path / "site")
    topo = yaml.safe_load((root / "topology.yaml").read_text())
    assert topo["cameras"] == ["CAM1", "CAM2", "CAM3"] and topo["fps"] == 30.0
    links = {tuple(l["cameras"]): l for l in topo["links"]}
    assert set(links) == {("CAM1", "CAM2"), ("CAM2", "CAM3")}
    assert links[("CAM1", "CAM2")]["overlap"] and not links[("CAM2", "CAM3")]["overlap"]
    for _, a, b, d in site.transits():
        link = links[tuple(sorted((f"CAM{a + 1}", f"CAM{b + 1}")))]
        assert link["min_transit_frames"] <= d <= link["max_transit_frames"]
    # the tracker's topology reader takes this file as it is
    from trackreid.tracking.global_ids import Topology

    t = Topology.load(site.names, root / "topology.yaml")
    assert t.lo[0, 1] == t.lo[1, 0] == links[("CAM1", "CAM2")]["min_transit_frames"] < 0
    assert t.hi[1, 2] == links[("CAM2", "CAM3")]["max_transit_frames"] and np.isinf(t.lo[0, 2])
    for cam, sc in zip(site.names, site.scenes):
        gt = np.loadtxt(root / cam / "gt" / "gt.txt", delimiter=",", ndmin=2)
        np.testing.assert_allclose(gt, sc.gt, atol=0.01)
        assert (root / cam / "det" / "det.txt").is_file() and (root / cam / "seqinfo.ini").is_file()
        assert len(list((root / cam / "img1").glob("*.jpg"))) == 600


def test_deterministic_and_validated():
    c = MulticamConfig(num_cameras=2, num_people=4, num_frames=120, width=160, height=120, seed=5)
    a, b = generate_multicam(c), generate_multicam(c)
    for x, y in zip(a.scenes, b.scenes):
        np.testing.assert_array_equal(x.gt, y.gt)
        np.testing.assert_array_equal(x.detections, y.detections)
    with pytest.raises(ValueError, match="num_cameras"):
        MulticamConfig(num_cameras=1)
    with pytest.raises(ValueError, match="transit"):
        MulticamConfig(transit=(5.0, 1.0))
    with pytest.raises(ValueError, match="num_people"):
        MulticamConfig(num_people=0)


def test_cli_multicam_with_sprites(tmp_path):
    mk = write_market_dataset(tmp_path / "mk", num_train_ids=5, num_test_ids=1, num_cameras=2, seed=0,
                              num_distractors=1, num_junk=1)
    assert main(["multicam", str(tmp_path / "site"), "--cameras", "2", "--people", "5", "--frames", "90",
                 "--width", "240", "--height", "160", "--seed", "1", "--sprites", str(mk)]) == 0
    for cam in ("CAM1", "CAM2"):
        assert (tmp_path / "site" / cam / "img1" / "000090.jpg").is_file()
    assert (tmp_path / "site" / "topology.yaml").is_file()
    assert len(load_sprites(mk)) == 5
    assert main(["multicam", str(tmp_path / "bad"), "--cameras", "2", "--people", "9", "--frames", "30",
                 "--width", "160", "--height", "120", "--sprites", str(mk)]) == 1
