"""Layouts are derived, never guessed: each measured tensor's channel axis is the one the graph
says it is, and where the graph cannot tell, the user is asked for OutputDataFormats."""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from matlab_occsens import importNetworkFromONNX, occlusionSensitivity

RNG = np.random.default_rng(12)
HEIGHT, WIDTH = 8, 12
#: Small integers: every sum is exact in float32, so two graphs computing the same values agree bit for bit.
CONV1 = RNG.integers(-2, 3, size=(4, 3, 3, 3)).astype(np.float32)
CONV2 = RNG.integers(-2, 3, size=(5, 4, 3, 3)).astype(np.float32)
IMAGE = RNG.integers(0, 4, size=(HEIGHT, WIDTH, 3)).astype(np.float32)


def _model(nodes, input_shape, initializers, output, opset=17) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "layouts",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, input_shape)],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, ["N", "?"])],
        initializer=[numpy_helper.from_array(value, name) for name, value in initializers.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)
    onnx.checker.check_model(model)
    return model


def _convs(source: str) -> list[onnx.NodeProto]:
    return [
        helper.make_node("Conv", [source, "W1"], ["conv1"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("Relu", ["conv1"], ["relu1"], name="relu1"),
        helper.make_node("Conv", ["relu1", "W2"], ["conv2"], pads=[1, 1, 1, 1], name="conv2"),
        helper.make_node("GlobalAveragePool", ["conv2"], ["pooled"], name="pool"),
        helper.make_node("Flatten", ["pooled"], ["scores"], name="flatten"),
    ]


def nchw_model() -> onnx.ModelProto:
    return _model(_convs("image"), ["N", 3, HEIGHT, WIDTH], {"W1": CONV1, "W2": CONV2}, "scores")


def tf_export_model(back_to_nhwc: bool = False) -> onnx.ModelProto:
    """What tf2onnx writes for a Keras CNN: NHWC input, a Transpose to NCHW first, then the convs
    (and, with ``back_to_nhwc``, a Transpose back after the first block, as around Keras layers)."""
    nodes = [helper.make_node("Transpose", ["image"], ["nchw"], perm=[0, 3, 1, 2], name="to_nchw"), *_convs("nchw")]
    if back_to_nhwc:
        nodes.append(helper.make_node("Transpose", ["relu1"], ["relu1_nhwc"], perm=[0, 2, 3, 1], name="to_nhwc"))
    return _model(nodes, ["N", HEIGHT, WIDTH, 3], {"W1": CONV1, "W2": CONV2}, "scores")


def _map(net, channel: int) -> np.ndarray:
    return occlusionSensitivity(net, IMAGE, channel, MaskSize=3, Stride=2, MaskValue=0, OutputUpsampling="none")


@pytest.mark.parametrize("layer", ["conv1", "relu1", "conv2"])
def test_an_nhwc_export_measured_inside_gives_the_nchw_twins_map(layer):
    twin = importNetworkFromONNX(nchw_model(), OutputNames=layer)
    tf = importNetworkFromONNX(tf_export_model(), OutputNames=layer)
    assert tf.InputDataFormats == "BSSC" and twin.InputDataFormats == "BCSS"
    assert tf.OutputDataFormats == twin.OutputDataFormats == ["BCSS"]
    for channel in (1, 3, 4):
        np.testing.assert_array_equal(_map(tf, channel), _map(twin, channel))


def test_a_transpose_back_to_nhwc_is_followed():
    tf = importNetworkFromONNX(tf_export_model(back_to_nhwc=True), OutputNames="to_nhwc")
    assert tf.OutputDataFormats == ["BSSC"]
    twin = importNetworkFromONNX(nchw_model(), OutputNames="relu1")
    np.testing.assert_array_equal(_map(tf, 3), _map(twin, 3))


def test_an_explicit_output_data_formats_wins():
    net = importNetworkFromONNX(tf_export_model(back_to_nhwc=True), OutputNames="to_nhwc", OutputDataFormats="BCSS")
    assert net.OutputDataFormats == ["BCSS"]  # wrong for this tensor, but the user said so
    assert net.output_channels("to_nhwc") == HEIGHT


# --- token tensors ------------------------------------------------------------------------------

PATCH = 4
TOKENS = (HEIGHT // PATCH) * (WIDTH // PATCH)
EMBED = RNG.integers(-2, 3, size=(6, 3, PATCH, PATCH)).astype(np.float32)
PROJECT = RNG.integers(-2, 3, size=(6, 7)).astype(np.float32)


def vit_model() -> onnx.ModelProto:
    """A ViT's first steps: patch embedding, tokens N×T×C, a per-token linear layer."""
    nodes = [
        helper.make_node("Conv", ["image", "E"], ["patches"], strides=[PATCH, PATCH], name="patch_embed"),
        helper.make_node("Reshape", ["patches", "to_tokens"], ["flat"], name="flatten_patches"),
        helper.make_node("Transpose", ["flat"], ["tokens"], perm=[0, 2, 1], name="tokens"),
        helper.make_node("MatMul", ["tokens", "P"], ["projected"], name="project"),
        helper.make_node("ReduceMean", ["projected", "token_axis"], ["pooled"], keepdims=0, name="pool"),
    ]
    initializers = {"E": EMBED, "P": PROJECT, "to_tokens": np.array([0, 6, -1]), "token_axis": np.array([1])}
    return _model(nodes, ["N", 3, HEIGHT, WIDTH], initializers, "pooled", opset=18)


@pytest.mark.parametrize("layer", ["tokens", "project"])
def test_a_token_layer_without_formats_is_refused_before_any_inference(layer):
    net = importNetworkFromONNX(vit_model(), OutputNames=layer)
    assert net.OutputDataFormats == [None]
    message = (
        f"OutputDataFormats: the layout of output '{layer}' \\(3 axes\\) cannot be derived from the input's "
        "\\(it is lost at the Reshape node 'flatten_patches'\\).*likely 'BTC'"
    )
    with pytest.raises(ValueError, match=message):
        _map(net, 1)
    assert not net._engines  # refused before an engine was even built


def test_a_token_layer_with_its_format_measures_the_features():
    """Summing feature c over the tokens is summing channel c of the patch embedding over space."""
    tokens = importNetworkFromONNX(vit_model(), OutputNames="tokens", OutputDataFormats="BTC")
    patches = importNetworkFromONNX(vit_model(), OutputNames="patch_embed")
    assert patches.OutputDataFormats == ["BCSS"]
    for channel in (1, 6):
        np.testing.assert_array_equal(_map(tokens, channel), _map(patches, channel))
    as_channels = importNetworkFromONNX(vit_model(), OutputNames="tokens", OutputDataFormats="BCT")
    assert not np.array_equal(_map(as_channels, 1), _map(tokens, 1))  # token 1 is not feature 1


def test_layers_after_a_reduction_to_features_are_derived_again():
    net = importNetworkFromONNX(vit_model())  # the pooled N×7 output: two axes are always BC
    assert net.OutputDataFormats == ["BC"]
    assert net.output_channels("pooled") == 7


# --- torch modules (no graph: convolution-like modules are channels-first, 4-D outputs take
# the input's layout, anything else needs OutputDataFormats) ----------------------------------


def _torch_vit():
    torch = pytest.importorskip("torch")

    class Tokens(torch.nn.Module):
        def forward(self, patches):
            return patches.flatten(2).transpose(1, 2)

    class Vit(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.patch_embed = torch.nn.Conv2d(3, 6, PATCH, stride=PATCH, bias=False)
            self.patch_embed.weight.data = torch.from_numpy(EMBED)
            self.tokens = Tokens()
            self.head = torch.nn.Linear(6, 7)

        def forward(self, image):
            return self.head(self.tokens(self.patch_embed(image)).mean(1))

    return Vit().eval()


def test_a_torch_token_module_needs_its_format():
    from matlab_occsens import importNetworkFromPyTorch

    model = _torch_vit()
    tokens = importNetworkFromPyTorch(model, InputSize=[HEIGHT, WIDTH, 3], OutputNames="tokens")
    with pytest.raises(ValueError, match="output 'tokens' \\(3 axes\\) cannot be derived.*likely 'BTC'"):
        _map(tokens, 1)
    tokens.OutputDataFormats = "BTC"
    patches = importNetworkFromPyTorch(model, InputSize=[HEIGHT, WIDTH, 3], OutputNames="patch_embed")
    onnx_patches = importNetworkFromONNX(vit_model(), OutputNames="patch_embed")
    for channel in (1, 6):
        np.testing.assert_array_equal(_map(tokens, channel), _map(patches, channel))
        np.testing.assert_array_equal(_map(patches, channel), _map(onnx_patches, channel))


def test_a_torch_conv_inside_an_nhwc_model_is_channels_first():
    torch = pytest.importorskip("torch")
    from matlab_occsens import importNetworkFromPyTorch

    class Nhwc(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3, padding=1, bias=False)
            self.conv.weight.data = torch.from_numpy(CONV1)

        def forward(self, image):
            return self.conv(image.permute(0, 3, 1, 2))

    size = [HEIGHT, WIDTH, 3]
    net = importNetworkFromPyTorch(Nhwc().eval(), InputSize=size, InputDataFormats="BSSC", OutputNames="conv")
    twin = importNetworkFromONNX(nchw_model(), OutputNames="conv1")
    for channel in (1, 4):
        np.testing.assert_array_equal(_map(net, channel), _map(twin, channel))


# --- property: a transpose never changes what a channel's total is --------------------------------


@settings(max_examples=12, deadline=None)
@given(perm=st.permutations([1, 2, 3]), channel=st.integers(1, 4))
def test_a_transposed_tensor_measures_as_the_tensor_itself(perm, channel):
    """Whatever axes a Transpose moves, the derived format follows the channel axis, so the
    channel's total (and the map) is exactly the untransposed tensor's."""
    full = [0, *perm]
    nodes = [*_convs("image"), helper.make_node("Transpose", ["relu1"], ["moved"], perm=full, name="moved")]
    model = _model(nodes, ["N", 3, HEIGHT, WIDTH], {"W1": CONV1, "W2": CONV2}, "scores")
    moved = importNetworkFromONNX(model, OutputNames="moved")
    assert moved.OutputDataFormats == ["".join("BCSS"[axis] for axis in full)]
    twin = importNetworkFromONNX(nchw_model(), OutputNames="relu1")
    np.testing.assert_array_equal(_map(moved, channel), _map(twin, channel))


def test_a_real_vision_transformer_block_is_measured_by_its_features():
    """torchvision's ViT (random weights, 2 blocks): a block's output is N×17×32 (class token and
    16 patches, 32 features). Without a format it is refused; with "BTC" the channels are the 32
    features (channel 33 does not exist, though token 17 would)."""
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    from matlab_occsens import importNetworkFromPyTorch

    torch.manual_seed(0)
    model = torchvision.models.VisionTransformer(
        image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64
    )
    block = "encoder.layers.encoder_layer_1"
    net = importNetworkFromPyTorch(model, InputSize=[32, 32, 3], OutputNames=block)
    image = np.random.default_rng(1).uniform(0, 255, (32, 32, 3))
    options = dict(MaskSize=16, Stride=16, OutputUpsampling="none")
    with pytest.raises(ValueError, match=f"output '{block}' \\(3 axes\\) cannot be derived.*likely 'BTC'"):
        occlusionSensitivity(net, image, 1, **options)
    net.OutputDataFormats = "BTC"
    scoreMap = occlusionSensitivity(net, image, [1, 32], **options)
    assert scoreMap.shape == (2, 2, 2) and np.isfinite(scoreMap).all() and np.abs(scoreMap).max() > 0
    with pytest.raises(ValueError, match="channelIdx"):
        occlusionSensitivity(net, image, 33, **options)
    patches = importNetworkFromPyTorch(model, InputSize=[32, 32, 3], OutputNames="conv_proj")
    assert occlusionSensitivity(patches, image, 32, **options).shape == (2, 2)  # Conv2d: channels-first


# ------------------------------------------------------------------ real architectures (timm)


@pytest.fixture(scope="module")
def timm_files(tmp_path_factory):
    """A Swin and a ConvNeXt from timm with random weights, small, exported to ONNX here."""
    torch = pytest.importorskip("torch")
    timm = pytest.importorskip("timm")
    folder = tmp_path_factory.mktemp("timm")
    torch.manual_seed(0)
    models = {
        "swin": timm.create_model(
            "swin_tiny_patch4_window7_224", pretrained=False, img_size=56, embed_dim=24, depths=(1, 1),
            num_heads=(1, 2), num_classes=10,
        ),
        "convnext": timm.create_model("convnext_atto", pretrained=False, num_classes=10),
    }  # fmt: skip
    sizes = {"swin": 56, "convnext": 64}
    for name, model in models.items():
        model.eval()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy exporter's notices
            torch.onnx.export(
                model, (torch.zeros(1, 3, sizes[name], sizes[name]),), str(folder / f"{name}.onnx"), dynamo=False,
                input_names=["image"], output_names=["scores"], dynamic_axes={"image": {0: "N"}}, opset_version=17,
            )  # fmt: skip
    return {name: (folder / f"{name}.onnx", models[name], sizes[name]) for name in models}


def _last_output(path, prefix: str) -> str:
    """The output of the last node of a block, as the exporter names them."""
    return [node.output[0] for node in onnx.load(str(path)).graph.node if node.name.startswith(prefix)][-1]


def _torch_map(module, size: int, layer: str, fmt: str, channels) -> np.ndarray:
    from matlab_occsens import importNetworkFromPyTorch

    net = importNetworkFromPyTorch(module, InputSize=[size, size, 3], OutputNames=layer, OutputDataFormats=fmt)
    return occlusionSensitivity(net, _timm_image(size), channels, MaskSize=16, Stride=16, OutputUpsampling="none")


def _timm_image(size: int) -> np.ndarray:
    return np.random.default_rng(3).uniform(0, 1, (size, size, 3)).astype(np.float32)


def test_a_swin_stage_output_is_asked_for_without_a_wrong_guess_and_measures_with_its_format(timm_files):
    """A Swin stage outputs N×H×W×C (timm's layout): the refusal names the tensor's shape and both
    layouts, and suggests none (it once said "likely BCSS", and following that gave a wrong map)."""
    path, module, size = timm_files["swin"]
    stage = _last_output(path, "/layers/layers.0/")
    net = importNetworkFromONNX(path, OutputNames=stage)
    with pytest.raises(ValueError) as refused:
        occlusionSensitivity(net, _timm_image(size), 1)
    message = str(refused.value)
    assert "likely" not in message and "1×14×14×24" in message, message
    assert '"BSSC" if its channels are on its last axis' in message and '"BCSS" if they are on axis 2' in message
    net.OutputDataFormats = "BSSC"
    assert net.output_channels(stage) == 24
    onnx_map = occlusionSensitivity(net, _timm_image(size), [1, 24], MaskSize=16, Stride=16, OutputUpsampling="none")
    torch_map = _torch_map(module, size, "layers.0", "BSSC", [1, 24])
    np.testing.assert_allclose(onnx_map, torch_map, rtol=1e-3, atol=1e-3 * np.abs(torch_map).max())


def test_a_convnext_block_keeps_its_layout_through_identity_nodes_that_forward_constants(timm_files):
    """timm's ConvNeXt scales each block by a constant that the exporter forwards through an
    Identity node; the block's output is channels-first like its input."""
    path, module, size = timm_files["convnext"]
    block = _last_output(path, "/stages/stages.0/blocks/blocks.1/")
    net = importNetworkFromONNX(path, OutputNames=block)
    assert net.OutputDataFormats == ["BCSS"] and net.output_channels(block) == 40
    onnx_map = occlusionSensitivity(net, _timm_image(size), [1, 40], MaskSize=16, Stride=16, OutputUpsampling="none")
    torch_map = _torch_map(module, size, "stages.0.blocks.1", "BCSS", [1, 40])
    np.testing.assert_allclose(onnx_map, torch_map, rtol=1e-3, atol=1e-3 * np.abs(torch_map).max())


# --- volumes and signals (docs/specification.md §9.2) ----------------------------------------------

VOLUME_CONV = RNG.integers(-2, 3, size=(4, 2, 3, 3, 3)).astype(np.float32)
SIGNAL_DENSE = RNG.integers(-2, 3, size=(3, 5)).astype(np.float32)  # features 3 -> 5, applied per time step
SIGNAL_CONV = RNG.integers(-2, 3, size=(6, 5, 3)).astype(np.float32)


def _graph(nodes, input_shape, initializers, outputs) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "layouts_nd",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, input_shape)],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in outputs],
        initializer=[numpy_helper.from_array(value, name) for name, value in initializers.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def volume_model() -> onnx.ModelProto:
    """NDHWC in, a Transpose to NCDHW, a padded Conv3d, a Transpose back, a mean over depth."""
    nodes = [
        helper.make_node("Transpose", ["image"], ["ncdhw"], perm=[0, 4, 1, 2, 3], name="to_ncdhw"),
        helper.make_node("Conv", ["ncdhw", "W"], ["conv"], pads=[1] * 6, name="conv3d"),
        helper.make_node("Transpose", ["conv"], ["ndhwc"], perm=[0, 2, 3, 4, 1], name="to_ndhwc"),
        helper.make_node("ReduceMean", ["ndhwc"], ["depth_mean"], axes=[1], keepdims=0, name="mean_depth"),
        helper.make_node("Reshape", ["conv", "flat_shape"], ["flat"], name="reshape"),
    ]
    shape = np.array([0, 4, -1, 6], np.int64)
    return _graph(nodes, ["N", 5, 6, 7, 2], {"W": VOLUME_CONV, "flat_shape": shape}, ["flat"])


def signal_model() -> onnx.ModelProto:
    """N×T×C in, a dense layer on the features (MatMul, features last), a Transpose to N×C×T, a Conv1d."""
    nodes = [
        helper.make_node("MatMul", ["image", "D"], ["dense"], name="dense"),
        helper.make_node("Transpose", ["dense"], ["nct"], perm=[0, 2, 1], name="to_nct"),
        helper.make_node("Conv", ["nct", "K"], ["conv"], pads=[1, 1], name="conv1d"),
        helper.make_node("Reshape", ["conv", "shape"], ["tokens"], name="reshape"),
    ]
    shape = np.array([0, -1, 6], np.int64)
    return _graph(nodes, ["N", 40, 3], {"D": SIGNAL_DENSE, "K": SIGNAL_CONV, "shape": shape}, ["tokens"])


@pytest.mark.parametrize(
    ("layer", "fmt"),
    [("to_ncdhw", "BCSSS"), ("conv3d", "BCSSS"), ("to_ndhwc", "BSSSC"), ("mean_depth", "BSSC")],
)
def test_inner_layouts_of_a_volume_network_are_derived(layer, fmt):
    net = importNetworkFromONNX(volume_model())
    assert net.InputDataFormats == "BSSSC" and net.InputSize == (5, 6, 7, 2)
    net.OutputNames = [layer]
    assert net.OutputDataFormats == [fmt]


@pytest.mark.parametrize(("layer", "fmt"), [("dense", "BTC"), ("to_nct", "BCT"), ("conv1d", "BCT")])
def test_inner_layouts_of_a_signal_network_are_derived(layer, fmt):
    net = importNetworkFromONNX(signal_model())
    assert net.InputDataFormats == "BTC" and net.InputSize == (3, 40)
    net.OutputNames = [layer]
    assert net.OutputDataFormats == [fmt]


def test_a_derived_volume_layout_measures_the_same_channels_in_either_order():
    """The channels-first and the channels-last copy of one activation give the same map."""
    volume = RNG.integers(0, 4, size=(5, 6, 7, 2)).astype(np.float64)
    first, last = importNetworkFromONNX(volume_model()), importNetworkFromONNX(volume_model())
    first.OutputNames, last.OutputNames = ["conv3d"], ["to_ndhwc"]
    options = dict(MaskSize=2, Stride=3, MaskValue=0, OutputUpsampling="none")
    np.testing.assert_array_equal(
        occlusionSensitivity(first, volume, [1, 4], **options), occlusionSensitivity(last, volume, [1, 4], **options)
    )


@pytest.mark.parametrize(
    ("model", "layer", "message"),
    [
        (
            volume_model,
            "reshape",
            'lost at the Reshape node .reshape.*"BSSC" if its channels are on its last axis, "BCSS" if',
        ),
        (
            signal_model,
            "reshape",
            'lost at the Reshape node .reshape.*"BTC" if its channels are on its last axis, "BCT" if',
        ),
    ],
)
def test_a_lost_layout_of_a_volume_or_signal_is_asked_for_without_a_guess(model, layer, message):
    net = importNetworkFromONNX(model())
    net.OutputNames = [layer]
    assert net.OutputDataFormats == [None]
    with pytest.raises(ValueError, match=message) as raised:
        occlusionSensitivity(net, np.zeros(net.InputSize), 1)
    assert "likely" not in str(raised.value)
