"""EfficientNet-Lite0 on skimage's coffee photo: the network must say espresso, and the map
must point at the cup."""

from __future__ import annotations

import numpy as np

from matlab_occsens import occlusionSensitivity, predict, scores2label
from matlab_occsens.pretrained import imagenet_classes

ESPRESSO = 968  # 1-based ImageNet class index
CUP_ROWS, CUP_COLS = slice(10, 110), slice(55, 165)  # the cup and its crema in the 224×224 image


def softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def test_espresso_is_the_top_class(efficientnet, coffee):
    scores = predict(efficientnet, coffee)
    assert scores.shape == (1, 1000)
    label, score = scores2label(softmax(scores), imagenet_classes())
    assert label == "espresso" and score > 0.8
    assert int(np.argmax(scores)) + 1 == ESPRESSO


def test_the_map_is_largest_over_the_cup(efficientnet, coffee):
    scoreMap = occlusionSensitivity(efficientnet, coffee, ESPRESSO)
    assert scoreMap.shape == (224, 224) and scoreMap.dtype == np.float32
    row, col = np.unravel_index(np.argmax(scoreMap), scoreMap.shape)
    assert CUP_ROWS.start <= row < CUP_ROWS.stop and CUP_COLS.start <= col < CUP_COLS.stop
    inside = scoreMap[CUP_ROWS, CUP_COLS].mean()
    outside = (scoreMap.sum() - scoreMap[CUP_ROWS, CUP_COLS].sum()) / (scoreMap.size - 100 * 110)
    assert inside > 3 * max(outside, 0.05)


def test_the_map_is_the_drop_in_the_class_score(efficientnet, coffee):
    """Raw map value = score(X) - score(X occluded), checked by occluding one mask by hand."""
    raw = occlusionSensitivity(efficientnet, coffee, ESPRESSO, OutputUpsampling="none")
    assert raw.shape == (11, 11)
    fill = coffee.astype(np.float32).mean(axis=(0, 1), dtype=np.float64).astype(np.float32)
    occluded = coffee.astype(np.float32)
    occluded[44 - 22 : 44 + 23, 66 - 22 : 66 + 23] = fill  # centre (45, 67) 1-based, mask 45
    scores = predict(efficientnet, np.stack([coffee.astype(np.float32), occluded], axis=3))
    np.testing.assert_allclose(raw[2, 3], scores[0, ESPRESSO - 1] - scores[1, ESPRESSO - 1], rtol=1e-4, atol=1e-4)
