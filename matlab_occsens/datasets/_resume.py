"""What a rerun must compute: images not done, and done images that cannot be trusted any more.

A completed image is skipped only when every chunk it wrote is there and reads back with its
checksum, and when its file (if it came from one) still has the size and modification time its
map was computed from. The checks read each completed image's chunks once (no inference), a
block of images at a time, so memory does not grow with the number of images; a block that
fails to read is read again image by image to name the damaged ones.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ._sources import ImageEntry, file_stamp
from ._store import DONE, MapStore

__all__ = ["Resume", "resume_plan"]

#: Bytes of maps read at once while checking (a block of images).
_BLOCK_BYTES = 32 * 2**20
#: The arrays whose chunks a completed image has (``failure`` is empty once an image is done).
_WRITTEN = ("maps", "channels", "predicted", "score", "file_stamp")


@dataclass
class Resume:
    """The images a run computes, and why some completed ones are computed again."""

    todo: list[int]
    damaged: dict[int, str] = field(default_factory=dict)
    """Completed images whose stored chunks are missing or fail their checksum -> what is wrong."""
    changed: list[int] = field(default_factory=list)
    """Completed images whose file changed since their map was computed."""


def _readable(store: MapStore, name: str, indices: list[int], problems: dict[int, str]) -> None:
    """Read array ``name`` for ``indices`` in blocks; record each image whose chunk fails."""
    array = store.array(name)
    per_image = max(int(np.prod(array.shape[1:])) * array.dtype.itemsize, 1)
    block = max(1, _BLOCK_BYTES // per_image)
    for first in range(0, len(indices), block):
        chosen = indices[first : first + block]
        try:
            array.get_orthogonal_selection((np.asarray(chosen),))
        except Exception:  # a checksum mismatch or an undecodable chunk somewhere in the block
            for index in chosen:
                try:
                    array[index]
                except Exception as error:
                    problems.setdefault(index, f"its {name} chunk fails its checksum ({_first_line(error)})")


def _first_line(error: Exception) -> str:
    text = " ".join(str(error).split())
    return text[:120] or type(error).__name__


def _statuses(store: MapStore, problems: dict[int, str]) -> np.ndarray:
    """Each image's completion record; an unreadable one counts as not done, and is recorded."""
    try:
        return store.status()
    except Exception:
        status = store.array("status")
        values = np.zeros(status.shape, np.int8)
        for index in range(status.shape[0]):
            try:
                values[index] = status[index]
            except Exception as error:
                values[index] = -1
                problems[index] = f"its status chunk fails its checksum ({_first_line(error)})"
        return values


def resume_plan(
    store: MapStore, entries: tuple[ImageEntry, ...], stamp: Callable[[ImageEntry], tuple[int, int]] = file_stamp
) -> Resume:
    """The images of ``store`` to compute, checking every completed one (reads only)."""
    problems: dict[int, str] = {}
    status = _statuses(store, problems)
    done = np.flatnonzero(status == DONE).tolist()
    for name in _WRITTEN:
        for index in done:
            if index not in problems and not os.path.isfile(store.chunk_file(name, index)):
                problems[index] = f"its {name} chunk is missing"
    for name in _WRITTEN:
        _readable(store, name, [index for index in done if index not in problems], problems)
    trusted = [index for index in done if index not in problems]
    changed = []
    files = [index for index in trusted if isinstance(entries[index], str)]
    if files:  # each of their stamps read back above
        recorded = np.asarray(store.array("file_stamp").get_orthogonal_selection((np.asarray(files),)))
        changed = [
            index for index, row in zip(files, recorded) if tuple(row.tolist()) != _stamp_or_none(stamp, entries[index])
        ]
    todo = sorted(set(np.flatnonzero(status != DONE).tolist()) | set(problems) | set(changed))
    return Resume(todo, dict(sorted(problems.items())), changed)


def _stamp_or_none(stamp: Callable[[ImageEntry], tuple[int, int]], entry: ImageEntry) -> tuple[int, int] | None:
    try:
        return stamp(entry)
    except OSError:
        return None  # gone: computed again, and failed with the reason then
