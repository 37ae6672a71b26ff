from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.io import savemat

from trackreid.train.datasets import DatasetLayoutError, build_dataset, camera_from_name, folder_dataset

from .conftest import person_image, write_market


def test_market_protocol_junk_distractors_relabel(market_dir):
    ds = build_dataset("market1501", market_dir)
    # training ids relabelled to 0..C-1, cameras 0-based
    assert sorted({p for _, p, _ in ds.train}) == list(range(8))
    assert {c for _, _, c in ds.train} == {0, 1}
    assert ds.num_train_pids == 8 and ds.num_train_cams == 2
    # junk (-1) dropped, distractors (0) kept in the gallery, original test ids kept
    g_pids = {p for _, p, _ in ds.gallery}
    assert -1 not in g_pids and 0 in g_pids
    assert {p for _, p, _ in ds.query} == set(range(9, 15))
    assert len(ds.query) == 12 and len(ds.gallery) == 6 * 2 * 2 + 1
    assert ds.has_camids


def test_market_nested_folder_is_found(tmp_path):
    write_market(tmp_path / "market1501" / "Market-1501-v15.09.15")
    assert build_dataset("market1501", tmp_path).num_train_pids == 8
    write_market(tmp_path / "d" / "DukeMTMC-reID")
    assert build_dataset("dukemtmcreid", tmp_path / "d").name == "dukemtmcreid"


def test_missing_empty_and_foreign_layouts_are_clear_errors(tmp_path):
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        build_dataset("market1501", tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetLayoutError, match="bounding_box_train.*query.*bounding_box_test"):
        build_dataset("market1501", tmp_path / "empty")
    # a Market layout with an empty folder
    root = write_market(tmp_path / "m")
    for f in (root / "query").iterdir():
        f.unlink()
    with pytest.raises(DatasetLayoutError, match="holds no images"):
        build_dataset("market1501", root)
    # a folder of another layout (names without PPPP_cC)
    other = tmp_path / "other"
    for s in ("bounding_box_train", "query", "bounding_box_test"):
        (other / s).mkdir(parents=True)
        cv2.imwrite(str(other / s / "img001.jpg"), np.zeros((8, 4, 3), np.uint8))
    with pytest.raises(DatasetLayoutError, match="another layout"):
        build_dataset("market1501", other)
    with pytest.raises(ValueError, match="unknown dataset"):
        build_dataset("imagenet", tmp_path)
    with pytest.raises(DatasetLayoutError, match="list_train.txt"):
        build_dataset("msmt17", tmp_path / "empty")
    with pytest.raises(DatasetLayoutError, match="cuhk03_new_protocol_config_labeled.mat"):
        build_dataset("cuhk03", tmp_path / "empty")


def _img(path: Path, pid: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), person_image(pid, np.random.default_rng(pid)))


@pytest.mark.parametrize("version,train_dir,test_dir", [("MSMT17_V1", "train", "test"),
                                                        ("MSMT17_V2", "mask_train_v2", "mask_test_v2")])
def test_msmt17_list_files(tmp_path, version, train_dir, test_dir):
    base = tmp_path / version
    lines = {"train": [], "val": [], "query": [], "gallery": []}
    for pid in (0, 1, 2):
        for cam in (1, 3):
            rel = f"{pid:04d}/{pid:04d}_011_{cam:02d}_0303morning_0015_0.jpg"
            _img(base / train_dir / rel, pid)
            lines["train" if pid < 2 else "val"].append(f"{rel} {pid}")
    for pid in (5, 6):
        for cam, split in ((2, "query"), (4, "gallery"), (5, "gallery")):
            rel = f"{pid:04d}/{pid:04d}_000_{cam:02d}_0303noon_0001_1.jpg"
            _img(base / test_dir / rel, pid)
            lines[split].append(f"{rel} {pid}")
    for k, v in lines.items():
        (base / f"list_{k}.txt").write_text("\n".join(v) + "\n")
    for root in (tmp_path, base):  # the folder holding MSMT17_Vn, or that folder itself
        ds = build_dataset("msmt17", root)
    assert ds.num_train_pids == 3 and len(ds.train) == 6  # train + val
    assert {c for _, _, c in ds.train} == {0, 2}
    assert [(p, c) for _, p, c in ds.query] == [(5, 1), (6, 1)]
    assert len(ds.gallery) == 4 and all(Path(p).is_file() for p, _, _ in ds.gallery)


