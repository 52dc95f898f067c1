"""Every warning the package gives points at the caller's line, however deep it is raised.

The warnings used fixed ``stacklevel`` values, right for one call path each; ``warn_unbatchable``
pointed inside the package when reached through ``occlusionSensitivity``. Each case below
checks the file the warning names, and, where the call is on one line, the line.
"""

from __future__ import annotations

import inspect
import warnings
from pathlib import Path

import numpy as np
import pytest
from onnx_builders import linear_model
from test_network import unbatchable_model

from matlab_occsens import MatlabCompatibilityNote, classify, importNetworkFromONNX, occlusionSensitivity, predict
from matlab_occsens._utils.warn import warn_user

WEIGHTS = np.random.default_rng(0).integers(-3, 4, size=(4, 3, 10, 14)).astype(np.float32)
IMAGE = np.random.default_rng(1).integers(0, 256, size=(10, 14, 3)).astype(np.float64)


def caught(call):
    """The warnings ``call`` (a lambda written on the caller's line) gives, and that line's number."""
    line = inspect.currentframe().f_back.f_lineno
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        call()
    return records, line


def assert_points_here(records, line, category):
    assert records, "no warning"
    for record in records:
        assert issubclass(record.category, category)
        assert Path(record.filename) == Path(__file__), record.filename
        assert record.lineno == line


def test_unbatchable_warning_from_occlusion_sensitivity():
    net = importNetworkFromONNX(unbatchable_model(WEIGHTS))
    records, line = caught(lambda: occlusionSensitivity(net, IMAGE, 1, MaskSize=5, Stride=5))
    assert_points_here(records, line, RuntimeWarning)


def test_unbatchable_warning_from_predict_and_from_the_engine():
    net = importNetworkFromONNX(unbatchable_model(WEIGHTS))
    records, line = caught(lambda: predict(net, IMAGE))
    assert_points_here(records, line, RuntimeWarning)
    other = importNetworkFromONNX(unbatchable_model(WEIGHTS))
    records, line = caught(lambda: other.engine("cpu"))
    assert_points_here(records, line, RuntimeWarning)


def test_incremental_fallback_warning():
    model = linear_model(np.ones((2, 3, 8, 8), np.float32), layout="BSSC")
    model.graph.node[0].attribute[0].ints[:] = [0, 3, 2, 1]  # NHWC read otherwise than as NCHW: refused
    net = importNetworkFromONNX(model)
    image = np.zeros((8, 8, 3))
    records, line = caught(lambda: occlusionSensitivity(net, image, 1, MaskSize=3, Stride=2, Incremental="on"))
    assert_points_here(records, line, RuntimeWarning)


def test_older_call_form_notes():
    net = importNetworkFromONNX(linear_model(WEIGHTS), Classes=["a", "b", "c", "d"])
    records, line = caught(lambda: occlusionSensitivity(net, IMAGE, "b", MaskSize=5, Stride=5))
    assert_points_here(records, line, MatlabCompatibilityNote)
    records, line = caught(lambda: occlusionSensitivity(net, IMAGE, "whole_image_conv", 2, MaskSize=5, Stride=5))
    assert_points_here(records, line, MatlabCompatibilityNote)
    records, line = caught(lambda: classify(net, IMAGE))
    assert_points_here(records, line, MatlabCompatibilityNote)


def test_warn_user_called_from_outside_the_package_names_its_caller():
    with pytest.warns(UserWarning, match="hello") as records:
        warn_user("hello")
    assert records[0].filename == __file__


IMAGENET_255 = {
    "Normalization": "zscore",
    "Mean": [123.675, 116.28, 103.53],
    "StandardDeviation": [58.395, 57.12, 57.375],
}
IMAGENET_1 = {"Normalization": "zscore", "Mean": [0.485, 0.456, 0.406], "StandardDeviation": [0.229, 0.224, 0.225]}


@pytest.mark.parametrize(
    "layer, X, said",
    [
        (IMAGENET_255, IMAGE / 255, "all lie in 0..1"),  # a 0..1 float image, statistics in 0..255 units
        (IMAGENET_1, IMAGE, "go beyond 1"),  # raw 0..255 pixels, statistics in 0..1 units
        ({"Normalization": "rescale-zero-one", "Min": 0, "Max": 255}, IMAGE / 255, "all lie in 0..1"),
        ({"Normalization": "zerocenter", "Mean": 0.5}, IMAGE.astype(np.uint8), "go beyond 1"),
    ],
)
def test_an_image_far_from_the_range_the_normalisation_implies_is_warned_of(layer, X, said):
    net = importNetworkFromONNX(linear_model(WEIGHTS), **layer)
    records, line = caught(lambda: occlusionSensitivity(net, X, 1, MaskSize=5, Stride=5))
    assert_points_here(records, line, UserWarning)
    assert said in str(records[0].message) and layer["Normalization"] in str(records[0].message)
    records, line = caught(lambda: predict(net, X))
    assert_points_here(records, line, UserWarning)


@pytest.mark.parametrize(
    "layer, X",
    [
        (IMAGENET_255, IMAGE),
        (IMAGENET_1, IMAGE / 255),
        ({}, IMAGE / 255),  # no normalisation: nothing tells the range
        (IMAGENET_255, np.zeros_like(IMAGE)),  # a black image is black in any units
    ],
)
def test_an_image_in_the_range_the_normalisation_implies_runs_without_a_warning(layer, X):
    net = importNetworkFromONNX(linear_model(WEIGHTS), **layer)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        occlusionSensitivity(net, X, 1, MaskSize=5, Stride=5)
        predict(net, X)


def test_the_coffee_photo_in_0_to_1_is_warned_of_on_a_real_network(efficientnet, coffee):
    """EfficientNet-Lite0's statistics are in 0..255 units: coffee / 255 ran silently (and was
    classified as a nematode)."""
    records, line = caught(lambda: predict(efficientnet, coffee / 255))
    assert_points_here(records, line, UserWarning)
    assert "X * 255" in str(records[0].message)
