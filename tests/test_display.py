"""MATLAB's jet, imagesc scaling and the overlay of imshow(X); imagesc(map, AlphaData=0.5)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from matlab_occsens import imshow, jet, overlayScoreMap
from matlab_occsens.image._display import colormap_indices

# Rows of MATLAB's jet(64) as MATLAB prints them (1-based row: RGB).
JET64_ROWS = {
    1: [0, 0, 0.5625],
    8: [0, 0, 1],
    9: [0, 0.0625, 1],
    24: [0, 1, 1],
    25: [0.0625, 1, 0.9375],
    40: [1, 1, 0],
    41: [1, 0.9375, 0],
    56: [1, 0, 0],
    57: [0.9375, 0, 0],
    64: [0.5, 0, 0],
}
JET8 = [[0, 0, 1], [0, 0.5, 1], [0, 1, 1], [0.5, 1, 0.5], [1, 1, 0], [1, 0.5, 0], [1, 0, 0], [0.5, 0, 0]]


def test_jet_matches_matlab():
    table = jet(64)
    assert table.shape == (64, 3)
    for row, rgb in JET64_ROWS.items():
        np.testing.assert_array_equal(table[row - 1], rgb)
    np.testing.assert_array_equal(jet(8), JET8)
    default = jet()
    assert default.shape == (256, 3)
    np.testing.assert_array_equal(default[0], [0, 0, 132 / 256])
    np.testing.assert_array_equal(default[-1], [0.5, 0, 0])
    assert jet(0).shape == (0, 3)
    for m in range(1, 20):
        table = jet(m)
        assert table.shape == (m, 3) and table.min() >= 0 and table.max() <= 1


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (2.5, ValueError), ("64", TypeError)])
def test_jet_rejects_bad_sizes(bad, error):
    with pytest.raises(error, match=r"jet: m must be"):
        jet(bad)


def test_colormap_indices_follow_matlabs_scaled_mapping():
    # index = fix((C - cmin) / (cmax - cmin) * m) + 1, clamped to 1..m (here 0-based).
    values = np.array([-5.0, 0.0, 0.999, 1.0, 127.5, 255.999, 256.0, 300.0])
    np.testing.assert_array_equal(colormap_indices(values, (0.0, 256.0), 256), [0, 0, 0, 1, 127, 255, 255, 255])


@pytest.fixture
def small():
    X = np.array([[[0, 0, 0], [255, 255, 255], [10, 20, 30]], [[200, 100, 50], [1, 2, 3], [128, 128, 128]]], np.uint8)
    scoreMap = np.arange(6, dtype=np.float32).reshape(2, 3)
    return X, scoreMap


def test_overlay_pixels_are_the_half_blend_of_jet_and_the_image(small):
    X, scoreMap = small
    picture = overlayScoreMap(X, scoreMap, Colorbar=False)
    assert picture.dtype == np.uint8 and picture.shape == (2, 3, 3)
    rows = np.array([[0, 51, 102], [153, 204, 255]])  # fix(v / 5 * 256), the maximum clamped to 255
    expected = np.floor((0.5 * jet(256)[rows] + 0.5 * X / 255.0) * 255.0 + 0.5)
    np.testing.assert_array_equal(picture, expected)


def test_alpha_extremes_grayscale_and_display_ranges(small):
    X, scoreMap = small
    np.testing.assert_array_equal(overlayScoreMap(X, scoreMap, AlphaData=0, Colorbar=False), X)
    pure = overlayScoreMap(X, scoreMap, "AlphaData", 1, "Colorbar", False)  # MATLAB pair form
    np.testing.assert_array_equal(pure[0, 0], np.floor(jet()[0] * 255 + 0.5))
    gray = overlayScoreMap(X[:, :, 0], scoreMap, AlphaData=0, Colorbar=False)
    np.testing.assert_array_equal(gray, np.repeat(X[:, :, :1], 3, axis=2))  # a grayscale X is shown gray
    as_float = overlayScoreMap(X / 255.0, scoreMap, AlphaData=0, Colorbar=False)  # floating point: 0..1
    np.testing.assert_array_equal(as_float, X)
    as_uint16 = overlayScoreMap(X.astype(np.uint16) * 257, scoreMap, AlphaData=0, Colorbar=False)
    np.testing.assert_array_equal(as_uint16, X)
    clipped = overlayScoreMap(np.full((2, 3), 7.0), scoreMap, AlphaData=0, Colorbar=False)  # >1 shows white
    assert np.all(clipped == 255)


def test_per_pixel_alpha_clim_and_custom_colormap(small):
    X, scoreMap = small
    alpha = np.array([[0, 1, 0], [1, 0, 1]], float)
    two_colors = np.array([[0, 0, 1], [1, 0, 0]], float)
    picture = overlayScoreMap(X, scoreMap, AlphaData=alpha, Colormap=two_colors, CLim=[2, 3], Colorbar=False)
    # CLim [2 3] with 2 colours: values < 2.5 take blue, >= 2.5 red.
    np.testing.assert_array_equal(picture[0, 0], X[0, 0])
    np.testing.assert_array_equal(picture[0, 1], [0, 0, 255])
    np.testing.assert_array_equal(picture[1, 0], [255, 0, 0])
    np.testing.assert_array_equal(picture[1, 2], [255, 0, 0])


def test_constant_map_takes_the_middle_colour(small):
    X, _ = small
    picture = overlayScoreMap(X, np.full((2, 3), 4.2), AlphaData=1, Colorbar=False)
    assert np.all(picture == np.floor(jet()[128] * 255 + 0.5))


def test_colour_bar_is_appended_on_the_right(small):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(120, 90, 3)).astype(np.uint8)
    scoreMap = rng.normal(size=(120, 90)).astype(np.float32)
    plain = overlayScoreMap(X, scoreMap, Colorbar=False)
    picture = overlayScoreMap(X, scoreMap)
    assert picture.shape[0] == 120 and picture.shape[1] > 90 + 20
    np.testing.assert_array_equal(picture[:, :90], plain)
    panel = picture[:, 90:]
    assert np.all(panel[:, 0] == 255)  # a white gap before the bar
    bar_column = panel[:, np.argmax(np.any(panel != 255, axis=(0, 2)))]
    np.testing.assert_array_equal(bar_column[0], np.floor(jet()[-1] * 255 + 0.5))  # largest value on top
    np.testing.assert_array_equal(bar_column[-1], np.floor(jet()[0] * 255 + 0.5))
    assert np.any(np.all(panel < 100, axis=2))  # dark text: tick labels are drawn


def test_inputs_are_not_modified(small):
    X, scoreMap = small
    before = X.copy(), scoreMap.copy()
    overlayScoreMap(X, scoreMap)
    np.testing.assert_array_equal(X, before[0])
    np.testing.assert_array_equal(scoreMap, before[1])


@pytest.mark.parametrize(
    "change, error, words",
    [
        ({"scoreMap": np.zeros((3, 3))}, ValueError, r"scoreMap is 3x3 but X is 2x3"),
        ({"scoreMap": np.zeros((2, 3, 2))}, ValueError, r"one H×W map; got shape \(2, 3, 2\)"),
        ({"scoreMap": np.full((2, 3), np.nan)}, ValueError, r"scoreMap contains NaN"),
        ({"scoreMap": np.full((2, 3), "a")}, TypeError, r"scoreMap must be a numeric array"),
        ({"X": np.zeros((2, 3, 4), np.uint8)}, ValueError, r"X must be an H×W grayscale or H×W×3"),
        ({"X": np.zeros((2, 3), np.int64)}, TypeError, r"X must be uint8, uint16"),
        ({"Colormap": "parula"}, ValueError, r'Colormap must be one of "jet"'),
        ({"Colormap": np.zeros((4, 2))}, ValueError, r"m×3 array of RGB rows"),
        ({"Colormap": np.full((4, 3), 2.0)}, ValueError, r"Colormap values must lie in \[0, 1\]"),
        ({"CLim": [3, 1]}, ValueError, r"CLim must be \"auto\" or \[cmin cmax\] with cmin < cmax"),
        ({"AlphaData": 1.5}, ValueError, r"AlphaData must lie in \[0, 1\]"),
        ({"AlphaData": np.zeros((3, 3))}, ValueError, r"AlphaData must be a scalar or 2x3"),
        ({"Colorbar": "yes"}, TypeError, r"Colorbar must be True or False"),
        ({"Transparency": 0.5}, ValueError, r"unknown option 'Transparency'"),
    ],
)
def test_bad_input(small, change, error, words):
    X, scoreMap = small
    arguments = {"X": X, "scoreMap": scoreMap, **change}
    with pytest.raises(error, match=f"^overlayScoreMap: .*{words}"):
        overlayScoreMap(arguments.pop("X"), arguments.pop("scoreMap"), **arguments)


def test_imshow_without_matplotlib_says_how_to_get_it(monkeypatch, small):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"imshow needs matplotlib.*pip install matplotlib"):
        imshow(small[0])


def test_imshow_with_matplotlib(small):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    try:
        shown = imshow(small[0])
        np.testing.assert_array_equal(shown.get_array(), small[0] / 255.0)
        assert not shown.axes.axison
    finally:
        plt.close("all")


def test_colour_bar_ticks_are_round_numbers_and_at_least_two():
    from matlab_occsens.image._display import _tick_values

    ticks, decimals = _tick_values((-1.22, 1.59), 8)
    np.testing.assert_allclose(ticks, [-1, -0.5, 0, 0.5, 1, 1.5])
    assert decimals == 1
    ticks, _ = _tick_values((-0.31, 5.1), 7)
    np.testing.assert_allclose(ticks, [0, 1, 2, 3, 4, 5])
    ticks, _ = _tick_values((-7.4e-6, 6.8e-5), 2)  # a narrow range still gets two ticks
    np.testing.assert_allclose(ticks, [0, 5e-5])