def test_cuhk03_new_protocol_from_official_files(tmp_path):
    names, labels, cams = [], [], []
    for pid in range(1, 7):
        for cam in (1, 2):
            for k in (1, 2):
                name = f"1_{pid:03d}_{cam}_{k + (5 if cam == 2 else 0):02d}.png"
                _img(tmp_path / "images_labeled" / name, pid)
                names.append(name)
                labels.append(pid)
                cams.append(cam)
    idx = np.arange(1, len(names) + 1)  # MATLAB is 1-based
    train_idx = idx[np.array(labels) <= 3]
    test = idx[np.array(labels) > 3]
    query_idx = test[::4]
    gallery_idx = np.setdiff1d(test, query_idx)
    savemat(tmp_path / "cuhk03_new_protocol_config_labeled.mat", {
        "filelist": np.array(names, dtype=object).reshape(-1, 1), "labels": np.array(labels).reshape(-1, 1),
        "camId": np.array(cams).reshape(-1, 1), "train_idx": train_idx.reshape(-1, 1),
        "query_idx": query_idx.reshape(-1, 1), "gallery_idx": gallery_idx.reshape(-1, 1)})
    ds = build_dataset("cuhk03_labeled", tmp_path)
    assert ds.num_train_pids == 3 and len(ds.train) == 12
    assert {c for _, _, c in ds.train} == {0, 1}
    assert {p for _, p, _ in ds.query} == {4, 5, 6} and len(ds.query) + len(ds.gallery) == 12
    with pytest.raises(DatasetLayoutError, match="images_detected"):
        savemat(tmp_path / "cuhk03_new_protocol_config_detected.mat", {
            "filelist": np.array(names, dtype=object).reshape(-1, 1), "labels": np.array(labels).reshape(-1, 1),
            "camId": np.array(cams).reshape(-1, 1), "train_idx": train_idx.reshape(-1, 1),
            "query_idx": query_idx.reshape(-1, 1), "gallery_idx": gallery_idx.reshape(-1, 1)})
        build_dataset("cuhk03_detected", tmp_path)


def test_cuhk03_market_style_conversion(tmp_path):
    write_market(tmp_path / "cuhk03-np" / "detected")
    ds = build_dataset("cuhk03_detected", tmp_path)
    assert ds.name == "cuhk03_detected" and ds.num_train_pids == 8


def test_camera_from_name():
    assert camera_from_name("0001_c3s1_0001.jpg") == 2
    assert camera_from_name("cam2_17.png") == 1
    assert camera_from_name("camera-4_x.png") == 3
    assert camera_from_name("frame_0012.jpg") == -1
    assert camera_from_name("crop12.jpg") == -1


def test_folder_dataset_with_and_without_cameras(tmp_path):
    rng = np.random.default_rng(0)
    for pid in range(6):
        for k in range(4):
            d = tmp_path / "nocam" / f"person_{pid}"
            d.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(d / f"{k:03d}.jpg"), person_image(pid, rng))
            d2 = tmp_path / "cam" / f"person_{pid}"
            d2.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(d2 / f"img_c{k % 2 + 1}_{k:03d}.jpg"), person_image(pid, rng))
    ds = build_dataset("folder", tmp_path / "nocam")
    assert ds.num_train_pids == 3 and not ds.has_camids
    assert len(ds.query) == 3 and len(ds.gallery) == 9  # first image of each held-out identity is its query
    ds2 = build_dataset("folder", tmp_path / "cam")
    assert ds2.has_camids and len(ds2.query) == 6  # one query per camera per held-out identity
    with pytest.raises(DatasetLayoutError, match="one sub-folder per identity"):
        build_dataset("folder", tmp_path / "nocam" / "person_0")
    write_market(tmp_path / "market")
    with pytest.raises(DatasetLayoutError, match="use --data market_layout"):
        build_dataset("folder", tmp_path / "market")
    with pytest.raises(DatasetLayoutError, match="fewer than 2 training identities"):
        folder_dataset(tmp_path / "nocam", test_fraction=0.8)


def test_folder_dataset_explicit_splits(tmp_path):
    rng = np.random.default_rng(1)
    for split, pids in (("train", (0, 1, 2)), ("query", (7, 8)), ("gallery", (7, 8, 9))):
        for pid in pids:
            d = tmp_path / split / f"id{pid}"
            d.mkdir(parents=True)
            cv2.imwrite(str(d / "a.jpg"), person_image(pid, rng))
    ds = build_dataset("folder", tmp_path)
    assert ds.num_train_pids == 3 and len(ds.query) == 2 and len(ds.gallery) == 3
    q = {Path(p).parent.name: pid for p, pid, _ in ds.query}
    g = {Path(p).parent.name: pid for p, pid, _ in ds.gallery}
    assert q["id7"] == g["id7"] and q["id8"] == g["id8"]


