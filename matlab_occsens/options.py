"""occlusionSensitivity's arguments, validated and resolved before any inference (docs/specification.md §2-3).

Every mistake a user can make is reported here, so a long map never dies halfway. "auto"
values are resolved against the image with MATLAB's rounding (half away from zero).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .checks import integer_vector, shown
from .namevalue import is_text, match_string, parse_name_value

__all__ = ["OcclusionOptions", "mround", "image_argument", "channel_argument", "occlusion_options"]

FUNCTION = "occlusionSensitivity"
ENVIRONMENTS = ("auto", "cpu", "gpu")

DEFAULTS: dict[str, Any] = {
    "MaskSize": "auto",
    "Stride": "auto",
    "MaskValue": "auto",
    "OutputUpsampling": "bicubic",
    "MaskClipping": "on",
    "MiniBatchSize": 128,
    "ExecutionEnvironment": "auto",
    "Verbose": False,  # extension: a progress bar on stderr
    "Incremental": "auto",  # extension: exact incremental inference (matlab_occsens.incremental)
}

UPSAMPLING = ("bicubic", "nearest", "none")
INCREMENTAL = ("auto", "on", "off")


@dataclass(frozen=True)
class OcclusionOptions:
    """Resolved options: no "auto" left, sizes as (vertical, horizontal)."""

    mask_size: tuple[int, int]
    stride: tuple[int, int]
    mask_value: np.ndarray
    output_upsampling: str
    mask_clipping: bool
    mini_batch_size: int
    execution_environment: str
    verbose: bool
    incremental: str


def mround(value: float) -> int:
    """MATLAB's ``round``: halves go away from zero (Python's ``round`` goes to even)."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def image_argument(X: Any, input_size: tuple[int, int, int]) -> np.ndarray:
    """X as a new float32 H×W×C array, checked against the network's InputSize."""
    array = np.asarray(X)
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"{FUNCTION}: X must be a real numeric or logical image array; got dtype {array.dtype}."
        )
    height, width, channels = input_size
    if array.ndim == 4 and array.shape[3] == 1:
        array = array[..., 0]  # MATLAB drops a trailing singleton observation axis
    if array.ndim == 2 and channels == 1:
        array = array[..., np.newaxis]
    if array.shape != (height, width, channels):
        raise ValueError(
            f"{FUNCTION}: X must be one {height}x{width}x{channels} image (net.InputSize); got "
            f"{'x'.join(map(str, np.shape(X))) or 'a scalar'}. Resize it first: "
            f"imresize(X, net.InputSize[:2])."
        )
    with np.errstate(over="ignore"):  # values beyond float32 become Inf, reported just below
        image = array.astype(np.float32)  # always a copy: the caller's X is never touched
    if not np.all(np.isfinite(image)):
        raise ValueError(f"{FUNCTION}: X contains NaN or Inf (or values too large for single precision).")
    return image


def channel_argument(channelIdx: Any, channel_count: int | None, output_name: str = "") -> np.ndarray:
    """1-based channel indices as a 0-based int array; checked against the channel count if known."""
    array = np.asarray(channelIdx)
    if array.dtype.kind not in "iuf":
        raise TypeError(
            f"{FUNCTION}: channelIdx must be a positive integer or a vector of them (1-based, as in "
            f"MATLAB); got {shown(channelIdx)}."
        )
    flat = array.ravel()
    if array.ndim > 1 and max(array.shape) != flat.size:
        raise ValueError(f"{FUNCTION}: channelIdx must be a vector; got shape {array.shape}.")
    if flat.size == 0:
        raise ValueError(f"{FUNCTION}: channelIdx is empty; give at least one channel (1-based).")
    bad = [item for item in flat.tolist() if not (math.isfinite(item) and item == int(item) and item >= 1)]
    if bad:
        raise ValueError(
            f"{FUNCTION}: channelIdx values must be positive integers (1-based, as in MATLAB); "
            f"{shown(bad[0])} is not."
        )
    indices = flat.astype(np.int64)
    if channel_count is not None:
        check_channel_range(indices, channel_count, output_name)
    return indices - 1


