"""Predicting with the classifier saved in a run folder.

`load_run_model` reads model.keras, labels.json and the input size;
`predict_images` decodes images the same way training does (through
`tl_core.images`) and returns the top-k classes of each. Importing this module
is cheap; loading a model imports TensorFlow.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Sequence, Union

import numpy as np
from PIL import Image

from tl_core import runs
from tl_core.errors import TLError
from tl_core.images import decode_image

log = logging.getLogger(__name__)

MODEL_FILE = "model.keras"
LABELS_FILE = "labels.json"

ImageSource = Union[Image.Image, np.ndarray, str, Path, BinaryIO]


@dataclass
class LoadedModel:
    """A trained classifier with what is needed to feed it and name its outputs."""

    model: object  # keras.Model
    labels: list[str]
    image_size: int
    folder: Path


def has_model(run_folder: Path) -> bool:
    """Tell whether a run folder contains a saved model and its labels."""
    folder = Path(run_folder)
    return (folder / MODEL_FILE).is_file() and (folder / LABELS_FILE).is_file()


def load_run_model(run_folder: Path | str) -> LoadedModel:
    """Load the classifier of a finished or stopped run.

    Raises TLError when model.keras or labels.json is missing or unreadable,
    or when the labels do not match the model's outputs.
    """
    folder = Path(run_folder)
    model_path = folder / MODEL_FILE
    if not model_path.is_file():
        raise TLError(
            f"No trained model in {folder}: {MODEL_FILE} is missing. "
            "Only finished or stopped runs have one; pick another run or train again."
        )
    labels = _read_labels(folder)

    import keras

    # The model contains BackbonePreprocess, which Keras finds by its
    # registered name only once the module is imported.
    import tl_core.preprocessing  # noqa: F401

    try:
        model = keras.models.load_model(model_path, compile=False)
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise TLError(
            f"Cannot load {model_path}: {error}. The file may be damaged or from an "
            "incompatible version; train the run again."
        ) from error

    outputs = model.output.shape[-1]
    if outputs != len(labels):
        raise TLError(
            f"{folder / LABELS_FILE} lists {len(labels)} classes but the model has "
            f"{outputs} outputs; the run folder is inconsistent, train it again."
        )
    image_size = _image_size(folder, model)
    log.info("Loaded model of run %s (%d classes, %d px)", folder.name, len(labels), image_size)
    return LoadedModel(model=model, labels=labels, image_size=image_size, folder=folder)


def decode_upload(name: str, data: bytes) -> Image.Image:
    """Decode uploaded bytes to 8-bit RGB; errors name the file as `name`.

    Raises tl_core.errors.ImageDecodeError (a TLError) for empty, truncated,
    damaged or non-image data.
    """
    stream = io.BytesIO(data)
    stream.name = name
    return decode_image(stream)


def to_model_input(source: ImageSource, image_size: int) -> np.ndarray:
    """Return uint8 pixels (S, S, 3) of an image, resized as training resizes.

    `source` is a PIL image, a uint8 RGB array, a file path, or a binary file
    object with a `name` (an upload). Files are decoded by
    `tl_core.images.decode_image`, which raises ImageDecodeError naming the file.
    """
    if isinstance(source, np.ndarray):
        image = Image.fromarray(source.astype(np.uint8)).convert("RGB")
    elif isinstance(source, Image.Image):
        image = source.convert("RGB")
    else:
        image = decode_image(source)
    # Bilinear, aspect ratio ignored: the same resize as tl_core.images.load_resized.
    resized = image.resize((image_size, image_size), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.uint8)


def predict_images(
    loaded: LoadedModel, images: Sequence[ImageSource], top_k: int = 5
) -> list[list[tuple[str, float]]]:
    """Classify images; return, per image, the top-k (label, probability) pairs.

    Pairs are sorted by probability, highest first. `top_k` is capped at the
    number of classes. Raises ImageDecodeError (a TLError) naming the first
    file that cannot be decoded, before running the model.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1; received {top_k}.")
    if not images:
        return []
    batch = np.stack([to_model_input(image, loaded.image_size) for image in images])
    probabilities = predict_probabilities(loaded, batch)
    k = min(top_k, len(loaded.labels))
    results = []
    for row in probabilities:
        order = np.argsort(-row, kind="stable")[:k]
        results.append([(loaded.labels[i], float(row[i])) for i in order])
    return results


def predict_probabilities(loaded: LoadedModel, batch_uint8: np.ndarray) -> np.ndarray:
    """Return class probabilities (N, C) for uint8 pixels (N, S, S, 3)."""
    return np.asarray(loaded.model.predict_on_batch(batch_uint8.astype(np.float32)))


def _read_labels(folder: Path) -> list[str]:
    path = folder / LABELS_FILE
    try:
        labels = runs.read_json(path)
    except ValueError as error:
        raise TLError(f"{path} is not valid JSON ({error}); train the run again.") from error
    if labels is None:
        raise TLError(f"No class names for the model in {folder}: {LABELS_FILE} is missing.")
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise TLError(f"{path} must be a JSON list of class names; train the run again.")
    return labels


def _image_size(folder: Path, model) -> int:
    """Return the model's input size; warn when the run's config.json disagrees."""
    size = int(model.input.shape[1])
    config = (runs.read_json(folder / "config.json") or {}).get("config", {})
    stated = config.get("image_size")
    if stated is not None and int(stated) != size:
        log.warning(
            "Run %s: config.json sets image_size %s but the model input is %s px; using %s",
            folder.name, stated, size, size,
        )
    return size
