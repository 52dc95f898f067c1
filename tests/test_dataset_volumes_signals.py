"""Dataset jobs of volumes (.npy, NIfTI) and signals (.npy, CSV): real files, a real LocalCluster of
worker processes, real stores on disk, the command as a user runs it.

Linear probes (one convolution over the whole input, tests/onnx_builders.py) have closed-form maps:
every stored map must be that map, and exactly what ``occlusionSensitivity`` returns for the same
fitted item. The store's guarantees are the image job's: resume bit-identical, damage found and
computed again, a wrong file refused or failed with the single-file command's words.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import scipy.io
from dataset_parts import command, environment
from onnx_builders import clipped_ranges, expected_linear_map_nd, linear_model_nd

from matlab_occsens import importNetworkFromONNX, imread, imresize3, imwrite, occlusionSensitivity
from matlab_occsens._volumes_signals.pictures import signal_picture, volume_picture

nibabel = pytest.importorskip("nibabel", reason='needs the volumes extra: pip install -e ".[volumes]"')
zarr = pytest.importorskip("zarr", reason='needs the datasets extra: pip install -e ".[datasets]"')
pytest.importorskip("distributed", reason='needs the datasets extra: pip install -e ".[datasets]"')

from matlab_occsens.datasets import (  # noqa: E402
    imageDatastore,
    occlusionSensitivityDataset,
    occlusionSensitivityMaps,
    storeToMat,
)
from matlab_occsens.datasets._job import local_cluster  # noqa: E402
from matlab_occsens.datasets._store import STORE_NAME  # noqa: E402

VOLUME = (8, 8, 8)
FEATURES, STEPS = 3, 40
AFFINE = np.array([[-2.0, 0.0, 0.0, 90.0], [0.0, 2.0, 0.0, -126.0], [0.0, 0.0, 2.5, -72.0], [0.0, 0.0, 0.0, 1.0]])
EXACT = {"MaskSize": 3, "Stride": 2, "MaskValue": 0, "OutputUpsampling": "none"}
EXACT_FLAGS = ["--mask-size", "3", "--stride", "2", "--mask-value", "0", "--output-upsampling", "none"]


def integers(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 16, size=shape).astype(np.float32)


@pytest.fixture(scope="module")
def volume_net(tmp_path_factory) -> tuple[str, np.ndarray]:
    weights = np.random.default_rng(0).integers(-3, 4, size=(3, 1, *VOLUME)).astype(np.float32)
    path = tmp_path_factory.mktemp("models") / "volume.onnx"
    onnx.save(linear_model_nd(weights, "BCSSS"), path)
    return str(path), weights


@pytest.fixture(scope="module")
def signal_net(tmp_path_factory) -> tuple[str, np.ndarray]:
    weights = np.random.default_rng(1).integers(-3, 4, size=(2, FEATURES, STEPS)).astype(np.float32)
    path = tmp_path_factory.mktemp("models") / "signal.onnx"
    onnx.save(linear_model_nd(weights, "BTC"), path)  # channels last inside: X is still C×T
    return str(path), weights


@pytest.fixture(scope="module")
def client():
    """A real LocalCluster of two one-thread worker processes (the job's own), shared here."""
    with local_cluster(2) as connected:
        yield connected


def volumes(folder: Path) -> dict[str, np.ndarray]:
    """Four volumes as files of every kind a volume network reads; the NIfTI ones carry AFFINE.
    Returns each file's name and the S1×S2×S3 X the network is given."""
    folder.mkdir(parents=True, exist_ok=True)
    given = {name: integers(VOLUME, seed) for seed, name in enumerate(["a.npy", "b.nii.gz", "c.nii", "d.npy"])}
    for name, V in given.items():
        if name.endswith(".npy"):
            np.save(folder / name, V)
        else:
            nibabel.save(nibabel.Nifti1Image(V, AFFINE), folder / name)
    (folder / "notes.txt").write_text("not a volume: a folder lists the volume files only")
    return given


def signals(folder: Path) -> dict[str, np.ndarray]:
    """Three signals, .npy (C×T) and CSV (T rows × C columns, with a header); each name and its C×T X."""
    folder.mkdir(parents=True, exist_ok=True)
    given = {name: integers((FEATURES, STEPS), seed) for seed, name in enumerate(["s0.npy", "s1.csv", "s2.csv"], 10)}
    for name, X in given.items():
        if name.endswith(".npy"):
            np.save(folder / name, X)
        else:
            lines = ["x,y,z", *(",".join(f"{value:g}" for value in row) for row in X.T)]
            (folder / name).write_text("\n".join(lines) + "\n")
    return given


def closed_form(weights: np.ndarray, observation: np.ndarray, channel: int) -> np.ndarray:
    """The raw map (MaskSize 3, Stride 2, MaskValue 0) of the linear probe, channels-last input."""
    axes = [clipped_ranges(side, 3, 2) for side in observation.shape[:-1]]
    return expected_linear_map_nd(weights, observation.astype(np.float64), np.zeros(1), axes)[..., channel - 1]


# ------------------------------------------------------------------ the Python API


def test_volume_files_on_a_cluster_store_the_closed_form_maps_with_named_dimensions(volume_net, client, tmp_path):
    model, weights = volume_net
    given = volumes(tmp_path / "volumes")
    out = tmp_path / "out"
    summary = occlusionSensitivityDataset(
        model, tmp_path / "volumes", [2, 3], out=out, client=client, progress=False, **EXACT
    )
    assert (summary.total, summary.computed, summary.failures) == (4, 4, {})
    group = zarr.open_group(str(out / STORE_NAME), mode="r")
    assert [Path(name).name for name in group.attrs["job"]["images"]] == sorted(given)
    assert group.attrs["job"]["input"] == "volume" and group.attrs["format"] == 2
    net = importNetworkFromONNX(model)
    for index, V in enumerate(given[name] for name in sorted(given)):
        stored = group["maps"][index]
        assert stored.shape == (4, 4, 4, 2)
        direct = occlusionSensitivity(net, V, [2, 3], **EXACT)
        np.testing.assert_array_equal(stored, direct)
        for position, channel in enumerate((2, 3)):  # small integers: float32 is exact
            np.testing.assert_array_equal(stored[..., position], closed_form(weights, V[..., np.newaxis], channel))
    xr = pytest.importorskip("xarray")
    ds = xr.open_zarr(out / STORE_NAME, consolidated=False)
    assert ds["maps"].dims == ("image", "s1", "s2", "s3", "channel")
    np.testing.assert_array_equal(ds["maps"].values, group["maps"][:])
    again = occlusionSensitivityDataset(
        model, tmp_path / "volumes", [2, 3], out=out, client=client, progress=False, **EXACT
    )
    assert (again.computed, again.skipped) == (0, 4)
    rewritten = integers(VOLUME, 99)
    np.save(tmp_path / "volumes" / "a.npy", rewritten)  # another size on disk: the stamp differs
    changed = occlusionSensitivityDataset(
        model, tmp_path / "volumes", [2, 3], out=out, client=client, progress=False, **EXACT
    )
    assert (changed.computed, changed.changed) == (1, [0])
    np.testing.assert_array_equal(group["maps"][0], occlusionSensitivity(net, rewritten, [2, 3], **EXACT))
    with pytest.raises(ValueError, match=r"ChannelOrder applies to image networks .* takes a volume, .*got .BGR."):
        occlusionSensitivityDataset(model, tmp_path / "volumes", 1, out=out, workers=0, ChannelOrder="BGR")


def test_a_volume_of_another_size_is_resized_with_imresize3_as_the_command_resizes_it(volume_net, tmp_path):
    model, _ = volume_net
    V = np.random.default_rng(5).random((10, 12, 9)).astype(np.float32)
    nibabel.save(nibabel.Nifti1Image(V, AFFINE), tmp_path / "big.nii.gz")
    net = importNetworkFromONNX(model)
    (scoreMap,) = occlusionSensitivityMaps(net, [tmp_path / "big.nii.gz"], 1, MaskSize=4)
    np.testing.assert_array_equal(scoreMap, occlusionSensitivity(net, imresize3(V, list(VOLUME)), 1, MaskSize=4))
    assert scoreMap.shape == VOLUME


def test_volume_arrays_a_list_or_a_matlab_stack(volume_net):
    model, _ = volume_net
    net = importNetworkFromONNX(model)
    given = [integers(VOLUME, seed) for seed in range(3)]
    stack = np.stack([V[..., np.newaxis] for V in given], axis=4)  # S1×S2×S3×C×N
    for source in (given, stack):
        maps = list(occlusionSensitivityMaps(net, source, 1, **EXACT))
        for scoreMap, V in zip(maps, given):
            np.testing.assert_array_equal(scoreMap, occlusionSensitivity(net, V, 1, **EXACT))
    with pytest.raises(ValueError, match=r"several volumes must be S1×S2×S3×C×N .*got shape \(8, 8, 8, 1\)"):
        list(occlusionSensitivityMaps(net, stack[..., 0], 1))
    with pytest.raises(TypeError, match=r"volume 1 must be a real numeric S1×S2×S3 or S1×S2×S3×C array"):
        list(occlusionSensitivityMaps(net, [np.zeros((8, 8))], 1))


def test_signal_files_store_the_closed_form_maps_and_export_as_t_by_n(signal_net, client, tmp_path):
    model, weights = signal_net
    given = signals(tmp_path / "signals")
    out = tmp_path / "out"
    job = {"out": out, "client": client, "progress": False}
    summary = occlusionSensitivityDataset(model, tmp_path / "signals", 2, **job, **EXACT)
    assert (summary.computed, summary.failures) == (3, {})
    group = zarr.open_group(str(out / STORE_NAME), mode="r")
    net = importNetworkFromONNX(model)
    ordered = [given[name] for name in sorted(given)]
    for index, X in enumerate(ordered):
        np.testing.assert_array_equal(group["maps"][index], occlusionSensitivity(net, X, 2, **EXACT))
        np.testing.assert_array_equal(group["maps"][index], closed_form(weights, X.T, 2))
    xr = pytest.importorskip("xarray")
    assert xr.open_zarr(out / STORE_NAME, consolidated=False)["maps"].dims == ("image", "time")
    saved = scipy.io.loadmat(storeToMat(out, tmp_path / "v5.mat"))
    assert saved["scoreMap"].shape == (20, 3)  # T×N, as MATLAB stacks one map per column
    np.testing.assert_array_equal(saved["scoreMap"], group["maps"][:].T)
    h5py = pytest.importorskip("h5py")
    with h5py.File(storeToMat(out, tmp_path / "v73.mat", Format="7.3"), "r") as mat:
        assert mat["scoreMap"].shape == (3, 20)  # MATLAB's 20×3, reversed as HDF5 stores it
        np.testing.assert_array_equal(mat["scoreMap"][:], group["maps"][:])


def test_volume_stores_export_as_matlab_stacks(volume_net, tmp_path):
    model, _ = volume_net
    volumes(tmp_path / "volumes")
    out = tmp_path / "out"
    occlusionSensitivityDataset(model, tmp_path / "volumes", [1, 3], out=out, workers=0, progress=False, **EXACT)
    maps = zarr.open_group(str(out / STORE_NAME), mode="r")["maps"][:]
    saved = scipy.io.loadmat(storeToMat(out, tmp_path / "v5.mat"))
    assert saved["scoreMap"].shape == (4, 4, 4, 2, 4)  # S1×S2×S3×n×N
    np.testing.assert_array_equal(saved["scoreMap"], np.moveaxis(maps, 0, -1))
    h5py = pytest.importorskip("h5py")
    with h5py.File(storeToMat(out, tmp_path / "v73.mat", Format="7.3"), "r") as mat:
        np.testing.assert_array_equal(np.transpose(mat["scoreMap"][:]), np.moveaxis(maps, 0, -1))


def test_a_store_of_volumes_is_refused_for_a_job_of_signals_naming_the_kinds(volume_net, signal_net, tmp_path):
    from matlab_occsens.datasets._store import StoreMismatch

    volumes(tmp_path / "volumes")
    signals(tmp_path / "signals")
    out = tmp_path / "out"
    occlusionSensitivityDataset(volume_net[0], tmp_path / "volumes", 1, out=out, workers=0, progress=False, **EXACT)
    before = sorted(path.stat().st_mtime_ns for path in out.rglob("*"))
    with pytest.raises(StoreMismatch, match=r"the kind of input \(volumes in the store, signals now\)"):
        occlusionSensitivityDataset(signal_net[0], tmp_path / "signals", 1, out=out, workers=0, progress=False)
    assert sorted(path.stat().st_mtime_ns for path in out.rglob("*")) == before


def test_a_file_of_another_kind_is_refused_up_front_or_failed_with_the_single_file_words(volume_net, tmp_path):
    model, _ = volume_net
    given = volumes(tmp_path / "volumes")
    imwrite(np.zeros((8, 8), np.uint8), tmp_path / "photo.png")
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"a volume network reads \.npy, \.nii or \.nii\.gz files; got '.*photo\.png'"):
        occlusionSensitivityDataset(
            model, [tmp_path / "volumes" / "a.npy", tmp_path / "photo.png"], 1, out=out, workers=0, progress=False
        )
    assert not out.exists()  # refused before anything was written
    np.save(tmp_path / "volumes" / "flat.npy", np.zeros((8, 8), np.float32))  # a .npy, but not a volume
    summary = occlusionSensitivityDataset(model, tmp_path / "volumes", 1, out=out, workers=0, progress=False)
    flat = sorted([*given, "flat.npy"]).index("flat.npy")
    assert summary.computed == 4 and list(summary.failures) == [flat]
    assert "holds a 2-D array (8x8); a volume is S1xS2xS3 or S1xS2xS3xC" in summary.failures[flat]


