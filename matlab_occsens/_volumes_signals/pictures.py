"""The pictures of a volume's map and of a signal's, as RGB arrays drawn without a plotting library.

A volume is shown as MATLAB shows one with ``montage``: its planes ``V(:, :, k)`` side by side,
left to right and top to bottom, about as many columns as rows, no borders; the map is drawn over
the montage as :func:`~matlab_occsens.image._display.overlayScoreMap` draws an image's map (``jet``
at 50 % opacity, one colour scale for every plane, a colour bar). A signal is drawn as a plot of
its features, one band each, with the map beneath on the same time axis as a strip of ``jet``
colours (``imagesc`` of the map as a row) and its colour bar. Both are ordinary uint8 arrays, like
the image overlay, so the command needs no matplotlib.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..image._display import auto_clim, colorbar_panel, colormap_indices, jet, overlayScoreMap, to_uint8
from ..image._imresize import imresize
from ..image._imresize3 import imresize3

__all__ = ["MOST_PLANES", "montage", "montage_planes", "signal_picture", "time_columns", "volume_picture"]

#: The most planes a volume's montage shows: all of a volume with this many planes or fewer, else
#: this many, evenly spaced from the first plane to the last.
MOST_PLANES = 36
_SMALLEST = 480  # pixels: a smaller montage or plot is enlarged (by whole pixels) to about this
_WIDEST = 4096  # pixels: a longer signal shares pixel columns between time steps
_BAND = (16, 64)  # pixels per feature of a signal's plot: fewest, most
_STRIP = 64  # pixels: the height of a signal's map strip
_GAP = 6
#: MATLAB's default line colours (``lines``), one per feature in turn.
_LINES = np.array(
    [
        [0.0000, 0.4470, 0.7410],
        [0.8500, 0.3250, 0.0980],
        [0.9290, 0.6940, 0.1250],
        [0.4940, 0.1840, 0.5560],
        [0.4660, 0.6740, 0.1880],
        [0.3010, 0.7450, 0.9330],
        [0.6350, 0.0780, 0.1840],
    ]
)


def montage_planes(count: int, most: int = MOST_PLANES) -> np.ndarray:
    """The 0-based planes a montage of ``count`` planes shows: all of them, or ``most`` evenly
    spaced from the first to the last (positions rounded half up)."""
    if count <= most:
        return np.arange(count)
    return np.floor(np.linspace(0, count - 1, most) + 0.5).astype(np.intp)


def montage(planes: np.ndarray, columns: int, fill: float = 0) -> np.ndarray:
    """Planes ``(n, h, w, ...)`` tiled left to right, then top to bottom, ``columns`` per row; the
    cells after the last plane hold ``fill``."""
    count, height, width = planes.shape[:3]
    rows = math.ceil(count / columns)
    sheet = np.full((rows * height, columns * width, *planes.shape[3:]), fill, planes.dtype)
    for index in range(count):
        row, column = divmod(index, columns)
        sheet[row * height : (row + 1) * height, column * width : (column + 1) * width] = planes[index]
    return sheet


def _enlarged(planes: np.ndarray, factor: int) -> np.ndarray:
    return np.repeat(np.repeat(planes, factor, axis=1), factor, axis=2)


def volume_picture(volume: np.ndarray, scoreMap: np.ndarray) -> np.ndarray:
    """One channel's map over a montage of the volume's planes along its third axis.

    ``volume`` is S1×S2×S3 (one channel), shown gray from its minimum to its maximum;
    ``scoreMap`` is S1×S2×S3, or the grid of ``OutputUpsampling="none"``, which is drawn enlarged
    with ``imresize3(..., "nearest")``. The planes are :func:`montage_planes` of S3 in
    ceil(sqrt(n)) columns, every pixel enlarged f times when the montage is small (f the largest
    whole number keeping it within 480 pixels, at least 1); the colours span the whole map's
    [min max], and the colour bar is on the right. Returns an RGB uint8 array.
    """
    values = np.asarray(volume, dtype=np.float64)
    plane_map = np.asarray(scoreMap, dtype=np.float64)
    if plane_map.shape != values.shape:
        plane_map = imresize3(plane_map, list(values.shape), "nearest")
    low, high = float(values.min()), float(values.max())
    unit = (values - low) / (high - low) if high > low else np.zeros_like(values)
    shown = montage_planes(values.shape[2])
    columns = math.ceil(math.sqrt(shown.size))
    rows = math.ceil(shown.size / columns)
    factor = max(1, _SMALLEST // max(rows * values.shape[0], columns * values.shape[1]))
    clim = auto_clim(plane_map)
    gray = montage(_enlarged(np.moveaxis(unit[:, :, shown], 2, 0), factor), columns)
    colours = montage(_enlarged(np.moveaxis(plane_map[:, :, shown], 2, 0), factor), columns, fill=clim[0])
    picture = overlayScoreMap(gray, colours, CLim=list(clim))
    tile_height, tile_width = values.shape[0] * factor, values.shape[1] * factor
    for empty in range(shown.size, rows * columns):  # the cells after the last plane: white
        row, column = divmod(empty, columns)
        picture[row * tile_height : (row + 1) * tile_height, column * tile_width : (column + 1) * tile_width] = 255
    return picture


def time_columns(steps: int) -> np.ndarray:
    """The time step (0-based) each pixel column of a signal's picture shows: every step
    repeated f times (f the largest whole number keeping the plot within 480 pixels, at least
    1), or, beyond 4096 steps, 4096 columns sampling the steps at their centres."""
    width = min(steps * max(1, _SMALLEST // steps), _WIDEST)
    return np.minimum(((np.arange(width) + 0.5) * steps / width).astype(np.intp), steps - 1)


def _plot(values: np.ndarray, width: int) -> np.ndarray:
    """Each feature of a C×T signal as a line in a band of its own, from its minimum to its maximum."""
    features, steps = values.shape
    band = min(max(_SMALLEST // (2 * features), _BAND[0]), _BAND[1])
    panel = np.full((band * features, width, 3), 255, np.uint8)
    x = (np.arange(steps) + 0.5) * width / steps
    margin = max(2, band // 8)
    for feature, line in enumerate(values.astype(np.float64)):
        low, high = float(line.min()), float(line.max())
        level = (line - low) / (high - low) if high > low else np.full(steps, 0.5)
        y = feature * band + margin + (1.0 - level) * (band - 1 - 2 * margin)
        points = np.round(np.stack([x, y], axis=1) * 16).astype(np.int32)  # 4 bits of sub-pixel position
        colour = tuple(int(channel) for channel in to_uint8(_LINES[feature % len(_LINES)]))
        if feature:
            panel[feature * band, :] = 220  # a light rule between bands
        cv2.polylines(panel, [points], False, colour, 1, cv2.LINE_AA, shift=4)
    return panel


def signal_picture(signal: np.ndarray, scoreMap: np.ndarray) -> np.ndarray:
    """A C×T signal's features, one band each (feature 1 on top), with one channel's map beneath
    on the same time axis as a strip of ``jet`` colours, and its colour bar.

    ``scoreMap`` has T values, or is the grid of ``OutputUpsampling="none"``, drawn enlarged with
    ``imresize(..., "nearest")`` along time. Pixel column x shows time step
    ``time_columns(T)[x]``; the colours span the map's [min max]. Returns an RGB uint8 array.
    """
    values = np.asarray(signal, dtype=np.float64)
    line = np.asarray(scoreMap, dtype=np.float64).ravel()
    steps = values.shape[1]
    if line.size != steps:
        line = imresize(line[:, np.newaxis], [steps, 1], "nearest")[:, 0]
    columns = time_columns(steps)
    colors = jet()
    clim = auto_clim(line)
    strip = np.repeat(to_uint8(colors[colormap_indices(line[columns], clim, len(colors))])[np.newaxis], _STRIP, axis=0)
    bar = colorbar_panel(_STRIP, clim, colors)
    plot = _plot(values, columns.size)
    top = np.concatenate([plot, np.full((plot.shape[0], bar.shape[1], 3), 255, np.uint8)], axis=1)
    gap = np.full((_GAP, top.shape[1], 3), 255, np.uint8)
    return np.concatenate([top, gap, np.concatenate([strip, bar], axis=1)], axis=0)
