"""occlusionSensitivity's arguments, validated and resolved before any inference (docs/specification.md §2-3).

Every mistake a user can make is reported here, so a long map never dies halfway. "auto"
values are resolved against the image with MATLAB's rounding (half away from zero).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._utils.checks import finite_single, integer_vector, integral_values, real_array, shown
from .._utils.namevalue import is_text, match_string, parse_name_value
from .formats import is_sequence, spatial_rank
from .option_table import OCCLUSION, defaults, option

__all__ = [
    "OcclusionOptions",
    "mround",
    "image_argument",
    "observation_argument",
    "layout_hint",
    "image_values",
    "auto_mask_value",
    "channel_argument",
    "occlusion_options",
]

FUNCTION = "occlusionSensitivity"

DEFAULTS: dict[str, Any] = defaults(OCCLUSION)


def _words(name: str) -> tuple[str, ...]:
    words = option(name, OCCLUSION).words
    assert words is not None  # every choice option of the table lists its words
    return words


ENVIRONMENTS = _words("ExecutionEnvironment")


@dataclass(frozen=True)
class OcclusionOptions:
    """Resolved options: no "auto" left, sizes one per spatial axis (vertical, horizontal for
    an image)."""

    mask_size: tuple[int, ...]
    stride: tuple[int, ...]
    mask_value: np.ndarray
    output_upsampling: str
    mask_clipping: bool
    mini_batch_size: int
    execution_environment: str
    verbose: bool
    incremental: str
    reduction_fcn: Callable[[np.ndarray], Any] | None = None
    """``ReductionFcn``, or None for the total activation (the sum over space and time)."""


def mround(value: float) -> int:
    """MATLAB's ``round``: halves go away from zero (Python's ``round`` goes to even)."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def _dims(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) or "a scalar"


def layout_hint(shape: tuple[int, ...], input_size: tuple[int, ...], batch: bool) -> str:
    """What to do about an X of ``shape`` that is not ``input_size`` (H, W, C), in MATLAB terms.

    ``batch`` says whether the function takes an H×W×C×N stack (``predict``) or one image. Each
    common mistake (channels first, a NumPy batch axis first, grey for colour, an alpha channel, a
    stack where one image is taken, another size) gets the fix that fits it; "Resize it first"
    only fits the last.
    """
    height, width, channels = input_size
    spatial = (height, width)
    if len(shape) == 3 and shape[0] == channels and shape[1:] == spatial:
        return "it looks like C×H×W (channels first); MATLAB images are H×W×C: X = np.moveaxis(X, 0, -1)."
    if len(shape) == 4 and shape[1:] == (height, width, channels):
        if batch:
            return "it looks like N×H×W×C (a NumPy batch); MATLAB stacks are H×W×C×N: X = np.moveaxis(X, 0, -1)."
        return "it looks like N×H×W×C with the image axis first; pass one H×W×C image: X[0]."
    if len(shape) == 4 and shape[0] != channels and shape[1] == channels and shape[2:] == spatial:
        fix = "X = np.transpose(X, (2, 3, 1, 0))" if batch else "pass one image: np.moveaxis(X[0], 0, -1)"
        return f"it looks like N×C×H×W (a PyTorch batch); MATLAB images are H×W×C: {fix}."
    if len(shape) == 4 and shape[:3] == (height, width, channels) and not batch:
        return (
            f"that is a stack of {shape[3]} images, and {FUNCTION} explains one image per call: "
            f"X[:, :, :, i] for each i."
        )
    if len(shape) in (2, 3) and shape[:2] == spatial:
        given = 1 if len(shape) == 2 else shape[2]
        if given == 1 and channels == 3:
            return "it is grayscale and the network takes RGB: X = np.repeat(X.reshape(*X.shape[:2], 1), 3, axis=2)."
        if given == 4 and channels == 3:
            return "it has 4 channels (RGB plus alpha?) and the network takes 3: X = X[:, :, :3]."
        return f"it has {given} channel(s) and the network takes {channels}."
    if len(shape) in (2, 3, 4) and (len(shape) == 2 or shape[2] == channels):
        return "Resize it first: X = imresize(X, net.InputSize[:2])."
    return "MATLAB images are H×W×C (rows, columns, channels)."


def image_argument(X: Any, input_size: tuple[int, ...]) -> np.ndarray:
    """X as a new float32 H×W×C array, checked against the network's InputSize."""
    array = image_values(X, FUNCTION)
    height, width, channels = input_size
    if array.ndim == 4 and array.shape[3] == 1:
        array = array[..., 0]  # MATLAB drops a trailing singleton observation axis
    if array.ndim == 2 and channels == 1:
        array = array[..., np.newaxis]
    if array.shape != (height, width, channels):
        raise ValueError(
            f"{FUNCTION}: X must be one {height}x{width}x{channels} image (net.InputSize); got "
            f"{_dims(np.shape(X))}: {layout_hint(np.shape(X), input_size, batch=False)}"
        )
    return finite_single(array, FUNCTION, "X")


