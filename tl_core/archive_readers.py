"""Listing the entries of zip and tar archives, independent of their format.

`open_entries` recognises the format from the content, decodes entry names
and returns one `ArchiveEntry` per member. It writes nothing: the checks
against caps and the safe writing live in `tl_core.archive`.
"""

from __future__ import annotations

import logging
import lzma
import stat
import struct
import tarfile
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tl_core.errors import ArchiveError

logger = logging.getLogger(__name__)

_ZIP_FLAG_ENCRYPTED = 0x1
_ZIP_FLAG_STRONG_ENCRYPTION = 0x40
_ZIP_FLAG_UTF8 = 0x800
_ZIP_METHODS = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflate",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "lzma",
}
# Compression method ids from the zip specification (APPNOTE 4.4.5) that
# Python's zipfile cannot read, named in the error message.
_ZIP_UNSUPPORTED_METHOD_NAMES = {9: "deflate64", 93: "zstandard", 95: "xz", 98: "ppmd", 99: "AES"}
# Extra field 0x7075 (Info-ZIP Unicode Path, APPNOTE 4.6.9) stores the UTF-8
# name next to a legacy one. Python 3.11's zipfile ignores it.
_ZIP_UNICODE_PATH_FIELD = 0x7075
# Code pages tried for zip names stored without the UTF-8 flag, and for tar
# names that are not UTF-8. Windows Explorer writes the system's code page:
# GBK on Chinese and cp932 on Japanese systems. Old Western tools write
# cp437, which decodes any byte string. See `choose_name_codec`.
# NOTE: Korean (cp949) names are not recognised and come out garbled.
LEGACY_NAME_CODECS = ("gbk", "cp932", "cp437")
_OTHER_FORMAT_MAGIC = {
    b"Rar!\x1a\x07": "RAR",
    b"7z\xbc\xaf\x27\x1c": "7z",
}

# Exceptions that Python's zipfile, tarfile and decompressors raise on
# damaged or crafted data. UnicodeDecodeError and struct.error are a
# ValueError and an Exception subclass; the fuzz test in
# tests/test_fuzz_archive.py checks that nothing else escapes.
READ_FAILURES = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    tarfile.TarError,
    zlib.error,
    lzma.LZMAError,
    struct.error,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,
)


@dataclass
class ArchiveEntry:
    """One archive member, independent of the archive format."""

    name: str
    kind: str  # "file", "dir", "symlink", "hardlink" or "special"
    size: int
    compressed_size: int | None  # None for tar members
    open: Callable[[], IO[bytes]]


@dataclass
class EntryListing:
    """The entries of an archive; `complete` is False when listing stopped at a cap."""

    entries: list[ArchiveEntry]
    complete: bool = True


@contextmanager
def open_entries(archive: Path, max_entries: int, max_total_bytes: int) -> Iterator[EntryListing]:
    """List the entries of a zip or tar archive, keeping it open while the caller reads them.

    A tar archive is listed member by member and listing stops once more
    than `max_entries` members or more than `max_total_bytes` of file data
    are declared, so that a compressed tar bomb is not decompressed in full
    just to be listed.

    Raises:
        ArchiveError: the archive is damaged, encrypted, uses an unsupported
            compression method, or is not a zip or tar archive.
    """
    if _is_zip(archive):
        try:
            zip_file = zipfile.ZipFile(archive)
        except READ_FAILURES as error:
            raise ArchiveError(
                f"{archive.name} is a damaged zip archive ({error}). Create the zip again and retry.",
                "damaged_archive",
                {"name": archive.name, "detail": str(error)},
            ) from error
        with zip_file:
            yield EntryListing(_zip_entries(archive, zip_file))
        return

    if _is_tar(archive):
        try:
            tar_file = tarfile.open(archive, mode="r:*", encoding="utf-8", errors="surrogateescape")
            listing = _tar_entries(tar_file, max_entries, max_total_bytes)
        except READ_FAILURES as error:
            raise ArchiveError(
                f"{archive.name} is a damaged tar archive ({error}). Create it again, "
                "or pack the folder as a .zip file instead.",
                "damaged_archive",
                {"name": archive.name, "detail": str(error)},
            ) from error
        with tar_file:
            yield listing
        return

    raise _not_an_archive_error(archive)


