"""A stand-in for MATLAB: the case matrix of ``cases.json`` computed from the formulas of docs/specification.md.

It writes the files ``make_references.m`` writes, with "MATLAB's" numbers computed straight from
the rules of docs/specification.md (mask positions by plain loops, the probe's activations in closed form, one
occluded copy per mask), never by calling ``occlusionSensitivity``. With ``flip`` one [assumed]
rule of docs/specification.md §8 is replaced by a plausible alternative, so the tests can check that the
cross-check notices and blames that rule. The imresize cases are left to the real MATLAB
references in ``compat/references``.

    python -m compat.synthetic OUT_FOLDER [--flip RULE]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import scipy.io

from matlab_occsens import imresize

from .probe import channel_count, probe_model, probe_weights

__all__ = ["FLIPS", "CASES_FILE", "case_matrix", "pattern_image", "emulate", "write_references", "main"]

CASES_FILE = Path(__file__).with_name("cases.json")

# Each [assumed] rule of docs/specification.md §8 and the alternative the synthetic "MATLAB" follows instead.
FLIPS = {
    "even-mask-before-centre": 'an even mask under "on" puts its extra row after the centre',
    "convert-before-occlusion": "X is occluded in its own class (uint8 rounds the fill), then converted",
    "auto-per-dimension": "both dimensions take their auto MaskSize and Stride from the height",
    "auto-raise-to-one": "auto values that round to 0 are an error",
    "time-summed": "a time axis is averaged, not summed",
    "output-single": "scoreMap is double",
    "mask-larger-off-error": 'a mask larger than the image under "off" gives an empty map, no error',
}


class EmulatedError(Exception):
    """What the synthetic MATLAB raises where its rules reject a call."""


def case_matrix() -> dict[str, Any]:
    return json.loads(CASES_FILE.read_text())


def pattern_image(size: list[int], pattern: str, class_name: str) -> np.ndarray:
    """The case image of cases.json, in MATLAB's shape (a trailing channel axis of 1 dropped)."""
    full = [*size, 1][:3]
    r, c, k = np.meshgrid(*(np.arange(1, n + 1) for n in full), indexing="ij")
    values = np.mod(7 * r + 13 * c + 29 * k, 251) + 1.0
    if pattern == "fraction":
        values += np.mod(r + 2 * c + 3 * k, 4) / 4
    dtype = {"single": np.float32, "double": np.float64, "uint8": np.uint8}[class_name]
    return values.astype(dtype)[..., 0] if full[2] == 1 else values.astype(dtype)


def _mround(value: float) -> int:
    return math.floor(value + 0.5)


def _auto(fraction: float, size: tuple[int, int], flip: str | None) -> list[int]:
    sizes = (size[0], size[0]) if flip == "auto-per-dimension" else size
    values = [_mround(fraction * n) for n in sizes]
    if 0 in values and flip == "auto-raise-to-one":
        raise EmulatedError(f"auto value {values} rounds to 0 on a {size[0]}x{size[1]} image")
    return [max(value, 1) for value in values]


def _pair(value: Any) -> list[int]:
    return [int(item) for item in np.broadcast_to(np.ravel(value), (2,))]


def _axis(size: int, mask: int, stride: int, clipping: bool, flip: str | None) -> list[tuple[int, int]]:
    """Covered rows (first, last), 1-based inclusive, for each mask along one dimension."""
    covered = []
    if clipping:
        before = mask // 2 if flip != "even-mask-before-centre" else (mask - 1) // 2
        centre = 1
        while centre <= size:
            first = centre - before
            covered.append((max(first, 1), min(first + mask - 1, size)))
            centre += stride
    else:
        top = 1
        while top + mask - 1 <= size:
            covered.append((top, top + mask - 1))
            top += stride
    return covered


def _probe_totals(image: np.ndarray, output: str, time_mean: bool = False) -> np.ndarray:
    """The probe's total activations in closed form: row, column and channel sums."""
    rows, cols, planes = image.sum(axis=(1, 2)), image.sum(axis=(0, 2)), image.sum(axis=(0, 1))
    if output == "pixels":
        return planes
    if output == "time":
        return rows / image.shape[1] if time_mean else rows
    return np.concatenate([rows, cols, planes])


def _fill(options: dict[str, Any], image: np.ndarray, integer_class: bool, flip: str | None) -> np.ndarray:
    channels = image.shape[2]
    given = options.get("MaskValue", "auto")
    fill = image.mean(axis=(0, 1)) if given == "auto" else np.broadcast_to(np.ravel(given), (channels,)).astype(float)
    if integer_class and flip == "convert-before-occlusion":
        fill = np.clip(np.floor(fill + 0.5), 0, 255)
    return fill


def _image(spec: dict[str, Any]) -> np.ndarray:
    """The case image as float64 H×W×C."""
    X = pattern_image(spec["size"], spec["pattern"], spec["class"])
    return X.astype(np.float64).reshape(spec["size"])


