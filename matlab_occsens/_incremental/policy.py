"""When the incremental path runs, and with what: the ``Incremental`` option's rules.

``"off"`` never, ``"on"`` wherever the graph allows it (a one-line warning says why not
elsewhere), ``"auto"`` where it is measured faster on the map's own masks (:mod:`.auto`), the
multiply-add bound having ruled out first the plans that would skip almost nothing. Images,
volumes and signals alike (the analysis and the plan work axis by axis). Everything derived on
the way is kept per network and output selection (:mod:`.cache`).

The one entry point for the caller is :func:`incremental_forward`; the object it gives yields a
job's images with :meth:`~.runner.IncrementalForward.images`, in the stream's numbering.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import numpy as np
import onnx

from .._backends.cpu import physical_cores
from .._backends.engine import Engine
from .._backends.ort import OrtEngine
from .._core.formats import native_shape
from .._core.grid import MaskGrid
from .._stream.drive import occluded_outputs
from .._stream.job import OcclusionJob
from .._stream.sequence import ImageStream
from .._utils.warn import warn_user
from ..network._base import Network
from ..network._onnx_network import OnnxNetwork
from .auto import MeasuredForward
from .cache import PlanKey, derived, grid_key
from .cost import CPU_COSTS
from .graph import SpatialGraph, Unsupported
from .plan import Chunk, Plan, plan_chain
from .runner import IncrementalForward

__all__ = [
    "AUTO_MIN_MASKS",
    "BATCH_SIZE",
    "HOPELESS",
    "forward_for",
    "incremental_forward",
    "ordinary_images",
    "plan_for",
    "spatial_graph",
]

BATCH_SIZE = 8
"""Masks per call of the chain's engines (at most MiniBatchSize): the crops and activations of a
few masks stay in the CPU caches from one layer to the next, which outweighs the extra calls."""
AUTO_MIN_MASKS = 64
"""Grids smaller than this keep the ordinary path under "auto": the one-time analysis of the
graph and the building of its engines would cost more than the few masks can save."""
HOPELESS = 1.02
""""auto" does not even measure a plan whose multiply-add bound is below this: it would skip
almost nothing. (The cost model's predicted speed-up does not rule plans out: on a busy machine
the incremental path's one-thread sessions win even where it skips little, see :mod:`.auto`.)"""


def spatial_graph(net: Network) -> SpatialGraph:
    """The analysed graph of ``net``'s selected output (kept per network and selection); raises
    :class:`Unsupported` when the incremental path cannot run it."""
    if not isinstance(net, OnnxNetwork):
        raise Unsupported(f"it runs ONNX networks with ONNX Runtime, not {type(net).__name__}")
    shape = native_shape(net.InputDataFormats, tuple(net.InputSize), 1)
    return derived(net).spatial_graph(lambda: SpatialGraph(net.selected_model(), shape, net.InputDataFormats))


def plan_for(net: Network, grid: MaskGrid, batch_size: int, forced: bool) -> Plan:
    """The cheapest plan of ``net``'s graph for ``grid`` (kept for the grids used last); with
    ``forced``, the cheapest with at least one chunk."""
    graph = spatial_graph(net)
    if len(graph.cuts) < 2:
        raise Unsupported(f"no layer after the input can be cut ({graph.stop_reason or 'no local layers'})")
    key = PlanKey(grid_key(grid), batch_size, forced)
    return derived(net).plan(key, lambda: plan_chain(graph, grid, CPU_COSTS, batch_size, at_least_one_chunk=forced))


def _hopeless(plan: Plan) -> bool:
    return not plan.chunks or plan.macs_speedup < HOPELESS


def incremental_forward(
    net: Network, engine: Engine, grid: MaskGrid, mode: str, batch_size: int, function: str
) -> IncrementalForward | None:
    """The incremental forward passes for this map, or None for the ordinary ones only.

    ``mode`` "off" gives None; "on" gives them wherever the graph allows it, and otherwise warns
    in one line and gives None; "auto" gives them unless the grid is small or the plan would
    skip almost nothing, as a :class:`~.auto.MeasuredForward`, whose ``images(job)`` runs part
    of the map through ``engine``'s ordinary stream when that is, or may be, the faster path.
    Either way ``images(job)`` yields every image of the job once, batches in any order.
    """
    if mode == "off" or (mode == "auto" and len(grid) < AUTO_MIN_MASKS):
        return None
    batch_size = min(batch_size, BATCH_SIZE)
    try:
        if engine.device != "cpu":
            raise Unsupported("it runs on the CPU only")
        plan = plan_for(net, grid, batch_size, forced=True)
        if mode == "auto" and _hopeless(plan):
            return None
        if mode == "auto":
            ordinary = functools.partial(ordinary_images, engine)
            return forward_for(net, plan, batch_size, ordinary=ordinary, choices=derived(net).choices)
        return forward_for(net, plan, batch_size)
    except Unsupported as reason:
        if mode == "on":
            warn_user(f'{function}: Incremental="on" not possible: {reason}; using ordinary inference.', RuntimeWarning)
        return None


def ordinary_images(engine: Engine, job: OcclusionJob) -> Iterator[tuple[int, np.ndarray]]:
    """``job``'s images through the ordinary stream on ``engine``, in the job's numbering."""
    for batch, output in occluded_outputs(engine, ImageStream([job], job.batch_size), job.input_format):
        for part in batch.parts:
            yield part.first, output[part.slot : part.slot + len(part)]


def forward_for(net: Network, plan: Plan, batch_size: int, **measuring: Any) -> IncrementalForward:
    """The incremental forward passes of a plan of ``net``'s graph, with its engines (built once
    per chunk and kept); with ``measuring`` (``ordinary`` and ``choices``), "auto"'s
    :class:`~.auto.MeasuredForward`.

    The engines run one thread per call and every physical core computes batches of its own: a
    chunk's layers on a few small crops are too little work to share between threads, whole
    batches are not. Raises :class:`Unsupported` when ONNX Runtime does not run a chunk as planned.
    """
    graph = spatial_graph(net)
    store = derived(net)

    def chunk_engine(chunk: Chunk) -> Engine:
        engine = store.chunk_engine(
            chunk.first, chunk.last, lambda: _engine(graph.chunk_model(chunk.first, chunk.last))
        )
        sizes = tuple(axis.length for axis in chunk.axes) + tuple(axis.out_length for axis in chunk.axes)
        key = (chunk.first, chunk.last, sizes)  # checked once per crop size and planned output size
        store.probe(key, lambda: _probe(engine, chunk, graph.shapes[chunk.first][1]))
        return engine

    def suffix_engine() -> Engine | None:
        model = graph.suffix_model(plan.suffix_from)
        return None if model is None else _engine(model)

    suffix = store.suffix_engine(plan.suffix_from, suffix_engine)
    engines = [chunk_engine(chunk) for chunk in plan.chunks]
    kind = MeasuredForward if measuring else IncrementalForward
    return kind(plan, engines, suffix, batch_size, physical_cores(), graph.front_perm, **measuring)


def _engine(model: onnx.ModelProto) -> Engine:
    """A one-thread CPU engine for a piece of the graph; raises :class:`Unsupported` when ONNX
    Runtime refuses it."""
    try:
        return OrtEngine(model, "cpu", threads=1)
    except Exception as error:  # any refusal means: the ordinary path
        raise Unsupported(f"ONNX Runtime cannot run a piece of the graph ({type(error).__name__}: {error})") from error


def _probe(engine: Engine, chunk: Chunk, channels: int) -> None:
    """Run the chunk once on one crop and check its output size against the plan's (ONNX
    Runtime 1.30 and 1.31 gave some pooled crops other sizes than 1.32)."""
    crop = np.zeros((1, channels, *(axis.length for axis in chunk.axes)), np.float32)
    try:
        size = engine.run(crop)[0].shape[2:]
    except Exception as error:  # the runtime's own error types
        raise Unsupported(f"ONNX Runtime cannot run a crop ({type(error).__name__}: {error})") from error
    planned = tuple(axis.out_length for axis in chunk.axes)
    if size != planned:
        raise Unsupported(f"this ONNX Runtime gives crops of {size} where {planned} were planned")
