"""A store as a ``.mat`` file MATLAB can ``load``: the maps with the image axis last, as MATLAB
stacks observations (H×W×N, or H×W×n×N), and one row per image for everything else.

MATLAB's v5 format (scipy) holds variables below 2 GiB; larger map stacks are written as v7.3
(HDF5, through hdf5storage, which follows MATLAB's conventions for it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io

from ..namevalue import match_string
from .store import STORE_NAME, MapStore

__all__ = ["storeToMat", "V5_LIMIT"]

#: The largest variable a v5 MAT-file holds (its sizes are 32-bit), less room for the header.
V5_LIMIT = 2**31 - 2**20


def _variables(store: MapStore) -> dict[str, Any]:
    maps = store.read("maps")
    files = np.empty((len(store), 1), dtype=object)
    files[:, 0] = store.job["images"]
    failures = store.failures()
    reasons = np.empty((len(store), 1), dtype=object)
    reasons[:, 0] = [failures.get(index, "") for index in range(len(store))]
    return {
        "scoreMap": np.moveaxis(maps, 0, -1),
        "Files": files,
        "channelIdx": store.read("channels").astype(np.float64),
        "predicted": store.read("predicted").astype(np.float64)[:, np.newaxis],
        "score": store.read("score").astype(np.float32)[:, np.newaxis],
        "done": (store.status() == 1)[:, np.newaxis],
        "failure": reasons,
    }


def storeToMat(store: str | os.PathLike, filename: str | os.PathLike, Format: str = "auto") -> Path:
    """Extension: write the store in folder ``store`` as MAT-file ``filename``; returns its path.

    Variables: ``scoreMap`` (single, H×W×N or H×W×n×N; NaN for images without a map), ``Files``
    (N×1 cell), ``channelIdx`` (N×n), ``predicted`` and ``score`` (N×1), ``done`` (N×1 logical),
    ``failure`` (N×1 cell of reasons, empty where the image did not fail).

    ``Format``: "auto" (v5 while the maps fit, else v7.3), "5" or "7.3".
    """
    fmt = match_string(str(Format), ("auto", "5", "7.3"), "Format", "storeToMat")
    root = Path(store)
    opened = MapStore(root / STORE_NAME if (root / STORE_NAME).exists() else root, mode="r")
    variables = _variables(opened)
    if fmt == "auto":
        fmt = "5" if variables["scoreMap"].nbytes < V5_LIMIT else "7.3"
    target = Path(filename)
    if fmt == "5":
        scipy.io.savemat(target, variables, do_compression=False, oned_as="column")
    else:
        import hdf5storage

        hdf5storage.savemat(str(target), variables, format="7.3", oned_as="column", store_python_metadata=False)
    return target
