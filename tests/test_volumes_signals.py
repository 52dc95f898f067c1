"""Maps of 3-D volumes and 1-D signals (docs/specification.md §9), checked against closed forms.

A convolution whose kernel covers the whole input is linear, so the drop of each mask is the sum
over the positions it covers of W · (x − fill), computed here position by position
(:func:`onnx_builders.expected_linear_map_nd`). Weights, values and fills are small integers, so
the network's float32 arithmetic is exact and maps must match to the last bit, on ONNX Runtime
and on torch (onnx2torch, and a PyTorch module, with the device occluder run on the CPU).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from onnx_builders import expected_linear_map_nd, linear_model_nd

from matlab_occsens import (
    importNetworkFromONNX,
    importNetworkFromPyTorch,
    imresize,
    occlusionSensitivity,
    predict,
)
from matlab_occsens._core.grid import axis_ranges
from matlab_occsens._core.options import mround

VOLUME = (9, 7, 11)  # S1 × S2 × S3
SIGNAL = 60  # T
BACKENDS = ["onnxruntime", "torch"]


def ranges(size: int, mask: int, stride: int, clipping: bool) -> list[tuple[int, int]]:
    """An axis's covered ranges written straight from §4 (1-based), as 0-based [start, stop)."""
    if clipping:
        centres = range(1, size + 1, stride)
        return [(max(c - mask // 2, 1) - 1, min(c - mask // 2 + mask - 1, size)) for c in centres]
    return [(top - 1, top + mask - 1) for top in range(1, size - mask + 2, stride)]


def volume_problem(channels=2, outputs=3, seed=0):
    rng = np.random.default_rng(seed)
    weights = rng.integers(-3, 4, size=(outputs, channels, *VOLUME)).astype(np.float32)
    volume = rng.integers(0, 16, size=(*VOLUME, channels)).astype(np.float64)
    return weights, volume


def signal_problem(channels=3, outputs=4, seed=1):
    rng = np.random.default_rng(seed)
    weights = rng.integers(-3, 4, size=(outputs, channels, SIGNAL)).astype(np.float32)
    signal = rng.integers(0, 16, size=(channels, SIGNAL)).astype(np.float64)  # C × T, MATLAB's layout
    return weights, signal


def network(weights, layout, backend="onnxruntime"):
    if backend == "pytorch":
        torch = pytest.importorskip("torch")
        conv_class = torch.nn.Conv3d if weights.ndim == 5 else torch.nn.Conv1d
        conv = conv_class(weights.shape[1], weights.shape[0], weights.shape[2:], bias=False)
        conv.weight.data = torch.from_numpy(weights)
        model = torch.nn.Sequential(conv, torch.nn.Flatten())
        if weights.ndim == 5:
            return importNetworkFromPyTorch(model, InputSize=[*weights.shape[2:], weights.shape[1]])
        return importNetworkFromPyTorch(model, InputSize=[weights.shape[1], weights.shape[2]], InputDataFormats="BCT")
    if backend == "torch":
        pytest.importorskip("onnx2torch")
    return importNetworkFromONNX(linear_model_nd(weights, layout), Backend=backend)


def raw_map(net, X, channels, **options):
    return occlusionSensitivity(net, X, channels, OutputUpsampling="none", **options)


# --------------------------------------------------------------------------- volumes


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("layout", ["BCSSS", "BSSSC"])
def test_a_volume_map_is_the_closed_form_on_both_backends(layout, backend):
    weights, volume = volume_problem()
    net = network(weights, layout, backend)
    assert net.InputSize == (*VOLUME, 2) and net.InputDataFormats == layout
    assert net.Layers[0].Type == "3-D Image Input"
    fill = np.array([3.0, 11.0])
    scoreMap = raw_map(net, volume, [3, 1], MaskSize=[3, 2, 4], Stride=[2, 3, 3], MaskValue=fill)
    axes = [ranges(9, 3, 2, True), ranges(7, 2, 3, True), ranges(11, 4, 3, True)]
    expected = expected_linear_map_nd(weights, volume, fill, axes)[..., [2, 0]]
    assert scoreMap.dtype == np.float32 and scoreMap.shape == (5, 3, 4, 2)
    np.testing.assert_array_equal(scoreMap, expected.astype(np.float32))


@pytest.mark.parametrize("occlude_on_device", [False, True])
def test_a_pytorch_conv3d_gives_the_closed_form_with_either_occluder(occlude_on_device):
    """importNetworkFromPyTorch with a 3-D InputSize [S1 S2 S3 C]; the device occluder (the GPU's
    path) runs here on the CPU."""
    weights, volume = volume_problem()
    net = network(weights, "BCSSS", "pytorch")
    assert net.InputSize == (*VOLUME, 2) and net.InputDataFormats == "BCSSS"
    net.engine("cpu")._occlude_on_device = occlude_on_device
    scoreMap = raw_map(net, volume, [1, 2], MaskSize=4, Stride=3, MaskValue=0, ExecutionEnvironment="cpu")
    axes = [ranges(side, 4, 3, True) for side in VOLUME]
    expected = expected_linear_map_nd(weights, volume, np.zeros(2), axes)[..., :2]
    np.testing.assert_array_equal(scoreMap, expected.astype(np.float32))


def test_auto_mask_and_stride_are_fifths_and_tenths_of_each_axis():
    weights, volume = volume_problem()
    net = network(weights, "BCSSS")
    scoreMap = raw_map(net, volume, 2, MaskValue=0)
    masks = [max(mround(0.2 * side), 1) for side in VOLUME]
    strides = [max(mround(0.1 * side), 1) for side in VOLUME]
    assert masks == [2, 1, 2] and strides == [1, 1, 1]
    axes = [ranges(side, m, s, True) for side, m, s in zip(VOLUME, masks, strides)]
    expected = expected_linear_map_nd(weights, volume, np.zeros(2), axes)[..., 1]
    assert scoreMap.shape == VOLUME
    np.testing.assert_array_equal(scoreMap, expected.astype(np.float32))


def test_a_scalar_mask_and_stride_apply_to_every_axis_of_a_volume():
    weights, volume = volume_problem()
    net = network(weights, "BSSSC")
    scalar = raw_map(net, volume, 1, MaskSize=3, Stride=2, MaskValue=0)
    vector = raw_map(net, volume, 1, MaskSize=[3, 3, 3], Stride=[2, 2, 2], MaskValue=0)
    np.testing.assert_array_equal(scalar, vector)
    axes = [ranges(side, 3, 2, True) for side in VOLUME]
    expected = expected_linear_map_nd(weights, volume, np.zeros(2), axes)[..., 0]
    np.testing.assert_array_equal(scalar, expected.astype(np.float32))


@pytest.mark.parametrize("backend", BACKENDS)
def test_mask_clipping_off_keeps_only_whole_masks_of_a_volume(backend):
    weights, volume = volume_problem()
    net = network(weights, "BCSSS", backend)
    scoreMap = raw_map(net, volume, 3, MaskSize=[4, 3, 5], Stride=[2, 2, 3], MaskClipping="off", MaskValue=1)
    axes = [ranges(9, 4, 2, False), ranges(7, 3, 2, False), ranges(11, 5, 3, False)]
    assert [len(axis) for axis in axes] == [3, 3, 3]
    expected = expected_linear_map_nd(weights, volume, np.ones(2), axes)[..., 2]
    np.testing.assert_array_equal(scoreMap, expected.astype(np.float32))


def test_auto_mask_value_is_each_channels_mean_over_the_volume():
    weights, volume = volume_problem()
    net = network(weights, "BCSSS")
    means = volume.astype(np.float32).mean(axis=(0, 1, 2), dtype=np.float64)
    auto = raw_map(net, volume, [1, 2, 3], MaskSize=3, Stride=3)
    given = raw_map(net, volume, [1, 2, 3], MaskSize=3, Stride=3, MaskValue=means)
    np.testing.assert_array_equal(auto, given)
    expected = expected_linear_map_nd(weights, volume, means, [ranges(side, 3, 3, True) for side in VOLUME])
    np.testing.assert_allclose(auto, expected, rtol=1e-5, atol=1e-3)  # a fractional fill: float32 rounding


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mask_value", [5, [2, 9]])
def test_scalar_and_per_channel_mask_values_of_a_volume(mask_value, backend):
    weights, volume = volume_problem()
    net = network(weights, "BSSSC", backend)
    scoreMap = raw_map(net, volume, 2, MaskSize=2, Stride=4, MaskValue=mask_value)
    fill = np.broadcast_to(np.asarray(mask_value, float), (2,))
    expected = expected_linear_map_nd(weights, volume, fill, [ranges(side, 2, 4, True) for side in VOLUME])[..., 1]
    np.testing.assert_array_equal(scoreMap, expected.astype(np.float32))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_minibatch_that_does_not_divide_the_masks_gives_the_same_volume_map(backend):
    weights, volume = volume_problem()
    net = network(weights, "BCSSS", backend)
    grid = [ranges(side, 3, 2, True) for side in VOLUME]
    assert (np.prod([len(axis) for axis in grid]) + 1) % 7 != 0
    scoreMap = raw_map(net, volume, [1, 3], MaskSize=3, Stride=2, MaskValue=0, MiniBatchSize=7)
    expected = expected_linear_map_nd(weights, volume, np.zeros(2), grid)[..., [0, 2]]
    np.testing.assert_array_equal(scoreMap, expected.astype(np.float32))


@pytest.mark.parametrize("method", ["bicubic", "nearest"])
def test_a_volume_map_is_upsampled_axis_by_axis_with_imresizes_kernels(method):
    """imresize3's "cubic" and "nearest": each axis resized with imresize's rule along it. The
    reference composes MATLAB's imresize: rows and columns first, then the planes."""
    weights, volume = volume_problem()
    net = network(weights, "BCSSS")
    options = dict(MaskSize=3, Stride=[3, 2, 4], MaskValue=0)
    raw = raw_map(net, volume, [1, 2], **options)
    upsampled = occlusionSensitivity(net, volume, [1, 2], OutputUpsampling=method, **options)
    assert upsampled.shape == (*VOLUME, 2) and upsampled.dtype == np.float32
    planes = imresize(raw, list(VOLUME[:2]), method)  # axes 1 and 2, plane by plane and channel by channel
    along_third = np.moveaxis(planes, 2, 0)  # (K3, S1, S2, n): imresize's rows are the third axis
    expected = np.moveaxis(imresize(along_third, [VOLUME[2], along_third.shape[1]], method), 0, 2)
    np.testing.assert_allclose(upsampled, expected, rtol=2e-6, atol=2e-6 * np.abs(raw).max())
    if method == "nearest":  # no arithmetic: every value is one of the raw map's, exactly
        np.testing.assert_array_equal(upsampled, expected)


@pytest.mark.parametrize("layout", ["BCSSS", "BSSSC"])
def test_a_volume_layout_given_at_import_is_the_derived_one(layout):
    weights, volume = volume_problem()
    given = importNetworkFromONNX(linear_model_nd(weights, layout), InputDataFormats=layout)
    assert given.InputDataFormats == layout and given.InputSize == (*VOLUME, 2)
    options = dict(MaskSize=[2, 3, 4], Stride=[3, 3, 5], MaskValue=[1, 4])
    axes = [ranges(9, 2, 3, True), ranges(7, 3, 3, True), ranges(11, 4, 5, True)]
    expected = expected_linear_map_nd(weights, volume, np.array([1.0, 4.0]), axes)[..., [1, 2]]
    np.testing.assert_array_equal(raw_map(given, volume, [2, 3], **options), expected.astype(np.float32))


def test_the_volume_map_of_one_channel_drops_its_channel_axis():
    weights, volume = volume_problem()
    net = network(weights, "BCSSS")
    assert occlusionSensitivity(net, volume, 1, MaskSize=3, Stride=3).shape == VOLUME
    assert occlusionSensitivity(net, volume, [1], MaskSize=3, Stride=3).shape == VOLUME


def test_a_one_channel_volume_may_be_given_as_a_3d_array():
    weights, volume = volume_problem(channels=1)
    net = network(weights, "BCSSS")
    assert net.InputSize == (*VOLUME, 1)
    with_axis = raw_map(net, volume, 1, MaskSize=3, Stride=2, MaskValue=0)
    np.testing.assert_array_equal(raw_map(net, volume[..., 0], 1, MaskSize=3, Stride=2, MaskValue=0), with_axis)
    np.testing.assert_array_equal(
        raw_map(net, volume[..., np.newaxis], 1, MaskSize=3, Stride=2, MaskValue=0), with_axis
    )


def test_a_volume_is_normalised_after_it_is_occluded():
    """The input layer's zscore acts on the occluded raw volume, as for images (§5)."""
    weights, volume = volume_problem()
    mean, std = np.array([2.0, 4.0]), np.array([0.5, 2.0])
    net = importNetworkFromONNX(
        linear_model_nd(weights, "BCSSS"), Normalization="zscore", Mean=mean, StandardDeviation=std
    )
    scoreMap = raw_map(net, volume, 1, MaskSize=3, Stride=3, MaskValue=[1, 8])
    # a linear network on (x - mean)/std: the drop is W/std · (x - fill), per channel
    scaled = weights / std.reshape(1, 2, 1, 1, 1).astype(np.float32)
    axes = [ranges(side, 3, 3, True) for side in VOLUME]
    expected = expected_linear_map_nd(scaled, volume, np.array([1.0, 8.0]), axes)[..., 0]
    np.testing.assert_allclose(scoreMap, expected, rtol=1e-5, atol=1e-3)


def test_an_inner_5d_layer_of_a_volume_network_has_a_derived_layout():
    """OutputNames reaches the convolution's 5-D output; its layout is derived, never guessed."""
    weights, volume = volume_problem()
    net = network(weights, "BSSSC")
    net.OutputNames = ["whole_input_conv"]
    assert net.OutputDataFormats == ["BCSSS"]
    flat = network(weights, "BSSSC")
    options = dict(MaskSize=3, Stride=4, MaskValue=0)
    np.testing.assert_array_equal(raw_map(net, volume, [2, 3], **options), raw_map(flat, volume, [2, 3], **options))
    reference = predict(net, volume)
    assert reference.shape == (1, 1, 1, 3, 1)  # S1 × S2 × S3 × C × N, MATLAB's layout
    np.testing.assert_array_equal(reference.ravel(), predict(flat, volume).ravel())


def test_predict_takes_one_volume_or_a_stack():
    weights, volume = volume_problem()
    net = network(weights, "BCSSS")
    one = predict(net, volume)
    stack = predict(net, np.stack([volume, volume + 1], axis=-1))
    expected = np.einsum("kcxyz,xyzc->k", weights.astype(np.float64), volume)
    np.testing.assert_array_equal(one, expected[np.newaxis].astype(np.float32))
    np.testing.assert_array_equal(stack[0], one[0])
    with pytest.raises(ValueError, match="9x7x11x2 \\(net.InputSize\\) or 9x7x11x2xN"):
        predict(net, volume[:-1])


# --------------------------------------------------------------------------- signals


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("layout", ["BCT", "BTC"])
def test_a_signal_map_is_the_closed_form_on_both_backends(layout, backend):
    weights, signal = signal_problem()
    net = network(weights, layout, backend)
    assert net.InputSize == (3, SIGNAL) and net.InputDataFormats == layout
    assert net.Layers[0].Type == "Sequence Input"
    fill = np.array([1.0, 7.0, 4.0])
    scoreMap = raw_map(net, signal, [4, 2], MaskSize=7, Stride=4, MaskValue=fill)
    expected = expected_linear_map_nd(weights, signal.T, fill, [ranges(SIGNAL, 7, 4, True)])[..., [3, 1]]
    assert scoreMap.shape == (15, 2) and scoreMap.dtype == np.float32
    np.testing.assert_array_equal(scoreMap, expected.astype(np.float32))


def test_a_pytorch_conv1d_gives_the_closed_form():
    weights, signal = signal_problem()
    net = network(weights, "BCT", "pytorch")
    assert net.InputSize == (3, SIGNAL)
    scoreMap = raw_map(net, signal, [1, 3], MaskSize=5, Stride=3, MaskValue=0)
    expected = expected_linear_map_nd(weights, signal.T, np.zeros(3), [ranges(SIGNAL, 5, 3, True)])[..., [0, 2]]
    np.testing.assert_array_equal(scoreMap, expected.astype(np.float32))


def test_a_signals_auto_mask_covers_a_fifth_of_the_time_steps_in_every_feature():
    weights, signal = signal_problem()
    net = network(weights, "BCT")
    scoreMap = raw_map(net, signal, 1, MaskValue=0)
    mask, stride = mround(0.2 * SIGNAL), mround(0.1 * SIGNAL)
    assert (mask, stride) == (12, 6)
    expected = expected_linear_map_nd(weights, signal.T, np.zeros(3), [ranges(SIGNAL, mask, stride, True)])[..., 0]
    assert scoreMap.shape == (10,)
    np.testing.assert_array_equal(scoreMap, expected.astype(np.float32))


def test_a_signal_takes_its_mask_size_and_stride_as_one_element_vectors():
    """A signal has one spatial axis, so a vector MaskSize or Stride holds one value (§9.4)."""
    weights, signal = signal_problem()
    net = network(weights, "BCT")
    scoreMap = raw_map(net, signal, [3, 1], MaskSize=[7], Stride=[4], MaskValue=0)
    expected = expected_linear_map_nd(weights, signal.T, np.zeros(3), [ranges(SIGNAL, 7, 4, True)])[..., [2, 0]]
    assert scoreMap.shape == (15, 2)
    np.testing.assert_array_equal(scoreMap, expected.astype(np.float32))
    np.testing.assert_array_equal(raw_map(net, signal, [3, 1], MaskSize=7, Stride=4, MaskValue=0), scoreMap)


@pytest.mark.parametrize("backend", BACKENDS)
def test_mask_clipping_off_keeps_every_signal_mask_full_length(backend):
    weights, signal = signal_problem()
    net = network(weights, "BTC", backend)
    scoreMap = raw_map(net, signal, 2, MaskSize=9, Stride=8, MaskClipping="off", MaskValue=2)
    covered = ranges(SIGNAL, 9, 8, False)
    assert all(stop - start == 9 for start, stop in covered) and len(covered) == 7
    expected = expected_linear_map_nd(weights, signal.T, np.full(3, 2.0), [covered])[..., 1]
    np.testing.assert_array_equal(scoreMap, expected.astype(np.float32))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mask_value", ["auto", 3, [1, 2, 3]])
def test_mask_values_of_a_signal(mask_value, backend):
    weights, signal = signal_problem()
    net = network(weights, "BCT", backend)
    scoreMap = raw_map(net, signal, [1, 2], MaskSize=4, Stride=5, MaskValue=mask_value)
    fill = (
        signal.astype(np.float32).mean(axis=1, dtype=np.float64)
        if mask_value == "auto"
        else np.broadcast_to(np.asarray(mask_value, float), (3,))
    )
    expected = expected_linear_map_nd(weights, signal.T, fill, [ranges(SIGNAL, 4, 5, True)])[..., :2]
    np.testing.assert_allclose(scoreMap, expected, rtol=1e-6, atol=1e-3 if mask_value == "auto" else 0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_minibatch_that_does_not_divide_the_masks_gives_the_same_signal_map(backend):
    weights, signal = signal_problem()
    net = network(weights, "BCT", backend)
    scoreMap = raw_map(net, signal, [2, 4], MaskSize=3, Stride=1, MaskValue=0, MiniBatchSize=9)
    assert (SIGNAL + 1) % 9 != 0
    expected = expected_linear_map_nd(weights, signal.T, np.zeros(3), [ranges(SIGNAL, 3, 1, True)])[..., [1, 3]]
    np.testing.assert_array_equal(scoreMap, expected.astype(np.float32))


@pytest.mark.parametrize("method", ["bicubic", "nearest"])
def test_a_signal_map_is_upsampled_along_time_with_imresizes_kernels(method):
    weights, signal = signal_problem()
    net = network(weights, "BCT")
    raw = raw_map(net, signal, [1, 2], MaskSize=8, Stride=7, MaskValue=0)
    upsampled = occlusionSensitivity(net, signal, [1, 2], MaskSize=8, Stride=7, MaskValue=0, OutputUpsampling=method)
    assert upsampled.shape == (SIGNAL, 2)
    # imresize of the K×n map to T×n leaves the channel axis as it is (scale 1): exactly the time pass
    np.testing.assert_array_equal(upsampled, imresize(raw, [SIGNAL, 2], method))
    one = occlusionSensitivity(net, signal, 2, MaskSize=8, Stride=7, MaskValue=0, OutputUpsampling=method)
    np.testing.assert_array_equal(one, upsampled[:, 1])


def test_a_one_feature_signal_may_be_a_1d_array():
    weights, signal = signal_problem(channels=1)
    net = network(weights, "BCT")
    assert net.InputSize == (1, SIGNAL)
    np.testing.assert_array_equal(
        raw_map(net, signal[0], 1, MaskSize=5, Stride=5), raw_map(net, signal, 1, MaskSize=5, Stride=5)
    )


def test_a_signals_full_size_statistics_are_given_in_its_layout():
    """A Mean of C × T values is read as X is: features × time steps."""
    weights, signal = signal_problem()
    mean = np.arange(3 * SIGNAL, dtype=np.float64).reshape(3, SIGNAL) % 5
    net = importNetworkFromONNX(linear_model_nd(weights, "BTC"), Normalization="zerocenter", Mean=mean)
    expected = np.einsum("kct,ct->k", weights.astype(np.float64), signal - mean)
    np.testing.assert_array_equal(predict(net, signal), expected[np.newaxis].astype(np.float32))


def test_an_inner_layer_of_a_signal_network_keeps_its_time_axis():
    weights, signal = signal_problem()
    net = network(weights, "BTC")
    net.OutputNames = ["whole_input_conv"]
    assert net.OutputDataFormats == ["BCT"]
    assert predict(net, signal).shape == (4, 1, 1)  # C × B × T, MATLAB's layout of "CBT"


def test_predict_takes_one_signal_or_a_stack():
    weights, signal = signal_problem()
    net = network(weights, "BTC")
    stack = predict(net, np.stack([signal, 2 * signal], axis=-1))
    expected = np.einsum("kct,ct->k", weights.astype(np.float64), signal)
    np.testing.assert_array_equal(stack, np.stack([expected, 2 * expected]).astype(np.float32))


# --------------------------------------------------------------------------- incremental, memory


@pytest.mark.parametrize("problem", ["volume", "signal"])
def test_incremental_inference_gives_the_closed_form_of_volumes_and_signals(problem):
    """Integer weights and values: "on" (which must not fall back), "auto" and "off" give the
    same map to the last bit (tests/test_incremental_nd.py holds random CNNs to float rounding)."""
    weights, X = volume_problem() if problem == "volume" else signal_problem()
    net = network(weights, "BCSSS" if problem == "volume" else "BCT")
    off = raw_map(net, X, 1, MaskSize=2, Stride=1, MaskValue=0, Incremental="off")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for mode in ("auto", "on"):
            np.testing.assert_array_equal(raw_map(net, X, 1, MaskSize=2, Stride=1, MaskValue=0, Incremental=mode), off)


def test_memory_does_not_grow_with_the_number_of_volume_masks():
    """Stride 1 and a 1×1×1 mask on a 24³ volume: 13,824 masks, yet numpy allocations stay at
    one batch of volumes plus the map (a few bytes per mask), as for images."""
    import tracemalloc

    side = 24
    rng = np.random.default_rng(5)
    weights = rng.integers(-2, 3, size=(1, 1, side, side, side)).astype(np.float32)
    volume = rng.integers(0, 4, (side, side, side)).astype(np.float64)
    net = importNetworkFromONNX(linear_model_nd(weights, "BCSSS"))
    batch = 32
    tracemalloc.start()
    scoreMap = raw_map(net, volume, 1, MaskSize=1, Stride=1, MaskValue=0, MiniBatchSize=batch)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    one = side**3 * 4
    np.testing.assert_array_equal(scoreMap, (weights[0, 0] * volume).astype(np.float32))  # W * x per voxel
    assert peak < batch * one + 50 * one, f"peak {peak / 1e6:.1f} MB"


# --------------------------------------------------------------------------- validation


@pytest.fixture(scope="module")
def volume_net():
    return network(volume_problem()[0], "BCSSS")


@pytest.fixture(scope="module")
def signal_net():
    return network(signal_problem()[0], "BCT")


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.zeros((2, 9, 7, 11)), "X must be one 9x7x11x2 volume.*C×S1×S2×S3 .*np.moveaxis"),
        (np.zeros((9, 7, 11, 3)), "X must be one 9x7x11x2 volume"),
        (np.zeros((8, 7, 11, 2)), "got 8x7x11x2.*imresize3"),
        (np.zeros((9, 7)), "X must be one 9x7x11x2 volume"),
        (np.zeros((4, 9, 7, 11, 2)), "batch of 4 volumes"),
    ],
)
def test_a_wrong_volume_is_refused_naming_x(volume_net, X, message):
    with pytest.raises(ValueError, match=message):
        occlusionSensitivity(volume_net, X, 1)


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.zeros((SIGNAL, 3)), "X must be one 3x60 signal.*T×C.*X = X.T"),
        (np.zeros((3, 59)), "got 3x59.*takes 60 time steps"),
        (np.zeros(SIGNAL), "X must be one 3x60 signal"),
        (np.zeros((5, 3, SIGNAL)), "batch of 5 signals"),
        (np.zeros((3, SIGNAL, 2)), "X must be one 3x60 signal"),
    ],
)
def test_a_wrong_signal_is_refused_naming_x(signal_net, X, message):
    with pytest.raises(ValueError, match=message):
        occlusionSensitivity(signal_net, X, 1)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        (dict(MaskSize=[2, 3]), ValueError, "MaskSize must be 1 or 3 integers"),
        (dict(Stride=[1, 2, 3, 4]), ValueError, "Stride must be 1 or 3 integers"),
        (dict(MaskSize=[2, 0, 2]), ValueError, "MaskSize must be 1 or 3 integers >= 1"),
        (dict(MaskSize=[2, 8, 2], MaskClipping="off"), ValueError, "MaskSize \\[2, 8, 2\\] is larger than the 9x7x11"),
        (dict(MaskValue=[1, 2, 3]), ValueError, "MaskValue must be a scalar or have exactly 2 elements"),
    ],
)
def test_bad_volume_options_are_refused_before_any_inference(volume_net, options, error, message):
    with pytest.raises(error, match=message):
        occlusionSensitivity(volume_net, np.zeros((*VOLUME, 2)), 1, **options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(MaskSize=[2, 3]), "MaskSize must be 1 integer >= 1; got 2 values"),
        (dict(Stride=[1, 1]), "Stride must be 1 integer"),
        (dict(MaskSize=61, MaskClipping="off"), "MaskSize \\[61\\] is larger than the 60 input"),
        (dict(MaskValue=[1, 2]), "exactly 3 elements"),
    ],
)
def test_bad_signal_options_are_refused(signal_net, options, message):
    with pytest.raises(ValueError, match=message):
        occlusionSensitivity(signal_net, np.zeros((3, SIGNAL)), 1, **options)


