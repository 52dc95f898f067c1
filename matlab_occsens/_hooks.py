"""Internal, but kept stable for ``benchmarks/``, ``compat/`` and ``tools/``: the only internals they may import.

The benchmarks measure the package against the limit of its own engines (the very images a map
forwards, through the same runtime), and the cross-check kit diagnoses a disagreement with MATLAB
rule by rule (the resolved options, the grid, the channel totals); both need a little more than
the public API. Everything they need is named here, once, and ``tests/test_public_api.py`` fails
when they import any other internal name. docs/architecture.md lists these hooks with their use.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ._backends.cpu import physical_cores
from ._backends.ort import session_options
from ._core import option_table
from ._core.activations import channel_totals
from ._core.grid import MaskGrid, mask_grid
from ._core.occlusion import map_request, occlusion_job
from ._core.options import OcclusionOptions, mround, occlusion_options
from ._incremental.cache import derived
from ._incremental.cost import Work
from ._incremental.graph import Unsupported
from ._incremental.plan import chunk_between, ideal_work, rest_work
from ._incremental.policy import incremental_forward, ordinary_images, plan_for, spatial_graph
from ._stream.drive import batch_search, observe_forwards
from ._stream.job import OcclusionJob, occluded_batches
from .network import Network

if TYPE_CHECKING:  # at run time through __getattr__ below, so that importing the hooks imports no torch
    from ._backends.torch_engine import CPU_UNIT, forward_alone

__all__ = [
    # the rules of a map, for the cross-check kit and the benchmarks' grids
    "MaskGrid",
    "OcclusionOptions",
    "channel_totals",
    "mask_grid",
    "mround",
    "occlusion_options",
    # the very images a map forwards, and the runtime they go through (the limit)
    "CPU_UNIT",
    "OcclusionJob",
    "batch_search",
    "forward_alone",
    "observe_forwards",
    "occluded_images",
    "physical_cores",
    "session_options",
    # the one option table, which tools/option_table.py renders into the docs
    "option_table",
    # the incremental path's analysis and plans (its benchmark and the cost model's calibration)
    "Unsupported",
    "Work",
    "chunk_between",
    "derived",
    "ideal_work",
    "incremental_forward",
    "ordinary_images",
    "plan_for",
    "rest_work",
    "spatial_graph",
]


def occluded_images(net: Network, X: Any, batch_size: int, *args: Any, **options: Any) -> Iterator[np.ndarray]:
    """The very images ``occlusionSensitivity(net, X, 1, *args, **options)`` forwards, in its order
    (the unoccluded image, then each mask), normalised and in the network's layout, in batches of
    at most ``batch_size``; each batch is a copy the caller may keep."""
    request = map_request(net, X, 1, *args, **options)
    for _, batch in occluded_batches(occlusion_job(net, request, batch_size)):
        yield batch.copy()


def __getattr__(name: str) -> Any:
    """The torch engine's hooks, imported on first use: importing torch costs about half a GB of
    memory, which a benchmark measuring the ONNX Runtime path's peak must not count."""
    if name in ("CPU_UNIT", "forward_alone"):
        from ._backends import torch_engine

        return getattr(torch_engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
