"""Where to cut the graph for one mask grid, and the crops each piece runs on.

Every spatial axis (rows and columns of an image, the three axes of a volume, the time axis of a
signal) is planned on its own, since a mask is a product of one range per axis and every local
layer reads each axis through a window of its own.

For every cut tensor the planner knows, per grid position and per axis, the *changed* interval: the
outputs an occluding mask can alter (hull of what each layer's window reaches). A piece of the
chain (a *chunk*, from cut ``first`` to cut ``last``) must recompute ``last`` on its changed
interval; reading windows backwards gives the interval of ``first`` that needs, the *required*
interval. Each chunk runs on crops of one size per axis, so a whole mini-batch of masks is one
ONNX Runtime call:

* crop starts are multiples of the chunk's total stride, and crop ends leave a multiple of it
  before the end of the tensor, so every layer of the chunk sees the same sampling grid, the same
  output sizes and the same real padding at image borders as the full image does;
* the crop length is the longest such aligned interval over the grid; a crop that would run past
  the end is moved back, which keeps both alignments.

A crop is the product of its axes' intervals: on a volume a crop is a box.

Outputs of a crop whose inputs reach a crop border that is not an image border are wrong; the
runner keeps only the changed interval, which by construction reads inside the crop.

The chain with the lowest predicted cost is found by dynamic programming over the cuts; the
plain forward pass (no chunk) is one of the candidates, so the plan also says whether the
incremental path is worth it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._core.grid import MaskGrid
from .cost import CostModel, Work, fused_nodes, local_work, node_work
from .graph import LocalNode, SpatialGraph
from .windows import Intervals, Window, hull

__all__ = ["AxisCrops", "Chunk", "Plan", "chunk_between", "ideal_work", "plan_chain", "plan_through", "rest_work"]


@dataclass(frozen=True)
class AxisCrops:
    """One chunk along one axis: crop length and, per grid position, where things go."""

    length: int
    starts: np.ndarray
    """Crop start at the chunk's input, per grid position."""
    changed_in: Intervals
    """Changed interval of the chunk's input (where the previous patch is pasted)."""
    changed_out: Intervals
    """Changed interval of the chunk's output (what is kept from the crop's result)."""
    out_starts: np.ndarray
    """Crop start at the chunk's output, per grid position."""
    out_length: int
    """Length of the chunk's output computed from one crop."""


@dataclass(frozen=True)
class Chunk:
    """A piece of the chain: the model from cut ``first`` to cut ``last`` and its crops."""

    first: str
    last: str
    axes: tuple[AxisCrops, ...]
    """One per spatial axis."""
    work: Work
    """What the chunk computes for one mask (on its crop)."""


@dataclass(frozen=True)
class Plan:
    """The chain of chunks, the cut the suffix starts from, and the predicted costs."""

    chunks: tuple[Chunk, ...]
    suffix_from: str
    changed: tuple[Intervals, ...]
    """Per spatial axis, the changed interval of ``suffix_from`` per grid position on that axis
    (where the last patch is pasted)."""
    suffix_work: Work
    """What the rest of the graph computes for one mask."""
    full_work: Work
    """What the whole graph computes for one image."""
    predicted_cost: float
    full_cost: float

    @property
    def predicted_speedup(self) -> float:
        return self.full_cost / self.predicted_cost

    @property
    def macs_speedup(self) -> float:
        """Multiply-adds of a full pass over those of this plan per mask (chunks on their crops,
        then the suffix): the speed-up if time were multiply-adds."""
        done = sum((chunk.work for chunk in self.chunks), self.suffix_work)
        return self.full_work.multiply_adds / max(done.multiply_adds, 1.0)


