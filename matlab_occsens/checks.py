"""Validators for numeric arguments, with errors that name the MATLAB argument.

MATLAB passes numbers as doubles, so integral floats (``5.0``) count as integers here too;
booleans do not, since ``True`` as a size is almost always a mistake.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["integer_vector", "shown"]


def shown(value: Any, limit: int = 8) -> str:
    """A short rendering of a user value for an error message."""
    if isinstance(value, np.ndarray):
        flat = value.ravel()
        body = ", ".join(repr(item.item()) for item in flat[:limit])
        return f"array([{body}{', ...' if flat.size > limit else ''}], shape={value.shape})"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def integer_vector(
    value: Any,
    argument: str,
    function: str,
    lengths: Sequence[int] = (1,),
    minimum: int = 1,
) -> tuple[int, ...]:
    """Integers of one of the allowed ``lengths``, each at least ``minimum``.

    Raises TypeError for non-numeric or boolean values and ValueError for a wrong length,
    a non-integral value or one below ``minimum``; the message names ``argument``.
    """
    allowed = " or ".join(str(length) for length in lengths)
    expected = f"{allowed} integer{'s' if lengths != (1,) else ''} >= {minimum}"
    try:
        array = np.asarray(value)
    except Exception:
        raise TypeError(f"{function}: {argument} must be {expected}; got {shown(value)}.") from None
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{function}: {argument} must be {expected}; got {shown(value)}.")
    flat = array.ravel()
    if flat.size not in lengths:
        raise ValueError(f"{function}: {argument} must be {expected}; got {flat.size} values: {shown(value)}.")
    if not np.all(np.isfinite(flat)) or not np.all(flat == np.round(flat)) or np.any(flat < minimum):
        raise ValueError(f"{function}: {argument} must be {expected}; got {shown(value)}.")
    return tuple(int(item) for item in flat)
