"""The store keeps its promise: one writer at a time, damage found and computed again, edited
metadata refused, changed images recomputed, nothing torn, every message clear. Real parts: a
Zarr store on disk damaged byte by byte, real concurrent commands, a real small tmpfs."""

from __future__ import annotations

import errno
import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from dataset_parts import SIZE, command, completed, images, stored, wait_for, write_model
from file_systems import small_disk

from matlab_occsens import importNetworkFromONNX, imread, imwrite, occlusionSensitivity

zarr = pytest.importorskip("zarr", reason='needs the datasets extra: pip install -e ".[datasets]"')
pytest.importorskip("distributed", reason='needs the datasets extra: pip install -e ".[datasets]"')

from matlab_occsens.datasets import occlusionSensitivityDataset, storeToMat  # noqa: E402
from matlab_occsens.datasets._store import STORE_NAME  # noqa: E402

LOCK = "occlusion.zarr.lock"


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    return write_model(tmp_path_factory.mktemp("model") / "linear.onnx")


@pytest.fixture(scope="module")
def net(model_file):
    return importNetworkFromONNX(model_file)


@pytest.fixture()
def photos(tmp_path) -> tuple[Path, list[np.ndarray]]:
    """Three PNGs: 0.png, 1.png, 2.png."""
    pictures = images(3)
    (tmp_path / "photos").mkdir()
    for index, picture in enumerate(pictures):
        imwrite(picture, tmp_path / "photos" / f"{index}.png")
    return tmp_path / "photos", pictures


def run(model_file, source, out, channels=2, **options):
    return occlusionSensitivityDataset(model_file, source, channels, out=out, workers=0, progress=False, **options)


def chunk(out: Path, array: str, index: int) -> Path:
    found = out / STORE_NAME / array / "c" / str(index)
    return found if found.is_file() else next(path for path in found.rglob("*") if path.is_file())


def without_job_ids(files: dict[str, bytes]) -> dict[str, bytes]:
    """A store's files but the two that hold its job id (drawn anew for every store)."""
    return {name: data for name, data in files.items() if name not in ("zarr.json", "status/zarr.json")}


def store_bytes(out: Path) -> dict[str, bytes]:
    """Every file of the store, by its path inside it."""
    root = out / STORE_NAME
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


# ------------------------------------------------------------------ one writer at a time


def test_a_second_run_is_refused_while_the_first_writes_naming_it(model_file, tmp_path):
    """A --restart with other options while a first run writes: refused, the first run's store whole.
    The first command is held (SIGSTOP) once it writes, so that it is still running, whatever the
    machine's speed, when the second one starts; its workers go on writing meanwhile."""
    pictures = images(40, seed=4)
    for index, picture in enumerate(pictures):
        imwrite(picture, tmp_path / f"{index:02d}.png")
    out = tmp_path / "out"
    first = command(
        str(model_file), str(tmp_path / "*.png"), "--channel", "3", "--mask-size", "2", "--stride", "1",
        "--workers", "1", "--out", str(out),
    )  # fmt: skip
    wait_for(lambda: completed(out) >= 1)
    first.send_signal(signal.SIGSTOP)
    try:
        second = command(
            str(model_file), str(tmp_path / "*.png"), "--channel", "3", "--stride", "8", "--restart",
            "--workers", "0", "--out", str(out),
        )  # fmt: skip
        _, refused = second.communicate(timeout=120)
    finally:
        first.send_signal(signal.SIGCONT)
    assert second.returncode == 2, refused
    said = refused.strip().splitlines()[-1]
    assert said.startswith("matlab-occsens: error: ") and str(out / STORE_NAME) in said, refused
    assert f"is being written by process {first.pid} on {socket.gethostname()}" in said, refused
    assert "--mask-size 2 --stride 1" in said
    _, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    group = stored(out)
    assert group.attrs["job"]["options"]["Stride"] == 1 and group["status"][:].tolist() == [1] * 40
    net = importNetworkFromONNX(model_file)
    for index in (0, 39):
        expected = occlusionSensitivity(net, pictures[index], 3, MaskSize=2, Stride=1)
        np.testing.assert_array_equal(group["maps"][index], expected)
    assert not (out / LOCK).exists()


