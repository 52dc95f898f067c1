"""Exact incremental inference for occlusion maps (a non-MATLAB extension).

A mask changes a small window of the image, and in a convolutional network the change spreads
only as far as the layers' windows reach. This package recomputes, for every mask, only the
activations the mask can change, on crops that include the real image border wherever zero
padding matters, and runs the rest of the network (after the last useful cut) as usual. The
values are those of the ordinary forward pass up to float rounding; anything the analysis does
not understand falls back to the ordinary path.

``occlusionSensitivity(..., Incremental="auto" | "on" | "off")`` chooses it; see
:func:`incremental_forward`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import onnx

from ..grid import MaskGrid
from ..backends.engine import Engine
from ..backends.ort import OrtEngine
from ..network.base import Network
from ..network.onnx_network import OnnxNetwork
from ..warn import warn_user
from .cost import CPU_COSTS
from .graph import SpatialGraph, Unsupported
from .plan import Chunk, Plan, plan_chain
from .runner import IncrementalForward

__all__ = [
    "BATCH_SIZE",
    "IncrementalForward",
    "Plan",
    "SpatialGraph",
    "Unsupported",
    "available_cores",
    "forward_for",
    "incremental_forward",
    "spatial_graph",
]

T = TypeVar("T")

_WORTH_IT = 1.2
"""Predicted speed-up below which "auto" keeps the ordinary path (the prediction is rough)."""
BATCH_SIZE = 8
"""Masks per call of the chain's engines (at most MiniBatchSize): the crops and activations of a
few masks stay in the CPU caches from one layer to the next, which outweighs the extra calls."""
_AUTO_MIN_MASKS = 64
"""Grids smaller than this keep the ordinary path under "auto": the one-time analysis of the
graph and the building of its engines would cost more than the few masks can save."""


def spatial_graph(net: Network) -> SpatialGraph:
    """The analysed graph of ``net``'s selected output (cached on the network); raises
    :class:`Unsupported` when the incremental path cannot run it."""
    if not isinstance(net, OnnxNetwork):
        raise Unsupported(f"it runs ONNX networks with ONNX Runtime, not {type(net).__name__}")
    if net.InputDataFormats != "BCSS":
        raise Unsupported("it handles NCHW (BCSS) image inputs only")
    height, width, channels = net.InputSize
    shape = (1, channels, height, width)
    return _kept(net, ("incremental", "graph"), lambda: SpatialGraph(net.selected_model(), shape))


def _kept(net: Network, key: tuple[Any, ...], build: Callable[[], T]) -> T:
    """``build()`` once per output selection (see :meth:`Network.derived`); an
    :class:`Unsupported` it raises is kept too and raised again, so that "auto" does not pay for
    a refusal on every call."""

    def attempt() -> T | Unsupported:
        try:
            return build()
        except Unsupported as reason:
            return reason

    value = net.derived(key, attempt)
    if isinstance(value, Unsupported):
        raise value
    return value


def _plan(net: Network, grid: MaskGrid, batch_size: int, forced: bool) -> Plan:
    graph = spatial_graph(net)
    if len(graph.cuts) < 2:
        raise Unsupported(f"no layer after the input can be cut ({graph.stop_reason or 'no local layers'})")
    key = ("incremental", "plan", grid.rows.tobytes(), grid.cols.tobytes(), batch_size, forced)
    return net.derived(key, lambda: plan_chain(graph, grid, CPU_COSTS, batch_size, at_least_one_chunk=forced))


def incremental_forward(
    net: Network, engine: Engine, grid: MaskGrid, mode: str, batch_size: int, function: str
) -> IncrementalForward | None:
    """The incremental forward passes for this map, or None for the ordinary ones.

    ``mode`` "off" gives None; "auto" gives the incremental path only where the cost model
    predicts it clearly faster; "on" gives it wherever the graph allows it, and otherwise warns
    in one line and gives None.
    """
    if mode == "off" or (mode == "auto" and len(grid) < _AUTO_MIN_MASKS):
        return None
    batch_size = min(batch_size, BATCH_SIZE)
    try:
        if engine.device != "cpu":
            raise Unsupported("it runs on the CPU only")
        plan = _plan(net, grid, batch_size, forced=mode == "on")
        if not plan.chunks or (mode == "auto" and plan.predicted_speedup < _WORTH_IT):
            return None
        return forward_for(net, plan, batch_size)
    except Unsupported as reason:
        if mode == "on":
            warn_user(
                f'{function}: Incremental="on" not possible: {reason}; using ordinary inference.',
                RuntimeWarning,
            )
        return None


def forward_for(net: Network, plan: Plan, batch_size: int) -> IncrementalForward:
    """The incremental forward passes of a plan of ``net``'s graph, with its engines (built once
    per chunk and kept on the network).

    The engines run one thread per call and every core computes batches of its own: a chunk's
    layers on a few small crops are too little work to share between threads, whole batches
    are not. Raises :class:`Unsupported` when ONNX Runtime does not run a chunk as planned.
    """
    graph = spatial_graph(net)

    def chunk_engine(chunk: Chunk) -> Engine:
        key = ("incremental", chunk.first, chunk.last)
        engine = _kept(net, key, lambda: _engine(graph.chunk_model(chunk.first, chunk.last)))
        rows, cols = chunk.rows, chunk.cols  # checked once per crop size and planned output size
        sizes = (rows.length, cols.length, rows.out_length, cols.out_length)
        _kept(net, (*key, "probe", *sizes), lambda: _probe(engine, chunk, graph.shapes[chunk.first][1]))
        return engine

    def suffix_engine() -> Engine | None:
        model = graph.suffix_model(plan.suffix_from)
        return None if model is None else _engine(model)

    suffix = _kept(net, ("incremental", plan.suffix_from, None), suffix_engine)
    engines = [chunk_engine(chunk) for chunk in plan.chunks]
    return IncrementalForward(plan, engines, suffix, batch_size, workers=available_cores())


def _engine(model: onnx.ModelProto) -> Engine:
    """A one-thread CPU engine for a piece of the graph; raises :class:`Unsupported` when ONNX
    Runtime refuses it."""
    try:
        return OrtEngine(model, "cpu", threads=1)
    except Exception as error:  # noqa: BLE001  (any refusal means: the ordinary path)
        raise Unsupported(f"ONNX Runtime cannot run a piece of the graph ({type(error).__name__}: {error})") from error


def _probe(engine: Engine, chunk: Chunk, channels: int) -> None:
    """Run the chunk once on one crop and check its output size against the plan's (ONNX
    Runtime 1.30 and 1.31 gave some pooled crops other sizes than 1.32)."""
    crop = np.zeros((1, channels, chunk.rows.length, chunk.cols.length), np.float32)
    try:
        size = engine.run(crop)[0].shape[2:]
    except Exception as error:  # noqa: BLE001
        raise Unsupported(f"ONNX Runtime cannot run a crop ({type(error).__name__}: {error})") from error
    planned = (chunk.rows.out_length, chunk.cols.out_length)
    if size != planned:
        raise Unsupported(f"this ONNX Runtime gives crops of {size} where {planned} were planned")


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1
