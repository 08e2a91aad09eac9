"""Classifier assembly: preprocessing, backbone, pooling, dropout, dense head.

Freeze modes:
- frozen:   the backbone is a fixed feature extractor; only the head trains.
- finetune: the top K blocks of the backbone train too, at a lower learning
            rate, with batch normalization kept in inference mode.
- full:     every layer trains, batch normalization still in inference mode.
- scratch:  random initialisation, every layer trains, batch normalization
            learns its statistics (with random weights there are no
            pretrained statistics to protect).
"""

import math
from dataclasses import dataclass

from tl_core.backbones import build_backbone, get_backbone
from tl_core.errors import ConfigError

MODES = ("frozen", "finetune", "full", "scratch")

# Default learning rates by mode: fine-tuning pretrained layers needs a rate
# about ten times lower than training a new head, or it destroys the features.
DEFAULT_LEARNING_RATES = {"frozen": 1e-3, "finetune": 1e-4, "full": 1e-4, "scratch": 1e-3}

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")

BACKBONE_LAYER_NAME = "backbone"


@dataclass
class ParamCounts:
    trainable: int
    total: int


def validate_mode(mode: str) -> None:
    if mode not in MODES:
        raise ConfigError(f"Unknown mode {mode!r}. Choose one of: {', '.join(MODES)}.")


def build_classifier(
    backbone_name: str,
    num_classes: int,
    image_size: int,
    mode: str,
    finetune_blocks: int = 2,
    dropout: float = 0.2,
    augmentation: bool = False,
    seed: int = 0,
):
    """Build the full classifier for `mode`, with trainable flags set (not compiled).

    The model takes RGB pixels as floats in [0, 255] and outputs class
    probabilities (softmax).
    """
    import keras

    validate_mode(mode)
    spec = get_backbone(backbone_name)
    backbone = build_backbone(backbone_name, image_size, pretrained=mode != "scratch")
    backbone.name = BACKBONE_LAYER_NAME

    inputs = keras.Input((image_size, image_size, 3), name="image")
    x = inputs
    if augmentation:
        x = augmentation_layers(seed)(x)
    x = preprocessing_layer(spec.preprocessing)(x)
    # training=False keeps batch normalization in inference mode even when
    # layers are unfrozen, so small batches do not wreck pretrained statistics.
    x = backbone(x, training=False) if mode != "scratch" else backbone(x)
    outputs = head_layers(num_classes, dropout, seed)(x)
    model = keras.Model(inputs, outputs, name=f"{backbone_name}_{mode}")

    set_trainable(model, backbone_name, mode, finetune_blocks)
    return model


def preprocessing_layer(kind: str):
    from tl_core.preprocessing import BackbonePreprocess

    return BackbonePreprocess(kind, name="preprocess")


def augmentation_layers(seed: int):
    """Mild augmentation, active only while training: flip, rotate, zoom, shift."""
    import keras

    return keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal", seed=seed),
            keras.layers.RandomRotation(0.05, seed=seed),
            keras.layers.RandomZoom(0.1, seed=seed),
            keras.layers.RandomTranslation(0.05, 0.05, seed=seed),
        ],
        name="augmentation",
    )


def head_layers(num_classes: int, dropout: float, seed: int = 0):
    """Global average pooling, dropout and a dense softmax layer."""
    import keras

    return keras.Sequential(
        [
            keras.layers.GlobalAveragePooling2D(name="pool"),
            keras.layers.Dropout(dropout, seed=seed, name="dropout"),
            keras.layers.Dense(num_classes, activation="softmax", name="classes"),
        ],
        name="head",
    )


def set_trainable(model, backbone_name: str, mode: str, finetune_blocks: int = 2) -> None:
    """Set `trainable` on the backbone's layers for `mode`. Recompile afterwards."""
    validate_mode(mode)
    backbone = model.get_layer(BACKBONE_LAYER_NAME)

    if mode == "frozen":
        backbone.trainable = False
        return

    backbone.trainable = True
    if mode in ("full", "scratch"):
        return

    if finetune_blocks < 1:
        raise ConfigError(
            f"Fine-tuning needs at least 1 unfrozen block; received {finetune_blocks}."
        )
    spec = get_backbone(backbone_name)
    blocks = backbone_blocks(backbone, spec)
    unfrozen = set(blocks[-finetune_blocks:])
    for layer in backbone.layers:
        is_batch_norm = layer.__class__.__name__ == "BatchNormalization"
        layer.trainable = spec.block_of(layer.name) in unfrozen and not is_batch_norm


def backbone_blocks(backbone, spec) -> list[str]:
    """Return the block ids of the backbone's weighted layers, bottom to top."""
    blocks: list[str] = []
    for layer in backbone.layers:
        if not layer.weights:
            continue
        block = spec.block_of(layer.name)
        if block not in blocks:
            blocks.append(block)
    return blocks


def compile_model(model, optimizer: str, learning_rate: float) -> None:
    """Compile for sparse integer labels. Call again after any `trainable` change."""
    import keras

    if optimizer not in OPTIMIZERS:
        raise ConfigError(
            f"Unknown optimizer {optimizer!r}. Choose one of: {', '.join(OPTIMIZERS)}."
        )
    if not learning_rate > 0:
        raise ConfigError(f"Learning rate must be positive; received {learning_rate}.")
    optimizers = {
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
        "sgd": lambda learning_rate: keras.optimizers.SGD(learning_rate, momentum=0.9),
        "rmsprop": keras.optimizers.RMSprop,
    }
    model.compile(
        optimizer=optimizers[optimizer](learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


def count_params(model) -> ParamCounts:
    """Count trainable and total weights (total includes batch-norm statistics)."""
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    total = sum(math.prod(w.shape) for w in model.weights)
    return ParamCounts(trainable=int(trainable), total=int(total))
