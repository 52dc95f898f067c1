"""``imread`` and ``imwrite`` as MATLAB scripts use them: RGB order, H×W×C, the file's own class.

OpenCV reads and writes the files (it is already a dependency), but its conventions differ from
MATLAB's: colour comes as BGR(A) and a grayscale PNG with transparency comes back as four
channels. Both are turned into MATLAB's answer here, so a ported ``imread`` line gives the array
MATLAB gives.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .._utils.checks import shown_bytes
from ._header import read_header

__all__ = ["MAX_IMAGE_BYTES", "byte_limit", "encode_image", "imread", "imwrite"]

MAX_IMAGE_BYTES = 2**28
"""The largest decoded image ``imread`` accepts by default: 256 MiB (e.g. 9000×9000 RGB at 8 bits).

A compressed file can be tiny and still decode to gigabytes; the size is read from the file's
header and checked before decoding. Raise it with ``imread(..., MaxImageBytes=...)`` (``None``:
no limit), or ``--max-image-bytes`` on the command line."""

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_GRAY_ALPHA = 4  # IHDR colour type of a grayscale image with an alpha channel


def _png_color_type(data: bytes) -> int | None:
    """The IHDR colour type of a PNG file's bytes (None for other formats)."""
    if data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR" or len(data) < 26:
        return None
    return data[25]


def _read_bytes(filename: Any, function: str) -> tuple[Path, bytes]:
    if not isinstance(filename, (str, os.PathLike)):
        raise TypeError(f"{function}: filename must be a path (str or os.PathLike); got {type(filename).__name__}.")
    path = Path(filename)
    if not path.is_file():
        raise ValueError(f"{function}: file {str(path)!r} does not exist or is not a file.")
    try:
        return path, path.read_bytes()
    except OSError as error:
        raise ValueError(f"{function}: cannot read {str(path)!r} ({error.strerror or error}).") from error


def byte_limit(value: Any, function: str) -> float:
    """MaxImageBytes as a number of bytes (``inf`` for None)."""
    if value is None:
        return math.inf
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{function}: MaxImageBytes must be a positive number of bytes or None; got {value!r}.")
    if not value > 0:
        raise ValueError(f"{function}: MaxImageBytes must be a positive number of bytes or None; got {value!r}.")
    return float(value)


def _check_decoded_size(path: Path, data: bytes, limit: float, function: str) -> None:
    """Refuse, before decoding, a file whose header announces more than ``limit`` bytes."""
    if not data or math.isinf(limit):
        return
    header = read_header(data)
    if header is None:
        if cv2.haveImageReader(str(path)):
            raise ValueError(
                f"{function}: cannot read the image size of {str(path)!r} from its header (read for PNG, JPEG, "
                f"BMP, TIFF, WebP and PNM files), so its decoded size cannot be checked; pass MaxImageBytes=None "
                f"to decode it without the check."
            )
        return  # not an image at all: OpenCV's own refusal follows
    if header.decoded_bytes > limit:
        raise ValueError(
            f"{function}: {str(path)!r} is a {header.width}x{header.height} {header.format} image with "
            f"{header.channels} channel(s), {shown_bytes(header.decoded_bytes)} once decoded, more than "
            f"MaxImageBytes ({shown_bytes(limit)}); raise MaxImageBytes to read it."
        )


