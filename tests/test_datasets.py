from pathlib import Path

import numpy as np
import pytest

from fixtures_data import class_tree, png_bytes, write_legacy_name_zip, write_tree, write_zip
from tl_core.archive import ExtractLimits
from tl_core.datasets import Dataset, ingest, load_split, open_dataset
from tl_core.errors import ArchiveError, DatasetError

SAMPLE_ZIP = Path(__file__).resolve().parent.parent / "assets" / "samples" / "fashion_mnist_5.zip"


def ingest_zip(tmp_path, files, **kwargs):
    archive = write_zip(tmp_path / "data.zip", files)
    return ingest(archive, tmp_path / "work", **kwargs)


def skipped_codes(dataset):
    return {item.path: item.code for item in dataset.report.skipped}


def notice(dataset, code):
    found = [item for item in dataset.report.warnings if item.code == code]
    assert len(found) == 1, f"expected one {code!r} notice, got {dataset.report.warnings}"
    return found[0]


def notice_codes(dataset):
    return {item.code for item in dataset.report.warnings}


def test_sample_zip_five_classes(tmp_path):
    dataset = ingest(SAMPLE_ZIP, tmp_path / "work")
    assert dataset.classes == ["ankle_boot", "bag", "sneaker", "trouser", "tshirt_top"]
    for name in dataset.classes:
        assert dataset.report.counts[name] == {"train": 70, "val": 15, "test": 15}, name
    assert dataset.counts() == {"train": 350, "val": 75, "test": 75}
    assert dataset.report.skipped == []
    assert dataset.report.split_source == "random"


def test_sample_zip_under_2mb():
    assert SAMPLE_ZIP.stat().st_size < 2 * 1024**2


def test_split_deterministic_for_seed(tmp_path):
    archive = write_zip(tmp_path / "data.zip", class_tree({"cats": 20, "dogs": 20}))
    first = ingest(archive, tmp_path / "w1", seed=7)
    second = ingest(archive, tmp_path / "w2", seed=7)
    other = ingest(archive, tmp_path / "w3", seed=8)
    assert first.items == second.items
    assert first.items != other.items


def test_split_ids_differ_by_seed(tmp_path):
    archive = write_zip(tmp_path / "data.zip", class_tree({"cats": 3, "dogs": 3}))
    first = ingest(archive, tmp_path / "w1", seed=1)
    second = ingest(archive, tmp_path / "w2", seed=2)
    assert first.dataset_id != second.dataset_id


def test_three_images_cover_every_split(tmp_path):
    dataset = ingest_zip(tmp_path, class_tree({"cats": 3, "dogs": 4}))
    for name in ("cats", "dogs"):
        counts = dataset.report.counts[name]
        assert all(counts[split] >= 1 for split in ("train", "val", "test")), (name, counts)


def test_two_images_train_and_test(tmp_path):
    dataset = ingest_zip(tmp_path, class_tree({"cats": 2, "dogs": 12}))
    assert dataset.report.counts["cats"] == {"train": 1, "val": 0, "test": 1}


def test_items_paths_and_labels(tmp_path):
    dataset = ingest_zip(tmp_path, class_tree({"cats": 3, "dogs": 3}))
    for split, pairs in dataset.items.items():
        for path, label in pairs:
            assert (dataset.root / path).is_file(), path
            assert path.split("/")[0] == dataset.classes[label], (split, path)


def test_macos_metadata_skipped(tmp_path):
    files = class_tree({"cats": 3, "dogs": 3})
    files["__MACOSX/cats/._img_000.png"] = b"\x00\x05\x16\x07"
    files["cats/._img_000.png"] = b"\x00\x05\x16\x07"
    files[".DS_Store"] = b"\x00\x00\x00\x01Bud1"
    files["dogs/.DS_Store"] = b"\x00\x00\x00\x01Bud1"
    dataset = ingest_zip(tmp_path, files)

    codes = skipped_codes(dataset)
    assert codes["__MACOSX"] == "system_file"
    assert codes["cats/._img_000.png"] == "system_file"
    assert codes[".DS_Store"] == "system_file"
    assert codes["dogs/.DS_Store"] == "system_file"
    assert dataset.report.total() == 6
    assert dataset.classes == ["cats", "dogs"]


