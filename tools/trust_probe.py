"""Probe the public functions with careless and hostile arguments, and count what goes wrong.

A bounded, reproducible probe (seeded: case ``i`` of seed ``s`` is always the same call) over
every option and X of ``occlusionSensitivity`` and the arguments of ``predict``, ``classify``,
``importNetworkFromONNX``, ``imresize``, ``rescale``, ``scores2label``, ``overlayScoreMap`` and
``jet``, on a small linear ONNX network. Each case takes valid values for most arguments and a
wild value (an object array, a ragged list, text mixed with bytes, 2**63, 1e300, a file name as
X, a channels-first image, ...) for one or two. A case is *not right* when

- it raises anything but a one-line ValueError or TypeError that names, as a whole word, one of
  the arguments it gave (the MATLAB name: ``MaskSize``, ``X``, ``channelIdx``, ...);
- such an error comes only after inference started (the network's engine was built);
- it returns a map or array with NaN or Inf although every input was finite;
- it changes an array the caller passed in.

A fixed list of bad model files (zero bytes, opset 99, IR version 99, a cycle, a dangling input,
an unknown operator domain, a PyTorch file) must each be refused by ``importNetworkFromONNX``
with a one-line ValueError that names the file (and says "empty" for the empty one, points to
``importNetworkFromPyTorch`` for the PyTorch one); they are counted separately.

    python -m tools.trust_probe --cases 12000     # the full probe (under a minute)
    python -m tools.trust_probe --smoke           # 300 cases, seconds
    python -m tools.trust_probe --show 1234       # print case 1234's call and its outcome

The exit status is 1 when an argument case is not right (model files are reported, not judged).
"""

from __future__ import annotations

import argparse
import copy
import random
import re
import sys
import tempfile
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import matlab_occsens
from matlab_occsens import (
    importNetworkFromONNX,
    imresize,
    jet,
    occlusionSensitivity,
    overlayScoreMap,
    predict,
    scores2label,
)


def _missing(name: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"matlab_occsens.{name} does not exist in this version")

    return call


# Looked up, not imported, so that the probe also measures versions without them.
classify = getattr(matlab_occsens, "classify", None) or _missing("classify")
rescale = getattr(matlab_occsens, "rescale", None) or _missing("rescale")

HEIGHT, WIDTH, CHANNELS, CLASSES = 12, 16, 3, 4
CLASS_NAMES = ["cat", "dog", "owl", "eel"]
_SINGLE_MAX = float(np.finfo(np.float32).max)


# --- the network ---------------------------------------------------------------------------------


def linear_model(opset: int = 17, ir_version: int = 8) -> onnx.ModelProto:
    """A whole-image convolution, image [N, 3, 12, 16] -> scores [N, 4]: a linear map."""
    weights = np.random.default_rng(0).standard_normal((CLASSES, CHANNELS, HEIGHT, WIDTH)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["image", "W"], ["conv"], name="whole_image_conv"),
        helper.make_node("Flatten", ["conv"], ["scores"], axis=1, name="flatten"),
    ]
    graph = helper.make_graph(
        nodes,
        "linear",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", CHANNELS, HEIGHT, WIDTH])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", CLASSES])],
        initializer=[numpy_helper.from_array(weights, "W")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=ir_version)


# --- values --------------------------------------------------------------------------------------