def image_values(X: Any, function: str) -> np.ndarray:
    """X's pixels as a real array; a file name is pointed to ``imread``."""
    if is_text(X) or isinstance(X, (bytes, os.PathLike)):
        name = str(X) if is_text(X) else os.fsdecode(X)
        raise TypeError(
            f"{function}: X must be an image array, not a file name; read the file first: X = imread({name!r})."
        )
    return real_array(X, "X", function, "a real numeric or logical image array", logical=True)


def channel_argument(channelIdx: Any, channel_count: int | None, output_name: str = "") -> np.ndarray:
    """1-based channel indices as a 0-based int array; checked against the channel count if known."""
    array = real_array(
        channelIdx, "channelIdx", FUNCTION, "a positive integer or a vector of them (1-based, as in MATLAB)"
    )
    flat = array.ravel()
    if array.ndim > 1 and max(array.shape) != flat.size:
        raise ValueError(f"{FUNCTION}: channelIdx must be a vector; got shape {array.shape}.")
    if flat.size == 0:
        raise ValueError(f"{FUNCTION}: channelIdx is empty; give at least one channel (1-based).")
    good = integral_values(flat, 1)
    if not np.all(good):
        raise ValueError(
            f"{FUNCTION}: channelIdx values must be positive integers (1-based, as in MATLAB); "
            f"{shown(flat[~good][0].item())} is not."
        )
    if channel_count is not None:
        check_channel_range(flat, channel_count, output_name)
    elif np.any(flat >= 2**62):  # beyond any tensor: refused before it wraps around in int64
        raise ValueError(f"{FUNCTION}: channelIdx {shown(flat[flat >= 2**62][0].item())} is out of range.")
    return flat.astype(np.int64) - 1


def check_channel_range(indices: np.ndarray, channel_count: int, output_name: str) -> None:
    """Raise unless every 1-based index lies in 1..channel_count."""
    outside = indices[(indices < 1) | (indices > channel_count)]
    if outside.size:
        raise ValueError(
            f"{FUNCTION}: channelIdx {shown(outside[0].item())} is out of range: output {output_name!r} has "
            f"{channel_count} channels, so channelIdx must lie in 1..{channel_count}."
        )


def _auto_or_vector(value: Any, argument: str, fraction: float, size: tuple[int, ...]) -> tuple[int, ...]:
    """ "auto" (``fraction`` of each spatial size, MATLAB-rounded, at least 1), one value for
    every axis, or one value per axis."""
    if is_text(value):
        match_string(value, ("auto",), argument, FUNCTION)
        return tuple(max(mround(fraction * side), 1) for side in size)
    values = integer_vector(value, argument, FUNCTION, lengths=tuple(dict.fromkeys((1, len(size)))))
    return values * len(size) if len(values) == 1 else values


def auto_mask_value(image: np.ndarray) -> np.ndarray:
    """``MaskValue="auto"``: the channel means of the validated float32 channels-last observation
    (H×W×C, S1×S2×S3×C, or T×C for a signal)."""
    return image.mean(axis=tuple(range(image.ndim - 1)), dtype=np.float64)


def _mask_value(value: Any, image: np.ndarray) -> np.ndarray:
    channels = image.shape[-1]
    if is_text(value):
        match_string(value, ("auto",), "MaskValue", FUNCTION)
        return auto_mask_value(image)
    expected = f'"auto", a number or {channels} numbers'
    array = real_array(value, "MaskValue", FUNCTION, expected)
    if array.size not in (1, channels):
        raise ValueError(
            f"{FUNCTION}: MaskValue must be a scalar or have exactly {channels} elements (one per "
            f"channel of X); got {array.size}."
        )
    finite_single(array, FUNCTION, "MaskValue")  # the mask is filled in single precision, as X is
    return np.broadcast_to(array.astype(np.float64).ravel(), (channels,)).copy()


def _on_off(value: Any, argument: str) -> str:
    """A MATLAB on/off option given as one of its words or as True/False."""
    if isinstance(value, (bool, np.bool_)):
        return "on" if value else "off"
    return match_string(value, _words(argument), argument, FUNCTION)


def _choice(value: Any, argument: str) -> str:
    return match_string(value, _words(argument), argument, FUNCTION)


def _verbose(value: Any, _: np.ndarray) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{FUNCTION}: Verbose must be True or False; got {shown(value)}.")
    return bool(value)


#: How each option of the table is validated and resolved against the (already validated) image;
#: the field of :class:`OcclusionOptions` it fills is its name in snake case.
RESOLVERS: dict[str, Callable[[Any, np.ndarray], Any]] = {
    "MaskSize": lambda value, image: _auto_or_vector(value, "MaskSize", 0.2, image.shape[:-1]),
    "Stride": lambda value, image: _auto_or_vector(value, "Stride", 0.1, image.shape[:-1]),
    "MaskValue": lambda value, image: _mask_value(value, image),
    "OutputUpsampling": lambda value, _: _choice(value, "OutputUpsampling"),
    "MaskClipping": lambda value, _: _on_off(value, "MaskClipping") == "on",
    "MiniBatchSize": lambda value, _: integer_vector(value, "MiniBatchSize", FUNCTION)[0],
    "ExecutionEnvironment": lambda value, _: _choice(value, "ExecutionEnvironment"),
    "Verbose": _verbose,
    "Incremental": lambda value, _: _on_off(value, "Incremental"),
    "ReductionFcn": lambda value, _: _reduction(value),
}


