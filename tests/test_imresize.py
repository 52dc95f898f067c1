"""imresize (docs/specification.md §7): real MATLAB numbers, a slow independent reference, properties."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matlab_occsens.image._imresize import imresize

# MATLAB R2019b's own outputs, kept in the repository with their provenance (tests/data/README.md).
REFERENCE_FILE = Path(__file__).resolve().parent / "data" / "imresize-matlab-r2019b.json"

METHODS = ["nearest", "bilinear", "bicubic", "box", "triangle", "cubic", "lanczos2", "lanczos3"]
# Kernels without jumps: a sample that lands exactly on a jump of the box kernel goes to one
# side only, which breaks the mirror symmetry for "nearest" and "box".
CONTINUOUS_METHODS = ["bilinear", "bicubic", "triangle", "cubic", "lanczos2", "lanczos3"]

lengths = st.integers(min_value=1, max_value=40)
small_lengths = st.integers(min_value=1, max_value=12)
methods = st.sampled_from(METHODS)


def _image(rng_seed: int, shape: tuple[int, ...], dtype=np.float64) -> np.ndarray:
    rng = np.random.default_rng(rng_seed)
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, int(info.max) + 1, size=shape, dtype=dtype)
    return rng.random(shape).astype(dtype)


# --- an independent, deliberately plain reference built from the §7 formulas -----------------


def _ref_kernel(method: str, x: float) -> float:
    r = abs(x)
    if method in ("bicubic", "cubic"):
        if r <= 1:
            return 1.5 * (r * r * r) - 2.5 * (r * r) + 1
        return -0.5 * (r * r * r) + 2.5 * (r * r) - 4 * r + 2 if r <= 2 else 0.0
    if method in ("bilinear", "triangle"):
        return max(0.0, 1 - r)
    if method in ("nearest", "box"):
        return 1.0 if -0.5 <= x < 0.5 else 0.0
    # lanczos2, lanczos3: MATLAB's windowed sinc, with its eps guarding x = 0
    lobes = int(method[-1])
    if r >= lobes:
        return 0.0
    eps = np.finfo(float).eps
    pix = math.pi * x
    return (math.sin(pix) * math.sin(pix / lobes) + eps) / (math.pi**2 * (x * x) / lobes + eps)


def _ref_width(method: str) -> float:
    return {"nearest": 1, "box": 1, "bilinear": 2, "triangle": 2, "lanczos3": 6}.get(method, 4)


def _ref_reflect(i: int, n: int) -> int:
    """1-based index folded into 1..n with the edge repeated: 0 -> 1, -1 -> 2, n+1 -> n."""
    while i < 1 or i > n:
        i = 1 - i if i < 1 else 2 * n + 1 - i
    return i


def _ref_table(n_in: int, n_out: int, scale: float, method: str, antialiasing: bool):
    width = float(_ref_width(method))
    stretch = scale < 1 and antialiasing
    if stretch:
        width /= scale
    table = []
    for x in range(1, n_out + 1):
        u = x / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        taps = [left + j for j in range(math.ceil(width) + 2)]
        if stretch:
            w = [scale * _ref_kernel(method, scale * (u - i)) for i in taps]
        else:
            w = [_ref_kernel(method, u - i) for i in taps]
        total = 0.0
        for wi in w:
            total += wi
        table.append([(_ref_reflect(i, n_in) - 1, wi / total) for i, wi in zip(taps, w)])
    # MATLAB drops a tap position whose weight is zero for every output (it matters for NaN).
    used = [j for j in range(len(table[0])) if any(row[j][1] != 0 for row in table)]
    return [[row[j] for j in used] for row in table]


def _ref_cast(value: float, dtype: np.dtype):
    if dtype.kind == "f":
        return dtype.type(value)
    magnitude = abs(value)
    whole = math.floor(magnitude)
    if magnitude - whole >= 0.5:
        whole += 1
    info = np.iinfo(dtype)
    return min(max(math.copysign(whole, value), info.min), info.max)


def _ref_imresize(A, out_size, method="bicubic", antialiasing=None, order=None):
    """Loop-based imresize: one 1-D pass per dimension, cast back to A's class after each."""
    A = np.asarray(A)
    if antialiasing is None:
        antialiasing = method != "nearest"
    scales = [out_size[k] / A.shape[k] for k in range(2)]
    if order is None:
        order = [1, 0] if scales[1] < scales[0] else [0, 1]
    result = A
    for axis in order:
        table = _ref_table(result.shape[axis], out_size[axis], scales[axis], method, antialiasing)
        lines = np.moveaxis(result, axis, 0)
        out = np.empty((out_size[axis], *lines.shape[1:]), dtype=A.dtype)
        for position in np.ndindex(*lines.shape[1:]):
            column = [float(v) for v in lines[(slice(None), *position)]]
            for o, row in enumerate(table):
                acc = 0.0
                for index, weight in row:
                    acc += weight * column[index]
                out[(o, *position)] = _ref_cast(acc, A.dtype)
        result = np.moveaxis(out, 0, axis)
    return result


