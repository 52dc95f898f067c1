"""The command's steps: fitting an image to a network, ranking classes, writing the results."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from file_systems import small_disk

from matlab_occsens import imread, imresize, overlayScoreMap
from matlab_occsens._command.results import save_results
from matlab_occsens._core.labels import rank_classes
from matlab_occsens._utils.result_files import check_writable
from matlab_occsens.image._fit import fit_image


def test_fit_image_resizes_with_matlabs_imresize_and_keeps_the_class():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(30, 50, 3)).astype(np.uint8)
    before = X.copy()
    fitted = fit_image(X, (20, 20, 3))
    assert fitted.pixels.dtype == np.uint8 and fitted.pixels.shape == (20, 20, 3)
    np.testing.assert_array_equal(fitted.pixels, imresize(X, [20, 20]))
    np.testing.assert_array_equal(fitted.display, fitted.pixels)
    assert fitted.notes == ["resized 30x50 to 20x20 with imresize (bicubic), as MATLAB's example does"]
    np.testing.assert_array_equal(X, before)


def test_fit_image_channels():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    fitted = fit_image(gray, (3, 4, 3))
    assert fitted.pixels.shape == (3, 4, 3) and fitted.display.shape == (3, 4)
    assert all(np.array_equal(fitted.pixels[:, :, k], gray) for k in range(3))
    assert fitted.notes == ["grayscale image repeated into the network's 3 channels"]
    one = fit_image(gray[:, :, np.newaxis], (3, 4, 1))
    assert one.pixels.shape == (3, 4, 1) and one.notes == []
    rgb = np.stack([gray, gray + 1, gray + 2], axis=2)
    bgr = fit_image(rgb, (3, 4, 3), "BGR")
    np.testing.assert_array_equal(bgr.pixels, rgb[:, :, ::-1])
    np.testing.assert_array_equal(bgr.display, rgb)  # the overlay is drawn in RGB
    with pytest.raises(ValueError, match=r"the image has 3 channels but the network takes 1"):
        fit_image(rgb, (3, 4, 1))
    with pytest.raises(ValueError, match=r"H×W or H×W×C; got shape \(2, 3, 4, 5\)"):
        fit_image(np.zeros((2, 3, 4, 5)), (2, 3, 4))


def test_rank_classes_takes_probabilities_as_they_are_and_softmaxes_logits():
    probabilities = np.array([[0.1, 0.6, 0.3]])
    ranking = rank_classes(probabilities, 2)
    assert list(ranking.channels) == [2, 3] and not ranking.softmax_applied
    np.testing.assert_allclose(ranking.probabilities, [0.6, 0.3])
    logits = np.array([[0.0, np.log(3.0), 1000.0 - 1000.0]])  # softmax: 0.2, 0.6, 0.2
    ranking = rank_classes(logits, 5)
    assert list(ranking.channels) == [2, 1, 3] and ranking.softmax_applied
    np.testing.assert_allclose(ranking.probabilities, [0.6, 0.2, 0.2])
    huge = rank_classes(np.array([[1000.0, 0.0]]))
    np.testing.assert_allclose(huge.probabilities, [1.0, 0.0])


def test_save_results_one_channel(tmp_path):
    rng = np.random.default_rng(1)
    display = rng.integers(0, 256, size=(16, 12, 3)).astype(np.uint8)
    scoreMap = rng.normal(size=(16, 12)).astype(np.float32)
    paths = save_results(scoreMap, display, tmp_path / "out", "my photo", [7])
    assert [path.name for path in paths] == ["my_photo_scoreMap.npy", "my_photo_scoreMap.mat", "my_photo_overlay.png"]
    np.testing.assert_array_equal(np.load(paths[0]), scoreMap)
    stored = scipy.io.loadmat(paths[1])
    assert stored["scoreMap"].dtype == np.float32 and stored["scoreMap"].shape == (16, 12)
    np.testing.assert_array_equal(stored["scoreMap"], scoreMap)
    np.testing.assert_array_equal(stored["channelIdx"], [[7]])
    np.testing.assert_array_equal(imread(paths[2]), overlayScoreMap(display, scoreMap))


def test_save_results_several_channels_and_a_raw_map(tmp_path):
    display = np.full((20, 30), 128, np.uint8)
    raw = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)
    paths = save_results(raw, display, tmp_path, "x", [5, 2])
    assert [path.name for path in paths[2:]] == ["x_overlay_5.png", "x_overlay_2.png"]
    assert scipy.io.loadmat(paths[1])["scoreMap"].shape == (2, 3, 2)
    enlarged = imresize(raw[:, :, 1], [20, 30], "nearest")
    np.testing.assert_array_equal(imread(paths[3]), overlayScoreMap(display, enlarged))


# --- the result files are one set: never torn, never mixed ----------------------------------------


def _set_of(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.fixture
def old_set(tmp_path):
    """A folder holding a complete earlier result set, and a different new map for the same files."""
    rng = np.random.default_rng(5)
    display = rng.integers(0, 256, size=(16, 12, 3)).astype(np.uint8)
    save_results(rng.normal(size=(16, 12)).astype(np.float32), display, tmp_path, "photo", [3])
    return tmp_path, display, rng.normal(size=(16, 12)).astype(np.float32)


def test_an_interrupt_between_two_writes_leaves_the_old_set(old_set, monkeypatch):
    folder, display, new_map = old_set
    before = _set_of(folder)
    real_fsync, calls = os.fsync, []

    def fsync_then_interrupt(descriptor):
        real_fsync(descriptor)
        calls.append(descriptor)
        if len(calls) == 1:  # the new .npy is on disk under its temporary name
            raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", fsync_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        save_results(new_map, display, folder, "photo", [3])
    assert _set_of(folder) == before  # byte for byte, and no temporary left behind


def test_a_failed_rename_puts_the_old_files_back(old_set, monkeypatch):
    folder, display, new_map = old_set
    before = _set_of(folder)
    real_replace, renames = os.replace, []

    def replace(source, target):
        if str(source).endswith(".tmp"):
            renames.append(target)
            if len(renames) == 2:  # the .npy is already the new one
                raise OSError(errno.EIO, "Input/output error")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(
        OSError,
        match=r"cannot write the results in '.*' \(Input/output error\); the files there "
        r"are unchanged\.",
    ):
        save_results(new_map, display, folder, "photo", [3])
    assert _set_of(folder) == before


def test_ctrl_c_during_the_renames_waits_until_the_new_set_is_whole(old_set, monkeypatch):
    folder, display, new_map = old_set
    real_replace = os.replace

    def replace(source, target):
        if str(source).endswith(".tmp") and str(target).endswith(".npy"):
            signal.raise_signal(signal.SIGINT)  # Ctrl-C after the first rename
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        save_results(new_map, display, folder, "photo", [3])
    monkeypatch.undo()
    np.testing.assert_array_equal(np.load(folder / "photo_scoreMap.npy"), new_map)
    np.testing.assert_array_equal(scipy.io.loadmat(folder / "photo_scoreMap.mat")["scoreMap"], new_map)
    np.testing.assert_array_equal(imread(folder / "photo_overlay.png"), overlayScoreMap(display, new_map))
    assert sorted(path.name for path in folder.iterdir()) == [
        "photo_overlay.png",
        "photo_scoreMap.mat",
        "photo_scoreMap.npy",
    ]


def test_a_full_disk_keeps_the_old_set_whole(tmp_path):
    rng = np.random.default_rng(6)
    with small_disk(tmp_path / "disk", "300k") as disk:
        display = rng.integers(0, 256, size=(40, 40, 3)).astype(np.uint8)
        save_results(rng.normal(size=(40, 40)).astype(np.float32), display, disk, "photo", [1])
        before = _set_of(disk)
        big = rng.normal(size=(200, 200)).astype(np.float32)  # 160 kB as .npy and again as .mat
        with pytest.raises(
            OSError,
            match=r"cannot write the results in .* \(No space left on device\); the files "
            r"there are unchanged\.",
        ):
            save_results(big, rng.integers(0, 256, size=(200, 200, 3)).astype(np.uint8), disk, "photo", [1])
        assert _set_of(disk) == before


def test_check_writable_says_what_is_wrong_with_the_folder(tmp_path):
    assert check_writable(tmp_path / "new" / "deep", "--out") == tmp_path / "new" / "deep"
    assert (tmp_path / "new" / "deep").is_dir() and list((tmp_path / "new" / "deep").iterdir()) == []
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match=r"^--out: '.*file' is a file, not a folder\.$"):
        check_writable(tmp_path / "file", "--out")
    with pytest.raises(ValueError, match=r"^--out: cannot write in '.*file/sub' \(Not a directory\)\.$"):
        check_writable(tmp_path / "file" / "sub", "--out")
    with small_disk(tmp_path / "ro", "64k") as disk:
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        with pytest.raises(ValueError, match=r"^--out: cannot write in '.*ro' \(Read-only file system\)\.$"):
            check_writable(disk, "--out")
