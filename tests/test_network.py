"""importNetworkFromONNX: sources, layouts, sizes, batch axes, outputs, normalisation, predict."""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx_builders import OPSET, expected_linear_map, linear_model

from matlab_occsens import importNetworkFromONNX, occlusionSensitivity, predict
from matlab_occsens.network import ImageInputLayer


@pytest.fixture()
def weights():
    return np.random.default_rng(0).integers(-3, 4, size=(4, 3, 10, 14)).astype(np.float32)


def test_sources_path_bytes_and_proto_give_the_same_network(tmp_path, weights):
    model = linear_model(weights)
    path = tmp_path / "linear.onnx"
    onnx.save(model, path)
    image = np.random.default_rng(1).integers(0, 256, (10, 14, 3))
    maps = [
        occlusionSensitivity(importNetworkFromONNX(source), image, 2, MaskValue=0)
        for source in (path, str(path), model.SerializeToString(), model)
    ]
    for other in maps[1:]:
        np.testing.assert_array_equal(other, maps[0])
    assert importNetworkFromONNX(path).Name == "linear"


def test_bad_sources(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        importNetworkFromONNX(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a readable ONNX file"):
        importNetworkFromONNX(junk)
    with pytest.raises(TypeError, match="modelfile"):
        importNetworkFromONNX(42)


def test_properties_and_layers(weights):
    net = importNetworkFromONNX(linear_model(weights), Normalization="zerocenter", Mean=[1, 2, 3])
    assert net.InputSize == (10, 14, 3)
    assert net.InputNames == ["image"]
    assert net.OutputNames == ["scores"]
    assert net.InputDataFormats == "BCSS"
    assert net.OutputDataFormats == ["BC"]
    first, *nodes = net.Layers
    assert isinstance(first, ImageInputLayer) and first.Normalization == "zerocenter"
    assert first.InputSize == (10, 14, 3) and first.Mean.ravel().tolist() == [1, 2, 3]
    assert [(layer.Name, layer.Type) for layer in nodes] == [("whole_image_conv", "Conv"), ("flatten", "Flatten")]
    assert "InputSize=10x14x3" in repr(net)


def test_layout_detection_and_override():
    nhwc = np.zeros((2, 3, 8, 9), np.float32)
    assert importNetworkFromONNX(linear_model(nhwc, layout="BSSC")).InputDataFormats == "BSSC"
    ambiguous = linear_model(np.zeros((1, 3, 3, 3), np.float32))  # [N,3,3,3]
    with pytest.raises(ValueError, match='InputDataFormats="BCSS"'):
        importNetworkFromONNX(ambiguous)
    net = importNetworkFromONNX(ambiguous, InputDataFormats="bcss")
    assert net.InputDataFormats == "BCSS"
    with pytest.raises(ValueError, match="InputDataFormats"):
        importNetworkFromONNX(ambiguous, InputDataFormats="BCHW")


def dynamic_size_model():
    """Global average pooling of a 3-channel image with dynamic height and width."""
    node = helper.make_node("GlobalAveragePool", ["image"], ["pooled"], name="gap")
    flat = helper.make_node("Flatten", ["pooled"], ["scores"], name="flatten")
    graph = helper.make_graph(
        [node, flat],
        "dynamic",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 3])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8)


def test_dynamic_height_and_width_need_input_size():
    with pytest.raises(ValueError, match="InputSize"):
        importNetworkFromONNX(dynamic_size_model())
    net = importNetworkFromONNX(dynamic_size_model(), InputSize=[6, 8])
    assert net.InputSize == (6, 8, 3)
    assert net.InputDataFormats == "BCSS"
    image = np.random.default_rng(2).uniform(0, 1, (6, 8, 3))
    # average pooling: drop = mean over the image of (x - fill) inside the mask
    scoreMap = occlusionSensitivity(net, image, [1, 3], MaskSize=2, Stride=2, MaskValue=0, OutputUpsampling="none")
    expected = (
        np.add.reduceat(np.add.reduceat(image.astype(np.float32), [0, 1, 3, 5], 0), [0, 1, 3, 5, 7], 1)[:3, :4] / 48
    )
    np.testing.assert_allclose(scoreMap, expected[..., [0, 2]], rtol=1e-5)
    with pytest.raises(ValueError, match="conflicts"):
        importNetworkFromONNX(dynamic_size_model(), InputSize=[6, 8, 4])
    with pytest.raises(ValueError, match="InputSize"):
        importNetworkFromONNX(dynamic_size_model(), InputSize=[6, 0])