# --- real MATLAB numbers ----------------------------------------------------------------------

SMALL4 = np.arange(16, dtype=np.float64).reshape(4, 4)
TOPLEFT4 = np.zeros((4, 4))
TOPLEFT4[0, 0], TOPLEFT4[1, 0], TOPLEFT4[0, 1], TOPLEFT4[0, 3] = 100, 10, 1, 100

SPEC_CASES = {
    "small4_3x3_antialiasing": (
        {},
        [
            [0.750552, 2.100442, 3.450331],
            [6.150110, 7.5, 8.849890],
            [11.549669, 12.899558, 14.249448],
        ],
    ),
    "small4_3x3_no_antialiasing": (
        {"Antialiasing": False},
        [
            [0.543981, 1.935185, 3.326389],
            [6.108796, 7.5, 8.891204],
            [11.673611, 13.064815, 14.456019],
        ],
    ),
}
TOPLEFT_5x5 = np.array(
    [
        [108.685225, 27.697097, -12.446562, 26.884193, 109.2025],
        [35.471365, 8.970789, -3.589562, 6.637437, 26.961],
        [-0.650312, -0.212219, 0.394531, -1.607906, -6.53125],
        [-0.768075, -0.18963, 0.045938, 0, 0],
        [0, 0, 0, 0, 0],
    ]
)


@pytest.mark.parametrize("name", sorted(SPEC_CASES))
def test_spec_numbers_4x4_to_3x3(name):
    options, expected = SPEC_CASES[name]
    np.testing.assert_allclose(imresize(SMALL4, [3, 3], **options), expected, rtol=0, atol=1e-5)


def test_spec_numbers_4x4_to_5x5_and_its_180_degree_turn():
    direct = imresize(TOPLEFT4, [5, 5], "bicubic")
    np.testing.assert_allclose(direct, TOPLEFT_5x5, rtol=0, atol=1e-5)
    turned = imresize(np.rot90(TOPLEFT4, 2), [5, 5], "bicubic")
    np.testing.assert_allclose(turned, np.rot90(TOPLEFT_5x5, 2), rtol=0, atol=1e-5)


def _reference_cases():
    data = json.loads(REFERENCE_FILE.read_text(encoding="utf-8"))
    return [pytest.param(data["inputs"][case["input"]]["A"], case, id=case["name"]) for case in data["cases"]]


@pytest.mark.parametrize(("A", "case"), _reference_cases())
def test_matlab_r2019b_reference(A, case):
    A = np.asarray(A, dtype=np.float64)
    got = imresize(A, case["size"], case["method"], Antialiasing=case["antialiasing"])
    expected = np.asarray(case["expected"], dtype=np.float64)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10 * max(1.0, np.abs(A).max()))


