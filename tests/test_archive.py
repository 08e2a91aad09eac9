import io
import pickle
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
    write_unicode_path_zip,
    write_zip,
)
from fixtures_data import write_tar as write_tar_files
from tl_core.archive_readers import choose_name_codec
from tl_core.archive import (
    ARCHIVE_ERROR_CODES,
    ENTRY_SKIP_CODES,
    ExtractLimits,
    check_upload_size,
    extract_archive,
    is_archive_name,
)
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


def test_tar_bz2_and_xz_extract(tmp_path):
    for mode, name in (("w:bz2", "a.tar.bz2"), ("w:xz", "a.tar.xz")):
        archive = write_tar_files(tmp_path / name, {"cats/a.png": b"A"}, mode)
        out = tmp_path / f"out_{name}"
        assert extract_archive(archive, out) == [], name
        assert (out / "cats/a.png").read_bytes() == b"A", name


def test_tar_absolute_entry_skipped(tmp_path):
    target = tmp_path / "abs_target.txt"
    archive = write_tar(tmp_path / "a.tar", "w", [tar_file_info(str(target), b"x"), tar_file_info("ok.txt", b"y")])
    skipped = extract_archive(archive, tmp_path / "out")
    assert [entry.code for entry in skipped] == ["unsafe_path"]
    assert not target.exists()
    assert (tmp_path / "out/ok.txt").exists()


def test_tar_device_and_fifo_skipped(tmp_path):
    device = tarfile.TarInfo("dev/null")
    device.type = tarfile.CHRTYPE
    fifo = tarfile.TarInfo("cats/pipe")
    fifo.type = tarfile.FIFOTYPE
    archive = write_tar(tmp_path / "a.tar", "w", [(device, None), (fifo, None), tar_file_info("cats/a.png", b"A")])
    skipped = extract_archive(archive, tmp_path / "out")
    assert skipped_codes(skipped) == {"dev/null": "special_file", "cats/pipe": "special_file"}
    assert not (tmp_path / "out/cats/pipe").exists()


def test_tar_symlink_then_file_stays_inside(tmp_path):
    # A link entry followed by a file "through" the link is the classic tar
    # escape. The link is skipped, so the file lands in a real folder.
    outside = tmp_path / "outside"
    outside.mkdir()
    link = tarfile.TarInfo("cats/link")
    link.type = tarfile.SYMTYPE
    link.linkname = str(outside)
    archive = write_tar(tmp_path / "a.tar", "w", [(link, None), tar_file_info("cats/link/evil.txt", b"x")])

    skipped = extract_archive(archive, tmp_path / "out")

    assert skipped_codes(skipped) == {"cats/link": "symlink"}
    assert list(outside.iterdir()) == []
    assert (tmp_path / "out/cats/link/evil.txt").read_bytes() == b"x"
    assert not (tmp_path / "out/cats/link").is_symlink()


def test_tar_gz_bomb_stops_listing(tmp_path):
    # 64 members of 1 MiB zeros: the listing stops once the declared size
    # passes 200 times the archive size, before reading every member.
    members = [tar_file_info(f"zeros_{index}.bin", bytes(1024**2)) for index in range(64)]
    archive = write_tar(tmp_path / "bomb.tar.gz", "w:gz", members)
    with pytest.raises(ArchiveError, match=r"at least .*max_ratio=200") as caught:
        extract_archive(archive, tmp_path / "out")
    assert caught.value.code == "compression_ratio"
    assert not (tmp_path / "out").exists()


def test_tar_file_count_cap(tmp_path):
    archive = write_tar_files(tmp_path / "a.tar", {f"f{index}.txt": b"x" for index in range(10)})
    with pytest.raises(ArchiveError, match=r"at least 4 entries.*max_files=3") as caught:
        extract_archive(archive, tmp_path / "out", ExtractLimits(max_files=3))
    assert caught.value.code == "too_many_entries"
    assert caught.value.params["max_files"] == 3


