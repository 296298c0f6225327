"""Thumbnails of downloaded images (JPEG, PNG of any depth, GIF, WebP, BMP, TIFF, PPM…), made with Pillow."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, ImageStat

PREVIEW_SIDE = 240  # longest side of a thumbnail, in pixels
MAX_PIXELS = 50_000_000  # larger images get no thumbnail (decoding one would take seconds and gigabytes)
QUALITY = 85


@dataclass(frozen=True)
class Thumbnail:
    """A downscaled picture (longest side at most PREVIEW_SIDE) as JPEG bytes, and its mean colour."""

    width: int
    height: int
    jpeg: bytes
    mean_rgb: tuple[int, int, int]


def image_suffixes() -> frozenset[str]:
    """File suffixes (".png", ".jpg", …) of the image formats the thumbnailer reads."""
    return frozenset(suffix.lower() for suffix, kind in Image.registered_extensions().items()
                     if kind in Image.OPEN)


def load_formats() -> None:
    """Import Pillow's image plugins now (~70 ms), not while the first file is timed."""
    Image.init()


def make_thumbnail(path: str) -> Thumbnail | None:
    """A thumbnail of the image file at `path` (turned as its EXIF says); None when it is not an image
    Pillow reads, or is too large to decode."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if image.width * image.height > MAX_PIXELS:
                    return None
                image.draft("RGB", (PREVIEW_SIDE, PREVIEW_SIDE))  # JPEG: decode at a fraction of its size
                picture = ImageOps.exif_transpose(image)
                picture.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
                rgb = _on_white(picture)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        return None  # not an image, a damaged one, or one too large
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=QUALITY)
    red, green, blue = (round(value) for value in ImageStat.Stat(rgb).mean)
    return Thumbnail(rgb.width, rgb.height, out.getvalue(), (red, green, blue))


def _on_white(picture: Image.Image) -> Image.Image:
    """8-bit RGB, transparent parts on white (16-bit and float images scaled down to 8 bits)."""
    if picture.mode in ("I;16", "I;16B", "I;16L", "I"):
        picture = picture.point(lambda value: value / 256).convert("L")
    elif picture.mode == "F":
        picture = picture.convert("L")
    if picture.mode in ("RGBA", "LA", "PA") or (picture.mode == "P" and "transparency" in picture.info):
        rgba = picture.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return picture.convert("RGB")
