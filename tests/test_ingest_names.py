"""File names and formats: every image extension, lying extensions, HEIC, non-ASCII and legacy names."""

import unicodedata

import numpy as np
import pytest
from PIL import Image

from fixtures_data import (
    class_tree,
    encode,
    png_bytes,
    skipped_codes,
    write_legacy_name_zip,
    write_unicode_path_zip,
    write_zip,
)
from tl_core import images
from tl_core.datasets import ingest
from tl_core.images import HEIF_SUPPORTED, decode_image

RED = (220, 20, 20)
BLUE = (20, 20, 220)


def ingest_zip(tmp_path, files, **kwargs):
    archive = write_zip(tmp_path / "data.zip", files)
    return ingest(archive, tmp_path / "work", **kwargs)


def solid(colour, size=(12, 12)):
    return Image.new("RGB", size, colour)


def every_format(colour):
    """Return {file name: bytes} of one solid-colour image per accepted extension."""
    files = {
        "a.jpg": encode(solid(colour), "JPEG", quality=95),
        "b.JPG": encode(solid(colour), "JPEG", quality=95),
        "c.Jpeg": encode(solid(colour), "JPEG", quality=95),
        "d.jfif": encode(solid(colour), "JPEG", quality=95),
        "e.png": encode(solid(colour), "PNG"),
        "f.webp": encode(solid(colour), "WEBP", lossless=True),
        "g.bmp": encode(solid(colour), "BMP"),
        "h.tif": encode(solid(colour), "TIFF"),
        "i.TIFF": encode(solid(colour), "TIFF", compression="tiff_lzw"),
        "j.gif": encode(solid(colour), "GIF", save_all=True, append_images=[solid((0, 255, 0))], duration=50),
    }
    if HEIF_SUPPORTED:
        files["k.heic"] = encode(solid(colour), "HEIF", quality=-1)
        files["l.HEIF"] = encode(solid(colour), "HEIF", quality=-1)
    if images.AVIF_SUPPORTED:
        files["m.avif"] = encode(solid(colour), "AVIF", quality=100)
    return files