def field_name(name: str) -> str:
    """The :class:`OcclusionOptions` field of option ``name``: ``MaskSize`` -> ``mask_size``."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).lower()


def occlusion_options(image: np.ndarray, args: tuple[Any, ...], kwargs: dict[str, Any]) -> OcclusionOptions:
    """Parse and resolve the name-value options against the (already validated) image: any
    channels-last observation, H×W×C, S1×S2×S3×C or T×C (see :func:`observation_argument`)."""
    given = parse_name_value(FUNCTION, DEFAULTS, args, kwargs)
    options = OcclusionOptions(**{field_name(name): RESOLVERS[name](value, image) for name, value in given.items()})
    size = image.shape[:-1]
    if not options.mask_clipping and any(mask > side for mask, side in zip(options.mask_size, size)):
        raise ValueError(
            f"{FUNCTION}: MaskSize {list(options.mask_size)} is larger than the {_dims(size)} input, so "
            f'with MaskClipping="off" no mask fits. Use a smaller MaskSize or MaskClipping="on".'
        )
    return options


# --- volumes, signals and ReductionFcn (extensions, docs/specification.md §9) ---------------------


def observation_argument(X: Any, input_size: tuple[int, ...], input_format: str) -> np.ndarray:
    """X as a new float32 channels-last array (H×W×C, S1×S2×S3×C, or T×C for a signal), checked
    against ``net.InputSize`` for the network's kind of input (``input_format``)."""
    if spatial_rank(input_format) == 2:
        return image_argument(X, input_size)
    array = image_values(X, FUNCTION)
    shape = np.shape(X)
    if is_sequence(input_format):
        channels, steps = input_size
        if array.ndim == 1 and channels == 1:
            array = array[np.newaxis]  # MATLAB's 1×T row: one feature
        if array.shape != (channels, steps):
            raise ValueError(
                f"{FUNCTION}: X must be one {channels}x{steps} signal (net.InputSize: features × time "
                f"steps); got {_dims(shape)}: {_signal_hint(shape, channels, steps)}"
            )
        return finite_single(array.T, FUNCTION, "X")
    spatial, channels = tuple(input_size[:-1]), input_size[-1]
    if array.ndim == len(input_size) + 1 and array.shape[-1] == 1:
        array = array[..., 0]  # MATLAB drops a trailing singleton observation axis
    if array.ndim == len(spatial) and channels == 1:
        array = array[..., np.newaxis]  # a 3-D array is one channel
    if array.shape != tuple(input_size):
        raise ValueError(
            f"{FUNCTION}: X must be one {_dims(tuple(input_size))} volume (net.InputSize); got {_dims(shape)}: "
            f"{_volume_hint(shape, spatial, channels)}"
        )
    return finite_single(array, FUNCTION, "X")


def _signal_hint(shape: tuple[int, ...], channels: int, steps: int) -> str:
    if shape == (steps, channels):
        return "it looks like T×C (time steps first); MATLAB sequences are C×T: X = X.T."
    if len(shape) == 3 and shape[1:] in ((channels, steps), (steps, channels)):
        return f"that is a batch of {shape[0]} signals, and {FUNCTION} explains one per call: X[i]."
    if len(shape) <= 2 and (channels in shape or channels == 1):
        return f"the network takes {steps} time steps (net.InputSize); crop or resample the signal to that length."
    return "MATLAB sequences are C×T (features × time steps)."


def _volume_hint(shape: tuple[int, ...], spatial: tuple[int, ...], channels: int) -> str:
    if shape == (channels, *spatial):
        return "it looks like C×S1×S2×S3 (channels first); MATLAB volumes are S1×S2×S3×C: X = np.moveaxis(X, 0, -1)."
    if len(shape) == 5 and shape[1:] in ((channels, *spatial), (*spatial, channels)):
        return f"that is a batch of {shape[0]} volumes, and {FUNCTION} explains one per call."
    if len(shape) == 3 and channels == 1:
        return "Resize it first: V = imresize3(V, net.InputSize[:3])."
    if len(shape) == 4 and shape[3] == channels:
        return (
            "Resize each channel first: V = np.stack([imresize3(V[..., c], net.InputSize[:3]) "
            "for c in range(V.shape[3])], axis=3)."
        )
    return f"the network takes {channels} channel(s); MATLAB volumes are S1×S2×S3×C."


def _reduction(value: Any) -> Callable[[np.ndarray], Any] | None:
    if value is None or callable(value):
        return value
    raise TypeError(
        f"{FUNCTION}: ReductionFcn must be a function taking one channel's activations for a batch, "
        f"shape (B, ...), and returning B scores; got {shown(value)}."
    )
