"""The items of a dataset job, named once: arrays, files, folders, wildcards or a datastore.

Each item (an image, a volume or a signal, as the network's input says: :mod:`.kinds`) becomes
an entry a worker can load on its own: a path (read where the worker runs, so only its name
travels) or an array (which travels with the task). Names and fingerprints of the entries tell a
store which items it holds, so a rerun can resume or refuse.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._utils.checks import shown
from ._datastore import ImageDatastore, imageDatastore
from ._kinds import check_file_kind, listed_extensions

__all__ = ["ImageEntry", "ImageList", "file_stamp", "image_list"]

ImageEntry = str | np.ndarray
"""A path to read, or the item itself in MATLAB's layout (H×W(×C), S1×S2×S3(×C) or C×T, any
real numeric class)."""

#: Per kind: the ranks one item's array may have, their layout in words, and the rank of several
#: stacked along a last axis (MATLAB's layout for a batch of observations).
_ARRAY_FORMS = {
    "image": ((2, 3), "H×W or H×W×C", 4, "H×W×C×N"),
    "volume": ((3, 4), "S1×S2×S3 or S1×S2×S3×C", 5, "S1×S2×S3×C×N"),
    "signal": ((1, 2), "C×T (or a vector of T values)", 3, "C×T×N"),
}


@dataclass(frozen=True)
class ImageList:
    """The images of one job, in order."""

    entries: tuple[ImageEntry, ...]
    names: tuple[str, ...]
    """The path of each file, or ``"array <i>"`` (1-based) with the array's SHA-256 prefix."""
    labels: tuple[str, ...] | None = None
    """Each image's label, from an :class:`ImageDatastore` with labels."""

    def __len__(self) -> int:
        return len(self.entries)


def _fingerprint(array: np.ndarray) -> str:
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


def _arrays(images: np.ndarray | Sequence[np.ndarray], kind: str) -> ImageList:
    listed = [np.asarray(image) for image in images]
    ranks, layout, _, _ = _ARRAY_FORMS[kind]
    for position, image in enumerate(listed, start=1):
        if image.dtype.kind not in "biuf" or image.ndim not in ranks:
            raise TypeError(
                f"images: {kind} {position} must be a real numeric {layout} array; got "
                f"{image.dtype} of shape {image.shape}."
            )
    names = tuple(f"array {position} ({_fingerprint(image)})" for position, image in enumerate(listed, start=1))
    return ImageList(tuple(listed), names)


def _files(files: list[str], labels: tuple[str, ...] | None, kind: str, formats: str) -> ImageList:
    for name in files:
        check_file_kind(name, kind, formats)
    return ImageList(tuple(files), tuple(files), labels)


def image_list(images: Any, kind: str = "image", formats: str = "BCSS") -> ImageList:
    """``images`` as an :class:`ImageList` of items of ``kind`` (the network's, whose
    ``InputDataFormats`` is ``formats``).

    Accepted: an :class:`ImageDatastore`; a path, folder or wildcard (as :func:`imageDatastore`
    expands it, a folder listing the files of ``kind``: :func:`._kinds.listed_extensions`) or a
    list of them; several arrays stacked along a last axis in MATLAB's layout (H×W×C×N,
    S1×S2×S3×C×N, C×T×N); a list of arrays. A folder's files and a wildcard's matches are sorted.
    A file whose suffix is not of ``kind`` is refused here, before any work.
    """
    if isinstance(images, ImageDatastore):
        labels = None if images.Labels is None else tuple(images.Labels.tolist())
        return _files(images.Files, labels, kind, formats)
    if isinstance(images, (str, os.PathLike)) or (
        isinstance(images, Sequence) and images and all(isinstance(item, (str, os.PathLike)) for item in images)
    ):
        listed = [images] if isinstance(images, (str, os.PathLike)) else list(images)
        return image_list(imageDatastore(listed, FileExtensions=list(listed_extensions(kind))), kind, formats)
    if isinstance(images, np.ndarray):
        _, _, stacked, layout = _ARRAY_FORMS[kind]
        if images.ndim != stacked:
            raise ValueError(
                f"images: an array of several {kind}s must be {layout} (MATLAB's layout); got shape "
                f"{images.shape}. Pass one {kind} as a list: [X]."
            )
        return _arrays([images[..., n] for n in range(images.shape[-1])], kind)
    if isinstance(images, Sequence) and images and all(isinstance(item, np.ndarray) for item in images):
        return _arrays(images, kind)
    raise TypeError(
        f"images must be an imageDatastore, a path, folder or wildcard (or a list of them), {_ARRAY_FORMS[kind][3]} "
        f"arrays stacked or a list of {kind} arrays; got {shown(images)}."
    )


def file_stamp(entry: ImageEntry) -> tuple[int, int]:
    """The size in bytes and modification time (ns) of an entry's file, (0, 0) for an array: a
    file whose stamp differs from the one its map was computed from has changed."""
    if not isinstance(entry, str):
        return (0, 0)
    found = os.stat(entry)
    return (int(found.st_size), int(found.st_mtime_ns))
