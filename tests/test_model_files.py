"""Model files from strangers: opening one never runs its code or reads outside its folder, and a
broken or oversized one is refused at import with the file and the problem named."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx_builders import linear_model

from matlab_occsens import importNetworkFromONNX, importNetworkFromPyTorch, occlusionSensitivity

# --- .pt2 archives that would run code -------------------------------------------------------------


class _Payload:
    """Unpickling this evaluates ``code``: what a crafted file's author would put in it."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self):
        return (eval, (self.code,))


def _torch_pickle(obj) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


@pytest.fixture()
def exported(tmp_path) -> Path:
    """An honest exported program of a convolution (3 -> 4 channels on 8×8 images), with a
    symbolic batch axis, so the program carries shape expressions."""
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten()).eval()
    path = tmp_path / "good.pt2"
    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(model, (torch.zeros(2, 3, 8, 8),), dynamic_shapes=({0: batch},))
    torch.export.save(program, str(path))
    return path


def _rewrite(source: Path, target: Path, edit) -> Path:
    """A copy of the archive ``source`` whose entries (names without the archive folder) are
    changed by ``edit``, written back under the same folder."""
    with zipfile.ZipFile(source) as archive:
        prefix = archive.namelist()[0].split("/", 1)[0] + "/"
        entries = {name[len(prefix) :]: archive.read(name) for name in archive.namelist()}
    entries = edit(entries)
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in entries.items():
            archive.writestr(prefix + name, data)
    return target


def _weights_config(entries: dict[str, bytes]) -> dict:
    return json.loads(entries["data/weights/model_weights_config.json"])


def _legacy_weights(marker: Path):
    def edit(entries):
        code = f"(open({str(marker)!r}, 'w').close(), {{}})[1]"
        entries["data/weights/model.pt"] = _torch_pickle(_Payload(code))
        return entries

    return edit


def _pickled_weight(marker: Path):
    """The variant torch.export.load accepts silently: a bias marked use_pickle whose pickle makes
    the marker, then returns the right tensor, so the import succeeds with no sign."""

    def edit(entries):
        config = _weights_config(entries)
        entry = config["config"]["0.bias"]
        entry["use_pickle"] = True
        entries["data/weights/model_weights_config.json"] = json.dumps(config).encode()
        bias = "__import__('torch').nn.Parameter(__import__('torch').zeros(4))"
        code = f"(open({str(marker)!r}, 'w').close(), {bias})[1]"
        entries["data/weights/" + entry["path_name"]] = _torch_pickle(_Payload(code))
        return entries

    return edit


def _sample_inputs(marker: Path):
    def edit(entries):
        code = f"(open({str(marker)!r}, 'w').close(), ((), {{}}))[1]"
        entries["data/sample_inputs/model.pt"] = _torch_pickle(_Payload(code))
        return entries

    return edit


def _shape_expression(marker: Path):
    """torch.export.load hands each shape expression to sympy.sympify, which evaluates Python: one
    that makes the marker, then gives the symbol it replaced, loads with no sign."""

    def edit(entries):
        text = entries["models/model.json"].decode()
        found = re.search(r'"expr_str": "([^"]*)"', text)
        assert found is not None, "the honest program has a shape expression to replace"
        payload = f"__import__('pathlib').Path({str(marker)!r}).touch() or {found.group(1)}"
        entries["models/model.json"] = (text[: found.start(1)] + payload + text[found.end(1) :]).encode()
        return entries

    return edit


@pytest.mark.parametrize(
    "craft, refused",
    [
        (_legacy_weights, "'data/weights/model.pt'"),
        (_pickled_weight, "weights entry '0.bias' is pickled"),
        (_sample_inputs, "does not load as tensors only"),
        (_shape_expression, "shape expression"),
    ],
)
def test_a_crafted_pt2_file_is_refused_without_running_its_code(exported, tmp_path, craft, refused):
    marker = tmp_path / "ran"
    crafted = _rewrite(exported, tmp_path / "crafted.pt2", craft(marker))
    with pytest.raises(ValueError, match=f"importNetworkFromPyTorch: .*crafted.pt2.* is refused: .*{refused}"):
        importNetworkFromPyTorch(crafted, InputSize=[8, 8, 3])
    assert not marker.exists()


@pytest.mark.parametrize("craft", [_pickled_weight, _shape_expression])
def test_the_silent_variants_really_run_code_in_torch(exported, tmp_path, craft):
    """The threat is real: torch itself runs the payload and loads the program without a sign."""
    import torch

    marker = tmp_path / "ran"
    crafted = _rewrite(exported, tmp_path / "crafted.pt2", craft(marker))
    torch.export.load(str(crafted))
    assert marker.exists()


