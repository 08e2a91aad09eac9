"""Grad-CAM heat maps: which image regions drove a classifier's prediction.

Grad-CAM (Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks
via Gradient-based Localization", arXiv:1610.02391) weights each channel of a
convolutional feature map by the mean gradient of the class score with
respect to that channel, sums the weighted channels, and keeps the positive
part. The result, upsampled to the input size, is high where evidence for
the class lies.

The classifiers here are built by `tl_core.model.build_classifier`:
input "image" -> optional "augmentation" -> "preprocess" -> nested "backbone"
-> "head" (pool, dropout, dense "classes" with softmax). Grad-CAM re-applies
those layers in inference mode and reads the class score before the softmax.

Importing this module imports TensorFlow.
"""

import logging
import weakref

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from tl_core.model import BACKBONE_LAYER_NAME

log = logging.getLogger(__name__)

# A feature map with fewer cells per side than this cannot locate anything
# useful: at 64 px input MobileNetV2 ends in a 2x2 map, at 32 px in 1x1. Then
# Grad-CAM uses the deepest backbone layer that still has this many cells.
MIN_CAM_SIDE = 4

# Colour ramp of the heat map, from cold (0) to hot (1): dark blue, blue,
# cyan, yellow, red.
_RAMP_POSITIONS = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
_RAMP_COLOURS = np.array(
    [[0, 0, 128], [0, 64, 255], [0, 224, 255], [255, 224, 0], [220, 0, 0]], dtype=np.float32
)

_cam_models: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def grad_cam(model, image_uint8: np.ndarray, class_index: int | None = None,
             layer_name: str | None = None) -> np.ndarray:
    """Compute the Grad-CAM heat map of one image.

    Args:
        model: a classifier from `build_classifier` (or loaded from model.keras).
        image_uint8: RGB pixels, shape (S, S, 3), already resized to the
            model's input size.
        class_index: the class to explain; None explains the top prediction.
        layer_name: a backbone layer whose output to explain; None picks
            the backbone's output, or a deeper-resolution layer when that
            output has fewer than MIN_CAM_SIDE cells per side (`cam_layer_name`).

    Returns:
        float32 array (S, S) in [0, 1], where 1 marks the strongest evidence.
        All zeros when no region has a positive contribution to the class.
    """
    pixels = np.asarray(image_uint8)
    input_shape = tuple(model.input.shape[1:])
    if pixels.shape != input_shape:
        raise ValueError(
            f"Image shape must match the model input {input_shape}; received {pixels.shape}."
        )
    layer_name = layer_name or cam_layer_name(model)
    features, logits = _forward_with_gradients(model, pixels, class_index, layer_name)
    feature_map, gradients = features

    channel_weights = gradients.mean(axis=(0, 1))
    cam = np.maximum(feature_map @ channel_weights, 0.0)
    cam = _resize_map(cam, pixels.shape[1], pixels.shape[0])
    peak = float(cam.max())
    if peak <= 0.0:
        log.info("Grad-CAM found no positive evidence for class %s at %s", class_index, layer_name)
        return np.zeros(pixels.shape[:2], dtype=np.float32)
    return np.clip(cam / peak, 0.0, 1.0).astype(np.float32)


def cam_layer_name(model) -> str:
    """Return the backbone layer that `grad_cam` explains by default.

    That is the backbone's output layer, unless its feature map has fewer
    than MIN_CAM_SIDE cells per side. Then it is the deepest layer with at
    least that many cells, not counting zero-padding layers, whose cells are
    offset from the image grid.
    """
    backbone = model.get_layer(BACKBONE_LAYER_NAME)
    final = backbone.layers[-1]
    if min(final.output.shape[1:3]) >= MIN_CAM_SIDE:
        return final.name
    for layer in reversed(backbone.layers):
        shape = getattr(layer.output, "shape", None)
        if shape is None or len(shape) != 4 or isinstance(layer, keras.layers.ZeroPadding2D):
            continue
        if min(shape[1:3]) >= MIN_CAM_SIDE:
            return layer.name
    return final.name


