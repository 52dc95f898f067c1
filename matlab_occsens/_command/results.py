"""The result files of the ``matlab-occsens`` command: the map as ``.npy`` and ``.mat``, and its overlays.

MATLAB's documentation example reads an image, resizes it to the network's input size, classifies
it, computes the map and draws it over the image; the command does the same for any ONNX file and
writes what it found here, as one set of files.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import scipy.io

from .._utils.result_files import write_together
from ..image._display import overlayScoreMap
from ..image._imageio import encode_image
from ..image._imresize import imresize

__all__ = ["save_results"]


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
