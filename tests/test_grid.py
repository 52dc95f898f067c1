"""The mask grid (docs/specification.md §4): exact worked examples and properties over many sizes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matlab_occsens._core.grid import axis_ranges, mask_grid
from matlab_occsens._core.options import mround

sizes = st.integers(min_value=1, max_value=400)
masks = st.integers(min_value=1, max_value=120)
strides = st.integers(min_value=1, max_value=60)


@pytest.mark.parametrize(
    ("size", "on_count", "on_last_centre", "off_count", "off_last_rows"),
    [
        (28, 10, 28, 8, (22, 27)),
        (224, 11, 221, 9, (177, 221)),
        (227, 10, 208, 8, (162, 206)),
        (299, 10, 271, 8, (211, 270)),
    ],
)
def test_worked_examples_of_the_spec(size, on_count, on_last_centre, off_count, off_last_rows):
    mask, stride = max(mround(0.2 * size), 1), max(mround(0.1 * size), 1)
    on = axis_ranges(size, mask, stride, clipping=True)
    assert len(on) == on_count
    # 1-based centre of the last mask: its start + floor(m/2) + 1, before clipping
    assert 1 + (on_count - 1) * stride == on_last_centre
    off = axis_ranges(size, mask, stride, clipping=False)
    assert len(off) == off_count
    assert (off[-1][0] + 1, off[-1][1]) == off_last_rows  # 1-based inclusive rows


def test_even_mask_puts_the_extra_row_before_the_centre():
    # mask 4 centred on row 6 (1-based) covers rows 4..7; 0-based centre 5 -> [3, 7)
    ranges = axis_ranges(20, 4, 5, clipping=True)
    assert ranges[1].tolist() == [3, 7]
    assert ranges[0].tolist() == [0, 2]  # centre row 1: rows -1..2 clipped to 1..2


def test_odd_mask_is_centred():
    ranges = axis_ranges(20, 5, 5, clipping=True)
    assert ranges[1].tolist() == [3, 8]  # centre row 6 (1-based) covers 4..8


@given(size=sizes, mask=masks, stride=strides)
def test_clipping_on_counts_and_ranges(size, mask, stride):
    ranges = axis_ranges(size, mask, stride, clipping=True)
    assert len(ranges) == (size - 1) // stride + 1
    assert np.all(ranges[:, 0] >= 0) and np.all(ranges[:, 1] <= size)
    assert np.all(ranges[:, 1] > ranges[:, 0])
    centres = np.arange(len(ranges)) * stride
    assert np.all(centres[1:] - centres[:-1] == stride)
    # each mask is the full mask cut to the image
    starts = centres - mask // 2
    assert np.array_equal(ranges[:, 0], np.maximum(starts, 0))
    assert np.array_equal(ranges[:, 1], np.minimum(starts + mask, size))
    # the centre pixel is always covered
    assert np.all((ranges[:, 0] <= centres) & (centres < ranges[:, 1]))


@given(size=sizes, mask=masks, stride=strides)
def test_clipping_on_covers_every_row_when_mask_reaches_the_next_centre(size, mask, stride):
    ranges = axis_ranges(size, mask, stride, clipping=True)
    covered = np.zeros(size, bool)
    for start, stop in ranges:
        covered[start:stop] = True
    last_centre = (len(ranges) - 1) * stride
    tail_reached = last_centre + mask - mask // 2 >= size
    if mask >= stride and tail_reached:
        assert covered.all()
    if mask >= stride:
        assert covered[: last_centre + 1].all()


@given(size=sizes, mask=masks, stride=strides)
def test_clipping_off_masks_are_full_size_and_inside(size, mask, stride):
    ranges = axis_ranges(size, mask, stride, clipping=False)
    expected = (size - mask) // stride + 1 if mask <= size else 0
    assert len(ranges) == expected
    if expected:
        assert np.all(ranges[:, 1] - ranges[:, 0] == mask)
        assert ranges[0, 0] == 0 and ranges[-1, 1] <= size
        assert np.all(np.diff(ranges[:, 0]) == stride)
        # no further full mask would fit: no extra shifted mask is added
        assert ranges[-1, 0] + stride + mask > size


@settings(max_examples=50)
@given(height=sizes, width=sizes, mask=st.tuples(masks, masks), stride=st.tuples(strides, strides), clip=st.booleans())
def test_grid_is_the_product_of_the_two_dimensions(height, width, mask, stride, clip):
    grid = mask_grid((height, width), mask, stride, clip)
    rows = axis_ranges(height, mask[0], stride[0], clip)
    cols = axis_ranges(width, mask[1], stride[1], clip)
    assert grid.shape == (len(rows), len(cols))
    windows = list(grid.windows(0, min(len(grid), 30)))
    for index, (row_range, col_range) in enumerate(windows):
        assert row_range == tuple(rows[index // len(cols)])
        assert col_range == tuple(cols[index % len(cols)])


def test_windows_respect_first_and_stop():
    grid = mask_grid((10, 10), (3, 3), (2, 5), True)
    everything = list(grid.windows())
    assert len(everything) == len(grid) == 5 * 2
    assert list(grid.windows(3, 7)) == everything[3:7]


@pytest.mark.parametrize(
    ("value", "expected"), [(0.5, 1), (1.5, 2), (2.5, 3), (22.4, 22), (22.5, 23), (-2.5, -3), (0.49, 0)]
)
def test_mround_rounds_half_away_from_zero(value, expected):
    assert mround(value) == expected


def test_auto_stride_differs_from_python_round_at_225():
    assert mround(0.1 * 225) == 23 and round(0.1 * 225) == 22


def _ranges_by_definition(size: int, mask: int, stride: int, clipping: bool) -> list[tuple[int, int]]:
    """The rule in plain Python integers (no 64-bit limit): centres or starts every ``stride``."""
    if clipping:
        return [(max(c - mask // 2, 0), min(c - mask // 2 + mask, size)) for c in range(0, size, stride)]
    return [(s, s + mask) for s in range(0, size - mask + 1, stride)]


huge = st.one_of(st.integers(min_value=1, max_value=2000), st.integers(min_value=2**62, max_value=2**200))


@settings(max_examples=300, deadline=None)
@given(size=sizes, mask=huge, stride=huge, clipping=st.booleans())
def test_any_mask_and_stride_however_large_follow_the_rule(size, mask, stride, clipping):
    # Stride=1e20 or MaskSize=2**63 used to overflow int64 inside the grid (issue 12, item 5).
    ranges = axis_ranges(size, mask, stride, clipping)
    assert [tuple(map(int, pair)) for pair in ranges] == _ranges_by_definition(size, mask, stride, clipping)


axis_cases = st.lists(st.tuples(st.integers(1, 40), st.integers(1, 50), st.integers(1, 20)), min_size=1, max_size=3)


@settings(max_examples=150, deadline=None)
@given(axes=axis_cases, clip=st.booleans(), data=st.data())
def test_an_n_d_grid_is_the_row_major_product_of_its_axes(axes, clip, data):
    """Volumes (3 axes) and signals (1 axis): every axis follows the 2-D rule on its own (§9.3),
    masks are numbered row-major, and any slice of masks gives the same ranges as the whole."""
    size, mask, stride = (tuple(values) for values in zip(*axes))
    grid = mask_grid(size, mask, stride, clip)
    per_axis = [_ranges_by_definition(*axis, clip) for axis in axes]
    assert grid.rank == len(axes)
    assert grid.shape == tuple(len(ranges) for ranges in per_axis)
    assert len(grid) == int(np.prod([len(ranges) for ranges in per_axis]))
    expected = list(itertools.product(*per_axis))  # the last axis varies fastest: row-major
    assert list(grid.windows()) == expected
    first = data.draw(st.integers(0, len(grid)))
    stop = data.draw(st.integers(first, len(grid)))
    ranges = grid.ranges(first, stop)
    assert ranges.shape == (stop - first, len(axes), 2) and ranges.dtype == np.int64
    assert [tuple(map(tuple, mask_ranges)) for mask_ranges in ranges.tolist()] == expected[first:stop]
    assert list(grid.windows(first, stop)) == expected[first:stop]


def test_a_two_axis_grid_is_the_image_grid_of_the_spec():
    """The 2-D grid is the N-D grid with two axes: rows then columns, row-major (§4)."""
    grid = mask_grid((28, 28), (6, 6), (3, 3), True)
    assert grid.shape == (10, 10)
    np.testing.assert_array_equal(grid.axes[0], axis_ranges(28, 6, 3, True))
    np.testing.assert_array_equal(grid.ranges(11, 12)[0], [grid.axes[0][1], grid.axes[1][1]])


def test_a_grid_needs_one_mask_size_and_stride_per_axis():
    with pytest.raises(ValueError, match="one mask size and stride per axis"):
        mask_grid((10, 10, 10), (2, 2), (1, 1, 1), True)
