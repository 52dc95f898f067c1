"""Incremental inference on volumes (3 spatial axes) and signals (1 axis) gives the ordinary outputs.

The analysis, the plan and the runner work axis by axis, so a volume's crops are boxes and a
signal's intervals. Every occluded input's output of the incremental passes must equal the whole
network's output on the occluded input built by the stream's one rule, within 1e-5 of the
largest value, for random CNNs drawn with convolutions of any padding, stride, dilation and
groups, pooling, batch norm, residual additions, channel concatenations and a dense head.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from random_cnns import random_cnns

from matlab_occsens._backends.ort import OrtEngine
from matlab_occsens._core.grid import mask_grid
from matlab_occsens._incremental.cost import CPU_COSTS
from matlab_occsens._incremental.graph import SpatialGraph
from matlab_occsens._incremental.plan import Plan, plan_chain, plan_through
from matlab_occsens._incremental.runner import IncrementalForward
from matlab_occsens._stream.job import OcclusionJob, occluded_batches

TOLERANCE = 1e-5
FORMATS = {(3, False): "BCSSS", (3, True): "BSSSC", (1, False): "BCT", (1, True): "BTC"}


def graph_of(model: onnx.ModelProto, size: tuple[int, ...], fmt: str) -> SpatialGraph:
    """The analysed graph for an input of ``size`` channels last, ``(*spatial, C)``."""
    *spatial, channels = size
    shape = (1, channels, *spatial) if fmt[1] == "C" else (1, *spatial, channels)
    return SpatialGraph(model, shape, fmt)


def incremental(graph: SpatialGraph, plan: Plan, batch_size: int = 4) -> IncrementalForward:
    """The runner of ``plan`` with one-thread ONNX Runtime engines, as the policy builds it."""
    engines = [OrtEngine(graph.chunk_model(chunk.first, chunk.last), "cpu", threads=1) for chunk in plan.chunks]
    suffix_model = graph.suffix_model(plan.suffix_from)
    suffix = None if suffix_model is None else OrtEngine(suffix_model, "cpu", threads=1)
    return IncrementalForward(plan, engines, suffix, batch_size, workers=2, front_perm=graph.front_perm)


def assert_ordinary_outputs(model, graph, forward, size, fmt, grid, seed) -> None:
    """Every output of the incremental passes equals the whole network on the occluded input."""
    *spatial, channels = size
    rng = np.random.default_rng(seed)
    image = rng.uniform(-2, 2, (1, *spatial, channels)).astype(np.float32)
    fill = np.full_like(image, 0.5)
    if fmt[1] == "C":
        image, fill = np.moveaxis(image, -1, 1).copy(), np.moveaxis(fill, -1, 1).copy()
    whole = OrtEngine(model, "cpu")
    expected = np.concatenate(
        [whole.run(batch)[0] for _, batch in occluded_batches(OcclusionJob(image, fill, grid, fmt, 7))]
    )
    scale = TOLERANCE * max(float(np.abs(expected).max()), 1e-30)
    np.testing.assert_allclose(forward.reference(image), expected[:1], rtol=0, atol=scale)
    got = np.concatenate([output.copy() for _, output in forward.outputs(fill, grid)])
    np.testing.assert_allclose(got, expected[1:], rtol=0, atol=scale)


def drawn_grid(draw, size: tuple[int, ...]):
    spatial = size[:-1]
    mask = tuple(draw(st.integers(1, max(1, side - 1))) for side in spatial)
    stride = tuple(draw(st.integers(1, 4)) for _ in spatial)
    return mask_grid(spatial, mask, stride, draw(st.booleans()))


@pytest.mark.parametrize(("rank", "nhwc"), list(FORMATS), ids=list(FORMATS.values()))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_random_cnns_give_the_ordinary_outputs(rank, nhwc, data):
    """The cheapest plan (at least one chunk) and the finest chain (a chunk between every two
    consecutive cuts) both give the whole network's outputs."""
    model, size = data.draw(random_cnns(nhwc=nhwc, rank=rank))
    fmt = FORMATS[rank, nhwc]
    graph = graph_of(model, size, fmt)
    assert graph.rank == rank and (graph.front_perm is not None) == nhwc
    if len(graph.cuts) < 2:  # e.g. a residual connection from the input to the last layer
        return
    grid = data.draw(st.composite(drawn_grid)(size))
    if len(grid) == 0:
        return
    seed = data.draw(st.integers(0, 2**16))
    for plan in (
        plan_chain(graph, grid, CPU_COSTS, 4, at_least_one_chunk=True),
        plan_through(graph, grid, graph.cuts, CPU_COSTS, 4),
    ):
        assert plan.chunks
        assert_ordinary_outputs(model, graph, incremental(graph, plan), size, fmt, grid, seed)
