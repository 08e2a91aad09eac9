"""Benchmark images generated from the bundled sample, so any count and size works offline."""

import zipfile
from pathlib import Path

import numpy as np

from tl_core.errors import ConfigError


def load_sample(sample: Path) -> dict[str, list]:
    """Return {class name: [RGB PIL images]} from a zip whose images sit in class folders."""
    from tl_core.images import decode_image, is_image_name

    by_class: dict[str, list] = {}
    with zipfile.ZipFile(sample) as archive:
        for name in sorted(archive.namelist()):
            parts = Path(name).parts
            if name.endswith("/") or len(parts) < 2 or not is_image_name(name):
                continue
            with archive.open(name) as file:
                by_class.setdefault(parts[-2], []).append(decode_image(file))
    if len(by_class) < 2:
        raise ConfigError(f"{sample} must hold images in at least 2 class folders; found {len(by_class)}.")
    return by_class


def generate_images(sample: Path, folder: Path, count: int, size: int, seed: int = 0) -> Path:
    """Write `count` PNG images of `size` px under `folder`, one sub-folder per class.

    Classes take turns, so the classes differ by at most one image. Each
    image is a sample image resized, then randomly scaled (90-110%), shifted
    (up to 1/12 of the size) and rotated (up to 10 degrees). Half are
    flipped, and all are brightened or darkened (85-115%) and noised
    (standard deviation 4 grey levels). Even a count above the sample's
    size therefore gives distinct images.
    """
    from PIL import Image

    by_class = load_sample(sample)
    classes = sorted(by_class)
    rng = np.random.default_rng(seed)
    for name in classes:
        (folder / name).mkdir(parents=True, exist_ok=True)

    for index in range(count):
        name = classes[index % len(classes)]
        source = by_class[name][(index // len(classes)) % len(by_class[name])]

        scaled = round(size * rng.uniform(0.9, 1.1))
        shift = rng.integers(-size // 12, size // 12 + 1, size=2)
        corner = ((size - scaled) // 2 + int(shift[0]), (size - scaled) // 2 + int(shift[1]))
        canvas = Image.new("RGB", (size, size))
        canvas.paste(source.resize((scaled, scaled), Image.Resampling.BICUBIC), corner)
        canvas = canvas.rotate(rng.uniform(-10, 10), resample=Image.Resampling.BILINEAR)
        if rng.random() < 0.5:
            canvas = canvas.transpose(Image.Transpose.FLIP_LEFT_RIGHT)

        pixels = np.asarray(canvas, dtype=np.float32) * rng.uniform(0.85, 1.15)
        pixels += rng.normal(0, 4, pixels.shape)
        pixels = np.clip(pixels, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / name / f"{name}_{index:05d}.png", compress_level=1)
    return folder