def test_without_nibabel_nifti_volumes_are_refused_once_naming_the_volumes_extra(volume_net, tmp_path, monkeypatch):
    model, _ = volume_net
    volumes(tmp_path / "volumes")
    monkeypatch.setitem(sys.modules, "nibabel", None)
    with pytest.raises(ImportError, match=r"reading NIfTI volumes needs nibabel, in the \[volumes\] extra"):
        occlusionSensitivityDataset(model, tmp_path / "volumes", 1, out=tmp_path / "out", workers=0, progress=False)
    assert not (tmp_path / "out").exists()
    maps = list(occlusionSensitivityMaps(importNetworkFromONNX(model), tmp_path / "volumes" / "*.npy", 1))
    assert len(maps) == 2  # .npy volumes need no nibabel


def test_a_folder_lists_the_networks_kind_and_a_datastore_takes_double_suffixes(volume_net, tmp_path):
    volumes(tmp_path / "volumes")
    imds = imageDatastore(tmp_path / "volumes", FileExtensions=[".nii.gz", ".nii"])
    assert [Path(name).name for name in imds.Files] == ["b.nii.gz", "c.nii"]
    model, _ = volume_net
    maps = list(occlusionSensitivityMaps(importNetworkFromONNX(model), imds, 1, **EXACT))
    assert len(maps) == 2


