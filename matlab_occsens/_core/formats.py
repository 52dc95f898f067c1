"""The layouts of a network's input: which axes of a batch are spatial (or time), where the
channels are, and how one observation X is laid out in MATLAB (docs/specification.md §2, §9).

Three kinds of input, each with its backend layouts (batch first, as ONNX and torch hold them):

============  =====================  =================================================
kind          ``InputDataFormats``   one observation X (MATLAB's layout), ``InputSize``
============  =====================  =================================================
2-D image     "BCSS", "BSSC"         H×W×C
3-D volume    "BCSSS", "BSSSC"       S1×S2×S3×C (tensor[n, c, i, j, k] is X[i, j, k, c])
1-D signal    "BCT", "BTC"           C×T (features × time steps)
============  =====================  =================================================

Inside the package one observation is held *channels last*, ``(*spatial, C)``: X itself for
images and volumes, X transposed for a signal. The mask grid, the fill value and the input
layer's normalisation all work on that form; :func:`to_native` gives the backend's layout.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "IMAGE_FORMATS",
    "INPUT_FORMATS",
    "channel_count",
    "channels_first",
    "channels_last_shape",
    "formats_of_rank",
    "input_kind",
    "input_size_of",
    "is_sequence",
    "native_shape",
    "observation_to_channels_last",
    "size_names",
    "spatial_rank",
    "spatial_size",
    "to_native",
]

#: The layouts of a 2-D image input: NCHW and NHWC.
IMAGE_FORMATS = ("BCSS", "BSSC")
#: Every input layout a network may have, 2-D images first (the default kind).
INPUT_FORMATS = (*IMAGE_FORMATS, "BCSSS", "BSSSC", "BCT", "BTC")


def formats_of_rank(rank: int) -> tuple[str, str] | None:
    """The channels-first and channels-last layouts of a batch of ``rank`` axes, or None."""
    found = tuple(fmt for fmt in INPUT_FORMATS if len(fmt) == rank)
    return (found[0], found[1]) if found else None


def size_names(input_format: str) -> tuple[str, ...]:
    """The names of ``InputSize``'s entries, for messages: ("H", "W", "C"), ("S1", "S2", "S3",
    "C") or ("C", "T")."""
    if is_sequence(input_format):
        return ("C", "T")
    if spatial_rank(input_format) == 2:
        return ("H", "W", "C")
    return (*(f"S{axis + 1}" for axis in range(spatial_rank(input_format))), "C")


def input_size_of(input_format: str, native: tuple[int | None, ...]) -> tuple[int | None, ...]:
    """MATLAB's ``InputSize`` of one observation from the backend's shape of it (batch axis
    dropped): the inverse of :func:`native_shape`, None where a size is dynamic."""
    channels, spatial = (native[0], native[1:]) if channels_first(input_format) else (native[-1], native[:-1])
    return (channels, *spatial) if is_sequence(input_format) else (*spatial, channels)


def input_kind(input_format: str) -> str:
    """ "image", "volume" or "signal", for messages."""
    return "signal" if is_sequence(input_format) else "image" if spatial_rank(input_format) == 2 else "volume"


def spatial_rank(input_format: str) -> int:
    """How many axes the masks slide along: 2 for images, 3 for volumes, 1 for signals."""
    return len(input_format) - 2


def channels_first(input_format: str) -> bool:
    """Whether the backend's batch holds the channels on axis 1 (NCHW, NCDHW, NCT)."""
    return input_format[1] == "C"


def is_sequence(input_format: str) -> bool:
    """Whether the input is a signal (a time axis), whose X is C×T rather than channels last."""
    return "T" in input_format


def spatial_size(input_format: str, input_size: tuple[int, ...]) -> tuple[int, ...]:
    """The sizes of the axes the masks slide along, in X's order: (H, W), (S1, S2, S3) or (T,)."""
    return tuple(input_size[1:]) if is_sequence(input_format) else tuple(input_size[:-1])


def channel_count(input_format: str, input_size: tuple[int, ...]) -> int:
    """The number of channels (features, for a signal) of one observation."""
    return int(input_size[0] if is_sequence(input_format) else input_size[-1])


def channels_last_shape(input_format: str, input_size: tuple[int, ...]) -> tuple[int, ...]:
    """The package's own shape of one observation, ``(*spatial, C)``."""
    return (*spatial_size(input_format, input_size), channel_count(input_format, input_size))


def observation_to_channels_last(X: np.ndarray, input_format: str) -> np.ndarray:
    """One observation in MATLAB's layout (H×W×C, S1×S2×S3×C or C×T) as ``(*spatial, C)``: a view."""
    return X.T if is_sequence(input_format) else X


def native_shape(input_format: str, input_size: tuple[int, ...], batch: int) -> tuple[int, ...]:
    """Shape of a batch of ``batch`` observations of ``input_size`` in the backend's layout."""
    spatial, channels = spatial_size(input_format, input_size), channel_count(input_format, input_size)
    return (batch, channels, *spatial) if channels_first(input_format) else (batch, *spatial, channels)


def to_native(observations: np.ndarray, input_format: str) -> np.ndarray:
    """A batch of channels-last observations ``(N, *spatial, C)`` as a new contiguous float32
    array in the backend's layout."""
    if channels_first(input_format):
        observations = np.moveaxis(observations, -1, 1)
    return np.ascontiguousarray(observations, dtype=np.float32)
