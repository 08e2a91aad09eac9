"""MobileNetV2 1.0 in Keras, laid out exactly like torchvision's MobileNetV2.

Keras' own MobileNetV2 differs from torchvision's in ways that change the
output for the same weights: it pads stride-2 convolutions asymmetrically
and uses batch-norm epsilon 1e-3. This definition pads every 3x3
convolution by one pixel on each side, as torchvision does, and uses
epsilon 1e-5, so torchvision's ImageNet weights give torchvision's outputs.
Layer names follow `keras.applications.MobileNetV2`.

Inputs are ImageNet-normalized RGB (preprocessing kind "torch"), which the
caller applies with `tl_core.preprocessing.BackbonePreprocess`.
"""

import keras
from keras import layers

PREPROCESSING = "torch"
FEATURE_LAYER = "out_relu"

# torchvision's batch norm defaults: epsilon 1e-5, and a running-average
# momentum of 0.1 on the new batch, which is 0.9 on the old value in Keras.
_BN_EPSILON = 1e-5
_BN_MOMENTUM = 0.9

# Inverted residual stages: (expansion factor, output channels, repeats, first stride).
STAGES = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
_STEM_CHANNELS = 32
_HEAD_CHANNELS = 1280
_DROPOUT_RATE = 0.2


def build(
    input_shape=(224, 224, 3), include_top=False, classes=1000, name="mobilenet_v2"
) -> keras.Model:
    """Build MobileNetV2 1.0 with torchvision's graph and Keras' layer names.

    Args:
        input_shape: (height, width, 3) of the normalized input images.
        include_top: when True, add global average pooling, dropout 0.2 and a
            softmax Dense layer "predictions" with `classes` units, as
            torchvision's classifier. When False, the output is the 1280-channel
            feature map of layer "out_relu", 1/32 of the input size.
        classes: number of units of "predictions".
        name: name of the returned model.
    """
    inputs = keras.Input(shape=input_shape)

    x = layers.ZeroPadding2D(1, name="Conv1_pad")(inputs)
    x = layers.Conv2D(_STEM_CHANNELS, 3, strides=2, padding="valid", use_bias=False, name="Conv1")(
        x
    )
    x = _batch_norm("bn_Conv1")(x)
    x = layers.ReLU(6.0, name="Conv1_relu")(x)

    block_id = 0
    for expansion, channels, repeats, first_stride in STAGES:
        for repeat in range(repeats):
            stride = first_stride if repeat == 0 else 1
            x = _inverted_residual(x, expansion, channels, stride, block_id)
            block_id += 1

    x = layers.Conv2D(_HEAD_CHANNELS, 1, use_bias=False, name="Conv_1")(x)
    x = _batch_norm("Conv_1_bn")(x)
    x = layers.ReLU(6.0, name=FEATURE_LAYER)(x)

    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dropout(_DROPOUT_RATE, name="top_dropout")(x)
        x = layers.Dense(classes, activation="softmax", name="predictions")(x)

    return keras.Model(inputs, x, name=name)


def block_prefix(block_id: int) -> str:
    """Return the layer-name prefix of inverted residual block `block_id` (0 to 16)."""
    return "expanded_conv_" if block_id == 0 else f"block_{block_id}_"


def _inverted_residual(inputs, expansion: int, channels: int, stride: int, block_id: int):
    prefix = block_prefix(block_id)
    in_channels = inputs.shape[-1]
    x = inputs

    if expansion != 1:
        x = layers.Conv2D(in_channels * expansion, 1, use_bias=False, name=f"{prefix}expand")(x)
        x = _batch_norm(f"{prefix}expand_BN")(x)
        x = layers.ReLU(6.0, name=f"{prefix}expand_relu")(x)

    # torchvision pads 3x3 convolutions by 1 on every side, whatever the stride.
    if stride == 2:
        x = layers.ZeroPadding2D(1, name=f"{prefix}pad")(x)
    x = layers.DepthwiseConv2D(
        3,
        strides=stride,
        padding="same" if stride == 1 else "valid",
        use_bias=False,
        name=f"{prefix}depthwise",
    )(x)
    x = _batch_norm(f"{prefix}depthwise_BN")(x)
    x = layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(x)

    x = layers.Conv2D(channels, 1, use_bias=False, name=f"{prefix}project")(x)
    x = _batch_norm(f"{prefix}project_BN")(x)

    if stride == 1 and in_channels == channels:
        x = layers.Add(name=f"{prefix}add")([inputs, x])
    return x


def _batch_norm(name: str) -> layers.BatchNormalization:
    return layers.BatchNormalization(epsilon=_BN_EPSILON, momentum=_BN_MOMENTUM, name=name)
