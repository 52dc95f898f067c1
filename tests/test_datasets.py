"""Dataset jobs with real parts: a Zarr store on disk, a LocalCluster of worker processes, the
command as a user runs it. A whole-image linear network (tests/onnx_builders.py) keeps every map
known in closed form and the suite fast."""

from __future__ import annotations

import errno
import multiprocessing
import os
import signal
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from dataset_parts import BIAS, SIZE, WEIGHTS, command, completed, images, stored, top_class, write_model
from onnx_builders import clipped_ranges, expected_linear_map, linear_model

from matlab_occsens import importNetworkFromONNX, imwrite, occlusionSensitivity
from matlab_occsens.datasets import imageDatastore, occlusionSensitivityMaps
from matlab_occsens.image._fit import fit_image

zarr = pytest.importorskip("zarr", reason='needs the datasets extra: pip install -e ".[datasets]"')
distributed = pytest.importorskip("distributed", reason='needs the datasets extra: pip install -e ".[datasets]"')

from matlab_occsens.datasets import occlusionSensitivityDataset, storeToMat  # noqa: E402
from matlab_occsens.datasets._job import local_cluster  # noqa: E402
from matlab_occsens.datasets._store import STORE_NAME, MapStore, StoreIdentity, StoreMismatch  # noqa: E402


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    return write_model(tmp_path_factory.mktemp("model") / "linear.onnx")


@pytest.fixture(scope="module")
def net(model_file):
    return importNetworkFromONNX(model_file)


@pytest.fixture()
def folder(tmp_path) -> tuple[Path, list[np.ndarray]]:
    """Six PNGs in two labelled subfolders: cat/0..2.png, dog/3..5.png."""
    pictures = images(6)
    for index, picture in enumerate(pictures):
        label = "cat" if index < 3 else "dog"
        (tmp_path / "photos" / label).mkdir(parents=True, exist_ok=True)
        imwrite(picture, tmp_path / "photos" / label / f"{index}.png")
    return tmp_path / "photos", pictures


@pytest.fixture(scope="module")
def client():
    """The job's own embedded cluster (a real LocalCluster of two one-thread worker processes,
    forked from the package's fork server where there is one), shared by the tests of this file."""
    with local_cluster(2) as connected:
        yield connected


# ------------------------------------------------------------------ imageDatastore


def test_image_datastore_reads_folders_with_labels_as_matlab(folder):
    root, pictures = folder
    (root / "notes.txt").write_text("not an image")
    with pytest.raises(ValueError, match="no files with extensions"):
        imageDatastore(root)  # MATLAB's default leaves subfolders out
    imds = imageDatastore(root, IncludeSubfolders=True, LabelSource="foldernames")
    assert [Path(file).name for file in imds.Files] == [f"{index}.png" for index in range(6)]
    assert imds.Labels.tolist() == ["cat"] * 3 + ["dog"] * 3
    assert imds.countEachLabel() == {"cat": 3, "dog": 3}
    assert len(imds) == 6
    np.testing.assert_array_equal(imds.readimage(4), pictures[3])
    first = imds.read()
    np.testing.assert_array_equal(first, pictures[0])
    assert imds.subset([2, 6]).Labels.tolist() == ["cat", "dog"]
    assert len(imageDatastore(str(root / "*" / "*.png"))) == 6
    assert len(imageDatastore([root / "cat", root / "dog" / "5.png"])) == 4
    assert len(imageDatastore(root, "IncludeSubfolders", True, "FileExtensions", [".png", ".jpg"])) == 6


def test_image_datastore_errors_name_the_argument(folder):
    root, _ = folder
    with pytest.raises(ValueError, match="FileExtensions"):
        imageDatastore(root, FileExtensions="png")
    with pytest.raises(ValueError, match="no files with extensions .jpg"):
        imageDatastore(root, IncludeSubfolders=True, FileExtensions=".jpg")
    with pytest.raises(ValueError, match="neither a file nor a folder"):
        imageDatastore(root / "missing")
    with pytest.raises(ValueError, match=r"readimage: i must be an integer in 1\.\.3"):
        imageDatastore(root / "cat").readimage(0)
    with pytest.raises(TypeError, match="IncludeSubfolders"):
        imageDatastore(root, IncludeSubfolders="yes")