def test_seven_zip_rejected(tmp_path):
    archive = tmp_path / "photos.7z"
    archive.write_bytes(b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(64))
    with pytest.raises(ArchiveError, match=r"7z archive, which is not supported.*pack the folder as a \.zip") as caught:
        extract_archive(archive, tmp_path / "out")
    assert caught.value.code == "unsupported_archive_format"
    assert caught.value.params["format"] == "7z"


@pytest.mark.parametrize(("method", "name"), [(9, "deflate64"), (93, "zstandard"), (98, "ppmd"), (99, "AES")])
def test_unreadable_methods_named(tmp_path, method, name):
    archive = set_zip_method(write_zip(tmp_path / "a.zip", {"a.png": png_bytes()}), method)
    with pytest.raises(ArchiveError, match=name) as caught:
        extract_archive(archive, tmp_path / "out")
    assert caught.value.code == "unsupported_compression"


def test_strong_encryption_rejected(tmp_path):
    archive = set_zip_flag(write_zip(tmp_path / "a.zip", {"a.png": png_bytes()}), 0x40)
    with pytest.raises(ArchiveError, match="password-protected") as caught:
        extract_archive(archive, tmp_path / "out")
    assert caught.value.code == "encrypted_archive"


def test_encrypted_zip_writes_nothing(tmp_path):
    archive = set_zip_flag(write_zip(tmp_path / "a.zip", {"a.png": png_bytes(), "b.png": png_bytes(1)}), 0x1)
    with pytest.raises(ArchiveError):
        extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_truncated_zip_rejected(tmp_path):
    archive = write_zip(tmp_path / "a.zip", {"a.png": png_bytes(size=(64, 64))})
    content = archive.read_bytes()
    archive.write_bytes(content[: len(content) // 2])
    with pytest.raises(ArchiveError, match="damaged or incomplete") as caught:
        extract_archive(archive, tmp_path / "out")
    assert caught.value.code == "damaged_archive"


def test_zip_bomb_code_and_params(tmp_path):
    archive = write_zip(tmp_path / "bomb.zip", {"zeros.bmp": bytes(2 * 1024**2)})
    with pytest.raises(ArchiveError) as caught:
        extract_archive(archive, tmp_path / "out")
    assert caught.value.code == "compression_ratio"
    assert caught.value.params["max_ratio"] == 200


def test_utf8_non_ascii_names_kept(tmp_path):
    names = {"café/é.png": b"A", "猫/一.png": b"B", "🐱 cats/😺.png": b"C"}
    archive = write_zip(tmp_path / "a.zip", names)
    assert extract_archive(archive, tmp_path / "out") == []
    for name, data in names.items():
        assert (tmp_path / "out" / name).read_bytes() == data, name


def test_unicode_path_field_preferred(tmp_path):
    # cp932 (Japanese Windows) bytes also decode as GBK, to the wrong
    # characters; the UTF-8 copy in the extra field gives the right name.
    archive = write_unicode_path_zip(tmp_path / "a.zip", {"ねこ/一.png": b"A"}, "cp932")
    assert "ねこ/一.png".encode("cp932").decode("gbk") != "ねこ/一.png"
    assert extract_archive(archive, tmp_path / "out") == []
    assert (tmp_path / "out/ねこ/一.png").read_bytes() == b"A"


def test_long_name_skipped_as_invalid(tmp_path):
    archive = write_zip(tmp_path / "a.zip", {"cats/" + "x" * 300 + ".png": b"A", "cats/ok.png": b"B"})
    skipped = extract_archive(archive, tmp_path / "out")
    assert [entry.code for entry in skipped] == ["invalid_name"]
    assert "File name too long" in skipped[0].reason
    assert (tmp_path / "out/cats/ok.png").exists()


def test_missing_archive_code(tmp_path):
    with pytest.raises(ArchiveError) as caught:
        extract_archive(tmp_path / "nope.zip", tmp_path / "out")
    assert caught.value.code == "archive_not_found"


def test_upload_size_over_limit(tmp_path):
    upload = tmp_path / "big.zip"
    upload.write_bytes(bytes(2048))
    with pytest.raises(ArchiveError, match=r"big\.zip is 2\.0 KiB \(2048 bytes\), over the upload limit of 1\.0 KiB") as caught:
        check_upload_size(upload, 1024)
    assert caught.value.code == "upload_too_large"
    assert caught.value.params == {"name": "big.zip", "size": 2048, "max_bytes": 1024}


def test_upload_size_as_int(tmp_path):
    with pytest.raises(ArchiveError, match=r"3000 bytes.*1000 bytes"):
        check_upload_size(3000, 1000)
    assert check_upload_size(1000, 1000) == 1000


def test_upload_size_under_limit(tmp_path):
    upload = tmp_path / "small.zip"
    upload.write_bytes(bytes(10))
    assert check_upload_size(upload, 1024) == 10


def test_upload_size_missing_file(tmp_path):
    with pytest.raises(ArchiveError) as caught:
        check_upload_size(tmp_path / "gone.zip", 1024)
    assert caught.value.code == "archive_not_found"


def test_archive_names_recognised():
    assert is_archive_name("inner.ZIP")
    assert is_archive_name("set.tar.gz")
    assert is_archive_name("set.7z")
    assert not is_archive_name("cat.png")


def test_error_codes_documented(tmp_path):
    # Every code raised in these tests must be listed for the UI.
    for code in ("compression_ratio", "too_many_entries", "unsupported_archive_format", "unsupported_compression",
                 "encrypted_archive", "not_an_archive", "archive_not_found", "upload_too_large", "damaged_archive",
                 "empty_archive", "too_large"):
        assert code in ARCHIVE_ERROR_CODES, code
    for code in ("unsafe_path", "invalid_name", "symlink", "hardlink", "special_file", "duplicate_entry",
                 "corrupt_entry"):
        assert code in ENTRY_SKIP_CODES, code


def test_cp932_names_decoded(tmp_path):
    archive = write_legacy_name_zip(tmp_path / "a.zip", {"ねこ/写真.png": b"A", "いぬ/写真.png": b"B"}, "cp932")
    assert extract_archive(archive, tmp_path / "out") == []
    assert (tmp_path / "out/ねこ/写真.png").read_bytes() == b"A"
    assert (tmp_path / "out/いぬ/写真.png").read_bytes() == b"B"


def test_tar_gbk_names_decoded(tmp_path):
    info = tarfile.TarInfo("宠物/猫/一.png")
    info.size = 1
    path = tmp_path / "a.tar"
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT, encoding="gbk") as tar_file:
        tar_file.addfile(info, io.BytesIO(b"A"))
    assert extract_archive(path, tmp_path / "out") == []
    assert (tmp_path / "out/宠物/猫/一.png").read_bytes() == b"A"


@pytest.mark.parametrize(
    ("names", "codec"),
    [
        (["数据/猫/一.png", "宠物/狗"], "gbk"),
        (["ねこ/しゃしん.png", "カメラ"], "cp932"),
        (["cafés/thé.png", "Ñandú/über.png"], "cp437"),
        (["plain/ascii.png"], "utf-8"),
    ],
)
def test_name_codec_chosen(names, codec):
    raw = [name.encode(codec if codec != "utf-8" else "ascii") for name in names]
    assert choose_name_codec(raw) == codec


def test_archive_error_pickles():
    error = ArchiveError("too big", "upload_too_large", {"size": 3, "max_bytes": 2})
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.code, copy.params) == ("too big", "upload_too_large", {"size": 3, "max_bytes": 2})


def test_archive_error_default_code():
    assert ArchiveError("plain message").code == "invalid_archive"
