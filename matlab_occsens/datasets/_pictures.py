"""Pictures of a store: one overlay per image, and an overview sheet of them with each image's
label and score under its tile (what MATLAB's ``imtile``/``montage`` of the overlays would show).

A volume's picture is the single-file command's montage of its slices with the map over them, a
signal's its plot with the map beneath (:mod:`matlab_occsens._volumes_signals.pictures`); a
volume read from NIfTI also gets its map as NIfTI on its own grid, with its affine, as the
single-file command writes it. Each item's files are written as the result files are
(:func:`~matlab_occsens._utils.result_files.write_together`: a temporary name, then a rename), so
a full disk or an interrupt leaves the earlier files or none, never a truncated one. Items are
numbered from 0, as in the store.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

from .._utils.result_files import write_together
from .._volumes_signals.nifti import map_on_input_grid, nifti_bytes
from .._volumes_signals.pictures import signal_picture, volume_picture
from .._volumes_signals.read import file_stem
from ..image._display import overlayScoreMap
from ..image._imageio import MAX_IMAGE_BYTES, encode_image
from ..image._imresize import imresize
from ._kinds import Observation, read_fitted, spatial_rank_of
from ._sources import ImageEntry
from ._store import DONE, MapStore

__all__ = ["overlays", "write_overlays", "overview", "write_overview"]

_CAPTION = 22  # pixels of caption under each tile


def _image_overlay(display: np.ndarray, plane: np.ndarray) -> np.ndarray:
    if plane.shape != display.shape[:2]:
        plane = imresize(plane, list(display.shape[:2]), "nearest")
    return overlayScoreMap(display, plane, Colorbar=False)


#: Per kind: one channel's picture from the item's display and that channel's map.
_PICTURE: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "image": _image_overlay,
    "volume": volume_picture,
    "signal": signal_picture,
}


def _completed(
    store: MapStore, entries: tuple[ImageEntry, ...], input_size: tuple[int, ...], max_image_bytes: float | None
) -> Iterator[tuple[int, Observation, np.ndarray, list[int]]]:
    """``(index, item fitted, map, channels)`` for every completed item, one at a time."""
    status = store.status()
    for index in np.flatnonzero(status == DONE).tolist():
        observation = read_fitted(entries[index], store.kind, input_size, limit=max_image_bytes)
        channels = [int(channel) for channel in store.read("channels", index).tolist()]
        yield index, observation, store.read("maps", index), channels


def _planes(scoremap: np.ndarray, kind: str) -> np.ndarray:
    """The map with its channels on a last axis, one channel too."""
    return scoremap[..., np.newaxis] if scoremap.ndim == spatial_rank_of(kind) else scoremap


def overlays(
    store: MapStore,
    entries: tuple[ImageEntry, ...],
    input_size: tuple[int, ...],
    max_image_bytes: float | None = MAX_IMAGE_BYTES,
) -> Iterator[tuple[int, int, np.ndarray]]:
    """``(item index, channel, picture)`` for every map of every completed item, one at a time:
    an image's overlay, a volume's montage, a signal's plot."""
    picture = _PICTURE[store.kind]
    for index, observation, scoremap, channels in _completed(store, entries, input_size, max_image_bytes):
        planes = _planes(scoremap, store.kind)
        for position, channel in enumerate(channels):
            yield index, channel, picture(observation.display, planes[..., position])


def write_overlays(
    store: MapStore,
    entries: tuple[ImageEntry, ...],
    names: tuple[str, ...],
    input_size: tuple[int, ...],
    folder: Path,
    max_image_bytes: float | None = MAX_IMAGE_BYTES,
    upsampling: str = "bicubic",
) -> list[Path]:
    """One PNG per item and channel in ``folder``: ``<index>_<file stem>_<channel>.png``; for a
    NIfTI volume also ``<index>_<file stem>_scoreMap.nii.gz`` (``.nii`` for a ``.nii`` input), its
    map on its own grid (every channel, a 4-D file for several), brought there as the single-file
    command brings it after ``upsampling``. Each item's files are written as one set."""
    folder.mkdir(parents=True, exist_ok=True)
    picture = _PICTURE[store.kind]
    written = []
    for index, observation, scoremap, channels in _completed(store, entries, input_size, max_image_bytes):
        stem = file_stem(names[index]) if not names[index].startswith("array ") else "array"
        base = f"{index:05d}_{stem}"
        planes = _planes(scoremap, store.kind)
        contents = {}
        for position, channel in enumerate(channels):
            name = f"{base}_{channel}.png"
            contents[name] = encode_image(picture(observation.display, planes[..., position]), name)
        if observation.nifti is not None:
            source = observation.nifti
            suffix = ".nii.gz" if source.compressed else ".nii"
            contents[f"{base}_scoreMap{suffix}"] = nifti_bytes(map_on_input_grid(scoremap, source, upsampling), source)
        written += write_together(folder, contents)
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
    """A sheet of the first ``limit`` pictures (first channel of each item: an image's overlay, a
    volume's montage, a signal's plot), ``tile`` pixels wide,
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
