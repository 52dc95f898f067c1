"""ExecutionEnvironment "gpu": the same maps as the CPU, from both backends. These tests run
only where a CUDA device is usable (onnxruntime-gpu for ONNX Runtime, a CUDA build of torch for
the torch backend) and are skipped, saying why, everywhere else."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx_builders import clipped_ranges, expected_linear_map, expected_linear_map_nd, linear_model, linear_model_nd

from matlab_occsens import importNetworkFromONNX, importNetworkFromPyTorch, occlusionSensitivity


def torch_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


ORT_CUDA = "CUDAExecutionProvider" in ort.get_available_providers()
needs_ort_cuda = pytest.mark.skipif(not ORT_CUDA, reason="onnxruntime has no CUDA provider (the [gpu] extra)")
needs_torch_cuda = pytest.mark.skipif(not torch_cuda(), reason="torch sees no CUDA device")


def gpu_engine(net):
    try:
        return net.engine("gpu")
    except ValueError as error:  # a CUDA provider without a usable device
        pytest.skip(str(error))


def assert_gpu_matches_cpu(net, image, channels, **options):
    cpu = occlusionSensitivity(net, image, channels, ExecutionEnvironment="cpu", OutputUpsampling="none", **options)
    gpu = occlusionSensitivity(net, image, channels, ExecutionEnvironment="gpu", OutputUpsampling="none", **options)
    np.testing.assert_allclose(gpu, cpu, rtol=0, atol=1e-4 * max(np.abs(cpu).max(), 1))


def integer_problem():
    rng = np.random.default_rng(0)
    weights = rng.integers(-3, 4, size=(4, 3, 10, 14)).astype(np.float32)
    image = rng.integers(0, 256, size=(10, 14, 3)).astype(np.float64)
    return weights, image


@needs_ort_cuda
@pytest.mark.parametrize("layout", ["BCSS", "BSSC"])
def test_ort_gpu_gives_the_closed_form(layout):
    """Small integers: full FP32 on the device is exact, so the map must match to the last bit."""
    weights, image = integer_problem()
    net = importNetworkFromONNX(linear_model(weights, layout=layout))
    assert gpu_engine(net).device == "gpu" and net.engine("auto").device == "gpu"
    scoreMap = occlusionSensitivity(net, image, [1, 4], MaskSize=3, Stride=2, MaskValue=0, OutputUpsampling="none")
    expected = expected_linear_map(weights, image, np.zeros(3), clipped_ranges(10, 3, 2), clipped_ranges(14, 3, 2))
    expected = expected[..., [0, 3]]
    np.testing.assert_array_equal(scoreMap, expected.astype(np.float32))


@needs_ort_cuda
def test_ort_gpu_matches_cpu_on_efficientnet(efficientnet, coffee):
    gpu_engine(efficientnet)
    assert_gpu_matches_cpu(efficientnet, coffee, [968, 505])
    assert_gpu_matches_cpu(efficientnet, coffee, 968, MaskSize=15, Stride=4, MiniBatchSize=100)


@needs_torch_cuda
def test_torch_gpu_gives_the_closed_form_and_leaves_the_module_on_the_cpu():
    import torch

    weights, image = integer_problem()
    conv = torch.nn.Conv2d(3, 4, (10, 14), bias=False)
    conv.weight.data = torch.from_numpy(weights)
    model = torch.nn.Sequential(conv, torch.nn.Flatten())
    net = importNetworkFromPyTorch(model, InputSize=[10, 14, 3])
    assert gpu_engine(net).device == "gpu" and net.engine("auto").device == "gpu"
    scoreMap = occlusionSensitivity(net, image, [2, 3], MaskSize=4, Stride=3, MaskValue=0, OutputUpsampling="none")
    expected = expected_linear_map(weights, image, np.zeros(3), clipped_ranges(10, 4, 3), clipped_ranges(14, 4, 3))
    expected = expected[..., [1, 2]]
    np.testing.assert_array_equal(scoreMap, expected.astype(np.float32))
    assert all(parameter.device.type == "cpu" for parameter in model.parameters())
    assert torch.backends.cudnn.allow_tf32  # torch's default, given back after the map


@needs_torch_cuda
def test_torch_gpu_matches_cpu_on_efficientnet(coffee):
    pytest.importorskip("onnx2torch")
    pytest.importorskip("efficientnet_lite_pytorch", reason="needs the demo extra (see README)")
    from matlab_occsens.pretrained import EFFICIENTNET_LITE0

    net = importNetworkFromONNX(EFFICIENTNET_LITE0.onnx_path(), Backend="torch", **EFFICIENTNET_LITE0.normalization())
    gpu_engine(net)
    assert_gpu_matches_cpu(net, coffee, [968, 505])


def volume_and_signal_problems():
    """A volume (BCSSS) and a signal (BTC) with small integers: exact in full FP32 anywhere."""
    rng = np.random.default_rng(1)
    volume_weights = rng.integers(-3, 4, size=(3, 2, 6, 5, 7)).astype(np.float32)
    volume = rng.integers(0, 16, size=(6, 5, 7, 2)).astype(np.float64)
    signal_weights = rng.integers(-3, 4, size=(2, 3, 40)).astype(np.float32)
    signal = rng.integers(0, 16, size=(3, 40)).astype(np.float64)
    return [
        (volume_weights, volume, volume, "BCSSS", [3, 2, 4], [2, 2, 3]),
        (signal_weights, signal, signal.T, "BTC", [5], [3]),
    ]


@needs_ort_cuda
@pytest.mark.parametrize("case", [0, 1], ids=["volume", "signal"])
def test_ort_gpu_occludes_volumes_and_signals_on_the_device(case):
    """The occluding prefix with three axes and with one, on the device: the closed form."""
    weights, X, observation, layout, mask, stride = volume_and_signal_problems()[case]
    net = importNetworkFromONNX(linear_model_nd(weights, layout))
    assert gpu_engine(net).device == "gpu"
    scoreMap = occlusionSensitivity(net, X, [1, 2], MaskSize=mask, Stride=stride, MaskValue=0, OutputUpsampling="none")
    axes = [clipped_ranges(*axis) for axis in zip(observation.shape[:-1], mask, stride)]
    expected = expected_linear_map_nd(weights, observation, np.zeros(observation.shape[-1]), axes)[..., :2]
    np.testing.assert_array_equal(scoreMap, expected.astype(np.float32))


@needs_torch_cuda
def test_torch_gpu_occludes_a_conv3d_volume_on_the_device():
    import torch

    weights, volume, _, _, mask, stride = volume_and_signal_problems()[0]
    conv = torch.nn.Conv3d(2, 3, weights.shape[2:], bias=False)
    conv.weight.data = torch.from_numpy(weights)
    net = importNetworkFromPyTorch(torch.nn.Sequential(conv, torch.nn.Flatten()), InputSize=[6, 5, 7, 2])
    assert gpu_engine(net).device == "gpu"
    scoreMap = occlusionSensitivity(
        net, volume, [1, 3], MaskSize=mask, Stride=stride, MaskValue=0, OutputUpsampling="none"
    )
    axes = [clipped_ranges(*axis) for axis in zip(volume.shape[:-1], mask, stride)]
    expected = expected_linear_map_nd(weights, volume, np.zeros(2), axes)[..., [0, 2]]
    np.testing.assert_array_equal(scoreMap, expected.astype(np.float32))
