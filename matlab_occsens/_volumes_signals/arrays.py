"""``.npy`` files read without running code, and the checks every volume and signal reader shares.

A ``.npy`` file may hold pickled Python objects, which run code when unpickled; ``np.load`` with
``allow_pickle=False`` refuses them, and the header (shape and dtype, parsed as a literal) is read
first, so a file that announces gigabytes is refused before anything is allocated.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from .._utils.checks import shown_bytes

__all__ = ["SINGLE_MAX", "check_dtype", "check_finite", "check_size", "existing_file", "read_npy", "shown_shape"]

#: The largest magnitude single precision holds; the network computes in single, as MATLAB's does.
SINGLE_MAX = float(np.finfo(np.float32).max)


def shown_shape(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) or "scalar"


def existing_file(filename: str | os.PathLike) -> Path:
    """``filename`` as a path, refused unless it names a file."""
    path = Path(filename)
    if not path.is_file():
        raise ValueError(f"{str(path)!r} does not exist or is not a file.")
    return path


def check_size(path: Path, what: str, shape: tuple[int, ...], itemsize: int, limit: float | None) -> None:
    """Refuse, before reading the values, a ``what`` that would take more than ``limit`` bytes."""
    size = math.prod(shape) * itemsize
    if limit is not None and size > limit:
        raise ValueError(
            f"{str(path)!r} holds a {shown_shape(shape)} {what}, {shown_bytes(size)} once read, more than the "
            f"limit of {shown_bytes(limit)}; raise it with --max-image-bytes (MaxImageBytes) to read it."
        )


def check_dtype(path: Path, dtype: np.dtype) -> None:
    """Refuse values that are not real numbers: objects (which would run code), text, complex, records."""
    if dtype.hasobject:
        raise ValueError(
            f"{str(path)!r} holds Python objects (dtype {dtype}), which are never unpickled: a file must not "
            f"run code. Save the numbers themselves: np.save(path, np.asarray(X, dtype=np.float32))."
        )
    if dtype.kind not in "biuf":
        raise ValueError(
            f"{str(path)!r} holds {dtype} values; expected real numbers (integers, floating point or logical)."
        )


def check_finite(path: Path, values: np.ndarray) -> None:
    """Refuse NaN, Inf and values beyond single precision (the network computes in single), naming
    the first such element (0-based)."""
    if values.dtype.kind != "f":
        return
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(values) <= SINGLE_MAX)  # NaN compares False
    if bad.any():
        where = tuple(int(index) for index in np.argwhere(bad)[0])
        raise ValueError(
            f"{str(path)!r} contains NaN, Inf or values beyond single precision ({bad.sum()} of {values.size}; "
            f"the first at index {where}, 0-based); replace them before explaining it."
        )


def _npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype a ``.npy`` file announces, read without reading its values."""
    try:
        with open(path, "rb") as file:
            version = np.lib.format.read_magic(file)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(file)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(file)
            else:
                raise ValueError(f".npy format version {version[0]}.{version[1]}, which holds named records")
    except OSError as error:
        raise ValueError(f"cannot read {str(path)!r} ({error.strerror or error}).") from error
    except ValueError as error:
        raise ValueError(f"{str(path)!r} is not a .npy file numpy's np.save writes ({error}).") from error
    return tuple(shape), dtype


def read_npy(path: Path, what: str, limit: float | None) -> np.ndarray:
    """The array of a ``.npy`` file, checked: real numbers, at most ``limit`` bytes, all finite.

    Nothing in the file runs: object arrays are refused from the header, and ``np.load`` never
    unpickles (``allow_pickle=False``).
    """
    shape, dtype = _npy_header(path)
    check_dtype(path, dtype)
    check_size(path, what, shape, dtype.itemsize, limit)
    try:
        values = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise ValueError(f"{str(path)!r} is not a whole .npy file ({error}).") from error
    check_finite(path, values)
    return values
