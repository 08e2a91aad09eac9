import io
import pickle

import numpy as np
import pytest
from PIL import Image

from fixtures_data import (
    encode,
    exif_with_orientation,
    png16_bytes,
    png_bytes,
    png_with_huge_header,
    two_colour_image,
)
from tl_core import images
from tl_core.errors import ImageDecodeError
from tl_core.images import DECODE_ERROR_CODES, HEIF_SUPPORTED, decode_image, is_image_name, load_resized

# Colours of a 3 wide, 2 tall image whose six pixels all differ.
SIX_COLOURS = np.array(
    [[[255, 0, 0], [0, 255, 0], [0, 0, 255]], [[255, 255, 0], [0, 255, 255], [255, 0, 255]]], dtype=np.uint8
)
# Where each EXIF orientation's stored pixels end up when displayed (the
# EXIF 2.3 definitions of tag 0x0112, written with numpy, not Pillow).
UPRIGHT = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1, :],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, k=-1),
    7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1],
    8: lambda a: np.rot90(a, k=1),
}


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


@pytest.mark.parametrize("orientation", sorted(UPRIGHT))
def test_exif_orientation_applied(tmp_path, orientation):
    exif = exif_with_orientation(orientation)
    path = write(tmp_path, "o.png", encode(Image.fromarray(SIX_COLOURS), "PNG", exif=exif))
    expected = UPRIGHT[orientation](SIX_COLOURS)
    assert np.array_equal(pixels(decode_image(path)), expected)


def test_jpeg_orientation_6_rotates(tmp_path):
    exif = exif_with_orientation(6)
    path = write(tmp_path, "phone.jpg", encode(two_colour_image((16, 8)), "JPEG", quality=95, exif=exif))
    result = pixels(decode_image(path)).astype(int)
    assert result.shape == (16, 8, 3)
    assert np.abs(result[2, 4] - [255, 0, 0]).max() < 16
    assert np.abs(result[13, 4] - [0, 0, 255]).max() < 16


def test_invalid_orientation_ignored(tmp_path):
    path = write(tmp_path, "o.png", encode(Image.fromarray(SIX_COLOURS), "PNG", exif=exif_with_orientation(9)))
    assert np.array_equal(pixels(decode_image(path)), SIX_COLOURS)


def test_bilevel_pixels(tmp_path):
    image = Image.new("1", (2, 1))
    image.putpixel((1, 0), 1)
    path = write(tmp_path, "bw.png", encode(image, "PNG"))
    assert pixels(decode_image(path))[0].tolist() == [[0, 0, 0], [255, 255, 255]]


def test_grayscale_pixels(tmp_path):
    path = write(tmp_path, "g.png", encode(Image.new("L", (2, 1), 200), "PNG"))
    assert pixels(decode_image(path))[0].tolist() == [[200, 200, 200], [200, 200, 200]]


def test_palette_without_transparency(tmp_path):
    image = Image.new("P", (2, 1))
    image.putpalette([0, 128, 0, 10, 20, 30] + [0] * 762)
    image.putpixel((1, 0), 1)
    path = write(tmp_path, "p.png", encode(image, "PNG"))
    assert pixels(decode_image(path))[0].tolist() == [[0, 128, 0], [10, 20, 30]]


def test_gif_transparency_on_white(tmp_path):
    image = Image.new("P", (2, 1))
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.putpixel((1, 0), 1)
    path = write(tmp_path, "t.gif", encode(image, "GIF", transparency=0))
    assert pixels(decode_image(path))[0].tolist() == [[255, 255, 255], [255, 0, 0]]


def test_sixteen_bit_big_endian_tiff(tmp_path):
    values = np.array([[0, 257 * 100, 65535]], dtype=">u2")
    image = Image.frombytes("I;16B", (3, 1), values.tobytes())
    path = write(tmp_path, "be.tif", encode(image, "TIFF"))
    with Image.open(path) as stored:
        assert stored.mode == "I;16B"
    assert pixels(decode_image(path))[0, :, 0].tolist() == [0, 100, 255]


def test_sixteen_bit_rgb_png(tmp_path):
    values = np.zeros((1, 2, 3), dtype=np.uint16)
    values[0, 0] = (257 * 64, 0, 65535)
    values[0, 1] = 65535
    path = write(tmp_path, "rgb48.png", png16_bytes(values))
    assert pixels(decode_image(path))[0].tolist() == [[64, 0, 255], [255, 255, 255]]


