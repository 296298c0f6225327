"""Tiny thumbnails of downloaded images with the standard library only: 8-bit PNG and binary PPM."""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass

THUMB_SIDE = 16
MAX_PIXELS = 4_000_000  # decoding is pure Python: bigger images get no thumbnail
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PPM_HEADER = re.compile(rb"P6\s+(\d+)\s+(\d+)\s+(\d+)\s")
_PNG_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # grey, RGB, grey+alpha, RGBA (8 bits each)


@dataclass(frozen=True)
class Thumbnail:
    """A tiny greyscale picture (longest side THUMB_SIDE, nearest-pixel) and the image's mean colour."""

    width: int
    height: int
    grey: bytes  # width * height bytes, row by row
    mean_rgb: tuple[int, int, int]


def looks_like_image(head: bytes) -> bool:
    return head.startswith(PNG_SIGNATURE) or _PPM_HEADER.match(head) is not None


def thumbnail(data: bytes) -> Thumbnail | None:
    """Decode what the stdlib can (8-bit non-interlaced PNG, or binary PPM) and shrink it; else None."""
    try:
        decoded = _decode_png(data) if data.startswith(PNG_SIGNATURE) else _decode_ppm(data)
    except (ValueError, IndexError, struct.error, zlib.error):
        return None
    if decoded is None:
        return None
    width, height, channels, rows = decoded
    scale = min(1.0, THUMB_SIDE / max(width, height))
    tw, th = max(1, round(width * scale)), max(1, round(height * scale))
    grey = bytearray()
    for y in range(th):
        row = rows[y * height // th]
        for x in range(tw):
            at = x * width // tw * channels
            red, green, blue = row[at : at + 3] if channels >= 3 else row[at : at + 1] * 3
            grey.append((299 * red + 587 * green + 114 * blue) // 1000)
    pixels = width * height
    sums = [sum(sum(row[c::channels]) for row in rows) for c in range(3 if channels >= 3 else 1)]
    mean = [round(total / pixels) for total in sums] * (1 if channels >= 3 else 3)
    return Thumbnail(tw, th, bytes(grey), (mean[0], mean[1], mean[2]))


def _decode_ppm(data: bytes) -> tuple[int, int, int, list[bytes]] | None:
    match = _PPM_HEADER.match(data)
    if match is None or int(match.group(3)) != 255:
        return None
    width, height = int(match.group(1)), int(match.group(2))
    stride, start = width * 3, match.end()
    if not 0 < width * height <= MAX_PIXELS or len(data) < start + stride * height:
        return None
    return width, height, 3, [data[start + y * stride : start + (y + 1) * stride] for y in range(height)]


def _decode_png(data: bytes) -> tuple[int, int, int, list[bytes]] | None:
    pos, header, idat = 8, None, []
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body, pos = data[pos + 8 : pos + 8 + length], pos + 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        return None
    width, height, depth, colour, _, _, interlace = header
    channels = _PNG_CHANNELS.get(colour)
    if depth != 8 or channels is None or interlace or not 0 < width * height <= MAX_PIXELS:
        return None
    raw, stride = zlib.decompress(b"".join(idat)), width * channels
    if len(raw) < height * (stride + 1):
        return None
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        row = bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter(raw[start], row, previous, channels)
        rows.append(bytes(row))
        previous = row
    return width, height, channels, rows


def _unfilter(kind: int, row: bytearray, up: bytearray, bpp: int) -> None:
    """Undo one PNG row filter in place (None, Sub, Up, Average, Paeth)."""
    if kind == 0:
        return
    if kind > 4:
        raise ValueError(f"unknown PNG filter {kind}")
    for i in range(len(row)):
        left = row[i - bpp] if i >= bpp else 0
        above, corner = up[i], (up[i - bpp] if i >= bpp else 0)
        if kind == 1:
            add = left
        elif kind == 2:
            add = above
        elif kind == 3:
            add = (left + above) // 2
        else:
            p = left + above - corner
            pa, pb, pc = abs(p - left), abs(p - above), abs(p - corner)
            add = left if pa <= pb and pa <= pc else above if pb <= pc else corner
        row[i] = (row[i] + add) & 255