def test_an_image_jobs_record_is_unchanged_so_image_stores_written_before_resume(tmp_path):
    from dataset_parts import images, write_model

    model = write_model(tmp_path / "linear.onnx")
    for index, picture in enumerate(images(2)):
        imwrite(picture, tmp_path / f"{index}.png")
    out = tmp_path / "out"
    occlusionSensitivityDataset(model, tmp_path / "*.png", 1, out=out, workers=0, progress=False)
    group = zarr.open_group(str(out / STORE_NAME), mode="r")
    assert sorted(group.attrs["job"]) == ["channels", "images", "map_shape", "model_sha256", "options"]
    assert group["maps"].metadata.dimension_names == ("image", "row", "column")


#: Run in a process of its own: tracemalloc counts every thread's allocations, and a Dask client
#: left running by an earlier test allocates in the background for as long as a measurement lasts.
MEMORY_SCRIPT = """
import sys, tracemalloc
from matlab_occsens import importNetworkFromONNX
from matlab_occsens.datasets import imageDatastore, occlusionSensitivityMaps

net = importNetworkFromONNX(sys.argv[1])

def peak(count):
    listed = imageDatastore([sys.argv[2]] * count, FileExtensions=".npy")  # the list itself is the caller's
    tracemalloc.start()
    for _ in occlusionSensitivityMaps(net, listed, [1, 2], MaskSize=4, Stride=4, MiniBatchSize=8):
        pass
    top = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return top

peak(2)  # sessions and caches built
# the least of two runs each (the batch-size search re-times sizes now and then); 32 volumes fill
# the stream's look-ahead already, so what 224 more add is what grows with their number
print(min(peak(32), peak(32)), min(peak(256), peak(256)))
"""


