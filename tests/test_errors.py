"""Bad input: a clear ValueError/TypeError naming the MATLAB argument, before any inference,
and the caller's objects left untouched."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from onnx_builders import linear_model

from matlab_occsens import importNetworkFromONNX, occlusionSensitivity, predict


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


# --- values numpy cannot hold as plain numbers, and numbers too large for 64 bits (issue 12, item 5) ---

ODD_VALUES = [
    pytest.param(np.array(["5"], dtype=object), id="object-array"),
    pytest.param(np.array([None], dtype=object), id="object-None"),
    pytest.param([[1, 2], [3]], id="ragged"),
    pytest.param([np.arange(2), np.arange(3)], id="ragged-arrays"),
    pytest.param([b"\xff", "a"], id="bytes-and-str"),
    pytest.param(np.ma.masked_array([1.0, 2.0], mask=[0, 1]), id="masked"),
    pytest.param(1j, id="complex"),
    pytest.param({}, id="dict"),
]


@pytest.mark.parametrize(
    "argument", ["MaskSize", "Stride", "MaskValue", "MiniBatchSize", "Verbose", "MaskClipping", "OutputUpsampling"]
)
@pytest.mark.parametrize("value", ODD_VALUES)
def test_odd_values_name_the_option_in_one_line(net, image, argument, value):
    with pytest.raises((ValueError, TypeError)) as caught:
        occlusionSensitivity(net, image, 1, **{argument: value})
    message = str(caught.value)
    assert argument in message and "\n" not in message, message
    assert message.startswith("occlusionSensitivity: ")
    assert no_inference_happened(net)


@pytest.mark.parametrize("value", ODD_VALUES)
def test_odd_channel_idx_and_x_name_the_argument(net, image, value):
    with pytest.raises((ValueError, TypeError)) as caught:
        occlusionSensitivity(net, image, value)
    assert "channelIdx" in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises((ValueError, TypeError)) as caught:
        occlusionSensitivity(net, value, 1)
    assert "X" in str(caught.value) and "\n" not in str(caught.value)
    assert no_inference_happened(net)


def test_an_object_array_of_numbers_is_numbers(net, image):
    np.testing.assert_array_equal(
        occlusionSensitivity(
            net, image, np.array([2], dtype=object), MaskSize=np.array([5], dtype=object), OutputUpsampling="none"
        ),
        occlusionSensitivity(net, image, 2, MaskSize=5, OutputUpsampling="none"),
    )


@pytest.mark.parametrize(
    ("options", "same_as"),
    [
        ({"Stride": 1e20}, {"Stride": 30}),  # one mask position per dimension either way
        ({"Stride": 2**64}, {"Stride": 30}),
        ({"Stride": [2, 10**30]}, {"Stride": [2, 30]}),
        ({"MaskSize": 2**63}, {"MaskSize": 60}),  # with clipping, every mask covers the whole image
        ({"MaskSize": [3, 10**40]}, {"MaskSize": [3, 60]}),
        ({"MiniBatchSize": 10**30}, {"MiniBatchSize": 128}),  # speed only
        ({"MiniBatchSize": 2.0**70}, {"MiniBatchSize": 128}),
    ],
)
def test_huge_sizes_are_valid_and_exact(net, image, options, same_as):
    np.testing.assert_array_equal(
        occlusionSensitivity(net, image, 1, OutputUpsampling="none", **options),
        occlusionSensitivity(net, image, 1, OutputUpsampling="none", **same_as),
    )


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"MaskSize": 2**63, "MaskClipping": "off"}, ["MaskSize", "20x30", 'MaskClipping="on"']),
        ({"MaskSize": 10**400}, ["MaskSize", ">= 1"]),
        ({"MaskValue": 1e300}, ["MaskValue", "single precision"]),
        ({"MaskValue": [0, 1e39, 0]}, ["MaskValue", "single precision"]),
        ({"MaskValue": -(10**40)}, ["MaskValue", "single precision"]),
    ],
)
def test_values_too_large_for_their_use_are_refused(net, image, options, words):
    with pytest.raises(ValueError) as caught:
        occlusionSensitivity(net, image, 1, **options)
    assert all(word in str(caught.value) for word in words), str(caught.value)
    assert no_inference_happened(net)


@pytest.mark.parametrize("channel", [1e20, 2**63, 10**30, [1, 2**64]])
def test_a_huge_channel_is_out_of_range_not_negative(net, image, channel):
    with pytest.raises(ValueError, match=r"channelIdx .*out of range.*1\.\.5") as caught:
        occlusionSensitivity(net, image, channel)
    assert "-" not in str(caught.value).split("out of range")[0]
    assert no_inference_happened(net)


@pytest.mark.parametrize("name", ["Stride", "stride", "MaskS", "verbose"])
def test_a_trailing_name_without_value_names_the_option(net, image, name):
    with pytest.raises(ValueError, match=r"option (Stride|MaskSize|Verbose) has no value.*pairs") as caught:
        occlusionSensitivity(net, image, 1, "MaskSize", 3, name)
    assert name.lower() in str(caught.value).lower()


def test_predict_refuses_odd_options_naming_them(net, image):
    for value in ODD_VALUES:
        with pytest.raises((ValueError, TypeError), match="predict: MiniBatchSize"):
            predict(net, image, MiniBatchSize=value.values[0])


# --- X: the fix that fits the mistake (issue 12, item 7) ----------------------------------------


@pytest.mark.parametrize(
    ("X", "error", "words"),
    [
        ("photo.png", TypeError, ["file name", "imread('photo.png')"]),
        (Path("images") / "photo.png", TypeError, ["file name", "imread("]),
        (np.zeros((3, 20, 30)), ValueError, ["20x30x3", "C×H×W", "H×W×C", "np.moveaxis(X, 0, -1)"]),
        (np.zeros((20, 30)), ValueError, ["20x30x3", "grayscale", "RGB"]),
        (np.zeros((20, 30, 1)), ValueError, ["20x30x3", "grayscale"]),
        (np.zeros((20, 30, 4)), ValueError, ["20x30x3", "alpha", "X[:, :, :3]"]),
        (np.zeros((20, 30, 3, 2)), ValueError, ["20x30x3", "stack of 2 images", "one image per call"]),
        (np.zeros((1, 20, 30, 3)), ValueError, ["20x30x3", "N×H×W×C", "X[0]"]),
        (np.zeros((1, 3, 20, 30)), ValueError, ["20x30x3", "N×C×H×W"]),
        (np.zeros((30, 20, 3)), ValueError, ["20x30x3", "imresize"]),
        (np.zeros((7,)), ValueError, ["20x30x3", "H×W×C"]),
    ],
)
def test_x_layout_mistakes_get_the_fix_that_fits(net, X, error, words):
    with pytest.raises(error) as caught:
        occlusionSensitivity(net, X, 1)
    message = str(caught.value)
    assert "X" in message and "\n" not in message and all(word in message for word in words), message
    if "imresize" not in words:
        assert "imresize" not in message  # "Resize it first" fixes none of these
    assert no_inference_happened(net)


@pytest.mark.parametrize(
    ("X", "words"),
    [
        (np.zeros((2, 20, 30, 3)), ["N×H×W×C", "H×W×C×N", "np.moveaxis(X, 0, -1)"]),
        (np.zeros((2, 3, 20, 30)), ["N×C×H×W", "np.transpose(X, (2, 3, 1, 0))"]),
        (np.zeros((3, 20, 30)), ["C×H×W"]),
        (np.zeros((20, 30)), ["grayscale"]),
        (np.zeros((20, 31, 3, 2)), ["imresize"]),
    ],
)
def test_predict_x_layout_mistakes(net, X, words):
    with pytest.raises(ValueError) as caught:
        predict(net, X)
    assert all(word in str(caught.value) for word in words), str(caught.value)
    with pytest.raises(TypeError, match=r"predict: X must be an image array, not a file name.*imread"):
        predict(net, "photo.png")
    assert no_inference_happened(net)


def test_x_is_refused_like_mask_value_beyond_single(net, image):
    with pytest.raises(ValueError, match="X must be finite in single precision.*beyond ±3.4e38"):
        occlusionSensitivity(net, np.full((20, 30, 3), 1e300), 1)


@pytest.mark.parametrize(
    ("options", "error", "words"),
    [
        ({"Normalization": "zscore", "Mean": 1e300, "StandardDeviation": 1}, ValueError, ["Mean", "single precision"]),
        ({"Normalization": "zerocenter", "Mean": ["1", "2", "3"]}, TypeError, ["Mean", "numeric"]),  # not parsed
        ({"Normalization": "zerocenter", "Mean": [b"\xff", "a"]}, TypeError, ["Mean"]),
        ({"Normalization": "rescale-zero-one", "Min": [[0, 1], [2]], "Max": 255}, TypeError, ["Min", "ragged"]),
        ({"OutputNames": np.datetime64("2020-01-01")}, TypeError, ["OutputNames"]),
        ({"OutputNames": 5}, TypeError, ["OutputNames"]),
        ({"OutputDataFormats": 5}, TypeError, ["OutputDataFormats"]),
        ({"InputSize": np.array([20, 30, 3], dtype=object)}, None, []),  # numbers in an object array are numbers
    ],
)
def test_import_options_name_themselves(options, error, words):
    model = linear_model(np.ones((5, 3, 20, 30), np.float32))
    if error is None:
        assert importNetworkFromONNX(model, **options).InputSize == (20, 30, 3)
        return
    with pytest.raises(error) as caught:
        importNetworkFromONNX(model, **options)
    message = str(caught.value)
    assert "\n" not in message and all(word in message for word in words), message