def test_the_reference_file_holds_every_case_and_the_quoted_numbers():
    # A truncated or replaced file must fail here, not quietly run fewer cases.
    data = json.loads(REFERENCE_FILE.read_text(encoding="utf-8"))
    cases = {case["name"]: case for case in data["cases"]}
    assert len(cases) == 14 and "MATLAB R2019b" in data["source"]
    assert {case["antialiasing"] for case in cases.values()} == {True, False}
    # The 6-decimal numbers of docs/specification.md §7 are these, rounded.
    quoted = {
        "down_down_small_aa": SPEC_CASES["small4_3x3_antialiasing"][1],
        "down_down_small_noaa": SPEC_CASES["small4_3x3_no_antialiasing"][1],
        "up_up_topleft_noaa": TOPLEFT_5x5,
    }
    for name, numbers in quoted.items():
        np.testing.assert_array_equal(np.round(cases[name]["expected"], 6), np.asarray(numbers, dtype=float) + 0.0)
    # MATLAB's answer for the input turned by 180 degrees is its answer turned by 180 degrees
    # (to 5e-13: some entries lie on a 6-decimal tie, so the rounded quotes may differ by 1e-6).
    turned = np.rot90(cases["up_up_topleft_noaa"]["expected"], 2)
    np.testing.assert_allclose(cases["up_up_bottomright_noaa"]["expected"], turned, rtol=0, atol=1e-12)


# --- agreement with the independent reference -------------------------------------------------


@settings(deadline=None, max_examples=150)
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.tuples(small_lengths, small_lengths),
    out=st.tuples(st.integers(1, 20), st.integers(1, 20)),
    method=methods,
    antialiasing=st.booleans(),
)
def test_float64_matches_the_loop_reference(seed, shape, out, method, antialiasing):
    A = _image(seed, shape)
    got = imresize(A, list(out), method, Antialiasing=antialiasing)
    expected = _ref_imresize(A, out, method, antialiasing)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@settings(deadline=None, max_examples=60)
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.tuples(small_lengths, small_lengths),
    out=st.tuples(st.integers(1, 20), st.integers(1, 20)),
    method=methods,
    antialiasing=st.booleans(),
    dtype=st.sampled_from([np.float32, np.uint8, np.int16]),
)
def test_casting_classes_match_the_loop_reference_exactly(seed, shape, out, method, antialiasing, dtype):
    # The reference adds the same doubles in the same order (weights left to right, taps in
    # order), so even the casts after each pass, ties at .5 included, must agree bit for bit.
    A = _image(seed, shape, dtype)
    got = imresize(A, list(out), method, Antialiasing=antialiasing)
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, _ref_imresize(A, out, method, antialiasing))


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_smaller_scale_is_resized_first(dtype):
    # Rows grow (12/7), columns shrink (4/9): MATLAB resizes the columns first, and with a cast
    # after each pass the other order gives different numbers.
    A = _image(7, (7, 9), dtype)
    columns_first = _ref_imresize(A, (12, 4), "bicubic", order=[1, 0])
    rows_first = _ref_imresize(A, (12, 4), "bicubic", order=[0, 1])
    assert not np.array_equal(columns_first, rows_first)
    np.testing.assert_array_equal(imresize(A, [12, 4]), columns_first)


def test_rows_are_resized_first_on_a_tie():
    A = _image(3, (6, 10), np.uint8)
    rows_first = _ref_imresize(A, (9, 15), "bicubic", order=[0, 1])
    assert not np.array_equal(rows_first, _ref_imresize(A, (9, 15), "bicubic", order=[1, 0]))
    np.testing.assert_array_equal(imresize(A, 1.5), rows_first)


# --- properties -------------------------------------------------------------------------------


