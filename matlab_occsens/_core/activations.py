"""From an output tensor to each channel's score (MATLAB's "total activation", or the user's
``ReductionFcn``), and to MATLAB layout."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._utils.checks import shown

__all__ = ["channel_axis", "channel_scores", "channel_totals", "to_matlab_layout"]


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


def channel_scores(
    output: np.ndarray,
    fmt: str,
    channels: np.ndarray,
    output_name: str,
    reduction: Callable[[np.ndarray], Any] | None,
    inputs: str,
) -> np.ndarray:
    """Each selected channel's score per image, ``(N, len(channels))`` float64: the total
    activation (:func:`channel_totals`, the same arithmetic bit for bit) without a
    ``reduction``, else ``reduction`` of the channel's activations in MATLAB's layout, batch
    first (docs/specification.md §9.5). ``inputs`` names the images for an error message ("the
    unoccluded input", ...). A function that raises, or returns anything but N finite numbers,
    is refused with a ValueError naming ``ReductionFcn``."""
    if reduction is None:
        return channel_totals(output, fmt, channels, output_name)
    axis = channel_axis(fmt, output_name)
    if len(output) == 0:
        return np.empty((0, len(channels)))
    rest = [letter for index, letter in enumerate(fmt) if index != axis]
    order = [0, *sorted(range(1, len(rest)), key=lambda index: "SCBTU".index(rest[index]))]
    scores = np.empty((len(output), len(channels)))
    for column, channel in enumerate(channels.tolist()):
        activations = np.ascontiguousarray(np.take(output, channel, axis=axis).transpose(order))
        scores[:, column] = _reduced(reduction, activations, channel, inputs)
    return scores


def _reduced(reduction: Callable[[np.ndarray], Any], activations: np.ndarray, channel: int, inputs: str) -> np.ndarray:
    where = f"channel {channel + 1}'s activations of {inputs}, shape {activations.shape}"
    try:
        result = reduction(activations)
    except Exception as error:  # noqa: BLE001  (the user's function: any error is reported with its cause)
        raise ValueError(
            f"occlusionSensitivity: ReductionFcn raised {type(error).__name__} ({error}) on {where}."
        ) from error
    try:
        scores = np.asarray(result, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"occlusionSensitivity: ReductionFcn must return {len(activations)} numbers (one per input) for "
            f"{where}; it returned {shown(result)}."
        ) from error
    if scores.shape != (len(activations),):
        raise ValueError(
            f"occlusionSensitivity: ReductionFcn must return one score per input, shape ({len(activations)},), "
            f"for {where}; it returned shape {scores.shape}."
        )
    if not np.all(np.isfinite(scores)):
        raise ValueError(
            f"occlusionSensitivity: ReductionFcn returned a non-finite score "
            f"({shown(scores[~np.isfinite(scores)][0].item())}) for {where}."
        )
    return scores
