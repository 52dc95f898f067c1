"""How far a change travels along one spatial axis, and what input a wanted output needs.

Every layer the incremental path understands reads each spatial axis through a *window*:
output index ``o`` reads input indices ``o*stride - pad_begin + k*dilation`` for
``k < kernel``, and indices outside the input are padding (a constant, never data). A
convolution, a pooling layer and a ``Pad`` node are windows; an element-wise layer is the
identity window. Intervals are 0-based half-open ``[start, stop)`` and held as arrays, one entry
per mask position, so a whole grid axis is propagated in a few numpy operations.

An empty interval is stored as ``(EMPTY_START, EMPTY_STOP)``, so that the hull of several
intervals is simply the minimum of the starts and the maximum of the stops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["EMPTY_START", "EMPTY_STOP", "Intervals", "Window", "hull"]

EMPTY_START = np.int64(1) << 40
EMPTY_STOP = -EMPTY_START

Intervals = tuple[np.ndarray, np.ndarray]
"""``(starts, stops)``: two int64 arrays of the same length."""


def normalised(starts: np.ndarray, stops: np.ndarray) -> Intervals:
    """The intervals with every empty one (start >= stop) in the canonical empty form."""
    empty = starts >= stops
    return np.where(empty, EMPTY_START, starts), np.where(empty, EMPTY_STOP, stops)


def hull(intervals: list[Intervals]) -> Intervals:
    """Smallest interval holding all the given ones, position by position (empties ignored)."""
    starts = np.minimum.reduce([start for start, _ in intervals])
    stops = np.maximum.reduce([stop for _, stop in intervals])
    return starts, stops


@dataclass(frozen=True)
class Window:
    """What one output index reads along one spatial axis.

    ``ceil_mode`` only changes the output size (pooling layers); the indices read are the same.
    """

    kernel: int = 1
    stride: int = 1
    dilation: int = 1
    pad_begin: int = 0
    pad_end: int = 0
    ceil_mode: bool = False

    @property
    def extent(self) -> int:
        """Distance from the first to one past the last input index one output reads."""
        return (self.kernel - 1) * self.dilation + 1

    def out_size(self, size: int) -> int:
        """Output length for an input of ``size`` (ONNX's rule, as ONNX Runtime applies it)."""
        span = size + self.pad_begin + self.pad_end - self.extent
        if not self.ceil_mode:
            return span // self.stride + 1
        out = -(-span // self.stride) + 1
        # ONNX Runtime drops a last window that would start in the trailing padding.
        return out - 1 if (out - 1) * self.stride >= size + self.pad_begin else out

    def changed(self, changed_in: Intervals, size_out: int) -> Intervals:
        """Outputs that read at least one changed input (their hull, for dilated windows)."""
        starts, stops = changed_in
        reach = self.pad_begin - (self.kernel - 1) * self.dilation
        first = -((-(starts + reach)) // self.stride)
        last = (stops - 1 + self.pad_begin) // self.stride
        empty = starts >= stops
        first = np.where(empty, EMPTY_START, np.maximum(first, 0))
        stop = np.where(empty, EMPTY_STOP, np.minimum(last + 1, size_out))
        return normalised(first, stop)

    def required(self, wanted_out: Intervals, size_in: int) -> Intervals:
        """Inputs the wanted outputs read, cut to the input (the rest is padding)."""
        starts, stops = wanted_out
        empty = starts >= stops
        first = np.maximum(starts * self.stride - self.pad_begin, 0)
        stop = np.minimum((stops - 1) * self.stride - self.pad_begin + self.extent, size_in)
        return normalised(np.where(empty, EMPTY_START, first), np.where(empty, EMPTY_STOP, stop))


IDENTITY = Window()