def centre_pixel(dataset, path):
    array = np.asarray(decode_image(dataset.root / path)).astype(int)
    return array[array.shape[0] // 2, array.shape[1] // 2]


def test_every_format_accepted(tmp_path):
    files = {f"red/{name}": data for name, data in every_format(RED).items()}
    files.update({f"blue/{name}": data for name, data in every_format(BLUE).items()})
    dataset = ingest_zip(tmp_path, files)

    assert dataset.report.skipped == []
    assert dataset.report.total() == len(files)
    colours = {"red": RED, "blue": BLUE}
    for pairs in dataset.items.values():
        for path, label in pairs:
            expected = colours[dataset.classes[label]]
            assert np.abs(centre_pixel(dataset, path) - expected).max() < 12, path


def test_animated_gif_first_frame(tmp_path):
    frames = [solid(RED), solid(BLUE), solid(BLUE)]
    files = class_tree({"cats": 3, "dogs": 3})
    files["cats/anim.gif"] = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    dataset = ingest_zip(tmp_path, files)

    assert skipped_codes(dataset) == {}
    assert np.abs(centre_pixel(dataset, "cats/anim.gif") - RED).max() < 12


def test_png_named_jpg_accepted(tmp_path):
    files = class_tree({"cats": 3, "dogs": 3})
    files["cats/liar.jpg"] = encode(solid(RED), "PNG")
    dataset = ingest_zip(tmp_path, files)

    assert skipped_codes(dataset) == {}
    assert sum(dataset.report.counts["cats"].values()) == 4
    assert np.abs(centre_pixel(dataset, "cats/liar.jpg") - RED).max() == 0


def test_lying_extensions_rejected(tmp_path):
    files = class_tree({"cats": 3, "dogs": 3})
    files["cats/page.jpg"] = encode(solid(RED), "PDF")
    files["cats/vector.png"] = encode(solid(RED), "EPS")
    files["dogs/notes.jpeg"] = "these are my notes".encode()
    dataset = ingest_zip(tmp_path, files)

    assert skipped_codes(dataset) == {
        "cats/page.jpg": "not_image",
        "cats/vector.png": "unsupported_format",
        "dogs/notes.jpeg": "not_image",
    }
    reasons = {item.path: item.reason for item in dataset.report.skipped}
    assert "EPS" in reasons["cats/vector.png"]


def test_image_named_txt_skipped(tmp_path):
    files = class_tree({"cats": 3, "dogs": 3})
    files["cats/photo.txt"] = png_bytes(50)
    dataset = ingest_zip(tmp_path, files)
    assert skipped_codes(dataset) == {"cats/photo.txt": "unsupported_type"}


@pytest.mark.skipif(not HEIF_SUPPORTED, reason="pillow-heif is not installed")
def test_heic_named_jpg_accepted(tmp_path):
    files = class_tree({"cats": 3, "dogs": 3})
    files["cats/IMG_0001.jpg"] = encode(solid(RED), "HEIF", quality=-1)
    dataset = ingest_zip(tmp_path, files)

    assert skipped_codes(dataset) == {}
    assert np.abs(centre_pixel(dataset, "cats/IMG_0001.jpg") - RED).max() < 12


@pytest.mark.skipif(not HEIF_SUPPORTED, reason="pillow-heif is not installed (needed to write the fixture)")
def test_heic_without_plugin_skipped(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "IMAGE_EXTENSIONS", images.IMAGE_EXTENSIONS - images.HEIF_EXTENSIONS)
    files = class_tree({"cats": 3, "dogs": 3})
    files["cats/IMG_0001.HEIC"] = encode(solid(RED), "HEIF", quality=-1)
    dataset = ingest_zip(tmp_path, files)

    assert skipped_codes(dataset) == {"cats/IMG_0001.HEIC": "unsupported_type"}
    assert "Settings > Camera > Formats > Most Compatible" in dataset.report.skipped[0].reason


def test_non_ascii_class_names(tmp_path):
    names = ["café", "猫", "🐱 cats", "Ñandú"]
    dataset = ingest_zip(tmp_path, class_tree({name: 3 for name in names}))

    assert dataset.classes == sorted(names)
    assert dataset.report.total() == 12
    assert dataset.report.skipped == []


def test_non_ascii_file_names(tmp_path):
    files = {
        "cats/照片 1.png": png_bytes(1),
        "cats/été.png": png_bytes(2),
        "dogs/🐶.png": png_bytes(3),
        "dogs/Ōkami.png": png_bytes(4),
    }
    dataset = ingest_zip(tmp_path, files)
    paths = sorted(path for pairs in dataset.items.values() for path, _ in pairs)
    assert paths == sorted(files)


def test_decomposed_class_name_normalised(tmp_path):
    decomposed = unicodedata.normalize("NFD", "Ñandú")
    dataset = ingest_zip(tmp_path, class_tree({decomposed: 3, "emu": 3}))
    assert dataset.classes == ["emu", "Ñandú"]


def test_cp437_class_names(tmp_path):
    # An old Western Windows zip tool: names in the OEM code page, no UTF-8 flag.
    files = class_tree({"caf\u00e9s": 3, "th\u00e9s": 3})
    archive = write_legacy_name_zip(tmp_path / "old.zip", files, "cp437")
    dataset = ingest(archive, tmp_path / "work")
    assert dataset.classes == ["cafés", "thés"]


def test_unicode_path_field_class_names(tmp_path):
    files = class_tree({"ねこ": 3, "いぬ": 3})
    archive = write_unicode_path_zip(tmp_path / "jp.zip", files, "cp932")
    dataset = ingest(archive, tmp_path / "work")
    assert dataset.classes == sorted(["ねこ", "いぬ"])
