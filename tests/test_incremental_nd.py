"""Incremental inference on volumes (3 spatial axes) and signals (1 axis) gives the ordinary outputs.

The analysis, the plan and the runner work axis by axis, so a volume's crops are boxes and a
signal's intervals. Every occluded input's output of the incremental passes must equal the whole
network's output on the occluded input built by the stream's one rule, within 1e-5 of the
largest value, for random CNNs drawn with convolutions of any padding, stride, dilation and
groups, pooling, batch norm, residual additions, channel concatenations and a dense head.
"""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper
from onnx_builders import linear_model_nd
from random_cnns import random_cnns, seeded_cnn

from matlab_occsens import importNetworkFromONNX, importNetworkFromPyTorch, occlusionSensitivity, predict
from matlab_occsens._backends.ort import OrtEngine
from matlab_occsens._core.formats import channels_last_shape
from matlab_occsens._core.grid import mask_grid
from matlab_occsens._incremental.cost import CPU_COSTS
from matlab_occsens._incremental.graph import SpatialGraph
from matlab_occsens._incremental.plan import Plan, ideal_work, plan_chain, plan_through, rest_work
from matlab_occsens._incremental.policy import spatial_graph
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


# ---------------------------------------------------------------------- whole maps, both options
def observation(size: tuple[int, ...], seed: int) -> np.ndarray:
    """A random X in MATLAB's layout for an input of ``size`` channels last: S1×S2×S3×C for a
    volume, C×T for a signal."""
    values = np.random.default_rng(seed).uniform(0, 255, size)
    return values.T if len(size) == 2 else values


def grid_options(mask: tuple[int, ...], stride: tuple[int, ...]) -> dict:
    """MaskSize and Stride as a user writes them: a vector per axis, one number for a signal."""
    if len(mask) == 1:
        return {"MaskSize": mask[0], "Stride": stride[0]}
    return {"MaskSize": list(mask), "Stride": list(stride)}


def both_maps(net, X, channels, **options) -> tuple[np.ndarray, np.ndarray]:
    """The raw map with Incremental="on" (which must not fall back) and with "off"."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fallback notice would fail the test
        on = occlusionSensitivity(net, X, channels, Incremental="on", OutputUpsampling="none", **options)
    off = occlusionSensitivity(net, X, channels, Incremental="off", OutputUpsampling="none", **options)
    return on, off


def assert_same_map(got: np.ndarray, expected: np.ndarray) -> None:
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE * float(np.abs(expected).max()))


def output_channels(net) -> int:
    graph = spatial_graph(net)
    return net.output_channels(net.OutputNames[0]) or graph.shapes[graph.output][-1]


@pytest.mark.parametrize(("rank", "nhwc"), list(FORMATS), ids=list(FORMATS.values()))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_random_cnns_give_the_ordinary_map(rank, nhwc, data):
    """occlusionSensitivity with Incremental="on" and "off": the same map, every channel, any
    mask and stride per axis, clipping on and off, a MiniBatchSize that does not divide the grid."""
    model, size = data.draw(random_cnns(nhwc=nhwc, rank=rank))
    net = importNetworkFromONNX(model, InputDataFormats=FORMATS[rank, nhwc])
    if len(spatial_graph(net).cuts) < 2:
        return
    spatial = size[:-1]
    mask = tuple(data.draw(st.integers(1, side)) for side in spatial)
    stride = tuple(data.draw(st.integers(1, 4)) for _ in spatial)
    clipping = data.draw(st.sampled_from(["on", "off"]))
    on, off = both_maps(
        net,
        observation(size, data.draw(st.integers(0, 2**16))),
        list(range(1, output_channels(net) + 1)),
        MaskClipping=clipping,
        MiniBatchSize=data.draw(st.sampled_from([1, 7, 128])),
        **grid_options(mask, stride),
    )
    assert_same_map(on, off)


KINDS = {"volume": ((12, 10, 14), "BCSSS"), "signal": ((90,), "BCT")}


def seeded_net(kind: str, **options):
    spatial, fmt = KINDS[kind]
    return importNetworkFromONNX(seeded_cnn(spatial), InputDataFormats=fmt, **options), observation((*spatial, 2), 3)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("backend", ["onnxruntime", "torch"])
def test_both_backends_give_the_ordinary_map(kind, backend):
    """A network run by torch (onnx2torch) for its ordinary passes: the incremental path's chunks
    still run in ONNX Runtime, and the map is the torch map within float rounding. Across the
    two runtimes that rounding is the output's own (a map is a difference of two outputs: here
    about 10 float32 steps of an output near 2,000, 1.5e-5 of a map whose largest drop is 83),
    so it is held to 1e-5 of the largest output; on one runtime, to 1e-5 of the map's largest value."""
    if backend == "torch":
        pytest.importorskip("onnx2torch")
    net, X = seeded_net(kind, Backend=backend)
    on, off = both_maps(net, X, [1, 2, 3], MaskSize=3, Stride=2)
    if backend == "torch":
        scale = float(np.abs(predict(net, X)).max())
        np.testing.assert_allclose(on, off, rtol=0, atol=TOLERANCE * scale)
    else:
        assert_same_map(on, off)