def test_an_honest_pt2_file_still_imports(exported, tmp_path):
    torch = pytest.importorskip("torch")
    dims = torch.export.Dim("batch", min=1), torch.export.Dim("height", min=4, max=64)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()).eval()
    dynamic = tmp_path / "dynamic.pt2"  # symbolic shapes: the program carries shape expressions
    program = torch.export.export(model, (torch.zeros(2, 3, 8, 8),), dynamic_shapes=({0: dims[0], 2: dims[1]},))
    torch.export.save(program, str(dynamic))
    for path in (exported, dynamic):
        net = importNetworkFromPyTorch(path, InputSize=[8, 8, 3])
        scoreMap = occlusionSensitivity(net, np.ones((8, 8, 3), np.float32), 1, MaskSize=4, ExecutionEnvironment="cpu")
        assert scoreMap.shape == (8, 8)


def test_a_pt2_that_is_not_an_archive_is_named(tmp_path):
    pytest.importorskip("torch")
    junk = tmp_path / "junk.pt2"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="junk.pt2.* is not an exported program"):
        importNetworkFromPyTorch(junk, InputSize=[8, 8, 3])


# --- ONNX external data --------------------------------------------------------------------------


def _external_model(location: str) -> onnx.ModelProto:
    """The linear model whose weights tensor says its data lives at ``location``."""
    model = linear_model(np.ones((2, 3, 4, 4), np.float32))
    weights = next(init for init in model.graph.initializer if init.name == "W")
    weights.data_location = TensorProto.EXTERNAL
    weights.ClearField("raw_data")
    weights.ClearField("float_data")
    entry = weights.external_data.add()
    entry.key, entry.value = "location", location
    return model


def _small_map(net, channel: int) -> np.ndarray:
    image = np.arange(48, dtype=np.float32).reshape(4, 4, 3)
    return occlusionSensitivity(net, image, channel, MaskSize=2, MaskValue=0, OutputUpsampling="none")


def test_external_data_through_a_symlink_out_of_the_folder_is_refused(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "hostname").write_bytes(np.arange(96, dtype=np.float32).tobytes())
    (folder / "link").symlink_to(secret)
    onnx.save(_external_model("link/hostname"), folder / "model.onnx")
    with pytest.raises(ValueError, match="tensor 'W' keeps its data at 'link/hostname'.*outside the model's folder"):
        importNetworkFromONNX(folder / "model.onnx")
    onnx.save(_external_model("../secret/hostname"), folder / "up.onnx")
    with pytest.raises(ValueError, match="outside the model's folder"):
        importNetworkFromONNX(folder / "up.onnx")


def test_external_data_inside_the_folder_still_loads(tmp_path):
    weights = np.arange(96, dtype=np.float32).reshape(2, 3, 4, 4)
    model = linear_model(weights)
    onnx.save(model, tmp_path / "model.onnx", save_as_external_data=True, location="weights.bin", size_threshold=0)
    net = importNetworkFromONNX(tmp_path / "model.onnx")
    np.testing.assert_array_equal(_small_map(net, 2), _small_map(importNetworkFromONNX(linear_model(weights)), 2))


def test_a_model_in_memory_with_external_data_needs_a_folder(tmp_path, monkeypatch):
    weights = np.arange(96, dtype=np.float32).reshape(2, 3, 4, 4)
    (tmp_path / "weights.bin").write_bytes(weights.tobytes())
    model = _external_model("weights.bin")
    monkeypatch.chdir(tmp_path)  # today's behaviour would find the data in the current folder
    for given in (model, model.SerializeToString()):
        with pytest.raises(ValueError, match="has no folder to find them in; pass ExternalDataFolder="):
            importNetworkFromONNX(given)
    net = importNetworkFromONNX(model.SerializeToString(), ExternalDataFolder=tmp_path)
    np.testing.assert_array_equal(_small_map(net, 1), _small_map(importNetworkFromONNX(linear_model(weights)), 1))
    assert model.graph.initializer[0].data_location == TensorProto.EXTERNAL  # the caller's model is untouched


# --- broken ONNX files, refused at import ----------------------------------------------------------


def _broken(kind: str) -> onnx.ModelProto:
    """The linear model broken one way, each as a careless exporter or an attacker would."""
    model = linear_model(np.ones((2, 3, 4, 4), np.float32))
    conv, flatten = model.graph.node
    if kind == "domain":
        conv.domain = "com.nowhere"
        model.opset_import.append(helper.make_opsetid("com.nowhere", 1))
    elif kind == "opset":
        model.opset_import[0].version = 99
    elif kind == "ir":
        model.ir_version = 99
    elif kind == "cycle":
        conv.input[0] = "scores"
    elif kind == "dangling":
        flatten.input[0] = "nothing"
    return model


