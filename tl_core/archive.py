"""Safe extraction of uploaded zip and tar archives.

`extract_archive` writes regular files and folders only, and only under the
destination folder. Entries that could escape it (absolute paths, `..`),
symbolic and hard links, and device files are skipped and returned with a
reason. Encrypted, unreadable and oversized archives raise `ArchiveError`
before any file is written. Reading the zip and tar formats is left to
`tl_core.archive_readers`.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tl_core.archive_readers import READ_FAILURES, ArchiveEntry, EntryListing, open_entries
from tl_core.errors import ArchiveError

logger = logging.getLogger(__name__)

# Entries smaller than this are never rejected for their compression ratio:
# a 1 MiB entry cannot exhaust a disk, and small blank BMP or text files
# legitimately compress more than 200 times.
RATIO_CHECK_MIN_BYTES = 1024**2

# File name endings of archive formats. tl_core.datasets skips an archive
# found inside the uploaded one, unless it is the only file there.
ARCHIVE_EXTENSIONS = (
    ".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".gz", ".bz2", ".xz", ".7z", ".rar",
)

# Codes of SkippedEntry, with the short English label the UI can show.
ENTRY_SKIP_CODES = {
    "unsafe_path": "absolute path or '..' that would escape the destination folder",
    "invalid_name": "name that the file system rejects (too long or not allowed)",
    "symlink": "symbolic link",
    "hardlink": "hard link",
    "special_file": "device file or pipe",
    "duplicate_entry": "second entry with the same name",
    "corrupt_entry": "damaged data in the archive",
}

# Codes of ArchiveError, with the short English label the UI can show.
ARCHIVE_ERROR_CODES = {
    "archive_not_found": "the archive file does not exist",
    "empty_archive": "the archive file is empty (0 bytes)",
    "not_an_archive": "the file is not a zip or tar archive",
    "unsupported_archive_format": "RAR or 7z archive, which cannot be read",
    "damaged_archive": "the archive is damaged",
    "encrypted_archive": "the zip is password-protected",
    "unsupported_compression": "the zip uses a compression method that cannot be read",
    "too_many_entries": "more files and folders than the cap",
    "too_large": "expands to more bytes than the cap",
    "compression_ratio": "compresses better than the cap allows (a zip bomb)",
    "upload_too_large": "the upload is bigger than the limit",
    "write_failed": "writing to the data folder failed (disk full?)",
}

_CHUNK_BYTES = 1024**2


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


def check_upload_size(upload: Path | str | int, max_bytes: int) -> int:
    """Raise ArchiveError when an upload is bigger than `max_bytes`; return its size in bytes.

    `upload` is a file path or a size in bytes, so that the UI can check an
    upload before it saves or extracts it.

    Raises:
        ArchiveError: code "upload_too_large", with `params` size and
            max_bytes; code "archive_not_found" for a missing path.
    """
    if isinstance(upload, int):
        size, name = upload, "The upload"
    else:
        path = Path(upload)
        try:
            size = path.stat().st_size
        except OSError as error:
            raise ArchiveError(
                f"Archive not found: {path}. Check the path and try again.",
                "archive_not_found",
                {"name": path.name},
            ) from error
        name = path.name
    if size > max_bytes:
        raise ArchiveError(
            f"{name} is {format_bytes(size)} ({size} bytes), over the upload limit of "
            f"{format_bytes(max_bytes)} ({max_bytes} bytes). Use fewer or smaller images, "
            "or split the dataset into several archives.",
            "upload_too_large",
            {"name": name, "size": size, "max_bytes": max_bytes},
        )
    return size


def is_archive_name(name: str | Path) -> bool:
    """Return whether a file name ends with one of ARCHIVE_EXTENSIONS, in any letter case."""
    return str(name).lower().endswith(ARCHIVE_EXTENSIONS)


def extract_archive(
    archive: Path,
    dest: Path,
    limits: ExtractLimits = ExtractLimits(),
) -> list[SkippedEntry]:
    """Extract a zip or tar archive into `dest` and return the skipped entries.

    Zip, tar, tar.gz/tgz, tar.bz2 and tar.xz are recognised by content, not by
    file name. Backslashes in names count as folder separators. Legacy zip
    names (without the UTF-8 flag) are taken from the Info-ZIP Unicode Path
    field when present, else decoded as UTF-8, then GBK, then cp437.

    Skipped entries get one of the codes in ENTRY_SKIP_CODES:
    - "unsafe_path": absolute or `..` paths, names with a NUL character, and
      folders that are links or clash with a file.
    - "invalid_name": names the file system rejects (too long, for example).
    - "symlink", "hardlink": links of either kind.
    - "special_file": device files and pipes.
    - "duplicate_entry": a second entry with the same name.
    - "corrupt_entry": data that fails to decompress or fails its CRC check.

    Raises:
        ArchiveError: the file is missing, is not a supported archive, is
            encrypted, uses an unsupported compression method, or exceeds one
            of `limits` (checked before anything is written). Its `code` is a
            key of ARCHIVE_ERROR_CODES.
    """
    archive = Path(archive)
    if not archive.is_file():
        raise ArchiveError(
            f"Archive not found: {archive}. Check the path and try again.",
            "archive_not_found",
            {"name": archive.name},
        )

    # Listing a compressed tar stops early once the declared size passes
    # what the ratio cap allows, so a tar bomb is not decompressed in full.
    archive_bytes = archive.stat().st_size
    listing_bytes = min(limits.max_total_bytes, max(RATIO_CHECK_MIN_BYTES, int(limits.max_ratio * archive_bytes)))
    with open_entries(archive, limits.max_files, listing_bytes) as listing:
        _check_limits(archive, listing, limits)
        dest.mkdir(parents=True, exist_ok=True)
        skipped = _write_entries(archive, listing.entries, dest.resolve(), limits)

    for entry in skipped:
        logger.info("Skipped %s in %s: %s", entry.path, archive.name, entry.reason)
    return skipped


def _check_limits(archive: Path, listing: EntryListing, limits: ExtractLimits) -> None:
    entries = listing.entries
    # A listing that stopped at a cap gives lower bounds, not exact numbers.
    at_least = "" if listing.complete else "at least "

    # Folder entries count too, because each one becomes a folder on disk.
    if len(entries) > limits.max_files:
        raise ArchiveError(
            f"{archive.name} contains {at_least}{len(entries)} entries (files and folders), over the cap of "
            f"max_files={limits.max_files}. Split the dataset into smaller archives, or raise the cap "
            f"with ExtractLimits(max_files=...).",
            "too_many_entries",
            {"name": archive.name, "count": len(entries), "max_files": limits.max_files},
        )

    files = [entry for entry in entries if entry.kind == "file"]

    total = sum(entry.size for entry in files)
    if total > limits.max_total_bytes:
        raise ArchiveError(
            f"{archive.name} expands to {at_least}{format_bytes(total)}, over the cap of "
            f"max_total_bytes={limits.max_total_bytes} ({format_bytes(limits.max_total_bytes)}). "
            "Use fewer or smaller images, or raise the cap with ExtractLimits(max_total_bytes=...).",
            "too_large",
            {"name": archive.name, "size": total, "max_bytes": limits.max_total_bytes},
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
                "ExtractLimits(max_ratio=...).",
                "compression_ratio",
                {"name": archive.name, "ratio": round(ratio), "max_ratio": limits.max_ratio},
            )

    # A tar archive has no per-entry compressed size, so a compressed tar is
    # checked as a whole: its expanded size against its size on disk.
    has_tar_entries = any(entry.compressed_size is None for entry in files)
    archive_bytes = archive.stat().st_size
    ratio = total / max(archive_bytes, 1)
    if has_tar_entries and total >= RATIO_CHECK_MIN_BYTES and ratio > limits.max_ratio:
        raise ArchiveError(
            f"{archive.name} expands from {archive_bytes} to {at_least}{total} bytes "
            f"(ratio {ratio:.0f}), over the cap of max_ratio={limits.max_ratio:g}. "
            "If you trust the archive, raise the cap with ExtractLimits(max_ratio=...).",
            "compression_ratio",
            {"name": archive.name, "ratio": round(ratio), "max_ratio": limits.max_ratio},
        )


def _write_entries(
    archive: Path,
    entries: list[ArchiveEntry],
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
            skipped.append(SkippedEntry(relative, *problem))
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


def _make_folders(dest: Path, parts: list[str]) -> tuple[str, str] | None:
    """Create the folders `parts` under `dest` without following links; return (code, reason) on failure."""
    current = dest
    for part in parts:
        current = current / part
        try:
            if current.is_symlink():
                return "unsafe_path", f"folder {part!r} is a link in the destination; links are never followed"
            if current.is_dir():
                continue
            if current.exists():
                return "unsafe_path", f"folder {part!r} clashes with a file of the same name"
            current.mkdir()
        except OSError as error:
            return "invalid_name", f"cannot create folder {part!r}: {error.strerror}"
    return None


def _write_file(
    archive: Path,
    entry: ArchiveEntry,
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
        return ("invalid_name", f"cannot create the file: {error.strerror}"), written_bytes

    with os.fdopen(descriptor, "wb") as output:
        try:
            written_bytes = _copy_entry(archive, entry, output, target, written_bytes, limits)
        except READ_FAILURES as error:
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
    entry: ArchiveEntry,
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
                    "although its entries declare less. The archive is damaged or hostile; do not use it.",
                    "too_large",
                    {"name": archive.name, "size": written_bytes, "max_bytes": limits.max_total_bytes},
                )
            try:
                output.write(chunk)
            except OSError as error:
                raise ArchiveError(
                    f"Cannot write {target} from {archive.name}: {error.strerror}. "
                    "Free disk space or choose another data folder (TL_DATA_DIR).",
                    "write_failed",
                    {"name": archive.name, "path": str(target), "detail": error.strerror},
                ) from error
    return written_bytes


def format_bytes(count: int) -> str:
    """Format a byte count as bytes, KiB, MiB or GiB (powers of 1024)."""
    value = float(count)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
