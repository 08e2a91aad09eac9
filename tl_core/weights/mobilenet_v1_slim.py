"""Convert a frozen TF-slim MobileNet v1 1.0/224 graph to Keras layer weights.

The source is a TF1 GraphDef (`.pb`) in which every variable was frozen into
a `Const` node named after the TF-slim variable, for example
`MobilenetV1/Conv2d_3_pointwise/BatchNorm/moving_mean`. Each of these maps
one to one onto a layer of `keras.applications.MobileNet(alpha=1.0)`:

    MobilenetV1/Conv2d_0                 -> conv1, conv1_bn
    MobilenetV1/Conv2d_<i>_depthwise     -> conv_dw_<i>, conv_dw_<i>_bn   (i = 1..13)
    MobilenetV1/Conv2d_<i>_pointwise     -> conv_pw_<i>, conv_pw_<i>_bn
    MobilenetV1/Logits/Conv2d_1c_1x1     -> conv_preds

Both frameworks store kernels as (height, width, in, out), depthwise kernels
as (height, width, channels, 1), and use 3x3 stride-2 convolutions whose
"SAME" padding equals Keras' explicit (0, 1) zero padding on even input
sizes, so no array needs transposing. TF-slim classifies 1001 classes with
"background" at index 0; dropping it leaves the 1000 ImageNet classes in
the standard order that Keras uses. The network expects pixels scaled to
[-1, 1] (preprocessing kind "tf").

Other nodes of the graph, such as a retrained layer added on top of the
logits, are ignored.
"""

import logging
from pathlib import Path

import numpy as np

from tl_core.errors import WeightsError
from tl_core.weights.store import save_layer_weights

logger = logging.getLogger(__name__)

SLIM_SCOPE = "MobilenetV1"

# Epsilon of every BatchNormalization layer in keras.applications.MobileNet.
KERAS_BATCH_NORM_EPSILON = 1e-3

# Output channels of the 13 depthwise-separable blocks at alpha = 1.0.
POINTWISE_FILTERS = (64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024)
STEM_FILTERS = 32
SLIM_CLASSES = 1001  # index 0 is "background"

_BATCH_NORM_VARIABLES = ("gamma", "beta", "moving_mean", "moving_variance")


def convert(pb_path: Path, out_path: Path) -> None:
    """Read the frozen graph at `pb_path` and write Keras MobileNet weights to `out_path`.

    Raises WeightsError when the file is not a GraphDef, lacks a MobileNet v1
    1.0 variable, has a variable of another shape, or uses a batch-norm
    epsilon other than Keras' 1e-3.
    """
    pb_path = Path(pb_path)
    graph = _read_graph(pb_path)
    constants = _float_constants(graph)
    _check_batch_norm_epsilon(constants, pb_path)

    weights = {}
    for keras_name, slim_names, shapes in _layer_plan():
        weights[keras_name] = [
            _constant(constants, name, shape, pb_path) for name, shape in zip(slim_names, shapes)
        ]

    # Drop TF-slim's "background" logit so that class i is ImageNet class i.
    kernel, bias = weights["conv_preds"]
    weights["conv_preds"] = [kernel[..., 1:], bias[1:]]

    save_layer_weights(weights, Path(out_path))
    logger.info("Converted %d MobileNet v1 layers from %s to %s", len(weights), pb_path, out_path)


def _read_graph(pb_path: Path):
    import tensorflow as tf
    from google.protobuf.message import DecodeError

    graph = tf.compat.v1.GraphDef()
    try:
        graph.ParseFromString(pb_path.read_bytes())
    except DecodeError as error:
        raise WeightsError(
            f"{pb_path} is not a TensorFlow GraphDef ({error}). "
            "Delete the downloaded package and fetch the weights again."
        ) from error
    return graph


