"""The Keras side of training: data pipelines, callbacks, fit and test scoring.

Imported only inside a training run, because it imports TensorFlow.

Runtime settings, read from the environment of the training process:
    TL_THREADS        TensorFlow intra-op threads. Default: the CPU cores this
                      process may use (affinity mask and cgroup quota).
    TL_DISTRIBUTION   auto (default): tf.distribute.MirroredStrategy when two
                      or more GPUs are visible, else the default strategy;
                      mirrored: always MirroredStrategy (on a machine without
                      GPUs it has one CPU replica); default: never mirror.
Under MirroredStrategy, `batch_size` is the global batch, split across replicas.
"""

import gc
import logging
import os
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tl_core import evaluation, features
from tl_core.datasets import load_split
from tl_core.model import build_classifier, compile_model, count_params
from tl_core.runs import METRIC_COLUMNS
from tl_core.settings import requested_distribution, requested_threads
from tl_core.training import StopRequested

log = logging.getLogger(__name__)


PIPELINE_THREADS = 2  # batches prepared at once; numpy_function needs the GIL, so more rarely help
PIPELINE_PREFETCH = 2  # batches ready ahead of the model
# Decoding reports every image. The Train page redraws once per second, so
# more than 10 events per second would only grow events.jsonl.
PHASE_EVENT_INTERVAL = 0.1

_threads_configured = False
_library_frozen = False


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


# ------------------------------------------------------------ runtime settings


def usable_cores() -> int:
    """Return the CPU cores this process may use: its affinity mask, capped by a cgroup v2 quota."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            cores = min(cores, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota to read
    return cores


def configure_threads() -> int | None:
    """Set TensorFlow's thread pools to the usable cores, once per process.

    Returns the intra-op thread count, or None when TensorFlow had already
    started, because its pools are then fixed. TensorFlow sizes its pools
    from the CPUs it may be scheduled on and does not read a cgroup CPU
    quota (tensorflow/tensorflow issue 17206, still open), so in a container
    limited to 2 of 64 cores it would run 64 threads on 2 cores. Inter-op
    threads are capped at 2, because the backbones here are mostly chains of
    layers with few ops to run side by side. $TL_THREADS overrides the count.
    """
    global _threads_configured
    if _threads_configured:
        return None
    threads = requested_threads() or usable_cores()
    _threads_configured = True
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(2, threads))
    except RuntimeError:
        log.info("TensorFlow already started; keeping its thread settings")
        return None
    log.info("TensorFlow threads: %d intra-op, %d inter-op", threads, min(2, threads))
    return threads


def freeze_library_objects() -> None:
    """Move every object alive now out of the garbage collector's reach, once per process.

    Called before the first run, when the objects alive are mostly those of
    TensorFlow and Keras modules. A full collection then skips them. The
    one in `release_memory` took 0.18 s with them (about 330,000 objects)
    and 0.02 s without, for MobileNet on the 2-core AMD EPYC of
    BENCHMARKS.md. Reference counting still frees frozen objects, but
    reference cycles among them are never collected.
    """
    global _library_frozen
    if not _library_frozen:
        _library_frozen = True
        gc.freeze()


def distribution_strategy(name: str | None = None):
    """Return the tf.distribute strategy for `name` (default: $TL_DISTRIBUTION or "auto")."""
    name = requested_distribution(name)
    gpus = tf.config.list_logical_devices("GPU")
    if name == "mirrored" or (name == "auto" and len(gpus) > 1):
        strategy = tf.distribute.MirroredStrategy()
        log.info("Training with MirroredStrategy on %d replicas", strategy.num_replicas_in_sync)
        return strategy
    return tf.distribute.get_strategy()


def release_memory() -> None:
    """Drop Keras' global state and TensorFlow's kernel cache, then collect garbage.

    Called after every run, so that a process that trains run after run
    (tests, benchmarks, a notebook) does not keep every old model alive.
    `clear_session(free_memory=True)` runs the garbage collector itself.
    """
    keras.backend.clear_session(free_memory=True)


# ------------------------------------------------------------------ pipelines


def epoch_orders(count: int, epochs: int, seed: int) -> np.ndarray:
    """Return the shuffled order of `count` rows for each epoch, shape (epochs, count).

    Both the full-model path and the cached-feature path train in these
    orders, so a frozen run trains on the same batches with and without
    cached features.
    """
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(count) for _ in range(epochs)])


def array_pipeline(inputs, labels, batch_size, shuffle, seed, epochs=1):
    """Return a tf.data pipeline of batches taken from `inputs` (and `labels`) by index.

    `inputs` may be uint8 images, float32 features or a read-only memory
    map. Only the rows of the batch being prepared are read, and uint8
    batches are cast to float32 one at a time, so the pipeline never copies
    the whole array. With `shuffle`, the pipeline holds all `epochs` epochs one after
    the other, in the orders of `epoch_orders`, so `fit` must get
    steps_per_epoch. Without it, the pipeline is one pass in row order.
    With `labels` None it yields inputs only, for prediction.
    """
    count = len(inputs)
    if shuffle:
        orders = tf.data.Dataset.from_tensor_slices(epoch_orders(count, epochs, seed))
        indices = orders.flat_map(lambda order: tf.data.Dataset.from_tensor_slices(order).batch(batch_size))
    else:
        indices = tf.data.Dataset.range(count).batch(batch_size)

    row_shape = tuple(inputs.shape[1:])
    output_dtype = tf.float32 if inputs.dtype == np.uint8 else tf.as_dtype(inputs.dtype)
    # TensorFlow keeps numpy_function callables alive after the run, even
    # after clear_session, so the callable holds only a weak reference: the
    # caller's reference keeps the array alive while the pipeline is in use.
    inputs_ref = weakref.ref(inputs)

    def take_rows(batch_indices):
        return np.asarray(inputs_ref()[batch_indices], dtype=output_dtype.as_numpy_dtype)

    def take_batch(batch_indices):
        x = tf.numpy_function(take_rows, [batch_indices], output_dtype)
        x.set_shape((None, *row_shape))
        if labels is None:
            return x
        y = tf.gather(labels_tensor, batch_indices)
        return x, y

    labels_tensor = None if labels is None else tf.constant(labels, dtype=tf.int32)
    return parallel_batches(indices, take_batch)


def parallel_batches(indices, take_batch):
    """Map `take_batch` over batches of indices, PIPELINE_THREADS at a time, and prefetch.

    With tf.data autotuning on, predict() over such a pipeline sometimes
    returned about 1 s after its last batch: in about one call of three,
    with TensorFlow 2.21, MobileNet and 500 images at 128 px on the 2-core
    AMD EPYC of BENCHMARKS.md. With autotuning off it never did in the same
    trials, so the pipelines run with fixed parallelism and autotuning off.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    batches = indices.map(take_batch, num_parallel_calls=PIPELINE_THREADS, deterministic=True)
    return batches.prefetch(PIPELINE_PREFETCH).with_options(options)