# ------------------------------------------------------------------ maps in this process


def test_maps_of_several_images_are_each_images_single_image_map(net):
    pictures = images(5)
    maps = list(occlusionSensitivityMaps(net, pictures, [3, 1], OutputUpsampling="none"))
    fill = [X.astype(np.float32).mean(axis=(0, 1)) for X in pictures]
    ranges = clipped_ranges(SIZE, 3, 2)
    for scoremap, X, mean in zip(maps, pictures, fill):
        np.testing.assert_array_equal(scoremap, occlusionSensitivity(net, X, [3, 1], OutputUpsampling="none"))
        expected = expected_linear_map(WEIGHTS, X.astype(np.float32), mean, ranges, ranges)[:, :, [2, 0]]
        np.testing.assert_allclose(scoremap, expected, rtol=1e-4, atol=1e-2)


def test_per_image_predicted_and_fitted_images(net):
    pictures = images(3, seed=5)
    per_image = list(occlusionSensitivityMaps(net, pictures, [[1], [2], [4]]))
    for scoremap, X, channel in zip(per_image, pictures, [1, 2, 4]):
        np.testing.assert_array_equal(scoremap, occlusionSensitivity(net, X, channel))
    for scoremap, X in zip(occlusionSensitivityMaps(net, pictures, "predicted"), pictures):
        np.testing.assert_array_equal(scoremap, occlusionSensitivity(net, X, top_class(X)))
    larger = np.random.default_rng(1).integers(0, 256, (23, 30, 3)).astype(np.uint8)
    (scoremap,) = occlusionSensitivityMaps(net, [larger], 2)
    np.testing.assert_array_equal(scoremap, occlusionSensitivity(net, fit_image(larger, net.InputSize).pixels, 2))


def test_a_stack_in_matlab_layout_and_clear_channel_errors(net):
    pictures = images(2)
    stack = np.stack(pictures, axis=3)  # H×W×C×N
    for scoremap, X in zip(occlusionSensitivityMaps(net, stack, 1), pictures):
        np.testing.assert_array_equal(scoremap, occlusionSensitivity(net, X, 1))
    with pytest.raises(ValueError, match=r"channelIdx 5 is out of range.*1\.\.4"):
        next(occlusionSensitivityMaps(net, pictures, 5))
    with pytest.raises(ValueError, match="2 rows for 3 images"):
        next(occlusionSensitivityMaps(net, images(3), [[1], [2]]))
    with pytest.raises(ValueError, match='"labels" needs images with labels'):
        next(occlusionSensitivityMaps(net, pictures, "labels"))
    with pytest.raises(ValueError, match="MaskSize"):
        next(occlusionSensitivityMaps(net, pictures, 1, MaskSize=0))


def test_labels_through_class_names(folder, model_file):
    root, pictures = folder
    named = importNetworkFromONNX(model_file, Classes=["cat", "dog", "bird", "fish"])
    imds = imageDatastore(root, IncludeSubfolders=True, LabelSource="foldernames")
    for scoremap, X, label in zip(occlusionSensitivityMaps(named, imds, "labels"), pictures, imds.Labels):
        np.testing.assert_array_equal(scoremap, occlusionSensitivity(named, X, 1 if label == "cat" else 2))


def test_memory_does_not_grow_with_the_number_of_images(net, tmp_path):
    imwrite(images(1)[0], tmp_path / "one.png")
    files = [str(tmp_path / "one.png")]

    def peak(count: int) -> int:
        tracemalloc.start()
        # MiniBatchSize bounds the batch the timing-driven batch-size search may pick, so that the
        # peaks compare what the number of images adds, not which batch size won.
        for _ in occlusionSensitivityMaps(net, files * count, [1, 2, 3, 4], MiniBatchSize=16):
            pass
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    peak(2)  # sessions and caches built
    # the least of two runs each: the batch-size search keeps re-timing sizes, and a run in which
    # it tried its largest size for a batch peaks higher whatever the number of images
    few, many = min(peak(8), peak(8)), min(peak(80), peak(80))
    assert many <= 1.1 * few + 64 * 1024, (few, many)


