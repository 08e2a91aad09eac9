import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from fixtures_data import (
    corrupt_stored_entry,
    png_bytes,
    set_zip_flag,
    set_zip_method,
    write_legacy_name_zip,
    write_symlink_zip,
    write_zip,
)
from tl_core.archive import ExtractLimits, extract_archive
from tl_core.errors import ArchiveError


def skipped_codes(skipped):
    return {entry.path: entry.code for entry in skipped}


def test_zip_extracts_files(tmp_path):
    archive = write_zip(tmp_path / "a.zip", {"cats/a.png": b"A", "dogs/b.png": b"B"})
    skipped = extract_archive(archive, tmp_path / "out")
    assert skipped == []
    assert (tmp_path / "out/cats/a.png").read_bytes() == b"A"
    assert (tmp_path / "out/dogs/b.png").read_bytes() == b"B"


def test_zip_creates_empty_folder(tmp_path):
    archive = write_zip(tmp_path / "a.zip", {"empty/": b"", "cats/a.png": b"A"})
    extract_archive(archive, tmp_path / "out")
    assert (tmp_path / "out/empty").is_dir()


def test_parent_entry_skipped(tmp_path):
    archive = write_zip(tmp_path / "a.zip", {"../evil.txt": b"x", "ok.txt": b"y"})
    skipped = extract_archive(archive, tmp_path / "out")
    assert skipped_codes(skipped) == {"../evil.txt": "unsafe_path"}
    assert not (tmp_path / "evil.txt").exists()
    assert (tmp_path / "out/ok.txt").exists()


def test_nested_parent_entry_skipped(tmp_path):
    archive = write_zip(tmp_path / "a.zip", {"cats/../../evil.txt": b"x"})
    skipped = extract_archive(archive, tmp_path / "out")
    assert skipped_codes(skipped) == {"cats/../../evil.txt": "unsafe_path"}
    assert not (tmp_path / "evil.txt").exists()


def test_absolute_entry_skipped(tmp_path):
    target = tmp_path / "abs_target.txt"
    archive = write_zip(tmp_path / "a.zip", {str(target): b"x"})
    skipped = extract_archive(archive, tmp_path / "out")
    assert [entry.code for entry in skipped] == ["unsafe_path"]
    assert "absolute" in skipped[0].reason
    assert not target.exists()


def test_drive_letter_entry_skipped(tmp_path):
    archive = write_zip(tmp_path / "a.zip", {"C:/Windows/evil.txt": b"x"})
    skipped = extract_archive(archive, tmp_path / "out")
    assert [entry.code for entry in skipped] == ["unsafe_path"]


def test_backslash_names_normalised(tmp_path):
    archive = write_zip(tmp_path / "a.zip", {"data\\cats\\a.png": b"A"})
    skipped = extract_archive(archive, tmp_path / "out")
    assert skipped == []
    assert (tmp_path / "out/data/cats/a.png").read_bytes() == b"A"


def test_backslash_parent_skipped(tmp_path):
    archive = write_zip(tmp_path / "a.zip", {"..\\evil.txt": b"x"})
    skipped = extract_archive(archive, tmp_path / "out")
    assert skipped_codes(skipped) == {"../evil.txt": "unsafe_path"}
    assert not (tmp_path / "evil.txt").exists()


def test_symlink_entry_skipped(tmp_path):
    archive = write_symlink_zip(tmp_path / "a.zip", "cats/link.png", "/etc/passwd", {"cats/a.png": b"A"})
    skipped = extract_archive(archive, tmp_path / "out")
    assert skipped_codes(skipped) == {"cats/link.png": "symlink"}
    assert not (tmp_path / "out/cats/link.png").exists()
    assert not (tmp_path / "out/cats/link.png").is_symlink()