# --------------------------------------------------------------------- a run


def run_training(config, dataset, writer, emit, stop_check) -> dict:
    """Load data, build, fit and score one run. Returns the raw results for the summary.

    Keras' global state is cleared when the run ends, also after an error.
    """
    configure_threads()
    freeze_library_objects()
    keras.utils.set_random_seed(config.seed)
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tl-load") as pool:
            # Decoding the images (Pillow releases the GIL) overlaps building the model.
            loading = pool.submit(_load_arrays, dataset, config.image_size, emit)
            with distribution_strategy().scope():
                model = build_classifier(
                    config.backbone, len(dataset.classes), config.image_size, config.mode,
                    finetune_blocks=config.finetune_blocks, dropout=config.dropout,
                    augmentation=config.augmentation, seed=config.seed,
                )
                compile_model(model, config.optimizer, config.resolved_learning_rate())
                return _fit_and_score(config, dataset, model, loading.result(), writer, emit, stop_check)
    finally:
        release_memory()


def _fit_and_score(config, dataset, model, arrays, writer, emit, stop_check) -> dict:
    params = count_params(model)
    x_train, y_train = arrays["train"]
    batches = int(np.ceil(len(x_train) / config.batch_size))
    stopped = False
    feature_seconds = None
    fit_model = model
    inputs = {split: images for split, (images, _) in arrays.items()}

    if config.uses_feature_cache():
        feature_started = time.perf_counter()
        try:
            inputs = _cached_features(config, dataset, model, arrays, emit, stop_check)
        except StopRequested:
            stopped = True
        feature_seconds = round(time.perf_counter() - feature_started, 2)
        fit_model = features.head_on_features(model)
        compile_model(fit_model, config.optimizer, config.resolved_learning_rate())

    emit(
        {
            "type": "start",
            "epochs": config.epochs,
            "batches_per_epoch": batches,
            "train_images": len(x_train),
            "val_images": len(arrays["val"][1]),
            "test_images": len(arrays["test"][1]),
            "trainable_params": params.trainable,
            "total_params": params.total,
            "learning_rate": config.resolved_learning_rate(),
            "feature_cache": fit_model is not model and not stopped,
            "feature_seconds": feature_seconds,
        }
    )

    progress = ProgressCallback(
        emit, writer, stop_check, len(x_train), batches,
        extra_first_epoch_seconds=feature_seconds or 0.0,
    )
    if not stopped:
        stopped = _fit(config, fit_model, inputs, y_train, arrays["val"][1], progress)

    test = _score_test(dataset, fit_model, inputs["test"], arrays["test"][1], config.batch_size, skip=not progress.history)
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