def test_memory_does_not_grow_with_the_number_of_volumes(volume_net, tmp_path):
    model, _ = volume_net
    np.save(tmp_path / "one.npy", integers(VOLUME, 3))
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, model, str(tmp_path / "one.npy")],
        capture_output=True,
        text=True,
        env=environment(),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    few, many = map(int, done.stdout.split())
    assert many <= 1.1 * few + 64 * 1024, (few, many)


# ------------------------------------------------------------------ the command


def store_bytes(out: Path) -> dict[str, bytes]:
    """Every file of the store but the two that hold its job id (drawn anew for every store)."""
    root = out / STORE_NAME
    skipped = ("zarr.json", "status/zarr.json")
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and str(path.relative_to(root)) not in skipped
    }


def chunk(out: Path, array: str, index: int) -> Path:
    found = out / STORE_NAME / array / "c" / str(index)
    return found if found.is_file() else next(path for path in found.rglob("*") if path.is_file())


def test_the_command_resumes_a_partial_volume_store_bit_identical_and_recomputes_a_damaged_chunk(volume_net, tmp_path):
    model, _ = volume_net
    volumes(tmp_path / "volumes")
    words = [model, str(tmp_path / "volumes"), "--channel", "2", *EXACT_FLAGS]
    out, clean = tmp_path / "out", tmp_path / "clean"
    first = command(*words, "--workers", "2", "--out", str(out))
    stdout, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    assert "wrote" in stdout and "4 maps computed" in stdout
    reference = command(*words, "--workers", "0", "--out", str(clean))
    assert reference.wait(300) == 0
    assert store_bytes(out) == store_bytes(clean)
    for index in (1, 3):  # as a crash leaves it: maps written, completion records not
        chunk(out, "status", index).unlink()
    target = chunk(out, "maps", 2)
    data = target.read_bytes()
    target.write_bytes(data[:3] + bytes([data[3] ^ 0x10]) + data[4:])
    rerun = command(*words, "--workers", "1", "--out", str(out))
    stdout, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr
    assert "volume 2 (" in stderr and "its maps chunk fails its checksum" in stderr and "computed again" in stderr
    assert "resumed: 1 of 4 volumes were already complete" in stderr
    assert store_bytes(out) == store_bytes(clean)