def emulate(spec: dict[str, Any], flip: str | None = None) -> np.ndarray:
    """The scoreMap of one occlusion case; raises EmulatedError where "MATLAB" does."""
    height, width = spec["size"][:2]
    image = _image(spec)
    options = spec["options"]
    output = spec["output"]
    mask = _pair(options["MaskSize"]) if "MaskSize" in options else _auto(0.2, (height, width), flip)
    stride = _pair(options["Stride"]) if "Stride" in options else _auto(0.1, (height, width), flip)
    clipping = options.get("MaskClipping", "on") == "on"
    channel_idx = _channels(spec)
    if not clipping and (mask[0] > height or mask[1] > width):
        if flip != "mask-larger-off-error":
            raise EmulatedError(f"MaskSize {mask} does not fit a {height}x{width} image")
        return np.zeros((0, 0), np.float32)
    rows = _axis(height, mask[0], stride[0], clipping, flip)
    cols = _axis(width, mask[1], stride[1], clipping, flip)
    fill = _fill(options, image, spec["class"] == "uint8", flip)
    time_mean = flip == "time-summed"
    reference = _probe_totals(image, output, time_mean)
    raw = np.empty((len(rows), len(cols), len(channel_idx)))
    for i, (r0, r1) in enumerate(rows):
        for j, (c0, c1) in enumerate(cols):
            occluded = image.copy()
            occluded[r0 - 1 : r1, c0 - 1 : c1, :] = fill
            raw[i, j] = (reference - _probe_totals(occluded, output, time_mean))[channel_idx - 1]
    scoreMap = raw.astype(np.float64 if flip == "output-single" else np.float32)
    method = options.get("OutputUpsampling", "bicubic")
    if method != "none":
        scoreMap = imresize(scoreMap, [height, width], method)
    return scoreMap[..., 0] if scoreMap.shape[2] == 1 else scoreMap


def _channels(spec: dict[str, Any]) -> np.ndarray:
    if spec["channels"] == "all":
        return np.arange(1, channel_count(tuple(spec["size"]), spec["output"]) + 1)
    return np.asarray(spec["channels"], dtype=np.int64)


def _record(spec: dict[str, Any], folder: Path, flip: str | None, with_onnx: bool) -> dict[str, Any]:
    size = tuple(spec["size"])
    weights = probe_weights(size, spec["probe"])
    onnx_file = ""
    if with_onnx and spec["probe"] == "rowcol":
        onnx_file = "probe_rowcol_{}x{}x{}.onnx".format(*size)
        onnx.save(probe_model(weights, size, "rowcol"), folder / onnx_file)
    options = dict(spec["options"], ExecutionEnvironment="cpu")
    if np.size(options.get("MaskValue", 0)) > 1:
        options["MaskValue"] = np.reshape(options["MaskValue"], (1, 1, -1))
    record = dict(
        kind="occlusion",
        name=spec["name"],
        about=spec["about"],
        matlab_version=f"synthetic (compat.synthetic{', flipped: ' + flip if flip else ''})",
        probe=spec["probe"],
        input_size=np.array(size, float),
        output=spec["output"],
        weights=weights,
        onnx_file=onnx_file,
        channelIdx=_channels(spec).astype(float)[np.newaxis],
        options=options,
        matlab_may_reject=spec["matlab_may_reject"],
        X=pattern_image(spec["size"], spec["pattern"], spec["class"]),
        totals=_probe_totals(_image(spec), spec["output"])[np.newaxis],
        error_identifier="",
        error_message="",
    )
    try:
        scoreMap = emulate(spec, flip)
    except EmulatedError as error:
        scoreMap = np.zeros((0, 0))
        record.update(error_identifier="synthetic:rejected", error_message=str(error))
    record.update(scoreMap=scoreMap, scoreMap_class=scoreMap.dtype.name)
    return record


def write_references(folder: str | Path, flip: str | None = None, with_onnx: bool = True) -> list[Path]:
    """Write one .mat file per occlusion case of cases.json (and the probes as ONNX) into ``folder``."""
    if flip is not None and flip not in FLIPS:
        raise ValueError(f"synthetic: flip must be one of {', '.join(FLIPS)}; got {flip!r}.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in case_matrix()["occlusion"]:
        path = folder / f"{spec['name']}.mat"
        scipy.io.savemat(path, _record(spec, folder, flip, with_onnx), do_compression=True)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m compat.synthetic", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="where to write the .mat (and .onnx) files")
    parser.add_argument("--flip", choices=sorted(FLIPS), help="follow the alternative to one [assumed] rule")
    arguments = parser.parse_args(argv)
    written = write_references(arguments.folder, arguments.flip)
    print(f"wrote {len(written)} synthetic reference cases to {arguments.folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