def test_thumbs_db_skipped(tmp_path):
    files = class_tree({"cats": 3, "dogs": 3})
    files["cats/Thumbs.db"] = b"thumbs"
    files["dogs/desktop.ini"] = b"[.ShellClassInfo]"
    dataset = ingest_zip(tmp_path, files)
    assert skipped_codes(dataset) == {"cats/Thumbs.db": "system_file", "dogs/desktop.ini": "system_file"}


def test_hidden_folder_skipped(tmp_path):
    files = class_tree({"cats": 3, "dogs": 3})
    files[".git/config"] = b"x"
    dataset = ingest_zip(tmp_path, files)
    assert skipped_codes(dataset) == {".git": "hidden"}


def test_wrapping_folders_entered(tmp_path):
    dataset = ingest_zip(tmp_path, class_tree({"cats": 3, "dogs": 3}, prefix="export/my_set/"))
    assert dataset.classes == ["cats", "dogs"]
    assert dataset.report.total() == 6


def test_split_folders_used(tmp_path):
    files = {}
    files.update(class_tree({"cats": 4, "dogs": 5}, prefix="set/train/", seed=1))
    files.update(class_tree({"cats": 2, "dogs": 1}, prefix="set/valid/", seed=2))
    files.update(class_tree({"cats": 1, "dogs": 2, "birds": 2}, prefix="set/test/", seed=3))
    dataset = ingest_zip(tmp_path, files)

    assert dataset.report.split_source == "folders"
    assert dataset.classes == ["birds", "cats", "dogs"]
    assert dataset.report.counts["cats"] == {"train": 4, "val": 2, "test": 1}
    assert dataset.report.counts["dogs"] == {"train": 5, "val": 1, "test": 2}
    assert dataset.report.counts["birds"] == {"train": 0, "val": 0, "test": 2}
    assert notice(dataset, "missing_in_split").params == {"class": "birds", "splits": ["train", "val"]}


def test_missing_test_folder_carved(tmp_path):
    files = {}
    files.update(class_tree({"cats": 17, "dogs": 17}, prefix="train/", seed=1))
    files.update(class_tree({"cats": 3, "dogs": 3}, prefix="val/", seed=2))
    dataset = ingest_zip(tmp_path, files)

    # test share carved from train: 0.15 / (0.7 + 0.15) of 17 images, rounded.
    assert dataset.report.counts["cats"] == {"train": 14, "val": 3, "test": 3}
    assert notice(dataset, "split_carved").params == {"split": "test", "count": 6}


def test_folder_next_to_splits_skipped(tmp_path):
    files = {}
    files.update(class_tree({"cats": 3, "dogs": 3}, prefix="train/", seed=1))
    files.update(class_tree({"cats": 1, "dogs": 1}, prefix="test/", seed=2))
    files["extras/x.png"] = png_bytes(99)
    dataset = ingest_zip(tmp_path, files)
    assert skipped_codes(dataset) == {"extras": "extra_folder"}


def test_loose_images_skipped(tmp_path):
    files = class_tree({"cats": 3, "dogs": 3})
    files["stray.jpg"] = png_bytes(50)
    files["cover.png"] = png_bytes(51)
    dataset = ingest_zip(tmp_path, files)

    assert skipped_codes(dataset) == {"cover.png": "loose_file", "stray.jpg": "loose_file"}
    assert notice(dataset, "loose_files").params["count"] == 2
    assert dataset.report.total() == 6


def test_empty_class_dropped(tmp_path):
    files = class_tree({"cats": 3, "dogs": 3})
    files["birds/"] = b""
    files["fish/readme.txt"] = b"todo"
    dataset = ingest_zip(tmp_path, files)
    assert dataset.classes == ["cats", "dogs"]
    assert notice(dataset, "empty_class").params == {"classes": ["birds", "fish"]}


def test_class_subfolders_included(tmp_path):
    files = class_tree({"cats": 2, "dogs": 3})
    files["cats/indoor/extra_1.png"] = png_bytes(70)
    files["cats/indoor/deep/extra_2.png"] = png_bytes(71)
    dataset = ingest_zip(tmp_path, files)
    assert sum(dataset.report.counts["cats"].values()) == 4