@settings(deadline=None)
@given(
    shape=st.tuples(lengths, lengths),
    out=st.tuples(lengths, lengths),
    method=methods,
    value=st.floats(-1e6, 1e6, allow_nan=False),
)
def test_constant_image_stays_constant(shape, out, method, value):
    got = imresize(np.full(shape, value), list(out), method)
    np.testing.assert_allclose(got, value, rtol=1e-12, atol=1e-9)


@settings(deadline=None)
@given(
    shape=st.tuples(lengths, lengths),
    out=st.tuples(lengths, lengths),
    method=methods,
    value=st.integers(0, 255),
)
def test_constant_uint8_image_stays_exactly_constant(shape, out, method, value):
    got = imresize(np.full(shape, value, dtype=np.uint8), list(out), method)
    np.testing.assert_array_equal(got, np.full(out, value, dtype=np.uint8))


@settings(deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shape=st.tuples(lengths, lengths), method=methods)
def test_same_size_is_the_identity(seed, shape, method):
    A = _image(seed, shape)
    got = imresize(A, list(shape), method)
    if method.startswith("lanczos"):
        # MATLAB's Lanczos formula adds eps, so its weights at whole-pixel distances are ~1e-17.
        np.testing.assert_allclose(got, A, rtol=0, atol=1e-15)
    else:
        np.testing.assert_array_equal(got, A)
    assert not np.shares_memory(got, A)


@settings(deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.tuples(lengths, lengths),
    out=st.tuples(lengths, lengths),
    method=st.sampled_from(CONTINUOUS_METHODS),
    antialiasing=st.booleans(),
)
def test_turning_by_180_degrees_commutes(seed, shape, out, method, antialiasing):
    A = _image(seed, shape)
    direct = imresize(A, list(out), method, Antialiasing=antialiasing)
    turned = np.rot90(imresize(np.rot90(A, 2), list(out), method, Antialiasing=antialiasing), 2)
    np.testing.assert_allclose(turned, direct, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.uint8, np.uint16, np.uint32, np.int8, np.int16, np.int32])
@pytest.mark.parametrize("size", [[3, 5], [9, 2], [6, 6]])
def test_the_class_is_kept(dtype, size):
    A = _image(11, (6, 6), dtype)
    got = imresize(A, size)
    assert got.dtype == np.dtype(dtype)
    assert got.shape == tuple(size)


def test_integer_results_round_half_away_from_zero():
    # 1x2 -> 1x1 bilinear with antialiasing: weights 1/8, 3/8, 3/8, 1/8 over 0, 0, v, v.
    cases = [(np.uint8, 5, 3), (np.uint8, 1, 1), (np.int16, -5, -3), (np.int16, -3, -2)]
    for dtype, v, expected in cases:
        A = np.array([[0, v]], dtype=dtype)
        assert imresize(A.astype(np.float64), [1, 1], "bilinear")[0, 0] == v / 2
        got = imresize(A, [1, 1], "bilinear")
        assert got.dtype == dtype
        assert got[0, 0] == expected


def test_integer_results_saturate():
    A = np.array([[0, 0, 255, 255]] * 2, dtype=np.uint8)
    exact = imresize(A.astype(np.float64), [2, 8])
    assert exact.max() > 255 and exact.min() < 0  # the cubic kernel overshoots
    got = imresize(A, [2, 8])
    assert got.max() == 255 and got.min() == 0
    expected = np.clip(np.where(exact >= 0, np.floor(exact + 0.5), np.ceil(exact - 0.5)), 0, 255)
    np.testing.assert_array_equal(got, expected)
    signed = imresize(np.array([[-32768, -32768, 32767, 32767]], dtype=np.int16), [1, 8])
    assert signed.min() == -32768 and signed.max() == 32767


def test_logical_input_is_resized_as_uint8_and_thresholded_above_128():
    A = _image(5, (9, 7)) > 0.5
    got = imresize(A, [13, 4])
    assert got.dtype == np.bool_
    as_uint8 = imresize(A.astype(np.uint8) * np.uint8(255), [13, 4])
    np.testing.assert_array_equal(got, as_uint8 > 128)
    np.testing.assert_array_equal(imresize(A, [9, 7]), A)


