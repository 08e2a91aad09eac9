"""Decoding one image file to 8-bit RGB.

Every image the project reads (dataset ingestion, training input, uploads on
the Predict page) goes through `decode_image`, so that all of them get the
same handling of EXIF orientation, transparency, animation, high bit depths
and decompression bombs.
"""

from __future__ import annotations

import io
import logging
import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError, features

from tl_core.errors import ImageDecodeError

logger = logging.getLogger(__name__)

# pillow-heif (in requirements.txt) adds HEIC/HEIF decoding to Pillow. Without
# it, HEIC files are rejected with a message that explains how to convert them.
try:
    import pillow_heif
except ImportError:
    pillow_heif = None
else:
    pillow_heif.register_heif_opener()

HEIF_SUPPORTED = pillow_heif is not None
# Pillow decodes AVIF when it is built with libavif, as the pinned 13.0 wheels are.
AVIF_SUPPORTED = bool(features.check("avif"))

# 40 megapixels is above common camera output (a 24 MP photo is 6000x4000)
# and decodes to 120 MB of RGB, a bound on memory per image during ingestion.
MAX_PIXELS_DEFAULT = 40_000_000

HEIF_EXTENSIONS = frozenset({".heic", ".heif"})
HEIC_UNSUPPORTED_REASON = (
    "HEIC/HEIF photo, which cannot be decoded because the pillow-heif package is not installed; "
    "install it (pip install -r requirements.txt) or convert the photos to JPEG "
    "(on an iPhone: Settings > Camera > Formats > Most Compatible)"
)
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jfif", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
    | (HEIF_EXTENSIONS if HEIF_SUPPORTED else set())
    | ({".avif"} if AVIF_SUPPORTED else set())
)

# Pillow format ids that decode_image accepts, whatever the file extension.
# "JPEG" covers multi-picture (MPO) JPEGs from phones, which it opens too.
# Other formats that Pillow can open (EPS, PSD, ICO, ...) are rejected, so a
# file named .jpg never reaches a decoder such as EPS, which runs Ghostscript.
ACCEPTED_FORMATS = tuple(
    ["JPEG", "PNG", "BMP", "GIF", "WEBP", "TIFF"]
    + (["HEIF"] if HEIF_SUPPORTED else [])
    + (["AVIF"] if AVIF_SUPPORTED else [])
)

# Codes of ImageDecodeError, with the short English label the UI can show.
DECODE_ERROR_CODES = {
    "missing": "file not found",
    "empty_file": "file is empty (0 bytes)",
    "not_image": "content is not an image",
    "unsupported_format": "image format that cannot be used (HEIC without pillow-heif, EPS, PSD, ...)",
    "truncated": "file is truncated",
    "corrupt": "damaged image data",
    "too_large": "too many pixels (possible decompression bomb)",
    "unsupported_mode": "pixel mode that cannot be converted to RGB",
}

# Pillow's plugins raise these on malformed files, besides its own errors.
_DECODE_FAILURES = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error)
_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "PA"}
_WHITE = (255, 255, 255, 255)


def is_image_name(name: str | Path) -> bool:
    """Return whether a file name has one of IMAGE_EXTENSIONS, in any letter case."""
    return Path(name).suffix.lower() in IMAGE_EXTENSIONS


def decode_image(source: Path | str | BinaryIO, max_pixels: int = MAX_PIXELS_DEFAULT) -> Image.Image:
    """Decode an image file to an 8-bit RGB image.

    - The EXIF orientation is applied, so a portrait photo comes out upright.
    - Animated GIF, WebP and PNG files give their first frame.
    - Transparent pixels (RGBA, LA, PA, and P or L with a transparency key)
      are composited onto white.
    - 1, L, P, CMYK and YCbCr images are converted by Pillow. CMYK uses
      Pillow's plain conversion, not the embedded ICC profile.
    - 16-bit, 32-bit integer and float images are scaled into 0..255, not
      clipped (see `_scale_to_8bit`).

    Args:
        source: a file path, or a binary file object such as an upload.
        max_pixels: images with more pixels (width x height) are rejected
            before their pixel data is decoded.

    The format is detected from the content, not the file name, and must be
    one of ACCEPTED_FORMATS: a PNG named .jpg decodes, a PDF named .jpg does
    not.

    Raises:
        ImageDecodeError: the file is missing, empty, not an image, in a
            format outside ACCEPTED_FORMATS, truncated or damaged, over
            `max_pixels`, or in an unsupported mode. The exception carries
            `code` (a key of DECODE_ERROR_CODES), `reason` (a short text
            without the file name) and `path`.
    """
    name, stream = _open_source(source)
    try:
        with Image.open(stream, formats=ACCEPTED_FORMATS) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise _decode_error(
                    name,
                    "too_large",
                    f"{width}x{height} pixels is over the limit of {max_pixels} pixels "
                    "(possible decompression bomb); resize the image",
                )
            image.load()
            upright = _apply_exif_orientation(image, name)
            return _to_rgb(upright, name)
    except ImageDecodeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise _decode_error(name, "too_large", f"too many pixels (possible decompression bomb): {error}") from error
    except UnidentifiedImageError as error:
        raise _unidentified_error(name, stream) from error
    except _DECODE_FAILURES as error:
        if isinstance(error, EOFError) or "truncated" in str(error).lower():
            raise _decode_error(name, "truncated", "file is truncated (cannot decode)") from error
        raise _decode_error(name, "corrupt", f"damaged image data ({error})") from error
    finally:
        stream.close()