def unbatchable_model(weights):
    """A batch-1 file whose Reshape hard-codes the batch: it cannot run two images per call."""
    channels_out = weights.shape[0]
    nodes = [
        helper.make_node("Conv", ["image", "W"], ["conv"], name="conv"),
        helper.make_node("Reshape", ["conv", "shape"], ["scores"], name="reshape"),
    ]
    graph = helper.make_graph(
        nodes,
        "unbatchable",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, *weights.shape[1:]])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, channels_out])],
        initializer=[
            numpy_helper.from_array(weights, "W"),
            numpy_helper.from_array(np.array([1, channels_out], np.int64), "shape"),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8)


def test_a_fixed_batch_graph_that_cannot_batch_runs_one_image_per_call(weights):
    image = np.random.default_rng(3).integers(0, 256, (10, 14, 3)).astype(np.float64)
    net = importNetworkFromONNX(unbatchable_model(weights))
    with pytest.warns(RuntimeWarning, match="cannot run several images per call"):
        scoreMap = occlusionSensitivity(net, image, [1, 4], MaskSize=3, Stride=4, MaskValue=0, OutputUpsampling="none")
    assert net.engine("auto").max_batch == 1
    rows = [(max(c - 1, 0), min(c + 2, 10)) for c in range(0, 10, 4)]
    cols = [(max(c - 1, 0), min(c + 2, 14)) for c in range(0, 14, 4)]
    expected = expected_linear_map(weights, image, np.zeros(3), rows, cols)[..., [0, 3]]
    np.testing.assert_array_equal(scoreMap, expected.astype(np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the engine is cached: no second warning
        occlusionSensitivity(net, image, 1)


def test_output_names_select_any_layer_or_tensor(weights):
    net = importNetworkFromONNX(linear_model(weights), OutputNames="whole_image_conv")
    assert net.OutputNames == ["whole_image_conv"]
    assert net.OutputDataFormats == ["BCSS"]  # [N, 4, 1, 1]
    assert net.output_channels("whole_image_conv") == 4
    image = np.ones((10, 14, 3))
    conv_map = occlusionSensitivity(net, image, 3, MaskValue=0)
    net.OutputNames = ["scores"]
    np.testing.assert_array_equal(occlusionSensitivity(net, image, 3, MaskValue=0), conv_map)


def test_output_data_formats_for_a_channel_last_intermediate():
    """An NHWC network's intermediate tensor that is NCHW: OutputDataFormats says which axis is C."""
    weights = np.random.default_rng(4).integers(-3, 4, size=(2, 3, 8, 9)).astype(np.float32)
    net = importNetworkFromONNX(linear_model(weights, layout="BSSC", flatten=False))
    # Issue 12 item 8: this was ["BSSC"], a guess from the input's layout that measured the wrong
    # axis; the graph transposes to NCHW before the convolution, and the derived format says so.
    assert net.OutputDataFormats == ["BCSS"]
    net.OutputDataFormats = "BCSS"  # an explicit format is still taken
    image = np.random.default_rng(5).integers(0, 256, (8, 9, 3)).astype(np.float64)
    scoreMap = occlusionSensitivity(net, image, 2, MaskValue=0, OutputUpsampling="none")
    rows = [(max(c - 1, 0), min(c + 1, 8)) for c in range(0, 8, 1)]
    cols = [(max(c - 1, 0), min(c + 1, 9)) for c in range(0, 9, 1)]
    expected = expected_linear_map(weights, image, np.zeros(3), rows, cols)[..., 1]
    np.testing.assert_array_equal(scoreMap, expected.astype(np.float32))
    with pytest.raises(ValueError, match="letters"):
        net.OutputDataFormats = "XYZ"
    with pytest.raises(ValueError, match="one format per output"):
        net.OutputDataFormats = ["BC", "BC"]


@pytest.mark.parametrize(
    ("normalization", "statistics", "expected"),
    [
        ("none", {}, lambda x: x),
        ("zerocenter", {"Mean": [10, 20, 30]}, lambda x: x - [10, 20, 30]),
        ("zscore", {"Mean": 100, "StandardDeviation": [1, 2, 4]}, lambda x: (x - 100) / [1, 2, 4]),
        ("rescale-zero-one", {"Min": 0, "Max": 255}, lambda x: x / 255),
        (
            "rescale-symmetric",
            {"Min": [0, 10, 20], "Max": 255},
            lambda x: 2 * (x - [0, 10, 20]) / (255 - np.array([0, 10, 20])) - 1,
        ),
    ],
)
def test_input_normalization(weights, normalization, statistics, expected):
    net = importNetworkFromONNX(linear_model(weights), Normalization=normalization, **statistics)
    image = np.random.default_rng(6).integers(0, 256, (10, 14, 3)).astype(np.float64)
    scores = predict(net, image)
    reference = np.einsum("kchw,hwc->k", weights.astype(np.float64), expected(image))
    np.testing.assert_allclose(scores[0], reference, rtol=1e-5, atol=1e-3)


def test_per_pixel_mean(weights):
    mean = np.random.default_rng(7).uniform(0, 50, (10, 14, 3))
    net = importNetworkFromONNX(linear_model(weights), Normalization="zerocenter", Mean=mean)
    image = np.random.default_rng(8).integers(0, 256, (10, 14, 3)).astype(np.float64)
    reference = np.einsum("kchw,hwc->k", weights.astype(np.float64), image - mean)
    np.testing.assert_allclose(predict(net, image)[0], reference, rtol=1e-5, atol=1e-2)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"Normalization": "zscore", "Mean": 1}, ["StandardDeviation"]),
        ({"Normalization": "zerocenter"}, ["Mean"]),
        ({"Normalization": "none", "Mean": 3}, ["not used"]),
        ({"Normalization": "zscore", "Mean": 1, "StandardDeviation": 0}, ["positive"]),
        ({"Normalization": "rescale-zero-one", "Min": 5, "Max": 5}, ["greater than Min"]),
        ({"Normalization": "zerocenter", "Mean": [1, 2]}, ["Mean", "shape"]),
        ({"Normalization": "whiten"}, ["Normalization"]),
        ({"Norm": "none", "Bogus": 1}, ["unknown option", "Bogus"]),
    ],
)
def test_bad_import_options(weights, options, words):
    with pytest.raises((ValueError, TypeError)) as caught:
        importNetworkFromONNX(linear_model(weights), **options)
    assert all(word in str(caught.value) for word in words), str(caught.value)


