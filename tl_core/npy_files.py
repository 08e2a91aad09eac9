"""Reading cached .npy files that a crash, another version or a full disk may have damaged."""

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def load_checked(path: Path | None, shape: tuple, dtype, mmap_mode: str | None = None) -> np.ndarray | None:
    """Load the array stored at `path` if it is usable, else return None.

    A file is unusable when it is missing, unreadable, or not of `shape` and
    `dtype`. With `mmap_mode` (as for `numpy.load`), the array is a memory
    map of the file. An unusable file is logged and left for the caller to
    replace.
    """
    if path is None or not path.is_file():
        return None
    try:
        stored = np.load(path, mmap_mode=mmap_mode)
    except (OSError, ValueError) as error:
        log.warning("Ignoring cache %s: %s", path, error)
        return None
    if stored.shape != tuple(shape) or stored.dtype != np.dtype(dtype):
        log.warning("Ignoring cache %s: %s %s, expected %s %s", path, stored.dtype, stored.shape, np.dtype(dtype), shape)
        return None
    return stored