def wild_values() -> list[Any]:
    """Values that are wrong (or at the edge) for nearly any argument; built fresh for each case."""
    return [
        0,
        -1,
        -0.5,
        0.5,
        1.5,
        2**31,
        2**63,
        2**64,
        -(2**63) - 1,
        10**30,
        10**400,
        1e20,
        1e300,
        -1e300,
        1e39,
        float("nan"),
        float("inf"),
        -float("inf"),
        True,
        False,
        np.bool_(True),
        None,
        "",
        "a",
        "on",
        "auto",
        "\xff",
        b"auto",
        b"\xff",
        [b"\xff", "a"],
        ["a", b"b"],
        [],
        [1, 2],
        [1, 2, 3],
        [[1, 2], [3]],
        [[1, 2], [3, 4]],
        [1, "a"],
        [1, None],
        [np.arange(2), np.arange(3)],
        np.array([5], dtype=object),
        np.array([5, "a"], dtype=object),
        np.array([None], dtype=object),
        np.array([10**30], dtype=object),
        np.array([[5]]),
        np.array([]),
        np.array(5),
        np.float16(3),
        np.uint8(3),
        np.int8(-3),
        np.uint64(2**64 - 1),
        1j,
        np.array([1 + 2j]),
        {},
        {"a": 1},
        set(),
        np.datetime64("2020-01-01"),
        np.array(["a", "b"]),
        Path("x.png"),
        (3,),
        (3, 4),
        np.ma.masked_array([1.0, 2.0], mask=[False, True]),
        range(3),
        np.array([np.nan, 1.0]),
    ]


def good_image(rng: random.Random, shape: tuple[int, ...] = (HEIGHT, WIDTH, CHANNELS)) -> np.ndarray:
    generator = np.random.default_rng(rng.randrange(2**32))
    kind = rng.choice(["uint8", "float64", "float32", "int16", "bool", "uint16"])
    if kind == "bool":
        return generator.random(shape) > 0.5
    if kind == "uint16":
        return generator.integers(0, 65536, shape).astype(np.uint16)
    return (generator.uniform(0, 255, shape) if kind.startswith("float") else generator.integers(0, 255, shape)).astype(
        kind
    )


def wild_image(rng: random.Random) -> Any:
    """An X that is wrong: another layout, another size, a file name, bad numbers, not an array."""
    h, w, c = HEIGHT, WIDTH, CHANNELS
    shapes = [
        (c, h, w),
        (w, h, c),
        (h, w),
        (h, w, 1),
        (h, w, 4),
        (1, h, w, c),
        (h, w, c, 2),
        (2, c, h, w),
        (2, h, w, c),
        (h + 1, w, c),
        (h, w, c, 1, 1),
        (0, w, c),
        (h * w * c,),
    ]
    choice = rng.randrange(len(shapes) + 12)
    if choice < len(shapes):
        return good_image(rng, shapes[choice])
    special = [
        lambda: "photo.png",
        lambda: Path("photo.png"),
        lambda: b"photo.png",
        lambda: np.full((h, w, c), np.nan),
        lambda: np.full((h, w, c), np.inf),
        lambda: np.full((h, w, c), 1e39),
        lambda: np.zeros((h, w, c), complex),
        lambda: np.full((h, w, c), "a"),
        lambda: np.zeros((h, w, c), dtype=object),
        lambda: good_image(rng).tolist(),
        lambda: [[0] * w] * (h - 1) + [[0] * (w - 1)],
        lambda: rng.choice(wild_values()),
    ]
    return special[choice - len(shapes)]()


GOOD_OPTIONS: dict[str, list[Any]] = {
    "MaskSize": ["auto", 1, 2, 3, 5, 12, 20, [2, 3], (3, 5), np.array([4, 4]), 3.0, np.int32(2)],
    "Stride": ["auto", 1, 2, 3, 5, [1, 2], 2.0, np.uint8(4), 40],
    "MaskValue": ["auto", 0, 127.5, [0, 0, 0], np.array([1.0, 2.0, 3.0]), -1e6, np.float32(3), 255],
    "OutputUpsampling": ["bicubic", "nearest", "none", "Bic", "NONE"],
    "MaskClipping": ["on", "off", True, False, "OFF"],
    "MiniBatchSize": [1, 2, 7, 128, 10**6, 64.0],
    "ExecutionEnvironment": ["auto", "cpu", "CPU"],
    "Verbose": [False, True],
    "Incremental": ["auto", "off", "on", False],
}
GOOD_CHANNELS: list[Any] = [1, 2, 4, [1, 3], np.array([2, 2]), 3.0, np.int64(4), "cat", ["dog", "eel"]]


def pick(rng: random.Random, pool: list[Any]) -> Any:
    return copy.deepcopy(pool[rng.randrange(len(pool))])


