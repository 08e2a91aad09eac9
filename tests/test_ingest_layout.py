"""Folder layouts as people's tools make them: macOS and Windows archives, wrappers, split folders."""

import unicodedata

from fixtures_data import (
    class_tree,
    find_notice,
    notice_codes,
    png_bytes,
    skipped_codes,
    write_legacy_name_zip,
    write_tree,
    write_zip,
)
from tl_core.datasets import NOTICE_CODES, SKIP_CODES, ingest

APPLE_DOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        "


def ingest_zip(tmp_path, files, **kwargs):
    archive = write_zip(tmp_path / "data.zip", files)
    return ingest(archive, tmp_path / "work", **kwargs)


def test_macos_archive_utility_zip(tmp_path):
    # Archive Utility wraps the folder, adds __MACOSX/ with ._ files, keeps
    # .DS_Store, and stores names in decomposed (NFD) Unicode.
    cafe = unicodedata.normalize("NFD", "café")
    files = class_tree({cafe: 3, "tea": 3}, prefix="Drinks/")
    files["Drinks/.DS_Store"] = b"\x00\x00\x00\x01Bud1"
    files[f"Drinks/{cafe}/.DS_Store"] = b"\x00\x00\x00\x01Bud1"
    files[f"__MACOSX/Drinks/{cafe}/._img_000.png"] = APPLE_DOUBLE
    files["__MACOSX/Drinks/._tea"] = APPLE_DOUBLE

    dataset = ingest_zip(tmp_path, files)

    assert dataset.classes == ["café", "tea"]
    assert dataset.report.total() == 6
    assert skipped_codes(dataset) == {
        "__MACOSX": "system_file",
        "Drinks/.DS_Store": "system_file",
        f"Drinks/{cafe}/.DS_Store": "system_file",
    }
    assert notice_codes(dataset) == {"tiny_class"}
    for path, _ in dataset.items["train"]:
        assert (dataset.root / path).is_file(), path


def test_windows_explorer_zip(tmp_path):
    # Explorer on a Chinese system: GBK names without the UTF-8 flag,
    # backslash separators, Thumbs.db and desktop.ini next to the images.
    files = {name.replace("/", "\\"): data for name, data in class_tree({"猫": 3, "狗": 3}, prefix="宠物/").items()}
    files["宠物\\猫\\Thumbs.db"] = b"thumbs"
    files["宠物\\desktop.ini"] = b"[.ShellClassInfo]"
    archive = write_legacy_name_zip(tmp_path / "pets.zip", files, "gbk")

    dataset = ingest(archive, tmp_path / "work")

    assert dataset.classes == sorted(["猫", "狗"])
    assert dataset.report.total() == 6
    assert skipped_codes(dataset) == {"宠物/猫/Thumbs.db": "system_file", "宠物/desktop.ini": "system_file"}


def test_one_wrapper_folder(tmp_path):
    dataset = ingest_zip(tmp_path, class_tree({"cats": 3, "dogs": 3}, prefix="pets/"))
    assert dataset.classes == ["cats", "dogs"]
    assert dataset.items["train"][0][0].startswith("pets/")


def test_three_wrapper_folders(tmp_path):
    dataset = ingest_zip(tmp_path, class_tree({"cats": 3, "dogs": 3}, prefix="Users/me/Downloads/"))
    assert dataset.classes == ["cats", "dogs"]
    assert dataset.report.total() == 6


def test_wrapper_loose_file_skipped(tmp_path):
    files = class_tree({"cats": 3, "dogs": 3}, prefix="pets/")
    files["README.txt"] = b"my pets"
    dataset = ingest_zip(tmp_path, files)
    assert dataset.classes == ["cats", "dogs"]
    assert skipped_codes(dataset) == {"README.txt": "unsupported_type"}


def test_split_folder_names_any_case(tmp_path):
    files = {}
    files.update(class_tree({"cats": 4, "dogs": 4}, prefix="Train/", seed=1))
    files.update(class_tree({"cats": 2, "dogs": 2}, prefix="VALIDATION/", seed=2))
    files.update(class_tree({"cats": 1, "dogs": 1}, prefix="Test/", seed=3))
    dataset = ingest_zip(tmp_path, files)

    assert dataset.report.split_source == "folders"
    assert dataset.report.counts["cats"] == {"train": 4, "val": 2, "test": 1}
    assert dataset.report.counts["dogs"] == {"train": 4, "val": 2, "test": 1}