def _finished_process_id() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def test_a_stale_lock_is_taken_over_and_another_hosts_lock_is_refused(model_file, photos, tmp_path):
    root, _ = photos
    out = tmp_path / "out"
    out.mkdir()
    stale = {"host": socket.gethostname(), "pid": _finished_process_id(), "process_start": 1.0}
    (out / LOCK).write_text(json.dumps({**stale, "started": "yesterday", "command": "matlab-occsens old run"}))
    summary = run(model_file, root, out)
    assert summary.computed == 3
    assert any("'matlab-occsens old run'" in note and "no longer running" in note for note in summary.notes)
    assert not (out / LOCK).exists()
    elsewhere = {"host": "elsewhere.example", "pid": 1, "process_start": 1.0, "command": "matlab-occsens far run"}
    (out / LOCK).write_text(json.dumps(elsewhere))
    with pytest.raises(RuntimeError, match=r"process 1 on elsewhere\.example.*far run.*delete .*occlusion\.zarr\.lock"):
        run(model_file, root, out, restart=True)
    assert stored(out)["status"][:].tolist() == [1, 1, 1]  # not started over


def test_a_worker_task_writes_only_for_the_job_the_store_holds(model_file, photos, tmp_path):
    from matlab_occsens.datasets._explain import job_options
    from matlab_occsens.datasets._network import built_network, describe_network
    from matlab_occsens.datasets._store import JobChanged
    from matlab_occsens.datasets._worker import run_task

    root, _ = photos
    out = tmp_path / "out"
    run(model_file, root, out)
    before = store_bytes(out)
    description = describe_network(model_file)
    options = job_options(built_network(description), (), {})
    with pytest.raises(JobChanged, match="holds another job"):
        run_task(
            description, str(out / STORE_NAME), "a job started over since", [(0, str(root / "0.png"), (2,))], options
        )
    assert store_bytes(out) == before


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["kill -9", "SIGTERM"])
def test_a_killed_command_leaves_no_process_and_the_rerun_takes_over_bit_identical(model_file, tmp_path, stop):
    psutil = pytest.importorskip("psutil")
    for index, picture in enumerate(images(20, seed=7)):
        imwrite(picture, tmp_path / f"{index:02d}.png")
    words = [str(model_file), str(tmp_path / "*.png"), "--channel", "2", "--mask-size", "2", "--stride", "1"]
    out, clean = tmp_path / "out", tmp_path / "clean"
    killed = command(*words, "--workers", "2", "--out", str(out))
    wait_for(lambda: completed(out) >= 1)
    family = psutil.Process(killed.pid).children(recursive=True)
    killed.send_signal(stop)
    killed.communicate(timeout=30)
    gone, alive = psutil.wait_procs(family, timeout=30)
    assert not alive, [process.cmdline() for process in alive]
    assert (out / LOCK).exists()  # the killed run could not give it back
    rerun = command(*words, "--workers", "1", "--out", str(out))
    _, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0 and "no longer running" in stderr, stderr
    reference = command(*words, "--workers", "0", "--out", str(clean))
    assert reference.wait(300) == 0
    assert without_job_ids(store_bytes(out)) == without_job_ids(store_bytes(clean))


# ------------------------------------------------------------------ damage found, computed again


