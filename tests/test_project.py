"""The habits of a maintained library hold: one version, read by the package, the build and the
command; the license the metadata declares is the file in the repository; the changelog keeps a
section for what is not released yet."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import matlab_occsens
from matlab_occsens import _version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_version_is_written_once_and_read_by_the_build_and_the_package():
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "matlab_occsens._version.__version__"}
    assert matlab_occsens.__version__ == _version.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.dev\d+|rc\d+)?", _version.__version__)
    written = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "matlab_occsens").rglob("*.py")
        if path.name != "_version.py" and re.search(r"^__version__\s*=", path.read_text(encoding="utf-8"), re.M)
    ]
    assert written == []


def test_the_command_reports_the_version():
    printed = subprocess.run(
        [sys.executable, "-m", "matlab_occsens", "--version"], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert printed.split() == ["matlab-occsens", _version.__version__]


def test_the_license_file_is_the_apache_license_the_metadata_declares():
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text


def test_the_changelog_has_an_unreleased_section_then_the_current_version():
    headings = re.findall(r"^## (\S+)", (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"), re.M)
    assert headings[0] == "Unreleased"
    assert _version.__version__ in headings
