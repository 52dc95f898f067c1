"""The matlab-occsens command on volumes (.npy, NIfTI) and signals (.npy, CSV): real files, real runs.

Linear probes (one convolution covering the whole input, tests/onnx_builders.py) have closed-form
maps; the map the command writes must be that map, and exactly the map ``occlusionSensitivity``
returns when called directly on the same fitted input. A NIfTI input's map reads back with nibabel
on the input's grid and affine; the pictures are the ones the picture functions draw of those maps;
every mistake is one line with exit status 2 and leaves nothing written.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import nibabel
import numpy as np
import onnx
import pytest
import scipy.io
from onnx_builders import clipped_ranges, expected_linear_map_nd, linear_model_nd

from matlab_occsens import importNetworkFromONNX, imread, imresize3, imwrite, occlusionSensitivity
from matlab_occsens._command.cli import main
from matlab_occsens._volumes_signals.pictures import signal_picture, volume_picture

ROOT = Path(__file__).resolve().parents[1]
AFFINE = np.array([[-2.0, 0.0, 0.0, 90.0], [0.0, 2.0, 0.0, -126.0], [0.0, 0.0, 2.5, -72.0], [0.0, 0.0, 0.0, 1.0]])
VOLUME = (8, 8, 8)
STEPS = 40
EXACT = ["--mask-size", "3", "--stride", "2", "--mask-value", "0", "--output-upsampling", "none"]


def volume_model(directory: Path, channels: int = 1, outputs: int = 3, seed: int = 0) -> tuple[str, np.ndarray]:
    weights = np.random.default_rng(seed).integers(-3, 4, size=(outputs, channels, *VOLUME)).astype(np.float32)
    onnx.save(linear_model_nd(weights, "BCSSS"), directory / "volume.onnx")
    return str(directory / "volume.onnx"), weights


def signal_model(directory: Path, layout: str = "BCT", seed: int = 1) -> tuple[str, np.ndarray]:
    weights = np.random.default_rng(seed).integers(-3, 4, size=(2, 3, STEPS)).astype(np.float32)
    onnx.save(linear_model_nd(weights, layout), directory / f"signal_{layout}.onnx")
    return str(directory / f"signal_{layout}.onnx"), weights


def integers(shape: tuple[int, ...], seed: int = 2) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 16, size=shape).astype(np.float32)


def run(*words: str) -> int:
    return main([str(word) for word in words])


# --- volumes ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["head.nii.gz", "head.nii", "head.npy"])
def test_a_volume_file_gives_the_closed_form_map_that_occlusion_sensitivity_gives(tmp_path, name):
    model, weights = volume_model(tmp_path)
    V = integers(VOLUME)
    if name.endswith(".npy"):
        np.save(tmp_path / name, V)
    else:
        nibabel.save(nibabel.Nifti1Image(V, AFFINE), tmp_path / name)
    assert run(model, tmp_path / name, "--channel", "2", *EXACT, "--out", tmp_path / "out") == 0
    scoreMap = np.load(tmp_path / "out" / "head_scoreMap.npy")
    axes = [clipped_ranges(side, 3, 2) for side in VOLUME]
    expected = expected_linear_map_nd(weights, V[..., np.newaxis], np.zeros(1), axes)[..., 1]
    assert scoreMap.shape == (4, 4, 4) and scoreMap.dtype == np.float32
    np.testing.assert_array_equal(scoreMap, expected)  # small integers: float32 is exact
    direct = occlusionSensitivity(
        importNetworkFromONNX(model), V, 2, MaskSize=3, Stride=2, MaskValue=0, OutputUpsampling="none"
    )
    np.testing.assert_array_equal(scoreMap, direct)
    stored = scipy.io.loadmat(tmp_path / "out" / "head_scoreMap.mat")
    np.testing.assert_array_equal(stored["scoreMap"], scoreMap)
    assert stored["channelIdx"].tolist() == [[2.0]]
    written = sorted(path.name for path in (tmp_path / "out").iterdir())
    nifti = [f"head_scoreMap.{name.split('.', 1)[1]}"] if "nii" in name else []
    assert written == sorted(["head_scoreMap.npy", "head_scoreMap.mat", "head_montage.png", *nifti])


def test_a_nifti_of_another_size_is_resized_and_its_map_written_back_on_its_grid(tmp_path, capsys):
    model, _ = volume_model(tmp_path, channels=2)
    V = np.random.default_rng(3).random((10, 12, 9, 2)).astype(np.float32)
    image = nibabel.Nifti1Image(V, AFFINE)
    image.header.set_xyzt_units("mm")
    nibabel.save(image, tmp_path / "brain.nii.gz")
    out = tmp_path / "out"
    assert run(model, tmp_path / "brain.nii.gz", "--channel", "1", "3", "--mask-size", "4", "--out", out) == 0
    assert (
        "resized 10x12x9 to 8x8x8 with imresize3 (cubic), as an image is resized with imresize"
        in capsys.readouterr().err
    )
    X = np.stack([imresize3(V[..., channel], list(VOLUME)) for channel in range(2)], axis=3)
    scoreMap = np.load(out / "brain_scoreMap.npy")
    np.testing.assert_array_equal(scoreMap, occlusionSensitivity(importNetworkFromONNX(model), X, [1, 3], MaskSize=4))
    assert scoreMap.shape == (8, 8, 8, 2)
    back = nibabel.load(out / "brain_scoreMap.nii.gz")
    np.testing.assert_array_equal(back.affine, AFFINE)
    assert back.shape == (10, 12, 9, 2) and back.header.get_xyzt_units()[0] == "mm"
    for channel in range(2):  # bicubic upsampling: back to the input's grid with imresize3's cubic
        np.testing.assert_array_equal(back.get_fdata()[..., channel], imresize3(scoreMap[..., channel], [10, 12, 9]))
    for position, channel in enumerate((1, 3)):  # one montage per channel, over the first channel of X
        expected = volume_picture(X[..., 0], scoreMap[..., position])
        np.testing.assert_array_equal(imread(out / f"brain_montage_{channel}.png"), expected)


def test_a_grid_map_of_a_nifti_goes_back_to_its_grid_with_nearest(tmp_path):
    model, _ = volume_model(tmp_path)
    nibabel.save(nibabel.Nifti1Image(integers((12, 8, 8)), AFFINE), tmp_path / "v.nii")
    assert run(model, tmp_path / "v.nii", "--channel", "1", *EXACT, "--out", tmp_path) == 0
    grid = np.load(tmp_path / "v_scoreMap.npy")
    back = nibabel.load(tmp_path / "v_scoreMap.nii")
    assert grid.shape == (4, 4, 4) and back.shape == (12, 8, 8)
    np.testing.assert_array_equal(back.get_fdata(), imresize3(grid, [12, 8, 8], "nearest"))


def test_without_a_channel_a_volumes_top_class_is_explained(tmp_path, capsys):
    model, weights = volume_model(tmp_path)
    V = integers(VOLUME)
    np.save(tmp_path / "v.npy", V)
    best = int(np.argmax(np.einsum("kcxyz,xyz->k", weights.astype(np.float64), V))) + 1
    assert run(model, tmp_path / "v.npy", *EXACT, "--out", tmp_path) == 0
    assert f"explaining the top class, channel {best}; choose others with --channel" in capsys.readouterr().out
    assert scipy.io.loadmat(tmp_path / "v_scoreMap.mat")["channelIdx"].tolist() == [[float(best)]]


# --- signals ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["BCT", "BTC"])
def test_a_csv_signal_gives_the_closed_form_map(tmp_path, layout):
    model, weights = signal_model(tmp_path, layout)
    X = integers((3, STEPS))  # C×T
    rows = "\n".join(",".join(f"{value:g}" for value in step) for step in X.T)  # T rows × C columns
    (tmp_path / "walk.csv").write_text("ax,ay,az\n" + rows + "\n")
    assert run(model, tmp_path / "walk.csv", "--channel", "2", *EXACT, "--out", tmp_path / "out") == 0
    scoreMap = np.load(tmp_path / "out" / "walk_scoreMap.npy")
    expected = expected_linear_map_nd(weights, X.T, np.zeros(3), [clipped_ranges(STEPS, 3, 2)])[..., 1]
    assert scoreMap.shape == (20,)
    np.testing.assert_array_equal(scoreMap, expected)
    direct = occlusionSensitivity(
        importNetworkFromONNX(model), X, 2, MaskSize=3, Stride=2, MaskValue=0, OutputUpsampling="none"
    )
    np.testing.assert_array_equal(scoreMap, direct)
    stored = scipy.io.loadmat(tmp_path / "out" / "walk_scoreMap.mat")["scoreMap"]
    assert stored.shape == (20, 1)  # a column: time steps down, as T×n maps are
    np.testing.assert_array_equal(stored[:, 0], scoreMap)
    np.testing.assert_array_equal(imread(tmp_path / "out" / "walk_plot.png"), signal_picture(X, scoreMap))


def test_a_npy_signal_with_two_channels_gives_one_plot_each(tmp_path):
    model, _ = signal_model(tmp_path)
    X = np.random.default_rng(5).standard_normal((3, STEPS))
    np.save(tmp_path / "ecg.npy", X)
    assert run(model, tmp_path / "ecg.npy", "--channel", "2", "1", "--out", tmp_path) == 0
    scoreMap = np.load(tmp_path / "ecg_scoreMap.npy")
    np.testing.assert_array_equal(scoreMap, occlusionSensitivity(importNetworkFromONNX(model), X, [2, 1]))
    assert scipy.io.loadmat(tmp_path / "ecg_scoreMap.mat")["scoreMap"].shape == (STEPS, 2)
    for position, channel in enumerate((2, 1)):
        picture = imread(tmp_path / f"ecg_plot_{channel}.png")
        np.testing.assert_array_equal(picture, signal_picture(X.astype(np.float32), scoreMap[:, position]))


def test_the_command_runs_as_a_program_on_a_nifti_volume(tmp_path):
    model, _ = volume_model(tmp_path)
    nibabel.save(nibabel.Nifti1Image(integers((9, 8, 8)), AFFINE), tmp_path / "scan.nii.gz")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "matlab_occsens",
            model,
            str(tmp_path / "scan.nii.gz"),
            "--channel",
            "2",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert "resized 9x8x8 to 8x8x8 with imresize3" in done.stderr and "8x8x8 = 512 masks" in done.stderr
    assert f"wrote {tmp_path / 'scan_scoreMap.nii.gz'}" in done.stdout
    assert nibabel.load(tmp_path / "scan_scoreMap.nii.gz").shape == (9, 8, 8)


def test_the_guides_command_line_example_runs_as_written_and_writes_what_it_says(tmp_path, monkeypatch):
    page = (ROOT / "docs" / "volumes-signals.md").read_text(encoding="utf-8")
    section = page[page.index("## From the command line") :]
    section = section[: section.index("\n## ")]
    (python,) = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    (shell,) = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)
    monkeypatch.chdir(tmp_path)
    exec(compile(python, "volumes-signals.md", "exec"), {"__name__": "__main__"})
    for line in shell.splitlines():
        program, *words = shlex.split(line)
        assert program == "matlab-occsens"
        done = subprocess.run(
            [sys.executable, "-m", "matlab_occsens", *words],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert done.returncode == 0, done.stderr
    head = nibabel.load(tmp_path / "head_scoreMap.nii.gz")
    assert head.shape == (40, 36, 30) and np.array_equal(head.affine, np.diag([2.0, 2.0, 2.0, 1.0]))
    assert np.load(tmp_path / "head_scoreMap.npy").shape == (32, 32, 32)
    assert scipy.io.loadmat(tmp_path / "walk_scoreMap.mat")["scoreMap"].shape == (200, 1)
    for picture in ("head_montage.png", "walk_plot.png"):
        assert imread(tmp_path / picture).ndim == 3


# --- mistakes -----------------------------------------------------------------------------------------


def bad_files(directory: Path) -> dict[str, Path]:
    np.save(directory / "two.npy", np.zeros((*VOLUME, 2), np.float32))
    np.save(directory / "first.npy", np.zeros((1, *VOLUME), np.float32))
    nan = np.zeros(VOLUME, np.float32)
    nan[1, 2, 3] = np.nan
    np.save(directory / "nan.npy", nan)
    objects = np.empty(VOLUME, object)
    np.save(directory / "objects.npy", objects, allow_pickle=True)
    nibabel.save(nibabel.Nifti1Image(np.zeros(VOLUME, np.float32), AFFINE), directory / "v.nii.gz")
    imwrite(np.zeros((8, 8), np.uint8), directory / "photo.png")
    (directory / "short.csv").write_text("a,b,c\n" + "1,2,3\n" * 30)
    (directory / "wide.csv").write_text("\n".join(",".join(["1"] * STEPS) for _ in range(3)) + "\n")
    np.save(directory / "tc.npy", np.zeros((STEPS, 3)))
    return {path.name: path for path in directory.iterdir()}


@pytest.mark.parametrize(
    "network, words, message",
    [
        ("volume", ["two.npy"], r"'.*two\.npy' has 2 channel\(s\) \(8x8x8x2\) but the network takes 1"),
        ("volume", ["first.npy"], r"has 8 channel\(s\) \(1x8x8x8\) but the network takes 1"),
        ("volume", ["nan.npy"], r"nan\.npy' contains NaN, Inf .*the first at index \(1, 2, 3\)"),
        ("volume", ["objects.npy"], r"objects\.npy' holds Python objects .*a file must not run code"),
        ("volume", ["photo.png"], r"a volume network reads \.npy, \.nii or \.nii\.gz files; got 'photo\.png'"),
        (
            "volume",
            ["v.nii.gz", "--max-image-bytes", "1K"],
            r"v\.nii\.gz' holds a 8x8x8 NIfTI volume, 2 KiB once read, more than the limit of 1 KiB",
        ),
        (
            "volume",
            ["v.nii.gz", "--channel-order", "BGR"],
            r"argument --channel-order: applies to image networks; .*volume\.onnx takes a volume",
        ),
        ("volume", ["v.nii.gz", "--channel", "4"], r"channelIdx 4 is out of range: output 'scores' has 3 channels"),
        ("volume", ["missing.nii"], r"missing\.nii' does not exist or is not a file"),
        (  # the dataset form refuses what the single file refuses, from the suffix, before any work
            "volume",
            ["v.nii.gz", "photo.png", "--workers", "0"],
            r"a volume network reads \.npy, \.nii or \.nii\.gz files; got '.*photo\.png'",
        ),
        (
            "volume",
            ["v.nii.gz", "two.npy", "--workers", "0", "--channel-order", "BGR"],
            r"argument --channel-order: applies to image networks; .*volume\.onnx takes a volume",
        ),
        ("signal", ["short.csv", "v.nii.gz", "--workers", "0"], r"a signal network reads \.npy or \.csv files; got"),
        (
            "image",
            ["photo.png", "v.nii.gz", "--workers", "0"],
            r"takes 2-D images \(BCSS\), which are read from image files \(PNG, JPEG, TIFF, \.\.\.\); "
            r"'.*v\.nii\.gz' is for volume or signal networks",
        ),
        (
            "signal",
            ["short.csv"],
            r"short\.csv' has 30 time steps and the network takes 3 feature\(s\) x 40 time steps .*does not "
            r"resample signals: crop or resample it to 40 steps, or, for a network that takes any length, give "
            r"--input-size 3 30\.",
        ),
        (
            "signal",
            ["wide.csv"],
            r"wide\.csv' is 40x3 \(CxT\) .*its rows must be time steps and its columns features: transpose the table\.",
        ),
        (
            "signal",
            ["tc.npy"],
            r"tc\.npy' is 40x3 \(CxT\) .*it looks like TxC \(time steps first\); signals are CxT: save X\.T\.",
        ),
        ("signal", ["v.nii.gz"], r"a signal network reads \.npy or \.csv files; got 'v\.nii\.gz'"),
        (
            "image",
            ["v.nii.gz"],
            r"takes 2-D images \(BCSS\), which are read from image files \(PNG, JPEG, TIFF, \.\.\.\); "
            r"'.*v\.nii\.gz' is for volume or signal networks",
        ),
    ],
)
def test_every_mistake_is_one_line_with_status_2_and_nothing_written(tmp_path, capsys, network, words, message):
    files = bad_files(tmp_path)
    if network == "volume":
        model, _ = volume_model(tmp_path)
    elif network == "signal":
        model, _ = signal_model(tmp_path)
    else:
        model = str(tmp_path / "image.onnx")
        onnx.save(linear_model_nd(np.ones((2, 3, 8, 8), np.float32), "BCSS"), model)
    given = [
        str(files.get(word, tmp_path / word)) if word.endswith((".npy", ".nii", ".gz", ".csv", ".png")) else word
        for word in words
    ]
    assert run(model, *given, "--out", tmp_path / "out") == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("matlab-occsens: error: "), captured.err
    assert re.search(message, lines[0]), lines[0]
    assert not (tmp_path / "out").exists()


def test_without_nibabel_a_nifti_names_the_volumes_extra(tmp_path, capsys, monkeypatch):
    model, _ = volume_model(tmp_path)
    files = bad_files(tmp_path)
    monkeypatch.setitem(sys.modules, "nibabel", None)
    assert run(model, files["v.nii.gz"], "--out", tmp_path / "out") == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert (
        "reading NIfTI volumes needs nibabel, in the [volumes] extra: " in line and "[volumes]" in line.split(":")[-1]
    )
    assert run(model, files["two.npy"].with_name("nan.npy"), "--out", tmp_path / "out") == 2  # .npy needs no nibabel
    assert "contains NaN" in capsys.readouterr().err