def test_predict_layouts_and_batches(weights):
    net = importNetworkFromONNX(linear_model(weights))
    rng = np.random.default_rng(9)
    batch = rng.integers(0, 256, (10, 14, 3, 5)).astype(np.float64)
    scores = predict(net, batch, MiniBatchSize=2)
    assert scores.shape == (5, 4)  # one row per observation
    reference = np.einsum("kchw,hwcn->nk", weights.astype(np.float64), batch)
    np.testing.assert_array_equal(scores, reference.astype(np.float32))
    np.testing.assert_array_equal(predict(net, batch[..., 3]), scores[3:4])
    net.OutputNames = ["whole_image_conv", "scores"]
    conv, flat = predict(net, batch)
    assert conv.shape == (1, 1, 4, 5)  # H×W×C×N
    np.testing.assert_array_equal(conv[0, 0], flat.T)
    with pytest.raises(ValueError, match="10x14x3xN"):
        predict(net, np.zeros((10, 14)))


@pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(), reason="a CUDA provider exists")
def test_gpu_without_a_cuda_provider_says_so(weights):
    net = importNetworkFromONNX(linear_model(weights))
    with pytest.raises(ValueError, match="no CUDA provider.*onnxruntime-gpu"):
        occlusionSensitivity(net, np.zeros((10, 14, 3)), 1, ExecutionEnvironment="gpu")
    assert net.engine("auto").device == "cpu"


def test_memory_does_not_grow_with_the_number_of_masks():
    """Stride 1 on 224×224 (50,176 masks): numpy allocations stay at one batch buffer."""
    import tracemalloc

    rng = np.random.default_rng(10)
    weights = rng.integers(-2, 3, size=(1, 1, 224, 224)).astype(np.float32)
    image = rng.integers(0, 4, (224, 224)).astype(np.float64)
    net = importNetworkFromONNX(linear_model(weights), InputDataFormats="BCSS")
    batch = 64
    tracemalloc.start()
    scoreMap = occlusionSensitivity(
        net, image, 1, MaskSize=1, Stride=1, MaskValue=0, OutputUpsampling="none", MiniBatchSize=batch
    )
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    one_image = 224 * 224 * 4
    assert scoreMap.shape == (224, 224)
    # a 1×1 mask with fill 0 removes exactly one pixel's term: the map is W * x
    np.testing.assert_array_equal(scoreMap, (weights[0, 0] * image).astype(np.float32))
    assert peak < batch * one_image + 50 * one_image, f"peak {peak / 1e6:.1f} MB"


def test_a_negative_batch_dimension_counts_as_dynamic(weights):
    """Paddle exports write -1 for a dynamic axis: no fixed-batch rewriting or probing needed."""
    net = importNetworkFromONNX(linear_model(weights, batch=-1))
    assert not net._graph.fixed_batch
    image = np.random.default_rng(11).integers(0, 256, (10, 14, 3))
    reference = importNetworkFromONNX(linear_model(weights))
    np.testing.assert_array_equal(
        occlusionSensitivity(net, image, 1, MaskValue=0), occlusionSensitivity(reference, image, 1, MaskValue=0)
    )
