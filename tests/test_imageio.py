"""imread / imwrite: MATLAB's arrays (RGB order, gray as H×W, the file's class) from OpenCV files."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from matlab_occsens import imread, imwrite


@pytest.fixture
def rgb() -> np.ndarray:
    image = np.zeros((5, 7, 3), np.uint8)
    image[..., 0] = 250  # red
    image[..., 1] = np.arange(7, dtype=np.uint8) * 30
    image[..., 2] = 3
    return image


def test_color_file_is_rgb(tmp_path, rgb):
    path = tmp_path / "c.png"
    assert cv2.imwrite(str(path), rgb[:, :, ::-1])  # OpenCV writes BGR
    read = imread(path)
    assert read.dtype == np.uint8 and read.shape == (5, 7, 3)
    np.testing.assert_array_equal(read, rgb)


def test_gray_stays_two_dimensional_and_16_bit_stays_uint16(tmp_path):
    gray16 = (np.arange(35).reshape(5, 7) * 1800).astype(np.uint16)
    path = tmp_path / "g.png"
    cv2.imwrite(str(path), gray16)
    read = imread(str(path))
    assert read.dtype == np.uint16 and read.shape == (5, 7)
    np.testing.assert_array_equal(read, gray16)


def test_alpha_is_dropped_or_returned_as_the_third_output(tmp_path, rgb):
    alpha = np.full((5, 7), 77, np.uint8)
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), np.dstack([rgb[:, :, ::-1], alpha]))
    np.testing.assert_array_equal(imread(path), rgb)
    image, cmap, read_alpha = imread(path, nargout=3)
    np.testing.assert_array_equal(image, rgb)
    assert cmap.shape == (0, 3)
    np.testing.assert_array_equal(read_alpha, alpha)
    image, cmap = imread(path, nargout=2)
    assert image.shape == (5, 7, 3) and cmap.shape == (0, 3)


def test_no_alpha_gives_an_empty_alpha(tmp_path, rgb):
    path = tmp_path / "c.jpg"
    cv2.imwrite(str(path), rgb[:, :, ::-1])
    _, _, alpha = imread(path, nargout=3)
    assert alpha.shape == (0, 0)


def test_gray_png_with_transparency_is_gray_like_matlab(tmp_path):
    Image = pytest.importorskip("PIL.Image")  # OpenCV cannot write a gray+alpha PNG
    pixels = np.dstack([np.arange(12, dtype=np.uint8).reshape(3, 4) * 20, np.full((3, 4), 9, np.uint8)])
    path = tmp_path / "la.png"
    Image.fromarray(pixels, "LA").save(path)
    image, _, alpha = imread(path, nargout=3)
    assert image.shape == (3, 4)
    np.testing.assert_array_equal(image, pixels[:, :, 0])
    np.testing.assert_array_equal(alpha, pixels[:, :, 1])


def test_non_ascii_path(tmp_path, rgb):
    path = tmp_path / "café ☕.png"
    imwrite(rgb, path)
    np.testing.assert_array_equal(imread(path), rgb)


def test_imwrite_round_trips_and_follows_matlab_classes(tmp_path, rgb):
    imwrite(rgb, tmp_path / "rgb.png")
    np.testing.assert_array_equal(imread(tmp_path / "rgb.png"), rgb)
    imwrite(rgb[:, :, :1], tmp_path / "one.png")
    np.testing.assert_array_equal(imread(tmp_path / "one.png"), rgb[:, :, 0])
    imwrite(np.array([[0.0, 0.5, 1.0, 2.0, -1.0, 0.002]]), tmp_path / "float.png")  # [0,1] -> uint8, clipped
    np.testing.assert_array_equal(imread(tmp_path / "float.png"), [[0, 128, 255, 255, 0, 1]])
    imwrite(np.array([[True, False]]), tmp_path / "bool.png")
    np.testing.assert_array_equal(imread(tmp_path / "bool.png"), [[255, 0]])
    deep = np.array([[0, 65535], [1000, 40000]], np.uint16)
    imwrite(deep, tmp_path / "deep.png")
    np.testing.assert_array_equal(imread(tmp_path / "deep.png"), deep)


def test_imwrite_does_not_modify_its_input(tmp_path, rgb):
    before = rgb.copy()
    imwrite(rgb, tmp_path / "x.png")
    np.testing.assert_array_equal(rgb, before)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda d: imread(d / "missing.png"), ValueError, r"imread: file '.*missing\.png' does not exist"),
        (lambda d: imread(d), ValueError, r"does not exist or is not a file"),
        (lambda d: imread(42), TypeError, r"imread: filename must be a path"),
        (lambda d: imread(d / "text.png"), ValueError, r"is not an image file OpenCV can decode"),
        (lambda d: imread(d / "empty.png"), ValueError, r"is not an image file OpenCV can decode"),
        (lambda d: imread(d / "text.png", nargout=4), ValueError, r"nargout must be 1, 2 or 3"),
        (lambda d: imwrite(np.zeros((2, 2, 2), np.uint8), d / "x.png"), ValueError, r"H×W or H×W×3"),
        (lambda d: imwrite(np.zeros((2, 2), np.int32), d / "x.png"), TypeError, r"uint8, uint16, logical"),
        (lambda d: imwrite(np.zeros((2, 2)), d / "x.unknown"), ValueError, r"cannot write uint8 images as '\.unknown'"),
        (lambda d: imwrite(np.full((2, 2), np.nan), d / "x.png"), ValueError, r"NaN or Inf"),
        (lambda d: imwrite(np.zeros((2, 2)), d / "no" / "dir.png"), ValueError, r"cannot write '.*dir\.png'"),
    ],
)
def test_errors_name_the_function_and_the_problem(tmp_path, call, error, words):
    (tmp_path / "text.png").write_text("not an image")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(error, match=words):
        call(tmp_path)


def test_floating_point_tiff_stays_float32(tmp_path, rgb):
    values = rgb.astype(np.float32) / 255
    cv2.imwrite(str(tmp_path / "f.tif"), values[:, :, ::-1])
    read = imread(tmp_path / "f.tif")
    assert read.dtype == np.float32
    np.testing.assert_array_equal(read, values)