def check_channel_range(indices: np.ndarray, channel_count: int, output_name: str) -> None:
    """Raise unless every 1-based index lies in 1..channel_count."""
    outside = indices[(indices < 1) | (indices > channel_count)]
    if outside.size:
        raise ValueError(
            f"{FUNCTION}: channelIdx {int(outside[0])} is out of range: output {output_name!r} has "
            f"{channel_count} channels, so channelIdx must lie in 1..{channel_count}."
        )


def _auto_or_pair(value: Any, argument: str, fraction: float, size: tuple[int, int]) -> tuple[int, int]:
    if is_text(value):
        match_string(value, ("auto",), argument, FUNCTION)
        return (max(mround(fraction * size[0]), 1), max(mround(fraction * size[1]), 1))
    pair = integer_vector(value, argument, FUNCTION, lengths=(1, 2))
    return (pair[0], pair[-1])


def _mask_value(value: Any, image: np.ndarray) -> np.ndarray:
    channels = image.shape[2]
    if is_text(value):
        match_string(value, ("auto",), "MaskValue", FUNCTION)
        return image.mean(axis=(0, 1), dtype=np.float64)
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        raise TypeError(f'{FUNCTION}: MaskValue must be "auto", a number or {channels} numbers; got {shown(value)}.')
    if array.size not in (1, channels):
        raise ValueError(
            f"{FUNCTION}: MaskValue must be a scalar or have exactly {channels} elements (one per "
            f"channel of X); got {array.size}."
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{FUNCTION}: MaskValue must be finite; got {shown(value)}.")
    return np.broadcast_to(array.astype(np.float64).ravel(), (channels,)).copy()


def _on_off(value: Any, argument: str, choices: tuple[str, ...]) -> str:
    """A MATLAB on/off option given as a string of ``choices`` or as True/False."""
    if isinstance(value, (bool, np.bool_)):
        return "on" if value else "off"
    return match_string(value, choices, argument, FUNCTION)


def occlusion_options(image: np.ndarray, args: tuple[Any, ...], kwargs: dict[str, Any]) -> OcclusionOptions:
    """Parse and resolve the name-value options against the (already validated) image."""
    given = parse_name_value(FUNCTION, DEFAULTS, args, kwargs)
    size = image.shape[:2]
    mask_size = _auto_or_pair(given["MaskSize"], "MaskSize", 0.2, size)
    clipping = _on_off(given["MaskClipping"], "MaskClipping", ("on", "off")) == "on"
    if not clipping and (mask_size[0] > size[0] or mask_size[1] > size[1]):
        raise ValueError(
            f'{FUNCTION}: MaskSize {list(mask_size)} is larger than the {size[0]}x{size[1]} input, so '
            f'with MaskClipping="off" no mask fits. Use a smaller MaskSize or MaskClipping="on".'
        )
    verbose = given["Verbose"]
    if not isinstance(verbose, (bool, np.bool_)):
        raise TypeError(f"{FUNCTION}: Verbose must be True or False; got {shown(verbose)}.")
    return OcclusionOptions(
        mask_size=mask_size,
        stride=_auto_or_pair(given["Stride"], "Stride", 0.1, size),
        mask_value=_mask_value(given["MaskValue"], image),
        output_upsampling=match_string(given["OutputUpsampling"], UPSAMPLING, "OutputUpsampling", FUNCTION),
        mask_clipping=clipping,
        mini_batch_size=integer_vector(given["MiniBatchSize"], "MiniBatchSize", FUNCTION)[0],
        execution_environment=match_string(
            given["ExecutionEnvironment"], ENVIRONMENTS, "ExecutionEnvironment", FUNCTION
        ),
        verbose=bool(verbose),
        incremental=_on_off(given["Incremental"], "Incremental", INCREMENTAL),
    )