def test_mixed_case_extensions(tmp_path):
    files = {
        "cats/a.JPG": png_bytes(1),
        "cats/b.Png": png_bytes(2),
        "dogs/c.JPEG": png_bytes(3),
        "dogs/d.png": png_bytes(4),
    }
    dataset = ingest_zip(tmp_path, files)
    assert dataset.report.total() == 4
    assert dataset.report.skipped == []


def test_non_image_file_skipped(tmp_path):
    files = class_tree({"cats": 3, "dogs": 3})
    files["cats/notes.txt"] = b"hello"
    files["dogs/layers.psd"] = b"8BPS"
    dataset = ingest_zip(tmp_path, files)

    codes = skipped_codes(dataset)
    assert codes == {"cats/notes.txt": "unsupported_type", "dogs/layers.psd": "unsupported_type"}
    reasons = {item.path: item.reason for item in dataset.report.skipped}
    assert "Photoshop" in reasons["dogs/layers.psd"]


def test_truncated_image_skipped(tmp_path):
    files = class_tree({"cats": 3, "dogs": 3})
    whole = png_bytes(80, size=(64, 64))
    files["cats/cut.png"] = whole[: len(whole) // 2]
    dataset = ingest_zip(tmp_path, files)
    assert skipped_codes(dataset) == {"cats/cut.png": "truncated"}
    assert dataset.report.total() == 6


def test_zero_byte_image_skipped(tmp_path):
    files = class_tree({"cats": 3, "dogs": 3})
    files["dogs/empty.jpg"] = b""
    dataset = ingest_zip(tmp_path, files)
    assert skipped_codes(dataset) == {"dogs/empty.jpg": "empty_file"}


def test_fake_image_skipped(tmp_path):
    files = class_tree({"cats": 3, "dogs": 3})
    files["dogs/fake.jpg"] = b"<html>not an image</html>"
    dataset = ingest_zip(tmp_path, files)
    assert skipped_codes(dataset) == {"dogs/fake.jpg": "not_image"}


def test_one_class_rejected(tmp_path):
    with pytest.raises(DatasetError, match=r"Found 1 class \('cats'\).*at least 2 classes"):
        ingest_zip(tmp_path, class_tree({"cats": 5}))


def test_only_loose_images_rejected(tmp_path):
    files = {"a.png": png_bytes(1), "b.png": png_bytes(2)}
    with pytest.raises(DatasetError, match=r"no class folder with images.*2 image\(s\) lie outside"):
        ingest_zip(tmp_path, files)


def test_class_with_one_image_rejected(tmp_path):
    with pytest.raises(DatasetError, match=r"Class 'dogs' has 1 usable image.*at least 2"):
        ingest_zip(tmp_path, class_tree({"cats": 3, "dogs": 1}))


def test_class_left_with_one_image_rejected(tmp_path):
    files = class_tree({"cats": 3, "dogs": 1})
    files["dogs/broken.png"] = b""
    with pytest.raises(DatasetError, match=r"Class 'dogs' has 1 usable image.*dogs/broken.png: file is empty"):
        ingest_zip(tmp_path, files)


def test_parent_entry_reported(tmp_path):
    files = class_tree({"cats": 3, "dogs": 3})
    files["../evil.png"] = png_bytes(90)
    dataset = ingest_zip(tmp_path, files)
    assert skipped_codes(dataset) == {"../evil.png": "unsafe_path"}
    assert not (tmp_path / "work" / "evil.png").exists()


def test_archive_cap_raises(tmp_path):
    with pytest.raises(ArchiveError, match="max_files=4"):
        ingest_zip(tmp_path, class_tree({"cats": 3, "dogs": 3}), limits=ExtractLimits(max_files=4))


def test_gbk_class_names(tmp_path):
    files = class_tree({"猫": 3, "狗": 3}, prefix="动物/")
    archive = write_legacy_name_zip(tmp_path / "gbk.zip", files, "gbk")
    dataset = ingest(archive, tmp_path / "work")
    assert dataset.classes == sorted(["猫", "狗"])


def test_backslash_class_names(tmp_path):
    files = {name.replace("/", "\\"): data for name, data in class_tree({"cats": 3, "dogs": 3}, prefix="set/").items()}
    dataset = ingest_zip(tmp_path, files)
    assert dataset.classes == ["cats", "dogs"]
    assert dataset.report.total() == 6


def test_duplicate_in_class_notice(tmp_path):
    files = class_tree({"cats": 4, "dogs": 4})
    files["cats/copy.png"] = files["cats/img_000.png"]
    dataset = ingest_zip(tmp_path, files)
    assert notice(dataset, "duplicate_in_class").params["groups"] == [["cats/copy.png", "cats/img_000.png"]]
    assert "duplicate_across_classes" not in notice_codes(dataset)
    assert "duplicate_across_splits" not in notice_codes(dataset)


def test_duplicates_stay_in_one_split(tmp_path):
    files = class_tree({"cats": 10, "dogs": 10})
    for index in range(5):
        files[f"cats/copy_{index}.png"] = files["cats/img_000.png"]
    dataset = ingest_zip(tmp_path, files)
    splits_with_copies = {
        split for split, pairs in dataset.items.items() for path, _ in pairs if "copy_" in path or path == "cats/img_000.png"
    }
    assert len(splits_with_copies) == 1


def test_duplicate_across_classes_notice(tmp_path):
    files = class_tree({"cats": 4, "dogs": 4})
    files["dogs/cat_photo.png"] = files["cats/img_001.png"]
    dataset = ingest_zip(tmp_path, files)
    assert notice(dataset, "duplicate_across_classes").params["groups"] == [["cats/img_001.png", "dogs/cat_photo.png"]]


def test_duplicate_across_splits_notice(tmp_path):
    files = {}
    files.update(class_tree({"cats": 3, "dogs": 3}, prefix="train/", seed=1))
    files.update(class_tree({"cats": 2, "dogs": 2}, prefix="test/", seed=2))
    files["test/cats/leak.png"] = files["train/cats/img_000.png"]
    dataset = ingest_zip(tmp_path, files)
    assert notice(dataset, "duplicate_across_splits").params["groups"] == [["test/cats/leak.png", "train/cats/img_000.png"]]


def test_imbalance_and_tiny_notices(tmp_path):
    dataset = ingest_zip(tmp_path, class_tree({"cats": 30, "dogs": 9, "owls": 12}))
    assert notice(dataset, "imbalance").params["ratio"] == pytest.approx(30 / 9, abs=0.01)
    assert notice(dataset, "tiny_class").params["classes"] == {"dogs": 9}


def test_balanced_has_no_notices(tmp_path):
    dataset = ingest_zip(tmp_path, class_tree({"cats": 12, "dogs": 10}))
    assert dataset.report.warnings == []


def test_progress_reports_each_image(tmp_path):
    calls = []
    ingest_zip(tmp_path, class_tree({"cats": 3, "dogs": 4}), progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, 7)
    assert calls[-1] == (7, 7)
    assert len(calls) == 8


def test_folder_source_read_in_place(tmp_path):
    folder = write_tree(tmp_path / "photos", class_tree({"cats": 3, "dogs": 3}))
    dataset = ingest(folder, tmp_path / "work")
    assert dataset.root == folder.resolve()
    assert not (tmp_path / "work").exists()


def test_invalid_split_rejected(tmp_path):
    with pytest.raises(DatasetError, match=r"summing to 1.*\(0\.5, 0\.5, 0\.5\)"):
        ingest_zip(tmp_path, class_tree({"cats": 3, "dogs": 3}), split=(0.5, 0.5, 0.5))


def test_save_load_round_trip(tmp_path):
    dataset = ingest_zip(tmp_path, class_tree({"cats": 3, "dogs": 3}))
    dataset.save(tmp_path / "work" / "dataset.json")
    loaded = Dataset.load(tmp_path / "work" / "dataset.json")
    assert loaded.items == dataset.items
    assert loaded.report == dataset.report
    assert loaded.root == dataset.root
    assert loaded.dataset_id == dataset.dataset_id


def test_open_dataset_reuses_folder(tmp_path):
    archive = write_zip(tmp_path / "pets.zip", class_tree({"cats": 3, "dogs": 3}))
    first = open_dataset(archive, tmp_path / "data")
    calls = []
    second = open_dataset(archive, tmp_path / "data", progress=lambda done, total: calls.append(done))

    assert first.dataset_id.startswith("pets-")
    assert second.dataset_id == first.dataset_id
    assert calls == []
    assert first.folder == tmp_path / "data" / "datasets" / first.dataset_id
    assert sorted(path.name for path in (tmp_path / "data" / "datasets").iterdir()) == [first.dataset_id]
    assert (first.root / first.items["train"][0][0]).is_file()


def test_open_dataset_failure_leaves_nothing(tmp_path):
    archive = write_zip(tmp_path / "one.zip", class_tree({"cats": 3}))
    with pytest.raises(DatasetError):
        open_dataset(archive, tmp_path / "data")
    assert list((tmp_path / "data" / "datasets").iterdir()) == []


def test_load_split_arrays(tmp_path):
    archive = write_zip(tmp_path / "pets.zip", class_tree({"cats": 4, "dogs": 5}))
    dataset = open_dataset(archive, tmp_path / "data")
    images, labels = load_split(dataset, "train", 16)

    assert images.shape == (dataset.counts()["train"], 16, 16, 3)
    assert images.dtype == np.uint8
    assert labels.dtype == np.int32
    assert labels.tolist() == [label for _, label in dataset.items["train"]]


def test_load_split_uses_cache(tmp_path):
    archive = write_zip(tmp_path / "pets.zip", class_tree({"cats": 4, "dogs": 5}))
    dataset = open_dataset(archive, tmp_path / "data")
    images, _ = load_split(dataset, "test", 16)
    assert len(list((dataset.folder / "cache").glob("test_16_*.npy"))) == 1

    # Deleting the sources proves that the second call reads the cache.
    for path, _ in dataset.items["test"]:
        (dataset.root / path).unlink()
    cached, _ = load_split(dataset, "test", 16)
    assert np.array_equal(cached, images)


def open_zip(tmp_path, files):
    """Open a zip of `files` under a data root, so that the dataset has a folder and a cache."""
    return open_dataset(write_zip(tmp_path / "pets.zip", files), tmp_path / "data")


def test_load_split_maps_cache_file(tmp_path):
    dataset = open_zip(tmp_path, class_tree({"cats": 4, "dogs": 5}))
    images, _ = load_split(dataset, "train", 16)
    # A read-only memory map of the cache file: large splits stream from disk.
    assert isinstance(images, np.memmap)
    assert not images.flags.writeable
    assert Path(images.filename).parent == dataset.folder / "cache"
    again, _ = load_split(dataset, "train", 16)
    assert isinstance(again, np.memmap) and np.array_equal(again, images)


def test_load_split_replaces_a_damaged_cache(tmp_path):
    dataset = open_zip(tmp_path, class_tree({"cats": 4, "dogs": 5}))
    expected, _ = load_split(dataset, "val", 16)
    expected = np.array(expected)
    [cache_file] = (dataset.folder / "cache").glob("val_16_*.npy")
    cache_file.write_bytes(cache_file.read_bytes()[:100])  # cut off mid-header
    images, _ = load_split(dataset, "val", 16)
    assert np.array_equal(images, expected)
    assert np.array_equal(np.load(cache_file), expected)


def test_load_split_unwritable_cache_uses_memory(tmp_path):
    dataset = open_zip(tmp_path, class_tree({"cats": 4, "dogs": 5}))
    (dataset.folder / "cache").write_text("a file where the cache folder should be")
    images, labels = load_split(dataset, "train", 16)
    assert not isinstance(images, np.memmap)
    assert images.shape == (len(labels), 16, 16, 3)


def test_load_split_failure_leaves_no_partial_cache(tmp_path):
    dataset = open_zip(tmp_path, class_tree({"cats": 3, "dogs": 3}))
    (dataset.root / dataset.items["train"][-1][0]).unlink()
    with pytest.raises(DatasetError):
        load_split(dataset, "train", 8)
    assert list((dataset.folder / "cache").iterdir()) == []


def test_load_split_missing_file_raises(tmp_path):
    dataset = ingest_zip(tmp_path, class_tree({"cats": 3, "dogs": 3}))
    (dataset.root / dataset.items["val"][0][0]).unlink()
    with pytest.raises(DatasetError, match="open the dataset again"):
        load_split(dataset, "val", 8)
