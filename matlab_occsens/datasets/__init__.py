"""Occlusion maps of whole datasets: an ``imageDatastore``, an in-process stream of maps, and a
job on Dask workers that writes every map into a Zarr store and resumes after a crash."""

from .api import occlusionSensitivityDataset, occlusionSensitivityMaps
from .datastore import ImageDatastore, imageDatastore
from .job import JobSummary

__all__ = ["ImageDatastore", "JobSummary", "imageDatastore", "occlusionSensitivityDataset", "occlusionSensitivityMaps"]
