"""NIfTI volumes through nibabel (the ``volumes`` extra), and maps written back onto their grid.

The voxel array comes in the file's own index order, ``V[i, j, k]`` (``V[i, j, k, c]`` for a 4-D
file), as MATLAB's ``niftiread`` and nibabel return it: nothing is reoriented. The file's scaling
(``scl_slope``, ``scl_inter``) is applied, as nibabel and MONAI read NIfTI, and said in a note
(MATLAB's ``niftiread`` returns the stored values). A map written back keeps the input's affine
and header geometry, so it overlays the input in any viewer.

Only the NIfTI image classes are used, chosen from the header's size (348 bytes: NIfTI-1, 540:
NIfTI-2); ``nibabel.load``, which would try every format nibabel knows, is not. Reading a NIfTI
file runs no code from it.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from .._utils.install import install_command
from ..image._imresize3 import imresize3
from .arrays import check_dtype, check_finite, check_size, shown_shape

__all__ = [
    "NIFTI_SUFFIXES",
    "NiftiSource",
    "is_nifti",
    "map_on_input_grid",
    "nibabel_module",
    "nifti_bytes",
    "read_nifti",
]

NIFTI_SUFFIXES = (".nii", ".nii.gz")
_HEADER_SIZES = {348: "Nifti1Image", 540: "Nifti2Image"}


def is_nifti(path: Path) -> bool:
    return path.name.lower().endswith(NIFTI_SUFFIXES)


def nibabel_module() -> ModuleType:
    """nibabel, or an ImportError that names the ``[volumes]`` extra and the command installing it."""
    try:
        import nibabel
    except ImportError as missing:
        raise ImportError(
            f"reading NIfTI volumes needs nibabel, in the [volumes] extra: {install_command('volumes')}"
        ) from missing
    return nibabel


@dataclass(frozen=True)
class NiftiSource:
    """What a map written back needs of its input: the image class, header and affine."""

    image_class: Any
    """nibabel's ``Nifti1Image`` or ``Nifti2Image``, as the input is."""
    header: Any
    """A copy of the input's header: voxel sizes, units, qform and sform with their codes."""
    affine: np.ndarray
    """The input's voxel-to-world affine, 4×4."""
    spatial_shape: tuple[int, ...]
    """S1×S2×S3 of the input, the grid a map is written on."""
    compressed: bool
    """Whether the input was gzipped (``.nii.gz``); the map is written the same way."""


def _image_class(path: Path, nibabel: ModuleType) -> Any:
    try:
        with nibabel.openers.ImageOpener(str(path)) as file:
            start = file.read(4)
    except (OSError, EOFError) as error:
        raise ValueError(f"cannot read {str(path)!r} as NIfTI ({error}).") from error
    for order in ("little", "big"):
        name = _HEADER_SIZES.get(int.from_bytes(start, order)) if len(start) == 4 else None
        if name is not None:
            return getattr(nibabel, name)
    raise ValueError(f"{str(path)!r} is not a NIfTI-1 or NIfTI-2 file (its header does not start with 348 or 540).")


