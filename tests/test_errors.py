"""Bad input: a clear ValueError/TypeError naming the MATLAB argument, before any inference,
and the caller's objects left untouched."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from onnx_builders import linear_model

from matlab_occsens import importNetworkFromONNX, occlusionSensitivity


@pytest.fixture()
def net():
    weights = np.random.default_rng(0).standard_normal((5, 3, 20, 30)).astype(np.float32)
    return importNetworkFromONNX(linear_model(weights))


@pytest.fixture()
def image():
    return np.random.default_rng(1).uniform(0, 255, (20, 30, 3))


def no_inference_happened(net) -> bool:
    return not net._engines  # engines are compiled lazily, only when a map is computed


@pytest.mark.parametrize(
    ("X", "error", "words"),
    [
        (np.zeros((30, 20, 3)), ValueError, ["20x30x3", "30x20x3", "imresize"]),
        (np.zeros((20, 30)), ValueError, ["20x30x3"]),
        (np.zeros((20, 30, 3, 2)), ValueError, ["20x30x3"]),
        (np.zeros((20, 30, 1)), ValueError, ["20x30x3"]),
        (np.full((20, 30, 3), np.nan), ValueError, ["NaN"]),
        (np.full((20, 30, 3), np.inf), ValueError, ["Inf"]),
        (np.full((20, 30, 3), 1e39), ValueError, ["single precision"]),
        (np.zeros((20, 30, 3), complex), TypeError, ["real numeric"]),
        (np.full((20, 30, 3), "a"), TypeError, ["real numeric"]),
    ],
)
def test_bad_X(net, X, error, words):
    with pytest.raises(error) as caught:
        occlusionSensitivity(net, X, 1)
    assert "X" in str(caught.value) and all(word in str(caught.value) for word in words)
    assert no_inference_happened(net)


@pytest.mark.parametrize(
    ("channel", "error", "words"),
    [
        (0, ValueError, ["positive integers", "0"]),
        (-2, ValueError, ["-2"]),
        (1.5, ValueError, ["1.5"]),
        (6, ValueError, ["out of range", "1..5", "'scores'"]),
        ([1, 99], ValueError, ["99", "1..5"]),
        ([], ValueError, ["empty"]),
        (True, TypeError, ["1-based"]),
        (np.array([True, False]), TypeError, ["1-based"]),
        ("cat", TypeError, ["channelIdx"]),
        (np.ones((2, 2)), ValueError, ["vector"]),
        (np.nan, ValueError, ["nan"]),
    ],
)
def test_bad_channel_idx(net, image, channel, error, words):
    with pytest.raises(error) as caught:
        occlusionSensitivity(net, image, channel)
    assert "channelIdx" in str(caught.value) and all(word in str(caught.value) for word in words)
    assert no_inference_happened(net)


def test_integral_floats_are_channels(net, image):
    np.testing.assert_array_equal(
        occlusionSensitivity(net, image, 5.0, OutputUpsampling="none"),
        occlusionSensitivity(net, image, np.int64(5), OutputUpsampling="none"),
    )


@pytest.mark.parametrize(
    ("options", "error", "words"),
    [
        ({"MaskSize": 0}, ValueError, ["MaskSize", ">= 1", "0"]),
        ({"MaskSize": -3}, ValueError, ["MaskSize"]),
        ({"MaskSize": [3, 4, 5]}, ValueError, ["MaskSize", "1 or 2"]),
        ({"MaskSize": 2.5}, ValueError, ["MaskSize", "2.5"]),
        ({"MaskSize": "big"}, ValueError, ["MaskSize", '"auto"']),
        ({"MaskSize": True}, TypeError, ["MaskSize"]),
        ({"Stride": 0}, ValueError, ["Stride"]),
        ({"Stride": [1, 0]}, ValueError, ["Stride"]),
        ({"Stride": None}, TypeError, ["Stride"]),
        ({"MaskSize": [21, 5], "MaskClipping": "off"}, ValueError, ["MaskSize", "20x30", 'MaskClipping="on"']),
        ({"MaskValue": [1, 2]}, ValueError, ["MaskValue", "exactly 3", "got 2"]),
        ({"MaskValue": np.nan}, ValueError, ["MaskValue", "finite"]),
        ({"MaskValue": "mean"}, ValueError, ["MaskValue"]),
        ({"OutputUpsampling": "bilinear"}, ValueError, ["OutputUpsampling", '"bicubic"', '"nearest"', '"none"']),
        ({"MaskClipping": "maybe"}, ValueError, ["MaskClipping"]),
        ({"MiniBatchSize": 0}, ValueError, ["MiniBatchSize"]),
        ({"MiniBatchSize": [2, 3]}, ValueError, ["MiniBatchSize"]),
        ({"ExecutionEnvironment": "tpu"}, ValueError, ["ExecutionEnvironment", '"gpu"']),
        ({"Verbose": "yes"}, TypeError, ["Verbose"]),
        ({"Maskk": 3}, ValueError, ["unknown option", "'Maskk'", "MaskSize", "Stride"]),
        ({"Mask": 3}, ValueError, ["ambiguous", "MaskSize", "MaskValue", "MaskClipping"]),
    ],
)
def test_bad_options(net, image, options, error, words):
    with pytest.raises(error) as caught:
        occlusionSensitivity(net, image, 1, **options)
    assert all(word in str(caught.value) for word in words), str(caught.value)
    assert no_inference_happened(net)


@pytest.mark.parametrize(
    ("pairs", "error", "words"),
    [
        (("Stride",), ValueError, ["pairs"]),
        ((3, 4), TypeError, ["option name"]),
        (("Stride", 3, "stride", 4), ValueError, ["given twice"]),
    ],
)
def test_bad_name_value_pairs(net, image, pairs, error, words):
    with pytest.raises(error) as caught:
        occlusionSensitivity(net, image, 1, *pairs)
    assert all(word in str(caught.value) for word in words)


def test_a_name_given_as_pair_and_keyword_is_an_error(net, image):
    with pytest.raises(ValueError, match="given twice"):
        occlusionSensitivity(net, image, 1, "MaskSize", 3, masksize=4)


def test_several_selected_outputs_are_an_error(net, image):
    net.OutputNames = ["whole_image_conv", "scores"]
    with pytest.raises(ValueError, match="set net.OutputNames"):
        occlusionSensitivity(net, image, 1)


def test_unknown_output_name(net):
    with pytest.raises(ValueError, match="'nope' is neither a layer nor a tensor"):
        net.OutputNames = "nope"
    assert net.OutputNames == ["scores"]


def test_net_must_be_a_network(image):
    with pytest.raises(TypeError, match="net must be a network object"):
        occlusionSensitivity("model.onnx", image, 1)


def test_the_callers_objects_are_not_modified():
    rng = np.random.default_rng(2)
    weights = rng.standard_normal((3, 3, 12, 12)).astype(np.float32)
    model = linear_model(weights)
    model_before = copy.deepcopy(model)
    X = rng.integers(0, 255, (12, 12, 3)).astype(np.uint8)
    X_before = X.copy()
    fill = np.array([1.0, 2.0, 3.0])
    channels = np.array([3, 1])
    net = importNetworkFromONNX(model, Normalization="zscore", Mean=fill, StandardDeviation=[2, 2, 2])
    occlusionSensitivity(net, X, channels, MaskValue=fill, MaskSize=[3, 3])
    assert model == model_before
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(fill, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(channels, [3, 1])