def _cached_features(config, dataset, model, arrays, emit, stop_check) -> dict:
    """Return each split's pooled features, loaded from the dataset's cache or extracted in one pass."""
    extractor = features.feature_extractor(model)
    digest = features.weights_digest(model)
    images = {split: split_images for split, (split_images, _) in arrays.items()}
    paths = {
        split: features.cache_path(dataset, split, config.backbone, config.image_size, digest)
        for split in images
    }

    def report(split, done, total):
        emit({"type": "phase", "phase": f"features:{split}", "done": done, "total": total})

    result, loaded = features.load_or_extract(extractor, images, paths, progress=report, should_stop=stop_check)
    log.info("Features loaded from cache for: %s", ", ".join(loaded) or "no split")
    return result


def _fit(config, fit_model, inputs, y_train, y_val, progress) -> bool:
    """Train `fit_model` on the train split's inputs (images or features); True when a stop ended it."""
    callbacks = [progress]
    if config.early_stopping_patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_accuracy", mode="max", patience=config.early_stopping_patience,
                restore_best_weights=True,
            )
        )
    on_features = fit_model.name == features.HEAD_MODEL_NAME
    try:
        if on_features and not tf.distribute.has_strategy():
            validation = (inputs["val"], y_val) if len(y_val) else None
            features.fit_head(
                fit_model, (inputs["train"], y_train), validation, config.epochs, config.batch_size,
                config.seed, callbacks,
            )
            return False
        validation = None
        if len(y_val):
            validation = array_pipeline(inputs["val"], y_val, config.batch_size, False, config.seed)
        fit_model.fit(
            array_pipeline(inputs["train"], y_train, config.batch_size, True, config.seed, config.epochs),
            validation_data=validation, epochs=config.epochs, callbacks=callbacks, verbose=0,
            steps_per_epoch=progress.batches,
            shuffle=False,  # array_pipeline shuffles each epoch itself
        )
    except StopRequested:
        return True
    return False


def _load_arrays(dataset, image_size, emit) -> dict:
    arrays = {}
    for split in ("train", "val", "test"):
        arrays[split] = load_split(
            dataset, split, image_size, progress=_phase_reporter(emit, f"loading:{split}")
        )
    return arrays


def _phase_reporter(emit, phase, interval=PHASE_EVENT_INTERVAL):
    """Return a progress callback that emits the first and last step and at most one event per `interval` s."""
    last_emitted = -float("inf")

    def report(done, total):
        nonlocal last_emitted
        now = time.monotonic()
        if done in (0, total) or now - last_emitted >= interval:
            last_emitted = now
            emit({"type": "phase", "phase": phase, "done": done, "total": total})

    return report


def _score_test(dataset, fit_model, x_test, y_test, batch_size, skip):
    """Score the test split (images, or features for a cached run); empty when no epoch finished."""
    paths = [path for path, _ in dataset.items["test"]]
    if skip or len(y_test) == 0:
        return evaluation.evaluate_probabilities(
            np.zeros((0, len(dataset.classes))), np.zeros(0, dtype=np.int64), dataset.classes, []
        )
    if fit_model.name == features.HEAD_MODEL_NAME:
        # Features: one direct call of the small head costs less than tracing predict().
        probabilities = keras.ops.convert_to_numpy(fit_model(x_test, training=False))
    else:
        probabilities = fit_model.predict(array_pipeline(x_test, None, batch_size, False, 0), verbose=0)
    return evaluation.evaluate_probabilities(probabilities, y_test, dataset.classes, paths)
