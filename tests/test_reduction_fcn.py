"""``ReductionFcn`` (docs/specification.md §9.5): any score of a channel's activations, checked
against a brute force that occludes each copy by hand, runs the network and applies the
function; and refused, naming the option, when it cannot score the unoccluded input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx_builders import linear_model_nd, spatial_model

from matlab_occsens import importNetworkFromONNX, occlusionSensitivity, predict
from matlab_occsens._core.grid import mask_grid

OPSET = 17


def region(activations):
    """A region of a segmentation-like output: rows 2-4, columns 3-6."""
    return activations[:, 2:5, 3:7].sum(axis=(1, 2))


def peak(activations):
    """A max instead of a sum."""
    return activations.reshape(len(activations), -1).max(axis=1)


def brute_force(net, X, channel, function, mask, stride, fill, clipping=True):
    """The map by definition (§5, §9.5): for each mask, the function of the channel's
    activations on X minus on X occluded by hand, from predict (MATLAB's layout: spatial axes
    first, then the channel, then the batch)."""
    spatial = X.shape[:-1]
    grid = mask_grid(spatial, mask, stride, clipping)

    def score(observation):
        output = predict(net, observation)  # (*spatial, C, 1)
        activations = np.moveaxis(output[..., channel - 1, :], -1, 0)  # (1, *spatial)
        return function(activations)[0]

    reference = score(X)
    drops = np.empty(len(grid))
    for index, window in enumerate(grid.windows()):
        occluded = X.copy()
        occluded[tuple(slice(*pair) for pair in window)] = fill
        drops[index] = reference - score(occluded)
    return drops.reshape(grid.shape).astype(np.float32)


def nhwc_segmenter(kernel, height, width):
    """NHWC in, a 'same' convolution, NHWC out ([N, H, W, K], derived "BSSC")."""
    channels_out, channels, kh, kw = kernel.shape
    pads = [kh // 2, kw // 2, kh - 1 - kh // 2, kw - 1 - kw // 2]
    nodes = [
        helper.make_node("Transpose", ["image"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["nchw", "K"], ["local"], pads=pads, name="local"),
        helper.make_node("Transpose", ["local"], ["segments"], perm=[0, 2, 3, 1], name="to_nhwc"),
    ]
    graph = helper.make_graph(
        nodes,
        "segmenter",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", height, width, channels])],
        [helper.make_tensor_value_info("segments", TensorProto.FLOAT, ["N", height, width, channels_out])],
        initializer=[numpy_helper.from_array(kernel.astype(np.float32), "K")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8)


@pytest.fixture(scope="module")
def segmenter():
    kernel = np.random.default_rng(3).integers(-2, 3, size=(3, 2, 3, 3)).astype(np.float32)
    return importNetworkFromONNX(nhwc_segmenter(kernel, 9, 11))


@pytest.fixture(scope="module")
def picture():
    return np.random.default_rng(4).integers(0, 10, (9, 11, 2)).astype(np.float64)


@pytest.mark.parametrize("function", [region, peak])
@pytest.mark.parametrize("backend", ["onnxruntime", "torch"])
def test_a_reduction_gives_the_brute_force_map(segmenter, picture, function, backend):
    net = segmenter if backend == "onnxruntime" else importNetworkFromONNX(segmenter_model(), Backend=backend)
    assert net.OutputDataFormats == ["BSSC"]
    options = dict(MaskSize=3, Stride=2, MaskValue=[1, 4], OutputUpsampling="none")
    scoreMap = occlusionSensitivity(net, picture, [2, 3], ReductionFcn=function, MiniBatchSize=7, **options)
    for column, channel in enumerate([2, 3]):
        expected = brute_force(segmenter, picture, channel, function, (3, 3), (2, 2), np.array([1.0, 4.0]))
        np.testing.assert_array_equal(scoreMap[..., column], expected)


def segmenter_model():
    kernel = np.random.default_rng(3).integers(-2, 3, size=(3, 2, 3, 3)).astype(np.float32)
    return nhwc_segmenter(kernel, 9, 11)


def test_the_function_gets_one_channel_batch_first_in_matlabs_layout(segmenter, picture):
    seen = []

    def spy(activations):
        seen.append((activations.shape, activations.dtype))
        return activations.sum(axis=(1, 2))

    occlusionSensitivity(segmenter, picture, 1, MaskSize=4, Stride=4, ReductionFcn=spy, MiniBatchSize=5)
    assert seen[0] == ((1, 9, 11), np.float32)  # the unoccluded input alone, first
    # then the 3 x 3 masks in batches of at most MiniBatchSize (the batch-size search may choose
    # smaller ones on a busy machine), each B x 9 x 11 in float32
    assert all(shape[1:] == (9, 11) and 1 <= shape[0] <= 5 and dtype == np.float32 for shape, dtype in seen[1:])
    assert sum(shape[0] for shape, _ in seen) == 1 + 3 * 3


def test_no_reduction_is_the_total_activation_bit_for_bit(segmenter, picture):
    options = dict(MaskSize=3, Stride=2, MaskValue=0)
    default = occlusionSensitivity(segmenter, picture, [1, 3], **options)
    np.testing.assert_array_equal(
        occlusionSensitivity(segmenter, picture, [1, 3], ReductionFcn=None, **options), default
    )
    summed = occlusionSensitivity(
        segmenter, picture, [1, 3], ReductionFcn=lambda a: a.sum(axis=(1, 2), dtype=np.float64), **options
    )
    np.testing.assert_allclose(summed, default, rtol=1e-6)


@pytest.mark.parametrize("backend", ["onnxruntime", "torch"])
@pytest.mark.parametrize("kind", ["volume", "signal"])
def test_volumes_and_signals_give_the_brute_force_map(kind, backend):
    if backend == "torch":
        pytest.importorskip("onnx2torch")
    rng = np.random.default_rng(6)
    if kind == "volume":
        weights = rng.integers(-2, 3, size=(2, 1, 5, 4, 6)).astype(np.float32)
        X = rng.integers(0, 8, (5, 4, 6, 1)).astype(np.float64)
        layout, mask, stride = "BSSSC", (2, 2, 3), (2, 1, 2)
    else:
        weights = rng.integers(-2, 3, size=(2, 3, 30)).astype(np.float32)
        X = rng.integers(0, 8, (3, 30)).astype(np.float64)
        layout, mask, stride = "BTC", (4,), (3,)
    net = importNetworkFromONNX(linear_model_nd(weights, layout), Backend=backend)
    observation = X if kind == "volume" else X.T

    def squared(scores):
        return (scores.astype(np.float64) ** 2).ravel()

    scoreMap = occlusionSensitivity(
        net, X, 2, MaskSize=list(mask), Stride=list(stride), MaskValue=0, ReductionFcn=squared, OutputUpsampling="none"
    )

    def by_hand(activations):  # the scores output is [N, K]: each channel's activations are (B,)
        return squared(activations)

    def score(obs):
        return by_hand(predict(net, obs if kind == "volume" else obs.T)[:, 1])[0]

    grid = mask_grid(observation.shape[:-1], mask, stride, True)
    expected = []
    for window in grid.windows():
        occluded = observation.copy()
        occluded[tuple(slice(*pair) for pair in window)] = 0
        expected.append(score(observation) - score(occluded))
    np.testing.assert_array_equal(scoreMap, np.reshape(expected, grid.shape).astype(np.float32))


def test_an_inner_volume_layer_gives_its_spatial_activations_to_the_function():
    """The convolution's 5-D output ("BCSSS"): the function sees (B, S1, S2, S3)."""
    weights = np.random.default_rng(7).integers(-2, 3, size=(2, 1, 3, 3, 3)).astype(np.float32)
    net = importNetworkFromONNX(linear_model_nd(weights, "BCSSS", flatten=False))
    assert net.OutputDataFormats == ["BCSSS"]
    shapes = []

    def corner(activations):
        shapes.append(activations.shape[1:])
        return activations[:, 0, 0, 0] * 2

    X = np.arange(27, dtype=np.float64).reshape(3, 3, 3)
    scoreMap = occlusionSensitivity(net, X, 1, MaskSize=1, Stride=1, MaskValue=0, ReductionFcn=corner)
    assert set(shapes) == {(1, 1, 1)}
    np.testing.assert_array_equal(scoreMap, (2 * weights[0, 0] * X).astype(np.float32))


