"""The older MATLAB call forms: (net, X, label), (net, X, layerName, channelIdx) and classify.

Each must give exactly what the current form gives, emit one MatlabCompatibilityNote, and leave
the network as it was.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from onnx_builders import expected_linear_map, linear_model, pointwise_then_linear_model, spatial_model

from matlab_occsens import (
    MatlabCompatibilityNote,
    classify,
    importNetworkFromONNX,
    occlusionSensitivity,
    predict,
    scores2label,
)

CLASSES = ["cat", "dog", "bird"]


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(7)
    weights = rng.integers(-3, 4, size=(3, 2, 10, 12)).astype(np.float32)
    image = rng.integers(0, 256, size=(10, 12, 2)).astype(np.float64)
    return weights, image


def current(net, image, channels, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the current form must not warn
        return occlusionSensitivity(net, image, channels, **options)


def test_label_form_equals_the_channel_form(problem):
    weights, image = problem
    net = importNetworkFromONNX(linear_model(weights), Classes=CLASSES)
    assert net.Classes == CLASSES
    with pytest.warns(MatlabCompatibilityNote, match=r"channelIdx = 2 ") as notes:
        by_label = occlusionSensitivity(net, image, "dog", MaskSize=4, Stride=3, OutputUpsampling="none")
    assert len(notes) == 1 and notes[0].filename == __file__  # points at the caller's line
    by_index = current(net, image, 2, MaskSize=4, Stride=3, OutputUpsampling="none")
    np.testing.assert_array_equal(by_label, by_index)
    fill = image.reshape(-1, 2).mean(axis=0)
    rows = [(max(c - 2, 0), min(c + 2, 10)) for c in range(0, 10, 3)]
    cols = [(max(c - 2, 0), min(c + 2, 12)) for c in range(0, 12, 3)]
    expected = expected_linear_map(weights, image, fill, rows, cols)[..., 1]
    np.testing.assert_allclose(by_label, expected, rtol=1e-6, atol=1e-3)


def test_label_list_and_pair_options(problem):
    weights, image = problem
    net = importNetworkFromONNX(linear_model(weights), Classes=np.array(CLASSES))
    with pytest.warns(MatlabCompatibilityNote, match=r"channelIdx = \[3, 1\]"):
        by_label = occlusionSensitivity(net, image, ["bird", "cat"], "Stride", 4, "OutputUpsampling", "none")
    np.testing.assert_array_equal(by_label, current(net, image, [3, 1], Stride=4, OutputUpsampling="none"))


def test_layer_form_equals_setting_output_names():
    rng = np.random.default_rng(3)
    kernel = rng.integers(-2, 3, size=(4, 3, 3, 3)).astype(np.float32)
    image = rng.integers(0, 256, size=(16, 14, 3)).astype(np.float64)
    net = importNetworkFromONNX(spatial_model(kernel, 16, 14))
    with pytest.warns(MatlabCompatibilityNote, match=r"net.OutputNames = \['local'\]"):
        by_layer = occlusionSensitivity(net, image, "local", 3, MaskSize=5, OutputUpsampling="nearest")
    assert net.OutputNames == ["scores"]  # unchanged by the call
    measured = importNetworkFromONNX(spatial_model(kernel, 16, 14), OutputNames="local")
    by_output_names = current(measured, image, 3, MaskSize=5, OutputUpsampling="nearest")
    np.testing.assert_array_equal(by_layer, by_output_names)
    # The final output sums "local" over space, so measuring it gives the same numbers too.
    np.testing.assert_allclose(by_layer, current(net, image, 3, MaskSize=5, OutputUpsampling="nearest"), atol=1e-2)


def test_layer_form_with_a_tensor_name_and_a_channel_vector():
    kernel = np.ones((2, 1, 3, 3), np.float32)
    image = np.arange(64, dtype=np.float64).reshape(8, 8)
    net = importNetworkFromONNX(spatial_model(kernel, 8, 8))
    with pytest.warns(MatlabCompatibilityNote):
        by_layer = occlusionSensitivity(net, image, "local_out", [2, 1], "Stride", 2, OutputUpsampling="none")
    measured = importNetworkFromONNX(spatial_model(kernel, 8, 8), OutputNames="local_out")
    np.testing.assert_array_equal(by_layer, current(measured, image, [2, 1], Stride=2, OutputUpsampling="none"))


def test_classes_are_checked_on_import(problem):
    weights, _ = problem
    model = linear_model(weights)
    with pytest.raises(ValueError, match=r"Classes has 2 names but the output has 3 channels"):
        importNetworkFromONNX(model, Classes=["cat", "dog"])
    with pytest.raises(ValueError, match=r"'cat' appears more than once"):
        importNetworkFromONNX(model, Classes=["cat", "dog", "cat"])
    with pytest.raises(TypeError, match=r"Classes must be a list of class names"):
        importNetworkFromONNX(model, Classes="cat dog bird")
    with pytest.raises(TypeError, match=r"non-empty list of strings"):
        importNetworkFromONNX(model, Classes=[1, 2, 3])
    net = importNetworkFromONNX(model)
    assert net.Classes is None
    names = list(CLASSES)
    net.Classes = names
    names.append("fish")
    assert net.Classes == CLASSES  # a copy: the caller's list is not kept


def test_label_form_errors(problem):
    weights, image = problem
    plain = importNetworkFromONNX(linear_model(weights))
    with pytest.raises(
        TypeError,
        match=r"got the class name\(s\) 'dog', but the network has no class names: "
        r"import it with importNetworkFromONNX\(\.\.\., Classes=names\)",
    ):
        occlusionSensitivity(plain, image, "dog")
    net = importNetworkFromONNX(linear_model(weights), Classes=CLASSES)
    with pytest.raises(ValueError, match=r"'Dog' is not one of the 3 class names\. Did you mean 'dog'\?"):
        occlusionSensitivity(net, image, "Dog")
    with pytest.raises(
        ValueError,
        match=r"older form occlusionSensitivity\(net, X, layerName, channelIdx\), but "
        r"OutputNames: 'dog' is neither a layer nor a tensor",
    ):
        occlusionSensitivity(net, image, "dog", 2)


def test_label_form_refuses_an_output_that_is_not_the_class_scores():
    rng = np.random.default_rng(5)
    pointwise = rng.integers(-2, 3, size=(2, 1, 1, 1)).astype(np.float32)
    weights = rng.integers(-2, 3, size=(3, 2, 6, 6)).astype(np.float32)
    net = importNetworkFromONNX(pointwise_then_linear_model(pointwise, weights), Classes=CLASSES)
    net.OutputNames = "pointwise"  # 2 channels: the class names no longer apply
    with pytest.raises(ValueError, match=r"names 3 classes but the selected output 'pointwise' has 2 channels"):
        occlusionSensitivity(net, np.ones((6, 6)), "dog")


def test_the_note_can_be_silenced(problem):
    weights, image = problem
    net = importNetworkFromONNX(linear_model(weights), Classes=CLASSES)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", MatlabCompatibilityNote)
        occlusionSensitivity(net, image, "cat", Stride=5)


# --- [label, scores] = classify(net, X) (issue 12, item 15) -------------------------------------


def _softmax_net(weights, classes=CLASSES):
    """The linear network with a softmax on top: scores are probabilities, as MATLAB's classify gives."""
    import onnx
    from onnx import helper

    model = linear_model(weights)
    model.graph.node[-1].output[0] = "logits"
    model.graph.node.append(helper.make_node("Softmax", ["logits"], ["scores"], axis=1, name="prob"))
    onnx.checker.check_model(model)
    return importNetworkFromONNX(model, Classes=classes)


