"""Cached backbone features for frozen training.

With a frozen backbone, every epoch would push the same images through the
same fixed network. Instead the pooled backbone features are computed once
and the head trains on them, so epochs after the first cost a small
fraction of the first. The head layers are shared with the full classifier,
so training them on features trains the saved model.

Features are also stored on disk, in the dataset's cache/ folder, keyed by
the split's items, the backbone, the image size and a digest of the
backbone weights. A later frozen run on the same data, backbone and size
then loads them and skips the backbone entirely.

Augmentation is not cached: a run with augmentation trains the full model
and runs the backbone on new pixels every epoch (see
`TrainConfig.uses_feature_cache`). Caching a fixed number of augmented views
would trade that variety for speed.
"""

import hashlib
import logging
import os
import uuid
import weakref
from pathlib import Path

import numpy as np

from tl_core.dataset_arrays import CACHE_FOLDER, split_digest
from tl_core.npy_files import load_checked

log = logging.getLogger(__name__)

FEATURE_BATCH_SIZE = 64  # maximum images per extraction batch
# Extraction batches hold at most this many pixels: 64 images at 128 px.
# TensorFlow's oneDNN allocator keeps the pool its largest batch needed, so
# bigger batches leave more memory behind without being faster. The memory
# step of `python -m tl_core bench` ran 2000 images at 224 px through
# MobileNet on the 2-core AMD EPYC of BENCHMARKS.md. With 64-image batches,
# each run left 1400-1830 MB of RSS and took 29-42 s. With 20-image batches,
# each run left 1030-1100 MB and took 21-42 s.
FEATURE_BATCH_PIXELS = 64 * 128 * 128
CACHE_FORMAT = 1  # bump when the stored features change meaning
HEAD_MODEL_NAME = "head_on_features"


def feature_extractor(model):
    """Return a model from input pixels to pooled features, sharing `model`'s weights."""
    import keras

    inputs = keras.Input(model.input.shape[1:], name="image")
    x = model.get_layer("preprocess")(inputs)
    x = model.get_layer("backbone")(x, training=False)
    x = model.get_layer("head").get_layer("pool")(x)
    return keras.Model(inputs, x, name="feature_extractor")


def head_on_features(model):
    """Return a model from pooled features to class probabilities, sharing `model`'s head."""
    import keras

    head = model.get_layer("head")
    feature_dim = model.get_layer("backbone").output.shape[-1]
    inputs = keras.Input((feature_dim,), name="features")
    x = head.get_layer("dropout")(inputs)
    outputs = head.get_layer("classes")(x)
    return keras.Model(inputs, outputs, name=HEAD_MODEL_NAME)