def test_incremental_inference_stays_exact_with_a_reduction():
    """The incremental path gives each mask's whole output, so any function of it is exact."""
    kernel = np.random.default_rng(9).integers(-2, 3, size=(2, 1, 3, 3)).astype(np.float32)
    net = importNetworkFromONNX(spatial_model(kernel, 16, 16))
    net.OutputNames = ["local"]
    picture = np.random.default_rng(8).integers(0, 256, (16, 16)).astype(np.float64)
    options = dict(
        MaskSize=3, Stride=2, OutputUpsampling="none", ReductionFcn=lambda a: a[:, 4:9, 2:12].max(axis=(1, 2))
    )
    off = occlusionSensitivity(net, picture, [1, 2], Incremental="off", **options)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "on" must not fall back
        on = occlusionSensitivity(net, picture, [1, 2], Incremental="on", **options)
    np.testing.assert_array_equal(on, off)


def counting(function):
    calls = []

    def counted(activations):
        calls.append(len(activations))
        return function(activations)

    return counted, calls


@pytest.mark.parametrize(
    ("function", "message"),
    [
        (
            lambda a: a.sum(axis=2),
            r"must return one score per input, shape \(1,\), for channel 1's activations of "
            r"the unoccluded input, shape \(1, 9, 11\); it returned shape \(1, 9\)",
        ),
        (lambda a: float(a.sum()), r"shape \(1,\).*returned shape \(\)"),
        (
            lambda a: np.full(len(a), np.nan),
            r"ReductionFcn returned a non-finite score \(nan\) for channel 1's activations of the unoccluded",
        ),
        (
            lambda a: 1 / 0,
            r"ReductionFcn raised ZeroDivisionError \(division by zero\) on channel 1's activations of the "
            r"unoccluded input",
        ),
        (lambda a: ["a"] * len(a), r"ReductionFcn must return 1 numbers"),
    ],
)
def test_a_function_that_cannot_score_the_unoccluded_input_is_refused_first(segmenter, picture, function, message):
    counted, calls = counting(function)
    with pytest.raises(ValueError, match=message):
        occlusionSensitivity(segmenter, picture, 1, ReductionFcn=counted)
    assert calls == [1]  # tried on the unoccluded input alone, and nothing after


def test_a_non_finite_score_of_an_occluded_input_is_refused_too(segmenter, picture):
    def sometimes(activations):
        scores = activations.sum(axis=(1, 2), dtype=np.float64)
        return np.where(scores < scores.max() - 1e9, scores, np.inf) if len(activations) > 1 else scores

    with pytest.raises(ValueError, match="non-finite score \\(inf\\) for channel 2's activations of occluded inputs"):
        occlusionSensitivity(segmenter, picture, 2, ReductionFcn=sometimes)


def test_reduction_fcn_must_be_a_function(segmenter, picture):
    with pytest.raises(TypeError, match="ReductionFcn must be a function.*got 'sum'"):
        occlusionSensitivity(segmenter, picture, 1, ReductionFcn="sum")