def test_classify_is_predict_then_scores2label(problem):
    weights, image = problem
    net = _softmax_net(weights)
    with pytest.warns(MatlabCompatibilityNote, match=r"scores = predict\(net, X\) then label = scores2label") as notes:
        label, scores = classify(net, image)
    assert len(notes) == 1 and notes[0].filename == __file__
    expected_scores = predict(net, image)
    np.testing.assert_array_equal(scores, expected_scores)
    assert scores.shape == (1, 3)
    assert label == CLASSES[int(np.argmax(expected_scores))] and isinstance(label, str)
    assert (label, float(scores.max())) == scores2label(expected_scores, CLASSES)


def test_classify_several_images_and_options(problem):
    weights, image = problem
    net = _softmax_net(weights)
    stack = np.stack([image, image[::-1], 255 - image], axis=3)
    with pytest.warns(MatlabCompatibilityNote):
        labels, scores = classify(net, stack, "MiniBatchSize", 2)
    logits = np.einsum("kchw,hwcn->nk", weights.astype(np.float64), stack)
    assert list(labels) == [CLASSES[k] for k in np.argmax(logits, axis=1)]
    assert scores.shape == (3, 3)
    np.testing.assert_allclose(scores.sum(axis=1), 1, rtol=1e-6)


def test_classify_needs_class_names_and_a_class_score_output(problem):
    weights, image = problem
    with pytest.raises(TypeError, match=r"classify: net must be a network with class names.*Classes=names"):
        classify(importNetworkFromONNX(linear_model(weights)), image)
    net = importNetworkFromONNX(linear_model(weights), Classes=CLASSES)
    net.OutputNames = ["whole_image_conv"]  # N x 3 x 1 x 1: not one score per class in rows
    with pytest.raises(ValueError, match=r"classify: the network must give one score per class.*OutputNames"):
        classify(net, image)
    with pytest.raises(TypeError, match=r"classify: net must be a network"):
        classify("model.onnx", image)
    with pytest.raises(ValueError, match="predict: MiniBatchSize"):
        classify(_softmax_net(weights), image, MiniBatchSize=0)