@pytest.mark.parametrize(
    "kind, problem",
    [
        ("domain", "com.nowhere:Conv.* is not a registered function/op"),
        ("opset", "Opset 99 is under development"),
        ("ir", "IR version: 99"),
        ("cycle", "not acyclic"),
        ("dangling", "'nothing' is not a graph input"),
    ],
)
def test_a_model_onnx_runtime_cannot_run_is_refused_at_import(tmp_path, kind, problem):
    path = tmp_path / f"{kind}.onnx"
    onnx.save(_broken(kind), path)
    refused = f"importNetworkFromONNX: '.*{kind}.onnx' cannot be run by ONNX Runtime: .*{problem}"
    with pytest.raises(ValueError, match=refused):
        importNetworkFromONNX(path, InputDataFormats="BCSS")
    with pytest.raises(ValueError, match=f"the model cannot be run by ONNX Runtime: .*{problem}"):
        importNetworkFromONNX(_broken(kind), InputDataFormats="BCSS")


def test_an_empty_file_is_said_to_be_empty(tmp_path):
    empty = tmp_path / "empty.onnx"
    empty.touch()
    with pytest.raises(ValueError, match="'.*empty.onnx' is empty \\(0 bytes\\)"):
        importNetworkFromONNX(empty)
    with pytest.raises(ValueError, match="the model's bytes is empty"):
        importNetworkFromONNX(b"")


@pytest.mark.parametrize("suffix", [".pt", ".pt2", ".pth"])
def test_a_pytorch_file_points_to_the_pytorch_importer(tmp_path, suffix):
    path = tmp_path / f"model{suffix}"
    path.write_bytes(b"PK\x03\x04 whatever torch wrote")
    with pytest.raises(ValueError, match=f"is a PyTorch file \\({suffix}\\); import it with importNetworkFromPyTorch"):
        importNetworkFromONNX(path)


def test_an_input_no_map_can_hold_is_refused_at_import_with_its_size():
    model = linear_model(np.ones((2, 3, 4, 4), np.float32))
    model.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "H"
    model.graph.input[0].type.tensor_type.shape.dim[3].dim_param = "W"
    too_big = "input 200000×200000×3 needs 447.0 GiB per float32 image, more than the 2 GiB"
    with pytest.raises(ValueError, match=too_big):
        importNetworkFromONNX(model, InputSize=[200000, 200000, 3])
    importNetworkFromONNX(model, InputSize=[4, 4, 3])  # the same model at a size a map can hold
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="importNetworkFromPyTorch: the network's input 30000×30000×3 needs 10.1 GiB"):
        importNetworkFromPyTorch(torch.nn.Conv2d(3, 1, 1), InputSize=[30000, 30000, 3])


_OUT_OF_MEMORY = """
import resource, sys
import numpy as np
from onnx import TensorProto, helper, numpy_helper
from matlab_occsens import importNetworkFromONNX, occlusionSensitivity

weights = numpy_helper.from_array(np.ones((4096, 3, 1, 1), np.float32), "W")  # 256 MiB per 128x128 image
nodes = [
    helper.make_node("Conv", ["x", "W"], ["y"]),
    helper.make_node("ReduceSum", ["y"], ["z"], axes=[2, 3], keepdims=0),
]
graph = helper.make_graph(nodes, "wide", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 128, 128])],
                          [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 4096])], [weights])
net = importNetworkFromONNX(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)], ir_version=8))
image = np.ones((128, 128, 3), np.float32)
# One image per call: the engine is built and its memory arena holds one image's activations.
occlusionSensitivity(net, image, 1, MaskSize=64, MiniBatchSize=1, ExecutionEnvironment="cpu")
size = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (size + 64 * 2**20, resource.RLIM_INFINITY))
try:  # the batch-size search now tries two images per call, which needs 256 MiB more
    occlusionSensitivity(net, image, 1, MaskSize=32, Stride=32, MiniBatchSize=2, ExecutionEnvironment="cpu")
except MemoryError as error:
    print(error)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc are Linux's")
def test_onnx_runtime_running_out_of_memory_says_to_lower_minibatchsize():
    result = subprocess.run([sys.executable, "-c", _OUT_OF_MEMORY], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ONNX Runtime ran out of memory computing a batch of 2 images" in result.stdout, result.stdout
    assert "lower MiniBatchSize" in result.stdout


@pytest.mark.parametrize("architecture", ["mobilenet_v3_small", "vit"])
def test_real_architectures_exported_honestly_are_accepted(tmp_path, architecture):
    """The check refuses what would run code, not what torch.export.save writes for real models
    (buffers, lifted constants, symbolic shapes)."""
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    if architecture == "vit":
        model = torchvision.models.VisionTransformer(
            image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64
        )
    else:
        model = torchvision.models.mobilenet_v3_small()
    path = tmp_path / f"{architecture}.pt2"
    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(model.eval(), (torch.zeros(2, 3, 32, 32),), dynamic_shapes=({0: batch},))
    torch.export.save(program, str(path))
    net = importNetworkFromPyTorch(path, InputSize=[32, 32, 3])
    image = np.random.default_rng(0).uniform(0, 1, (32, 32, 3)).astype(np.float32)
    scoreMap = occlusionSensitivity(net, image, 1, MaskSize=16, Stride=16, OutputUpsampling="none")
    assert scoreMap.shape == (2, 2) and np.isfinite(scoreMap).all()
