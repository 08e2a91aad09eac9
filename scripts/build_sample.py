"""Build assets/samples/fashion_mnist_5.zip from Debian's Fashion-MNIST package.

Rebuild with:

    cd /tmp && apt-get download dataset-fashion-mnist
    dpkg -x dataset-fashion-mnist_*_all.deb /tmp/fashion-mnist-deb
    python scripts/build_sample.py --idx-dir /tmp/fashion-mnist-deb/usr/share/datasets/fashion-mnist

The zip contains the first 100 test-set (t10k) images of five classes as 28x28
grayscale PNG files, in fashion_mnist_5/<class>/<class>_0001.png. Entries are
sorted and carry a fixed timestamp, so the same Pillow and zlib versions give
the same bytes.
"""

from __future__ import annotations

import argparse
import gzip
import io
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

# Fashion-MNIST label index -> folder name.
CLASSES = {0: "tshirt_top", 1: "trouser", 7: "sneaker", 8: "bag", 9: "ankle_boot"}
IMAGES_PER_CLASS = 100
WRAPPER = "fashion_mnist_5"
ZIP_TIMESTAMP = (2020, 1, 1, 0, 0, 0)
ZIP_COMMENT = (
    b"Fashion-MNIST subset (first 100 test images of 5 classes). "
    b"Copyright (c) 2017 Zalando SE, MIT License. https://github.com/zalandoresearch/fashion-mnist"
)
DEFAULT_IDX_DIR = Path("/usr/share/datasets/fashion-mnist")
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "assets" / "samples" / "fashion_mnist_5.zip"


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) of unsigned bytes."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as file:
        data = file.read()
    zero, dtype_code, rank = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes")
    shape = struct.unpack(f">{rank}I", data[4 : 4 + 4 * rank])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(shape)


def find_idx(idx_dir: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (idx_dir / name).is_file():
            return idx_dir / name
    raise FileNotFoundError(f"{stem}[.gz] not found in {idx_dir}; see the rebuild commands at the top of this script")


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def build_entries(images: np.ndarray, labels: np.ndarray) -> dict[str, bytes]:
    entries = {}
    for label, name in CLASSES.items():
        indices = np.flatnonzero(labels == label)[:IMAGES_PER_CLASS]
        if len(indices) < IMAGES_PER_CLASS:
            raise ValueError(f"only {len(indices)} images of label {label} in the test set")
        for number, index in enumerate(indices, start=1):
            entries[f"{WRAPPER}/{name}/{name}_{number:04d}.png"] = png_bytes(images[index])
    return entries


def write_zip(entries: dict[str, bytes], output: Path) -> None:
    folders = {WRAPPER + "/"} | {f"{WRAPPER}/{name}/" for name in CLASSES.values()}
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w") as archive:
        archive.comment = ZIP_COMMENT
        for name in sorted(folders | set(entries)):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
            info.create_system = 3  # Unix, so that external_attr contains permission bits
            if name.endswith("/"):
                info.external_attr = (0o40755 << 16) | 0x10
                archive.writestr(info, b"")
            else:
                info.external_attr = 0o100644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, entries[name], compresslevel=9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--idx-dir",
        type=Path,
        default=DEFAULT_IDX_DIR,
        help=f"folder with t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz] (default {DEFAULT_IDX_DIR})",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help=f"zip to write (default {DEFAULT_OUTPUT})")
    args = parser.parse_args(argv)

    images = read_idx(find_idx(args.idx_dir, "t10k-images-idx3-ubyte"))
    labels = read_idx(find_idx(args.idx_dir, "t10k-labels-idx1-ubyte"))
    entries = build_entries(images, labels)
    write_zip(entries, args.output)
    print(f"Wrote {args.output} ({args.output.stat().st_size} bytes, {len(entries)} images)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
