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

if TYPE_CHECKING:
    from tl_core.datasets import Dataset

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]

DECODE_THREADS = min(8, os.cpu_count() or 1)


def load_split(
    dataset: Dataset,
    split: str,
    image_size: int,
    progress: ProgressCallback | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the images of one split resized to image_size x image_size, and their labels.

    Images are uint8 of shape (N, image_size, image_size, 3) and labels int32
    of shape (N,), in `dataset.items[split]` order. For a dataset with a
    folder, the arrays are cached as .npy files in its cache/ folder.

    NOTE: the whole split is held in memory: N * image_size**2 * 3 bytes.
    """
    if split not in SPLITS:
        raise DatasetError(
            f"split must be one of {', '.join(SPLITS)}; received {split!r}", "unknown_split", {"split": split}
        )
    pairs = dataset.items.get(split, [])
    cache = _cache_paths(dataset, split, image_size, pairs)
    if cache is not None and cache[0].is_file() and cache[1].is_file():
        images, labels = np.load(cache[0]), np.load(cache[1])
        if len(images) == len(labels) == len(pairs):
            if progress:
                progress(len(pairs), len(pairs))
            return images, labels
        logger.warning("Ignoring cache %s: its length does not match the split", cache[0])

    images = _decode_split(dataset, pairs, image_size, progress)
    labels = np.asarray([label for _, label in pairs], dtype=np.int32)
    if cache is not None:
        cache[0].parent.mkdir(parents=True, exist_ok=True)
        _save_npy_atomic(cache[1], labels)
        _save_npy_atomic(cache[0], images)
    return images, labels


def _cache_paths(dataset: Dataset, split: str, image_size: int, pairs: list) -> tuple[Path, Path] | None:
    if dataset.folder is None:
        return None
    items_digest = hashlib.sha256(json.dumps(pairs).encode()).hexdigest()[:8]
    stem = dataset.folder / "cache" / f"{split}_{image_size}_{items_digest}"
    return stem.with_name(stem.name + "_images.npy"), stem.with_name(stem.name + "_labels.npy")


def _decode_split(dataset: Dataset, pairs: list[tuple[str, int]], image_size: int, progress: ProgressCallback | None) -> np.ndarray:
    images = np.empty((len(pairs), image_size, image_size, 3), dtype=np.uint8)
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
    return images


def _save_npy_atomic(path: Path, array: np.ndarray) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with temporary.open("wb") as file:
        np.save(file, array)
    os.replace(temporary, path)

