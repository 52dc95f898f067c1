"""Predicted running time of the chunks on crops and of the rest of the graph.

ONNX Runtime on a CPU is limited by arithmetic in wide layers, by memory traffic in the early,
large, thin ones, and by a fixed price per output row in its blocked convolution kernels, which
makes small crops dearer per pixel than whole images. So a node costs

    seconds = MAC * multiply-adds + READ * values read + WRITE * values written
              + ROW * (16-channel output rows) + NODE * nodes

and a model (a chunk, the suffix, the whole network) adds BOUNDARY per value of its input and
output, which ONNX Runtime converts to and from its blocked layout.

(batch norms and activations that ONNX Runtime fuses into the convolution before them cost
nothing), a chunk adds a price per node per call and the numpy copies that build its crops, and
every mask adds Python work per chunk. The planner only compares plans, so ratios matter, not
the unit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np
import onnx

from .graph import FUSABLE, LocalNode, SpatialGraph

__all__ = ["CPU_COSTS", "CostModel", "Work", "fused_nodes", "local_work", "node_work"]

_BLOCK = 16
"""Channels per block in ONNX Runtime's NCHWc convolution kernels (AVX-512)."""


@dataclass(frozen=True)
class Work:
    """What one forward pass of some nodes does, for one image or crop."""

    macs: float = 0.0
    """Multiply-adds of dense layers (convolutions mixing channels, matrix products)."""
    window_macs: float = 0.0
    """Multiply-adds of per-channel layers (depthwise convolutions, pooling): slower per MAC."""
    reads: float = 0.0
    """Values read from the node's data inputs."""
    writes: float = 0.0
    """Values written to its output."""
    rows: float = 0.0
    """Output rows of 16 channels of convolutions and pooling layers (lines along the last
    spatial axis: a volume's rows of every slice, one per signal)."""
    boundary: float = 0.0
    """Values entering and leaving the model, which ONNX Runtime converts to and from its
    blocked layout at every call."""
    nodes: float = 0

    def __add__(self, other: Work) -> Work:
        return Work(*(mine + theirs for mine, theirs in zip(self.features, other.features)))

    @property
    def multiply_adds(self) -> float:
        return self.macs + self.window_macs

    @property
    def features(self) -> tuple[float, ...]:
        return (self.macs, self.window_macs, self.reads, self.writes, self.rows, self.boundary, self.nodes)


def _size(shape: tuple[int, ...] | None) -> int:
    return int(np.prod(shape)) if shape is not None else 0


def fused_nodes(graph: SpatialGraph, indices: set[int] | frozenset[int]) -> set[int]:
    """The nodes among ``indices`` that ONNX Runtime folds into a convolution that is also among
    them (a convolution's batch norm and activations)."""
    fused = set()
    for index in indices:
        node = graph.node(index)
        if node.op_type in FUSABLE and node.input:
            producer = graph.producer(node.input[0])
            if producer in indices and graph.fuses_into_conv(producer):
                fused.add(index)
    return fused


def _lines(spatial: tuple[int, ...]) -> int:
    """Lines along the last spatial axis: an image's rows, a volume's rows of all its slices,
    one for a signal (what a blocked kernel pays its fixed price for)."""
    return math.prod(spatial[:-1])


def local_work(node: LocalNode, graph: SpatialGraph, lengths: Callable[[str], tuple[int, ...]], fused: bool) -> Work:
    """Work of a local node whose tensors have the given spatial sizes (crops or full)."""
    if fused:
        return Work(nodes=1)
    channels = graph.shapes[node.output][1]
    pixels = math.prod(lengths(node.output))
    reads = sum(graph.shapes[name][1] * math.prod(lengths(name)) for name in node.inputs)
    rows = math.ceil(channels / _BLOCK) * _lines(lengths(node.output)) if node.macs_per_pixel else 0
    macs = node.macs_per_pixel * pixels
    dense, window = (0, macs) if node.per_channel else (macs, 0)
    return Work(dense, window, reads, channels * pixels, rows, 0, 1)


