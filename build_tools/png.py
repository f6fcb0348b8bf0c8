"""The integration logo, ``MicrosoftGraphUser_image.png``: drawn and encoded with the standard library only.

XSOAR shows a 120x50 PNG (demisto-sdk IM111 checks the size, IM101 the 10 kB limit). The picture is simple on
purpose: two user silhouettes on a rounded Entra-blue badge, on a transparent background. Regenerate it with
``python -m build_tools image``; the output is byte-for-byte reproducible.
"""
import math
import struct
import zlib
from pathlib import Path

WIDTH, HEIGHT = 120, 50
BLUE = (0, 120, 212)        # Microsoft Entra blue
LIGHT = (80, 170, 240)
WHITE = (255, 255, 255)
Pixel = tuple[int, int, int, int]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(rows: list[list[Pixel]]) -> bytes:
    """An 8-bit RGBA PNG of ``rows`` (top to bottom, each a list of (r, g, b, a))."""
    height, width = len(rows), len(rows[0])
    raw = b''.join(b'\x00' + bytes(channel for pixel in row for channel in pixel) for row in rows)
    header = struct.pack('>IIBBBBB', width, height, 8, 6, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + _chunk(b'IHDR', header) + _chunk(b'IDAT', zlib.compress(raw, 9))
            + _chunk(b'IEND', b''))


def _coverage(distance: float) -> float:
    """Anti-aliasing: 1 inside a shape (negative signed distance), 0 outside, linear across one pixel."""
    return max(0.0, min(1.0, 0.5 - distance))


def _rounded_rect(x: float, y: float, left: float, top: float, right: float, bottom: float, radius: float) -> float:
    dx = max(left + radius - x, 0.0, x - (right - radius))
    dy = max(top + radius - y, 0.0, y - (bottom - radius))
    inside = min(max(left + radius - x, x - (right - radius), top + radius - y, y - (bottom - radius)), 0.0)
    return math.hypot(dx, dy) - radius + inside


def _person(x: float, y: float, cx: float, top: float, scale: float) -> float:
    """Signed distance to a head-and-shoulders silhouette centred on ``cx``."""
    head = math.hypot(x - cx, y - (top + 7 * scale)) - 6 * scale
    body_cy = top + 27 * scale
    body = math.hypot((x - cx) / 1.35, y - body_cy) - 10 * scale
    body = max(body, (top + 17 * scale) - y, y - (top + 27 * scale))  # only the upper half of the ellipse
    return min(head, body)


def draw_logo() -> list[list[Pixel]]:
    rows: list[list[Pixel]] = []
    for py in range(HEIGHT):
        row: list[Pixel] = []
        for px in range(WIDTH):
            x, y = px + 0.5, py + 0.5
            badge = _coverage(_rounded_rect(x, y, 8, 3, 112, 47, 10))
            back = _coverage(_person(x, y, 72, 9, 1.05))
            front = _coverage(_person(x, y, 52, 12, 1.2))
            color: tuple[float, ...] = BLUE
            color = tuple(c + (t - c) * back for c, t in zip(color, LIGHT, strict=True))
            color = tuple(c + (w - c) * front for c, w in zip(color, WHITE, strict=True))
            row.append((round(color[0]), round(color[1]), round(color[2]), round(255 * badge)))
        rows.append(row)
    return rows


def write_logo(path: Path) -> None:
    path.write_bytes(encode_png(draw_logo()))