class _Axis:
    """Propagation along one spatial axis (0: rows, 1: columns of an image) for the grid's
    ranges on that axis."""

    def __init__(self, graph: SpatialGraph, axis: int, ranges: np.ndarray) -> None:
        self.graph = graph
        self.axis = axis
        self.size = {name: graph.shapes[name][2 + axis] for name in graph.strides}
        mask_ranges = (ranges[:, 0].astype(np.int64), ranges[:, 1].astype(np.int64))
        self.changed: dict[str, Intervals] = {graph.input: mask_ranges}
        for node in graph.nodes:
            window = self.window(node)
            self.changed[node.output] = hull(
                [window.changed(self.changed[name], self.size[node.output]) for name in node.inputs]
            )

    def window(self, node: LocalNode) -> Window:
        return node.windows[self.axis]

    def stride(self, name: str) -> int:
        return self.graph.strides[name][self.axis]

    def required(self, nodes: list[LocalNode], last: str) -> dict[str, Intervals]:
        """Required intervals of every tensor read by ``nodes`` (in graph order) for ``last``'s
        changed interval, walking the nodes backwards."""
        required = {last: self.changed[last]}
        for node in reversed(nodes):
            if node.output not in required:
                continue
            window = self.window(node)
            for name in node.inputs:
                need = window.required(required[node.output], self.size[name])
                required[name] = hull([required[name], need]) if name in required else need
        return required

    def crops(self, first: str, last: str, chunk_nodes: list[LocalNode], required: Intervals) -> AxisCrops:
        size = self.size[first]
        align = math.lcm(*[self.stride(node.output) // self.stride(first) for node in chunk_nodes])
        starts, stops = required
        used = starts < stops
        aligned_starts = (starts // align) * align
        aligned_stops = size - ((size - stops) // align) * align
        length = int(np.max(aligned_stops - aligned_starts, where=used, initial=0)) or size
        crop_starts = np.where(used, np.minimum(aligned_starts, size - length), 0)
        return AxisCrops(
            length=length,
            starts=crop_starts,
            changed_in=self.changed[first],
            changed_out=self.changed[last],
            out_starts=crop_starts // (self.stride(last) // self.stride(first)),
            out_length=self.crop_length(last, first, length),
        )

    def crop_length(self, name: str, first: str, length: int) -> int:
        """Length of tensor ``name`` computed from a crop of ``length`` of cut ``first``."""
        return self.size[name] - (self.size[first] - length) // (self.stride(name) // self.stride(first))


class _Planner:
    """Chunks and predicted costs of one graph for one grid, built on demand and kept."""

    def __init__(self, graph: SpatialGraph, grid: MaskGrid, costs: CostModel, batch_size: int) -> None:
        self.graph, self.costs, self.batch_size = graph, costs, batch_size
        self.masks = len(grid)
        self.axes = _axes(graph, grid)
        self._required: dict[str, tuple[list[LocalNode], list[dict[str, Intervals]]]] = {}
        self._chunks: dict[tuple[str, str], Chunk] = {}

    def chunk(self, first: str, last: str) -> Chunk:
        """The chunk from cut ``first`` to cut ``last``."""
        if (first, last) in self._chunks:
            return self._chunks[first, last]
        graph, axes = self.graph, self.axes
        if last not in self._required:
            nodes = graph.local_nodes_between(graph.input, last)
            self._required[last] = nodes, [axis.required(nodes, last) for axis in axes]
        nodes, required = self._required[last]
        inside = graph.ancestors(last) - graph.ancestors(first)
        chunk_nodes = graph.local_nodes_between(first, last)
        crops = tuple(axis.crops(first, last, chunk_nodes, need[first]) for axis, need in zip(axes, required))

        def lengths(name: str) -> tuple[int, ...]:
            return tuple(axis.crop_length(name, first, crop.length) for axis, crop in zip(axes, crops))

        fused = fused_nodes(graph, inside)
        work = sum((local_work(node, graph, lengths, node.index in fused) for node in chunk_nodes), Work())
        crop_in = graph.shapes[first][1] * math.prod(crop.length for crop in crops)
        work += Work(boundary=crop_in + graph.shapes[last][1] * math.prod(crop.out_length for crop in crops))
        chunk = self._chunks[first, last] = Chunk(first, last, crops, work)
        return chunk

    def chunk_cost(self, first: str, last: str) -> float:
        chunk = self.chunk(first, last)
        crop_values = self.graph.shapes[first][1] * math.prod(crop.length for crop in chunk.axes)
        return self.costs.chunk(chunk.work, crop_values, self.masks, self.batch_size)

    def suffix_cost(self, cut: str) -> float:
        patch = 0.0
        if cut != self.graph.input:
            patch = math.prod(_mean_length(axis.changed[cut]) for axis in self.axes) * self.graph.shapes[cut][1]
        return self.costs.suffix(rest_work(self.graph, cut), self.masks, self.batch_size, patch)

    def plan(self, cuts: list[str]) -> Plan:
        """The plan whose chunks run from each of ``cuts`` to the next (the first is the input)."""
        chunks = tuple(self.chunk(first, last) for first, last in zip(cuts, cuts[1:]))
        last = cuts[-1]
        return Plan(
            chunks=chunks,
            suffix_from=last,
            changed=tuple(axis.changed[last] for axis in self.axes),
            suffix_work=rest_work(self.graph, last),
            full_work=rest_work(self.graph, self.graph.input),
            predicted_cost=sum(self.chunk_cost(chunk.first, chunk.last) for chunk in chunks) + self.suffix_cost(last),
            full_cost=self.suffix_cost(self.graph.input),
        )


def plan_through(graph: SpatialGraph, grid: MaskGrid, cuts: list[str], costs: CostModel, batch_size: int) -> Plan:
    """The plan with chunks between consecutive ``cuts`` (cuts of ``graph``, the input first)."""
    return _Planner(graph, grid, costs, batch_size).plan(cuts)


def chunk_between(graph: SpatialGraph, grid: MaskGrid, first: str, last: str) -> Chunk:
    """The chunk from cut ``first`` to cut ``last`` for this grid, on its own."""
    return _Planner(graph, grid, CostModel.free(), 1).chunk(first, last)


def plan_chain(
    graph: SpatialGraph, grid: MaskGrid, costs: CostModel, batch_size: int, at_least_one_chunk: bool = False
) -> Plan:
    """The cheapest chain of chunks for this grid, by dynamic programming over the cuts: possibly
    none (the plain forward pass) unless ``at_least_one_chunk``."""
    planner = _Planner(graph, grid, costs, batch_size)
    cuts = graph.cuts
    best = [0.0] + [math.inf] * (len(cuts) - 1)
    previous = [0] * len(cuts)
    for j in range(1, len(cuts)):
        for i in range(j):
            candidate = best[i] + planner.chunk_cost(cuts[i], cuts[j])
            if candidate < best[j]:
                best[j], previous[j] = candidate, i
    totals = [best[j] + planner.suffix_cost(cut) for j, cut in enumerate(cuts)]
    if at_least_one_chunk and len(cuts) > 1:
        totals[0] = math.inf
    path = [int(np.argmin(totals))]
    while path[-1] > 0:
        path.append(previous[path[-1]])
    return planner.plan([cuts[index] for index in reversed(path)])


def rest_work(graph: SpatialGraph, cut: str) -> Work:
    """What the nodes after cut ``cut`` compute for one full image."""
    data_nodes = graph.data_nodes()
    after = {index for index, _ in data_nodes} - graph.ancestors(cut)
    fused = fused_nodes(graph, after)
    work = sum((node_work(node, graph, index in fused) for index, node in data_nodes if index in after), Work())
    edges = math.prod(graph.shapes[cut]) + math.prod(graph.shapes.get(graph.output, (0,)))
    return work + Work(boundary=edges)


def ideal_work(graph: SpatialGraph, grid: MaskGrid) -> Work:
    """What an ideal layer-by-layer engine computes per mask, on average over the grid: every
    local node only on its changed outputs, every later node in full. The bound any exact
    incremental method is held to (``Work.macs + Work.window_macs`` for multiply-adds)."""
    axes = _axes(graph, grid)
    local = {node.index: node for node in graph.nodes}
    total = Work()
    for index, node in graph.data_nodes():
        if index not in local:
            total += node_work(node, graph, False)
            continue
        output = local[index].output
        pixels = math.prod(_mean_length(axis.changed[output]) for axis in axes)  # the grid is a product
        macs = local[index].macs_per_pixel * pixels
        total += Work(window_macs=macs) if local[index].per_channel else Work(macs=macs)
    return total


def _axes(graph: SpatialGraph, grid: MaskGrid) -> tuple[_Axis, ...]:
    if grid.rank != graph.rank:
        raise ValueError(f"a grid of {grid.rank} axes for a graph of {graph.rank} spatial axes")
    return tuple(_Axis(graph, axis, ranges) for axis, ranges in enumerate(grid.axes))


def _mean_length(intervals: Intervals) -> float:
    starts, stops = intervals
    return float(np.mean(np.maximum(stops - starts, 0)))
