"""Checking a ``torch.export`` file (``.pt2``) before torch opens it, so that opening runs no code.

``torch.export.load`` unpickles, without restriction, a legacy weights or constants file
(``data/weights/<model>.pt``), every payload its configs mark ``use_pickle``, opaque objects, and
the sample inputs when they fail the tensors-only load; it loads compiled AOTInductor libraries;
and it hands the shape expressions of the program (``expr_str``) to ``sympy.sympify``, which
evaluates Python. Any of these lets a crafted file run its author's code on import. This module
reads the archive as the zip it is and accepts only what loads as data: raw tensor payloads, JSON,
a sample-inputs pickle that loads with ``torch.load(weights_only=True)`` and shape expressions
made of symbols, numbers, operators and torch's own shape functions.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["check_pt2_archive"]

_FUNCTION = "importNetworkFromPyTorch"
#: Entries that hold plain data (text or JSON), beside the tensor payloads the configs name.
_DATA_FILES = re.compile(
    r"(archive_format|archive_version|byteorder|\.data/version|\.data/serialization_id|"
    r"models/[\w.-]+\.json|data/weights/[\w.-]+_weights_config\.json|"
    r"data/constants/[\w.-]+_constants_config\.json|extra/.+)"
)
_SAMPLE_INPUTS = re.compile(r"data/sample_inputs/[\w.-]+\.pt")
_PAYLOAD_DIRS = {"data/weights/": "weights", "data/constants/": "constants"}
#: A shape expression as torch writes it (``Mul(Integer(8), Symbol('s16', positive=True))``):
#: symbols (s0, u3, ...), numbers, arithmetic, and calls of sympy's constructors and the functions
#: torch's deserializer gives sympy (FloorDiv, Mod, Max, ...) with their assumption keywords; no
#: other name, no attribute, no other string.
_EXPR_TOKEN = re.compile(
    r"\s*(?:([A-Za-z][A-Za-z0-9_]*)|(\d+(?:\.\d+)?(?:e[-+]?\d+)?)|'([a-z]+\d+)'|(\*\*|[-+*/%(),<>=!&|~]))"
)
_SYMBOL = re.compile(r"[a-z]+\d+")
_EXPR_FUNCTIONS = {
    "FloorDiv",
    "ModularIndexing",
    "Where",
    "PythonMod",
    "Mod",
    "CleanDiv",
    "CeilToInt",
    "FloorToInt",
    "CeilDiv",
    "LShift",
    "RShift",
    "PowByNatural",
    "FloatPow",
    "FloatTrueDiv",
    "IntTrueDiv",
    "IsNonOverlappingAndDenseIndicator",
    "TruncToFloat",
    "TruncToInt",
    "RoundToInt",
    "RoundDecimal",
    "ToFloat",
    "Identity",
    "BitwiseFn_bitwise_and",
    "Max",
    "Min",
    "Abs",
    "Eq",
    "Ne",
    "Lt",
    "Le",
    "Gt",
    "Ge",
    "And",
    "Or",
    "Not",
    "floor",
    "ceiling",
    "sqrt",
    "oo",
    "zoo",
    "nan",
    "true",
    "false",
    "True",
    "False",
    "Integer",
    "Rational",
    "Float",
    "Piecewise",
    "Add",
    "Mul",
    "Pow",
    "Symbol",
    "Dummy",
    "positive",
    "negative",
    "nonnegative",
    "nonpositive",
    "integer",
    "real",
    "finite",
    "nonzero",
    "zero",
    "even",
    "odd",
    "commutative",
}


def _refuse(path: Path, problem: str) -> ValueError:
    return ValueError(
        f"{_FUNCTION}: {str(path)!r} is refused: {problem}. Loading it would run code from the file; "
        f"export the model again with torch.export.save from plain tensors, or use ONNX."
    )


def check_pt2_archive(path: Path) -> None:
    """Raise ValueError unless the ``.pt2`` archive at ``path`` holds only data torch loads as data."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ValueError(
            f"{_FUNCTION}: {str(path)!r} is not an exported program (torch.export.save writes a zip archive; {error})."
        ) from error
    with archive:
        names = [info.filename for info in archive.infolist() if not info.is_dir()]
        prefixes = {name.split("/", 1)[0] for name in names}
        if len(prefixes) != 1 or any("/" not in name for name in names):
            raise _refuse(path, "its entries are not all in one archive folder, as torch.export.save writes them")
        prefix = prefixes.pop() + "/"
        entries = {name[len(prefix) :]: name for name in names}
        if not any(entry.startswith("models/") for entry in entries):
            raise _refuse(path, "it has no models/*.json program (an older layout torch unpickles)")
        payloads = _tensor_payloads(archive, path, prefix, entries)
        for entry, name in entries.items():
            if _DATA_FILES.fullmatch(entry) or entry in payloads:
                continue
            if _SAMPLE_INPUTS.fullmatch(entry):
                _check_tensors_only(archive.read(name), path, entry)
                continue
            raise _refuse(path, f"it holds {entry!r}, which is neither a tensor nor plain data")
        for entry, name in entries.items():
            if entry.startswith("models/"):
                for expression in _expressions(_json(archive, name, path)):
                    _check_expression(expression, path)