# --- cases ---------------------------------------------------------------------------------------


@dataclass
class Case:
    """One call: the function, its arguments, and the names an error may cite for the wild ones."""

    function: str
    call: Callable[..., Any]
    args: list[Any]
    kwargs: dict[str, Any]
    perturbed: list[str] = field(default_factory=list)  # MATLAB argument names given wild values
    words: list[str] = field(default_factory=list)  # what an error must mention (any one of them)
    uses_network: bool = False
    # Inputs beyond this magnitude may give Inf: rescale computes in single precision for single
    # input, as MATLAB does; everywhere else only NaN or Inf given may come back.
    finite_limit: float = float("inf")

    def describe(self) -> str:
        shown = [_short(arg) for arg in self.args] + [f"{key}={_short(value)}" for key, value in self.kwargs.items()]
        return f"{self.function}({', '.join(shown)})"


def _short(value: Any) -> str:
    if isinstance(value, np.ndarray) and value.size > 6:
        return f"array(shape={value.shape}, dtype={value.dtype})"
    if isinstance(value, list) and len(value) > 6:
        return f"list(len={len(value)})"
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


def _options_case(rng: random.Random, names: list[str], good: dict[str, list[Any]]) -> tuple[dict, list[str]]:
    """Valid values for a random subset of ``names``, wild values for one or two of them."""
    chosen = {name: pick(rng, good[name]) for name in names if rng.random() < 0.4}
    wild = rng.sample(names, k=rng.choice([1, 1, 2]))
    for name in wild:
        chosen[name] = pick(rng, wild_values())
    return chosen, wild