def test_sixteen_bit_rgba_png(tmp_path):
    values = np.zeros((1, 2, 4), dtype=np.uint16)
    values[0, 0] = (65535, 0, 0, 0)
    values[0, 1] = (0, 0, 65535, 65535)
    path = write(tmp_path, "rgba64.png", png16_bytes(values))
    assert pixels(decode_image(path))[0].tolist() == [[255, 255, 255], [0, 0, 255]]


def test_sixteen_bit_grey_alpha_png(tmp_path):
    values = np.array([[[65535, 0], [0, 65535]]], dtype=np.uint16)
    path = write(tmp_path, "la32.png", png16_bytes(values))
    assert pixels(decode_image(path))[0].tolist() == [[255, 255, 255], [0, 0, 0]]


def test_cmyk_jpeg_converted(tmp_path):
    path = write(tmp_path, "print.jpg", encode(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "JPEG", quality=100))
    with Image.open(path) as stored:
        assert stored.mode == "CMYK"
    result = pixels(decode_image(path)).astype(int)
    assert np.abs(result[4, 4] - [255, 0, 0]).max() < 8


def test_rgba_tiff_and_webp_on_white(tmp_path):
    rgba = np.array([[[255, 0, 0, 0], [0, 0, 255, 255]]], dtype=np.uint8)
    for name, data in (("a.tif", encode(Image.fromarray(rgba), "TIFF")),
                       ("a.webp", encode(Image.fromarray(rgba), "WEBP", lossless=True))):
        result = pixels(decode_image(write(tmp_path, name, data)))
        assert result[0].tolist() == [[255, 255, 255], [0, 0, 255]], name


@pytest.mark.parametrize(
    ("name", "image_format", "options"),
    [
        ("a.bmp", "BMP", {}),
        ("a.tif", "TIFF", {}),
        ("a.tiff", "TIFF", {"compression": "tiff_lzw"}),
        ("a.webp", "WEBP", {"lossless": True}),
        ("a.png", "PNG", {}),
    ],
)
def test_lossless_formats_exact(tmp_path, name, image_format, options):
    path = write(tmp_path, name, encode(Image.fromarray(SIX_COLOURS), image_format, **options))
    assert np.array_equal(pixels(decode_image(path)), SIX_COLOURS)


@pytest.mark.parametrize("name", ["a.jpg", "a.jfif", "a.JPEG"])
def test_jpeg_names_decode(tmp_path, name):
    path = write(tmp_path, name, encode(Image.new("RGB", (8, 8), (200, 30, 30)), "JPEG", quality=95))
    assert np.abs(pixels(decode_image(path))[4, 4].astype(int) - [200, 30, 30]).max() < 8


def test_gif_palette_exact(tmp_path):
    path = write(tmp_path, "a.gif", encode(Image.fromarray(SIX_COLOURS), "GIF"))
    assert np.array_equal(pixels(decode_image(path)), SIX_COLOURS)


def test_png_named_jpg_decodes(tmp_path):
    path = write(tmp_path, "liar.jpg", encode(Image.fromarray(SIX_COLOURS), "PNG"))
    assert np.array_equal(pixels(decode_image(path)), SIX_COLOURS)


def test_jpeg_named_png_decodes(tmp_path):
    path = write(tmp_path, "liar.png", encode(Image.new("RGB", (8, 8), (30, 170, 40)), "JPEG", quality=95))
    assert np.abs(pixels(decode_image(path))[4, 4].astype(int) - [30, 170, 40]).max() < 8


def test_eps_named_jpg_rejected(tmp_path):
    # EPS decoding would run Ghostscript; the content is refused by format.
    path = write(tmp_path, "liar.jpg", encode(Image.new("RGB", (4, 4)), "EPS"))
    error = decode_error(path)
    assert error.code == "unsupported_format"
    assert "EPS" in error.reason


def test_pdf_named_jpg_rejected(tmp_path):
    path = write(tmp_path, "scan.jpg", encode(Image.new("RGB", (4, 4)), "PDF"))
    assert decode_error(path).code == "not_image"


