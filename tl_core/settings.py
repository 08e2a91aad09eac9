"""Folder locations and training settings, each set by an environment variable."""

import os
from pathlib import Path

from tl_core.errors import ConfigError

THREADS_ENV = "TL_THREADS"
DISTRIBUTION_ENV = "TL_DISTRIBUTION"
DISTRIBUTIONS = ("auto", "mirrored", "default")


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


def requested_threads() -> int | None:
    """Return the TensorFlow thread count that $TL_THREADS sets, or None when it is unset.

    Raises ConfigError when the value is not a whole number of 1 or more.
    """
    requested = os.environ.get(THREADS_ENV, "")
    if not requested:
        return None
    if not (requested.isdigit() and int(requested) >= 1):
        raise ConfigError(
            f"{THREADS_ENV} must be a whole number of threads, 1 or more, but received {requested!r}. "
            "Fix it or unset it to use every usable core."
        )
    return int(requested)


def requested_distribution(name: str | None = None) -> str:
    """Return the distribution setting `name`, by default $TL_DISTRIBUTION or "auto".

    Raises ConfigError when it is not one of DISTRIBUTIONS.
    """
    name = name or os.environ.get(DISTRIBUTION_ENV) or "auto"
    if name not in DISTRIBUTIONS:
        raise ConfigError(
            f"{DISTRIBUTION_ENV} must be one of {', '.join(DISTRIBUTIONS)}, but received {name!r}. "
            "Fix it or unset it to use auto."
        )
    return name
