"""The images of a dataset job, named once: arrays, files, folders, wildcards or a datastore.

Each image becomes an entry a worker can load on its own: a path (read where the worker runs, so
only its name travels) or an array (which travels with the task). Names and fingerprints of the
entries tell a store which images it holds, so a rerun can resume or refuse.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._utils.checks import shown
from ..image._imageio import MAX_IMAGE_BYTES, imread
from ._datastore import ImageDatastore, imageDatastore

__all__ = ["ImageEntry", "ImageList", "file_stamp", "image_list", "load_image"]

ImageEntry = str | np.ndarray
"""A path to read, or the image itself (H×W or H×W×C, any real numeric class)."""


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


def _arrays(images: np.ndarray | Sequence[np.ndarray]) -> ImageList:
    listed = [np.asarray(image) for image in images]
    for position, image in enumerate(listed, start=1):
        if image.dtype.kind not in "biuf" or image.ndim not in (2, 3):
            raise TypeError(
                f"images: image {position} must be a real numeric H×W or H×W×C array; got "
                f"{image.dtype} of shape {image.shape}."
            )
    names = tuple(f"array {position} ({_fingerprint(image)})" for position, image in enumerate(listed, start=1))
    return ImageList(tuple(listed), names)


def image_list(images: Any) -> ImageList:
    """``images`` as an :class:`ImageList`.

    Accepted: an :class:`ImageDatastore`; a path, folder or wildcard (as
    :func:`imageDatastore` expands it) or a list of them; an H×W×C×N array (MATLAB's layout
    for several images); a list of H×W(×C) arrays. A folder's files and a wildcard's matches
    are sorted.
    """
    if isinstance(images, ImageDatastore):
        labels = None if images.Labels is None else tuple(images.Labels.tolist())
        return ImageList(tuple(images.Files), tuple(images.Files), labels)
    if isinstance(images, (str, os.PathLike)):
        return image_list(imageDatastore(images))
    if isinstance(images, np.ndarray):
        if images.ndim != 4:
            raise ValueError(
                f"images: an array of several images must be H×W×C×N (MATLAB's layout); got shape "
                f"{images.shape}. Pass one image as a list: [X]."
            )
        return _arrays([images[..., n] for n in range(images.shape[3])])
    if isinstance(images, Sequence) and images and all(isinstance(item, (str, os.PathLike)) for item in images):
        return image_list(imageDatastore(list(images)))
    if isinstance(images, Sequence) and images and all(isinstance(item, np.ndarray) for item in images):
        return _arrays(images)
    raise TypeError(
        "images must be an imageDatastore, a path, folder or wildcard (or a list of them), an H×W×C×N "
        f"array or a list of image arrays; got {shown(images)}."
    )


def load_image(entry: ImageEntry, max_image_bytes: float | None = MAX_IMAGE_BYTES) -> np.ndarray:
    """The pixels of one entry: the file read with :func:`imread` (refused from its header when it
    would decode to more than ``max_image_bytes``), or the array itself."""
    return imread(entry, MaxImageBytes=max_image_bytes) if isinstance(entry, str) else entry


def file_stamp(entry: ImageEntry) -> tuple[int, int]:
    """The size in bytes and modification time (ns) of an entry's file, (0, 0) for an array: a
    file whose stamp differs from the one its map was computed from has changed."""
    if not isinstance(entry, str):
        return (0, 0)
    found = os.stat(entry)
    return (int(found.st_size), int(found.st_mtime_ns))
