"""``rescale``: MATLAB's documented examples, its rules for constants, NaN and single, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from matlab_occsens import rescale

MAGIC3 = np.array([[8, 1, 6], [3, 5, 7], [4, 9, 2]])


def test_unit_interval_and_given_interval():
    # MATLAB: rescale(1:5) and rescale(1:5, -1, 1)
    np.testing.assert_array_equal(rescale(np.arange(1, 6)), [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_array_equal(rescale(np.arange(1, 6), -1, 1), [-1, -0.5, 0, 0.5, 1])


def test_columns_and_rows_with_input_min_and_max():
    # MATLAB: rescale(magic(3), "InputMin", min(A), "InputMax", max(A)), and per row with min(A, [], 2)
    by_column = rescale(MAGIC3, "InputMin", MAGIC3.min(axis=0), "InputMax", MAGIC3.max(axis=0))
    np.testing.assert_allclose(by_column, [[1, 0, 0.8], [0, 0.5, 1], [0.2, 1, 0]], rtol=0, atol=1e-15)
    by_row = rescale(MAGIC3, InputMin=MAGIC3.min(axis=1, keepdims=True), InputMax=MAGIC3.max(axis=1, keepdims=True))
    np.testing.assert_allclose(by_row, [[1, 0, 5 / 7], [0, 0.5, 1], [2 / 7, 1, 0]], rtol=0, atol=1e-15)


def test_bounds_per_column():
    # MATLAB: rescale(A, [0 -1], 1, "InputMin", colmin, "InputMax", colmax) on a 4x2 matrix
    A = np.array([[0.4, -4], [0.5, -5], [0.9, 9], [0.2, 1]])
    R = rescale(A, [0, -1], 1, InputMin=A.min(axis=0), InputMax=A.max(axis=0))
    np.testing.assert_allclose(R, [[2 / 7, -6 / 7], [3 / 7, -1], [1, 1], [0, -1 / 7]], rtol=0, atol=1e-15)


def test_values_outside_the_input_range_are_clipped():
    # MATLAB: rescale([-30 1 2 3 4 5 70], "InputMin", 1, "InputMax", 5)
    clipped = rescale([-30, 1, 2, 3, 4, 5, 70], InputMin=1, InputMax=5)
    np.testing.assert_array_equal(clipped, [0, 0, 0.25, 0.5, 0.75, 1, 1])


def test_constant_input_gives_the_lower_bound_and_nan_stays_nan():
    np.testing.assert_array_equal(rescale(np.full((2, 3), 7.0)), np.zeros((2, 3)))
    np.testing.assert_array_equal(rescale([4, 4], 2, 3), [2, 2])
    np.testing.assert_array_equal(rescale([np.nan, 1, 3]), [np.nan, 0, 1])


def test_output_class_is_single_for_single_and_double_otherwise():
    assert rescale(np.array([1, 2], np.float32)).dtype == np.float32
    for dtype in (np.uint8, np.int16, np.float64, bool):
        assert rescale(np.array([0, 1], dtype)).dtype == np.float64


def test_the_input_is_not_modified():
    A = np.array([3.0, -1.0, 8.0])
    rescale(A, InputMin=0, InputMax=5)
    np.testing.assert_array_equal(A, [3.0, -1.0, 8.0])


@settings(max_examples=200, deadline=None)
@given(
    A=hnp.arrays(np.float64, hnp.array_shapes(max_dims=3, max_side=5), elements=st.floats(-1e6, 1e6)),
    low=st.floats(-100, 100),
    width=st.floats(0, 100),
)
def test_result_lies_in_the_interval_with_ends_at_min_and_max(A, low, width):
    R = rescale(A, low, low + width)
    assert R.shape == A.shape
    assert np.all(R >= low - 1e-9) and np.all(R <= low + width + 1e-9)
    if A.max() > A.min():
        assert R.flat[np.argmin(A)] == pytest.approx(low) and R.flat[np.argmax(A)] == pytest.approx(low + width)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "words"),
    [
        (([1, 2], 1, 0), {}, ValueError, ["lower bound l", "upper bound u"]),
        (([1, 2], 0), {}, ValueError, ["both bounds"]),
        (([1, 2],), {"InputMin": 5, "InputMax": 1}, ValueError, ["InputMin must be <= InputMax"]),
        (([1, 2],), {"InputMax": 0}, ValueError, ["InputMin (min(A) by default)"]),
        (([1, 2],), {"InputMin": [1, 2, 3]}, ValueError, ["InputMin", "broadcast"]),
        ((["a", "b"],), {}, TypeError, ["rescale: A"]),
        (([[1, 2], [3]],), {}, TypeError, ["rescale: A", "ragged"]),
        (([1, 2], "a", 1), {}, ValueError, ["unknown option 'a'"]),
        (([1, 2],), {"InputMin": np.nan}, ValueError, ["InputMin", "NaN"]),
        (([1, 2], 0, [b"\xff", "a"]), {}, TypeError, ["rescale: u"]),
        (([1, 2],), {"InputMx": 3}, ValueError, ["unknown option"]),
        (([1, 2], "InputMin"), {}, ValueError, ["InputMin has no value"]),
    ],
)
def test_bad_arguments(args, kwargs, error, words):
    with pytest.raises(error) as caught:
        rescale(*args, **kwargs)
    assert all(word in str(caught.value) for word in words), str(caught.value)