def test_duplicate_entry_skipped(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zip_file:
        zip_file.writestr("a.txt", b"first")
        with pytest.warns(UserWarning):
            zip_file.writestr("a.txt", b"second")
    skipped = extract_archive(archive, tmp_path / "out")
    assert skipped_codes(skipped) == {"a.txt": "duplicate_entry"}
    assert (tmp_path / "out/a.txt").read_bytes() == b"first"


def test_corrupt_entry_skipped(tmp_path):
    archive = write_zip(tmp_path / "a.zip", {"a.txt": b"MARKER-DATA", "b.txt": b"fine"}, method=zipfile.ZIP_STORED)
    corrupt_stored_entry(archive, b"MARKER-DATA")
    skipped = extract_archive(archive, tmp_path / "out")
    assert skipped_codes(skipped) == {"a.txt": "corrupt_entry"}
    assert not (tmp_path / "out/a.txt").exists()
    assert (tmp_path / "out/b.txt").exists()


def test_zip_bomb_ratio_rejected(tmp_path):
    archive = write_zip(tmp_path / "bomb.zip", {"zeros.bmp": bytes(2 * 1024**2)})
    with pytest.raises(ArchiveError, match=r"max_ratio=200"):
        extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_small_entry_ratio_allowed(tmp_path):
    archive = write_zip(tmp_path / "a.zip", {"zeros.bin": bytes(500_000)})
    assert extract_archive(archive, tmp_path / "out") == []


def test_file_count_cap(tmp_path):
    archive = write_zip(tmp_path / "a.zip", {f"f{index}.txt": b"x" for index in range(5)})
    with pytest.raises(ArchiveError, match=r"contains 5 entries.*max_files=3") as caught:
        extract_archive(archive, tmp_path / "out", ExtractLimits(max_files=3))
    assert "ExtractLimits(max_files=" in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_total_size_cap(tmp_path):
    archive = write_zip(tmp_path / "a.zip", {"a.bin": b"x" * 200, "b.bin": b"y" * 200})
    with pytest.raises(ArchiveError, match=r"max_total_bytes=300") as caught:
        extract_archive(archive, tmp_path / "out", ExtractLimits(max_total_bytes=300))
    assert "ExtractLimits(max_total_bytes=" in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_encrypted_zip_rejected(tmp_path):
    archive = set_zip_flag(write_zip(tmp_path / "a.zip", {"a.png": png_bytes()}), 0x1)
    with pytest.raises(ArchiveError, match="password-protected"):
        extract_archive(archive, tmp_path / "out")


def test_deflate64_rejected(tmp_path):
    archive = set_zip_method(write_zip(tmp_path / "a.zip", {"a.png": png_bytes()}), 9)
    with pytest.raises(ArchiveError, match="deflate64"):
        extract_archive(archive, tmp_path / "out")


def test_png_renamed_zip_rejected(tmp_path):
    archive = tmp_path / "photos.zip"
    archive.write_bytes(png_bytes())
    with pytest.raises(ArchiveError, match="not a zip or tar archive"):
        extract_archive(archive, tmp_path / "out")


def test_rar_renamed_zip_rejected(tmp_path):
    archive = tmp_path / "photos.zip"
    archive.write_bytes(b"Rar!\x1a\x07\x01\x00" + bytes(64))
    with pytest.raises(ArchiveError, match="RAR archive"):
        extract_archive(archive, tmp_path / "out")


def test_empty_archive_file_rejected(tmp_path):
    archive = tmp_path / "photos.zip"
    archive.write_bytes(b"")
    with pytest.raises(ArchiveError, match="empty"):
        extract_archive(archive, tmp_path / "out")


def test_missing_archive_rejected(tmp_path):
    with pytest.raises(ArchiveError, match="not found"):
        extract_archive(tmp_path / "nope.zip", tmp_path / "out")


def test_gbk_names_decoded(tmp_path):
    files = {"数据/猫/一.png": b"A", "数据/狗/二.png": b"B"}
    archive = write_legacy_name_zip(tmp_path / "a.zip", files, "gbk")
    assert extract_archive(archive, tmp_path / "out") == []
    assert (tmp_path / "out/数据/猫/一.png").read_bytes() == b"A"
    assert (tmp_path / "out/数据/狗/二.png").read_bytes() == b"B"


def test_utf8_names_without_flag_decoded(tmp_path):
    archive = write_legacy_name_zip(tmp_path / "a.zip", {"café/é.png": b"A"}, "utf-8")
    extract_archive(archive, tmp_path / "out")
    assert (tmp_path / "out/café/é.png").exists()


def test_cp437_names_fallback(tmp_path):
    # 0x82 followed by '/' is neither valid UTF-8 nor valid GBK.
    archive = write_legacy_name_zip(tmp_path / "a.zip", {"caf\u00e9/x.png": b"A"}, "cp437")
    extract_archive(archive, tmp_path / "out")
    assert (tmp_path / "out/café/x.png").exists()


def write_tar(path: Path, mode: str, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, mode) as tar_file:
        for info, data in members:
            tar_file.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def tar_file_info(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def test_tar_gz_extracts_files(tmp_path):
    archive = write_tar(tmp_path / "a.tgz", "w:gz", [tar_file_info("cats/a.png", b"A")])
    assert extract_archive(archive, tmp_path / "out") == []
    assert (tmp_path / "out/cats/a.png").read_bytes() == b"A"


def test_tar_links_and_parents_skipped(tmp_path):
    symlink = tarfile.TarInfo("cats/link.png")
    symlink.type = tarfile.SYMTYPE
    symlink.linkname = "/etc/passwd"
    hardlink = tarfile.TarInfo("cats/hard.png")
    hardlink.type = tarfile.LNKTYPE
    hardlink.linkname = "/etc/passwd"
    members = [tar_file_info("../evil.txt", b"x"), (symlink, None), (hardlink, None), tar_file_info("cats/a.png", b"A")]
    archive = write_tar(tmp_path / "a.tar", "w", members)

    skipped = extract_archive(archive, tmp_path / "out")

    codes = skipped_codes(skipped)
    assert codes == {"../evil.txt": "unsafe_path", "cats/link.png": "symlink", "cats/hard.png": "hardlink"}
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "out/cats/link.png").is_symlink()
    assert (tmp_path / "out/cats/a.png").exists()


def test_tar_gz_bomb_rejected(tmp_path):
    archive = write_tar(tmp_path / "bomb.tar.gz", "w:gz", [tar_file_info("zeros.bin", bytes(4 * 1024**2))])
    with pytest.raises(ArchiveError, match=r"max_ratio=200"):
        extract_archive(archive, tmp_path / "out")


def test_truncated_tar_gz_rejected(tmp_path):
    archive = write_tar(tmp_path / "a.tar.gz", "w:gz", [tar_file_info("a.png", png_bytes(size=(64, 64)))])
    content = archive.read_bytes()
    archive.write_bytes(content[: len(content) // 2])
    with pytest.raises(ArchiveError, match="damaged tar archive"):
        extract_archive(archive, tmp_path / "out")
