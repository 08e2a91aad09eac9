"""Uploading datasets while a run still reads an earlier one must leave that run's data untouched."""

import hashlib
import os
import threading

import numpy as np

from fixtures_data import class_tree, write_zip
from tl_core.datasets import DATASET_FILE, load_split, open_dataset
from tl_core.images import load_resized


def snapshot(folder):
    """Return {relative path: sha256} of every file under `folder`, the cache folder excluded."""
    result = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_file() and not relative.startswith("cache/"):
            result[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return result


def test_new_uploads_leave_running_dataset(tmp_path):
    data_root = tmp_path / "data"
    upload = tmp_path / "uploads" / "pets.zip"
    upload.parent.mkdir()
    write_zip(upload, class_tree({"cats": 6, "dogs": 6}, seed=1))
    first = open_dataset(upload, data_root)
    before = snapshot(first.folder)
    dataset_json = (first.folder / DATASET_FILE).read_bytes()

    # A "training run" reads the train split and pauses after the first image.
    paused = threading.Event()
    resume = threading.Event()
    result = {}

    def progress(done, total):
        if done == 1:
            paused.set()
            assert resume.wait(timeout=30)

    def read_split():
        result["arrays"] = load_split(first, "train", 16, progress=progress)

    reader = threading.Thread(target=read_split)
    reader.start()
    assert paused.wait(timeout=30)

    # Meanwhile: another dataset, a new zip saved under the same name, and
    # the first zip once more.
    other = open_dataset(write_zip(tmp_path / "uploads" / "birds.zip", class_tree({"owls": 3, "crows": 3})), data_root)
    write_zip(upload, class_tree({"cats": 4, "dogs": 4, "fish": 4}, seed=2))
    replaced = open_dataset(upload, data_root)
    write_zip(upload, class_tree({"cats": 6, "dogs": 6}, seed=1))
    again = open_dataset(upload, data_root)
    during = snapshot(first.folder)

    resume.set()
    reader.join(timeout=60)

    assert not reader.is_alive()
    assert during == before
    assert snapshot(first.folder) == before
    assert (first.folder / DATASET_FILE).read_bytes() == dataset_json
    assert replaced.dataset_id != first.dataset_id
    assert other.dataset_id != first.dataset_id
    assert again.dataset_id == first.dataset_id
    assert again.items == first.items

    images, labels = result["arrays"]
    expected = np.stack([load_resized(first.root / path, 16) for path, _ in first.items["train"]])
    assert np.array_equal(images, expected)
    assert labels.tolist() == [label for _, label in first.items["train"]]


def test_live_build_folder_kept(tmp_path):
    # A build folder of another live process (the parent of this one) is
    # another upload in progress and must survive a new upload.
    datasets_dir = tmp_path / "data" / "datasets"
    build = datasets_dir / f".build-other-0123456789ab-{os.getppid()}-abcd1234"
    (build / "files").mkdir(parents=True)
    (build / "files" / "a.png").write_bytes(b"A")

    open_dataset(write_zip(tmp_path / "pets.zip", class_tree({"cats": 3, "dogs": 3})), tmp_path / "data")

    assert (build / "files" / "a.png").read_bytes() == b"A"


def test_dead_build_folder_removed(tmp_path):
    datasets_dir = tmp_path / "data" / "datasets"
    dead_pid = 2**22 + 12345  # above 4194304, the largest pid_max Linux allows
    build = datasets_dir / f".build-other-0123456789ab-{dead_pid}-abcd1234"
    build.mkdir(parents=True)

    open_dataset(write_zip(tmp_path / "pets.zip", class_tree({"cats": 3, "dogs": 3})), tmp_path / "data")

    assert not build.exists()
