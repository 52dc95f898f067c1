"""``rescale``: MATLAB's linear rescaling of an array to an interval, used on score maps.

Ported scripts write ``imagesc(rescale(scoreMap))`` or threshold ``rescale(scoreMap) > 0.5``, so
the rule is MATLAB's: clip ``A`` to ``[InputMin, InputMax]`` (by default its own minimum and
maximum, NaN ignored), then map that range linearly onto ``[l, u]``. A constant input gives ``l``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._utils.checks import real_array
from .._utils.namevalue import is_text, parse_name_value

__all__ = ["rescale"]

_FUNCTION = "rescale"
_OPTIONS: dict[str, Any] = {"InputMin": None, "InputMax": None}


def rescale(A: Any, *args: Any, **kwargs: Any) -> np.ndarray:
    """Scale the entries of ``A`` linearly to the interval ``[l, u]`` (default ``[0, 1]``).

    Ported scripts use it to bring a map to [0, 1] before thresholding or drawing it.

    MATLAB equivalent: ``rescale`` (MATLAB), with its ``InputMin`` and ``InputMax`` options.

    Parameters
    ----------
    A : array_like
        Real numbers of any shape (integers, floats or booleans).
    l, u : array_like, optional
        Lower and upper bounds of the output, given together (``rescale(A, -1, 1)``): scalars or
        arrays that broadcast against ``A``; ``l <= u`` everywhere.
    InputMin, InputMax : array_like, default ``nanmin(A)``, ``nanmax(A)``
        The input range mapped onto ``[l, u]``; entries of ``A`` outside it are clipped to it
        first. Arrays broadcast against ``A`` (NumPy's rule), so ``A.min(axis=0)`` rescales each
        column, as MATLAB's ``min(A)`` does, and ``A.min(axis=1, keepdims=True)`` each row.
    *args
        ``l, u``, then the options as MATLAB name-value pairs (``"InputMin", 5``).
    **kwargs
        The options as keywords (``InputMin=5``).

    Returns
    -------
    R : ndarray
        The shape of ``A``; float32 when ``A`` is float32, float64 otherwise (MATLAB's single and
        double). ``l + (clip(A) - InputMin) / (InputMax - InputMin) * (u - l)``, and ``l`` where
        the input range is a single value; NaN stays NaN.

    Examples
    --------
    >>> from matlab_occsens import rescale
    >>> rescale([1, 2, 3, 4, 5])
    array([0.  , 0.25, 0.5 , 0.75, 1.  ])
    >>> rescale([1, 2, 3, 4, 5], -1, 1)
    array([-1. , -0.5,  0. ,  0.5,  1. ])
    >>> rescale([-30, 1, 2, 3, 4, 5, 70], InputMin=1, InputMax=5)
    array([0.  , 0.  , 0.25, 0.5 , 0.75, 1.  , 1.  ])
    """
    values = real_array(A, "A", _FUNCTION, "a real numeric or logical array", logical=True)
    bounds, pairs = _split_bounds(args)
    options = parse_name_value(_FUNCTION, _OPTIONS, pairs, kwargs)
    single = values.dtype == np.float32
    work = values.astype(np.float64)
    lower, upper = (_operand(bound, name, work.shape) for bound, name in zip(bounds, ("l", "u")))
    if np.any(lower > upper):
        raise ValueError(f"{_FUNCTION}: the lower bound l must be <= the upper bound u; got l > u.")
    low = _input_limit(options["InputMin"], "InputMin", work, np.nanmin)
    high = _input_limit(options["InputMax"], "InputMax", work, np.nanmax)
    if np.any(low > high):
        low_name, high_name = (
            name if options[name] is not None else f"{name} ({default}(A) by default)"
            for name, default in (("InputMin", "min"), ("InputMax", "max"))
        )
        raise ValueError(f"{_FUNCTION}: {low_name} must be <= {high_name}; here it is larger.")
    span = np.broadcast_to(high - low, work.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(span > 0, (np.clip(work, low, high) - low) / np.where(span > 0, span, 1), 0.0)
        result = lower + ratio * (upper - lower)
    result = np.where(np.isnan(work), np.nan, result)  # a NaN entry stays NaN, whatever the range
    return result.astype(np.float32 if single else np.float64)


def _split_bounds(args: tuple[Any, ...]) -> tuple[tuple[Any, Any], tuple[Any, ...]]:
    """``(l, u)`` and the name-value pairs that follow them; MATLAB takes both bounds or neither."""
    count = next((position for position, arg in enumerate(args) if is_text(arg)), len(args))
    if count == 0:
        return (0.0, 1.0), args
    if count != 2:
        raise ValueError(
            f"{_FUNCTION}: give both bounds or neither: rescale(A) or rescale(A, l, u); got {count} "
            f"numeric argument(s) after A."
        )
    return (args[0], args[1]), args[2:]


def _operand(value: Any, argument: str, shape: tuple[int, ...]) -> np.ndarray:
    """A bound or input limit as float64, checked to broadcast against A without growing it."""
    array = real_array(value, argument, _FUNCTION, "real numbers (a scalar or an array compatible with A)")
    try:
        joined = np.broadcast_shapes(array.shape, shape)
    except ValueError:
        joined = None
    if joined != shape:
        raise ValueError(f"{_FUNCTION}: {argument} of shape {array.shape} does not broadcast to A's shape {shape}.")
    array = array.astype(np.float64)
    if np.any(np.isnan(array)):
        raise ValueError(f"{_FUNCTION}: {argument} must not be NaN.")
    return array


def _input_limit(value: Any, argument: str, work: np.ndarray, default: Any) -> np.ndarray:
    if value is not None:
        return _operand(value, argument, work.shape)
    if work.size == 0 or np.all(np.isnan(work)):
        return np.array(np.nan)
    return np.array(default(work))