@pytest.mark.parametrize("array", ["maps", "channels", "score"])
@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_a_damaged_chunk_of_a_complete_image_is_computed_again(model_file, photos, tmp_path, damage, array):
    root, _ = photos
    out = tmp_path / "out"
    run(model_file, root, out)
    clean = store_bytes(out)
    target = chunk(out, array, 1)
    data = target.read_bytes()
    if damage == "flip":
        target.write_bytes(data[:3] + bytes([data[3] ^ 0x10]) + data[4:])
    elif damage == "truncate":
        target.write_bytes(data[: len(data) // 2])
    else:
        target.unlink()
    resumed = run(model_file, root, out)
    assert (resumed.computed, resumed.skipped) == (1, 2)
    assert list(resumed.damaged) == [1] and array in resumed.damaged[1]
    assert store_bytes(out) == clean  # bit-identical to the clean run


def test_every_byte_of_a_map_chunk_is_under_its_checksum(model_file, photos, tmp_path):
    """Each byte of a stored map damaged in turn: each time the resume finds it and computes the
    image again (a small map, so that a chunk has few bytes)."""
    root, _ = photos
    out = tmp_path / "out"
    options = {"MaskSize": 8, "Stride": 8, "OutputUpsampling": "none"}  # 2x2 maps
    run(model_file, root, out, **options)
    target = chunk(out, "maps", 0)
    clean = target.read_bytes()
    for position in range(len(clean)):
        target.write_bytes(clean[:position] + bytes([clean[position] ^ 0xFF]) + clean[position + 1 :])
        resumed = run(model_file, root, out, **options)
        assert (resumed.computed, list(resumed.damaged)) == (1, [0]), position
        assert target.read_bytes() == clean, position


def _edit_json(path: Path, change) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


EDITS = {
    "maps shape": (
        lambda s: _edit_json(s / "maps" / "zarr.json", lambda d: d.update(shape=[3, SIZE, SIZE + 1])),
        "maps",
    ),
    "maps type": (lambda s: _edit_json(s / "maps" / "zarr.json", lambda d: d.update(data_type="float64")), "maps"),
    "status type": (lambda s: _edit_json(s / "status" / "zarr.json", lambda d: d.update(data_type="int32")), "status"),
    "format 1": (lambda s: _edit_json(s / "zarr.json", lambda d: d["attributes"].update(format=1)), "format 1"),
    "format 99": (lambda s: _edit_json(s / "zarr.json", lambda d: d["attributes"].update(format=99)), "format 99"),
    "no format": (lambda s: _edit_json(s / "zarr.json", lambda d: d["attributes"].pop("format")), "format None"),
    "job a list": (lambda s: _edit_json(s / "zarr.json", lambda d: d["attributes"].update(job=[1])), "damaged"),
    "truncated metadata": (lambda s: (s / "zarr.json").write_text((s / "zarr.json").read_text()[:40]), "damaged"),
    "empty array metadata": (lambda s: (s / "score" / "zarr.json").write_text(""), "damaged"),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_edited_or_damaged_metadata_is_refused_saying_what_to_do(model_file, photos, tmp_path, edit):
    root, _ = photos
    out = tmp_path / "out"
    run(model_file, root, out)
    change, said = EDITS[edit]
    change(out / STORE_NAME)
    with pytest.raises(ValueError) as refused:
        run(model_file, root, out)
    message = str(refused.value)
    assert str(out / STORE_NAME) in message and said in message and "--restart" in message, message
    assert "\n" not in message
    assert run(model_file, root, out, restart=True).computed == 3  # what the message says works


def test_an_image_rewritten_since_its_map_is_computed_again(model_file, net, photos, tmp_path):
    root, _ = photos
    out = tmp_path / "out"
    run(model_file, root, out)
    other = images(1, seed=99)[0]
    imwrite(other, root / "1.png")
    resumed = run(model_file, root, out)
    assert (resumed.computed, resumed.changed) == (1, [1])
    np.testing.assert_array_equal(stored(out)["maps"][1], occlusionSensitivity(net, other, 2))
    assert run(model_file, root, out).computed == 0


# ------------------------------------------------------------------ what is at the store's place


def test_a_file_or_a_dangling_link_where_the_store_goes_is_refused_clearly(model_file, photos, tmp_path):
    root, _ = photos
    out = tmp_path / "out"
    out.mkdir()
    (out / STORE_NAME).write_text("notes")
    failed = command(str(model_file), str(root), "--channel", "1", "--workers", "0", "--out", str(out))
    _, stderr = failed.communicate(timeout=120)
    assert failed.returncode == 2 and f"error: {out / STORE_NAME} is a file, not a store" in stderr, stderr
    (out / STORE_NAME).unlink()
    (out / STORE_NAME).symlink_to(tmp_path / "gone")
    with pytest.raises(ValueError, match=r"is a symbolic link to .*gone.*which does not exist"):
        run(model_file, root, out)


def test_restart_never_deletes_a_folder_that_is_not_a_store(model_file, photos, tmp_path):
    root, _ = photos
    out = tmp_path / "out"
    (out / STORE_NAME).mkdir(parents=True)
    (out / STORE_NAME / "thesis.tex").write_text("years of work")
    with pytest.raises(ValueError, match="not a store made by matlab-occsens.*leaves it as it is"):
        run(model_file, root, out, restart=True)
    assert (out / STORE_NAME / "thesis.tex").read_text() == "years of work"
    (out / STORE_NAME / "thesis.tex").unlink()
    zarr.open_group(str(out / STORE_NAME), mode="w").create_array("data", shape=(2,), dtype="int8")
    with pytest.raises(ValueError, match="not a store made by matlab-occsens"):
        run(model_file, root, out, restart=True)
    assert zarr.open_group(str(out / STORE_NAME), mode="r")["data"].shape == (2,)


def test_a_complete_store_on_a_read_only_disk_resumes_without_writing(model_file, photos, tmp_path):
    root, _ = photos
    with small_disk(tmp_path / "disk", "4m") as disk:
        run(model_file, root, disk / "out")
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        try:
            summary = run(model_file, root, disk / "out")
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
    assert (summary.computed, summary.skipped, summary.failures) == (0, 3, {})


def test_failures_are_recorded_one_chunk_each_and_listed_by_store_index_even_when_quiet(model_file, photos, tmp_path):
    root, _ = photos
    (root / "1b.png").write_text("not a picture")  # index 2: 0.png 1.png 1b.png 2.png
    out = tmp_path / "out"
    words = [str(model_file), str(root), "--channel", "1", "--workers", "0", "--out", str(out), "--quiet"]
    first = command(*words)
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 1
    group = stored(out)
    assert group["status"][:].tolist() == [1, 1, 2, 1] and "failures" not in group.attrs
    reason = str(group["failure"][2])
    assert "not an image file" in reason and group["failure"][0] == ""
    assert stderr.strip() == f"matlab-occsens: failed: image 2 ({root / '1b.png'}): {reason}"
    metadata = (out / STORE_NAME / "zarr.json").read_bytes()
    modified = (out / STORE_NAME / "zarr.json").stat().st_mtime_ns
    (root / "1b.png").unlink()
    imwrite(images(1, seed=5)[0], root / "1b.png")
    second = command(*words)
    second.communicate(timeout=120)
    assert second.returncode == 0
    assert stored(out)["status"][:].tolist() == [1] * 4 and stored(out)["failure"][2] == ""
    assert (out / STORE_NAME / "zarr.json").read_bytes() == metadata  # the group's record is not rewritten
    assert (out / STORE_NAME / "zarr.json").stat().st_mtime_ns == modified


# ------------------------------------------------------------------ full disks


def _fill(disk: Path, leave: int = 0) -> None:
    """Fill ``disk`` to the last byte, then give ``leave`` bytes back."""
    with open(disk / "filler", "wb", buffering=0) as filler:
        try:
            while True:
                filler.write(b"\0" * 4096)
        except OSError as error:
            assert error.errno == errno.ENOSPC
        filler.truncate(max(filler.tell() - leave, 0))


def test_pictures_on_a_full_disk_are_whole_or_absent_and_nothing_is_left_behind(model_file, photos, tmp_path):
    root, _ = photos
    with small_disk(tmp_path / "disk", "1m") as disk:
        out = disk / "out"
        words = [str(model_file), str(root), "--channel", "1", "--workers", "0", "--out", str(out)]
        assert command(*words).wait(120) == 0
        _fill(disk, leave=4 * 4096)  # room for a few small overlays, not for the overview sheet
        full = command(*words, "--overlays", "--overview")
        _, stderr = full.communicate(timeout=120)
        assert full.returncode == 2 and "No space left on device" in stderr, stderr
        for picture in out.rglob("*.png"):
            assert imread(picture).shape[:2] == (SIZE, SIZE)  # whole, or not there
        assert not [path.name for path in out.rglob("*") if path.name.startswith(".")]
        assert not (out / LOCK).exists()


def test_the_write_check_leaves_no_probe_on_a_full_disk(tmp_path):
    from matlab_occsens._utils.result_files import check_writable

    with small_disk(tmp_path / "disk", "64k") as disk:
        _fill(disk)
        with pytest.raises(ValueError, match="No space left on device"):
            check_writable(disk, "--out")
        assert sorted(path.name for path in disk.iterdir()) == ["filler"]


def test_a_store_that_fills_the_disk_resumes_bit_identical_once_there_is_room(model_file, tmp_path):
    for index, picture in enumerate(images(40, seed=8)):
        imwrite(picture, tmp_path / f"{index:02d}.png")
    words = [str(model_file), str(tmp_path / "*.png"), "--channel", "4", "--workers", "0"]
    with small_disk(tmp_path / "disk", "400k") as disk:
        out = disk / "out"
        full = command(*words, "--out", str(out))
        _, stderr = full.communicate(timeout=120)
        assert full.returncode == 2 and "No space left on device" in stderr, stderr
        assert 0 < completed(out) < 40 and not (out / LOCK).exists()
        subprocess.run(["mount", "-o", "remount,size=16m", str(disk)], check=True)
        resumed = command(*words, "--out", str(out))
        _, stderr = resumed.communicate(timeout=120)
        assert resumed.returncode == 0, stderr
        clean = tmp_path / "clean"
        assert command(*words, "--out", str(clean)).wait(120) == 0
        assert without_job_ids(store_bytes(out)) == without_job_ids(store_bytes(clean))


# ------------------------------------------------------------------ readers: xarray, MATLAB


@pytest.mark.parametrize("channels", [2, [1, 3]])
def test_xarray_opens_the_store_with_named_dimensions(model_file, photos, tmp_path, channels):
    xr = pytest.importorskip("xarray")
    root, _ = photos
    out = tmp_path / "out"
    run(model_file, root, out, channels=channels)
    ds = xr.open_zarr(out / STORE_NAME, consolidated=False)  # as docs/datasets.md shows it
    spatial = ("row", "column") if channels == 2 else ("row", "column", "channel")
    assert ds["maps"].dims == ("image", *spatial) and ds["status"].dims == ("image",)
    np.testing.assert_array_equal(ds["maps"].values, stored(out)["maps"][:])
    assert ds["channels"].values.tolist() == ([[2]] * 3 if channels == 2 else [[1, 3]] * 3)


def test_the_v73_file_writes_text_as_rows_as_matlab_reads_it(model_file, photos, tmp_path):
    h5py = pytest.importorskip("h5py")
    root, _ = photos
    (root / "bad.png").write_text("nope")
    out = tmp_path / "out"
    run(model_file, root, out)
    with h5py.File(storeToMat(out, tmp_path / "maps.mat", Format="7.3"), "r") as mat:
        names = [mat[reference] for reference in mat["Files"][0]]
        assert mat["Files"].shape == (1, 4)  # MATLAB's 4×1 cell, reversed as HDF5 stores it
        for text, expected in zip(names, stored(out).attrs["job"]["images"]):
            assert text.attrs["MATLAB_class"] == b"char"
            assert text.shape == (len(expected), 1)  # MATLAB's 1×n char row, reversed
            assert "".join(map(chr, np.asarray(text).ravel())) == expected
        reason = mat[mat["failure"][0][3]]
        assert reason.shape[1] == 1 and "not an image file" in "".join(map(chr, np.asarray(reason).ravel()))
