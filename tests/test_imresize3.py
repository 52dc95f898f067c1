"""imresize3 (docs/specification.md §9.6): a volume resized axis by axis with imresize's rule.

The reference composes MATLAB's imresize (itself checked against MATLAB's numbers in
test_imresize.py) one axis at a time: an axis moved first and the others flattened into columns
is resized by imresize with the columns kept (scale 1 leaves a column as it is, exactly), so each
pass is imresize's along that axis, cast included.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matlab_occsens import imresize, imresize3

METHODS = {  # imresize3's names, and the imresize method with the same kernel
    "nearest": "nearest",
    "linear": "bilinear",
    "cubic": "bicubic",
    "box": "box",
    "triangle": "triangle",
    "lanczos2": "lanczos2",
    "lanczos3": "lanczos3",
}


def along(V, axis, length, method, antialiasing):
    """imresize along one axis of V only."""
    moved = np.moveaxis(V, axis, 0)
    columns = moved.reshape(moved.shape[0], -1)
    resized = imresize(columns, [length, columns.shape[1]], METHODS[method], Antialiasing=antialiasing)
    return np.moveaxis(resized.reshape(length, *moved.shape[1:]), 0, axis)


def composed(V, size, method, antialiasing, order=None):
    """The reference: one imresize pass per axis, the smallest scale first (ties: axis order)."""
    scales = [out / length for out, length in zip(size, V.shape)]
    order = sorted(range(3), key=lambda axis: scales[axis]) if order is None else order
    for axis in order:
        V = along(V, axis, size[axis], method, antialiasing)
    return V


def volume(seed, shape, dtype=np.float64):
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.integer):
        return rng.integers(0, 200, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


@settings(deadline=None, max_examples=120)
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.tuples(*[st.integers(1, 7)] * 3),
    size=st.tuples(*[st.integers(1, 11)] * 3),
    method=st.sampled_from(sorted(METHODS)),
    antialiasing=st.booleans(),
    dtype=st.sampled_from([np.float64, np.float32, np.uint8, np.int16]),
)
def test_imresize3_is_imresize_along_each_axis(seed, shape, size, method, antialiasing, dtype):
    V = volume(seed, shape, dtype)
    got = imresize3(V, list(size), method, Antialiasing=antialiasing)
    assert got.shape == size and got.dtype == np.dtype(dtype)
    expected = composed(V, size, method, antialiasing)
    if method.startswith("lanczos") and dtype in (np.float64, np.float32):
        # Lanczos weights at whole offsets are not exactly 0 and 1 (sin(pi) is 1.2e-16), so the
        # reference's pass over its columns moves values by a few ulps where a pass of the
        # volume's own does not: to rounding here (an integer class rounds both alike).
        np.testing.assert_allclose(got, expected, rtol=1e-6 if dtype == np.float32 else 1e-13, atol=1e-13)
    else:
        np.testing.assert_array_equal(got, expected)


def test_the_smallest_scale_goes_first():
    """Planes shrink (9 to 4), columns grow 1.5 times and rows 1.6 times: planes, columns, rows,
    in that order; with a cast after each pass another order gives other numbers."""
    V = volume(3, (5, 6, 9), np.uint8)
    by_scale = composed(V, (8, 9, 4), "cubic", True, order=[2, 1, 0])
    in_axis_order = composed(V, (8, 9, 4), "cubic", True, order=[0, 1, 2])
    assert not np.array_equal(by_scale, in_axis_order)
    np.testing.assert_array_equal(imresize3(V, [8, 9, 4]), by_scale)


def test_known_values():
    V = np.arange(8, dtype=float).reshape(2, 2, 2)  # V[i, j, k] = 4i + 2j + k
    np.testing.assert_array_equal(imresize3(V, 2, "nearest")[:, :, 3], [[1, 1, 3, 3]] * 2 + [[5, 5, 7, 7]] * 2)
    # linear from 2 to 3 samples: the ends, and the mean in the middle (u = x/1.5 + 1/6)
    # (the middle column and plane: j and k at 0.5)
    np.testing.assert_allclose(imresize3(V, [3, 3, 3], "linear")[:, 1, 1], [1.5, 3.5, 5.5], rtol=0, atol=1e-12)
    # one plane: the rows and columns pass is MATLAB's imresize, whose numbers for this input
    # real MATLAB gave (docs/specification.md §7), and the plane axis at scale 1 is left as it is
    A = np.zeros((4, 4))
    A[0, 0], A[1, 0], A[0, 1], A[0, 3] = 100, 10, 1, 100
    plane = imresize3(A[:, :, np.newaxis], [5, 5, 1])[:, :, 0]
    np.testing.assert_array_equal(plane, imresize(A, [5, 5]))
    np.testing.assert_array_equal(np.round(plane[0], 6), [108.685225, 27.697097, -12.446562, 26.884193, 109.2025])


def test_a_separable_volume_resizes_to_the_outer_product_of_its_axes():
    """For V = a ⊗ b ⊗ c, every pass acts on one factor: the result is the product of the three
    one-axis resizes (float64, to rounding)."""
    rng = np.random.default_rng(11)
    a, b, c = rng.standard_normal(5), rng.standard_normal(4), rng.standard_normal(7)
    V = np.einsum("i,j,k->ijk", a, b, c)
    size = (9, 3, 12)
    got = imresize3(V, list(size))  # cubic, antialiasing on (b shrinks)

    def one(vector, length):
        return imresize(vector[:, np.newaxis], [length, 1], "bicubic")[:, 0]

    expected = np.einsum("i,j,k->ijk", one(a, 9), one(b, 3), one(c, 12))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_scale_forms():
    V = volume(2, (4, 5, 6))
    assert imresize3(V, 0.5).shape == (2, 3, 3)  # ceil(scale * size)
    assert imresize3(V, 1.3).shape == tuple(math.ceil(1.3 * side) for side in (4, 5, 6))
    per_axis = imresize3(V, Scale=[2, 1, 0.5])
    assert per_axis.shape == (8, 5, 3)
    np.testing.assert_array_equal(per_axis, imresize3(V, [8, 5, 3]))
    np.testing.assert_array_equal(imresize3(V, [2.2, 3, 4]), imresize3(V, [3, 3, 4]))  # sizes are rounded up
    np.testing.assert_array_equal(
        imresize3(V, "OutputSize", [3, 3, 3], "Method", "linear"), imresize3(V, [3, 3, 3], "linear")
    )
    assert imresize3(V, Scale=2, OutputSize=[7, 7, 7]).shape == (7, 7, 7)


def test_antialiasing_defaults_to_on_except_for_nearest():
    V = volume(5, (8, 8, 8))
    np.testing.assert_array_equal(imresize3(V, 0.5), imresize3(V, 0.5, Antialiasing=True))
    np.testing.assert_array_equal(imresize3(V, 0.5, "nearest"), imresize3(V, 0.5, "nearest", Antialiasing=False))
    assert not np.array_equal(imresize3(V, 0.5), imresize3(V, 0.5, Antialiasing=False))
    np.testing.assert_array_equal(imresize3(V, 0.5, "nearest"), V[1::2, 1::2, 1::2])


def test_the_input_is_left_untouched_and_a_new_array_is_returned():
    V = volume(1, (3, 4, 5))
    kept = V.copy()
    same = imresize3(V, [3, 4, 5])
    np.testing.assert_array_equal(same, V)
    assert same is not V
    np.testing.assert_array_equal(V, kept)


@pytest.mark.parametrize(
    ("V", "args", "kwargs", "error", "message"),
    [
        (np.zeros((4, 4)), (2,), {}, ValueError, "V must be a 3-D volume.*resize an image with imresize"),
        (np.zeros((2, 2, 2, 2)), (2,), {}, ValueError, "V must be a 3-D volume"),
        (np.zeros((2, 2, 2), bool), (2,), {}, TypeError, "V must be a 3-D numeric array; got boolean"),
        (np.zeros((2, 2, 2), np.int64), (2,), {}, TypeError, "V must have dtype"),
        (np.zeros((2, 0, 2)), (2,), {}, ValueError, "must not be empty"),
        (np.zeros((2, 2, 2)), ([2, 2],), {}, ValueError, "3-element \\[rows, columns, planes\\]"),
        (np.zeros((2, 2, 2)), ([2, 0, 2],), {}, ValueError, "output size must be 3 positive finite numbers"),
        (np.zeros((2, 2, 2)), ([2, np.nan, 2],), {}, ValueError, "output size must be 3 positive finite numbers"),
        (np.zeros((2, 2, 2)), (), {"Scale": [1, 2]}, ValueError, "Scale must be 1 positive finite number or 3"),
        (np.zeros((2, 2, 2)), (2, "bicubic"), {}, ValueError, "method"),
        (np.zeros((2, 2, 2)), (2, "cubic"), {"Method": "linear"}, ValueError, "the method is given twice"),
        (np.zeros((2, 2, 2)), (), {}, ValueError, "give a scale or an output size"),
        (np.zeros((2, 2, 2)), (2,), {"Scale": 2}, ValueError, "Scale is given twice"),
    ],
)
def test_bad_arguments_are_named(V, args, kwargs, error, message):
    with pytest.raises(error, match=message):
        imresize3(V, *args, **kwargs)
