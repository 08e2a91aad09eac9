"""Shared fixtures: a private data root and a small generated image dataset."""

import os

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

COLOURS = {"red": (200, 30, 30), "green": (30, 170, 40), "blue": (30, 60, 200)}


@pytest.fixture(autouse=True)
def private_data_root(tmp_path, monkeypatch):
    """Keep datasets and runs of every test under its own temporary folder."""
    monkeypatch.setenv("TL_DATA_DIR", str(tmp_path / "data"))


def write_colour_dataset(root, per_class=10, size=40, seed=0):
    """Write one folder per colour of noisy, mostly single-colour PNG images."""
    rng = np.random.default_rng(seed)
    for name, colour in COLOURS.items():
        folder = root / name
        folder.mkdir(parents=True)
        for index in range(per_class):
            noise = rng.integers(-40, 40, size=(size, size, 3))
            pixels = np.clip(np.array(colour) + noise, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{name}_{index:02d}.png")
    return root


@pytest.fixture(scope="session")
def colour_dataset_dir(tmp_path_factory):
    """A folder dataset: 3 classes x 10 images, 40 px."""
    return write_colour_dataset(tmp_path_factory.mktemp("colours") / "colours")