def test_import_refuses_layouts_and_sizes_that_do_not_fit_the_graph():
    weights, _ = volume_problem()
    model = linear_model_nd(weights, "BCSSS")
    with pytest.raises(ValueError, match="InputDataFormats 'BCSS' does not fit.*5 axes.*'BCSSS' or 'BSSSC'"):
        importNetworkFromONNX(model, InputDataFormats="BCSS")
    with pytest.raises(ValueError, match="InputSize \\[9, 7, 10, 2\\] conflicts with the file"):
        importNetworkFromONNX(model, InputSize=[9, 7, 10, 2])
    assert importNetworkFromONNX(model, InputSize=[9, 7, 11]).InputSize == (9, 7, 11, 2)
    signal_model = linear_model_nd(signal_problem()[0], "BCT")
    with pytest.raises(ValueError, match="InputSize must be \\[C T\\]"):
        importNetworkFromONNX(signal_model, InputSize=[3, 60, 1])


def test_a_signal_whose_sizes_and_graph_disagree_is_refused():
    """[N, 12, 2]: by size the 2 would be the channels (N×T×C), but the graph convolves it as
    N×C×T: the importer asks instead of choosing."""
    weights = np.ones((1, 12, 2), np.float32)
    with pytest.raises(ValueError, match="looks 'BTC' by its sizes but the graph reads it as 'BCT'"):
        importNetworkFromONNX(linear_model_nd(weights, "BCT"))
    assert importNetworkFromONNX(linear_model_nd(weights, "BCT"), InputDataFormats="BCT").InputSize == (12, 2)


