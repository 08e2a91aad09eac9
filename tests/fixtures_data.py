"""Generators of small image files, folder trees and crafted archives for the data tests."""

from __future__ import annotations

import io
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

_LOCAL_HEADER = b"PK\x03\x04"
_CENTRAL_HEADER = b"PK\x01\x02"


def png_bytes(seed: int = 0, size: tuple[int, int] = (8, 8)) -> bytes:
    """Return a PNG of random RGB noise; different seeds give different files."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return encode(Image.fromarray(pixels), "PNG")


def encode(image: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def class_tree(counts: dict[str, int], prefix: str = "", seed: int = 0, ext: str = ".png") -> dict[str, bytes]:
    """Return {relative path: PNG bytes} with counts[name] distinct images under prefix/name/."""
    files = {}
    for class_index, (name, count) in enumerate(counts.items()):
        for index in range(count):
            image_seed = seed * 100_000 + class_index * 1000 + index
            files[f"{prefix}{name}/img_{index:03d}{ext}"] = png_bytes(image_seed)
    return files


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    """Write {relative path: bytes} under root; a path ending in '/' makes an empty folder."""
    for relative, data in files.items():
        target = root / relative
        if relative.endswith("/"):
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root


def write_zip(path: Path, files: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    """Write a zip with the given entry names as they are, backslashes and '..' included."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = method
            if name.endswith("/"):
                info.external_attr = (0o40755 << 16) | 0x10
            archive.writestr(info, data)
    return path


def write_symlink_zip(path: Path, link_name: str, target: str, other_files: dict[str, bytes]) -> Path:
    """Write a zip whose `link_name` entry is a Unix symbolic link pointing at `target`."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in other_files.items():
            archive.writestr(name, data)
        info = zipfile.ZipInfo(link_name)
        info.create_system = 3
        info.external_attr = 0o120777 << 16
        archive.writestr(info, target)
    return path


def write_legacy_name_zip(path: Path, files: dict[str, bytes], encoding: str) -> Path:
    """Write a zip whose names are stored in `encoding` without the UTF-8 flag, as old tools do.

    zipfile always writes non-ASCII names as flagged UTF-8, so each name is
    written as an ASCII placeholder of the same byte length and then replaced.
    """
    encoded = {name: name.encode(encoding) for name in files}
    placeholders = {name: _placeholder(index, len(raw)) for index, (name, raw) in enumerate(encoded.items())}
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(placeholders[name].decode("ascii"), data)

    return _replace_placeholders(path, placeholders, encoded)


def _replace_placeholders(path: Path, placeholders: dict[str, bytes], encoded: dict[str, bytes]) -> Path:
    """Replace each name's ASCII placeholder in the zip at `path` by its encoded bytes, in both headers."""
    content = path.read_bytes()
    for name, raw in encoded.items():
        assert content.count(placeholders[name]) == 2, "placeholder must appear in both headers"
        content = content.replace(placeholders[name], raw)
    path.write_bytes(content)
    return path


def _placeholder(index: int, length: int) -> bytes:
    tag = f"~{index}~".encode()
    return (tag * (length // len(tag) + 1))[:length] if length >= len(tag) else b"~" * length


def set_zip_flag(path: Path, flag: int) -> Path:
    """Set a general-purpose flag bit on every entry, in the local and central headers."""
    _patch_headers(path, local_offset=6, central_offset=8, fmt="<H", update=lambda value: value | flag)
    return path


def set_zip_method(path: Path, method: int) -> Path:
    """Overwrite the compression method id of every entry."""
    _patch_headers(path, local_offset=8, central_offset=10, fmt="<H", update=lambda value: method)
    return path


def _patch_headers(path: Path, local_offset: int, central_offset: int, fmt: str, update) -> None:
    content = bytearray(path.read_bytes())
    for signature, offset in ((_LOCAL_HEADER, local_offset), (_CENTRAL_HEADER, central_offset)):
        start = content.find(signature)
        while start != -1:
            (value,) = struct.unpack_from(fmt, content, start + offset)
            struct.pack_into(fmt, content, start + offset, update(value))
            start = content.find(signature, start + 4)
    path.write_bytes(bytes(content))


def corrupt_stored_entry(path: Path, marker: bytes) -> Path:
    """Flip one byte of a stored (uncompressed) entry's data so that its CRC check fails."""
    content = bytearray(path.read_bytes())
    position = content.find(marker)
    assert position != -1, "marker not found in the archive"
    content[position] ^= 0xFF
    path.write_bytes(bytes(content))
    return path


def png_with_huge_header(width: int, height: int) -> bytes:
    """Return a PNG that declares width x height pixels but carries no pixel data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def write_tar(path: Path, files: dict[str, bytes], mode: str = "w") -> Path:
    """Write a tar archive (mode "w", "w:gz", "w:bz2" or "w:xz") of regular files; a name ending in '/' makes a folder."""
    with tarfile.open(path, mode) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name.rstrip("/") if name.endswith("/") else name)
            info.mtime = 1_577_836_800
            if name.endswith("/"):
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
                continue
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def write_unicode_path_zip(path: Path, files: dict[str, bytes], encoding: str) -> Path:
    """Write a legacy-encoded zip whose entries also carry an Info-ZIP Unicode Path field (0x7075).

    Some zip tools store the name in the local code page and add the UTF-8
    name in this extra field. The field carries the CRC-32 of the legacy
    name, so a reader can tell whether the field is current.
    """
    encoded = {name: name.encode(encoding) for name in files}
    placeholders = {name: _placeholder(index, len(raw)) for index, (name, raw) in enumerate(encoded.items())}
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            utf8 = name.encode("utf-8")
            field_data = struct.pack("<BI", 1, zlib.crc32(encoded[name])) + utf8
            info = zipfile.ZipInfo(placeholders[name].decode("ascii"), date_time=(2020, 1, 1, 0, 0, 0))
            info.extra = struct.pack("<HH", 0x7075, len(field_data)) + field_data
            archive.writestr(info, data)

    return _replace_placeholders(path, placeholders, encoded)


def png16_bytes(values: np.ndarray) -> bytes:
    """Return a 16-bit PNG of `values` (uint16), grey (H, W), grey+alpha (H, W, 2), RGB or RGBA.

    Pillow cannot write 16-bit colour PNGs, so the file is assembled from
    its chunks: IHDR with bit depth 16, one unfiltered IDAT, IEND.
    """
    color_types = {2: 4, 3: 2, 4: 6}
    height, width = values.shape[:2]
    color_type = 0 if values.ndim == 2 else color_types[values.shape[2]]
    rows = b"".join(b"\x00" + values[row].astype(">u2").tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def exif_with_orientation(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


def two_colour_image(size: tuple[int, int] = (16, 8)) -> Image.Image:
    """Return an RGB image whose left half is red and right half is blue."""
    width, height = size
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[:, : width // 2] = (255, 0, 0)
    pixels[:, width // 2 :] = (0, 0, 255)
    return Image.fromarray(pixels)


# Helpers for reading ingestion results ------------------------------------


def skipped_codes(dataset) -> dict[str, str]:
    """Return {path: code} of a dataset's skipped files."""
    return {item.path: item.code for item in dataset.report.skipped}


def find_notice(dataset, code: str):
    """Return the one notice with `code`, failing when there is none or more than one."""
    found = [item for item in dataset.report.warnings if item.code == code]
    assert len(found) == 1, f"expected one {code!r} notice, got {dataset.report.warnings}"
    return found[0]


def notice_codes(dataset) -> set[str]:
    return {item.code for item in dataset.report.warnings}
