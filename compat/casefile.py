"""Reading reference files: the kit's .mat cases and the R2019b imresize JSON.

A .mat case is what ``compat/matlab/make_references.m`` saves with ``save -v7``: one file per
case with the input, the options, the probe's weights (and the name of its exported ONNX file),
MATLAB's answer or error, and MATLAB's version. ``compat/synthetic.py`` writes the same layout.
Arrays keep MATLAB's shapes (nothing is squeezed: a 1×8×3 map must stay 1×8×3).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io

__all__ = ["OcclusionCase", "ImresizeCase", "Case", "load_cases"]


@dataclass(frozen=True)
class OcclusionCase:
    """One ``occlusionSensitivity`` call and MATLAB's answer (``scoreMap``) or error."""

    name: str
    source: Path
    about: str
    matlab: str
    X: np.ndarray
    probe: str
    input_size: tuple[int, int, int]
    output: str
    weights: dict[str, np.ndarray]
    onnx_file: Path | None
    channelIdx: np.ndarray
    options: dict[str, Any]
    totals: np.ndarray | None
    scoreMap: np.ndarray | None
    error: str | None
    may_reject: bool
    tolerance: float | None = None


@dataclass(frozen=True)
class ImresizeCase:
    """One ``imresize`` call and MATLAB's answer ``B``."""

    name: str
    source: Path
    about: str
    matlab: str
    A: np.ndarray
    method: str
    output_size: tuple[float, float] | None
    scale: float | None
    antialiasing: bool | None
    B: np.ndarray
    tolerance: float | None = None


Case = OcclusionCase | ImresizeCase


def load_cases(paths: Iterable[str | Path]) -> list[Case]:
    """Every case in the given files and folders (a folder: its *.mat and *.json files)."""
    cases: list[Case] = []
    for path in map(Path, paths):
        if path.is_dir():
            files = sorted([*path.glob("*.mat"), *path.glob("*.json")])
        elif path.is_file():
            files = [path]
        else:
            raise FileNotFoundError(f"crosscheck: {str(path)!r} is neither a reference file nor a folder.")
        for file in files:
            if file.suffix not in (".mat", ".json"):
                raise ValueError(f"crosscheck: {file} is not a reference file (.mat case or imresize .json).")
            cases.extend(_json_cases(file) if file.suffix == ".json" else [_mat_case(file)])
    return cases


# --- .mat files -------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A loadmat value as plain Python: char -> str, struct -> dict, 1×1 logical -> bool."""
    if isinstance(value, np.ndarray) and value.dtype.kind == "U":
        return str(value[0]) if value.size else ""
    if isinstance(value, np.ndarray) and value.dtype == object and value.size == 1:
        return _plain(value.item())
    if hasattr(value, "_fieldnames"):
        return {name: _plain(getattr(value, name)) for name in value._fieldnames}
    if isinstance(value, np.ndarray) and value.dtype == bool and value.size == 1:
        return bool(value.item())
    return value


def _optional_array(value: Any) -> np.ndarray | None:
    array = np.asarray(value)
    return None if array.size == 0 else array


def _optional_number(value: Any) -> float | None:
    array = _optional_array(value)
    return None if array is None else float(array.ravel()[0])


def _mat_case(path: Path) -> Case:
    try:
        raw = scipy.io.loadmat(path, squeeze_me=False, struct_as_record=False, chars_as_strings=True)
    except (scipy.io.matlab.MatReadError, ValueError, OSError) as error:
        raise ValueError(f"crosscheck: {path} is not a readable .mat file ({error}).") from error
    fields = {key: _plain(value) for key, value in raw.items() if not key.startswith("__")}
    kind = fields.get("kind")
    common = dict(
        name=fields.get("name") or path.stem,
        source=path,
        about=fields.get("about", ""),
        matlab=" / ".join(filter(None, (fields.get("matlab_version"), fields.get("toolbox_version")))),
        tolerance=_optional_number(fields.get("tolerance", [])),
    )
    if kind == "imresize":
        size = _optional_array(fields["output_size"])
        antialiasing = _optional_array(fields.get("antialiasing", []))
        return ImresizeCase(
            A=np.asarray(fields["A"]),
            method=fields["method"],
            output_size=None if size is None else tuple(float(item) for item in size.ravel()),
            scale=_optional_number(fields["scale"]),
            antialiasing=None if antialiasing is None else bool(antialiasing.ravel()[0]),
            B=np.asarray(fields["B"]),
            **common,
        )
    if kind == "occlusion":
        error = ": ".join(filter(None, (fields.get("error_identifier"), fields.get("error_message"))))
        onnx_file = fields.get("onnx_file") or ""
        return OcclusionCase(
            X=np.asarray(fields["X"]),
            probe=fields["probe"],
            input_size=tuple(int(item) for item in np.ravel(fields["input_size"])),
            output=fields["output"],
            weights={name: np.asarray(value) for name, value in fields.get("weights", {}).items()},
            onnx_file=path.parent / onnx_file if onnx_file else None,
            channelIdx=np.asarray(fields["channelIdx"]).ravel(),
            options=dict(fields.get("options") or {}),
            totals=_optional_array(fields.get("totals", [])),
            scoreMap=None if error else np.asarray(fields["scoreMap"]),
            error=error or None,
            may_reject=bool(np.ravel(fields.get("matlab_may_reject", [0]))[0]),
            **common,
        )
    raise ValueError(f"crosscheck: {path} is not a reference case (its 'kind' is {kind!r}, not occlusion or imresize).")


# --- the R2019b imresize JSON (tests/data) -----------------------------------------------------


def _json_cases(path: Path) -> Iterator[ImresizeCase]:
    document = json.loads(path.read_text())
    if not {"inputs", "cases"} <= set(document):
        raise ValueError(f"crosscheck: {path} is not an imresize reference file (it needs 'inputs' and 'cases').")
    for entry in document["cases"]:
        yield ImresizeCase(
            name=entry["name"],
            source=path,
            about=document["inputs"][entry["input"]]["how"],
            matlab=document.get("source", ""),
            A=np.array(document["inputs"][entry["input"]]["A"], dtype=np.float64),
            method=entry["method"],
            output_size=tuple(float(item) for item in entry["size"]),
            scale=None,
            antialiasing=bool(entry["antialiasing"]),
            B=np.array(entry["expected"], dtype=np.float64),
        )