# ------------------------------------------------------------------ the store, in this process


def test_the_store_holds_every_map_and_resumes(net, model_file, folder, tmp_path):
    root, pictures = folder
    out = tmp_path / "out"
    summary = occlusionSensitivityDataset(
        model_file, root / "*" / "*.png", "predicted", out=out, workers=0, progress=False
    )
    assert (summary.total, summary.computed, summary.skipped, summary.failures) == (6, 6, 0, {})
    group = stored(out)
    assert group["maps"].shape == (6, SIZE, SIZE) and group["maps"].chunks == (1, SIZE, SIZE)
    assert group["maps"].dtype == np.float32
    assert group["status"][:].tolist() == [1] * 6
    assert group["predicted"][:].tolist() == [top_class(X) for X in pictures]
    for index, X in enumerate(pictures):
        np.testing.assert_array_equal(group["maps"][index], occlusionSensitivity(net, X, top_class(X)))
    job = group.attrs["job"]
    assert [Path(name).name for name in job["images"]] == [f"{index}.png" for index in range(6)]
    assert job["options"]["MaskSize"] == "auto" and job["options"]["Incremental"] == "auto"
    assert len(job["model_sha256"]) == 64 and group.attrs["version"]
    again = occlusionSensitivityDataset(
        model_file, root / "*" / "*.png", "predicted", out=out, workers=0, progress=False
    )
    assert (again.computed, again.skipped) == (0, 6)


def test_given_channels_store_each_images_prediction_from_its_maps_own_pass(folder, model_file, tmp_path):
    """With channelIdx given, the top-1 class and its probability come from the map's pass of
    the unoccluded image, not a pass of their own: the same as the linear network says."""
    root, pictures = folder
    out = tmp_path / "out"
    summary = occlusionSensitivityDataset(model_file, root / "*" / "*.png", 2, out=out, workers=0, progress=False)
    assert summary.computed == 6
    group = stored(out)
    logits = [np.einsum("kchw,hwc->k", WEIGHTS.astype(np.float64), X.astype(np.float64)) + BIAS for X in pictures]
    probabilities = [np.exp(row - row.max()) / np.exp(row - row.max()).sum() for row in logits]
    assert group["channels"][:].ravel().tolist() == [2] * 6
    assert group["predicted"][:].tolist() == [top_class(X) for X in pictures]
    np.testing.assert_allclose(group["score"][:], [row.max() for row in probabilities], rtol=1e-5)


def test_a_store_for_another_job_is_refused_naming_what_differs(model_file, folder, tmp_path):
    root, _ = folder
    out = tmp_path / "out"
    occlusionSensitivityDataset(model_file, root / "cat", 1, out=out, workers=0, progress=False)
    with pytest.raises(StoreMismatch, match=r"the options \(Stride: 'auto' in the store, 3 now\)"):
        occlusionSensitivityDataset(model_file, root / "cat", 1, out=out, workers=0, progress=False, Stride=3)
    with pytest.raises(StoreMismatch, match=r"the image list \(3 images in the store, 6 now"):
        occlusionSensitivityDataset(model_file, root / "*" / "*.png", 1, out=out, workers=0, progress=False)
    other = tmp_path / "other.onnx"
    other.write_bytes(linear_model(WEIGHTS * 2, BIAS).SerializeToString())
    with pytest.raises(StoreMismatch, match="the model"):
        occlusionSensitivityDataset(other, root / "cat", 1, out=out, workers=0, progress=False)
    with pytest.raises(StoreMismatch, match="the channels"):
        occlusionSensitivityDataset(model_file, root / "cat", 2, out=out, workers=0, progress=False)
    restarted = occlusionSensitivityDataset(other, root / "cat", 1, out=out, workers=0, progress=False, restart=True)
    assert (restarted.computed, restarted.skipped) == (3, 0)


