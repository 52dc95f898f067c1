"""Occlusion maps of whole datasets: an ``imageDatastore``, an in-process stream of maps, and a
job on Dask workers that writes every map into a Zarr store and resumes after a crash.

Zarr and Dask are the ``[datasets]`` extra; they are imported when a function that needs them is used.
"""

from typing import Any

from ._datastore import ImageDatastore, imageDatastore

__all__ = [
    "ImageDatastore",
    "JobSummary",
    "imageDatastore",
    "occlusionSensitivityDataset",
    "occlusionSensitivityMaps",
    "storeToMat",
]

_LAZY = {
    "occlusionSensitivityDataset": "_api",
    "occlusionSensitivityMaps": "_api",
    "JobSummary": "_job",
    "storeToMat": "_export",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
