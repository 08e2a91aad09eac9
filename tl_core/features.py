"""Cached backbone features for frozen training.

With a frozen backbone, every epoch would push the same images through the
same fixed network. Instead the pooled backbone features are computed once
and the head trains on them, so epochs after the first cost a small
fraction of the first. The head layers are shared with the full classifier,
so training them on features trains the saved model.
"""

import numpy as np

FEATURE_BATCH_SIZE = 64


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
    return keras.Model(inputs, outputs, name="head_on_features")


def extract_features(extractor, images: np.ndarray, progress=None, should_stop=None) -> np.ndarray:
    """Run `extractor` over uint8 images in batches; return float32 features (N, D).

    `progress(done, total)` is called after each batch. When `should_stop()`
    turns true, the StopRequested exception of tl_core.training is raised.
    """
    from tl_core.training import StopRequested

    total = len(images)
    dim = extractor.output.shape[-1]
    features = np.empty((total, dim), dtype=np.float32)
    for start in range(0, total, FEATURE_BATCH_SIZE):
        if should_stop is not None and should_stop():
            raise StopRequested()
        batch = images[start : start + FEATURE_BATCH_SIZE].astype(np.float32)
        features[start : start + len(batch)] = extractor.predict_on_batch(batch)
        if progress is not None:
            progress(min(start + FEATURE_BATCH_SIZE, total), total)
    return features
