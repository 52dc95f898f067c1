"""The images a dataset job takes: names that look like wildcards, links that loop, files too
large to decode, and the options it resolves once for all of them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from dataset_parts import command, environment, images, stored, top_class, write_model

from matlab_occsens import importNetworkFromONNX, imread, imwrite, occlusionSensitivity
from matlab_occsens.datasets import imageDatastore, occlusionSensitivityMaps


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    return write_model(tmp_path_factory.mktemp("model") / "linear.onnx")


@pytest.fixture(scope="module")
def net(model_file):
    return importNetworkFromONNX(model_file)


def names(files: list[str]) -> list[str]:
    return [Path(file).name for file in files]


def test_a_name_that_exists_is_that_file_even_with_wildcard_characters(net, model_file, tmp_path):
    bracketed, plain = images(2, seed=3)
    imwrite(bracketed, tmp_path / "x[1].png")
    imwrite(plain, tmp_path / "x1.png")
    assert names(imageDatastore(str(tmp_path / "x[1].png")).Files) == ["x[1].png"]
    assert names(imageDatastore(str(tmp_path / "x[0-9].png")).Files) == ["x1.png"]  # only a missing name is a pattern
    (scoremap,) = occlusionSensitivityMaps(net, str(tmp_path / "x[1].png"), 2)
    np.testing.assert_array_equal(scoremap, occlusionSensitivity(net, bracketed, 2))
    single = command(str(model_file), str(tmp_path / "x[1].png"), "--channel", "2", "--out", str(tmp_path / "out"))
    stdout, stderr = single.communicate(timeout=120)
    assert single.returncode == 0, stderr
    assert "x_1_scoreMap.npy" in stdout and "occlusion.zarr" not in stdout  # one image: the single-image command
    np.testing.assert_array_equal(
        np.load(tmp_path / "out" / "x_1_scoreMap.npy"), occlusionSensitivity(net, bracketed, 2)
    )


_LIST = """
import sys
from matlab_occsens.datasets import imageDatastore
for location, subfolders in ((sys.argv[1] + "/**/*.png", False), (sys.argv[1], True)):
    print(" ".join(imageDatastore(location, IncludeSubfolders=subfolders).Files))
"""


def test_links_that_loop_are_not_followed_again_and_each_real_file_is_listed_once(tmp_path):
    tree = tmp_path / "tree"
    (tree / "a" / "b").mkdir(parents=True)
    for index, place in enumerate(["1.png", "a/2.png", "a/b/3.png"]):
        imwrite(images(1, seed=index)[0], tree / place)
    (tree / "a" / "b" / "up").symlink_to("..")  # back to a: a loop
    (tree / "a" / "b" / "top").symlink_to("../..")  # back to the tree: a second loop
    (tree / "a" / "again.png").symlink_to("2.png")  # another name for the same file
    listed = subprocess.run(
        [sys.executable, "-c", _LIST, str(tree)], env=environment(), capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0, listed.stderr
    expected = " ".join(str(tree / place) for place in ["1.png", "a/2.png", "a/b/3.png"])
    assert listed.stdout.splitlines() == [expected, expected]


def test_max_image_bytes_applies_to_every_image_of_a_job(net, model_file, tmp_path):
    """GIF files cannot be sized from their header: refused unless the limit is off, in a job too."""
    pictures = images(3, seed=6)
    for index, picture in enumerate(pictures):
        imwrite(picture, tmp_path / f"{index}.gif")
    base = [str(model_file), str(tmp_path / "*.gif"), "--channel", "1", "--workers", "0"]
    refused = command(*base, "--out", str(tmp_path / "refused"))
    _, stderr = refused.communicate(timeout=120)
    assert refused.returncode == 1 and stderr.count("MaxImageBytes") == 3, stderr
    allowed = command(*base, "--out", str(tmp_path / "allowed"), "--max-image-bytes", "none")
    _, stderr = allowed.communicate(timeout=120)
    assert allowed.returncode == 0, stderr
    for index in range(3):
        X = imread(tmp_path / f"{index}.gif", MaxImageBytes=None)
        np.testing.assert_array_equal(stored(tmp_path / "allowed")["maps"][index], occlusionSensitivity(net, X, 1))
    imwrite(pictures[0], tmp_path / "small.png")  # 768 bytes decoded
    with pytest.raises(ValueError, match=r"image 0 .*small\.png.*MaxImageBytes"):
        next(occlusionSensitivityMaps(net, str(tmp_path / "small.png"), 1, MaxImageBytes=700))
    with pytest.raises(ValueError, match="MaxImageBytes must be a positive number of bytes or None"):
        next(occlusionSensitivityMaps(net, str(tmp_path / "small.png"), 1, MaxImageBytes=-1))


def _calls(function, run) -> int:
    """How many times ``function`` runs while ``run()`` does (however it is referred to)."""
    count = 0

    def profile(frame, event, _):
        nonlocal count
        if event == "call" and frame.f_code is function.__code__:
            count += 1

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return count


def test_a_job_resolves_its_options_once_with_the_same_maps_bit_for_bit(net):
    """A job parses and checks occlusionSensitivity's options once, not once per image through the
    single-image front door (call forms, name-value parsing, predict's checks); every map is
    still the single-image call's, bit for bit."""
    from matlab_occsens._core.callforms import current_call_form
    from matlab_occsens._core.options import occlusion_options
    from matlab_occsens._core.predict import predict

    pictures = images(12, seed=2)
    options = {"MaskSize": [3, 4], "Stride": 2, "MaskValue": "auto", "OutputUpsampling": "nearest"}
    front_door = (occlusion_options, current_call_form, predict)

    def calls(count: int, channels) -> list[int]:
        return [
            _calls(part, lambda: list(occlusionSensitivityMaps(net, pictures[:count], channels, **options)))
            for part in front_door
        ]

    calls(1, "predicted")  # engines built
    assert calls(12, "predicted") == calls(2, "predicted") == [1, 0, 0]
    assert calls(12, [2, 3]) == [1, 0, 0]
    for scoremap, X in zip(occlusionSensitivityMaps(net, pictures, "predicted", **options), pictures):
        np.testing.assert_array_equal(scoremap, occlusionSensitivity(net, X, top_class(X), **options))
    filled = {**options, "MaskValue": [10, 200, 30]}
    for scoremap, X in zip(occlusionSensitivityMaps(net, pictures[:3], [1, 4], **filled), pictures):
        np.testing.assert_array_equal(scoremap, occlusionSensitivity(net, X, [1, 4], **filled))


def test_every_option_of_a_job_is_checked_before_any_work(model_file, tmp_path):
    pytest.importorskip("distributed")
    from matlab_occsens.datasets import occlusionSensitivityDataset

    imwrite(images(1)[0], tmp_path / "0.png")
    for wrong, said in (
        ({"MaskSize": 0}, "MaskSize"),
        ({"MaxImageBytes": 0}, "MaxImageBytes"),
        ({"workers": -1}, "workers"),
    ):
        with pytest.raises(ValueError, match=said):
            occlusionSensitivityDataset(
                model_file, tmp_path / "0.png", 1, out=tmp_path / "out", progress=False, **wrong
            )
        assert not (tmp_path / "out").exists()