def test_the_commands_overlays_are_montages_and_nifti_maps_on_each_inputs_grid(volume_net, tmp_path):
    model, _ = volume_net
    folder = tmp_path / "volumes"
    volumes(folder)
    big = np.random.default_rng(6).random((10, 12, 9)).astype(np.float32)
    nibabel.save(nibabel.Nifti1Image(big, AFFINE), folder / "e.nii.gz")
    out = tmp_path / "out"
    words = [model, str(folder), "--channel", "1", "3", "--mask-size", "4", "--workers", "0", "--out", str(out)]
    done = command(*words, "--overlays", "--overview", "--mat")
    stdout, stderr = done.communicate(timeout=300)
    assert done.returncode == 0, stderr
    group = zarr.open_group(str(out / STORE_NAME), mode="r")
    names = [Path(name).name for name in group.attrs["job"]["images"]]
    assert names == ["a.npy", "b.nii.gz", "c.nii", "d.npy", "e.nii.gz"]
    written = sorted(path.name for path in (out / "overlays").iterdir())
    montages = [f"{index:05d}_{stem}_{channel}.png" for index, stem in enumerate("abcde") for channel in (1, 3)]
    niftis = ["00001_b_scoreMap.nii.gz", "00002_c_scoreMap.nii", "00004_e_scoreMap.nii.gz"]
    assert written == sorted(montages + niftis)
    X = imresize3(big, list(VOLUME))
    scoreMap = group["maps"][4]
    np.testing.assert_array_equal(scoreMap, occlusionSensitivity(importNetworkFromONNX(model), X, [1, 3], MaskSize=4))
    back = nibabel.load(out / "overlays" / "00004_e_scoreMap.nii.gz")
    np.testing.assert_array_equal(back.affine, AFFINE)
    assert back.shape == (10, 12, 9, 2)
    for position, channel in enumerate((1, 3)):  # bicubic: back on the input's grid with imresize3's cubic
        np.testing.assert_array_equal(back.get_fdata()[..., position], imresize3(scoreMap[..., position], [10, 12, 9]))
        montage = imread(out / "overlays" / f"00004_e_{channel}.png")
        np.testing.assert_array_equal(montage, volume_picture(X, scoreMap[..., position]))
    same_grid = nibabel.load(out / "overlays" / "00001_b_scoreMap.nii.gz")
    np.testing.assert_array_equal(same_grid.get_fdata(), group["maps"][1])
    np.testing.assert_array_equal(same_grid.affine, AFFINE)
    assert imread(out / "overview.png").ndim == 3 and (out / "occlusion.mat").is_file()