REDUCTIONS = {
    "max": lambda activations: activations.max(axis=tuple(range(1, activations.ndim))),
    "region sum": lambda activations: activations[(slice(None), *[slice(1, 4)] * (activations.ndim - 1))].sum(
        axis=tuple(range(1, activations.ndim))
    ),
}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("reduction", list(REDUCTIONS))
def test_a_reduction_of_an_inner_layer_stays_exact(kind, reduction):
    """ReductionFcn reads each mask's whole output: with the chain ending at the selected layer
    ("local"), that is the kept activation patched with the recomputed region, so a max or the
    sum over a region is the ordinary path's."""
    net, X = seeded_net(kind)
    net.OutputNames = "local"
    graph = spatial_graph(net)
    assert graph.cuts[-1] == graph.output  # no suffix: the patched activation is the output
    options = {"MaskSize": 3, "Stride": 2, "ReductionFcn": REDUCTIONS[reduction]}
    on, off = both_maps(net, X, [1, 4, 6], **options)
    assert_same_map(on, off)
    assert np.abs(off).max() > 0


# ---------------------------------------------------------------------- where it does not apply
def _global_first_model(size: tuple[int, ...]) -> onnx.ModelProto:
    """A volume network whose first layer is global (a softmax over the flattened input)."""
    nodes = [
        helper.make_node("Flatten", ["volume"], ["flat"], axis=1),
        helper.make_node("Softmax", ["flat"], ["scores"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "global",
        [helper.make_tensor_value_info("volume", TensorProto.FLOAT, ["N", 1, *size])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", int(np.prod(size))])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _channels_last_read_otherwise_model() -> onnx.ModelProto:
    """A channels-last volume whose first transpose is not to channels first in order (its
    spatial axes reversed): the local analysis cannot start after it."""
    model = linear_model_nd(np.ones((2, 3, 6, 6, 6), np.float32), "BSSSC")
    (front,) = [node for node in model.graph.node if node.op_type == "Transpose"]
    del front.attribute[:]
    front.attribute.append(helper.make_attribute("perm", [0, 4, 3, 2, 1]))
    return model


def _torch_signal_network():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Conv1d(2, 3, 5, padding=2), torch.nn.ReLU(), torch.nn.Flatten())
    return importNetworkFromPyTorch(module, InputSize=[2, 12], InputDataFormats="BCT")


@pytest.mark.parametrize(
    "network, reason",
    [
        (lambda: importNetworkFromONNX(_global_first_model((4, 5, 6)), InputDataFormats="BCSSS"), "Flatten"),
        (lambda: importNetworkFromONNX(_channels_last_read_otherwise_model(), InputDataFormats="BSSSC"), "first"),
        (_torch_signal_network, "ONNX networks"),
    ],
    ids=["global-first-layer", "channels-last-not-transposed-to-channels-first", "pytorch-module"],
)
def test_on_falls_back_with_a_one_line_notice(network, reason):
    net = network()
    X = observation(channels_last_shape(net.InputDataFormats, tuple(net.InputSize)), 0)
    options = {"MaskSize": 3, "Stride": 2}
    with pytest.warns(RuntimeWarning, match=f'Incremental="on" not possible: .*{reason}') as caught:
        on = occlusionSensitivity(net, X, 1, Incremental="on", **options)
    assert len(caught) == 1 and "\n" not in str(caught[0].message)
    np.testing.assert_array_equal(on, occlusionSensitivity(net, X, 1, Incremental="off", **options))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        occlusionSensitivity(net, X, 1, **options)  # "auto" decides quietly


# ---------------------------------------------------------------------- the bound, memory
@pytest.mark.parametrize("spatial", [(16, 16, 16), (64,)], ids=["volume", "signal"])
def test_the_multiply_add_bound_is_the_changed_share_of_each_layer(spatial):
    """One 3-wide padded convolution, masks of 4 at stride 4 that fit: along each axis a mask
    changes its 4 outputs and one either side (5 at the two borders), so an ideal incremental
    engine computes mean(changed)^k of the convolution's 16^k or 64 outputs per mask."""
    rank = len(spatial)
    kernel = np.ones((4, 1, *[3] * rank), np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "k"], ["conv"], pads=[1] * 2 * rank),
        helper.make_node("GlobalAveragePool", ["conv"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["scores"]),
    ]
    graph = helper.make_graph(
        nodes,
        "one_conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, *spatial])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 4])],
        [numpy_helper.from_array(kernel, "k")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    analysed = graph_of(model, (*spatial, 1), "BCSSS" if rank == 3 else "BCT")
    grid = mask_grid(spatial, (4,) * rank, (4,) * rank, False)
    side = spatial[0]
    positions = side // 4
    changed = (2 * 5 + (positions - 2) * 6) / positions
    full = rest_work(analysed, analysed.input).multiply_adds
    assert full == side**rank * kernel.size  # every output reads 3^k inputs for each of 4 channels
    assert full / ideal_work(analysed, grid).multiply_adds == pytest.approx((side / changed) ** rank)


def test_memory_does_not_grow_with_the_number_of_masks():
    """The incremental path holds a batch of crops and patched activations, not the grid's:
    numpy's peak for 6,859 masks on a volume is that for 1,000 (the maps themselves aside, a
    few bytes per mask)."""
    net = importNetworkFromONNX(seeded_cnn((20, 20, 20), channels=1), InputDataFormats="BCSSS")
    X = observation((20, 20, 20, 1), 6)[..., 0]
    peaks = []
    for stride in (2, 1):  # 10^3 and 19^3 masks
        options = {"MaskSize": 2, "Stride": stride, "MaskClipping": "off", "OutputUpsampling": "none"}
        occlusionSensitivity(net, X, 1, Incremental="on", **options)  # analysis, plan and engines kept
        tracemalloc.start()
        occlusionSensitivity(net, X, 1, Incremental="on", **options)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < peaks[0] + 6859 * 64, f"peaks {peaks}"