@settings(deadline=None, max_examples=50)
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.tuples(small_lengths, small_lengths),
    out=st.tuples(st.integers(1, 20), st.integers(1, 20)),
    trailing=st.lists(st.integers(1, 3), min_size=1, max_size=2),
    method=methods,
    dtype=st.sampled_from([np.float64, np.float32, np.uint8]),
)
def test_each_channel_is_resized_on_its_own(seed, shape, out, trailing, method, dtype):
    A = _image(seed, (*shape, *trailing), dtype)
    got = imresize(A, list(out), method)
    assert got.shape == (*out, *trailing)
    for index in np.ndindex(*trailing):
        alone = imresize(np.ascontiguousarray(A[(..., *index)]), list(out), method)
        np.testing.assert_array_equal(got[(..., *index)], alone)


@settings(deadline=None)
@given(shape=st.tuples(lengths, lengths), scale=st.floats(0.05, 5.0))
def test_scalar_scale_gives_ceil_of_scale_times_size(shape, scale):
    got = imresize(np.ones(shape), scale)
    assert got.shape == (math.ceil(scale * shape[0]), math.ceil(scale * shape[1]))


@settings(deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.tuples(lengths, lengths),
    given_length=lengths,
    rows_given=st.booleans(),
)
def test_nan_size_keeps_the_aspect_ratio(seed, shape, given_length, rows_given):
    A = _image(seed, shape)
    rows, cols = shape
    if rows_given:
        size, scale = [given_length, np.nan], given_length / rows
        expected = (given_length, math.ceil(given_length * cols / rows))
    else:
        size, scale = [np.nan, given_length], given_length / cols
        expected = (math.ceil(given_length * rows / cols), given_length)
    got = imresize(A, size)
    assert got.shape == expected
    # One scale for both dimensions, taken from the given one.
    np.testing.assert_array_equal(got, imresize(A, Scale=scale, OutputSize=list(expected)))


def test_scale_with_output_size_samples_at_the_scale():
    # MATLAB keeps a given Scale for the sample positions; OutputSize only sets how many.
    A = _image(2, (4, 6))
    np.testing.assert_array_equal(imresize(A, Scale=2, OutputSize=[5, 7]), imresize(A, 2)[:5, :7])


def test_non_integer_sizes_are_rounded_up():
    A = _image(4, (5, 5))
    np.testing.assert_array_equal(imresize(A, [2.2, 3.7]), imresize(A, [3, 4]))


def test_name_value_and_positional_forms_agree():
    A = _image(8, (7, 5, 2))
    expected = imresize(A, [4, 9], "bilinear", Antialiasing=False)
    forms = [
        imresize(A, [4, 9], "bilinear", "Antialiasing", False),
        imresize(A, [4, 9], Method="bilinear", Antialiasing=False),
        imresize(A, "OutputSize", [4, 9], "Method", "Bilinear", "antialiasing", 0),
        imresize(A, "bil", OutputSize=np.array([4, 9]), anti=False),
        imresize(A, "out", (4, 9), "meth", "TRIANGLE", "Antialiasing", False),
    ]
    for got in forms:
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(imresize(A, 0.5), imresize(A, "Scale", 0.5))
    np.testing.assert_array_equal(imresize(A, 0.5), imresize(A, Scale=[0.5, 0.5]))


def test_antialiasing_defaults_follow_the_method_name():
    A = _image(9, (12, 12))
    # "box" has the nearest kernel but antialiases by default; "nearest" does not.
    box = imresize(A, 0.4, "box")
    np.testing.assert_array_equal(box, imresize(A, 0.4, "nearest", Antialiasing=True))
    assert not np.array_equal(box, imresize(A, 0.4, "nearest"))
    np.testing.assert_array_equal(imresize(A, 0.4), imresize(A, 0.4, "cubic", Antialiasing=True))


