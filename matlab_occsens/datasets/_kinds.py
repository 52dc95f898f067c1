"""What a job's items are, decided by the network's input as the single-file command decides it
(docs/specification.md §9.8): images, volumes or signals; which files of each kind a folder lists;
and how one item is read and fitted to the network, with the single-file command's own readers
(:mod:`matlab_occsens._volumes_signals`) and fitting, so that an item of a job and the same file
given alone to the command become the same X.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._core.formats import INPUT_FORMATS, input_kind, spatial_rank
from .._volumes_signals.fit import fit_signal, fit_volume
from .._volumes_signals.nifti import NIFTI_SUFFIXES, NiftiSource, nibabel_module
from .._volumes_signals.read import (
    SIGNAL_SUFFIXES,
    VOLUME_SUFFIXES,
    Signal,
    Volume,
    read_signal,
    read_volume,
    suffix_refused,
)
from ..image._fit import fit_image
from ..image._imageio import MAX_IMAGE_BYTES, imread
from ..network._base import Network
from ._datastore import IMAGE_EXTENSIONS

__all__ = [
    "ARRAY_SUFFIXES",
    "Observation",
    "check_channel_order",
    "check_channel_order_flag",
    "check_file_kind",
    "job_kind",
    "listed_extensions",
    "read_fitted",
    "spatial_rank_of",
]

#: The suffixes of volume and signal files, which an image network never reads.
ARRAY_SUFFIXES = tuple(dict.fromkeys((*VOLUME_SUFFIXES, *SIGNAL_SUFFIXES)))


def job_kind(net: Network) -> str:
    """ "image", "volume" or "signal": what ``net``'s input takes."""
    return input_kind(net.InputDataFormats)


def spatial_rank_of(kind: str) -> int:
    """The axes a map of one channel has: 2 (H×W), 3 (S1×S2×S3) or 1 (T), as the input formats
    of ``kind`` say."""
    return spatial_rank(next(form for form in INPUT_FORMATS if input_kind(form) == kind))


def listed_extensions(kind: str) -> tuple[str, ...]:
    """The files a folder or a wildcard contributes to a job of ``kind``."""
    return {"image": IMAGE_EXTENSIONS, "volume": VOLUME_SUFFIXES, "signal": SIGNAL_SUFFIXES}[kind]


def check_file_kind(name: str, kind: str, formats: str, network: str = "the network") -> None:
    """Refuse, before any work, a file whose suffix says it is not of the network's ``kind``
    (``formats``: the network's ``InputDataFormats``; ``network``: how the message names it). The
    single-file command and the dataset job refuse with this one rule. An image network refuses
    only the volume and signal suffixes: images come in many formats, which ``imread`` tells
    apart itself."""
    lower = name.lower()
    if kind == "image" and lower.endswith(ARRAY_SUFFIXES):
        raise ValueError(
            f"{network} takes 2-D images ({formats}), which are read from image files (PNG, JPEG, TIFF, ...); "
            f"{name!r} is for volume or signal networks."
        )
    if kind != "image" and not lower.endswith(listed_extensions(kind)):
        raise suffix_refused(name, kind, listed_extensions(kind))
    if kind == "volume" and lower.endswith(NIFTI_SUFFIXES):
        nibabel_module()  # its extra missing: said once, here, rather than once per volume


def check_channel_order(kind: str, channel_order: str) -> None:
    """Refuse a channel order other than the default for a volume or signal network: it says how an
    image's colours are ordered, and would otherwise be ignored without a word."""
    if kind != "image" and str(channel_order).upper() != "RGB":
        raise ValueError(
            f"ChannelOrder applies to image networks (the order of an image's colours); the network takes a "
            f"{kind}, whose channels are used as given; got {channel_order!r}."
        )


def check_channel_order_flag(channel_order: str | None, kind: str, model: str) -> None:
    """The command's form of :func:`check_channel_order`, for its single-file and dataset forms
    alike: ``--channel-order`` given at all for a volume or signal network is refused."""
    if kind != "image" and channel_order is not None:
        raise ValueError(f"argument --channel-order: applies to image networks; {model} takes a {kind}.")


@dataclass(frozen=True)
class Observation:
    """One item read and fitted to the network."""

    pixels: np.ndarray
    """X in MATLAB's layout and ``net.InputSize``: H×W×C, S1×S2×S3×C or C×T."""
    display: np.ndarray
    """What its picture shows: an image's RGB picture, a volume's first channel (S1×S2×S3), a
    signal's C×T values."""
    nifti: NiftiSource | None = None
    """A NIfTI volume's geometry, for its map written back onto its grid; None otherwise."""


def read_fitted(
    entry: str | np.ndarray,
    kind: str,
    input_size: tuple[int, ...],
    channel_order: str = "RGB",
    limit: float | None = MAX_IMAGE_BYTES,
) -> Observation:
    """One item (a file path, or an array in MATLAB's layout) read at most ``limit`` bytes once
    read, and fitted to ``input_size``: an image with ``imresize`` (:func:`fit_image`), a volume
    with ``imresize3`` (:func:`fit_volume`), a signal checked, never resampled (:func:`fit_signal`)."""
    name = repr(entry) if isinstance(entry, str) else "the array"
    if kind == "volume":
        volume = read_volume(entry, limit) if isinstance(entry, str) else Volume(entry)
        fitted = fit_volume(volume, input_size, name)
        return Observation(fitted.pixels, fitted.pixels[..., 0], volume.nifti)
    if kind == "signal":
        signal = read_signal(entry, limit) if isinstance(entry, str) else Signal(np.atleast_2d(entry))
        fitted = fit_signal(signal, input_size, name)
        return Observation(fitted.pixels, fitted.pixels)
    image = imread(entry, MaxImageBytes=limit) if isinstance(entry, str) else entry
    fitted_image = fit_image(image, input_size, channel_order)  # type: ignore[arg-type]
    return Observation(fitted_image.pixels, fitted_image.display)
