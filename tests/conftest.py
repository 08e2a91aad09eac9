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


@pytest.fixture(scope="session")
def two_runs_root(colour_dataset_dir, tmp_path_factory):
    """A data root with two tiny finished frozen runs, MobileNetV2 and MobileNet (about 15 s).

    Shared by the Compare and Predict page tests, which copy it before changing any run.
    """
    from tl_core import runs
    from tl_core.datasets import open_dataset
    from tl_core.training import TrainConfig, train

    root = tmp_path_factory.mktemp("two-runs") / "data"
    dataset = open_dataset(colour_dataset_dir, data_root=root)
    for backbone in ("mobilenet_v2", "mobilenet"):
        config = TrainConfig(backbone=backbone, mode="frozen", image_size=32, epochs=1, batch_size=8)
        train(config, dataset, root / "runs" / runs.new_run_id(backbone, "frozen"))
    return root