def test_a_torn_map_without_its_completion_record_is_recomputed(net, model_file, folder, tmp_path):
    root, pictures = folder
    out = tmp_path / "out"
    occlusionSensitivityDataset(model_file, root / "cat", 2, out=out, workers=0, progress=False)
    group = zarr.open_group(str(out / STORE_NAME), mode="r+")
    group["status"][1] = 0  # as if the process died after writing part of map 1
    chunk = next(path for path in (out / STORE_NAME / "maps" / "c" / "1").rglob("*") if path.is_file())
    chunk.write_bytes(chunk.read_bytes()[:7])
    resumed = occlusionSensitivityDataset(model_file, root / "cat", 2, out=out, workers=0, progress=False)
    assert (resumed.computed, resumed.skipped) == (1, 2)
    np.testing.assert_array_equal(stored(out)["maps"][1], occlusionSensitivity(net, pictures[1], 2))


def test_bad_files_are_recorded_with_their_reason_and_the_rest_completes(net, model_file, folder, tmp_path, client):
    root, pictures = folder
    (root / "cat" / "empty.png").write_bytes(b"")
    (root / "cat" / "text.png").write_text("not a picture")
    good = (root / "dog" / "3.png").read_bytes()
    (root / "dog" / "truncated.png").write_bytes(good[: len(good) // 3])
    out = tmp_path / "out"
    summary = occlusionSensitivityDataset(
        model_file, root / "*" / "*.png", [1, 4], out=out, client=client, progress=False
    )
    names = [Path(name).name for name in stored(out).attrs["job"]["images"]]
    failed = {names[index] for index in summary.failures}
    assert failed == {"empty.png", "text.png", "truncated.png"}
    assert all("not an image file" in reason for reason in summary.failures.values())
    group = stored(out)
    assert group["maps"].shape == (9, SIZE, SIZE, 2)
    assert {index: group["failure"][index] for index in summary.failures} == summary.failures
    for index, name in enumerate(names):
        if name in failed:
            assert group["status"][index] == 2 and np.isnan(group["maps"][index]).all()
        else:
            X = pictures[int(Path(name).stem)]
            np.testing.assert_array_equal(group["maps"][index], occlusionSensitivity(net, X, [1, 4]))


def test_a_killed_worker_costs_nothing_every_map_once(model_file, tmp_path, client):
    pictures = images(24, seed=3)
    out = tmp_path / "out"
    options = {"MaskSize": 2, "Stride": 1}  # 225 masks a map: tasks long enough to kill one mid-run
    outcome: dict[str, object] = {}

    def run() -> None:
        outcome["summary"] = occlusionSensitivityDataset(
            model_file, pictures, 2, out=out, client=client, progress=False, **options
        )

    job = threading.Thread(target=run)
    job.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and completed(out) == 0:
        time.sleep(0.05)
    done_before = completed(out)
    pids = client.run(os.getpid)
    os.kill(next(iter(pids.values())), signal.SIGKILL)
    job.join(120)
    summary = outcome["summary"]
    assert done_before < len(pictures)
    assert (summary.computed, summary.failures) == (len(pictures), {})
    group = stored(out)
    assert group["status"][:].tolist() == [1] * len(pictures)
    net = importNetworkFromONNX(model_file)
    for index, X in enumerate(pictures):
        np.testing.assert_array_equal(group["maps"][index], occlusionSensitivity(net, X, 2, **options))
    client.wait_for_workers(2, timeout=60)


@pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods() or not Path("/proc/self").exists(),
    reason="the fork server is a POSIX start method; the check reads /proc",
)
def test_workers_are_forked_from_a_server_that_imported_the_package(client):
    parents = client.run(lambda: Path(f"/proc/{os.getppid()}/cmdline").read_bytes())
    assert len(parents) == 2
    for cmdline in parents.values():
        assert b"multiprocessing.forkserver" in cmdline and b"matlab_occsens.datasets._worker" in cmdline


def test_mat_export_reads_back_in_v5_and_v73(model_file, tmp_path):
    import h5py
    import scipy.io

    pictures = images(3)
    out = tmp_path / "out"
    occlusionSensitivityDataset(model_file, pictures, [2, 3], out=out, workers=0, progress=False)
    maps = stored(out)["maps"][:]
    v5 = scipy.io.loadmat(storeToMat(out, tmp_path / "maps.mat"))
    np.testing.assert_array_equal(v5["scoreMap"], np.moveaxis(maps, 0, -1))  # H×W×n×N, as MATLAB stacks
    assert v5["scoreMap"].dtype == np.float32 and v5["channelIdx"].tolist() == [[2, 3]] * 3
    assert v5["Files"][0, 0][0].startswith("array 1")
    with h5py.File(storeToMat(out, tmp_path / "maps73.mat", Format="7.3"), "r") as mat:
        assert mat["scoreMap"].attrs["MATLAB_class"] == b"single"
        np.testing.assert_array_equal(np.asarray(mat["scoreMap"]).T, np.moveaxis(maps, 0, -1))  # column-major
        first = mat[mat["Files"][0, 0]]
        assert "".join(map(chr, np.asarray(first).ravel())).startswith("array 1")
    assert (tmp_path / "maps73.mat").read_bytes()[:19] == b"MATLAB 7.3 MAT-file"


def written_store(out: Path, maps: np.ndarray, done: int | None = None) -> Path:
    """A store holding ``maps`` (N×H×W or N×H×W×n) written directly, no inference: images from
    ``done`` on are left pending (NaN). Returns the store's folder."""
    count, shape = len(maps), maps.shape[1:]
    width = 1 if len(shape) == 2 else shape[2]
    identity = StoreIdentity(
        images=tuple(f"image{index}.png" for index in range(count)),
        model_sha256="0" * 64,
        options={},
        channels={"rule": "fixed"},
        map_shape=shape,
    )
    store = MapStore.create(out / STORE_NAME, identity)
    for index in range(count if done is None else done):
        store.write(store.job_id, index, maps[index], np.arange(1, width + 1), 1, 0.5, (0, 0))
    return out


@pytest.mark.parametrize("channels", [2, [1, 4]])
def test_the_streamed_v73_file_reads_back_as_matlab_stacks_the_maps(model_file, folder, tmp_path, channels):
    import h5py
    import hdf5storage

    root, _ = folder
    (root / "cat" / "empty.png").write_bytes(b"")  # a failed image: NaN in the store
    out = tmp_path / "out"
    occlusionSensitivityDataset(model_file, root / "*" / "*.png", channels, out=out, workers=0, progress=False)
    maps = stored(out)["maps"][:]
    failed = int(np.flatnonzero(stored(out)["status"][:] == 2)[0])
    path = storeToMat(out, tmp_path / "maps.mat", Format="7.3")
    mat = hdf5storage.loadmat(str(path))
    assert mat["scoreMap"].dtype == np.float32
    np.testing.assert_array_equal(mat["scoreMap"], np.moveaxis(maps, 0, -1))  # NaN equals NaN here
    assert np.isnan(mat["scoreMap"][..., failed]).all() and not np.isnan(np.delete(maps, failed, axis=0)).any()
    assert mat["done"][:, 0].tolist() == [index != failed for index in range(len(maps))]
    hdf5storage.savemat(
        str(tmp_path / "reference.mat"),
        {"scoreMap": np.moveaxis(maps, 0, -1)},
        format="7.3",
        oned_as="column",
        store_python_metadata=False,
    )
    with h5py.File(path, "r") as streamed, h5py.File(tmp_path / "reference.mat", "r") as reference:
        ours, theirs = streamed["scoreMap"], reference["scoreMap"]
        assert ours.shape == theirs.shape == maps.shape[:1] + maps.shape[:0:-1] and ours.chunks == (1, *ours.shape[1:])
        assert dict(ours.attrs) == dict(theirs.attrs)
        kind, expected = ours.attrs.get_id("MATLAB_class"), theirs.attrs.get_id("MATLAB_class")
        assert kind.get_type() == expected.get_type() and kind.shape == expected.shape == ()
    assert path.read_bytes()[:19] == b"MATLAB 7.3 MAT-file"


def _export_peak(out: Path, target: Path, fmt: str) -> int:
    """The smaller traced peak of two exports: a call may happen to grow the interpreter's table of
    interned strings (pathlib interns every path part), one allocation the size of the whole
    session's table, which is not the export's memory; it grows once, so the second call does not."""
    peaks = []
    for _ in range(2):
        tracemalloc.start()
        try:
            storeToMat(out, target, Format=fmt)  # the second replaces the first
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    return min(peaks)


def test_the_v73_export_holds_one_image_not_the_stack(tmp_path):
    import hdf5storage

    maps = np.random.default_rng(4).random((400, 64, 64), dtype=np.float32)
    out = written_store(tmp_path / "out", maps)
    storeToMat(out, tmp_path / "warm.mat", Format="7.3")  # imports and caches built
    # the least of two: a one-off growth of the interpreter's own tables (its interned strings, after
    # many tests in this process) can fall in either run, whatever the export holds
    streamed = min(_export_peak(out, tmp_path / "maps.mat", "7.3"), _export_peak(out, tmp_path / "again.mat", "7.3"))
    in_memory = _export_peak(out, tmp_path / "maps5.mat", "5")
    assert streamed < maps.nbytes / 4, (streamed, maps.nbytes)
    assert in_memory > maps.nbytes, (in_memory, maps.nbytes)  # tracemalloc sees the numpy arrays
    np.testing.assert_array_equal(hdf5storage.loadmat(str(tmp_path / "maps.mat"))["scoreMap"], np.moveaxis(maps, 0, -1))


def test_auto_writes_v5_only_for_a_small_stack(tmp_path, monkeypatch):
    import scipy.io

    from matlab_occsens.datasets import _export as export

    maps = np.random.default_rng(5).random((3, 8, 8, 2), dtype=np.float32)
    out = written_store(tmp_path / "out", maps, done=2)
    small = storeToMat(out, tmp_path / "small.mat")
    assert small.read_bytes()[:19] == b"MATLAB 5.0 MAT-file"
    monkeypatch.setattr(export, "V5_IN_MEMORY", maps.nbytes)
    large = storeToMat(out, tmp_path / "large.mat")
    assert large.read_bytes()[:19] == b"MATLAB 7.3 MAT-file"
    expected = np.moveaxis(np.concatenate([maps[:2], np.full_like(maps[2:], np.nan)]), 0, -1)
    np.testing.assert_array_equal(scipy.io.loadmat(small)["scoreMap"], expected)


def test_format_5_above_its_limit_is_refused_before_writing(tmp_path, monkeypatch):
    from matlab_occsens.datasets import _export as export

    maps = np.zeros((3, 8, 8), np.float32)
    out = written_store(tmp_path / "out", maps)
    monkeypatch.setattr(export, "V5_LIMIT", maps.nbytes)
    with pytest.raises(
        ValueError,
        match=rf'storeToMat: Format "5" must have maps below {maps.nbytes} bytes.*got maps of {maps.nbytes} bytes',
    ):
        storeToMat(out, tmp_path / "maps.mat", Format="5")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out"]


def test_a_failed_export_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    maps = np.random.default_rng(6).random((5, 8, 8), dtype=np.float32)
    out = written_store(tmp_path / "out", maps)
    target = storeToMat(out, tmp_path / "maps.mat", Format="7.3")
    before = target.read_bytes()
    real_read = MapStore.read

    def read(self, name, index=None):
        if name == "maps" and index == 3:
            raise OSError(errno.EIO, "Input/output error")
        return real_read(self, name, index)

    monkeypatch.setattr(MapStore, "read", read)
    with pytest.raises(OSError, match="Input/output error"):
        storeToMat(out, target, Format="7.3")
    assert target.read_bytes() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["maps.mat", "out"]


# ------------------------------------------------------------------ the command


def test_the_command_runs_a_folder_on_two_workers_with_pictures(net, model_file, folder, tmp_path):
    root, pictures = folder
    (root / "dog" / "broken.png").write_text("nope")
    out = tmp_path / "out"
    run = command(
        str(model_file),
        str(root / "cat"),
        str(root / "dog"),
        "--per-image",
        "predicted",
        "--workers",
        "2",
        "--out",
        str(out),
        "--overview",
        "--overlays",
        "--mat",
    )
    stdout, stderr = run.communicate(timeout=180)
    assert run.returncode == 1, stderr  # one image failed, and is listed
    assert "failed: image 6" in stderr and "broken.png" in stderr and "not an image file" in stderr
    assert "6 maps computed" in stdout
    group = stored(out)
    for index, X in enumerate(pictures):
        np.testing.assert_array_equal(group["maps"][index], occlusionSensitivity(net, X, top_class(X)))
    assert (out / "overview.png").is_file() and (out / "occlusion.mat").is_file()
    assert len(list((out / "overlays").glob("*.png"))) == 6
    again = command(
        str(model_file),
        str(root / "cat"),
        str(root / "dog"),
        "--per-image",
        "predicted",
        "--workers",
        "0",
        "--out",
        str(out),
    )
    stdout, stderr = again.communicate(timeout=120)
    assert "matlab-occsens: resumed: 6 of 7 images were already complete" in stderr
    assert "matlab-occsens: matlab-occsens" not in stderr  # the command's prefix, once


def test_ctrl_c_stops_within_seconds_and_a_rerun_resumes(net, model_file, tmp_path):
    for index, X in enumerate(images(40, seed=9)):
        imwrite(X, tmp_path / f"{index:02d}.png")
    out = tmp_path / "out"
    words = [
        str(model_file),
        str(tmp_path / "*.png"),
        "--channel",
        "3",
        "--mask-size",
        "2",
        "--stride",
        "1",
        "--workers",
        "1",
        "--out",
        str(out),
    ]
    run = command(*words, start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and completed(out) == 0:
        time.sleep(0.1)
    os.killpg(run.pid, signal.SIGINT)  # as Ctrl-C at a terminal: to the command's whole process group
    started = time.monotonic()
    _, stderr = run.communicate(timeout=30)
    assert run.returncode == 130, stderr
    assert time.monotonic() - started < 10
    assert "Traceback" not in stderr and stderr.strip().endswith("matlab-occsens: interrupted"), stderr
    assert not (out / "occlusion.zarr.lock").exists()  # the lock is given back
    done = int(stored(out)["status"][:].sum())
    assert 1 <= done < 40
    rerun = command(*words[:-4], "--workers", "0", "--out", str(out))
    stdout, stderr = rerun.communicate(timeout=180)
    assert rerun.returncode == 0, stderr
    assert f"resumed: {done} of 40 images were already complete" in stderr
    assert f"{40 - done} maps computed" in stdout
    group = stored(out)
    assert group["status"][:].tolist() == [1] * 40
    first = images(40, seed=9)[0]
    np.testing.assert_array_equal(group["maps"][0], occlusionSensitivity(net, first, 3, MaskSize=2, Stride=1))


def test_workers_share_their_machines_cores():
    from matlab_occsens.datasets._worker import cpu_share, host_shares

    workers = {"a": {"host": "h1", "name": "1"}, "b": {"host": "h1", "name": "0"}, "c": {"host": "h2", "name": "x"}}
    assert host_shares(workers) == {"0": (0, 2), "1": (1, 2), "x": (0, 1)}
    allowed = sorted(os.sched_getaffinity(0))
    assert {cpu for position in range(2) for cpu in cpu_share(position, 2)} == set(allowed)
    assert cpu_share(0, 1) == allowed
    assert set(cpu_share(5, 64)) <= set(allowed) and cpu_share(5, 64)  # more workers than cores: one core each
