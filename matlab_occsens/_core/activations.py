"""From an output tensor to MATLAB's "total activation" per channel, and to MATLAB layout."""

from __future__ import annotations

import numpy as np

__all__ = ["channel_axis", "channel_totals", "to_matlab_layout"]


def channel_axis(fmt: str, output_name: str) -> int:
    """Index of the channel axis in a batch-first tensor of MATLAB format ``fmt``."""
    if "C" not in fmt:
        raise ValueError(
            f"occlusionSensitivity: output {output_name!r} has format {fmt!r}, which has no channel "
            f"(C) axis to pick channelIdx from; set net.OutputDataFormats to say which axis it is."
        )
    return fmt.index("C")


def channel_totals(output: np.ndarray, fmt: str, channels: np.ndarray, output_name: str = "") -> np.ndarray:
    """Sum of each selected channel over every axis that is neither batch nor channel.

    Returns an ``(N, len(channels))`` float64 array; sums accumulate in float64 (docs/specification.md §5).
    """
    axis = channel_axis(fmt, output_name)
    picked = np.take(output, channels, axis=axis)
    summed = tuple(other for other in range(1, output.ndim) if other != axis)
    return picked.sum(axis=summed, dtype=np.float64) if summed else picked.astype(np.float64)


def to_matlab_layout(output: np.ndarray, fmt: str) -> np.ndarray:
    """Reorder a batch-first tensor as MATLAB returns numeric data: spatial, channel, batch,
    time; feature outputs ("BC") stay N×C, one row per observation."""
    if fmt == "BC":
        return output
    order = sorted(range(len(fmt)), key=lambda axis: "SCBTU".index(fmt[axis]))
    return np.transpose(output, order)
