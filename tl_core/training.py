"""Train one classifier from a TrainConfig and write its run folder.

`train()` is the single entry point used by the CLI, the worker processes
behind the UI, and the tests. It reports progress to a listener as plain
dict events (also written to events.jsonl):

    {"type": "phase", "phase": "loading" | "features", "done": int, "total": int}
    {"type": "start", "epochs", "batches_per_epoch", "train_images", "trainable_params", ...}
    {"type": "batch", "epoch", "batch", "batches", "loss", "accuracy"}
    {"type": "epoch", "epoch", "loss", "accuracy", "val_loss", "val_accuracy",
                      "seconds", "images_per_second"}
    {"type": "end", "status", "test_accuracy"}

Epochs and batches count from 1.
"""

import logging
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Callable

import numpy as np

from tl_core import evaluation
from tl_core.backbones import get_backbone
from tl_core.errors import ConfigError, TLError
from tl_core.model import DEFAULT_LEARNING_RATES, OPTIMIZERS, validate_mode
from tl_core.settings import requested_distribution, requested_threads
from tl_core.runs import (
    STATUS_FAILED, STATUS_FINISHED, STATUS_STOPPED, RunWriter, stop_requested,
)

log = logging.getLogger(__name__)

Listener = Callable[[dict], None]


@dataclass
class TrainConfig:
    """Everything that defines one training run."""

    backbone: str = "mobilenet_v2"
    mode: str = "frozen"  # frozen | finetune | full | scratch
    finetune_blocks: int = 2  # K: top blocks unfrozen in finetune mode
    image_size: int = 96
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float | None = None  # None: the mode's default
    optimizer: str = "adam"
    augmentation: bool = False
    seed: int = 0
    early_stopping_patience: int = 0  # epochs without val_accuracy gain; 0 disables
    dropout: float = 0.2
    feature_cache: bool = True  # frozen mode: compute backbone features once

    def resolved_learning_rate(self) -> float:
        if self.learning_rate is None:
            return DEFAULT_LEARNING_RATES[self.mode]
        return self.learning_rate

    def uses_feature_cache(self) -> bool:
        """Cached features apply to frozen mode without augmentation.

        With augmentation each epoch sees new pixels, so features must be
        recomputed and the run takes the full-model path.
        """
        return self.mode == "frozen" and self.feature_cache and not self.augmentation

    def validate(self) -> None:
        """Raise ConfigError naming the first invalid setting."""
        get_backbone(self.backbone)
        validate_mode(self.mode)
        spec = get_backbone(self.backbone)
        checks = [
            (self.epochs >= 1, f"epochs must be at least 1; received {self.epochs}."),
            (self.batch_size >= 1, f"batch size must be at least 1; received {self.batch_size}."),
            (
                self.image_size >= spec.min_size,
                f"image size must be at least {spec.min_size} for {spec.display_name}; "
                f"received {self.image_size}.",
            ),
            (self.image_size <= 1024, f"image size must be at most 1024; received {self.image_size}."),
            (
                self.learning_rate is None or self.learning_rate > 0,
                f"learning rate must be positive; received {self.learning_rate}.",
            ),
            (
                self.optimizer in OPTIMIZERS,
                f"optimizer must be one of {', '.join(OPTIMIZERS)}; received {self.optimizer!r}.",
            ),
            (0 <= self.dropout < 1, f"dropout must be in [0, 1); received {self.dropout}."),
            (
                self.finetune_blocks >= 1,
                f"fine-tune blocks must be at least 1; received {self.finetune_blocks}.",
            ),
            (
                self.early_stopping_patience >= 0,
                f"early-stopping patience must be 0 or more; received {self.early_stopping_patience}.",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message[0].upper() + message[1:])

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})


class StopRequested(Exception):
    """Raised inside fit() to end training after the current batch."""


def train(
    config: TrainConfig,
    dataset,
    run_folder: Path,
    listener: Listener | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict:
    """Train `config` on `dataset` (a tl_core.datasets.Dataset); return the summary.

    Writes every file of the run folder; summary.json comes last. A stop
    request (`should_stop()` true, or a STOP file in the run folder) ends
    training after the current batch and keeps the model as "stopped".
    Raises TLError (after writing a "failed" summary) on invalid settings or data.
    """
    config.validate()
    # Checked before the run folder exists, so that a mistyped setting leaves no failed run behind.
    requested_threads()
    requested_distribution()
    writer = RunWriter.create(
        run_folder,
        {
            "config": config.to_dict(),
            "dataset": {
                "id": dataset.dataset_id,
                "root": str(dataset.root),
                "classes": dataset.classes,
                "counts": dataset.counts(),
            },
        },
    )
    writer.write_json("labels.json", dataset.classes)

    def emit(event: dict) -> None:
        event = {"time": round(time.time(), 3), **event}
        writer.append_event(event)
        if listener is not None:
            listener(event)

    def stop_check() -> bool:
        return stop_requested(writer.folder) or (should_stop is not None and should_stop())

    started = time.perf_counter()
    try:
        from tl_core.fitting import run_training

        result = run_training(config, dataset, writer, emit, stop_check)
    except TLError as error:
        _finish_failed(writer, config, dataset, started, str(error), emit)
        raise
    except Exception as error:
        log.exception("Run %s failed", writer.folder)
        _finish_failed(writer, config, dataset, started, f"{type(error).__name__}: {error}", emit)
        raise

    summary = _summary(config, dataset, started, result)
    emit({"type": "end", "status": summary["status"], "test_accuracy": summary["test_accuracy"]})
    writer.finish(summary)
    return summary


def _summary(config: TrainConfig, dataset, started: float, result: dict) -> dict:
    history = result["history"]
    val_accuracies = [row["val_accuracy"] for row in history if row.get("val_accuracy") is not None]
    best_epoch = None
    if val_accuracies:
        best_index = int(np.argmax(val_accuracies))
        best_epoch = history[best_index]["epoch"]
    test: evaluation.Evaluation = result["test"]
    speeds = [row["images_per_second"] for row in history if row.get("images_per_second")]
    return {
        "status": STATUS_STOPPED if result["stopped"] else STATUS_FINISHED,
        "test_accuracy": test.accuracy,
        "test_loss": test.loss,
        "best_val_accuracy": max(val_accuracies) if val_accuracies else None,
        "best_epoch": best_epoch,
        "epochs_completed": len(history),
        "epochs_requested": config.epochs,
        "train_seconds": round(time.perf_counter() - started, 2),
        "feature_seconds": result.get("feature_seconds"),
        "images_per_second": round(float(np.median(speeds)), 1) if speeds else None,
        "trainable_params": result["params"].trainable,
        "total_params": result["params"].total,
        "backbone": config.backbone,
        "mode": config.mode,
        "image_size": config.image_size,
        "feature_cache": config.uses_feature_cache(),
        "classes": dataset.classes,
        "dataset_id": dataset.dataset_id,
        "dataset_counts": dataset.counts(),
        "model_size_bytes": result.get("model_size_bytes"),
        "error": None,
    }


def _finish_failed(writer, config, dataset, started, message, emit) -> None:
    emit({"type": "end", "status": STATUS_FAILED, "error": message})
    writer.finish(
        {
            "status": STATUS_FAILED,
            "error": message,
            "test_accuracy": None,
            "best_val_accuracy": None,
            "train_seconds": round(time.perf_counter() - started, 2),
            "backbone": config.backbone,
            "mode": config.mode,
            "image_size": config.image_size,
            "dataset_id": dataset.dataset_id,
            "dataset_counts": dataset.counts(),
        }
    )