def test_the_command_plots_each_signal_with_its_map(signal_net, tmp_path):
    model, _ = signal_net
    given = signals(tmp_path / "signals")
    out = tmp_path / "out"
    words = [model, str(tmp_path / "signals" / "*"), "--channel", "1", *EXACT_FLAGS, "--workers", "0"]
    done = command(*words, "--out", str(out), "--overlays")
    stdout, stderr = done.communicate(timeout=300)
    assert done.returncode == 0, stderr
    assert "3 signals into" in stderr
    group = zarr.open_group(str(out / STORE_NAME), mode="r")
    for index, name in enumerate(sorted(given)):
        stem = name.split(".")[0]
        plot = imread(out / "overlays" / f"{index:05d}_{stem}_1.png")
        np.testing.assert_array_equal(plot, signal_picture(given[name], group["maps"][index]))


def test_the_guides_example_runs_as_written_and_writes_what_it_says(tmp_path, monkeypatch, capsys):
    pytest.importorskip("torch")
    page = (Path(__file__).resolve().parents[1] / "docs" / "volumes-signals.md").read_text(encoding="utf-8")
    section = page[page.index("## Many volumes or signals") :]
    section = section[: section.index("\n## ")] if "\n## " in section else section
    (python,) = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    (shell,) = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)
    monkeypatch.chdir(tmp_path)
    exec(compile(python, "volumes-signals.md", "exec"), {"__name__": "__main__"})
    assert capsys.readouterr().out.splitlines()[0] == "5 {}"
    program, *words = shlex.split(shell.strip())
    assert program == "matlab-occsens"
    done = command(*words, cwd=tmp_path)
    stdout, stderr = done.communicate(timeout=300)
    assert done.returncode == 0, stderr
    api = zarr.open_group(str(tmp_path / "results" / STORE_NAME), mode="r")["maps"][:]
    np.testing.assert_array_equal(
        zarr.open_group(str(tmp_path / "results-command" / STORE_NAME), mode="r")["maps"][:], api
    )
    back = nibabel.load(tmp_path / "results-command" / "overlays" / "00000_scan0_scoreMap.nii.gz")
    assert back.shape == (20, 20, 18) and np.array_equal(back.affine, np.diag([2.0, 2.0, 2.0, 1.0]))
    assert imread(tmp_path / "results-command" / "overlays" / "00000_scan0_2.png").ndim == 3