def _is_zip(archive: Path) -> bool:
    try:
        return zipfile.is_zipfile(archive)
    except READ_FAILURES:
        return False


def _is_tar(archive: Path) -> bool:
    try:
        return tarfile.is_tarfile(archive)
    except READ_FAILURES:
        return False


def _not_an_archive_error(archive: Path) -> ArchiveError:
    with archive.open("rb") as file:
        head = file.read(8)
    for magic, format_name in _OTHER_FORMAT_MAGIC.items():
        if head.startswith(magic):
            return ArchiveError(
                f"{archive.name} is a {format_name} archive, which is not supported. "
                "Extract it and pack the folder as a .zip file.",
                "unsupported_archive_format",
                {"name": archive.name, "format": format_name},
            )
    if head.startswith(b"PK\x03\x04"):
        return ArchiveError(
            f"{archive.name} starts like a zip archive but its central directory is missing, so it is "
            "damaged or incomplete (an interrupted download or upload). Create the zip again and retry.",
            "damaged_archive",
            {"name": archive.name, "detail": "central directory not found"},
        )
    if not head:
        return ArchiveError(
            f"{archive.name} is empty (0 bytes). Upload the archive again.",
            "empty_archive",
            {"name": archive.name},
        )
    return ArchiveError(
        f"{archive.name} is not a zip or tar archive (its content does not match the "
        "file name). Pack the image folder as a .zip file and upload that.",
        "not_an_archive",
        {"name": archive.name},
    )


def _zip_entries(archive: Path, zip_file: zipfile.ZipFile) -> list[ArchiveEntry]:
    infos = zip_file.infolist()
    names = _decode_zip_names(infos)
    entries = []
    for info, name in zip(infos, names):
        if info.flag_bits & (_ZIP_FLAG_ENCRYPTED | _ZIP_FLAG_STRONG_ENCRYPTION):
            raise ArchiveError(
                f"{archive.name} is password-protected ({name!r} is encrypted). "
                "Create the zip again without a password.",
                "encrypted_archive",
                {"name": archive.name, "entry": name},
            )
        if info.compress_type not in _ZIP_METHODS:
            method = _ZIP_UNSUPPORTED_METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
            raise ArchiveError(
                f"{archive.name} uses the {method} compression method for {name!r}, which "
                "cannot be read. Create the zip again with standard (deflate) compression.",
                "unsupported_compression",
                {"name": archive.name, "entry": name, "method": method},
            )
        entries.append(
            ArchiveEntry(
                name=name,
                kind=_zip_kind(info, name),
                size=info.file_size,
                compressed_size=info.compress_size,
                open=lambda info=info: zip_file.open(info),
            )
        )
    return entries


def _decode_zip_names(infos: list[zipfile.ZipInfo]) -> list[str]:
    # Python's zipfile decodes names without the UTF-8 flag as cp437, which
    # maps every byte to one character, so encoding back restores the bytes.
    unicode_names = {id(info): _unicode_path_field(info) for info in infos}
    legacy_raw = [
        info.orig_filename.encode("cp437")
        for info in infos
        if not info.flag_bits & _ZIP_FLAG_UTF8 and unicode_names[id(info)] is None
    ]
    codec = choose_name_codec(legacy_raw)
    if codec != "utf-8":
        logger.info("Decoding legacy zip entry names as %s", codec)

    names = []
    for info in infos:
        if info.flag_bits & _ZIP_FLAG_UTF8:
            names.append(info.orig_filename)
        elif unicode_names[id(info)] is not None:
            names.append(unicode_names[id(info)])
        else:
            names.append(info.orig_filename.encode("cp437").decode(codec))
    return names