def feature_batch_size(height: int, width: int) -> int:
    """Return the extraction batch size for images of this size: 8 to FEATURE_BATCH_SIZE."""
    return max(8, min(FEATURE_BATCH_SIZE, FEATURE_BATCH_PIXELS // (height * width)))


def extract_features(extractor, images: np.ndarray, progress=None, should_stop=None) -> np.ndarray:
    """Run `extractor` over uint8 images; return float32 features (N, D).

    `progress(done, total)` is called after each batch. See `extract_feature_sets`.
    """
    report = None if progress is None else lambda index, done, total: progress(done, total)
    return extract_feature_sets(extractor, [images], progress=report, should_stop=should_stop)[0]


def extract_feature_sets(extractor, image_sets: list[np.ndarray], progress=None, should_stop=None) -> list[np.ndarray]:
    """Run `extractor` over several uint8 image arrays in one pass; return their float32 features.

    The arrays are read as one stream of batches of `feature_batch_size`
    images, and the last batch is padded to that size, so every batch has
    the same shape. TensorFlow's CPU kernels (oneDNN) prepare their work for
    each new input shape. The first batch of a new size took about 0.3 s
    longer, as long as computing 64 images at 128 px. That was MobileNet,
    timed with predict_on_batch on the 2-core AMD EPYC of BENCHMARKS.md. Batches are
    converted to float32 one at a time, so memory holds the uint8 images,
    the features and a few float32 batches. `predict` splits each batch
    across replicas when the extractor was built under a multi-device strategy.

    `progress(set_index, done, total)` is called as each array advances.
    When `should_stop()` turns true, the StopRequested exception of
    tl_core.training is raised before the next batch.
    """
    import keras
    import tensorflow as tf

    from tl_core.fitting import parallel_batches
    from tl_core.training import StopRequested

    lengths = [len(images) for images in image_sets]
    offsets = np.cumsum([0, *lengths])
    total = int(offsets[-1])
    dim = extractor.output.shape[-1]
    if total == 0:
        return [np.empty((0, dim), dtype=np.float32) for _ in image_sets]

    row_shape = next(images.shape[1:] for images in image_sets if len(images))
    batch_size = feature_batch_size(row_shape[0], row_shape[1])
    batch_count = -(-total // batch_size)
    indices = np.arange(batch_count * batch_size)
    indices[total:] = total - 1  # padding repeats the last image; its outputs are dropped

    # TensorFlow keeps numpy_function callables alive after the run, so the
    # callable holds weak references and the caller's keep the arrays alive.
    image_refs = [weakref.ref(images) for images in image_sets]

    def take_rows(batch_indices):
        rows = np.empty((len(batch_indices), *row_shape), dtype=np.float32)
        set_ids = np.searchsorted(offsets, batch_indices, side="right") - 1
        for set_id in np.unique(set_ids):
            chosen = set_ids == set_id
            rows[chosen] = image_refs[set_id]()[batch_indices[chosen] - offsets[set_id]]
        return rows

    def take_batch(batch_indices):
        rows = tf.numpy_function(take_rows, [batch_indices], tf.float32)
        rows.set_shape((batch_size, *row_shape))
        return rows

    class Progress(keras.callbacks.Callback):
        def on_predict_batch_begin(self, batch, logs=None):
            if should_stop is not None and should_stop():
                raise StopRequested()

        def on_predict_batch_end(self, batch, logs=None):
            if progress is None:
                return
            start, end = batch * batch_size, min((batch + 1) * batch_size, total)
            for index, length in enumerate(lengths):
                if offsets[index] < end and offsets[index] + length > start:
                    progress(index, int(min(end - offsets[index], length)), length)

    index_batches = tf.data.Dataset.from_tensor_slices(indices.reshape(batch_count, batch_size))
    batches = parallel_batches(index_batches, take_batch)
    outputs = extractor.predict(batches, callbacks=[Progress()], verbose=0)
    outputs = outputs[:total].astype(np.float32, copy=False)
    return [outputs[offsets[index] : offsets[index + 1]] for index in range(len(image_sets))]


def weights_digest(model) -> str:
    """Return a SHA-256 prefix of the backbone's weight shapes and values, in layer order.

    Hashing the values, not a file name, distinguishes weights converted
    again or downloaded from another source. Weight names are left out
    because Keras numbers auto-named layers per process. Reading every
    weight took about 30 ms for MobileNet's 3.2 million parameters.
    """
    digest = hashlib.sha256()
    for weight in model.get_layer("backbone").weights:
        values = np.ascontiguousarray(weight.numpy())
        digest.update(str(values.shape).encode())
        digest.update(values.tobytes())
    return digest.hexdigest()[:16]


def cache_path(dataset, split: str, backbone: str, image_size: int, weights: str) -> Path | None:
    """Return the .npy file for one split's features, or None for a dataset without a folder."""
    if dataset.folder is None:
        return None
    name = f"features_v{CACHE_FORMAT}_{backbone}_{image_size}_{weights}_{split}_{split_digest(dataset, split)}.npy"
    return Path(dataset.folder) / CACHE_FOLDER / name


def has_stored_features(dataset, backbone: str, image_size: int) -> bool:
    """Tell whether every non-empty split of `dataset` has stored features for this backbone and size.

    Reads file names only, without TensorFlow, so the Train page can call it.
    NOTE: any weights digest matches, so features of weights converted again
    since then count too, although a run would extract them anew.
    """
    if dataset.folder is None:
        return False
    folder = Path(dataset.folder) / CACHE_FOLDER
    for split, pairs in dataset.items.items():
        pattern = f"features_v{CACHE_FORMAT}_{backbone}_{image_size}_*_{split}_{split_digest(dataset, split)}.npy"
        if pairs and not any(folder.glob(pattern)):
            return False
    return True


def load_or_extract(extractor, image_sets: dict, paths: dict, progress=None, should_stop=None) -> tuple[dict, list]:
    """Return (features by name, names loaded from disk) for named uint8 image arrays.

    `paths[name]` is the .npy file of that array's features, or None for no
    disk cache. Stored features are loaded. The others are extracted in one
    pass (see `extract_feature_sets`) and saved through a temporary file,
    so a concurrent run or a crash never leaves a partial file. A stored
    file whose shape does not match is ignored and replaced.
    `progress(name, done, total)` reports each array, loaded ones at once.
    """
    dim = extractor.output.shape[-1]
    result, loaded = {}, []
    for name, images in image_sets.items():
        stored = load_checked(paths.get(name), (len(images), dim), np.float32)
        if stored is not None:
            result[name] = stored
            loaded.append(name)
            if progress is not None:
                progress(name, len(images), len(images))

    missing = [name for name in image_sets if name not in result]
    if missing:
        report = None
        if progress is not None:
            report = lambda index, done, total: progress(missing[index], done, total)  # noqa: E731
        extracted = extract_feature_sets(
            extractor, [image_sets[name] for name in missing], progress=report, should_stop=should_stop
        )
        for name, values in zip(missing, extracted):
            result[name] = values
            if paths.get(name) is not None:
                _save_atomic(paths[name], values)
    return result, loaded


def _save_atomic(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with temporary.open("wb") as file:
            np.save(file, array)
        os.replace(temporary, path)
    except OSError as error:
        # The cache only saves time, so a full disk or read-only folder does not fail the run.
        log.warning("Could not save feature cache %s: %s", path, error)
        temporary.unlink(missing_ok=True)


def fit_head(head_model, train, validation, epochs: int, batch_size: int, seed: int, callbacks) -> None:
    """Train `head_model` on cached features as `fit` would, without fit's cost per batch.

    `train` and `validation` are (features, labels) pairs; validation may be
    None. Keras `fit` spends milliseconds of Python on every batch, more than
    a batch of pooled features takes to compute, so here one tf.function
    runs a whole epoch. The callbacks then get the calls `fit` makes
    (on_epoch_begin, on_train_batch_end with the running loss and accuracy,
    on_epoch_end with the validation metrics), so progress events and early
    stopping behave the same. Batch order (`fitting.epoch_orders`), loss,
    running metrics, dropout draws and optimizer steps match `fit` on the
    full model, so cached and uncached runs reach the same weights up to
    float rounding.

    Call only under the default distribution strategy: the epoch function
    updates variables from the cross-replica context.
    """
    import keras
    import tensorflow as tf

    from tl_core.fitting import epoch_orders

    variables = head_model.trainable_variables
    optimizer = head_model.optimizer
    optimizer.build(variables)
    # Same loss as compile_model's "sparse_categorical_crossentropy": mean over the batch.
    loss_function = keras.losses.SparseCategoricalCrossentropy()
    train_features, train_labels = tf.constant(train[0]), tf.constant(train[1], dtype=tf.int32)
    count = len(train[1])
    batches = -(-count // batch_size)

    def batch_results(labels, probabilities):
        size = tf.cast(tf.shape(labels)[0], tf.float32)
        predicted = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        correct = tf.reduce_sum(tf.cast(tf.equal(predicted, labels), tf.float32))
        return size, correct

    # A plain tf.while_loop without autograph: converting Python loops costs
    # more tracing time than the whole head training takes on features.
    @tf.function(autograph=False)
    def train_epoch(order):
        def step(batch, loss_sum, correct_sum, seen, losses, accuracies):
            chosen = order[batch * batch_size : (batch + 1) * batch_size]
            labels = tf.gather(train_labels, chosen)
            with tf.GradientTape() as tape:
                probabilities = head_model(tf.gather(train_features, chosen), training=True)
                loss = loss_function(labels, probabilities)
            optimizer.apply(tape.gradient(loss, variables), variables)
            size, correct = batch_results(labels, probabilities)
            loss_sum, correct_sum, seen = loss_sum + loss * size, correct_sum + correct, seen + size
            losses = losses.write(batch, loss_sum / seen)
            accuracies = accuracies.write(batch, correct_sum / seen)
            return batch + 1, loss_sum, correct_sum, seen, losses, accuracies

        zero = tf.constant(0.0)
        state = (
            tf.constant(0), zero, zero, zero,
            tf.TensorArray(tf.float32, size=batches), tf.TensorArray(tf.float32, size=batches),
        )
        state = tf.while_loop(lambda batch, *_: batch < batches, step, state)
        return state[4].stack(), state[5].stack()

    def evaluate(features, labels):
        # One pass over all validation features: the mean loss over samples
        # equals fit's batch-size-weighted mean of batch losses.
        probabilities = head_model(features, training=False)
        size, correct = batch_results(labels, probabilities)
        return loss_function(labels, probabilities), correct / size

    has_validation = validation is not None and len(validation[1]) > 0
    if has_validation:
        validation_features = tf.constant(validation[0])
        validation_labels = tf.constant(validation[1], dtype=tf.int32)

    callback_list = keras.callbacks.CallbackList(callbacks, model=head_model, epochs=epochs, steps=batches)
    head_model.stop_training = False
    callback_list.on_train_begin()
    for epoch, order in enumerate(epoch_orders(count, epochs, seed)):
        callback_list.on_epoch_begin(epoch)
        losses, accuracies = (values.numpy() for values in train_epoch(tf.constant(order)))
        for batch, (loss, accuracy) in enumerate(zip(losses, accuracies)):
            callback_list.on_train_batch_end(batch, {"loss": float(loss), "accuracy": float(accuracy)})
        logs = {"loss": float(losses[-1]), "accuracy": float(accuracies[-1])}
        if has_validation:
            val_loss, val_accuracy = evaluate(validation_features, validation_labels)
            logs.update(val_loss=float(val_loss), val_accuracy=float(val_accuracy))
        callback_list.on_epoch_end(epoch, logs)
        if head_model.stop_training:
            break
    callback_list.on_train_end()