def _write_cuhk03_release(path: Path, kind: str, persons: tuple[int, ...]) -> None:
    """A tiny ``cuhk-03.mat`` as MATLAB v7.3 writes it (HDF5, every array stored transposed): ``kind`` holds one
    reference per camera pair to a (10 images x persons) array of image references; image (c, p, i) is a solid
    colour (c, p, i) * 20, and slot 9 of every person is empty, as unused slots are in the release."""
    import h5py

    with h5py.File(path, "w") as f:
        refs = f.create_group("#refs#")
        pairs = []
        for c, n in enumerate(persons):
            cells = np.empty((10, n), dtype=h5py.ref_dtype)
            for p in range(n):
                for i in range(10):
                    if i == 9:
                        data = np.zeros(2, np.uint64)  # an empty cell
                    else:
                        rgb = np.empty((16, 8, 3), np.uint8)
                        rgb[:] = (c * 20, p * 20, i * 20)
                        data = rgb.T
                    cells[i, p] = refs.create_dataset(f"img_{c}_{p}_{i}", data=data).ref
            pairs.append(refs.create_dataset(f"pair_{c}", data=cells).ref)
        f.create_dataset(kind, data=np.array([pairs], dtype=h5py.ref_dtype))


def test_cuhk03_raw_release_is_extracted_with_the_right_people(tmp_path):
    pytest.importorskip("h5py")
    (tmp_path / "cuhk03_release").mkdir()
    _write_cuhk03_release(tmp_path / "cuhk03_release" / "cuhk-03.mat", "detected", persons=(3, 2))
    names, labels, cams = [], [], []
    for c, n in enumerate((3, 2)):
        for p in range(n):
            for i in (0, 1, 5, 6):
                names.append(f"{c + 1}_{p + 1:03d}_{1 if i < 5 else 2}_{i + 1:02d}.png")
                labels.append(c * 10 + p + 1)
                cams.append(2 * c + (1 if i < 5 else 2))
    idx = np.arange(1, len(names) + 1)
    lab = np.array(labels)
    test = idx[lab > 2]
    savemat(tmp_path / "cuhk03_new_protocol_config_detected.mat", {
        "filelist": np.array(names, dtype=object).reshape(-1, 1), "labels": lab.reshape(-1, 1),
        "camId": np.array(cams).reshape(-1, 1), "train_idx": idx[lab <= 2].reshape(-1, 1),
        "query_idx": test[::4].reshape(-1, 1), "gallery_idx": np.setdiff1d(test, test[::4]).reshape(-1, 1)})
    ds = build_dataset("cuhk03_detected", tmp_path)
    assert ds.num_train_pids == 2 and len(ds.train) == 8 and len(ds.query) + len(ds.gallery) == 12
    for c, p, i in ((0, 2, 6), (1, 1, 0), (0, 0, 1)):
        img = cv2.imread(str(tmp_path / "images_detected" / f"{c + 1}_{p + 1:03d}_{1 if i < 5 else 2}_{i + 1:02d}.png"))
        assert img.shape == (16, 8, 3) and img[0, 0].tolist() == [i * 20, p * 20, c * 20]  # BGR of (c, p, i)
    assert not (tmp_path / "images_detected" / "1_001_2_10.png").exists()     # empty slots are skipped


def test_cuhk03_raw_release_needs_h5py_or_extracted_images(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "h5py", None)  # as if h5py were not installed
    savemat(tmp_path / "cuhk03_new_protocol_config_detected.mat", {
        k: np.array([[1]]) for k in ("labels", "camId", "train_idx", "query_idx", "gallery_idx")} | {
        "filelist": np.array(["a.png"], dtype=object)})
    (tmp_path / "cuhk03_release").mkdir()
    (tmp_path / "cuhk03_release" / "cuhk-03.mat").write_bytes(b"\x89HDF\r\n")
    with pytest.raises(DatasetLayoutError, match="h5py"):
        build_dataset("cuhk03_detected", tmp_path)


def test_cuhk03_protocol_file_without_its_keys_is_a_clear_error(tmp_path):
    savemat(tmp_path / "cuhk03_new_protocol_config_labeled.mat", {"filelist": np.array(["a.png"], dtype=object)})
    with pytest.raises(DatasetLayoutError, match="lacks labels, camId"):
        build_dataset("cuhk03_labeled", tmp_path)
