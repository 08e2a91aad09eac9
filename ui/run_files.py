"""Images and test results of a run, read for display by several pages."""

import csv
import logging
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

from tl_core import runs
from tl_core.errors import TLError
from tl_core.images import decode_image

log = logging.getLogger(__name__)


def read_test_predictions(folder: Path) -> list[dict] | None:
    """Return the rows of test_predictions.csv with float confidences, or None when missing."""
    path = Path(folder) / "test_predictions.csv"
    if not path.is_file():
        return None
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        try:
            row["confidence"] = float(row.get("confidence") or 0.0)
        except ValueError:
            row["confidence"] = 0.0
    return rows


def dataset_root(folder: Path) -> Path | None:
    """Return the images folder that a run's test_predictions.csv paths are relative to."""
    root = ((runs.read_json(Path(folder) / "config.json") or {}).get("dataset") or {}).get("root")
    return Path(root) if root else None


def display_copy(image: Image.Image, pixels: int) -> Image.Image:
    """Return a copy fitting in pixels x pixels; small images are scaled up without blur."""
    copy = image.copy()
    copy.thumbnail((pixels, pixels), Image.Resampling.LANCZOS)
    if max(copy.size) < pixels // 2:
        # Tiny images such as 28 px Fashion-MNIST stay sharp when enlarged with NEAREST.
        factor = pixels // max(copy.size)
        copy = copy.resize((copy.width * factor, copy.height * factor), Image.Resampling.NEAREST)
    return copy


def load_thumbnail(path: Path, pixels: int) -> np.ndarray | None:
    """Return an RGB thumbnail of at most `pixels` square, or None when the file is gone or unreadable."""
    try:
        modified_ns = Path(path).stat().st_mtime_ns
    except OSError:
        return None
    return _thumbnail(str(path), modified_ns, pixels)


@st.cache_data(max_entries=2000, show_spinner=False)
def _thumbnail(path: str, modified_ns: int, pixels: int) -> np.ndarray | None:
    try:
        image = decode_image(Path(path))
    except TLError as error:
        log.info("No thumbnail for %s: %s", path, error)
        return None
    return np.asarray(display_copy(image, pixels))
