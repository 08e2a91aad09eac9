"""Classifier assembly and freeze modes: trainable parameter counts per mode."""

import math

import pytest

from tl_core import model as model_lib
from tl_core.backbones import get_backbone
from tl_core.errors import ConfigError

CLASSES = 3
SIZE = 64


def build(mode, blocks=2, name="mobilenet_v2"):
    model = model_lib.build_classifier(name, CLASSES, SIZE, mode, finetune_blocks=blocks)
    model_lib.compile_model(model, "adam", 1e-3)
    return model


def head_params(name="mobilenet_v2"):
    return get_backbone(name).feature_dim * CLASSES + CLASSES


def test_frozen_trains_only_head():
    counts = model_lib.count_params(build("frozen"))
    assert counts.trainable == head_params()


def test_frozen_total_includes_backbone():
    counts = model_lib.count_params(build("frozen"))
    assert counts.total == get_backbone("mobilenet_v2").params + head_params()


def test_finetune_unfreezes_more_with_more_blocks():
    one = model_lib.count_params(build("finetune", blocks=1)).trainable
    three = model_lib.count_params(build("finetune", blocks=3)).trainable
    assert head_params() < one < three


def test_finetune_keeps_batch_norm_frozen():
    model = build("finetune", blocks=3)
    backbone = model.get_layer(model_lib.BACKBONE_LAYER_NAME)
    norms = [layer for layer in backbone.layers if layer.__class__.__name__ == "BatchNormalization"]
    assert norms
    assert not any(layer.trainable for layer in norms)


def test_full_trains_everything_but_statistics():
    model = build("full")
    counts = model_lib.count_params(model)
    statistics = sum(
        math.prod(w.shape) for w in model.non_trainable_weights
    )
    assert counts.trainable == counts.total - statistics
    assert counts.trainable > model_lib.count_params(build("finetune", blocks=3)).trainable


def test_scratch_counts_equal_full():
    assert model_lib.count_params(build("scratch")) == model_lib.count_params(build("full"))


def test_unknown_mode_rejected():
    with pytest.raises(ConfigError, match="frozen, finetune, full, scratch"):
        model_lib.build_classifier("mobilenet_v2", CLASSES, SIZE, "partial")


def test_unknown_optimizer_rejected():
    model = build("frozen")
    with pytest.raises(ConfigError, match="adam"):
        model_lib.compile_model(model, "lbfgs", 1e-3)


def test_output_is_probability_per_class():
    import numpy as np

    model = build("frozen")
    probabilities = model.predict(np.zeros((2, SIZE, SIZE, 3), "float32"), verbose=0)
    assert probabilities.shape == (2, CLASSES)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