def describe_cam_layer(model, layer_name: str | None = None) -> tuple[str, int, int]:
    """Return the layer `grad_cam` explains and its feature map's rows and columns."""
    layer_name = layer_name or cam_layer_name(model)
    shape = model.get_layer(BACKBONE_LAYER_NAME).get_layer(layer_name).output.shape
    return layer_name, int(shape[1]), int(shape[2])


def overlay(image, heatmap: np.ndarray, alpha: float = 0.45) -> Image.Image:
    """Blend a colour-mapped heat map over an image; return an RGB PIL image.

    `image` is a PIL image or a uint8 array (H, W, 3). `heatmap` has values
    in [0, 1], and a heat map of another size is resized to the image.
    `alpha` is the weight of the heat colours, so 0 shows only the image.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1]; received {alpha}.")
    base = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image, np.uint8))
    base = base.convert("RGB")
    width, height = base.size
    heat = np.clip(np.asarray(heatmap, dtype=np.float32), 0.0, 1.0)
    if heat.shape != (height, width):
        heat = _resize_map(heat, width, height)

    colours = colour_map(heat)
    blended = (1.0 - alpha) * np.asarray(base, np.float32) + alpha * colours.astype(np.float32)
    return Image.fromarray(np.clip(np.rint(blended), 0, 255).astype(np.uint8))


def colour_map(values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] to uint8 RGB colours along the heat ramp (blue to red)."""
    values = np.clip(np.asarray(values, dtype=np.float32), 0.0, 1.0)
    channels = [np.interp(values, _RAMP_POSITIONS, _RAMP_COLOURS[:, c]) for c in range(3)]
    return np.rint(np.stack(channels, axis=-1)).astype(np.uint8)


def _forward_with_gradients(model, pixels, class_index, layer_name):
    """Run the model on one image; return ((feature map, its gradients), logits)."""
    feature_model = _feature_model(model, layer_name)
    preprocess = model.get_layer("preprocess")
    dense = model.get_layer("head").get_layer("classes")
    pool = model.get_layer("head").get_layer("pool")

    batch = tf.convert_to_tensor(pixels[None].astype(np.float32))
    with tf.GradientTape() as tape:
        inputs = preprocess(batch)
        feature_map, backbone_output = feature_model(inputs, training=False)
        tape.watch(feature_map)
        # The head's dense layer applies softmax; Grad-CAM uses the score
        # before it, so the class does not compete with the others.
        logits = tf.matmul(pool(backbone_output), dense.kernel) + dense.bias
        chosen = int(tf.argmax(logits[0])) if class_index is None else int(class_index)
        if not 0 <= chosen < logits.shape[-1]:
            raise ValueError(
                f"class_index must be in [0, {logits.shape[-1] - 1}]; received {class_index}."
            )
        score = logits[0, chosen]
    gradients = tape.gradient(score, feature_map)
    if gradients is None:
        raise ValueError(f"Layer {layer_name!r} does not feed the classifier's output.")
    return (feature_map[0].numpy(), gradients[0].numpy()), logits[0].numpy()


def _feature_model(model, layer_name: str):
    """Return (cached) a model from backbone input to (layer output, backbone output)."""
    per_model = _cam_models.setdefault(model, {})
    if layer_name not in per_model:
        backbone = model.get_layer(BACKBONE_LAYER_NAME)
        target = backbone.get_layer(layer_name)
        per_model[layer_name] = keras.Model(
            backbone.inputs, [target.output, backbone.outputs[0]], name=f"cam_{layer_name}"
        )
    return per_model[layer_name]


def _resize_map(values: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize a non-negative float map bilinearly, aligning cell and pixel centres."""
    resized = Image.fromarray(np.asarray(values, np.float32)).resize(
        (width, height), Image.Resampling.BILINEAR
    )
    return np.maximum(np.asarray(resized, dtype=np.float32), 0.0)
