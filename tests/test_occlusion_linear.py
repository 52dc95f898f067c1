"""Occlusion maps of linear networks, checked against closed forms computed in the test.

Weights, pixels and fill values are small integers wherever possible, so float32 arithmetic
in the network is exact and the maps must match to the last bit.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx_builders import expected_linear_map, linear_model, spatial_model

from matlab_occsens import importNetworkFromONNX, imresize, occlusionSensitivity
from matlab_occsens._core.options import mround


def integer_problem(rng, height, width, channels, outputs=3):
    weights = rng.integers(-3, 4, size=(outputs, channels, height, width)).astype(np.float32)
    image = rng.integers(0, 256, size=(height, width, channels)).astype(np.float64)
    return weights, image


def ranges(size, mask, stride, clipping):
    """Covered 0-based [start, stop) ranges written straight from docs/specification.md §4 (1-based)."""
    out = []
    if clipping:
        centre = 1
        while centre <= size:
            first = centre - mask // 2
            out.append((max(first, 1) - 1, min(first + mask - 1, size)))
            centre += stride
    else:
        top = 1
        while top + mask - 1 <= size:
            out.append((top - 1, top + mask - 1))
            top += stride
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    height=st.integers(3, 24),
    width=st.integers(3, 24),
    mask=st.tuples(st.integers(1, 12), st.integers(1, 12)),
    stride=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    clipping=st.sampled_from(["on", "off"]),
    seed=st.integers(0, 2**16),
)
def test_raw_map_matches_the_closed_form(height, width, mask, stride, clipping, seed):
    rng = np.random.default_rng(seed)
    weights, image = integer_problem(rng, height, width, channels=2)
    if clipping == "off" and (mask[0] > height or mask[1] > width):
        return  # an error case, tested elsewhere
    net = importNetworkFromONNX(linear_model(weights))
    fill = np.array([7.0, 200.0])
    scoreMap = occlusionSensitivity(
        net,
        image,
        [1, 2, 3],
        MaskSize=list(mask),
        Stride=list(stride),
        MaskValue=fill,
        MaskClipping=clipping,
        OutputUpsampling="none",
    )
    rows = ranges(height, mask[0], stride[0], clipping == "on")
    cols = ranges(width, mask[1], stride[1], clipping == "on")
    expected = expected_linear_map(weights, image, fill, rows, cols)
    assert scoreMap.dtype == np.float32
    assert scoreMap.shape == (len(rows), len(cols), 3)
    np.testing.assert_array_equal(scoreMap, expected.astype(np.float32))


def test_auto_options_on_a_non_square_image():
    rng = np.random.default_rng(1)
    weights, image = integer_problem(rng, 25, 40, channels=3, outputs=1)
    net = importNetworkFromONNX(linear_model(weights))
    scoreMap = occlusionSensitivity(net, image, 1, OutputUpsampling="none", MaskValue=0)
    mask = (mround(0.2 * 25), mround(0.2 * 40))  # 5 x 8, per dimension
    stride = (mround(0.1 * 25), mround(0.1 * 40))  # 3 (2.5 rounds up) x 4
    assert mask == (5, 8) and stride == (3, 4)
    expected = expected_linear_map(weights, image, np.zeros(3), ranges(25, 5, 3, True), ranges(40, 8, 4, True))[..., 0]
    np.testing.assert_array_equal(scoreMap, expected.astype(np.float32))


def test_auto_mask_value_is_the_channel_mean_of_the_float32_image():
    rng = np.random.default_rng(2)
    weights = rng.integers(-3, 4, size=(1, 3, 16, 16)).astype(np.float32)
    image = rng.integers(0, 256, size=(16, 16, 3)).astype(np.uint8)
    net = importNetworkFromONNX(linear_model(weights))
    scoreMap = occlusionSensitivity(net, image, 1, OutputUpsampling="none", MaskSize=4, Stride=4)
    as_float = image.astype(np.float32)
    fill = as_float.mean(axis=(0, 1), dtype=np.float64).astype(np.float32).astype(np.float64)
    assert not np.all(fill == np.round(fill))  # unrounded, as SPEC §2 requires for uint8
    expected = expected_linear_map(
        weights, as_float.astype(np.float64), fill, ranges(16, 4, 4, True), ranges(16, 4, 4, True)
    )
    np.testing.assert_allclose(scoreMap, expected[..., 0], rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("mask_value", [5, [5], np.array([[1.0, 2.0, 3.0]]), (9, 0, 4)])
def test_scalar_and_vector_mask_values(mask_value):
    rng = np.random.default_rng(3)
    weights, image = integer_problem(rng, 12, 12, channels=3, outputs=1)
    net = importNetworkFromONNX(linear_model(weights))
    scoreMap = occlusionSensitivity(net, image, 1, OutputUpsampling="none", MaskSize=3, Stride=2, MaskValue=mask_value)
    fill = np.broadcast_to(np.asarray(mask_value, float).ravel(), (3,))
    expected = expected_linear_map(weights, image, fill, ranges(12, 3, 2, True), ranges(12, 3, 2, True))
    np.testing.assert_array_equal(scoreMap, expected[..., 0].astype(np.float32))


def test_vector_channel_idx_stacks_in_the_given_order_with_repeats():
    rng = np.random.default_rng(4)
    weights, image = integer_problem(rng, 10, 10, channels=1, outputs=4)
    net = importNetworkFromONNX(linear_model(weights))
    stacked = occlusionSensitivity(net, image[..., 0], np.array([4, 2, 4]), OutputUpsampling="none", MaskValue=0)
    for position, channel in enumerate([4, 2, 4]):
        single = occlusionSensitivity(net, image[..., 0], channel, OutputUpsampling="none", MaskValue=0)
        np.testing.assert_array_equal(stacked[..., position], single)


@pytest.mark.parametrize("method", ["bicubic", "nearest"])
def test_upsampling_is_matlab_imresize_of_the_raw_map(method):
    rng = np.random.default_rng(5)
    weights, image = integer_problem(rng, 30, 20, channels=3, outputs=2)
    net = importNetworkFromONNX(linear_model(weights))
    raw = occlusionSensitivity(net, image, [1, 2], OutputUpsampling="none")
    upsampled = occlusionSensitivity(net, image, [1, 2], OutputUpsampling=method)
    assert upsampled.shape == (30, 20, 2) and upsampled.dtype == np.float32
    np.testing.assert_array_equal(upsampled, imresize(raw, [30, 20], method))
    one = occlusionSensitivity(net, image, 2, OutputUpsampling=method)
    assert one.shape == (30, 20)  # a single channel drops the third axis, like MATLAB
    np.testing.assert_array_equal(one, upsampled[..., 1])


def test_nearest_upsampling_picks_the_mask_matlab_picks():
    """Nearest: output pixel x takes raw cell floor(u + 0.5), u = x/scale + 0.5(1 - 1/scale)."""
    rng = np.random.default_rng(6)
    weights, image = integer_problem(rng, 23, 23, channels=1, outputs=1)
    net = importNetworkFromONNX(linear_model(weights))
    raw = occlusionSensitivity(net, image[..., 0], 1, OutputUpsampling="none", MaskSize=5, Stride=3)
    upsampled = occlusionSensitivity(net, image[..., 0], 1, OutputUpsampling="nearest", MaskSize=5, Stride=3)
    count = raw.shape[0]  # 8 masks: 1, 4, ..., 22
    scale = 23 / count
    x = np.arange(1, 24)
    source = np.clip(np.floor(x / scale + 0.5 * (1 - 1 / scale) + 0.5).astype(int), 1, count) - 1
    np.testing.assert_array_equal(upsampled, raw[np.ix_(source, source)])


def test_intermediate_output_with_spatial_extent():
    """Selecting the 'same' convolution measures the sum of its channel over all positions."""
    rng = np.random.default_rng(7)
    height, width = 14, 11
    kernel = rng.integers(-2, 3, size=(3, 2, 3, 4)).astype(np.float32)
    image = rng.integers(0, 256, size=(height, width, 2)).astype(np.float64)
    # effective whole-image weights: which taps see each pixel, summed over output positions
    effective = np.zeros((3, 2, height, width))
    kh, kw = kernel.shape[2:]
    for i in range(height):
        for j in range(width):
            for a in range(kh):
                for b in range(kw):
                    r, c = i + a - kh // 2, j + b - kw // 2
                    if 0 <= r < height and 0 <= c < width:
                        effective[:, :, r, c] += kernel[:, :, a, b]
    net = importNetworkFromONNX(spatial_model(kernel, height, width))
    fill = np.array([3.0, 100.0])
    options = dict(MaskSize=[3, 4], Stride=[2, 3], MaskValue=fill, OutputUpsampling="none")
    expected = expected_linear_map(effective, image, fill, ranges(height, 3, 2, True), ranges(width, 4, 3, True))

    net.OutputNames = ["local"]  # a layer (node) name
    assert net.OutputDataFormats == ["BCSS"]
    from_layer = occlusionSensitivity(net, image, [3, 1], **options)
    np.testing.assert_array_equal(from_layer, expected[..., [2, 0]].astype(np.float32))
    net.OutputNames = "local_out"  # the same tensor by its tensor name
    np.testing.assert_array_equal(occlusionSensitivity(net, image, [3, 1], **options), from_layer)
    net.OutputNames = ["scores"]  # the final global sum gives the same totals
    np.testing.assert_array_equal(occlusionSensitivity(net, image, [3, 1], **options), from_layer)


def test_normalization_happens_after_occlusion():
    """zscore: drop = sum over the mask of W (x - fill) / std, fill in raw pixel units."""
    rng = np.random.default_rng(8)
    weights, image = integer_problem(rng, 12, 12, channels=3, outputs=1)
    mean, std = np.array([100.0, 50.0, 10.0]), np.array([2.0, 4.0, 0.5])
    net = importNetworkFromONNX(linear_model(weights), Normalization="zscore", Mean=mean, StandardDeviation=std)
    fill = np.array([10.0, 20.0, 30.0])
    scoreMap = occlusionSensitivity(net, image, 1, MaskValue=fill, MaskSize=4, Stride=3, OutputUpsampling="none")
    scaled = weights / std[None, :, None, None]
    expected = expected_linear_map(scaled, image, fill, ranges(12, 4, 3, True), ranges(12, 4, 3, True))
    np.testing.assert_allclose(scoreMap, expected[..., 0], rtol=1e-6, atol=1e-2)


@pytest.mark.parametrize("batch", [1, 7, 128, 1000])
def test_mini_batch_size_does_not_change_the_map(batch):
    rng = np.random.default_rng(9)
    weights, image = integer_problem(rng, 20, 20, channels=3)
    net = importNetworkFromONNX(linear_model(weights))
    reference = occlusionSensitivity(net, image, [1, 2], MaskSize=5, Stride=2, OutputUpsampling="none", MaskValue=1)
    other = occlusionSensitivity(
        net, image, [1, 2], MaskSize=5, Stride=2, OutputUpsampling="none", MaskValue=1, MiniBatchSize=batch
    )
    np.testing.assert_array_equal(other, reference)


def test_nchw_and_nhwc_networks_give_the_same_map():
    rng = np.random.default_rng(10)
    weights, image = integer_problem(rng, 16, 12, channels=3)
    nchw = importNetworkFromONNX(linear_model(weights, layout="BCSS"))
    nhwc = importNetworkFromONNX(linear_model(weights, layout="BSSC"))
    assert (nchw.InputDataFormats, nhwc.InputDataFormats) == ("BCSS", "BSSC")
    assert nchw.InputSize == nhwc.InputSize == (16, 12, 3)
    np.testing.assert_array_equal(
        occlusionSensitivity(nchw, image, [1, 3], MaskValue=2), occlusionSensitivity(nhwc, image, [1, 3], MaskValue=2)
    )


def test_fixed_batch_file_gives_the_map_of_its_dynamic_twin_and_batches():
    rng = np.random.default_rng(11)
    weights, image = integer_problem(rng, 16, 16, channels=3)
    dynamic = importNetworkFromONNX(linear_model(weights, batch="N"))
    fixed = importNetworkFromONNX(linear_model(weights, batch=1))
    np.testing.assert_array_equal(
        occlusionSensitivity(fixed, image, 2, MaskValue=0), occlusionSensitivity(dynamic, image, 2, MaskValue=0)
    )
    assert fixed.engine("cpu").max_batch is None  # the batch axis was made symbolic


def test_odd_and_even_masks_under_clipping_on_at_the_border():
    """Even mask 4 at centre row 1 covers rows 1..2 only; at centre 4 rows 2..5 (1-based)."""
    weights = np.zeros((1, 1, 8, 1), np.float32)
    weights[0, 0, :, 0] = 10.0 ** np.arange(8)  # row r contributes 10^(r-1): the map spells the rows
    image = np.ones((8, 1))
    net = importNetworkFromONNX(linear_model(weights), InputDataFormats="BCSS")  # [N,1,8,1] is ambiguous
    scoreMap = occlusionSensitivity(net, image, 1, MaskSize=[4, 1], Stride=[3, 1], MaskValue=0, OutputUpsampling="none")
    assert scoreMap[:, 0].tolist() == [11.0, 11110.0, 11110000.0]  # rows {1,2}, {2..5}, {5..8}
    odd = occlusionSensitivity(net, image, 1, MaskSize=[3, 1], Stride=[3, 1], MaskValue=0, OutputUpsampling="none")
    assert odd[:, 0].tolist() == [11.0, 11100.0, 11100000.0]  # rows {1,2}, {3,4,5}, {6,7,8}