def test_val_folder_named_val(tmp_path):
    files = {}
    files.update(class_tree({"cats": 4, "dogs": 4}, prefix="train/", seed=1))
    files.update(class_tree({"cats": 2, "dogs": 2}, prefix="val/", seed=2))
    files.update(class_tree({"cats": 2, "dogs": 2}, prefix="test/", seed=3))
    dataset = ingest_zip(tmp_path, files)
    assert dataset.counts() == {"train": 8, "val": 4, "test": 4}


def test_loose_image_in_split_folder(tmp_path):
    files = {}
    files.update(class_tree({"cats": 3, "dogs": 3}, prefix="train/", seed=1))
    files.update(class_tree({"cats": 1, "dogs": 1}, prefix="test/", seed=2))
    files["test/unlabelled.png"] = png_bytes(90)
    dataset = ingest_zip(tmp_path, files)

    assert skipped_codes(dataset) == {"test/unlabelled.png": "loose_file"}
    assert find_notice(dataset, "loose_files").params["paths"] == ["test/unlabelled.png"]


def test_class_with_only_subfolders(tmp_path):
    files = class_tree({"dogs": 3})
    files.update(class_tree({"indoor": 2, "outdoor": 2}, prefix="cats/", seed=1))
    dataset = ingest_zip(tmp_path, files)

    assert dataset.classes == ["cats", "dogs"]
    assert dataset.report.counts["cats"] == {"train": 2, "val": 1, "test": 1}


def test_empty_class_folders_in_splits(tmp_path):
    files = {}
    files.update(class_tree({"cats": 3, "dogs": 3}, prefix="train/", seed=1))
    files.update(class_tree({"cats": 1, "dogs": 1}, prefix="test/", seed=2))
    files["train/birds/"] = b""
    files["test/birds/"] = b""
    dataset = ingest_zip(tmp_path, files)

    assert dataset.classes == ["cats", "dogs"]
    assert find_notice(dataset, "empty_class").params == {"classes": ["birds"]}


def test_hidden_files_in_class_skipped(tmp_path):
    files = class_tree({"cats": 3, "dogs": 3})
    files["cats/.hidden.png"] = png_bytes(77)
    files["dogs/.thumbnails/a.png"] = png_bytes(78)
    dataset = ingest_zip(tmp_path, files)

    assert skipped_codes(dataset) == {"cats/.hidden.png": "hidden", "dogs/.thumbnails": "hidden"}
    assert dataset.report.total() == 6


def test_folder_source_with_symlinked_class(tmp_path):
    outside = write_tree(tmp_path / "outside", class_tree({"birds": 3}))
    folder = write_tree(tmp_path / "photos", class_tree({"cats": 3, "dogs": 3}))
    (folder / "birds").symlink_to(outside / "birds", target_is_directory=True)

    dataset = ingest(folder, tmp_path / "work")

    assert dataset.classes == ["cats", "dogs"]
    assert skipped_codes(dataset) == {"birds": "symlink"}


def test_messy_zip_codes_documented(tmp_path):
    files = class_tree({"cats": 3, "dogs": 3}, prefix="set/")
    files["__MACOSX/set/._cats"] = APPLE_DOUBLE
    files["set/cats/Thumbs.db"] = b"x"
    files["set/cats/.hidden.png"] = png_bytes(60)
    files["set/cats/notes.txt"] = b"notes"
    files["set/cats/more.zip"] = b"PK\x05\x06" + bytes(18)
    files["set/dogs/broken.png"] = b"\x89PNG\r\n\x1a\n"
    files["set/dogs/empty.jpg"] = b""
    files["set/stray.png"] = png_bytes(61)
    files["../escape.png"] = png_bytes(62)
    dataset = ingest_zip(tmp_path, files)

    codes = set(skipped_codes(dataset).values())
    assert codes == {"system_file", "hidden", "unsupported_type", "nested_archive", "corrupt", "empty_file",
                     "loose_file", "unsafe_path"}
    assert codes <= set(SKIP_CODES)
    assert notice_codes(dataset) <= set(NOTICE_CODES)
