"""The steps of the ``matlab-occsens`` command, usable from Python as well.

MATLAB's documentation example reads an image, resizes it to the network's input size with
``imresize``, classifies it, computes the map and draws it over the image. The command does the
same for any ONNX file; the pieces that are not single MATLAB calls live here: fitting an
arbitrary image to the network, ranking the classes, and writing the results to disk.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.io

from .._utils.result_files import write_together
from ..image._display import overlayScoreMap
from ..image._imageio import encode_image
from ..image._imresize import imresize

__all__ = ["FittedImage", "Ranking", "fit_image", "rank_classes", "save_results"]


@dataclass(frozen=True)
class FittedImage:
    """An image made ready for one network."""

    pixels: np.ndarray
    """H×W×C in the network's ``InputSize`` and channel order: what the network is given."""
    display: np.ndarray
    """The same pixels as RGB (or H×W gray), for drawing the overlay."""
    notes: list[str] = field(default_factory=list)
    """What was done to the image, one sentence each."""


def fit_image(
    X: np.ndarray, input_size: tuple[int, int, int], channel_order: Literal["RGB", "BGR"] = "RGB"
) -> FittedImage:
    """Resize ``X`` (H×W or H×W×C, RGB) to ``input_size`` as MATLAB's example does, and match channels.

    The resize is MATLAB's ``imresize(X, inputSize(1:2))`` (bicubic with antialiasing; the
    aspect ratio is not kept, exactly as in MATLAB's example), so the class of X is kept. A
    grayscale image given to a three-channel network is repeated into three channels;
    ``channel_order="BGR"`` reverses the channels for networks trained on OpenCV's order.

    Raises
    ------
    ValueError
        The image's channels cannot be matched to the network's (e.g. RGB into one channel).
    """
    height, width, channels = input_size
    image = np.asarray(X)
    notes = []
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3):
        raise ValueError(f"the image must be H×W or H×W×C; got shape {image.shape}.")
    if image.shape[:2] != (height, width):
        notes.append(
            f"resized {image.shape[0]}x{image.shape[1]} to {height}x{width} with imresize (bicubic), "
            f"as MATLAB's example does"
        )
        image = imresize(image, [height, width])
    image_channels = 1 if image.ndim == 2 else image.shape[2]
    if image_channels == channels:
        pixels = image if image.ndim == 3 else image[:, :, np.newaxis]
    elif image_channels == 1:
        notes.append(f"grayscale image repeated into the network's {channels} channels")
        pixels = np.repeat(image[:, :, np.newaxis], channels, axis=2)
    else:
        raise ValueError(
            f"the image has {image_channels} channels but the network takes {channels} "
            f"(net.InputSize {height}x{width}x{channels}); convert the image first."
        )
    if channel_order == "BGR" and image_channels == channels == 3:
        notes.append("channels given to the network in BGR order")
        pixels = pixels[:, :, ::-1]
    return FittedImage(np.ascontiguousarray(pixels), image, notes)


@dataclass(frozen=True)
class Ranking:
    """Classes by decreasing score for one observation."""

    channels: np.ndarray
    """1-based channel (class) indices, best first."""
    probabilities: np.ndarray
    """Their probabilities."""
    softmax_applied: bool
    """True when the output was not already probabilities and a softmax was taken."""


def rank_classes(scores: np.ndarray, count: int = 5) -> Ranking:
    """The ``count`` best classes of a 1×K output, as probabilities.

    An output whose entries are non-negative and sum to one is taken as probabilities (a
    softmax output); anything else is treated as logits and a softmax is applied.
    """
    row = np.asarray(scores, dtype=np.float64).reshape(-1)
    is_probability = bool(np.all(row >= 0) and abs(row.sum() - 1.0) <= 1e-3)
    if is_probability:
        probabilities = row
    else:
        exponentials = np.exp(row - row.max())
        probabilities = exponentials / exponentials.sum()
    best = np.argsort(-probabilities, kind="stable")[:count]
    return Ranking(best + 1, probabilities[best], not is_probability)


def _file_stem(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "image"


def save_results(
    scoreMap: np.ndarray, display: np.ndarray, directory: str | Path, stem: str, channels: list[int]
) -> list[Path]:
    """Write the map as ``.npy`` and ``.mat`` and one overlay PNG per channel; return the paths.

    ``<stem>_scoreMap.npy`` holds the array as returned (H×W, or H×W×n for n channels);
    ``<stem>_scoreMap.mat`` holds it as MATLAB variable ``scoreMap`` (single) with the 1-based
    ``channelIdx``; ``<stem>_overlay.png`` (``<stem>_overlay_<channel>.png`` for several
    channels) is :func:`overlayScoreMap` with its colour bar. A map of one value per mask
    position (``OutputUpsampling="none"``) is drawn enlarged with nearest-neighbour imresize.

    The files are written as one set (:func:`~matlab_occsens._utils.result_files.write_together`): if
    writing fails or is interrupted, the folder keeps the files it had, never a mix of old and
    new or a truncated file.
    """
    base = _file_stem(stem)
    values = np.asarray(scoreMap, dtype=np.float32)
    contents = {
        f"{base}_scoreMap.npy": _npy_bytes(values),
        f"{base}_scoreMap.mat": _mat_bytes({"scoreMap": values, "channelIdx": np.asarray(channels, np.float64)}),
    }
    planes = values[:, :, np.newaxis] if values.ndim == 2 else values
    size = list(display.shape[:2])
    for position, channel in enumerate(channels):
        plane = planes[:, :, position]
        if list(plane.shape) != size:
            plane = imresize(plane, size, "nearest")
        name = f"{base}_overlay.png" if len(channels) == 1 else f"{base}_overlay_{channel}.png"
        contents[name] = encode_image(overlayScoreMap(display, plane), name)
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    return write_together(target, contents)


def _npy_bytes(values: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, values)
    return buffer.getvalue()


def _mat_bytes(variables: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, variables)
    return buffer.getvalue()
