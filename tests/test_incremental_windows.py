"""The interval arithmetic of the incremental path, against brute force over every index."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from matlab_occsens._incremental.windows import EMPTY_START, Window, hull

windows = st.builds(
    Window,
    kernel=st.integers(1, 5),
    stride=st.integers(1, 3),
    dilation=st.integers(1, 3),
    pad_begin=st.integers(0, 4),
    pad_end=st.integers(0, 4),
)


def reads(window: Window, output: int) -> list[int]:
    return [output * window.stride - window.pad_begin + k * window.dilation for k in range(window.kernel)]


def interval(draw_start: int, draw_length: int, size: int) -> tuple[int, int]:
    start = draw_start % size
    return start, min(start + draw_length, size)


@settings(max_examples=300)
@given(window=windows, size=st.integers(1, 30), start=st.integers(0, 100), length=st.integers(1, 12))
def test_changed_outputs_hold_every_output_that_reads_a_changed_input(window, size, start, length):
    size_out = window.out_size(size + 2 * window.extent)  # inputs large enough for any window
    size_in = size + 2 * window.extent
    c0, c1 = interval(start, length, size_in)
    first, stop = window.changed((np.array([c0]), np.array([c1])), size_out)
    brute = [o for o in range(size_out) if any(c0 <= i < c1 for i in reads(window, o))]
    if brute:
        assert first[0] <= min(brute) and max(brute) < stop[0]
    if window.dilation == 1 and brute:  # without gaps in the window the hull is exact
        assert (first[0], stop[0]) == (min(brute), max(brute) + 1)
    if not brute and window.dilation == 1:
        assert first[0] == EMPTY_START
    assert first[0] >= 0 or first[0] == EMPTY_START
    assert stop[0] <= size_out


@settings(max_examples=300)
@given(window=windows, size=st.integers(1, 40), start=st.integers(0, 100), length=st.integers(1, 12))
def test_required_inputs_hold_everything_the_wanted_outputs_read(window, size, start, length):
    size_out = window.out_size(size)
    if size_out < 1:
        return
    o0, o1 = interval(start, length, size_out)
    first, stop = window.required((np.array([o0]), np.array([o1])), size)
    brute = sorted({i for o in range(o0, o1) for i in reads(window, o) if 0 <= i < size})
    if brute:
        assert first[0] <= brute[0] and brute[-1] < stop[0]
        assert 0 <= first[0] and stop[0] <= size
    if window.dilation == 1 and window.kernel >= window.stride and brute:  # reads without gaps
        assert (first[0], stop[0]) == (brute[0], brute[-1] + 1)


def test_empty_intervals_stay_empty_and_vanish_in_a_hull():
    window = Window(kernel=3, stride=2, pad_begin=1, pad_end=1)
    empty = (np.array([EMPTY_START]), np.array([-EMPTY_START]))
    assert window.changed(empty, 10)[0][0] == EMPTY_START
    assert window.required(empty, 20)[0][0] == EMPTY_START
    starts, stops = hull([empty, (np.array([3]), np.array([5]))])
    assert (starts[0], stops[0]) == (3, 5)


def test_out_size_follows_onnx_runtime_for_ceil_mode():
    # 5 inputs, kernel 2, stride 2, pad 1 at the end: windows start at 0, 2, 4; a fourth would
    # start at 6, beyond the input, and is dropped.
    assert Window(kernel=2, stride=2, pad_end=1, ceil_mode=True).out_size(5) == 3
    assert Window(kernel=3, stride=2, ceil_mode=True).out_size(6) == 3
    assert Window(kernel=3, stride=2).out_size(6) == 2
