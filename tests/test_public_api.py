"""The public surface is one documented list, every public name keeps working where users import
it from, and benchmarks/, compat/ and tools/ reach inside the package only through the named hooks.

``__all__`` of each public module is the source of truth (the API reference is generated from
it); docs/architecture.md lists the same names for readers, and these tests hold the two equal.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import matlab_occsens
from matlab_occsens import _hooks

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
PUBLIC_MODULES = [
    "matlab_occsens",
    "matlab_occsens.image",
    "matlab_occsens.network",
    "matlab_occsens.datasets",
    "matlab_occsens.pretrained",
]


def _section(title: str) -> str:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def _documented_public() -> dict[str, list[str]]:
    """Module -> names, from the table of the "Public and internal" section."""
    rows = re.findall(r"^\| `(matlab_occsens[\w.]*)` \| (.*) \|$", _section("Public and internal"), re.M)
    return {module: re.findall(r"`(\w+)`", names) for module, names in rows}


def test_every_public_module_is_documented_with_exactly_its_all():
    documented = _documented_public()
    assert list(documented) == PUBLIC_MODULES
    for module in PUBLIC_MODULES:
        assert documented[module] == list(importlib.import_module(module).__all__), module


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_every_public_name_resolves_and_nothing_public_is_left_out_of_all(module):
    namespace = importlib.import_module(module)
    for name in namespace.__all__:
        assert getattr(namespace, name) is not None, f"{module}.{name}"
    own = (module, f"{module}._") if module != "matlab_occsens" else ("matlab_occsens._",)
    stray = [
        name
        for name, value in vars(namespace).items()
        if not name.startswith("_")
        and not inspect.ismodule(value)
        and str(getattr(value, "__module__", "")).startswith(own)
        and name not in namespace.__all__
    ]
    assert stray == [], f"{module} has public names outside __all__"


def test_moved_names_keep_working_where_users_import_them_from():
    from matlab_occsens import image, network, pretrained

    for name in image.__all__:
        assert getattr(matlab_occsens, name) is getattr(image, name)
    assert matlab_occsens.importNetworkFromONNX is network.importNetworkFromONNX
    assert matlab_occsens.importNetworkFromPyTorch is network.importNetworkFromPyTorch
    assert pretrained.EFFICIENTNET_LITE0.input_size == (224, 224, 3)
    from matlab_occsens.datasets import imageDatastore, occlusionSensitivityDataset  # noqa: F401


def test_the_network_types_the_importers_return_are_exported():
    from matlab_occsens.network import ImageInputLayer, Network, NodeLayer, OnnxNetwork, importNetworkFromONNX
    from matlab_occsens.pretrained import EFFICIENTNET_LITE0

    net = importNetworkFromONNX(EFFICIENTNET_LITE0.onnx_path(), **EFFICIENTNET_LITE0.normalization())
    assert type(net) is OnnxNetwork and isinstance(net, Network)
    assert type(net.Layers[0]) is ImageInputLayer and all(type(layer) is NodeLayer for layer in net.Layers[1:])


# --- the hooks -------------------------------------------------------------------------------------


def _documented_hooks() -> list[str]:
    rows = re.findall(r"^\| ((?:`\w+`(?:, )?)+) \|", _section("Hooks for benchmarks and the cross-check kit"), re.M)
    return [name for row in rows for name in re.findall(r"`(\w+)`", row)]


def _imports(folder: str) -> list[tuple[str, str, list[str]]]:
    """(file, module, names) of every import of matlab_occsens in a folder's Python files."""
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((path.relative_to(ROOT).as_posix(), node.module, [alias.name for alias in node.names]))
            elif isinstance(node, ast.Import):
                found += [(path.relative_to(ROOT).as_posix(), alias.name, []) for alias in node.names]
    return [item for item in found if item[1].split(".")[0] == "matlab_occsens"]


def _is_internal(module: str) -> bool:
    return any(part.startswith("_") for part in module.split("."))


def test_the_hooks_are_the_documented_list():
    assert sorted(_documented_hooks()) == sorted(_hooks.__all__)


@pytest.mark.parametrize("folder", ["benchmarks", "compat", "tools"])
def test_benchmarks_compat_and_tools_reach_inside_only_through_the_hooks(folder):
    wrong = []
    for path, module, names in _imports(folder):
        if module == "matlab_occsens._hooks":
            wrong += [f"{path}: {name} is not a hook" for name in names if name not in _hooks.__all__]
        elif _is_internal(module):
            wrong.append(f"{path}: imports {module}")
        elif module in PUBLIC_MODULES:
            public = importlib.import_module(module).__all__
            wrong += [f"{path}: {module}.{name} is not public" for name in names if name not in public]
    assert wrong == []


def test_every_hook_is_used():
    used = {
        name
        for folder in ("benchmarks", "compat", "tools")
        for _, module, names in _imports(folder)
        if module == "matlab_occsens._hooks"
        for name in names
    }
    assert set(_hooks.__all__) == used


def test_the_package_and_its_hooks_import_no_torch():
    """torch is the optional backend's (about half a GB once imported): the ONNX Runtime path, and
    a benchmark measuring its memory through the hooks, must not load it."""
    code = "import sys, matlab_occsens, matlab_occsens._hooks; print('torch' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert loaded.stdout.strip() == "False"
    assert _hooks.CPU_UNIT >= 1 and callable(_hooks.forward_alone)  # still there, on first use
