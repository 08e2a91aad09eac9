"""Folder locations, each overridable by an environment variable."""

import os
from pathlib import Path


def data_root() -> Path:
    """Return the root of datasets and runs: $TL_DATA_DIR or ./data."""
    return Path(os.environ.get("TL_DATA_DIR", "data")).resolve()


def weights_cache_dir() -> Path:
    """Return the folder of converted weights.

    $TL_WEIGHTS_DIR if set, else transfer-learning-lab/weights under
    $XDG_CACHE_HOME (default ~/.cache).
    """
    explicit = os.environ.get("TL_WEIGHTS_DIR")
    if explicit:
        return Path(explicit).expanduser().resolve()
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home).expanduser().resolve() / "transfer-learning-lab" / "weights"