def _float_constants(graph) -> dict[str, np.ndarray]:
    """Return the value of every float32 `Const` node, keyed by node name."""
    import tensorflow as tf

    constants = {}
    for node in graph.node:
        if node.op != "Const":
            continue
        tensor = node.attr["value"].tensor
        if tensor.dtype != tf.float32.as_datatype_enum:
            continue
        constants[node.name] = tf.make_ndarray(tensor)
    return constants


def _layer_plan() -> list[tuple[str, list[str], list[tuple[int, ...]]]]:
    """List (Keras layer, TF-slim constants, expected shapes) in network order."""
    plan = []

    def add_block(keras_conv: str, slim_block: str, kernel_name: str, kernel_shape, channels):
        plan.append((keras_conv, [f"{SLIM_SCOPE}/{slim_block}/{kernel_name}"], [kernel_shape]))
        batch_norm = [f"{SLIM_SCOPE}/{slim_block}/BatchNorm/{v}" for v in _BATCH_NORM_VARIABLES]
        plan.append((f"{keras_conv}_bn", batch_norm, [(channels,)] * len(batch_norm)))

    add_block("conv1", "Conv2d_0", "weights", (3, 3, 3, STEM_FILTERS), STEM_FILTERS)

    in_channels = STEM_FILTERS
    for block, out_channels in enumerate(POINTWISE_FILTERS, start=1):
        add_block(
            f"conv_dw_{block}",
            f"Conv2d_{block}_depthwise",
            "depthwise_weights",
            (3, 3, in_channels, 1),
            in_channels,
        )
        add_block(
            f"conv_pw_{block}",
            f"Conv2d_{block}_pointwise",
            "weights",
            (1, 1, in_channels, out_channels),
            out_channels,
        )
        in_channels = out_channels

    logits = f"{SLIM_SCOPE}/Logits/Conv2d_1c_1x1"
    plan.append(
        (
            "conv_preds",
            [f"{logits}/weights", f"{logits}/biases"],
            [(1, 1, in_channels, SLIM_CLASSES), (SLIM_CLASSES,)],
        )
    )
    return plan


def _constant(constants: dict[str, np.ndarray], name: str, shape, pb_path: Path) -> np.ndarray:
    if name not in constants:
        raise WeightsError(
            f"{pb_path} has no constant {name!r}, so it is not a frozen TF-slim "
            "MobileNet v1 1.0 graph. Check the pinned package in tl_core.weights.SOURCES."
        )
    value = constants[name]
    if value.shape != tuple(shape):
        raise WeightsError(
            f"{pb_path}: constant {name!r} has shape {value.shape}, expected {tuple(shape)} "
            "for MobileNet v1 1.0. Check the pinned package in tl_core.weights.SOURCES."
        )
    return value


def _check_batch_norm_epsilon(constants: dict[str, np.ndarray], pb_path: Path) -> None:
    """Raise unless every frozen batch norm adds Keras' epsilon to the variance.

    A frozen `tf.nn.batch_normalization` computes `rsqrt(moving_variance + y)`
    in a node ending in `BatchNorm/batchnorm/add`, whose constant input `y`
    is the epsilon.
    """
    epsilons = {
        name: float(value)
        for name, value in constants.items()
        if name.endswith("/BatchNorm/batchnorm/add/y") and value.size == 1
    }
    expected_count = 1 + 2 * len(POINTWISE_FILTERS)
    if len(epsilons) != expected_count:
        raise WeightsError(
            f"{pb_path} has {len(epsilons)} batch-norm epsilon constants, expected "
            f"{expected_count}, so the graph layout is not the TF-slim MobileNet v1 one."
        )
    for name, epsilon in sorted(epsilons.items()):
        if not np.isclose(epsilon, KERAS_BATCH_NORM_EPSILON, rtol=1e-5, atol=0.0):
            raise WeightsError(
                f"{pb_path}: batch-norm epsilon {name!r} is {epsilon}, but Keras MobileNet "
                f"uses {KERAS_BATCH_NORM_EPSILON}, so the converted network would differ."
            )
