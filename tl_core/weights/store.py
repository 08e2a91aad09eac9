"""Converted weights on disk: one array list per Keras layer name, in an .npz.

Keying by layer name lets the same file fill a model built with or without
its 1000-class ImageNet top: layers absent from the model are ignored.
"""

from pathlib import Path

import numpy as np

from tl_core.errors import WeightsError

_SEPARATOR = "::"


def save_layer_weights(weights: dict[str, list[np.ndarray]], path: Path) -> None:
    """Write `{layer_name: [arrays in layer.get_weights() order]}` to `path` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flat = {
        f"{layer}{_SEPARATOR}{index}": np.asarray(array, dtype=np.float32)
        for layer, arrays in weights.items()
        for index, array in enumerate(arrays)
    }
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as handle:
        np.savez(handle, **flat)
    partial.replace(path)


def read_layer_weights(path: Path) -> dict[str, list[np.ndarray]]:
    """Read a file written by `save_layer_weights`."""
    grouped: dict[str, dict[int, np.ndarray]] = {}
    with np.load(path) as archive:
        for key in archive.files:
            layer, index = key.rsplit(_SEPARATOR, 1)
            grouped.setdefault(layer, {})[int(index)] = archive[key]
    return {layer: [arrays[i] for i in sorted(arrays)] for layer, arrays in grouped.items()}


def load_layer_weights(model, path: Path) -> int:
    """Set the weights of every layer of `model` that has weights from `path`.

    Returns the number of layers set. Raises WeightsError when a layer with
    weights is missing from the file or its shapes differ, because a
    half-loaded backbone silently gives wrong features.
    """
    stored = read_layer_weights(path)
    loaded = 0
    for layer in _layers_with_weights(model):
        if layer.name not in stored:
            raise WeightsError(
                f"Weight file {path} has no entry for layer {layer.name!r}. "
                "Delete the file and run `python -m tl_core weights fetch` again."
            )
        arrays = stored[layer.name]
        expected = [tuple(w.shape) for w in layer.weights]
        received = [tuple(a.shape) for a in arrays]
        if expected != received:
            raise WeightsError(
                f"Weight file {path}: layer {layer.name!r} expects shapes {expected}, "
                f"file has {received}. Delete the file and fetch the weights again."
            )
        layer.set_weights(arrays)
        loaded += 1
    return loaded


def _layers_with_weights(model):
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:
            yield from _layers_with_weights(layer)
        elif layer.weights:
            yield layer
