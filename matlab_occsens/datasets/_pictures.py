"""Pictures of a store: one overlay per image, and an overview sheet of them with each image's
label and score under its tile (what MATLAB's ``imtile``/``montage`` of the overlays would show).

Each picture is written as the result files are (:func:`~matlab_occsens._utils.result_files.write_together`:
a temporary name, then a rename), so a full disk or an interrupt leaves the earlier picture or
none, never a truncated one. Images are numbered from 0, as in the store.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from .._utils.result_files import write_together
from ..image._display import overlayScoreMap
from ..image._fit import fit_image
from ..image._imageio import MAX_IMAGE_BYTES, encode_image
from ..image._imresize import imresize
from ._sources import ImageEntry, load_image
from ._store import DONE, MapStore

__all__ = ["overlays", "write_overlays", "overview", "write_overview"]

_CAPTION = 22  # pixels of caption under each tile


def overlays(
    store: MapStore,
    entries: tuple[ImageEntry, ...],
    input_size: tuple[int, ...],
    max_image_bytes: float | None = MAX_IMAGE_BYTES,
) -> Iterator[tuple[int, int, np.ndarray]]:
    """``(image index, channel, overlay)`` for every map of every completed image, one at a time."""
    status = store.status()
    for index in np.flatnonzero(status == DONE).tolist():
        display = fit_image(load_image(entries[index], max_image_bytes), input_size).display  # the RGB picture
        scoremap = store.read("maps", index)
        planes = scoremap[:, :, np.newaxis] if scoremap.ndim == 2 else scoremap
        for position, channel in enumerate(store.read("channels", index).tolist()):
            plane = planes[:, :, position]
            if plane.shape != display.shape[:2]:
                plane = imresize(plane, list(display.shape[:2]), "nearest")
            yield index, int(channel), overlayScoreMap(display, plane, Colorbar=False)


def write_overlays(
    store: MapStore,
    entries: tuple[ImageEntry, ...],
    names: tuple[str, ...],
    input_size: tuple[int, ...],
    folder: Path,
    max_image_bytes: float | None = MAX_IMAGE_BYTES,
) -> list[Path]:
    """One PNG per image and channel in ``folder``: ``<index>_<file stem>_<channel>.png``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for index, channel, picture in overlays(store, entries, input_size, max_image_bytes):
        stem = Path(names[index]).stem if not names[index].startswith("array ") else "array"
        name = f"{index:05d}_{stem}_{channel}.png"
        written += write_together(folder, {name: encode_image(picture, name)})
    return written


def write_overview(
    store: MapStore,
    entries: tuple[ImageEntry, ...],
    input_size: tuple[int, ...],
    classes: list[str] | None,
    target: Path,
    max_image_bytes: float | None = MAX_IMAGE_BYTES,
) -> Path:
    """The :func:`overview` sheet as the PNG ``target``."""
    sheet = overview(store, entries, input_size, classes, max_image_bytes=max_image_bytes)
    (written,) = write_together(target.parent, {target.name: encode_image(sheet, target)})
    return written


def _caption(tile: np.ndarray, text: str) -> np.ndarray:
    band = np.full((_CAPTION, tile.shape[1], 3), 255, np.uint8)
    cv2.putText(
        band,
        text[: max(tile.shape[1] // 7, 4)],
        (3, _CAPTION - 7),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.4,
        (0, 0, 0),
        1,
        cv2.LINE_AA,
    )
    return np.concatenate([tile, band])


def overview(
    store: MapStore,
    entries: tuple[ImageEntry, ...],
    input_size: tuple[int, ...],
    classes: list[str] | None = None,
    tile: int = 160,
    limit: int = 64,
    max_image_bytes: float | None = MAX_IMAGE_BYTES,
) -> np.ndarray:
    """A sheet of the first ``limit`` overlays (first channel of each image), ``tile`` pixels wide,
    in rows of ceil(sqrt(n)) like ``imtile``; under each: the class shown, and its score when it is the
    image's top-1 class."""
    tiles: list[tuple[int, np.ndarray]] = []
    for index, channel, picture in overlays(store, entries, input_size, max_image_bytes):
        if tiles and tiles[-1][0] == index:
            continue
        height = max(round(picture.shape[0] * tile / picture.shape[1]), 1)
        small = cv2.resize(picture, (tile, height), interpolation=cv2.INTER_AREA)
        name = classes[channel - 1] if classes is not None and channel <= len(classes) else f"channel {channel}"
        score = float(store.read("score", index))
        shown_is_top = int(store.read("predicted", index)) == channel and not math.isnan(score)
        text = f"{index}: {name}" + (f" {score:.2f}" if shown_is_top else "")
        tiles.append((index, _caption(small, text)))
        if len(tiles) == limit:
            break
    if not tiles:
        raise ValueError("the store has no completed maps to show.")
    columns = math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / columns)
    height = max(picture.shape[0] for _, picture in tiles)
    sheet = np.full((rows * height, columns * tile, 3), 255, np.uint8)
    for position, (_, picture) in enumerate(tiles):
        row, column = divmod(position, columns)
        sheet[row * height : row * height + picture.shape[0], column * tile : (column + 1) * tile] = picture
    return sheet