def _as_pairs(rng: random.Random, options: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """Options as MATLAB pairs (sometimes lower-cased or abbreviated) or as keywords."""
    if rng.random() < 0.5:
        return [], options
    pairs: list[Any] = []
    for name, value in options.items():
        spelled = rng.choice([name, name.lower(), name.upper(), name[: max(len(name) - 2, 7)]])
        pairs += [spelled, value]
    return pairs, {}


def occlusion_case(rng: random.Random, nets: dict[str, Any]) -> Case:
    names = list(GOOD_OPTIONS)
    targets = ["X", "channelIdx", *names]
    wild = rng.sample(targets, k=rng.choice([1, 1, 2]))
    X = wild_image(rng) if "X" in wild else good_image(rng)
    channel = pick(rng, wild_values()) if "channelIdx" in wild else pick(rng, GOOD_CHANNELS)
    options = {name: pick(rng, GOOD_OPTIONS[name]) for name in names if rng.random() < 0.3}
    for name in wild:
        if name in GOOD_OPTIONS:
            options[name] = pick(rng, wild_values())
    pairs, kwargs = _as_pairs(rng, options)
    words = [*wild, *options]  # valid values can clash (a MaskSize too large for MaskClipping="off")
    structural = rng.random()
    if structural < 0.04:  # a name whose value was forgotten
        name = rng.choice(names)
        pairs, kwargs, words = [*pairs, name], kwargs, [name, *words]
        wild = [*wild, "name-value"]
    elif structural < 0.06:  # a misspelt option name
        pairs, words, wild = [*pairs, "MaskSise", 3], ["MaskSise", *words], [*wild, "name-value"]
    if "channelIdx" in wild:
        words += ["class name", "label"]  # a wild string is read as the older label form
    return Case(
        "occlusionSensitivity",
        occlusionSensitivity,
        [nets["classes"], X, channel, *pairs],
        kwargs,
        wild,
        words,
        uses_network=True,
    )


def predict_case(rng: random.Random, nets: dict[str, Any], function: str) -> Case:
    good: dict[str, list[Any]] = {"MiniBatchSize": [1, 2, 128, 10**6], "ExecutionEnvironment": ["auto", "cpu"]}
    targets = ["X", *good]
    wild = rng.sample(targets, k=rng.choice([1, 1, 2]))
    shape = rng.choice([(HEIGHT, WIDTH, CHANNELS), (HEIGHT, WIDTH, CHANNELS, 3)])
    X = wild_image(rng) if "X" in wild else good_image(rng, shape)
    options = {name: pick(rng, good[name]) for name in good if rng.random() < 0.4}
    for name in wild:
        if name in good:
            options[name] = pick(rng, wild_values())
    pairs, kwargs = _as_pairs(rng, options)
    call = predict if function == "predict" else classify
    return Case(function, call, [nets["classes"], X, *pairs], kwargs, wild, list(wild), uses_network=True)


def imresize_case(rng: random.Random) -> Case:
    targets = ["A", "scale or output size", "method", "Antialiasing"]
    wild = rng.sample(targets, k=rng.choice([1, 1, 2]))
    A = pick(rng, wild_values()) if "A" in wild else good_image(rng, rng.choice([(5, 7), (5, 7, 3), (9, 4, 2, 2)]))
    sizes: list[Any] = [0.5, 2, [3, 4], [np.nan, 5], (8, 8)]
    size = pick(rng, wild_values()) if "scale or output size" in wild else pick(rng, sizes)
    args: list[Any] = [A, size]
    if "method" in wild:
        args.append(pick(rng, [v for v in wild_values() if not isinstance(v, str)] + ["bilinearx", "lanczos9"]))
    elif rng.random() < 0.5:
        args.append(rng.choice(["bicubic", "nearest", "bilinear", "lanczos3", "box", "Bil"]))
    kwargs = {}
    if "Antialiasing" in wild:
        kwargs["Antialiasing"] = pick(rng, wild_values())
    # A text where the size goes is read as the method or an option name (a prefix of one), as in MATLAB.
    words = [*wild, "scale", "size", "method", "option", "Antialiasing", "Method", "OutputSize", "Scale"]
    return Case("imresize", imresize, args, kwargs, wild, words if "scale or output size" in wild else list(wild))


def rescale_case(rng: random.Random) -> Case:
    targets = ["A", "l", "u", "InputMin", "InputMax"]
    wild = rng.sample(targets, k=rng.choice([1, 1, 2]))
    A = pick(rng, wild_values()) if "A" in wild else good_image(rng, rng.choice([(5,), (4, 6), (3, 4, 2)]))
    args: list[Any] = [A]
    if "l" in wild or "u" in wild or rng.random() < 0.4:
        args += [
            pick(rng, wild_values()) if "l" in wild else rng.choice([0, -1, 2]),
            pick(rng, wild_values()) if "u" in wild else rng.choice([3, 5.5, 10]),
        ]
    options = {}
    for name, good in (("InputMin", [0, -3.0, 10]), ("InputMax", [200, 255.0, 1e6])):
        if name in wild:
            options[name] = pick(rng, wild_values())
        elif rng.random() < 0.3:
            options[name] = rng.choice(good)
    pairs, kwargs = _as_pairs(rng, options)
    # A text where l goes starts the name-value pairs, as in MATLAB: an error about an option is right.
    words = [*wild, *options]
    if {"l", "u"} & set(wild):
        words += ["bound", "option", "InputMin", "InputMax"]
    return Case("rescale", rescale, [*args, *pairs], kwargs, wild, words, finite_limit=_SINGLE_MAX)


def scores2label_case(rng: random.Random) -> Case:
    targets = ["scores", "classNames", "dim"]
    wild = rng.sample(targets, k=rng.choice([1, 1, 2]))
    generator = np.random.default_rng(rng.randrange(2**32))
    scores = pick(rng, wild_values()) if "scores" in wild else generator.dirichlet(np.ones(CLASSES), size=3)
    names = pick(rng, wild_values()) if "classNames" in wild else list(CLASS_NAMES)
    args = [scores, names]
    if "dim" in wild:
        args.append(pick(rng, wild_values()))
    elif rng.random() < 0.3:
        args.append(rng.choice(["auto", 2]))
    words = [*wild, "dimension", "class"] if {"dim", "scores"} & set(wild) else list(wild)
    return Case("scores2label", scores2label, args, {}, wild, words)


def overlay_case(rng: random.Random) -> Case:
    good: dict[str, list[Any]] = {
        "AlphaData": [0.5, 0, 1, np.full((6, 8), 0.3)],
        "Colormap": ["jet", np.tile(np.linspace(0, 1, 5)[:, None], (1, 3))],
        "CLim": ["auto", [-1, 1], (0, 5.5)],
        "Colorbar": [True, False],
    }
    targets = ["X", "scoreMap", *good]
    wild = rng.sample(targets, k=rng.choice([1, 1, 2]))
    X = pick(rng, wild_values()) if "X" in wild else good_image(rng, rng.choice([(6, 8, 3), (6, 8)]))
    generator = np.random.default_rng(rng.randrange(2**32))
    scores = pick(rng, wild_values()) if "scoreMap" in wild else generator.normal(size=(6, 8))
    options = {name: pick(rng, good[name]) for name in good if rng.random() < 0.3}
    for name in wild:
        if name in good:
            options[name] = pick(rng, wild_values())
    pairs, kwargs = _as_pairs(rng, options)
    return Case("overlayScoreMap", overlayScoreMap, [X, scores, *pairs], kwargs, wild, [*wild, *options])


IMPORT_OPTIONS: dict[str, list[Any]] = {
    "InputDataFormats": ["BCSS", "bcss"],
    "OutputDataFormats": ["BC", ["BC"]],
    "InputSize": [[HEIGHT, WIDTH, CHANNELS], (HEIGHT, WIDTH)],
    "OutputNames": ["scores", ["whole_image_conv"], "conv"],
    "Normalization": ["none", "zerocenter", "zscore", "rescale-zero-one", "rescale-symmetric"],
    "Mean": [127.5, [120, 110, 100]],
    "StandardDeviation": [50, [60, 55, 50]],
    "Min": [0, [0, 1, 2]],
    "Max": [255, [250, 251, 252]],
    "Classes": [CLASS_NAMES, np.array(CLASS_NAMES)],
}


def _import_and_predict(model: bytes, X: np.ndarray, *args: Any, **kwargs: Any) -> Any:
    """Import with the options, then run once: bad options must fail at import, not in the run."""
    net = importNetworkFromONNX(model, *args, **kwargs)
    return predict(net, X)


def import_case(rng: random.Random, nets: dict[str, Any]) -> Case:
    names = list(IMPORT_OPTIONS)
    wild = rng.sample(names, k=rng.choice([1, 1, 2]))
    options = {name: pick(rng, IMPORT_OPTIONS[name]) for name in names if rng.random() < 0.3}
    if rng.random() < 0.5:  # the statistics only count with the normalisation that uses them
        options["Normalization"] = rng.choice(IMPORT_OPTIONS["Normalization"])
    for name in wild:
        options[name] = pick(rng, wild_values())
    pairs, kwargs = _as_pairs(rng, options)
    args = [nets["model"], good_image(rng), *pairs]
    return Case("importNetworkFromONNX", _import_and_predict, args, kwargs, wild, [*wild, *options])


def jet_case(rng: random.Random) -> Case:
    return Case("jet", jet, [pick(rng, wild_values())], {}, ["m"], ["m"])


def make_case(seed: int, index: int, nets: dict[str, Any]) -> Case:
    rng = random.Random(f"{seed}:{index}")
    kind = rng.choices(
        [
            "occlusionSensitivity",
            "predict",
            "classify",
            "imresize",
            "rescale",
            "scores2label",
            "overlayScoreMap",
            "jet",
            "importNetworkFromONNX",
        ],
        weights=[50, 10, 8, 12, 12, 8, 8, 2, 10],
    )[0]
    if kind == "occlusionSensitivity":
        return occlusion_case(rng, nets)
    if kind == "importNetworkFromONNX":
        return import_case(rng, nets)
    if kind in ("predict", "classify"):
        return predict_case(rng, nets, kind)
    builders = {"imresize": imresize_case, "rescale": rescale_case, "scores2label": scores2label_case}
    return {**builders, "overlayScoreMap": overlay_case, "jet": jet_case}[kind](rng)


# --- judging -------------------------------------------------------------------------------------


def _arrays(values: Any) -> list[np.ndarray]:
    found: list[np.ndarray] = []
    stack = [values]
    while stack:
        item = stack.pop()
        if isinstance(item, np.ndarray):
            found.append(item)
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return found


def _finite_input(case: Case) -> bool:
    """Whether every number given is at most ``case.finite_limit`` in magnitude (so not NaN or Inf)."""
    limit = case.finite_limit
    for item in _arrays([case.args, case.kwargs]):
        if item.dtype.kind in "fc" and not np.all(np.abs(item) <= limit):
            return False
    values = [*case.args, *case.kwargs.values()]
    return not any(isinstance(v, (int, float)) and not abs(v) <= limit for v in values)


def _same(before: np.ndarray, after: np.ndarray) -> bool:
    if before.dtype.kind in "fc":
        return np.array_equal(before, after, equal_nan=True)
    return np.array_equal(before, after)


def judge(case: Case, cold_net: Callable[[], Any]) -> str | None:
    """None if the case behaved; otherwise a short name of what went wrong."""
    snapshot = copy.deepcopy((case.args[1:] if case.uses_network else case.args, case.kwargs))
    before = [item.copy() for item in _arrays([case.args, case.kwargs])]  # the network holds no arrays
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = case.call(*case.args, **case.kwargs)
        except (ValueError, TypeError) as error:
            return _judge_error(case, error, snapshot, cold_net)
        except Exception as error:  # noqa: BLE001 - any other exception is what the probe counts
            return f"{type(error).__name__}: {str(error).splitlines()[0][:100] if str(error) else ''}"
        finally:
            after = _arrays([case.args, case.kwargs])
            changed = any(not _same(old, new) for old, new in zip(before, after))
    if changed:
        return "modified an input array"
    outputs = [item for item in _arrays([result]) if item.dtype.kind in "fc"]
    if _finite_input(case) and any(not np.all(np.isfinite(item)) for item in outputs):
        return "NaN or Inf in the result from finite input"
    return None


def _judge_error(case: Case, error: Exception, snapshot: Any, cold_net: Callable[[], Any]) -> str | None:
    message = str(error)
    if "\n" in message:
        return f"{type(error).__name__} over several lines"
    if not any(re.search(rf"(?<!\w){re.escape(word)}(?!\w)", message) for word in case.words):  # whole words
        return f"{type(error).__name__} not naming {'/'.join(case.perturbed)}: {message[:100]}"
    if case.uses_network:  # the same call on a network that never ran must fail before running
        args, kwargs = snapshot
        net = cold_net()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                case.call(net, *args, **kwargs)
            except (ValueError, TypeError):
                pass
        if net._engines:
            return "error raised after inference started"
    return None


# --- bad model files -----------------------------------------------------------------------------


def bad_models(folder: Path) -> dict[str, Path]:
    """One file per kind of broken model; each must be refused at import with a ValueError."""
    files: dict[str, Path] = {}

    def save(name: str, model: onnx.ModelProto) -> None:
        files[name] = folder / f"{name.replace(' ', '_')}.onnx"
        files[name].write_bytes(model.SerializeToString())

    files["zero-byte"] = folder / "empty.onnx"
    files["zero-byte"].write_bytes(b"")
    save("opset 99", linear_model(opset=99))
    save("IR version 99", linear_model(ir_version=99))
    cyclic = linear_model()
    cyclic.graph.node[0].input[0] = "scores"  # the conv reads the flatten's output
    save("cyclic graph", cyclic)
    dangling = linear_model()
    dangling.graph.node[1].input[0] = "nowhere"
    save("dangling input", dangling)
    unknown = linear_model()
    unknown.graph.node[1].domain = "com.example.unknown"
    unknown.opset_import.append(helper.make_opsetid("com.example.unknown", 1))
    save("unknown domain", unknown)
    files[".pt given to importNetworkFromONNX"] = folder / "model.pt"
    try:
        import torch

        torch.save({"weight": torch.zeros(2)}, files[".pt given to importNetworkFromONNX"])
    except ImportError:  # the zip container torch writes, without torch
        files[".pt given to importNetworkFromONNX"].write_bytes(b"PK\x03\x04" + bytes(60))
    return files


# What the refusal must also say, beyond the file's name.
MODEL_WORDS = {"zero-byte": ("empty",), ".pt given to importNetworkFromONNX": ("importNetworkFromPyTorch",)}


def probe_models() -> list[tuple[str, str | None]]:
    """``(kind, None if refused properly else what happened)`` for each bad model file."""
    outcomes = []
    with tempfile.TemporaryDirectory() as folder:
        for kind, path in bad_models(Path(folder)).items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    net = importNetworkFromONNX(path)
                except ValueError as error:
                    message = str(error)
                    missing = [word for word in (path.name, *MODEL_WORDS.get(kind, ())) if word not in message]
                    ok = "\n" not in message and not missing
                    outcomes.append((kind, None if ok else f"ValueError without {missing}: {message[:90]}"))
                    continue
                except Exception as error:  # noqa: BLE001
                    outcomes.append((kind, f"{type(error).__name__}: {str(error).splitlines()[0][:90]}"))
                    continue
                try:
                    occlusionSensitivity(net, np.zeros((HEIGHT, WIDTH, CHANNELS)), 1)
                    outcomes.append((kind, "imports and computes a map"))
                except Exception as error:  # noqa: BLE001
                    outcomes.append((kind, f"imports; the first map raises {type(error).__name__}"))
    return outcomes


# --- the run -------------------------------------------------------------------------------------


def networks() -> dict[str, Any]:
    proto = linear_model().SerializeToString()
    warm = importNetworkFromONNX(proto, Classes=CLASS_NAMES)
    return {"classes": warm, "cold": lambda: importNetworkFromONNX(proto, Classes=CLASS_NAMES), "model": proto}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=12000, help="argument cases to try (default 12000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="a quick run: 300 cases")
    parser.add_argument("--show", type=int, metavar="I", help="print case I of the seed and its outcome, then stop")
    parser.add_argument("--examples", type=int, default=2, help="examples printed per distinct problem")
    options = parser.parse_args(argv)
    nets = networks()
    if options.show is not None:
        case = make_case(options.seed, options.show, nets)
        print(case.describe())
        print("perturbed:", ", ".join(case.perturbed), "->", judge(case, nets["cold"]) or "right")
        return 0
    count = 300 if options.smoke else options.cases
    tried: Counter[str] = Counter()
    wrong: Counter[str] = Counter()
    problems: dict[tuple[str, str], list[str]] = defaultdict(list)
    start = time.perf_counter()
    for index in range(count):
        case = make_case(options.seed, index, nets)
        tried[case.function] += 1
        outcome = judge(case, nets["cold"])
        if outcome is not None:
            wrong[case.function] += 1
            key = (case.function, outcome.split(":")[0].split(" not naming")[0])  # the kind, not the values
            problems[key].append(f"case {index}: {case.describe()} -> {outcome}")
    elapsed = time.perf_counter() - start
    print(
        f"arguments: {sum(tried.values())} cases tried, {sum(wrong.values())} not right "
        f"(seed {options.seed}, {elapsed:.0f} s)"
    )
    for function, number in tried.most_common():
        print(f"  {function:22s} {number:6d} tried {wrong[function]:5d} not right")
    if problems:
        print(f"distinct problems: {len(problems)}")
        for (function, kind), examples in sorted(problems.items(), key=lambda item: -len(item[1])):
            print(f"  {len(examples):5d}x {function}: {kind}")
            for example in examples[: options.examples]:
                print(f"         {example}")
    models = probe_models()
    refused = sum(outcome is None for _, outcome in models)
    print(f"model files: {len(models)} tried, {len(models) - refused} not right")
    for kind, outcome in models:
        print(f"  {kind:36s} {'refused at import with a ValueError naming the file' if outcome is None else outcome}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