def node_work(node: onnx.NodeProto, graph: SpatialGraph, fused: bool) -> Work:
    """Work of any data node for one full image (local nodes and the global layers after them)."""
    shapes = graph.shapes
    out = shapes.get(node.output[0])
    if fused:
        return Work(nodes=1)
    reads = sum(_size(shapes.get(name)) for name in node.input if name in shapes)
    macs, window_macs, rows = 0.0, 0.0, 0.0
    if node.op_type in ("Conv", "MaxPool", "AveragePool") and out is not None and len(out) >= 3:
        per_pixel, per_channel = graph.macs_per_pixel(node)
        macs = float(per_pixel) * math.prod(out[2:])
        rows = math.ceil(out[1] / _BLOCK) * _lines(out[2:])
        if per_channel:
            macs, window_macs = 0.0, macs
    elif node.op_type in ("Gemm", "MatMul") and out is not None:
        left = shapes.get(node.input[0]) or graph.constant_shape(node.input[0])
        transposed = any(attribute.name == "transA" and attribute.i for attribute in node.attribute)
        macs = float(_size(out)) * (left[-2] if transposed else left[-1]) if left else 0.0
    return Work(macs, window_macs, reads, _size(out), rows, 0, 1)


@dataclass(frozen=True)
class CostModel:
    """Seconds per unit of work; see the module docstring."""

    mac: float
    window_mac: float
    read: float
    write: float
    row: float
    boundary: float
    node: float
    """Per node, per image or crop."""
    node_call: float
    """Per node of the called model, per ONNX Runtime call."""
    copy: float
    """Per value copied by numpy to build crops and patched activations."""
    mask: float
    """Python work per mask per chunk."""
    setup: float
    """Building one chunk's engine, paid once per chunk at worst."""

    @classmethod
    def free(cls) -> CostModel:
        """Every cost zero: for building chunks whose cost does not matter."""
        return cls(*[0.0] * len(fields(cls)))

    def seconds(self, work: Work, images: int) -> float:
        """Running ``work`` on ``images`` images, excluding per-call costs."""
        return images * (
            self.mac * work.macs
            + self.window_mac * work.window_macs
            + self.read * work.reads
            + self.write * work.writes
            + self.row * work.rows
            + self.boundary * work.boundary
            + self.node * work.nodes
        )

    def chunk(self, work: Work, crop_values: int, masks: int, batch_size: int) -> float:
        """A chunk whose crops hold ``crop_values`` values each, over every mask."""
        calls = math.ceil(masks / batch_size)
        return (
            self.seconds(work, masks)
            + masks * (self.copy * crop_values + self.mask)
            + calls * work.nodes * self.node_call
            + self.setup
        )

    def suffix(self, work: Work, masks: int, batch_size: int, patch_values: float) -> float:
        """The rest of the graph on every mask, with pasting and restoring each mask's patch."""
        calls = math.ceil(masks / batch_size)
        return self.seconds(work, masks) + masks * 2 * self.copy * patch_values + calls * work.nodes * self.node_call


CPU_COSTS = CostModel(
    mac=12.2e-12,
    window_mac=85e-12,
    read=0.04e-9,
    write=0.0,
    row=78e-9,
    boundary=0.38e-9,
    node=0.0,
    node_call=4e-6,
    copy=0.8e-9,
    mask=8e-6,
    setup=0.02,
)
"""The 2-core development machine (Xeon with AVX-512, onnxruntime 1.32). ``mac`` to ``node``:
one-thread CPU seconds fitted by ``python -m benchmarks.calibrate_incremental`` to 453 timed chunks
and suffixes of the three docs/models.md networks (median prediction/measurement 0.94; 80% within
0.65-1.21). ``copy`` and ``mask``: a strided numpy copy and the Python loop per mask, measured;
``node_call``: ONNX Runtime's price per node and call, and ``setup``: building a chunk's
session (2-10 ms) and its first runs, both rounded up."""