def test_truncated_jpeg_rejected(tmp_path):
    data = encode(Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)), "JPEG")
    path = write(tmp_path, "cut.jpg", data[: len(data) // 2])
    assert decode_error(path).code == "truncated"


def test_one_pixel_image(tmp_path):
    path = write(tmp_path, "dot.png", encode(Image.new("RGB", (1, 1), (10, 20, 30)), "PNG"))
    assert pixels(decode_image(path)).tolist() == [[[10, 20, 30]]]
    assert load_resized(path, 8).reshape(-1, 3).tolist() == [[10, 20, 30]] * 64


def test_extreme_aspect_ratio_resized(tmp_path):
    path = write(tmp_path, "strip.png", encode(Image.new("RGB", (2000, 2), (10, 20, 30)), "PNG"))
    assert decode_image(path).size == (2000, 2)
    array = load_resized(path, 16)
    assert array.shape == (16, 16, 3)
    assert array.reshape(-1, 3).tolist() == [[10, 20, 30]] * 256


def test_bomb_rejected_at_default_limit(tmp_path):
    # 8000 x 6000 = 48 megapixels, over the 40 MP default, under Pillow's own limit.
    path = write(tmp_path, "huge.png", png_with_huge_header(8000, 6000))
    error = decode_error(path)
    assert error.code == "too_large"
    assert "8000x6000" in error.reason


@pytest.mark.skipif(not HEIF_SUPPORTED, reason="pillow-heif is not installed")
def test_heic_decodes(tmp_path):
    path = write(tmp_path, "IMG_0001.HEIC", encode(two_colour_image((16, 8)), "HEIF", quality=-1))
    result = pixels(decode_image(path)).astype(int)
    assert result.shape == (8, 16, 3)
    assert np.abs(result[4, 2] - [255, 0, 0]).max() < 16
    assert np.abs(result[4, 13] - [0, 0, 255]).max() < 16


@pytest.mark.skipif(not HEIF_SUPPORTED, reason="pillow-heif is not installed")
def test_heic_orientation_6_rotates(tmp_path):
    exif = exif_with_orientation(6).tobytes()
    path = write(tmp_path, "portrait.heic", encode(two_colour_image((16, 8)), "HEIF", quality=-1, exif=exif))
    result = pixels(decode_image(path)).astype(int)
    assert result.shape == (16, 8, 3)
    assert np.abs(result[2, 4] - [255, 0, 0]).max() < 16
    assert np.abs(result[13, 4] - [0, 0, 255]).max() < 16


@pytest.mark.skipif(not HEIF_SUPPORTED, reason="pillow-heif is not installed")
def test_heic_named_jpg_decodes(tmp_path):
    path = write(tmp_path, "IMG_0002.jpg", encode(two_colour_image((16, 8)), "HEIF", quality=-1))
    assert decode_image(path).size == (16, 8)


@pytest.mark.skipif(not HEIF_SUPPORTED, reason="pillow-heif is not installed (needed to write the fixture)")
def test_heic_without_plugin_explained(tmp_path, monkeypatch):
    path = write(tmp_path, "IMG_0003.heic", encode(two_colour_image((16, 8)), "HEIF", quality=-1))
    monkeypatch.setattr(images, "ACCEPTED_FORMATS", tuple(f for f in images.ACCEPTED_FORMATS if f != "HEIF"))
    error = decode_error(path)
    assert error.code == "unsupported_format"
    assert "convert the photos to JPEG" in error.reason


@pytest.mark.skipif(not images.AVIF_SUPPORTED, reason="Pillow is built without AVIF")
def test_avif_decodes(tmp_path):
    path = write(tmp_path, "a.avif", encode(Image.new("RGB", (8, 8), (200, 30, 30)), "AVIF", quality=100))
    assert np.abs(pixels(decode_image(path))[4, 4].astype(int) - [200, 30, 30]).max() < 8


def test_new_extensions_accepted():
    assert is_image_name("IMG_0001.HEIC") == HEIF_SUPPORTED
    assert is_image_name("a.avif") == images.AVIF_SUPPORTED


def test_decode_error_attributes(tmp_path):
    error = decode_error(write(tmp_path, "empty.png", b""))
    assert error.code == "empty_file"
    assert error.reason == "file is empty (0 bytes)"
    assert error.path.endswith("empty.png")
    assert error.code in DECODE_ERROR_CODES


def test_decode_error_pickles(tmp_path):
    error = decode_error(write(tmp_path, "empty.png", b""))
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.code, copy.reason, copy.path, str(copy)) == (error.code, error.reason, error.path, str(error))