def imread(filename: str | os.PathLike, *, nargout: int = 1, MaxImageBytes: float | None = MAX_IMAGE_BYTES) -> Any:
    """Read an image file as MATLAB's ``imread`` does: RGB, H×W×3, in the file's own class.

    MATLAB equivalent: ``[A, map, alpha] = imread(filename)`` (MATLAB); ``MaxImageBytes`` is an
    extension.

    Parameters
    ----------
    filename : str or os.PathLike
        Any format OpenCV decodes (PNG, JPEG, TIFF, BMP, WebP, ...). The bytes are read by
        Python, so non-ASCII paths work on every platform.
    nargout : {1, 2, 3}, default 1
        How many of MATLAB's outputs ``[A, map, alpha]`` to return, as the MATLAB Engine for
        Python spells it. ``imread(f)`` returns ``A`` alone and drops any alpha channel.
    MaxImageBytes : float or None, default :data:`MAX_IMAGE_BYTES` (256 MiB)
        Extension: the largest decoded array accepted, checked from the file's header before
        decoding (so a small, highly compressed file cannot ask for gigabytes); ``None`` turns
        the check off. Files whose header is not read here (formats other than PNG, JPEG,
        BMP, TIFF, WebP and PNM) are decoded only with ``None``.

    Returns
    -------
    A : ndarray
        H×W×3 RGB, or H×W for a grayscale file; uint8 for 8-bit files, uint16 for 16-bit
        files (never rescaled), float32 for floating-point TIFFs.
    map : ndarray, only with ``nargout >= 2``
        Always an empty 0×3 float64 array: OpenCV expands indexed (palette) images to RGB,
        whereas MATLAB would return the indices and the palette.
    alpha : ndarray, only with ``nargout == 3``
        H×W transparency in the class of ``A``, or an empty 0×0 array when the file has none.

    Raises
    ------
    ValueError
        The file does not exist, cannot be read, is not an image OpenCV can decode, or would
        decode to more than ``MaxImageBytes``.

    Notes
    -----
    Like MATLAB, the EXIF orientation tag is ignored (the pixels are returned as stored), and a
    multi-page file gives its first page. A grayscale PNG with transparency gives H×W, as in
    MATLAB; in other formats OpenCV reports such images as four channels, returned as RGB.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skimage import data
    >>> from matlab_occsens import imread, imwrite
    >>> path = Path(tempfile.mkdtemp()) / "coffee.png"
    >>> imwrite(data.coffee(), path)
    >>> X = imread(path)
    >>> X.shape, X.dtype
    ((400, 600, 3), dtype('uint8'))
    >>> A, cmap, alpha = imread(path, nargout=3)  # MATLAB's [A, map, alpha] = imread(...)
    >>> cmap.shape, alpha.shape
    ((0, 3), (0, 0))
    """
    if nargout not in (1, 2, 3):
        raise ValueError(f"imread: nargout must be 1, 2 or 3 (outputs A, map, alpha); got {nargout!r}.")
    limit = byte_limit(MaxImageBytes, "imread")
    path, data = _read_bytes(filename, "imread")
    _check_decoded_size(path, data, limit, "imread")
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if data else None
    if decoded is None:
        raise ValueError(f"imread: {str(path)!r} is not an image file OpenCV can decode.")
    alpha = np.empty((0, 0), decoded.dtype)
    if decoded.ndim == 3 and decoded.shape[2] == 4:
        alpha = np.ascontiguousarray(decoded[:, :, 3])
        decoded = decoded[:, :, :3]
    if decoded.ndim == 3 and decoded.shape[2] == 1:
        decoded = decoded[:, :, 0]
    if decoded.ndim == 2:
        image = decoded
    elif _png_color_type(data) == _PNG_GRAY_ALPHA:
        image = np.ascontiguousarray(decoded[:, :, 0])
    else:
        image = np.ascontiguousarray(decoded[:, :, ::-1])
    outputs = (image, np.empty((0, 3)), alpha)
    return image if nargout == 1 else outputs[:nargout]


def _as_storable(A: np.ndarray) -> np.ndarray:
    """A as uint8/uint16, MATLAB's ``imwrite`` rule: logical -> 0/255, floating [0,1] -> uint8."""
    if A.dtype == np.bool_:
        return A.astype(np.uint8) * np.uint8(255)
    if A.dtype.kind == "f":
        if not np.all(np.isfinite(A)):
            raise ValueError("imwrite: A contains NaN or Inf.")
        return np.floor(np.clip(A, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if A.dtype in (np.uint8, np.uint16):
        return A
    raise TypeError(f"imwrite: A must be uint8, uint16, logical or floating point in [0, 1]; got {A.dtype}.")


def encode_image(A: Any, filename: str | os.PathLike, function: str = "imwrite") -> bytes:
    """The bytes ``imwrite(A, filename)`` writes, for callers that write files their own way."""
    array = np.asarray(A)
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (1, 3))) or 0 in array.shape:
        raise ValueError(f"{function}: A must be H×W or H×W×3 (RGB); got shape {array.shape}.")
    if not isinstance(filename, (str, os.PathLike)):
        raise TypeError(f"{function}: filename must be a path (str or os.PathLike); got {type(filename).__name__}.")
    path = Path(filename)
    stored = _as_storable(array)
    if stored.ndim == 3 and stored.shape[2] == 3:
        stored = stored[:, :, ::-1]
    try:
        ok, encoded = cv2.imencode(path.suffix, np.ascontiguousarray(stored))
    except cv2.error:
        ok = False
    if not ok:
        kind = path.suffix or "a file without extension"
        raise ValueError(f"{function}: cannot write {stored.dtype} images as {kind!r} ({str(path)!r}).")
    return encoded.tobytes()


def imwrite(A: Any, filename: str | os.PathLike) -> None:
    """Write an image file as MATLAB's ``imwrite(A, filename)``; the format follows the extension.

    MATLAB equivalent: ``imwrite(A, filename)`` (MATLAB), for grayscale and RGB images.

    Parameters
    ----------
    A : array_like
        H×W (grayscale) or H×W×3 (RGB). uint8 and uint16 are written as they are (16 bits
        where the format allows it, e.g. PNG and TIFF); logical as 0/255; floating point is
        taken to lie in [0, 1] and written as uint8, as MATLAB does.
    filename : str or os.PathLike
        Target path; its extension (``.png``, ``.jpg``, ``.tif``, ``.bmp``, ...) picks the format.

    Raises
    ------
    ValueError
        Wrong shape, an extension OpenCV cannot encode, or the file cannot be written.

    Examples
    --------
    Floating point is taken to lie in [0, 1], as in MATLAB:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from matlab_occsens import imread, imwrite
    >>> path = Path(tempfile.mkdtemp()) / "ramp.png"
    >>> imwrite(np.linspace(0, 1, 6).reshape(2, 3), path)
    >>> imread(path)
    array([[  0,  51, 102],
           [153, 204, 255]], dtype=uint8)
    """
    encoded = encode_image(A, filename)
    path = Path(filename)
    try:
        path.write_bytes(encoded)
    except OSError as error:
        raise ValueError(f"imwrite: cannot write {str(path)!r} ({error.strerror or error}).") from error