def load_resized(path: Path | str, size: int, max_pixels: int = MAX_PIXELS_DEFAULT) -> np.ndarray:
    """Decode an image and resize it to size x size, ignoring the aspect ratio.

    Returns a uint8 array of shape (size, size, 3), resized with Pillow's
    BILINEAR filter.
    """
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive int, received {size!r}")
    image = decode_image(path, max_pixels=max_pixels)
    resized = image.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.uint8)


def _open_source(source: Path | str | BinaryIO) -> tuple[str, BinaryIO]:
    if not isinstance(source, (str, Path)):
        data = source.read()
        name = str(getattr(source, "name", "uploaded image"))
        if not data:
            raise _decode_error(name, "empty_file", "file is empty (0 bytes)")
        return name, io.BytesIO(data)

    path = Path(source)
    try:
        size = path.stat().st_size
        stream = path.open("rb")
    except FileNotFoundError as error:
        raise _decode_error(str(path), "missing", "file not found") from error
    except OSError as error:
        raise _decode_error(str(path), "missing", f"cannot open the file ({error.strerror})") from error
    if size == 0:
        stream.close()
        raise _decode_error(str(path), "empty_file", "file is empty (0 bytes)")
    return str(path), stream


def _decode_error(name: str, code: str, reason: str) -> ImageDecodeError:
    return ImageDecodeError(f"Cannot use image {name}: {reason}.", code=code, reason=reason, path=name)


# ISO base media file brands of HEIF still images (ISO/IEC 23008-12).
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
# Signatures of accepted formats, to tell a damaged header from other content.
_ACCEPTED_MAGIC = {
    b"\xff\xd8\xff": "JPEG",
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"GIF87a": "GIF",
    b"GIF89a": "GIF",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
}


def _unidentified_error(name: str, stream: BinaryIO) -> ImageDecodeError:
    """Build the error for content outside ACCEPTED_FORMATS, naming its real format when known."""
    stream.seek(0)
    head = stream.read(16)
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS and "HEIF" not in ACCEPTED_FORMATS:
        return _decode_error(name, "unsupported_format", HEIC_UNSUPPORTED_REASON)
    for magic, format_name in _ACCEPTED_MAGIC.items():
        if head.startswith(magic):
            return _decode_error(
                name, "corrupt", f"starts like a {format_name} file but its header is damaged or cut off"
            )

    stream.seek(0)
    try:
        # Only the header is parsed to name the format; the pixels are never
        # decoded, so no external program (such as Ghostscript for EPS) runs.
        with Image.open(stream) as image:
            real_format = image.format
    except (UnidentifiedImageError, Image.DecompressionBombError, *_DECODE_FAILURES):
        return _decode_error(name, "not_image", "not a recognised image format")
    return _decode_error(
        name,
        "unsupported_format",
        f"content is in {real_format} format, which is not accepted; save it as JPEG or PNG",
    )



def _apply_exif_orientation(image: Image.Image, name: str) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except _DECODE_FAILURES as error:
        # A damaged EXIF block does not make the pixels unusable.
        logger.warning("Ignoring unreadable EXIF orientation in %s: %s", name, error)
        return image.copy()


def _to_rgb(image: Image.Image, name: str) -> Image.Image:
    if image.mode in _SIXTEEN_BIT_MODES or image.mode in ("I", "F"):
        return Image.fromarray(_scale_to_8bit(image)).convert("RGB")

    try:
        if image.mode in _ALPHA_MODES or "transparency" in image.info:
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, _WHITE)
            return Image.alpha_composite(background, rgba).convert("RGB")
        if image.mode == "RGB":
            return image.copy()
        return image.convert("RGB")
    except ValueError as error:
        raise _decode_error(name, "unsupported_mode", f"pixel mode {image.mode} cannot be converted to RGB") from error


def _scale_to_8bit(image: Image.Image) -> np.ndarray:
    """Map a 16-bit, 32-bit integer or float image linearly onto 0..255.

    16-bit images, and 32-bit integer images whose values fit in 0..65535,
    use the full 16-bit range (65535 becomes 255), so that images of one
    dataset keep their relative brightness. Float images in 0..1 use that
    range. Anything else is stretched from its own minimum to its maximum,
    and a constant image of that kind becomes black.
    """
    values = np.nan_to_num(np.asarray(image).astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(values.min()), float(values.max())

    if image.mode in _SIXTEEN_BIT_MODES or (image.mode == "I" and low >= 0 and high <= 65535):
        low, high = 0.0, 65535.0
    elif image.mode == "F" and low >= 0 and high <= 1:
        low, high = 0.0, 1.0
    # NOTE: 8-bit data stored in a 32-bit integer container (values 0..255)
    # comes out dark, because it is read as 16-bit data.

    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    scaled = (values - low) * (255.0 / (high - low))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
