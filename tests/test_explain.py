"""Grad-CAM on real classifiers, and prediction from a saved run folder."""

import json

import numpy as np
import pytest
from PIL import Image

from tl_core.errors import TLError

SIZE = 64
PATCH = 22
PATCH_COLOURS = [(220, 40, 40), (40, 200, 40), (40, 60, 220)]
CLASSES = ["red", "green", "blue"]


def patch_images(count, seed):
    """Grey noise with one coloured square; the colour is the class.

    The square lies wholly in the left half for even pairs of indices and in
    the right half otherwise, so Grad-CAM's heat should sit on that half.
    Returns images (N, 64, 64, 3) uint8, labels (N,) and is_left (N,) bool.
    """
    rng = np.random.default_rng(seed)
    images, labels, is_left = [], [], []
    for index in range(count):
        pixels = np.clip(rng.normal(128, 25, (SIZE, SIZE, 3)), 0, 255)
        label = index % 3
        left = (index // 3) % 2 == 0
        top = rng.integers(4, SIZE - PATCH - 4)
        if left:
            start = rng.integers(2, SIZE // 2 - PATCH - 1)
        else:
            start = rng.integers(SIZE // 2 + 1, SIZE - PATCH - 2)
        pixels[top : top + PATCH, start : start + PATCH] = PATCH_COLOURS[label]
        images.append(pixels.astype(np.uint8))
        labels.append(label)
        is_left.append(left)
    return np.stack(images), np.array(labels), np.array(is_left)


@pytest.fixture(scope="module")
def patch_model():
    """A frozen pretrained MobileNetV2 whose head learned the square's colour (about 8 s)."""
    import keras

    from tl_core.model import build_classifier, compile_model

    images, labels, _ = patch_images(60, seed=0)
    keras.utils.set_random_seed(0)
    model = build_classifier("mobilenet_v2", 3, SIZE, "frozen")
    compile_model(model, "adam", 1e-2)
    model.fit(images.astype("float32"), labels, epochs=8, batch_size=16, verbose=0)
    return model


@pytest.fixture(scope="module")
def scratch_model():
    from tl_core.model import build_classifier

    return build_classifier("mobilenet_v2", 3, SIZE, "scratch", augmentation=True)


def noise_image(seed=1, size=SIZE):
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def test_heatmap_shape_and_range(scratch_model):
    from tl_core.explain import grad_cam

    heat = grad_cam(scratch_model, noise_image())
    assert heat.shape == (SIZE, SIZE)
    assert heat.dtype == np.float32
    assert heat.min() >= 0.0
    assert heat.max() <= 1.0


def test_heatmap_not_constant(patch_model):
    from tl_core.explain import grad_cam

    images, labels, _ = patch_images(3, seed=5)
    heat = grad_cam(patch_model, images[0], int(labels[0]))
    assert heat.max() == pytest.approx(1.0)
    assert heat.std() > 0.05


def test_small_map_uses_finer_layer(scratch_model):
    from tl_core.explain import MIN_CAM_SIDE, cam_layer_name

    backbone = scratch_model.get_layer("backbone")
    chosen = backbone.get_layer(cam_layer_name(scratch_model))
    assert backbone.output.shape[1] < MIN_CAM_SIDE  # 2x2 at 64 px
    assert chosen.output.shape[1] >= MIN_CAM_SIDE


def test_heat_on_patch_half(patch_model):
    from tl_core.explain import grad_cam

    images, labels, is_left = patch_images(12, seed=7)
    predicted = patch_model.predict(images.astype("float32"), verbose=0).argmax(axis=1)
    assert (predicted == labels).mean() >= 0.9

    shares = []
    for image, label, left in zip(images, labels, is_left):
        heat = grad_cam(patch_model, image, int(label))
        left_mass, right_mass = heat[:, : SIZE // 2].sum(), heat[:, SIZE // 2 :].sum()
        shares.append((left_mass if left else right_mass) / (left_mass + right_mass))
    shares = np.array(shares)
    # Measured over training seeds 0-3: 11 or 12 of 12 images, mean share 0.76-0.77.
    assert (shares > 0.5).sum() >= 10
    assert shares.mean() >= 0.65


def test_class_index_out_of_range(scratch_model):
    from tl_core.explain import grad_cam

    with pytest.raises(ValueError, match="class_index"):
        grad_cam(scratch_model, noise_image(), class_index=3)


def test_wrong_image_shape(scratch_model):
    from tl_core.explain import grad_cam

    with pytest.raises(ValueError, match="model input"):
        grad_cam(scratch_model, noise_image(size=32))


def test_overlay_blends_colours():
    from tl_core.explain import colour_map, overlay

    grey = np.full((8, 8, 3), 100, np.uint8)
    heat = np.zeros((8, 8), np.float32)
    heat[:, 4:] = 1.0
    blended = np.asarray(overlay(grey, heat, alpha=0.5))
    hot, cold = colour_map(np.array(1.0)), colour_map(np.array(0.0))
    assert blended.shape == (8, 8, 3)
    assert tuple(blended[0, 7]) == tuple(np.rint(0.5 * 100 + 0.5 * hot).astype(int))
    assert tuple(blended[0, 0]) == tuple(np.rint(0.5 * 100 + 0.5 * cold).astype(int))


def test_overlay_resizes_heatmap():
    from tl_core.explain import overlay

    image = Image.new("RGB", (40, 30), (10, 20, 30))
    assert overlay(image, np.ones((8, 8), np.float32)).size == (40, 30)


# Prediction from a run folder ---------------------------------------------


@pytest.fixture(scope="module")
def run_folder(patch_model, tmp_path_factory):
    """A run folder with the files predict.py reads, holding the patch model."""
    folder = tmp_path_factory.mktemp("runs") / "patch-run"
    folder.mkdir()
    patch_model.save(folder / "model.keras")
    (folder / "labels.json").write_text(json.dumps(CLASSES))
    (folder / "config.json").write_text(json.dumps({"config": {"image_size": SIZE}}))
    return folder


@pytest.fixture(scope="module")
def loaded(run_folder):
    from tl_core.predict import load_run_model

    return load_run_model(run_folder)


def test_load_run_model_reads_labels(loaded):
    assert loaded.labels == CLASSES
    assert loaded.image_size == SIZE


def test_predict_top_k_sorted(loaded):
    from tl_core.predict import predict_images

    images, labels, _ = patch_images(3, seed=11)
    results = predict_images(loaded, [Image.fromarray(image) for image in images], top_k=2)
    assert len(results) == 3
    for result, label in zip(results, labels):
        probabilities = [probability for _, probability in result]
        assert len(result) == 2
        assert probabilities == sorted(probabilities, reverse=True)
        assert sum(probabilities) <= 1.0 + 1e-6
        assert result[0][0] == CLASSES[label]


def test_predict_caps_top_k(loaded):
    from tl_core.predict import predict_images

    result = predict_images(loaded, [noise_image()], top_k=10)[0]
    assert len(result) == 3
    assert sum(probability for _, probability in result) == pytest.approx(1.0, abs=1e-5)


def test_predict_from_paths_resizes(loaded, tmp_path):
    from tl_core.predict import predict_images

    images, labels, _ = patch_images(1, seed=13)
    path = tmp_path / "big.png"
    Image.fromarray(images[0]).resize((128, 128), Image.Resampling.NEAREST).save(path)
    assert predict_images(loaded, [path], top_k=1)[0][0][0] == CLASSES[labels[0]]


def test_non_image_upload_names_file(loaded):
    from tl_core.predict import decode_upload

    with pytest.raises(TLError, match="notes.txt"):
        decode_upload("notes.txt", b"this is not an image")


def test_truncated_upload_rejected(loaded, tmp_path):
    from tl_core.predict import decode_upload

    path = tmp_path / "photo.png"
    Image.fromarray(noise_image()).save(path)
    data = path.read_bytes()
    with pytest.raises(TLError, match="photo.png"):
        decode_upload("photo.png", data[: len(data) // 2])


def test_bad_path_names_file(loaded, tmp_path):
    from tl_core.predict import predict_images

    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(TLError, match="empty.jpg"):
        predict_images(loaded, [path])


def test_missing_model_rejected(tmp_path):
    from tl_core.predict import load_run_model

    with pytest.raises(TLError, match="model.keras is missing"):
        load_run_model(tmp_path)


def test_label_count_mismatch(run_folder, tmp_path):
    import shutil

    from tl_core.predict import load_run_model

    folder = tmp_path / "run"
    shutil.copytree(run_folder, folder)
    (folder / "labels.json").write_text(json.dumps(["a", "b"]))
    with pytest.raises(TLError, match="2 classes"):
        load_run_model(folder)
