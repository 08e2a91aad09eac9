import io

import numpy as np
import pytest
from PIL import Image

from fixtures_data import encode, png_bytes, png_with_huge_header
from tl_core.errors import ImageDecodeError
from tl_core.images import decode_image, is_image_name, load_resized


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def pixels(image):
    return np.asarray(image)


def decode_error(path, **kwargs):
    with pytest.raises(ImageDecodeError) as caught:
        decode_image(path, **kwargs)
    return caught.value


def test_rgb_png_unchanged(tmp_path):
    data = png_bytes(seed=3)
    image = decode_image(write(tmp_path, "a.png", data))
    assert image.mode == "RGB"
    assert np.array_equal(pixels(image), pixels(Image.open(io.BytesIO(data))))


def test_binary_stream_source():
    image = decode_image(io.BytesIO(png_bytes()))
    assert image.size == (8, 8)


def test_sixteen_bit_white_is_255(tmp_path):
    white = Image.fromarray(np.full((4, 4), 65535, dtype=np.uint16))
    path = write(tmp_path, "white16.png", encode(white, "PNG"))
    with Image.open(path) as stored:
        assert stored.mode == "I;16"
    assert pixels(decode_image(path)).min() == 255


def test_sixteen_bit_scaled_not_clipped(tmp_path):
    ramp = np.array([[0, 257 * 64, 257 * 128, 65535]], dtype=np.uint16)
    path = write(tmp_path, "ramp16.png", encode(Image.fromarray(ramp), "PNG"))
    assert pixels(decode_image(path))[0, :, 0].tolist() == [0, 64, 128, 255]


def test_int32_image_scaled(tmp_path):
    values = np.array([[0, 65535]], dtype=np.int32)
    path = write(tmp_path, "int32.tif", encode(Image.fromarray(values, mode="I"), "TIFF"))
    assert pixels(decode_image(path))[0, :, 0].tolist() == [0, 255]


def test_float_unit_range_scaled(tmp_path):
    values = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    path = write(tmp_path, "float.tif", encode(Image.fromarray(values), "TIFF"))
    assert pixels(decode_image(path))[0, :, 0].tolist() == [0, 128, 255]


def test_float_wide_range_stretched(tmp_path):
    values = np.array([[-1000.0, 0.0, 1000.0]], dtype=np.float32)
    path = write(tmp_path, "wide.tif", encode(Image.fromarray(values), "TIFF"))
    assert pixels(decode_image(path))[0, :, 0].tolist() == [0, 128, 255]


def test_palette_transparency_on_white(tmp_path):
    image = Image.new("P", (2, 1))
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.putpixel((0, 0), 0)
    image.putpixel((1, 0), 1)
    path = write(tmp_path, "p.png", encode(image, "PNG", transparency=0))
    result = pixels(decode_image(path))
    assert result[0, 0].tolist() == [255, 255, 255]
    assert result[0, 1].tolist() == [255, 0, 0]


def test_rgba_composited_on_white(tmp_path):
    rgba = np.array([[[255, 0, 0, 0], [255, 0, 0, 255], [0, 0, 0, 128]]], dtype=np.uint8)
    path = write(tmp_path, "rgba.png", encode(Image.fromarray(rgba), "PNG"))
    result = pixels(decode_image(path))
    assert result[0, 0].tolist() == [255, 255, 255]
    assert result[0, 1].tolist() == [255, 0, 0]
    assert result[0, 2].tolist() == [127, 127, 127]


def test_la_composited_on_white(tmp_path):
    la = Image.fromarray(np.array([[[0, 0], [0, 255]]], dtype=np.uint8), mode="LA")
    path = write(tmp_path, "la.png", encode(la, "PNG"))
    assert pixels(decode_image(path))[0, :, 0].tolist() == [255, 0]


