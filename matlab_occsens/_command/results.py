"""The result files of the ``matlab-occsens`` command: the map as ``.npy`` and ``.mat``, and its pictures.

MATLAB's documentation example reads an image, resizes it to the network's input size, classifies
it, computes the map and draws it over the image; the command does the same for any ONNX file and
writes what it found here, as one set of files. Volumes and signals get the same ``.npy`` and
``.mat`` files, their own pictures (a montage of slices; a plot with the map beneath), and a
volume read from NIfTI its map as NIfTI on the input's own grid.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.io

from .._utils.result_files import write_together
from .._volumes_signals.nifti import NiftiSource, map_on_input_grid, nifti_bytes
from .._volumes_signals.pictures import signal_picture, volume_picture
from ..image._display import overlayScoreMap
from ..image._imageio import encode_image
from ..image._imresize import imresize

__all__ = ["save_results", "save_signal_results", "save_volume_results"]


def _file_stem(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "image"


def _map_files(values: np.ndarray, base: str, channels: list[int], oned_as: str = "row") -> dict[str, bytes]:
    """``<base>_scoreMap.npy`` (the array as returned) and ``<base>_scoreMap.mat`` (MATLAB variables
    ``scoreMap``, single, and the 1-based ``channelIdx``)."""
    return {
        f"{base}_scoreMap.npy": _npy_bytes(values),
        f"{base}_scoreMap.mat": _mat_bytes(
            {"scoreMap": values, "channelIdx": np.asarray(channels, np.float64)[np.newaxis]}, oned_as
        ),
    }


def _pictures(
    values: np.ndarray, channels: list[int], name: str, picture: Callable[[np.ndarray], np.ndarray]
) -> dict[str, bytes]:
    """One PNG per channel: ``name.png``, or ``name_<channel>.png`` for several channels; the
    channels are the last axis of a map with several."""
    several = len(channels) > 1
    files = {}
    for position, channel in enumerate(channels):
        file_name = f"{name}_{channel}.png" if several else f"{name}.png"
        files[file_name] = encode_image(picture(values[..., position] if several else values), file_name)
    return files


def _write(directory: str | Path, contents: dict[str, bytes]) -> list[Path]:
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    return write_together(target, contents)


def save_results(
    scoreMap: np.ndarray, display: np.ndarray, directory: str | Path, stem: str, channels: list[int]
) -> list[Path]:
    """Write an image's map as ``.npy`` and ``.mat`` and one overlay PNG per channel; return the paths.

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
    size = list(display.shape[:2])

    def overlay(plane: np.ndarray) -> np.ndarray:
        return overlayScoreMap(display, plane if list(plane.shape) == size else imresize(plane, size, "nearest"))

    return _write(
        directory, {**_map_files(values, base, channels), **_pictures(values, channels, f"{base}_overlay", overlay)}
    )


def save_volume_results(
    scoreMap: np.ndarray,
    volume: np.ndarray,
    directory: str | Path,
    stem: str,
    channels: list[int],
    nifti: NiftiSource | None,
    upsampling: str,
) -> list[Path]:
    """Write a volume's map as ``.npy``, ``.mat``, NIfTI (for a NIfTI input) and montages; return the paths.

    ``.npy`` and ``.mat`` hold the map as returned (S1×S2×S3 of the network's input, ×n for n
    channels). For a NIfTI input, ``<stem>_scoreMap.nii.gz`` (``.nii`` for a ``.nii`` input)
    holds it on the input's own grid, with its affine (:func:`map_on_input_grid`), a 4-D file for
    several channels. ``<stem>_montage.png`` (``_montage_<channel>.png``) draws each channel's
    map over the montage of the volume's first channel (``volume`` is the S1×S2×S3×C the network
    was given). Written as one set, as :func:`save_results`.
    """
    base = _file_stem(stem)
    values = np.asarray(scoreMap, dtype=np.float32)
    contents = _map_files(values, base, channels)
    if nifti is not None:
        suffix = ".nii.gz" if nifti.compressed else ".nii"
        contents[f"{base}_scoreMap{suffix}"] = nifti_bytes(map_on_input_grid(values, nifti, upsampling), nifti)
    first = volume[..., 0]
    contents.update(_pictures(values, channels, f"{base}_montage", lambda plane: volume_picture(first, plane)))
    return _write(directory, contents)


def save_signal_results(
    scoreMap: np.ndarray, signal: np.ndarray, directory: str | Path, stem: str, channels: list[int]
) -> list[Path]:
    """Write a signal's map as ``.npy``, ``.mat`` and plots; return the paths.

    ``.npy`` holds the map as returned (T values, T×n for n channels); ``.mat`` the same as
    ``scoreMap``, a T×1 column for one channel. ``<stem>_plot.png`` (``_plot_<channel>.png``)
    draws the C×T ``signal`` with each channel's map beneath (:func:`signal_picture`). Written
    as one set, as :func:`save_results`.
    """
    base = _file_stem(stem)
    values = np.asarray(scoreMap, dtype=np.float32)
    contents = _map_files(values, base, channels, oned_as="column")
    contents.update(_pictures(values, channels, f"{base}_plot", lambda line: signal_picture(signal, line)))
    return _write(directory, contents)


def _npy_bytes(values: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, values)
    return buffer.getvalue()


def _mat_bytes(variables: dict[str, np.ndarray], oned_as: str = "row") -> bytes:
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, variables, oned_as=oned_as)
    return buffer.getvalue()
