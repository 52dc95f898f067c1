"""Validators for numeric arguments, with errors that name the MATLAB argument.

MATLAB passes numbers as doubles, so integral floats (``5.0``) count as integers here too;
booleans do not, since ``True`` as a size is almost always a mistake.

Every numeric argument of every public function goes through :func:`real_array` first, so a
value numpy cannot hold as a plain number array (a ragged list, an object array, text mixed
with bytes, an integer too large for 64 bits) is refused in one place, naming the argument,
instead of failing later inside numpy with a message that names nothing.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np

__all__ = [
    "real_array",
    "integer_vector",
    "integral_values",
    "finite_single",
    "fits_in_memory",
    "shown",
    "shown_bytes",
]


def shown(value: Any, limit: int = 8) -> str:
    """A short rendering of a user value for an error message."""
    if isinstance(value, np.ndarray):
        flat = value.ravel()
        body = ", ".join(repr(item.item() if isinstance(item, np.generic) else item) for item in flat[:limit])
        return f"array([{body}{', ...' if flat.size > limit else ''}], shape={value.shape})"
    try:
        text = " ".join(repr(value).split())  # one line: a masked array's repr has several
    except Exception:  # a user object whose repr fails must not hide the real error
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 80 else text[:77] + "..."


def shown_bytes(count: float) -> str:
    """A byte count for a message: "1.41 KiB", "256 MiB", "12 bytes"."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            return f"{count / scale:.3g} {unit}"
    return f"{int(count)} bytes"


def is_number(text: str) -> bool:
    """Whether ``text`` reads as a number (Python's ``float`` syntax: inf and nan included), as a
    command-line word or a CSV field must to be one."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _from_objects(array: np.ndarray) -> np.ndarray | None:
    """An object array of plain real numbers as int64 (when every one fits) or float64, else None.

    Python integers beyond 64 bits arrive as object arrays (``np.asarray(10**30)``); they are
    numbers, so they are kept as float64 (exact enough to be compared and reported).
    """
    items = array.ravel().tolist()
    if not all(isinstance(item, Real) and not isinstance(item, (bool, np.bool_)) for item in items):
        return None
    if all(isinstance(item, Integral) and -(2**63) <= int(item) < 2**63 for item in items):
        return np.array(items, dtype=np.int64).reshape(array.shape)
    return np.array([_as_float(item) for item in items], dtype=np.float64).reshape(array.shape)


def _as_float(number: Any) -> float:
    try:
        return float(number)
    except OverflowError:  # an integer beyond float64: as large as a number can be
        return math.inf if number > 0 else -math.inf


def real_array(value: Any, argument: str, function: str, expected: str, logical: bool = False) -> np.ndarray:
    """``value`` as an ndarray of real numbers (kind ``i``, ``u`` or ``f``; ``b`` too if ``logical``).

    Raises TypeError ``"{function}: {argument} must be {expected}; got ..."`` for anything else:
    text, complex numbers, booleans (unless ``logical``), ragged nested lists, object arrays of
    non-numbers, text mixed with bytes, masked arrays with masked entries. The result may share
    memory with ``value``: callers copy before changing it.
    """

    def refuse(what: str) -> TypeError:
        return TypeError(f"{function}: {argument} must be {expected}; got {what}.")

    if isinstance(value, (str, bytes)):
        raise refuse(shown(value))
    if np.ma.is_masked(value):  # np.asarray would quietly use the hidden values under the mask
        raise refuse(f"a masked array with masked entries: {shown(value)}")
    try:
        array = np.asarray(value)
    except ValueError:  # numpy >= 1.24: "inhomogeneous shape"
        raise refuse(f"a ragged nested sequence (rows of different lengths): {shown(value)}") from None
    except Exception:  # bytes that do not decode, objects numpy cannot hold, ...
        raise refuse(shown(value)) from None
    if array.dtype.kind == "O":
        converted = _from_objects(array)
        if converted is None:
            raise refuse(shown(value))
        array = converted
    allowed = "biuf" if logical else "iuf"
    if array.dtype.kind not in allowed:
        kind = "boolean" if array.dtype.kind == "b" else f"dtype {array.dtype}"
        raise refuse(f"{kind} {shown(value)}")
    return array


def integral_values(flat: np.ndarray, minimum: float) -> np.ndarray:
    """Mask of the entries of a real array that are finite integers >= ``minimum``."""
    if flat.dtype.kind in "iu":
        return flat >= minimum
    with np.errstate(invalid="ignore"):
        return np.isfinite(flat) & (flat == np.round(flat)) & (flat >= minimum)


def integer_vector(
    value: Any,
    argument: str,
    function: str,
    lengths: Sequence[int] = (1,),
    minimum: int = 1,
) -> tuple[int, ...]:
    """Integers of one of the allowed ``lengths``, each at least ``minimum``.

    Raises TypeError for non-numeric or boolean values and ValueError for a wrong length,
    a non-integral value or one below ``minimum``; the message names ``argument``. Values of
    any size come back as Python integers (``Stride=1e20`` is a valid, if large, stride).
    """
    allowed = " or ".join(str(length) for length in lengths)
    expected = f"{allowed} integer{'s' if lengths != (1,) else ''} >= {minimum}"
    flat = real_array(value, argument, function, expected).ravel()
    if flat.size not in lengths:
        raise ValueError(f"{function}: {argument} must be {expected}; got {flat.size} values: {shown(value)}.")
    if not np.all(integral_values(flat, minimum)):
        raise ValueError(f"{function}: {argument} must be {expected}; got {shown(value)}.")
    return tuple(int(item) for item in flat.tolist())


def finite_single(array: np.ndarray, function: str, argument: str) -> np.ndarray:
    """A new float32 copy of ``array``, refused if any value is NaN or Inf once in single precision.

    The network and the mask work in single precision, as MATLAB's do; values beyond float32's
    range (about 3.4e38) become Inf in that conversion, so they are refused with NaN and Inf.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        values = array.astype(np.float32)  # always a copy: the caller's array is never touched
    if not np.all(np.isfinite(values)):
        raise ValueError(
            f"{function}: {argument} must be finite in single precision; it contains NaN or Inf, or values "
            f"beyond ±3.4e38 that single precision makes Inf."
        )
    return values


def _physical_memory() -> float:
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows): no limit known
        return math.inf


def fits_in_memory(shape: Sequence[int], itemsize: int, argument: str, function: str) -> None:
    """Refuse, before allocating it, a result of ``shape`` larger than the machine's memory.

    Otherwise numpy fails halfway with "Unable to allocate ..." that names no argument (or the
    system starts swapping first).
    """
    needed = itemsize * math.prod(float(length) for length in shape)  # floats: sizes may be 1e300
    available = _physical_memory()
    if needed > available:
        dims = "x".join(str(length) if length < 10**9 else f"{float(length):.3g}" for length in shape)
        raise ValueError(
            f"{function}: {argument} asks for a {dims} result ({needed / 2**30:.3g} GiB), more than this "
            f"machine's memory ({available / 2**30:.3g} GiB)."
        )