def _json(archive: zipfile.ZipFile, name: str, path: Path) -> Any:
    try:
        return json.loads(archive.read(name))
    except ValueError as error:
        raise ValueError(f"{_FUNCTION}: {str(path)!r}: {name!r} is not valid JSON ({error}).") from error


def _tensor_payloads(archive: zipfile.ZipFile, path: Path, prefix: str, entries: dict[str, str]) -> set[str]:
    """The entries the weights and constants configs name as raw tensors; a pickled or object
    payload is refused."""
    payloads: set[str] = set()
    for entry, name in entries.items():
        directory = next((folder for folder in _PAYLOAD_DIRS if entry.startswith(folder)), None)
        if directory is None or not entry.endswith("_config.json"):
            continue
        config = _json(archive, name, path)
        items = config.get("config", {}) if isinstance(config, dict) else None
        if not isinstance(items, dict):
            raise _refuse(path, f"{entry!r} is not a payload config")
        for fqn, meta in items.items():
            if not isinstance(meta, dict) or not isinstance(meta.get("path_name"), str):
                raise _refuse(path, f"{entry!r} describes {fqn!r} in an unknown way")
            if meta.get("use_pickle"):
                raise _refuse(path, f"{_PAYLOAD_DIRS[directory]} entry {fqn!r} is pickled, not a plain tensor")
            if meta.get("tensor_meta") is None:
                raise _refuse(path, f"{_PAYLOAD_DIRS[directory]} entry {fqn!r} is a Python object, not a tensor")
            payloads.add(directory + meta["path_name"])
    return payloads


def _check_tensors_only(data: bytes, path: Path, entry: str) -> None:
    """torch would fall back to a full unpickling where the tensors-only one fails: require that
    the tensors-only one succeeds."""
    import torch

    try:
        torch.load(io.BytesIO(data), weights_only=True)
    except Exception as error:  # UnpicklingError for a forbidden global, or a corrupt pickle
        raise _refuse(path, f"{entry!r} does not load as tensors only ({type(error).__name__})") from error


def _expressions(value: Any) -> Iterator[str]:
    """Every shape expression string in a serialized program (``expr_str`` values and the keys of
    its symbol ranges), which torch parses with ``sympy.sympify``."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "expr_str" and isinstance(item, str):
                yield item
            elif key == "range_constraints" and isinstance(item, dict):
                yield from (name for name in item if isinstance(name, str))
            yield from _expressions(item)
    elif isinstance(value, list):
        for item in value:
            yield from _expressions(item)


def _check_expression(expression: str, path: Path) -> None:
    position = 0
    while position < len(expression.rstrip()):
        token = _EXPR_TOKEN.match(expression, position)
        if token is None:
            raise _refuse(path, f"its shape expression {expression[:60]!r} is not arithmetic")
        name = token.group(1)
        if name is not None and name not in _EXPR_FUNCTIONS and not _SYMBOL.fullmatch(name):
            raise _refuse(path, f"its shape expression {expression[:60]!r} names {name!r}")
        position = token.end()