def _unicode_path_field(info: zipfile.ZipInfo) -> str | None:
    """Return the UTF-8 name of an Info-ZIP Unicode Path extra field, if valid for this entry."""
    if info.flag_bits & _ZIP_FLAG_UTF8:
        return None
    extra = info.extra
    position = 0
    while position + 4 <= len(extra):
        field_id, size = struct.unpack_from("<HH", extra, position)
        data = extra[position + 4 : position + 4 + size]
        position += 4 + size
        if field_id != _ZIP_UNICODE_PATH_FIELD or len(data) < 5 or data[0] != 1:
            continue
        # The field applies only while its CRC matches the legacy name, so a
        # tool that renamed the entry without updating the field is ignored.
        (name_crc,) = struct.unpack_from("<I", data, 1)
        if name_crc != zlib.crc32(info.orig_filename.encode("cp437")):
            continue
        try:
            return data[5:].decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def choose_name_codec(raw_names: list[bytes]) -> str:
    """Return the codec to decode file names that were stored in an unknown encoding.

    UTF-8 wins whenever it decodes every name, because other encodings
    rarely form valid UTF-8 by chance. Otherwise each of LEGACY_NAME_CODECS
    that decodes every name gets a score: the share of its non-ASCII
    characters that are plausible in that code page's file names. Those are
    common Chinese characters for GBK, kana and kanji for cp932, and Latin
    letters for cp437. The highest score wins, and ties go to the earlier
    codec.

    NOTE: a few short GBK names form valid UTF-8 by chance ("猫" is the
    UTF-8 bytes of "è") and then come out wrong.
    """
    if _decodes_all(raw_names, "utf-8"):
        return "utf-8"
    best_codec, best_score = "cp437", 0.0
    for codec in LEGACY_NAME_CODECS:
        if not _decodes_all(raw_names, codec):
            continue
        non_ascii = [char for raw in raw_names for char in raw.decode(codec) if ord(char) > 127]
        score = sum(_PLAUSIBLE_CHARACTER[codec](char) for char in non_ascii) / len(non_ascii)
        if score > best_score:
            best_codec, best_score = codec, score
    return best_codec


def _is_common_chinese(char: str) -> bool:
    # GB2312 holds the 6763 common simplified characters, a subset of GBK.
    if "\u3000" <= char <= "\u303f" or "\uff01" <= char <= "\uff5e":
        return True
    if not "\u4e00" <= char <= "\u9fff":
        return False
    try:
        char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _is_japanese(char: str) -> bool:
    # Hiragana, katakana, CJK punctuation and kanji; not the half-width
    # katakana and full-width Latin letters that cp932 makes of other bytes.
    return "\u3000" <= char <= "\u30ff" or "\u4e00" <= char <= "\u9fff"


def _is_latin_letter(char: str) -> bool:
    return char < "\u0250" and unicodedata.category(char).startswith("L")


_PLAUSIBLE_CHARACTER = {"gbk": _is_common_chinese, "cp932": _is_japanese, "cp437": _is_latin_letter}


def _decodes_all(raw_names: list[bytes], codec: str) -> bool:
    try:
        for raw in raw_names:
            raw.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def _zip_kind(info: zipfile.ZipInfo, name: str) -> str:
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "symlink"
    if name.endswith(("/", "\\")) or stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        return "special"
    return "file"


def _tar_entries(tar_file: tarfile.TarFile, max_entries: int, max_total_bytes: int) -> EntryListing:
    entries = []
    total = 0
    complete = True
    while (member := tar_file.next()) is not None:
        if member.issym():
            kind = "symlink"
        elif member.islnk():
            kind = "hardlink"
        elif member.isdir():
            kind = "dir"
        elif member.isfile():
            kind = "file"
        else:
            kind = "special"
        size = member.size if kind == "file" else 0
        entries.append(
            ArchiveEntry(
                name=member.name,
                kind=kind,
                size=size,
                compressed_size=None,
                open=lambda member=member: tar_file.extractfile(member),
            )
        )
        total += size
        if len(entries) > max_entries or total > max_total_bytes:
            complete = False
            break

    # tarfile decodes names as UTF-8 and keeps undecodable bytes as
    # surrogates; those names are decoded again with one legacy code page.
    legacy_raw = [entry.name.encode("utf-8", "surrogateescape") for entry in entries if _has_surrogates(entry.name)]
    if legacy_raw:
        codec = choose_name_codec(legacy_raw)
        logger.info("Decoding legacy tar member names as %s", codec)
        for entry in entries:
            if _has_surrogates(entry.name):
                entry.name = entry.name.encode("utf-8", "surrogateescape").decode(codec, "replace")
    return EntryListing(entries, complete)


def _has_surrogates(name: str) -> bool:
    return any("\udc80" <= char <= "\udcff" for char in name)
