"""An arbitrary image made ready for one network, as MATLAB's documentation example prepares it.

The example resizes the image to the network's input size with ``imresize``; the command and the
dataset job do the same for any image, and also match its channels to the network's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ._imresize import imresize

__all__ = ["FittedImage", "fit_image"]


@dataclass(frozen=True)
class FittedImage:
    """An image made ready for one network."""

    pixels: np.ndarray
    """H×W×C in the network's ``InputSize`` and channel order: what the network is given."""
    display: np.ndarray
    """The same pixels as RGB (or H×W gray), for drawing the overlay."""
    notes: list[str] = field(default_factory=list)
    """What was done to the image, one sentence each."""


def fit_image(X: np.ndarray, input_size: tuple[int, ...], channel_order: Literal["RGB", "BGR"] = "RGB") -> FittedImage:
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
