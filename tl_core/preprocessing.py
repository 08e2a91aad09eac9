"""Per-backbone input preprocessing as a Keras layer saved inside the model.

Every model takes RGB pixels as floats in [0, 255]. The layer converts them
to what the backbone's pretrained weights expect, so a saved `model.keras`
needs no outside code to predict.
"""

import keras
from keras import ops

# Pixel convention of each weight family.
#   "tf":    x / 127.5 - 1, range [-1, 1] (TF-slim and Keras MobileNet).
#   "tf_lite": (x - 127) / 128, the EfficientNet-Lite reference normalisation.
#   "torch": x / 255, minus the ImageNet mean, divided by its std (torchvision).
#   "caffe": RGB to BGR, minus the ImageNet mean in [0, 255] (Keras ResNet50, VGG16).
#   "none":  unchanged; the backbone rescales inside itself (Keras EfficientNet,
#            MobileNetV3).
PREPROCESSING_KINDS = ("tf", "tf_lite", "torch", "caffe", "none")

IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="tl_core")
class BackbonePreprocess(keras.layers.Layer):
    """Map [0, 255] RGB floats to a backbone's expected input range."""

    def __init__(self, kind: str, **kwargs):
        super().__init__(**kwargs)
        if kind not in PREPROCESSING_KINDS:
            raise ValueError(
                f"Unknown preprocessing kind; expected one of {PREPROCESSING_KINDS}, "
                f"received: {kind!r}"
            )
        self.kind = kind

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        if self.kind == "tf":
            return x / 127.5 - 1.0
        if self.kind == "tf_lite":
            return (x - 127.0) / 128.0
        if self.kind == "torch":
            mean = ops.convert_to_tensor(IMAGENET_MEAN_RGB, "float32")
            std = ops.convert_to_tensor(IMAGENET_STD_RGB, "float32")
            return (x / 255.0 - mean) / std
        if self.kind == "caffe":
            bgr = ops.flip(x, axis=-1)
            return bgr - ops.convert_to_tensor(CAFFE_MEAN_BGR, "float32")
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "kind": self.kind}
