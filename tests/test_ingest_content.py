"""Image content inside an uploaded zip: pixel modes, orientation, damaged files, bombs, odd sizes."""

import numpy as np
from PIL import Image

from fixtures_data import (
    class_tree,
    encode,
    exif_with_orientation,
    find_notice,
    notice_codes,
    png16_bytes,
    png_bytes,
    png_with_huge_header,
    skipped_codes,
    two_colour_image,
    write_zip,
)
from tl_core.datasets import ingest, load_split
from tl_core.images import decode_image


def ingest_zip(tmp_path, files, **kwargs):
    archive = write_zip(tmp_path / "data.zip", files)
    return ingest(archive, tmp_path / "work", **kwargs)


def mode_images():
    """Return {file name: (bytes, expected grey level)} for one 4x4 image per Pillow mode.

    Opaque images hold mid grey (128 in 8 bits, 32896 in 16 bits, 0.5 as
    float), so a 16-bit value that is clipped instead of scaled shows as 255.
    Transparent images must come out white.
    """
    palette = Image.new("P", (4, 4), 1)
    palette.putpalette([0, 0, 0, 128, 128, 128] + [0] * 762)
    transparent_palette = palette.copy()
    transparent_palette.paste(0, (0, 0, 4, 4))

    sixteen = np.full((4, 4), 32896, dtype=np.uint16)
    return {
        "bilevel.png": (encode(Image.new("1", (4, 4), 1), "PNG"), 255),
        "grey.png": (encode(Image.new("L", (4, 4), 128), "PNG"), 128),
        "grey_alpha.png": (encode(Image.new("LA", (4, 4), (128, 0)), "PNG"), 255),
        "palette.png": (encode(palette, "PNG"), 128),
        "palette_transparent.png": (encode(transparent_palette, "PNG", transparency=0), 255),
        "rgba.png": (encode(Image.new("RGBA", (4, 4), (128, 128, 128, 0)), "PNG"), 255),
        "cmyk.tif": (encode(Image.new("CMYK", (4, 4), (0, 0, 0, 127)), "TIFF"), 128),
        "sixteen.png": (png16_bytes(sixteen), 128),
        "sixteen.tif": (encode(Image.fromarray(sixteen), "TIFF"), 128),
        "int32.tif": (encode(Image.fromarray(sixteen.astype(np.int32), mode="I"), "TIFF"), 128),
        "float.tif": (encode(Image.fromarray(np.full((4, 4), 0.5, dtype=np.float32)), "TIFF"), 128),
    }


def test_every_mode_accepted(tmp_path):
    modes = mode_images()
    files = {f"modes/{name}": data for name, (data, _) in modes.items()}
    files.update(class_tree({"other": 3}))
    dataset = ingest_zip(tmp_path, files)

    assert dataset.report.skipped == []
    assert sum(dataset.report.counts["modes"].values()) == len(modes)
    for name, (_, grey) in modes.items():
        array = np.asarray(decode_image(dataset.root / "modes" / name))
        assert array.dtype == np.uint8, name
        assert array.shape == (4, 4, 3), name
        assert array.min() == grey, name
        assert array.max() == grey, name


def test_loaded_arrays_upright(tmp_path):
    # Orientation 6 stores a portrait photo on its side; the arrays that
    # training reads must have the red (left) half on top.
    files = {
        f"portraits/{width}.png": encode(two_colour_image((width, 8)), "PNG", exif=exif_with_orientation(6))
        for width in (16, 20, 24)
    }
    files.update(class_tree({"other": 3}))
    archive = write_zip(tmp_path / "data.zip", files)
    dataset = ingest(archive, tmp_path / "work")

    for split in ("train", "val", "test"):
        images, labels = load_split(dataset, split, 8)
        for image, label in zip(images, labels):
            if dataset.classes[label] != "portraits":
                continue
            assert image[1, 4].tolist() == [255, 0, 0], split
            assert image[6, 4].tolist() == [0, 0, 255], split


def test_damaged_images_skipped(tmp_path):
    files = class_tree({"cats": 3, "dogs": 3})
    jpeg = encode(Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)), "JPEG")
    png = png_bytes(5, size=(64, 64))
    files["cats/cut.jpg"] = jpeg[: len(jpeg) // 2]
    files["cats/cut.png"] = png[: len(png) // 2]
    files["dogs/empty.png"] = b""
    files["dogs/header_only.jpg"] = jpeg[:20]
    dataset = ingest_zip(tmp_path, files)

    assert skipped_codes(dataset) == {
        "cats/cut.jpg": "truncated",
        "cats/cut.png": "truncated",
        "dogs/empty.png": "empty_file",
        "dogs/header_only.jpg": "corrupt",
    }
    assert dataset.report.total() == 6


def test_bomb_image_skipped(tmp_path):
    files = class_tree({"cats": 3, "dogs": 3})
    files["cats/bomb.png"] = png_with_huge_header(30000, 30000)
    files["dogs/big.png"] = png_with_huge_header(8000, 6000)
    dataset = ingest_zip(tmp_path, files)

    assert skipped_codes(dataset) == {"cats/bomb.png": "too_large", "dogs/big.png": "too_large"}
    reasons = {item.path: item.reason for item in dataset.report.skipped}
    assert "8000x6000" in reasons["dogs/big.png"]


def test_one_pixel_images_accepted(tmp_path):
    files = class_tree({"cats": 3, "dogs": 3})
    files["cats/dot.png"] = encode(Image.new("RGB", (1, 1), (10, 20, 30)), "PNG")
    files["dogs/dot.gif"] = encode(Image.new("RGB", (1, 1), (200, 0, 0)), "GIF")
    dataset = ingest_zip(tmp_path, files)

    assert dataset.report.skipped == []
    assert dataset.report.total() == 8
    assert find_notice(dataset, "small_images").params == {
        "count": 2,
        "paths": ["cats/dot.png", "dogs/dot.gif"],
        "min_side": 8,
    }


def test_extreme_aspect_ratio_accepted(tmp_path):
    files = class_tree({"cats": 3, "dogs": 3})
    files["cats/banner.png"] = encode(Image.new("RGB", (1100, 100), (10, 20, 30)), "PNG")
    files["dogs/tall.png"] = encode(Image.new("RGB", (12, 400), (10, 20, 30)), "PNG")
    files["dogs/panorama.png"] = encode(Image.new("RGB", (900, 100), (10, 20, 30)), "PNG")
    dataset = ingest_zip(tmp_path, files)

    assert dataset.report.total() == 9
    params = find_notice(dataset, "extreme_aspect_ratio").params
    assert params["paths"] == ["cats/banner.png", "dogs/tall.png"]
    assert "small_images" not in notice_codes(dataset)


def test_eight_pixel_images_no_notice(tmp_path):
    dataset = ingest_zip(tmp_path, class_tree({"cats": 10, "dogs": 10}))
    assert dataset.report.warnings == []
