"""Map a PyTorch state dict onto Keras layers, one tensor to one layer.

The two converters (MobileNetV2 and EfficientNet-Lite0) share these steps:
read the `.pth`, take every tensor exactly once in Keras' layout, check the
result against the Keras model with its ImageNet top, and save it.
"""

import logging
import time
from pathlib import Path
from typing import Callable

import numpy as np

from tl_core.errors import WeightsError
from tl_core.weights import store
from tl_core.weights.torch_pickle import load_state_dict

logger = logging.getLogger(__name__)


def convert_state_dict(
    pth_path: Path, out_path: Path, net, map_layers: Callable[["TensorTaker", object], dict]
) -> None:
    """Convert the `.pth` state dict at `pth_path` into a layer-weights file at `out_path`.

    `net` is a module of tl_core.nets with `build(include_top=...)`, and
    `map_layers(tensors, net)` returns {Keras layer name: arrays}. The file
    covers the 1000-class ImageNet top ("predictions") as well, so it fills
    models built with or without the top. Raises WeightsError when the state
    dict does not map one to one onto the Keras layers.
    """
    pth_path, out_path = Path(pth_path), Path(out_path)
    started = time.perf_counter()
    tensors = TensorTaker(load_state_dict(pth_path), pth_path)
    weights = map_layers(tensors, net)
    tensors.check_all_taken()

    model = net.build(include_top=True)
    check_weights_fit_model(weights, model, pth_path)
    store.save_layer_weights(weights, out_path)
    logger.info(
        "Converted %s to %s: %d layers, %d parameters, %.1f s",
        pth_path.name,
        out_path,
        len(weights),
        sum(int(np.prod(a.shape)) for arrays in weights.values() for a in arrays),
        time.perf_counter() - started,
    )


class TensorTaker:
    """A state dict whose tensors are taken out once each, in Keras layouts.

    Converters take every tensor they map to a Keras layer, then call
    `check_all_taken`, so a tensor that no layer received is an error
    instead of a silently dropped weight.
    """

    def __init__(self, state: dict[str, np.ndarray], source: Path):
        self._state = state
        self._untaken = set(state)
        self.source = source

    def take(self, name: str) -> np.ndarray:
        """Return tensor `name` as it is stored.

        Raises WeightsError if the tensor is missing or was taken before.
        """
        if name not in self._state:
            raise WeightsError(
                f"{self.source} has no tensor {name!r}, so it is not the expected network."
            )
        if name not in self._untaken:
            raise WeightsError(f"Tensor {name!r} of {self.source} was mapped to two Keras layers.")
        self._untaken.remove(name)
        return self._state[name]

    def conv2d(self, prefix: str) -> list[np.ndarray]:
        """Return `[kernel]` of a bias-free convolution, from (out, in, h, w) to (h, w, in, out)."""
        return [self.take(f"{prefix}.weight").transpose(2, 3, 1, 0)]

    def depthwise_conv2d(self, prefix: str) -> list[np.ndarray]:
        """Return `[kernel]` of a depthwise convolution.

        The kernel goes from (channels, 1, h, w) to (h, w, channels, 1).
        """
        return [self.take(f"{prefix}.weight").transpose(2, 3, 0, 1)]

    def batch_norm(self, prefix: str) -> list[np.ndarray]:
        """Return `[gamma, beta, moving_mean, moving_variance]` in Keras' order.

        The step counter `num_batches_tracked` has no Keras counterpart and is
        taken without being returned.
        """
        arrays = [
            self.take(f"{prefix}.{field}")
            for field in ("weight", "bias", "running_mean", "running_var")
        ]
        if f"{prefix}.num_batches_tracked" in self._state:
            self.take(f"{prefix}.num_batches_tracked")
        return arrays

    def dense(self, prefix: str) -> list[np.ndarray]:
        """Return `[kernel, bias]` of a linear layer, the kernel from (out, in) to (in, out)."""
        return [self.take(f"{prefix}.weight").T, self.take(f"{prefix}.bias")]

    def check_all_taken(self) -> None:
        """Raise WeightsError if some tensor was not mapped to a Keras layer."""
        if self._untaken:
            names = ", ".join(sorted(self._untaken)[:5])
            raise WeightsError(
                f"{len(self._untaken)} tensors of {self.source} match no Keras layer "
                f"(first: {names}), so the file is not the expected network."
            )


def check_weights_fit_model(weights: dict[str, list[np.ndarray]], model, source: Path) -> None:
    """Raise WeightsError unless `weights` fills exactly the layers of `model` that have weights.

    Every such layer needs an entry with the same array shapes, and every
    entry needs such a layer.
    """
    layers = {layer.name: layer for layer in model.layers if layer.weights}
    missing = sorted(set(layers) - set(weights))
    extra = sorted(set(weights) - set(layers))
    if missing or extra:
        raise WeightsError(
            f"Converting {source}: layers without weights {missing[:5]}, "
            f"weights without a layer {extra[:5]}."
        )
    for name, layer in layers.items():
        expected = [tuple(w.shape) for w in layer.weights]
        received = [tuple(a.shape) for a in weights[name]]
        if expected != received:
            raise WeightsError(
                f"Converting {source}: layer {name!r} expects shapes {expected}, got {received}."
            )
