"""Rough estimates of backbone speed and run duration, drawn on the Train page."""

import os

from tl_core.backbones import Backbone
from tl_core.datasets import Dataset
from tl_core.features import has_stored_features
from tl_core.training import TrainConfig

# Speed estimate, calibrated to an assumed figure: MobileNetV2 at 224 px runs
# about 25 images/s forward on 2 CPU cores. Other backbones and sizes scale
# with multiply-adds per image and with the number of cores.
# NOTE: rough. At 96 px on 2 shared cores, feature extraction measured
# 110-290 images/s (MobileNetV2) and 145-320 (MobileNet v1) against estimates
# of 136 and 72, because multiply-adds do not predict each network's speed.
REFERENCE_IMAGES_PER_SECOND = 25.0
REFERENCE_MULT_ADDS = 300
REFERENCE_CORES = 2
TRAINING_PASS_COST = {"frozen": 1.0, "finetune": 2.0, "full": 3.0, "scratch": 3.0}
STARTUP_SECONDS = 15.0  # estimate: a worker imports TensorFlow and builds the model


def estimated_forward_speed(spec: Backbone, image_size: int) -> float:
    """Return an estimate of images per second through the backbone on this machine."""
    cores = os.cpu_count() or 1
    cost = spec.mult_adds_224 * (image_size / 224) ** 2
    return REFERENCE_IMAGES_PER_SECOND * REFERENCE_MULT_ADDS / cost * cores / REFERENCE_CORES


def estimated_run_seconds(spec: Backbone, config: TrainConfig, dataset: Dataset) -> float:
    """Return an estimate of a run's duration from the forward speed, the mode and stored features."""
    counts = dataset.counts()
    speed = estimated_forward_speed(spec, config.image_size)
    if config.uses_feature_cache():
        if has_stored_features(dataset, spec.name, config.image_size):
            return STARTUP_SECONDS
        return STARTUP_SECONDS + sum(counts.values()) / speed
    train_pass = counts["train"] * TRAINING_PASS_COST[config.mode] / speed
    per_epoch = train_pass + counts["val"] / speed
    return STARTUP_SECONDS + per_epoch * config.epochs + counts["test"] / speed
