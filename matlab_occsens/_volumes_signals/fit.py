"""A volume or a signal made ready for one network, as the command prepares an image.

An image is resized to ``net.InputSize`` with ``imresize``, as MATLAB's documentation example
does; a volume is resized the same way with ``imresize3`` (cubic), channel by channel. A signal
is not: resampling a signal to another length changes what its time steps mean (a sampling rate,
a sentence's words), so a signal of another length is refused with what to do instead. Channels
are never invented or dropped: a count that differs from the network's is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..image._imresize import SUPPORTED_DTYPES
from ..image._imresize3 import imresize3
from .arrays import shown_shape
from .read import Signal, Volume

__all__ = ["Fitted", "fit_signal", "fit_volume"]


@dataclass(frozen=True)
class Fitted:
    """An observation made ready for one network."""

    pixels: np.ndarray
    """X in MATLAB's layout and the network's ``InputSize``: S1×S2×S3×C, or C×T."""
    notes: list[str] = field(default_factory=list)
    """What was done to it, one sentence each."""


def fit_volume(volume: Volume, input_size: tuple[int, ...], name: str) -> Fitted:
    """``volume`` as the S1×S2×S3×C X of a network of ``input_size``: resized with ``imresize3``
    (cubic, with antialiasing when an axis shrinks) where its size differs.

    Raises
    ------
    ValueError
        Its channels differ from the network's (named ``name``, with the likely fix).
    """
    spatial, channels = tuple(input_size[:3]), int(input_size[3])
    values = volume.values if volume.values.ndim == 4 else volume.values[..., np.newaxis]
    if values.shape[3] != channels:
        hint = ""
        if volume.values.ndim == 4 and volume.values.shape[0] == channels:
            hint = " It looks like CxS1xS2xS3 (channels first); volumes are S1xS2xS3xC: save np.moveaxis(V, 0, -1)."
        elif volume.values.ndim == 4 and volume.nifti is not None:
            hint = " A 4-D NIfTI file's fourth dimension is read as channels."
        raise ValueError(
            f"{name} has {values.shape[3]} channel(s) ({shown_shape(volume.values.shape)}) but the network takes "
            f"{channels} (net.InputSize {shown_shape(tuple(input_size))}).{hint}"
        )
    notes = list(volume.notes)
    if values.shape[:3] != spatial:
        notes.append(
            f"resized {shown_shape(values.shape[:3])} to {shown_shape(spatial)} with imresize3 (cubic), as an "
            f"image is resized with imresize"
        )
        if values.dtype not in SUPPORTED_DTYPES:  # int64, bool, float16: no MATLAB class; same numbers
            values = values.astype(np.float64)
        values = np.stack([imresize3(values[..., channel], list(spatial)) for channel in range(channels)], axis=3)
    return Fitted(np.ascontiguousarray(values), notes)


def _index_column(signal: Signal) -> bool:
    """Whether a CSV's first column looks like a written row index (pandas' ``to_csv`` default)."""
    first = signal.values[0]
    unnamed = signal.names is not None and signal.names[0] in ("", "Unnamed: 0")
    return unnamed or bool(np.array_equal(first, np.arange(first.size)))


def fit_signal(signal: Signal, input_size: tuple[int, ...], name: str) -> Fitted:
    """``signal`` as the C×T X of a network of ``input_size``, unchanged.

    Raises
    ------
    ValueError
        Its features or its length differ from the network's: the message names the expected
        C×T and what to do (the command never resamples a signal).
    """
    channels, steps = int(input_size[0]), int(input_size[1])
    values = signal.values
    given, length = values.shape
    expected = f"the network takes {channels} feature(s) x {steps} time steps (net.InputSize [{channels} {steps}])"
    if (given, length) == (channels, steps):
        return Fitted(values)
    if (given, length) == (steps, channels):
        fix = (
            "its rows must be time steps and its columns features: transpose the table"
            if signal.from_csv
            else "it looks like TxC (time steps first); signals are CxT: save X.T"
        )
        raise ValueError(f"{name} is {given}x{length} (CxT) and {expected}; {fix}.")
    if given != channels:
        layout = "columns (features)" if signal.from_csv else "features (rows of the CxT array)"
        hint = ""
        if signal.from_csv and given == channels + 1 and _index_column(signal):
            hint = " Its first column looks like a row index, which pandas' to_csv writes: save with index=False."
        raise ValueError(f"{name} has {given} {layout} and {expected}.{hint}")
    raise ValueError(
        f"{name} has {length} time steps and {expected}. The command does not resample signals: crop or "
        f"resample it to {steps} steps, or, for a network that takes any length, give --input-size {channels} {length}."
    )