def test_a_dynamic_signal_length_needs_input_size():
    model = linear_model_nd(np.ones((1, 3, 20), np.float32), "BTC")
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "T"
    with pytest.raises(
        ValueError, match="dynamic size \\[3, '\\?'\\] \\(C×T\\); pass InputSize=\\[C T\\] for the signals"
    ):
        importNetworkFromONNX(model)
    assert importNetworkFromONNX(model, InputSize=[3, 20]).InputSize == (3, 20)


def test_pytorch_import_of_volumes_and_signals_checks_its_sizes():
    torch = pytest.importorskip("torch")
    model = torch.nn.Conv3d(2, 1, 3)
    assert importNetworkFromPyTorch(model, PyTorchInputSizes=[1, 2, 5, 6, 7]).InputSize == (5, 6, 7, 2)
    net = importNetworkFromPyTorch(model, InputSize=[5, 6, 7, 2], InputDataFormats="BSSSC")
    assert net.InputDataFormats == "BSSSC"
    with pytest.raises(ValueError, match='InputSize must be 3 integers \\[H W C\\].*4 \\[S1 S2 S3 C\\].*"BCT"'):
        importNetworkFromPyTorch(model, InputSize=[5, 6])
    with pytest.raises(ValueError, match="InputSize must be 2 integers"):
        importNetworkFromPyTorch(torch.nn.Conv1d(2, 1, 3), InputSize=[2, 10, 3], InputDataFormats="BCT")
    assert importNetworkFromPyTorch(
        torch.nn.Conv1d(2, 1, 3), PyTorchInputSizes=[1, 2, 10], InputDataFormats="BCT"
    ).InputSize == (2, 10)


def test_other_input_ranks_are_refused_with_the_kinds_accepted():
    weights = np.ones((1, 1, 2, 2, 2, 2), np.float32)
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "six",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *weights.shape[1:]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", *weights.shape[1:]])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    with pytest.raises(ValueError, match="4-D image batch.*5-D volume batch.*3-D signal batch"):
        importNetworkFromONNX(model)


def test_mask_ranges_along_each_axis_follow_the_2d_rule():
    """The grid of each axis of a volume is the axis's own 2-D rule (§4, §9.3)."""
    for size, mask, stride in [(9, 3, 2), (7, 2, 3), (11, 4, 3)]:
        for clipping in (True, False):
            assert [tuple(pair) for pair in axis_ranges(size, mask, stride, clipping).tolist()] == ranges(
                size, mask, stride, clipping
            )
