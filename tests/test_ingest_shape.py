"""Dataset shapes: one class, one image, heavy imbalance, duplicates across splits, 100 classes."""

import pytest

from fixtures_data import class_tree, find_notice, notice_codes, write_zip
from tl_core.datasets import DATASET_ERROR_CODES, NOTICE_CODES, ingest
from tl_core.errors import DatasetError


def ingest_zip(tmp_path, files, **kwargs):
    archive = write_zip(tmp_path / "data.zip", files)
    return ingest(archive, tmp_path / "work", **kwargs)


def test_one_class_error_code(tmp_path):
    with pytest.raises(DatasetError) as caught:
        ingest_zip(tmp_path, class_tree({"cats": 5}))
    assert caught.value.code == "too_few_classes"
    assert caught.value.params["classes"] == ["cats"]
    assert caught.value.code in DATASET_ERROR_CODES


def test_one_image_error_code(tmp_path):
    with pytest.raises(DatasetError, match=r"Class 'dogs' has 1 usable image.*Add images to 'dogs'") as caught:
        ingest_zip(tmp_path, class_tree({"cats": 3, "dogs": 1}))
    assert caught.value.code == "too_few_images"
    assert caught.value.params == {"class": "dogs", "count": 1, "min_images": 2}


def test_heavy_imbalance_split_per_class(tmp_path):
    dataset = ingest_zip(tmp_path, class_tree({"common": 60, "rare": 3, "scarce": 4}))

    assert dataset.report.counts["common"] == {"train": 42, "val": 9, "test": 9}
    assert dataset.report.counts["rare"] == {"train": 1, "val": 1, "test": 1}
    assert dataset.report.counts["scarce"] == {"train": 2, "val": 1, "test": 1}
    params = find_notice(dataset, "imbalance").params
    assert params["max_class"] == "common"
    assert params["min_class"] == "rare"
    assert params["ratio"] == 20.0


def test_imbalance_every_class_every_split(tmp_path):
    dataset = ingest_zip(tmp_path, class_tree({"a": 200, "b": 3, "c": 5, "d": 17}))
    for name, counts in dataset.report.counts.items():
        for split, count in counts.items():
            assert count >= 1, (name, split)


def test_hundred_classes(tmp_path):
    names = [f"class_{index:03d}" for index in range(100)]
    dataset = ingest_zip(tmp_path, class_tree({name: 3 for name in names}))

    assert dataset.classes == names
    assert dataset.counts() == {"train": 100, "val": 100, "test": 100}
    for split, pairs in dataset.items.items():
        assert sorted(label for _, label in pairs) == list(range(100)), split
        for path, label in pairs:
            assert path.startswith(names[label] + "/"), path
    assert len(find_notice(dataset, "tiny_class").params["classes"]) == 100


def test_duplicates_across_classes_and_splits(tmp_path):
    files = {}
    files.update(class_tree({"cats": 4, "dogs": 4}, prefix="train/", seed=1))
    files.update(class_tree({"cats": 2, "dogs": 2}, prefix="test/", seed=2))
    files["test/cats/leak.png"] = files["train/cats/img_000.png"]
    files["train/dogs/mislabelled.png"] = files["train/cats/img_001.png"]
    dataset = ingest_zip(tmp_path, files)

    assert notice_codes(dataset) >= {"duplicate_across_splits", "duplicate_across_classes"}
    leak = find_notice(dataset, "duplicate_across_splits").params["groups"]
    assert leak == [["test/cats/leak.png", "train/cats/img_000.png"]]
    contradiction = find_notice(dataset, "duplicate_across_classes").params["groups"]
    assert contradiction == [["train/cats/img_001.png", "train/dogs/mislabelled.png"]]


def test_notice_codes_documented(tmp_path):
    files = class_tree({"cats": 30, "dogs": 4})
    files["dogs/copy.png"] = files["dogs/img_000.png"]
    dataset = ingest_zip(tmp_path, files)
    assert notice_codes(dataset)
    for code in notice_codes(dataset):
        assert code in NOTICE_CODES, code
