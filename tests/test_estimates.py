"""Duration estimates of the Train page (ui/estimates.py)."""

import numpy as np

from tl_core import features
from tl_core.backbones import BACKBONES
from tl_core.datasets import open_dataset
from tl_core.training import TrainConfig
from ui.estimates import STARTUP_SECONDS, estimated_forward_speed, estimated_run_seconds


def store_features(dataset, backbone: str, image_size: int) -> None:
    for split, pairs in dataset.items.items():
        path = features.cache_path(dataset, split, backbone, image_size, "0123456789abcdef")
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, np.zeros((len(pairs), 4), np.float32))


def test_frozen_estimate_with_stored_features(colour_dataset_dir, tmp_path):
    dataset = open_dataset(colour_dataset_dir, data_root=tmp_path / "data")
    spec = BACKBONES["mobilenet_v2"]
    config = TrainConfig(backbone="mobilenet_v2", mode="frozen", image_size=224, epochs=10)
    images = sum(dataset.counts().values())

    cold = estimated_run_seconds(spec, config, dataset)
    assert cold == STARTUP_SECONDS + images / estimated_forward_speed(spec, 224)

    store_features(dataset, "mobilenet_v2", 224)
    assert estimated_run_seconds(spec, config, dataset) == STARTUP_SECONDS


def test_estimate_ignores_features_of_other_settings(colour_dataset_dir, tmp_path):
    dataset = open_dataset(colour_dataset_dir, data_root=tmp_path / "data")
    store_features(dataset, "mobilenet_v2", 96)
    spec = BACKBONES["mobilenet_v2"]

    other_size = TrainConfig(backbone="mobilenet_v2", mode="frozen", image_size=224)
    augmented = TrainConfig(backbone="mobilenet_v2", mode="frozen", image_size=96, augmentation=True)
    finetune = TrainConfig(backbone="mobilenet_v2", mode="finetune", image_size=96)
    for config in (other_size, augmented, finetune):
        assert estimated_run_seconds(spec, config, dataset) > STARTUP_SECONDS, config
