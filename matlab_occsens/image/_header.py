"""The size of an image file's decoded array, read from its header without decoding it.

OpenCV decodes a file whole before it says how large it is, so a small, highly compressed file
(a 30000×30000 PNG of zeros is under 1 MB) can ask for gigabytes. :func:`read_header` reads the
few header fields of the common formats (PNG, JPEG, BMP, TIFF, WebP, PNM) that give the width,
the height, the channels and the bytes per sample, so that ``imread`` can refuse such a file first.

The estimate is of the array OpenCV returns with ``IMREAD_UNCHANGED``, rounded up where OpenCV's
answer depends on more than the header (a palette PNG may come back with an alpha channel).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

__all__ = ["ImageHeader", "read_header"]


@dataclass(frozen=True)
class ImageHeader:
    """What a header says about the decoded image."""

    format: str
    height: int
    width: int
    channels: int
    bytes_per_sample: int

    @property
    def decoded_bytes(self) -> int:
        """Bytes of the decoded H×W×C array."""
        return self.height * self.width * self.channels * self.bytes_per_sample


def read_header(data: bytes) -> ImageHeader | None:
    """The header of ``data`` (a whole file's bytes); None for a format or header not understood."""
    for reader in (_png, _jpeg, _bmp, _tiff, _webp, _pnm):
        try:
            header = reader(data)
        except (struct.error, IndexError, KeyError, ValueError):  # a truncated or damaged header
            return None
        if header is not None:
            return header if header.height > 0 and header.width > 0 else None
    return None


# PNG colour type -> channels OpenCV returns (a palette may gain alpha from a tRNS chunk; gray with
# alpha comes back as four channels, see imageio).
_PNG_CHANNELS = {0: 1, 2: 3, 3: 4, 4: 4, 6: 4}


def _png(data: bytes) -> ImageHeader | None:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    return ImageHeader("PNG", height, width, _PNG_CHANNELS[colour], 2 if depth == 16 else 1)


# Start-of-frame markers (baseline, progressive, lossless, arithmetic); C4, C8 and CC are not frames.
_JPEG_FRAMES = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg(data: bytes) -> ImageHeader | None:
    if data[:2] != b"\xff\xd8":
        return None
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            raise ValueError("not a marker")
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            position += 2
            continue
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if marker in _JPEG_FRAMES:
            precision, height, width, components = struct.unpack(">BHHB", data[position + 4 : position + 10])
            return ImageHeader("JPEG", height, width, components, 2 if precision > 8 else 1)
        if marker == 0xDA:  # scan data before any frame header: damaged
            return None
        position += 2 + length
    return None


def _bmp(data: bytes) -> ImageHeader | None:
    if data[:2] != b"BM":
        return None
    (info_size,) = struct.unpack("<I", data[14:18])
    if info_size == 12:  # OS/2 BITMAPCOREHEADER
        width, height, _, bits = struct.unpack("<HHHH", data[18:26])
    else:
        width, height, _, bits = struct.unpack("<iiHH", data[18:30])
    return ImageHeader("BMP", abs(height), width, 4 if bits == 32 else 3, 1)


_TIFF_SIZES = {1: 1, 3: 2, 4: 4, 16: 8}  # BYTE, SHORT, LONG, LONG8


def _tiff(data: bytes) -> ImageHeader | None:
    if data[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    order = "<" if data[:2] == b"II" else ">"
    (offset,) = struct.unpack(order + "I", data[4:8])
    (count,) = struct.unpack(order + "H", data[offset : offset + 2])
    fields: dict[int, int] = {}
    for entry in range(offset + 2, offset + 2 + 12 * count, 12):
        tag, kind, values = struct.unpack(order + "HHI", data[entry : entry + 8])
        if tag not in (256, 257, 258, 277) or kind not in _TIFF_SIZES:
            continue
        size = _TIFF_SIZES[kind]
        where = entry + 8 if size * values <= 4 else struct.unpack(order + "I", data[entry + 8 : entry + 12])[0]
        code = {1: "B", 2: "H", 4: "I", 8: "Q"}[size]
        (fields[tag],) = struct.unpack(order + code, data[where : where + size])
    if 256 not in fields or 257 not in fields:
        return None
    bits = fields.get(258, 1)
    return ImageHeader("TIFF", fields[257], fields[256], fields.get(277, 1), max(1, (bits + 7) // 8))


def _webp(data: bytes) -> ImageHeader | None:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return ImageHeader("WebP", height & 0x3FFF, width & 0x3FFF, 3, 1)
    if chunk == b"VP8L":
        (bits,) = struct.unpack("<I", data[21:25])
        return ImageHeader("WebP", ((bits >> 14) & 0x3FFF) + 1, (bits & 0x3FFF) + 1, 4, 1)
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return ImageHeader("WebP", height, width, 4, 1)
    return None


_PNM = re.compile(rb"P([1-6])((?:\s+|#[^\n]*\n)+)(\d+)((?:\s+|#[^\n]*\n)+)(\d+)")
_PNM_MAX = re.compile(rb"(?:\s+|#[^\n]*\n)+(\d+)")


def _pnm(data: bytes) -> ImageHeader | None:
    match = _PNM.match(data[:1024])
    if match is None:
        return None
    kind, width, height = int(match.group(1)), int(match.group(3)), int(match.group(5))
    depth = 1
    if kind not in (1, 4):  # bitmaps have no maximum value
        maximum = _PNM_MAX.match(data[: match.end() + 64], match.end())
        if maximum is None:
            return None
        depth = 2 if int(maximum.group(1)) > 255 else 1
    return ImageHeader("PNM", height, width, 3 if kind in (3, 6) else 1, depth)
