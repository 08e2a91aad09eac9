"""Safe extraction of uploaded zip and tar archives.

`extract_archive` writes regular files and folders only, and only under the
destination folder. Entries that could escape it (absolute paths, `..`),
symbolic and hard links, and device files are skipped and returned with a
reason. Encrypted, unreadable and oversized archives raise `ArchiveError`
before any file is written.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tl_core.errors import ArchiveError

logger = logging.getLogger(__name__)

# Entries smaller than this are never rejected for their compression ratio:
# a 1 MiB entry cannot exhaust a disk, and small blank BMP or text files
# legitimately compress more than 200 times.
RATIO_CHECK_MIN_BYTES = 1024**2

_CHUNK_BYTES = 1024**2
_ZIP_FLAG_ENCRYPTED = 0x1
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
# Legacy zip names without the UTF-8 flag are decoded with the first codec
# that accepts every name in the archive. GBK covers zips made by Windows
# Explorer on Chinese systems; cp437 accepts any byte string.
_LEGACY_NAME_CODECS = ("utf-8", "gbk", "cp437")
_OTHER_FORMAT_MAGIC = {
    b"Rar!\x1a\x07": "RAR",
    b"7z\xbc\xaf\x27\x1c": "7z",
}
_READ_FAILURES = (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, OSError, ValueError)


@dataclass(frozen=True)
class ExtractLimits:
    """Caps that protect the disk from oversized or hostile archives."""

    max_total_bytes: int = 2 * 1024**3
    max_files: int = 50_000
    max_ratio: float = 200.0


@dataclass(frozen=True)
class SkippedEntry:
    """An archive entry that was not extracted, with a code and a readable reason."""

    path: str
    code: str
    reason: str


@dataclass
class _Entry:
    """One archive member, independent of the archive format."""

    name: str
    kind: str  # "file", "dir", "symlink", "hardlink" or "special"
    size: int
    compressed_size: int | None
    open: Callable[[], IO[bytes]]


def extract_archive(
    archive: Path,
    dest: Path,
    limits: ExtractLimits = ExtractLimits(),
) -> list[SkippedEntry]:
    """Extract a zip or tar archive into `dest` and return the skipped entries.

    Zip, tar, tar.gz/tgz, tar.bz2 and tar.xz are recognised by content, not by
    file name. Backslashes in names count as folder separators. Legacy zip
    names (without the UTF-8 flag) are decoded as UTF-8, then GBK, then cp437.

    Skipped entries and their codes:
    - "unsafe_path": absolute or `..` paths, and names the file system rejects.
    - "symlink", "hardlink": links of either kind.
    - "special_file": device files and pipes.
    - "duplicate_entry": a second entry with the same name.
    - "corrupt_entry": data that fails to decompress or fails its CRC check.

    Raises:
        ArchiveError: the file is missing, is not a supported archive, is
            encrypted, uses an unsupported compression method, or exceeds one
            of `limits` (checked before anything is written).
    """
    archive = Path(archive)
    if not archive.is_file():
        raise ArchiveError(f"Archive not found: {archive}. Check the path and try again.")

    with _open_entries(archive) as entries:
        _check_limits(archive, entries, limits)
        dest.mkdir(parents=True, exist_ok=True)
        skipped = _write_entries(archive, entries, dest.resolve(), limits)

    for entry in skipped:
        logger.info("Skipped %s in %s: %s", entry.path, archive.name, entry.reason)
    return skipped


@contextmanager
def _open_entries(archive: Path) -> Iterator[list[_Entry]]:
    if zipfile.is_zipfile(archive):
        try:
            zip_file = zipfile.ZipFile(archive)
        except zipfile.BadZipFile as error:
            raise ArchiveError(
                f"{archive.name} is a damaged zip archive ({error}). Create the zip again and retry."
            ) from error
        with zip_file:
            yield _zip_entries(archive, zip_file)
        return

    if tarfile.is_tarfile(archive):
        try:
            tar_file = tarfile.open(archive, mode="r:*")
            members = tar_file.getmembers()
        except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
            raise ArchiveError(
                f"{archive.name} is a damaged tar archive ({error}). Create it again, "
                "or pack the folder as a .zip file instead."
            ) from error
        with tar_file:
            yield _tar_entries(tar_file, members)
        return

    raise ArchiveError(_not_an_archive_message(archive))


def _not_an_archive_message(archive: Path) -> str:
    with archive.open("rb") as file:
        head = file.read(8)
    for magic, format_name in _OTHER_FORMAT_MAGIC.items():
        if head.startswith(magic):
            return (
                f"{archive.name} is a {format_name} archive, which is not supported. "
                "Extract it and pack the folder as a .zip file."
            )
    if not head:
        return f"{archive.name} is empty (0 bytes). Upload the archive again."
    return (
        f"{archive.name} is not a zip or tar archive (its content does not match the "
        "file name). Pack the image folder as a .zip file and upload that."
    )


def _zip_entries(archive: Path, zip_file: zipfile.ZipFile) -> list[_Entry]:
    infos = zip_file.infolist()
    names = _decode_zip_names(infos)
    entries = []
    for info, name in zip(infos, names):
        if info.flag_bits & _ZIP_FLAG_ENCRYPTED:
            raise ArchiveError(
                f"{archive.name} is password-protected ({name!r} is encrypted). "
                "Create the zip again without a password."
            )
        if info.compress_type not in _ZIP_METHODS:
            method = _ZIP_UNSUPPORTED_METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
            raise ArchiveError(
                f"{archive.name} uses the {method} compression method for {name!r}, which "
                "cannot be read. Create the zip again with standard (deflate) compression."
            )
        entries.append(
            _Entry(
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
    legacy_raw = [info.orig_filename.encode("cp437") for info in infos if not info.flag_bits & _ZIP_FLAG_UTF8]
    codec = next(codec for codec in _LEGACY_NAME_CODECS if _decodes_all(legacy_raw, codec))
    if legacy_raw and codec != "utf-8":
        logger.info("Decoding legacy zip entry names as %s", codec)

    names = []
    for info in infos:
        if info.flag_bits & _ZIP_FLAG_UTF8:
            names.append(info.orig_filename)
        else:
            names.append(info.orig_filename.encode("cp437").decode(codec))
    return names


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


def _tar_entries(tar_file: tarfile.TarFile, members: list[tarfile.TarInfo]) -> list[_Entry]:
    entries = []
    for member in members:
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
        entries.append(
            _Entry(
                name=_decode_tar_name(member.name),
                kind=kind,
                size=member.size if kind == "file" else 0,
                compressed_size=None,
                open=lambda member=member: tar_file.extractfile(member),
            )
        )
    return entries


def _decode_tar_name(name: str) -> str:
    # tarfile decodes names as UTF-8 and keeps undecodable bytes as
    # surrogates; such names get the same fallbacks as legacy zip names.
    raw = name.encode("utf-8", "surrogateescape")
    for codec in _LEGACY_NAME_CODECS:
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    raise AssertionError("cp437 decodes every byte string")


def _check_limits(archive: Path, entries: list[_Entry], limits: ExtractLimits) -> None:
    # Folder entries count too, because each one becomes a folder on disk.
    if len(entries) > limits.max_files:
        raise ArchiveError(
            f"{archive.name} contains {len(entries)} entries (files and folders), over the cap of "
            f"max_files={limits.max_files}. Split the dataset into smaller archives, or raise the cap "
            f"with ExtractLimits(max_files={len(entries)})."
        )

    files = [entry for entry in entries if entry.kind == "file"]

    total = sum(entry.size for entry in files)
    if total > limits.max_total_bytes:
        raise ArchiveError(
            f"{archive.name} expands to {_format_bytes(total)}, over the cap of "
            f"max_total_bytes={limits.max_total_bytes} ({_format_bytes(limits.max_total_bytes)}). "
            "Use fewer or smaller images, or raise the cap with ExtractLimits(max_total_bytes=...)."
        )

    for entry in files:
        if entry.compressed_size is None or entry.size < RATIO_CHECK_MIN_BYTES:
            continue
        ratio = entry.size / max(entry.compressed_size, 1)
        if ratio > limits.max_ratio:
            raise ArchiveError(
                f"{archive.name}: entry {entry.name!r} expands from {entry.compressed_size} to "
                f"{entry.size} bytes (ratio {ratio:.0f}), over the cap of max_ratio={limits.max_ratio:g}. "
                "This is typical of a zip bomb. If you trust the archive, raise the cap with "
                "ExtractLimits(max_ratio=...)."
            )

    # A tar archive has no per-entry compressed size, so a compressed tar is
    # checked as a whole: its expanded size against its size on disk.
    has_tar_entries = any(entry.compressed_size is None for entry in files)
    archive_bytes = archive.stat().st_size
    if has_tar_entries and total >= RATIO_CHECK_MIN_BYTES and total / max(archive_bytes, 1) > limits.max_ratio:
        raise ArchiveError(
            f"{archive.name} expands from {archive_bytes} to {total} bytes "
            f"(ratio {total / max(archive_bytes, 1):.0f}), over the cap of max_ratio={limits.max_ratio:g}. "
            "If you trust the archive, raise the cap with ExtractLimits(max_ratio=...)."
        )


def _write_entries(
    archive: Path,
    entries: list[_Entry],
    dest: Path,
    limits: ExtractLimits,
) -> list[SkippedEntry]:
    skipped: list[SkippedEntry] = []
    written_bytes = 0

    for entry in entries:
        display_name = entry.name.replace("\\", "/")
        parts, unsafe_reason = _safe_parts(entry.name)
        if unsafe_reason is not None:
            skipped.append(SkippedEntry(display_name, "unsafe_path", unsafe_reason))
            continue
        if not parts:
            continue
        relative = "/".join(parts)

        if entry.kind in ("symlink", "hardlink"):
            kind_text = "symbolic link" if entry.kind == "symlink" else "hard link"
            skipped.append(SkippedEntry(relative, entry.kind, f"{kind_text}; links are never extracted"))
            continue
        if entry.kind == "special":
            skipped.append(SkippedEntry(relative, "special_file", "device file or pipe; only regular files are extracted"))
            continue

        problem = _make_folders(dest, parts if entry.kind == "dir" else parts[:-1])
        if problem is not None:
            skipped.append(SkippedEntry(relative, "unsafe_path", problem))
            continue
        if entry.kind == "dir":
            continue

        skip, written_bytes = _write_file(archive, entry, dest, parts, written_bytes, limits)
        if skip is not None:
            skipped.append(SkippedEntry(relative, skip[0], skip[1]))

    return skipped


def _safe_parts(name: str) -> tuple[list[str], str | None]:
    """Split an entry name into path parts, or return why it is unsafe."""
    name = name.replace("\\", "/")
    if "\x00" in name:
        return [], "name contains a NUL character"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return [], "absolute path; entries must be relative to the archive root"

    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        return [], "path contains '..' and would be written outside the destination folder"
    # On Windows a ':' in a name would write an NTFS alternate data stream.
    if os.name == "nt" and any(":" in part for part in parts):
        return [], "name contains ':', which Windows does not allow"
    return parts, None


def _make_folders(dest: Path, parts: list[str]) -> str | None:
    """Create the folders `parts` under `dest` without following links."""
    current = dest
    for part in parts:
        current = current / part
        if current.is_symlink():
            return f"folder {part!r} is a link in the destination; links are never followed"
        if current.is_dir():
            continue
        if current.exists():
            return f"folder {part!r} clashes with a file of the same name"
        try:
            current.mkdir()
        except OSError as error:
            return f"cannot create folder {part!r}: {error.strerror}"
    return None


def _write_file(
    archive: Path,
    entry: _Entry,
    dest: Path,
    parts: list[str],
    written_bytes: int,
    limits: ExtractLimits,
) -> tuple[tuple[str, str] | None, int]:
    """Stream one file entry to disk; return (code, reason) when skipped, and the new byte total."""
    target = dest.joinpath(*parts)
    # O_EXCL fails on an existing file or link, so a second entry with the
    # same name never overwrites the first and no link is followed.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(target, flags, 0o644)
    except FileExistsError:
        return ("duplicate_entry", "an entry with the same name was already extracted"), written_bytes
    except OSError as error:
        return ("unsafe_path", f"cannot create the file: {error.strerror}"), written_bytes

    with os.fdopen(descriptor, "wb") as output:
        try:
            written_bytes = _copy_entry(archive, entry, output, target, written_bytes, limits)
        except _READ_FAILURES as error:
            output.close()
            target.unlink(missing_ok=True)
            return ("corrupt_entry", f"data is damaged and cannot be decompressed ({error})"), written_bytes
        except BaseException:
            output.close()
            target.unlink(missing_ok=True)
            raise
    return None, written_bytes


def _copy_entry(
    archive: Path,
    entry: _Entry,
    output: IO[bytes],
    target: Path,
    written_bytes: int,
    limits: ExtractLimits,
) -> int:
    """Copy one entry's data; read errors propagate, write errors raise ArchiveError."""
    with entry.open() as source:
        while chunk := source.read(_CHUNK_BYTES):
            written_bytes += len(chunk)
            if written_bytes > limits.max_total_bytes:
                raise ArchiveError(
                    f"{archive.name} expands past the cap of max_total_bytes={limits.max_total_bytes} "
                    "although its entries declare less. The archive is damaged or hostile; do not use it."
                )
            try:
                output.write(chunk)
            except OSError as error:
                raise ArchiveError(
                    f"Cannot write {target} from {archive.name}: {error.strerror}. "
                    "Free disk space or choose another data folder (TL_DATA_DIR)."
                ) from error
    return written_bytes


def _format_bytes(count: int) -> str:
    value = float(count)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
