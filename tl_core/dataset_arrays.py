"""Loading a split of a dataset as resized uint8 arrays, cached next to dataset.json."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tl_core.dataset_report import SPLITS
from tl_core.errors import DatasetError, ImageDecodeError
from tl_core.images import load_resized
from tl_core.npy_files import load_checked

if TYPE_CHECKING:
    from tl_core.datasets import Dataset

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]

DECODE_THREADS = min(8, os.cpu_count() or 1)
CACHE_FOLDER = "cache"  # sub-folder of a dataset's folder that contains decoded images and features


def load_split(
    dataset: Dataset,
    split: str,
    image_size: int,
    progress: ProgressCallback | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the images of one split resized to image_size x image_size, and their labels.

    Images are uint8 of shape (N, image_size, image_size, 3) and labels int32
    of shape (N,), in `dataset.items[split]` order. For a dataset with a
    folder, images are decoded straight into a .npy file in its cache/
    folder and returned as a read-only memory map of that file. A split
    larger than memory then streams from disk, and the operating system
    keeps the pages it has room for. A later call maps the same file
    without decoding. A dataset without a folder gets its images in memory.
    """
    if split not in SPLITS:
        raise DatasetError(
            f"split must be one of {', '.join(SPLITS)}; received {split!r}", "unknown_split", {"split": split}
        )
    pairs = dataset.items.get(split, [])
    labels = np.asarray([label for _, label in pairs], dtype=np.int32)
    shape = (len(pairs), image_size, image_size, 3)
    images_path = _cache_path(dataset, split, image_size)
    if images_path is not None:
        stored = load_checked(images_path, shape, np.uint8, mmap_mode="r")
        if stored is not None:
            if progress:
                progress(len(pairs), len(pairs))
            return stored, labels
        try:
            return _decode_to_file(dataset, pairs, images_path, shape, progress), labels
        except OSError as error:
            # The cache only saves time, so a full disk or read-only folder does not fail the run.
            logger.warning("Failed to write image cache %s: %s. Decoding into memory instead.", images_path, error)
    images = np.empty(shape, dtype=np.uint8)
    _decode_split(dataset, pairs, images, progress)
    return images, labels


def _decode_to_file(dataset: Dataset, pairs: list, path: Path, shape: tuple, progress) -> np.ndarray:
    """Decode into a temporary .npy file, rename it to `path`, and return a read-only map of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.tmp.npy")
    try:
        images = np.lib.format.open_memmap(temporary, mode="w+", dtype=np.uint8, shape=shape)
        try:
            _decode_split(dataset, pairs, images, progress)
            images.flush()
        finally:
            del images  # closes the map, so the file can be renamed on every system
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return np.load(path, mmap_mode="r")


def split_digest(dataset: Dataset, split: str) -> str:
    """Return a short SHA-256 digest of a split's (path, label) items, the cache key of data derived from them."""
    pairs = [list(pair) for pair in dataset.items.get(split, [])]
    return hashlib.sha256(json.dumps(pairs).encode()).hexdigest()[:8]


def _cache_path(dataset: Dataset, split: str, image_size: int) -> Path | None:
    if dataset.folder is None:
        return None
    return dataset.folder / CACHE_FOLDER / f"{split}_{image_size}_{split_digest(dataset, split)}_images.npy"


def _decode_split(dataset: Dataset, pairs: list[tuple[str, int]], images: np.ndarray, progress: ProgressCallback | None) -> None:
    """Decode the images of `pairs` into the rows of `images`, resized to its row size."""
    image_size = images.shape[1]
    if progress:
        progress(0, len(pairs))

    def load(index: int) -> int:
        path = pairs[index][0]
        try:
            images[index] = load_resized(dataset.root / path, image_size, max_pixels=dataset.max_pixels)
        except ImageDecodeError as error:
            raise DatasetError(
                f"Cannot load {path} from {dataset.root}: {error.reason}. The files changed after "
                "ingestion; open the dataset again.",
                "files_changed",
                {"path": path, "reason": error.reason},
            ) from error
        return index

    with ThreadPoolExecutor(max_workers=DECODE_THREADS) as pool:
        for done, _ in enumerate(pool.map(load, range(len(pairs))), start=1):
            if progress:
                progress(done, len(pairs))
