"""A store as a ``.mat`` file MATLAB can ``load``: the maps with the image axis last, as MATLAB
stacks observations (H×W×N, or H×W×n×N), and one row per image for everything else.

Memory must not grow with the number of images, but MATLAB's v5 format (scipy) is written from
arrays in memory. So "auto" writes v5 only for small map stacks; any other stack is written as
v7.3 (HDF5): the small variables through hdf5storage, which follows MATLAB's conventions for
them, then ``scoreMap`` streamed from the store one image at a time, in the layout hdf5storage
gives a single array. The file is written under a temporary name and renamed over the target at
the end, so a failure leaves the old file (or none), never a torn one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io

from .._utils.namevalue import match_string
from .._utils.result_files import replaced_together
from ._store import STORE_NAME, MapStore

__all__ = ["storeToMat", "V5_IN_MEMORY", "V5_LIMIT"]

#: The largest variable a v5 MAT-file holds (its sizes are 32-bit), less room for the header.
V5_LIMIT = 2**31 - 2**20

#: The largest map stack "auto" writes as v5: scipy writes v5 only from the whole stack in memory,
#: so beyond this the export streams v7.3 instead, whose memory is one image whatever N is.
V5_IN_MEMORY = 256 * 2**20


def _small_variables(store: MapStore) -> dict[str, Any]:
    """Everything but the maps: one row per image, small whatever the map size."""
    files = np.empty((len(store), 1), dtype=object)
    files[:, 0] = store.job["images"]
    failures = store.failures()  # image index -> reason, for failed images
    reasons = np.empty((len(store), 1), dtype=object)
    reasons[:, 0] = [failures.get(index, "") for index in range(len(store))]
    return {
        "Files": files,
        "channelIdx": store.read("channels").astype(np.float64),
        "predicted": store.read("predicted").astype(np.float64)[:, np.newaxis],
        "score": store.read("score").astype(np.float32)[:, np.newaxis],
        "done": (store.status() == 1)[:, np.newaxis],
        "failure": reasons,
    }


def _maps_bytes(store: MapStore) -> int:
    maps = store.array("maps")
    return int(np.prod(maps.shape)) * maps.dtype.itemsize


def _write_v5(store: MapStore, path: Path) -> None:
    """The whole stack in memory: scipy writes v5 only from arrays."""
    variables = {"scoreMap": np.moveaxis(store.read("maps"), 0, -1), **_small_variables(store)}
    with open(path, "xb") as file:
        scipy.io.savemat(file, variables, do_compression=False, oned_as="column")


def _write_v73(store: MapStore, path: Path) -> None:
    """The small variables by hdf5storage, then ``scoreMap`` one image (one chunk) at a time.

    MATLAB reads HDF5 in column-major order, so its H×W×N (H×W×n×N) array is a dataset of the
    reversed shape N×W×H (N×n×W×H), and each image's map goes in transposed.
    """
    import h5py
    import hdf5storage

    # Every variable is two-dimensional already; "row" makes hdf5storage write each text as MATLAB's
    # 1×n char (with "column" a name would come back in MATLAB as a column of characters).
    hdf5storage.savemat(
        str(path), _small_variables(store), format="7.3", oned_as="row", store_python_metadata=False, appendmat=False
    )
    shape = tuple(reversed(store.array("maps").shape[1:]))
    with h5py.File(path, "a") as mat:
        scoremap = mat.create_dataset("scoreMap", shape=(len(store), *shape), chunks=(1, *shape), dtype=np.float32)
        scoremap.attrs["MATLAB_class"] = np.bytes_(b"single")  # the attribute as hdf5storage writes it
        for index in range(len(store)):
            scoremap[index] = store.read("maps", index).T


def _format(requested: str, store: MapStore) -> str:
    """The format to write: "auto" resolved, and a v5 request the stack cannot fit refused."""
    size = _maps_bytes(store)
    if requested == "auto":
        return "5" if size < V5_IN_MEMORY else "7.3"
    if requested == "5" and size >= V5_LIMIT:
        raise ValueError(
            f'storeToMat: Format "5" must have maps below {V5_LIMIT} bytes (a v5 MAT-file\'s sizes are 32-bit); '
            f'got maps of {size} bytes. Use Format "7.3" or "auto".'
        )
    return requested


def storeToMat(store: str | os.PathLike, filename: str | os.PathLike, Format: str = "auto") -> Path:
    """Write the store in folder ``store`` as a MAT-file for MATLAB's ``load``.

    Variables: ``scoreMap`` (single, H×W×N or H×W×n×N; NaN for images without a map), ``Files``
    (N×1 cell), ``channelIdx`` (N×n), ``predicted`` and ``score`` (N×1), ``done`` (N×1 logical),
    ``failure`` (N×1 cell of reasons, empty where the image did not fail). An existing
    ``filename`` is replaced only once the new file is whole.

    Extension: in MATLAB, a script saves its maps with ``save(filename, "scoreMap", "-v7.3")``.

    Parameters
    ----------
    store : path
        The ``out`` folder of :func:`occlusionSensitivityDataset`, or its ``occlusion.zarr``.
    filename : path
        The MAT-file to write.
    Format : {"auto", "5", "7.3"}, default "auto"
        "auto": v5 below 256 MiB of maps, else v7.3 (HDF5), streamed with memory bounded by one
        image; "5" holds the whole map stack in memory and is refused above v5's 2 GiB limit.

    Returns
    -------
    Path
        ``filename``.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skimage import data
    >>> from matlab_occsens import imwrite
    >>> folder = Path(tempfile.mkdtemp())
    >>> for label, name in [("cats", "chelsea"), ("cups", "coffee"), ("people", "astronaut")]:
    ...     (folder / "photos" / label).mkdir(parents=True)
    ...     imwrite(getattr(data, name)(), folder / "photos" / label / f"{name}.png")
    >>> import scipy.io
    >>> from matlab_occsens.datasets import occlusionSensitivityDataset, storeToMat
    >>> from matlab_occsens.pretrained import EFFICIENTNET_LITE0
    >>> summary = occlusionSensitivityDataset(
    ...     EFFICIENTNET_LITE0.onnx_path(), folder / "photos/*/*.png", 968, out=folder / "results", workers=0,
    ...     import_options=EFFICIENTNET_LITE0.normalization(), progress=False
    ... )
    >>> saved = scipy.io.loadmat(storeToMat(folder / "results", folder / "maps.mat"))
    >>> saved["scoreMap"].shape, saved["scoreMap"].dtype.name  # H×W×N, single
    ((224, 224, 3), 'float32')
    """
    fmt = match_string(str(Format), ("auto", "5", "7.3"), "Format", "storeToMat")
    root = Path(store)
    opened = MapStore.for_reading(root / STORE_NAME if (root / STORE_NAME).exists() else root)
    fmt = _format(fmt, opened)
    target = Path(filename)
    with replaced_together(target.parent, [target.name]) as (temporary,):
        (_write_v5 if fmt == "5" else _write_v73)(opened, temporary)
    return target
