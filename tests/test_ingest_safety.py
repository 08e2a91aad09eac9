"""Hostile and unusual archives through ingestion: nested archives, tar formats, bombs, escapes."""

import io
import tarfile
import zipfile

import pytest

from fixtures_data import (
    class_tree,
    find_notice,
    png_bytes,
    set_zip_flag,
    skipped_codes,
    write_symlink_zip,
    write_tar,
    write_zip,
)
from tl_core.archive import ExtractLimits
from tl_core.datasets import ingest, open_dataset
from tl_core.errors import ArchiveError, DatasetError


def zip_bytes(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def listing(folder):
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*"))


def test_nested_zip_beside_classes_skipped(tmp_path):
    files = class_tree({"cats": 3, "dogs": 3})
    files["cats/more_cats.zip"] = zip_bytes(class_tree({"cats": 2}, seed=5))
    files["backup.tar.gz"] = b"\x1f\x8b" + bytes(30)
    archive = write_zip(tmp_path / "data.zip", files)

    dataset = ingest(archive, tmp_path / "work")

    assert skipped_codes(dataset) == {"cats/more_cats.zip": "nested_archive", "backup.tar.gz": "nested_archive"}
    assert dataset.report.total() == 6
    assert not (tmp_path / "work/inner").exists()


def test_zip_of_one_zip_opened(tmp_path):
    inner = zip_bytes(class_tree({"cats": 3, "dogs": 3}))
    archive = write_zip(tmp_path / "outer.zip", {"download/pets.zip": inner, "__MACOSX/download/._pets.zip": b"x"})

    dataset = ingest(archive, tmp_path / "work")

    assert dataset.classes == ["cats", "dogs"]
    assert dataset.report.total() == 6
    assert find_notice(dataset, "nested_archive_opened").params == {"path": "download/pets.zip"}
    assert dataset.root == (tmp_path / "work/inner").resolve()
    assert not (tmp_path / "work/files").exists()


def test_zip_of_zip_of_zip_refused(tmp_path):
    innermost = zip_bytes(class_tree({"cats": 3, "dogs": 3}))
    middle = zip_bytes({"pets.zip": innermost})
    archive = write_zip(tmp_path / "outer.zip", {"middle.zip": middle})

    with pytest.raises(DatasetError, match="no class folder with images") as caught:
        ingest(archive, tmp_path / "work")
    assert caught.value.code == "too_few_classes"


def test_nested_zip_bomb_rejected(tmp_path):
    bomb = zip_bytes({"zeros.bmp": bytes(4 * 1024**2)})
    archive = write_zip(tmp_path / "outer.zip", {"bomb.zip": bomb}, method=zipfile.ZIP_STORED)
    with pytest.raises(ArchiveError, match="max_ratio=200") as caught:
        ingest(archive, tmp_path / "work")
    assert caught.value.code == "compression_ratio"


def test_nested_zip_counts_outer_bytes(tmp_path):
    inner = zip_bytes(class_tree({"cats": 3, "dogs": 3}))
    archive = write_zip(tmp_path / "outer.zip", {"pets.zip": inner}, method=zipfile.ZIP_STORED)
    # The outer archive alone fits; outer plus inner does not.
    limits = ExtractLimits(max_total_bytes=len(inner) + 100)
    with pytest.raises(ArchiveError) as caught:
        ingest(archive, tmp_path / "work", limits=limits)
    assert caught.value.code == "too_large"


@pytest.mark.parametrize(("name", "mode"), [("pets.tar", "w"), ("pets.tar.gz", "w:gz"), ("pets.tgz", "w:gz"),
                                            ("pets.tar.bz2", "w:bz2"), ("pets.tar.xz", "w:xz")])
def test_tar_datasets_accepted(tmp_path, name, mode):
    files = class_tree({"cats": 3, "dogs": 3}, prefix="pets/")
    files["pets/.DS_Store"] = b"x"
    archive = write_tar(tmp_path / name, files, mode)
    dataset = ingest(archive, tmp_path / "work")

    assert dataset.classes == ["cats", "dogs"]
    assert dataset.report.total() == 6
    assert skipped_codes(dataset) == {"pets/.DS_Store": "system_file"}


def test_tar_escapes_reported(tmp_path):
    path = tmp_path / "evil.tar"
    with tarfile.open(path, "w") as archive:
        for name, data in class_tree({"cats": 3, "dogs": 3}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        escape = tarfile.TarInfo("../escape.png")
        escape.size = 1
        archive.addfile(escape, io.BytesIO(b"x"))
        link = tarfile.TarInfo("cats/passwd.png")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        archive.addfile(link)

    dataset = ingest(path, tmp_path / "work")

    assert skipped_codes(dataset) == {"../escape.png": "unsafe_path", "cats/passwd.png": "symlink"}
    assert not (tmp_path / "escape.png").exists()
    assert not (tmp_path / "work/escape.png").exists()


def test_zip_escapes_reported(tmp_path):
    target = tmp_path / "absolute.png"
    files = class_tree({"cats": 3, "dogs": 3})
    files[str(target)] = png_bytes(9)
    files["..\\..\\windows.png"] = png_bytes(10)
    archive = write_symlink_zip(tmp_path / "evil.zip", "dogs/link.png", "/etc/passwd", files)

    dataset = ingest(archive, tmp_path / "work")

    codes = skipped_codes(dataset)
    assert codes["dogs/link.png"] == "symlink"
    assert codes["../../windows.png"] == "unsafe_path"
    assert codes[str(target).replace("\\", "/")] == "unsafe_path"
    assert not target.exists()
    assert dataset.report.total() == 6


def test_seven_zip_upload_refused(tmp_path):
    archive = tmp_path / "photos.zip"
    archive.write_bytes(b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(100))
    with pytest.raises(ArchiveError, match="7z archive") as caught:
        ingest(archive, tmp_path / "work")
    assert caught.value.code == "unsupported_archive_format"


def test_renamed_image_upload_refused(tmp_path):
    archive = tmp_path / "photos.zip"
    archive.write_bytes(png_bytes())
    with pytest.raises(ArchiveError, match="not a zip or tar archive") as caught:
        ingest(archive, tmp_path / "work")
    assert caught.value.code == "not_an_archive"


def test_encrypted_upload_leaves_nothing(tmp_path):
    archive = set_zip_flag(write_zip(tmp_path / "secret.zip", class_tree({"cats": 3, "dogs": 3})), 0x1)
    with pytest.raises(ArchiveError, match="password-protected"):
        open_dataset(archive, tmp_path / "data")
    assert listing(tmp_path / "data") == ["datasets"]


def test_bomb_upload_leaves_nothing(tmp_path):
    files = class_tree({"cats": 3, "dogs": 3})
    files["cats/zeros.bmp"] = bytes(8 * 1024**2)
    archive = write_zip(tmp_path / "bomb.zip", files)
    with pytest.raises(ArchiveError, match="zip bomb"):
        open_dataset(archive, tmp_path / "data")
    assert listing(tmp_path / "data") == ["datasets"]


def test_file_count_cap_through_ingest(tmp_path):
    archive = write_tar(tmp_path / "many.tar", class_tree({"cats": 30, "dogs": 30}))
    with pytest.raises(ArchiveError, match="max_files=50") as caught:
        ingest(archive, tmp_path / "work", limits=ExtractLimits(max_files=50))
    assert caught.value.code == "too_many_entries"


def test_zip_of_one_zip_stored(tmp_path):
    inner = zip_bytes(class_tree({"cats": 3, "dogs": 3}))
    archive = write_zip(tmp_path / "outer.zip", {"pets.zip": inner})
    dataset = open_dataset(archive, tmp_path / "data")

    assert dataset.root == dataset.folder / "inner"
    for pairs in dataset.items.values():
        for path, _ in pairs:
            assert (dataset.root / path).is_file(), path
