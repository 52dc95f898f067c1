"""MATLAB call forms (docs/specification.md §1) and auto values on tiny inputs (§3)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx_builders import expected_linear_map, linear_model

from matlab_occsens import importNetworkFromONNX, occlusionSensitivity
from matlab_occsens._utils.namevalue import match_string, parse_name_value


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    weights = rng.integers(-3, 4, size=(2, 3, 18, 22)).astype(np.float32)
    image = rng.integers(0, 256, size=(18, 22, 3)).astype(np.float64)
    return importNetworkFromONNX(linear_model(weights)), image


def test_keyword_pair_mixed_case_and_prefix_forms_agree(problem):
    net, image = problem
    reference = occlusionSensitivity(
        net, image, 2, MaskSize=[4, 5], Stride=3, MaskValue=10, OutputUpsampling="nearest", MaskClipping="off"
    )
    variants = [
        occlusionSensitivity(
            net,
            image,
            2,
            "MaskSize",
            [4, 5],
            "Stride",
            3,
            "MaskValue",
            10,
            "OutputUpsampling",
            "nearest",
            "MaskClipping",
            "off",
        ),
        occlusionSensitivity(
            net, image, 2, "masksize", [4, 5], "STRIDE", 3, maskvalue=10, outputup="Nearest", MaskClipping="OFF"
        ),
        occlusionSensitivity(net, image, 2, "maskS", [4, 5], "str", 3, "MaskV", 10, "outputu", "nea", "MaskC", False),
    ]
    for variant in variants:
        np.testing.assert_array_equal(variant, reference)


def test_mask_clipping_accepts_booleans(problem):
    net, image = problem
    np.testing.assert_array_equal(
        occlusionSensitivity(net, image, 1, MaskClipping=True, OutputUpsampling="none"),
        occlusionSensitivity(net, image, 1, MaskClipping="on", OutputUpsampling="none"),
    )


def test_auto_values_that_round_to_zero_become_one():
    """A 2×4 image: mask round(0.4)=0 -> 1 and round(0.8)=1; stride 0 -> 1 both ways."""
    weights = np.arange(1, 9, dtype=np.float32).reshape(1, 1, 2, 4)
    net = importNetworkFromONNX(linear_model(weights), InputDataFormats="BCSS")
    image = np.array([[1, 2, 3, 4], [5, 6, 7, 8]], dtype=np.float64)
    scoreMap = occlusionSensitivity(net, image, 1, MaskValue=0, OutputUpsampling="none")
    # 1×1 masks at every pixel: each removes exactly w * x
    np.testing.assert_array_equal(scoreMap, (weights[0, 0] * image).astype(np.float32))


def test_logical_image_is_accepted():
    weights = np.ones((1, 1, 6, 6), np.float32)
    net = importNetworkFromONNX(linear_model(weights), InputDataFormats="BCSS")
    image = np.eye(6, dtype=bool)
    scoreMap = occlusionSensitivity(net, image, 1, MaskSize=2, Stride=2, MaskValue=0, OutputUpsampling="none")
    rows = [(0, 1), (1, 3), (3, 5)]
    expected = expected_linear_map(weights, image[..., None].astype(float), np.zeros(1), rows, rows)[..., 0]
    np.testing.assert_array_equal(scoreMap, expected)


def test_parse_name_value_prefers_exact_names():
    defaults = {"Scale": 1, "ScaleMode": "a"}
    assert parse_name_value("f", defaults, ("scale", 3), {}) == {"Scale": 3, "ScaleMode": "a"}
    with pytest.raises(ValueError, match="ambiguous"):
        parse_name_value("f", defaults, ("sca", 3), {})


def test_match_string_values():
    choices = ("bicubic", "bilinear", "nearest")
    assert match_string("BICUBIC", choices, "Method", "f") == "bicubic"
    assert match_string("bicu", choices, "Method", "f") == "bicubic"
    with pytest.raises(ValueError, match='"bicubic", "bilinear", "nearest"'):
        match_string("bi", choices, "Method", "f")
    with pytest.raises(TypeError, match="Method"):
        match_string(3, choices, "Method", "f")