def _trimmed(path: Path, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The volume's shape, S1×S2×S3 or S1×S2×S3×C: trailing singleton dimensions beyond the
    fourth dropped, anything else refused."""
    while len(shape) > 4 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) > 4:
        raise ValueError(
            f"{str(path)!r} is a {len(shape)}-D NIfTI image ({shown_shape(shape)}); a volume is S1xS2xS3 or "
            f"S1xS2xS3xC (the fourth dimension taken as channels), so dimensions beyond the fourth are not read."
        )
    if len(shape) < 3:
        raise ValueError(
            f"{str(path)!r} is a {len(shape)}-D NIfTI image ({shown_shape(shape)}); a volume network takes three "
            f"spatial dimensions."
        )
    return shape


def read_nifti(path: Path, limit: float | None) -> tuple[np.ndarray, NiftiSource, list[str]]:
    """A NIfTI file's voxels (S1×S2×S3 or S1×S2×S3×C, the file's order, scaled), what writing a map
    back needs, and notes on what was done.

    The size is checked from the header before the voxels are read (for ``.nii.gz`` too: the
    header says how much the data inflates to).
    """
    nibabel = nibabel_module()
    image_class = _image_class(path, nibabel)
    try:
        image = image_class.from_filename(str(path), mmap=False)
    except Exception as error:  # nibabel's header and file errors have no common base
        raise ValueError(f"{str(path)!r} cannot be read as a NIfTI file ({error}).") from error
    header = image.header
    shape = _trimmed(path, tuple(int(size) for size in header.get_data_shape()))
    check_dtype(path, header.get_data_dtype())
    slope, inter = float(image.dataobj.slope), float(image.dataobj.inter)
    scaled = (slope, inter) != (1.0, 0.0)
    check_size(path, "NIfTI volume", shape, 8 if scaled else header.get_data_dtype().itemsize, limit)
    try:
        values = np.asarray(image.dataobj).reshape(shape)
    except Exception as error:  # a truncated file, a broken gzip stream
        raise ValueError(f"{str(path)!r} cannot be read as a NIfTI file ({error}).") from error
    check_finite(path, values)
    notes = []
    if scaled:
        notes.append(
            f"applied the file's scaling (scl_slope {slope:g}, scl_inter {inter:g}) as nibabel and MONAI read "
            f"NIfTI; MATLAB's niftiread returns the stored values"
        )
    source = NiftiSource(
        image_class, header.copy(), np.array(image.affine), shape[:3], path.name.lower().endswith(".gz")
    )
    return values, source, notes


def map_on_input_grid(scoreMap: np.ndarray, source: NiftiSource, upsampling: str) -> np.ndarray:
    """The map (S1×S2×S3, ×n for n channels) on the input's own grid, for a viewer to overlay it.

    A volume resized to the network's size gives a map of that size, and ``OutputUpsampling="none"``
    a grid of mask positions; either is resized to the input's S1×S2×S3 with ``imresize3``, per
    channel: "cubic" after "bicubic" upsampling, "nearest" after "nearest" or "none" (a grid's
    cells stay whole, as the image overlay enlarges them).
    """
    values = np.asarray(scoreMap, dtype=np.float32)
    if values.shape[:3] == source.spatial_shape:
        return values
    method = "cubic" if upsampling == "bicubic" else "nearest"
    planes = values[..., np.newaxis] if values.ndim == 3 else values
    resized = [
        imresize3(planes[..., channel], list(source.spatial_shape), method) for channel in range(planes.shape[3])
    ]
    return np.stack(resized, axis=3) if values.ndim == 4 else resized[0]


def nifti_bytes(scoreMap: np.ndarray, source: NiftiSource) -> bytes:
    """The map (S1×S2×S3, or S1×S2×S3×n for n channels, on the input's grid) as a NIfTI file of the
    input's class, with its affine, voxel sizes, units and qform/sform codes; float32, unscaled.

    The header's display range, intent and extensions are the input's data's, not the map's, so
    they are cleared.
    """
    values = np.asarray(scoreMap, dtype=np.float32)
    if values.shape[:3] != source.spatial_shape:
        raise ValueError(
            f"the map is {shown_shape(values.shape)}; the input's grid is {shown_shape(source.spatial_shape)}."
        )
    header = source.header.copy()
    header.extensions.clear()
    image = source.image_class(values, source.affine, header)
    image.set_data_dtype(np.float32)
    image.header["cal_min"], image.header["cal_max"] = 0, 0
    image.header.set_intent("none", (), name="")
    image.header["descrip"] = b"occlusionSensitivity scoreMap"
    data = image.to_bytes()
    return gzip.compress(data, mtime=0) if source.compressed else data
