"""The parts of the cross-check kit that MATLAB shares with Python: the .m files, the case
matrix, the probe networks and the case images."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from compat.probe import channel_count, probe_model, probe_weights, weight_shapes
from compat.synthetic import CASES_FILE, pattern_image
from matlab_occsens import importNetworkFromONNX, occlusionSensitivity
from matlab_occsens._core.options import DEFAULTS

ROOT = Path(__file__).resolve().parents[1]


def m_files() -> list[Path]:
    """Every MATLAB file of the project (hidden folders and virtual environments left out)."""
    skipped = {"venv", "site-packages", "node_modules"}
    return sorted(
        path
        for path in ROOT.rglob("*.m")
        if not any(part.startswith(".") or part in skipped for part in path.relative_to(ROOT).parts)
    )


@pytest.mark.parametrize("tool", ["miss_hit_core.mh_style", "miss_hit.mh_lint"])
def test_the_matlab_files_pass_miss_hit(tool):
    pytest.importorskip(tool.split(".")[0], reason="needs miss_hit (the test extra)")
    files = m_files()
    assert ROOT / "compat" / "matlab" / "make_references.m" in files
    run = subprocess.run([sys.executable, "-m", tool, *map(str, files)], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0 and f"{len(files)} file(s) analysed, everything seems fine" in run.stdout, run.stdout


def test_the_case_matrix_reads_as_struct_arrays_in_matlab():
    """jsondecode makes a struct array only when every object has the same fields in the same order."""
    matrix = json.loads(CASES_FILE.read_text())
    for kind in ("occlusion", "imresize"):
        assert len({tuple(entry) for entry in matrix[kind]}) == 1
    names = [entry["name"] for kind in ("occlusion", "imresize") for entry in matrix[kind]]
    assert len(names) == len(set(names))


def test_every_occlusion_case_is_well_formed():
    for spec in json.loads(CASES_FILE.read_text())["occlusion"]:
        assert set(spec["options"]) <= set(DEFAULTS) - {"Verbose"}, spec["name"]
        assert spec["output"] in {"probe", "pixels"} if spec["probe"] == "rowcol" else spec["output"] == "time"
        count = channel_count(tuple(spec["size"]), spec["output"])
        assert spec["channels"] == "all" or max(spec["channels"]) <= count, spec["name"]


def test_the_case_images_follow_the_documented_pattern():
    X = pattern_image([3, 4, 2], "integer", "uint8")
    assert X.dtype == np.uint8 and X.shape == (3, 4, 2)
    assert X[0, 0, 0] == (7 + 13 + 29) % 251 + 1 and X[2, 3, 1] == (21 + 52 + 58) % 251 + 1
    fraction = pattern_image([3, 4, 2], "fraction", "single")
    assert fraction.dtype == np.float32 and fraction[0, 0, 0] == 50 + (1 + 2 + 3) % 4 / 4
    assert pattern_image([5, 6, 1], "integer", "single").shape == (5, 6)  # MATLAB drops the last 1
    assert pattern_image([5, 6], "integer", "double").shape == (5, 6)


@pytest.mark.parametrize("size", [(20, 24, 3), (6, 8, 1), (2, 2, 1), (9, 5, 2)])
def test_the_rowcol_probe_outputs_row_column_and_channel_sums(size):
    height, width, channels = size
    net = importNetworkFromONNX(probe_model(probe_weights(size, "rowcol"), size, "rowcol"), InputDataFormats="BCSS")
    X = pattern_image(list(size), "integer", "single").reshape(size)
    expected = np.concatenate([X.sum(axis=(1, 2)), X.sum(axis=(0, 2)), X.sum(axis=(0, 1))])
    whole = dict(MaskValue=0, MaskSize=2 * max(size), Stride=max(size), OutputUpsampling="none")  # one mask
    everything = occlusionSensitivity(net, X, np.arange(1, channel_count(size, "probe") + 1), **whole)
    np.testing.assert_array_equal(everything.reshape(-1), expected)
    net.OutputNames = ["pixels"]
    assert net.OutputDataFormats == ["BCSS"]
    planes = occlusionSensitivity(net, X, np.arange(1, channels + 1), **whole)
    np.testing.assert_array_equal(planes.reshape(-1), X.sum(axis=(0, 1)))


def test_the_rowtime_probe_has_a_time_axis():
    size = (12, 10, 3)
    net = importNetworkFromONNX(probe_model(probe_weights(size, "rowtime"), size, "rowtime"), InputDataFormats="BCSS")
    net.OutputDataFormats = "BCT"
    X = pattern_image(list(size), "integer", "single")
    one_column = occlusionSensitivity(
        net, X, np.arange(1, 13), MaskValue=0, MaskSize=[24, 1], Stride=[12, 20], OutputUpsampling="none"
    )
    np.testing.assert_array_equal(one_column[0, 0], X[:, 0].sum(axis=1))


def matlab_saved(array: np.ndarray) -> np.ndarray:
    """The array as a .mat file from MATLAB holds it: trailing singleton dimensions dropped."""
    shape = list(array.shape)
    while len(shape) > 2 and shape[-1] == 1:
        shape.pop()
    return array.reshape(shape)


def test_weights_saved_by_matlab_lose_trailing_singletons_and_still_build_the_probe():
    size = (4, 3, 1)
    weights = probe_weights(size, "rowcol")
    assert {name: array.shape for name, array in weights.items()} == weight_shapes(size)
    saved = {name: matlab_saved(array) for name, array in weights.items()}
    assert saved["pixels"].shape == (1, 1) and saved["planes"].shape == (4, 3)
    same, original = probe_model(saved, size, "rowcol"), probe_model(weights, size, "rowcol")
    assert [init.raw_data for init in same.graph.initializer] == [init.raw_data for init in original.graph.initializer]