def test_nan_reaches_only_the_outputs_whose_taps_include_it():
    A = _image(6, (9, 13))
    with_nan = A.copy()
    with_nan[4, 6] = np.nan
    got = imresize(with_nan, [20, 5])
    clean = imresize(A, [20, 5])
    poisoned = np.isnan(got)
    assert poisoned.any() and not poisoned.all()
    np.testing.assert_allclose(got[~poisoned], clean[~poisoned], rtol=0, atol=1e-13)
    expected = _ref_imresize(with_nan, (20, 5))
    np.testing.assert_array_equal(poisoned, np.isnan(expected))


def test_the_input_is_left_untouched_and_lists_are_accepted():
    A = _image(1, (5, 6, 3), np.float32)
    before = A.copy()
    got = imresize(A, [8, 8])
    np.testing.assert_array_equal(A, before)
    assert not np.shares_memory(got, A)
    from_list = imresize(A.tolist(), [8, 8])
    np.testing.assert_array_equal(from_list, imresize(A.astype(np.float64), [8, 8]))
    assert not np.shares_memory(imresize(A, [5, 6], "nearest"), A)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        (([-3, 4],), {}, ValueError, "output size"),
        (([0, 4],), {}, ValueError, "output size"),
        (([np.nan, np.nan],), {}, ValueError, "output size"),
        (([3, np.inf],), {}, ValueError, "output size"),
        (([3, 4, 5],), {}, ValueError, "scale or output size"),
        ((0,), {}, ValueError, "scale"),
        ((-0.5,), {}, ValueError, "scale"),
        ((np.nan,), {}, ValueError, "scale"),
        ((["a", "b"],), {}, TypeError, "scale or output size"),
        (([None, 3],), {}, TypeError, "scale or output size"),
        ((True,), {}, TypeError, "scale or output size"),
        (([3, 3], "bogus"), {}, ValueError, "method"),
        (([3, 3], "bi"), {}, ValueError, "method"),
        (([3, 3],), {"Method": "bogus"}, ValueError, "method"),
        (([3, 3], "bicubic"), {"Method": "nearest"}, ValueError, "method"),
        (([3, 3],), {"Colormap": "original"}, ValueError, "Colormap"),
        (([3, 3], "bicubic", "Dither", True), {}, ValueError, "Dither"),
        (([3, 3], "Antialiasing"), {}, ValueError, "method"),
        (([3, 3],), {"Antialiasing": "yes"}, TypeError, "Antialiasing"),
        (([3, 3],), {"OutputSize": [2, 2]}, ValueError, "OutputSize"),
        ((0.5,), {"Scale": 2}, ValueError, "Scale"),
        ((), {"Scale": [1, 2, 3]}, ValueError, "Scale"),
        ((), {"Scale": -1}, ValueError, "Scale"),
        ((), {"OutputSize": [2, 0]}, ValueError, "OutputSize"),
        ((), {}, ValueError, "scale or an output size"),
        ((), {"Method": "nearest"}, ValueError, "scale or an output size"),
        ((0.5, 2), {}, ValueError, "scale or size"),
    ],
)
def test_bad_arguments_are_named(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        imresize(np.ones((4, 4)), *args, **kwargs)


@pytest.mark.parametrize(
    ("A", "error", "message"),
    [
        (np.ones(4), ValueError, "2 dimensions"),
        (np.ones((0, 3)), ValueError, "empty"),
        (np.ones((3, 3), dtype=np.complex128), TypeError, "dtype"),
        (np.ones((3, 3), dtype=np.float16), TypeError, "dtype"),
        (np.ones((3, 3), dtype=np.int64), TypeError, "dtype"),
        ([["a", "b"]], TypeError, "dtype"),
    ],
)
def test_bad_images_are_named(A, error, message):
    with pytest.raises(error, match=message):
        imresize(A, 2)
