"""The Keras side of training: data pipelines, callbacks, fit and test scoring.

Imported only inside a training run, because it imports TensorFlow.
"""

import time

import keras
import numpy as np
import tensorflow as tf

from tl_core import evaluation, features
from tl_core.datasets import load_split
from tl_core.model import build_classifier, compile_model, count_params
from tl_core.runs import METRIC_COLUMNS
from tl_core.training import StopRequested


class ProgressCallback(keras.callbacks.Callback):
    """Emits batch and epoch events, writes metrics.csv, and honours stop requests."""

    def __init__(self, emit, writer, stop_check, train_images, batches, extra_first_epoch_seconds=0.0):
        super().__init__()
        self.emit = emit
        self.writer = writer
        self.stop_check = stop_check
        self.train_images = train_images
        self.batches = batches
        self.extra_seconds = extra_first_epoch_seconds
        self.history: list[dict] = []
        self._epoch_started = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        self.emit(
            {
                "type": "batch",
                "epoch": len(self.history) + 1,
                "batch": batch + 1,
                "batches": self.batches,
                "loss": _float(logs.get("loss")),
                "accuracy": _float(logs.get("accuracy")),
            }
        )
        # Raising leaves fit() at once; setting model.stop_training would
        # still run the epoch's validation pass first.
        if self.stop_check():
            raise StopRequested()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        seconds = time.perf_counter() - self._epoch_started
        if epoch == 0:
            seconds += self.extra_seconds
        row = {
            "epoch": epoch + 1,
            "loss": _float(logs.get("loss")),
            "accuracy": _float(logs.get("accuracy")),
            "val_loss": _float(logs.get("val_loss")),
            "val_accuracy": _float(logs.get("val_accuracy")),
            "seconds": round(seconds, 3),
            "images_per_second": round(self.train_images / seconds, 1) if seconds > 0 else None,
        }
        self.history.append(row)
        self.writer.append_metrics(row)
        self.emit({"type": "epoch", **{key: row[key] for key in METRIC_COLUMNS}})


def _float(value):
    return None if value is None else round(float(value), 6)


def image_pipeline(images, labels, batch_size, shuffle, seed):
    """tf.data pipeline over uint8 arrays: shuffle, batch, cast to float, prefetch."""
    data = tf.data.Dataset.from_tensor_slices((images, labels))
    if shuffle:
        data = data.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size)
    data = data.map(lambda x, y: (tf.cast(x, tf.float32), y), num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)


def run_training(config, dataset, writer, emit, stop_check) -> dict:
    """Load data, build, fit and score one run. Returns the raw results for the summary."""
    keras.utils.set_random_seed(config.seed)
    arrays = _load_arrays(dataset, config.image_size, emit)

    model = build_classifier(
        config.backbone, len(dataset.classes), config.image_size, config.mode,
        finetune_blocks=config.finetune_blocks, dropout=config.dropout,
        augmentation=config.augmentation, seed=config.seed,
    )
    learning_rate = config.resolved_learning_rate()
    compile_model(model, config.optimizer, learning_rate)
    params = count_params(model)

    x_train, y_train = arrays["train"]
    x_val, y_val = arrays["val"]
    x_test, y_test = arrays["test"]
    batches = int(np.ceil(len(x_train) / config.batch_size))
    stopped = False
    feature_seconds = None
    fit_model = model
    cached = {}

    if config.uses_feature_cache():
        feature_started = time.perf_counter()
        extractor = features.feature_extractor(model)
        try:
            for split, (images, _) in arrays.items():
                cached[split] = features.extract_features(
                    extractor, images,
                    progress=_phase_reporter(emit, f"features:{split}"),
                    should_stop=stop_check,
                )
        except StopRequested:
            stopped = True
        feature_seconds = round(time.perf_counter() - feature_started, 2)
        fit_model = features.head_on_features(model)
        compile_model(fit_model, config.optimizer, learning_rate)

    emit(
        {
            "type": "start",
            "epochs": config.epochs,
            "batches_per_epoch": batches,
            "train_images": len(x_train),
            "val_images": len(x_val),
            "test_images": len(x_test),
            "trainable_params": params.trainable,
            "total_params": params.total,
            "learning_rate": learning_rate,
            "feature_cache": bool(cached),
            "feature_seconds": feature_seconds,
        }
    )

    progress = ProgressCallback(
        emit, writer, stop_check, len(x_train), batches,
        extra_first_epoch_seconds=feature_seconds or 0.0,
    )
    callbacks = [progress]
    if config.early_stopping_patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_accuracy", patience=config.early_stopping_patience,
                restore_best_weights=True,
            )
        )

    if not stopped:
        try:
            if cached:
                fit_model.fit(
                    cached["train"], y_train, batch_size=config.batch_size, epochs=config.epochs,
                    validation_data=(cached["val"], y_val) if len(y_val) else None,
                    shuffle=True, callbacks=callbacks, verbose=0,
                )
            else:
                fit_model.fit(
                    image_pipeline(x_train, y_train, config.batch_size, True, config.seed),
                    validation_data=(
                        image_pipeline(x_val, y_val, config.batch_size, False, config.seed)
                        if len(y_val) else None
                    ),
                    epochs=config.epochs, callbacks=callbacks, verbose=0,
                    shuffle=False,  # image_pipeline shuffles each epoch itself
                )
        except StopRequested:
            stopped = True

    test = _score_test(dataset, model, fit_model, cached, x_test, y_test, config.batch_size, skip=not progress.history)
    writer.write_json(
        "confusion_matrix.json",
        {"split": "test", "classes": dataset.classes, "matrix": test.confusion},
    )
    writer.write_predictions(test.predictions)
    if fit_model is not model:
        # The head trained through fit_model, so model's own optimizer never
        # built its slots; build them so the saved file loads without warnings.
        model.optimizer.build(model.trainable_variables)
    model_path = writer.save_model(model)

    return {
        "history": progress.history,
        "test": test,
        "stopped": stopped,
        "params": params,
        "feature_seconds": feature_seconds,
        "model_size_bytes": model_path.stat().st_size,
    }


def _load_arrays(dataset, image_size, emit) -> dict:
    arrays = {}
    for split in ("train", "val", "test"):
        arrays[split] = load_split(
            dataset, split, image_size, progress=_phase_reporter(emit, f"loading:{split}")
        )
    return arrays


def _phase_reporter(emit, phase):
    def report(done, total):
        emit({"type": "phase", "phase": phase, "done": done, "total": total})

    return report


def _score_test(dataset, model, fit_model, cached, x_test, y_test, batch_size, skip):
    """Score the test split; skipped (empty result) when no epoch finished."""
    paths = [path for path, _ in dataset.items["test"]]
    if skip or len(y_test) == 0:
        return evaluation.evaluate_probabilities(
            np.zeros((0, len(dataset.classes))), np.zeros(0, dtype=np.int64), dataset.classes, []
        )
    if "test" in cached:
        probabilities = fit_model.predict(cached["test"], batch_size=256, verbose=0)
    else:
        probabilities = model.predict(
            image_pipeline(x_test, y_test, batch_size, False, 0).map(lambda x, y: x), verbose=0
        )
    return evaluation.evaluate_probabilities(probabilities, y_test, dataset.classes, paths)