def test_grayscale_and_bilevel_to_rgb(tmp_path):
    for mode in ("L", "1"):
        path = write(tmp_path, f"{mode}.png", encode(Image.new(mode, (3, 2), 1 if mode == "1" else 200), "PNG"))
        image = decode_image(path)
        assert image.mode == "RGB", mode
        assert pixels(image).shape == (2, 3, 3), mode


def test_cmyk_converted(tmp_path):
    image = Image.new("CMYK", (2, 1))
    image.putpixel((0, 0), (0, 0, 0, 0))
    image.putpixel((1, 0), (0, 255, 255, 0))
    path = write(tmp_path, "cmyk.tif", encode(image, "TIFF"))
    result = pixels(decode_image(path))
    assert result[0, 0].tolist() == [255, 255, 255]
    assert result[0, 1].tolist() == [255, 0, 0]


def test_exif_orientation_6_rotates(tmp_path):
    # 4 wide, 2 tall: left half red, right half blue. Orientation 6 means
    # "rotate 90 degrees clockwise to display", which puts the left half on top.
    source = np.zeros((2, 4, 3), dtype=np.uint8)
    source[:, :2] = (255, 0, 0)
    source[:, 2:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = write(tmp_path, "rotated.png", encode(Image.fromarray(source), "PNG", exif=exif))

    result = pixels(decode_image(path))

    assert result.shape == (4, 2, 3)
    assert result[0, 0].tolist() == [255, 0, 0]
    assert result[3, 1].tolist() == [0, 0, 255]


def test_gif_first_frame(tmp_path):
    red = Image.new("RGB", (4, 4), (255, 0, 0))
    blue = Image.new("RGB", (4, 4), (0, 0, 255))
    path = write(tmp_path, "anim.gif", encode(red, "GIF", save_all=True, append_images=[blue], duration=100))
    with Image.open(path) as stored:
        assert stored.n_frames == 2
    assert pixels(decode_image(path))[0, 0].tolist() == [255, 0, 0]


def test_over_max_pixels_rejected(tmp_path):
    path = write(tmp_path, "big.png", png_bytes(size=(100, 100)))
    error = decode_error(path, max_pixels=5000)
    assert error.code == "too_large"
    assert "100x100" in error.reason


def test_pillow_bomb_error_rejected(tmp_path):
    # 20000 x 10000 is over twice Pillow's MAX_IMAGE_PIXELS, so Image.open raises.
    path = write(tmp_path, "bomb.png", png_with_huge_header(20000, 10000))
    error = decode_error(path, max_pixels=10**12)
    assert error.code == "too_large"


def test_truncated_png_rejected(tmp_path):
    data = png_bytes(size=(64, 64))
    path = write(tmp_path, "cut.png", data[: len(data) // 2])
    error = decode_error(path)
    assert error.code == "truncated"
    assert "cut.png" in str(error)


def test_zero_byte_rejected(tmp_path):
    assert decode_error(write(tmp_path, "empty.jpg", b"")).code == "empty_file"


def test_text_file_rejected(tmp_path):
    assert decode_error(write(tmp_path, "notes.png", b"hello, not an image")).code == "not_image"


def test_missing_file_rejected(tmp_path):
    assert decode_error(tmp_path / "nope.png").code == "missing"


def test_load_resized_squashes(tmp_path):
    path = write(tmp_path, "wide.png", png_bytes(size=(40, 20)))
    array = load_resized(path, 16)
    assert array.shape == (16, 16, 3)
    assert array.dtype == np.uint8


def test_load_resized_matches_bilinear(tmp_path):
    path = write(tmp_path, "a.png", png_bytes(size=(30, 30)))
    with Image.open(path) as stored:
        expected = stored.convert("RGB").resize((12, 12), Image.Resampling.BILINEAR)
    assert np.array_equal(load_resized(path, 12), np.asarray(expected))


def test_image_name_case_insensitive():
    assert is_image_name("A.JPG")
    assert is_image_name("b.Png")
    assert is_image_name("c.JFIF")
    assert not is_image_name("d.txt")
    assert not is_image_name("jpg")
