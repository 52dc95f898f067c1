"""A volume or a signal from any of its files, chosen by the file's suffix.

=========  =====================================  =====================================
kind       files                                  the array read (MATLAB's layout)
=========  =====================================  =====================================
volume     ``.npy``, NIfTI (``.nii``, ``.nii.gz``)  S1×S2×S3 (one channel) or S1×S2×S3×C
signal     ``.npy``, ``.csv``                      C×T (a ``.npy`` of T values: one feature)
=========  =====================================  =====================================

A ``.npy`` file holds the array in MATLAB's layout, as ``occlusionSensitivity`` takes it; a CSV
holds a signal as a table of T rows × C columns (see :mod:`.signal_csv`). Every reader refuses,
naming the file, what is not real finite numbers of the right rank, and anything larger than its
byte limit before reading it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from .arrays import existing_file, read_npy, shown_shape
from .nifti import NiftiSource, is_nifti, read_nifti
from .signal_csv import read_csv_signal

__all__ = [
    "SIGNAL_SUFFIXES",
    "VOLUME_SUFFIXES",
    "Signal",
    "Volume",
    "file_stem",
    "read_signal",
    "read_volume",
    "suffix_refused",
]

VOLUME_SUFFIXES = (".npy", ".nii", ".nii.gz")
SIGNAL_SUFFIXES = (".npy", ".csv")


@dataclass(frozen=True)
class Volume:
    """A volume as read from its file."""

    values: np.ndarray
    """S1×S2×S3 or S1×S2×S3×C, in the file's class (NIfTI: after its scaling)."""
    nifti: NiftiSource | None = None
    """The input's NIfTI geometry, for writing the map back onto it; None for ``.npy``."""
    notes: list[str] = field(default_factory=list)
    """What reading did to the values, one sentence each."""


@dataclass(frozen=True)
class Signal:
    """A signal as read from its file."""

    values: np.ndarray
    """C×T (features × time steps)."""
    names: tuple[str, ...] | None = None
    """The features' names, from a CSV's header row."""
    from_csv: bool = False
    """Whether the file was a CSV table (T rows × C columns), for messages in the file's terms."""


def file_stem(filename: str | os.PathLike) -> str:
    """The file's name without its suffix (both of ``.nii.gz``): ``brain.nii.gz`` -> ``brain``."""
    name = os.path.basename(os.fspath(filename))
    for suffix in (".nii.gz", ".nii", ".npy", ".csv"):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return os.path.splitext(name)[0] or name


def suffix_refused(name: str, kind: str, suffixes: tuple[str, ...]) -> ValueError:
    return ValueError(f"a {kind} network reads {', '.join(suffixes[:-1])} or {suffixes[-1]} files; got {name!r}.")


def read_volume(filename: str | os.PathLike, limit: float | None) -> Volume:
    """One volume from a ``.npy`` or NIfTI file, at most ``limit`` bytes once read (None: no limit)."""
    path = existing_file(filename)
    if is_nifti(path):
        values, source, notes = read_nifti(path, limit)
        return Volume(values, source, notes)
    if path.suffix.lower() != ".npy":
        raise suffix_refused(path.name, "volume", VOLUME_SUFFIXES)
    values = read_npy(path, "array", limit)
    if values.ndim not in (3, 4):
        raise ValueError(
            f"{str(path)!r} holds a {values.ndim}-D array ({shown_shape(values.shape)}); a volume is S1xS2xS3 "
            f"or S1xS2xS3xC{' (one volume per file)' if values.ndim == 5 else ''}."
        )
    return Volume(values)


def read_signal(filename: str | os.PathLike, limit: float | None) -> Signal:
    """One signal from a ``.npy`` (C×T, or T values) or CSV file, at most ``limit`` bytes once read."""
    path = existing_file(filename)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        values, names = read_csv_signal(path, limit)
        return Signal(values, names, from_csv=True)
    if suffix != ".npy":
        raise suffix_refused(path.name, "signal", SIGNAL_SUFFIXES)
    values = read_npy(path, "array", limit)
    if values.ndim not in (1, 2):
        raise ValueError(
            f"{str(path)!r} holds a {values.ndim}-D array ({shown_shape(values.shape)}); a signal is CxT "
            f"(features x time steps) or a vector of T values{' (one signal per file)' if values.ndim == 3 else ''}."
        )
    return Signal(values if values.ndim == 2 else values[np.newaxis])
