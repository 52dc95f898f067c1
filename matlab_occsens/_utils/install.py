"""The pip command that adds an extra to this installation, for every "install X" message.

``pip install "matlab-occsens[demo]"`` only works once the package is on an index. Until then (and
for anyone running a clone or a wheel file), a message that tells the user what to install must
name where this copy came from: the source folder of a clone, the path a local install was made
from (pip records it in the distribution's ``direct_url.json``), or the name for an index install.
The command starts with this interpreter (``python -m pip``), so it installs into the environment
that is running, active or not.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

__all__ = ["install_command", "pip_command"]

DISTRIBUTION = "matlab-occsens"
_SOURCE = Path(__file__).resolve().parents[2]  # the clone's root when running from source (_utils/ is two below)


def _quoted(word: str) -> str:
    return shlex.quote(word) if os.name == "posix" else f'"{word}"'


def _direct_url() -> dict[str, Any] | None:
    """pip's record of where the installed distribution came from (None: an index, or not installed)."""
    try:
        text = metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    return json.loads(text) if text else None


def _target(extra: str, direct_url: dict[str, Any] | None, source: Path | None) -> list[str]:
    """The words after ``pip install`` that reinstall this copy with ``extra``."""
    suffix = f"[{extra}]" if extra else ""
    if source is not None:  # running from a clone (editable install or PYTHONPATH)
        return ["-e", _quoted(f"{source}{suffix}")]
    if direct_url is not None:
        url = str(direct_url.get("url", ""))
        parsed = urlparse(url)
        if parsed.scheme == "file" and "dir_info" in direct_url:
            folder = unquote(parsed.path)
            editable = ["-e"] if direct_url["dir_info"].get("editable") else []
            return [*editable, _quoted(f"{folder}{suffix}")]
        vcs = direct_url.get("vcs_info")
        if vcs:
            url = f"{vcs['vcs']}+{url}@{vcs.get('commit_id', '')}".rstrip("@")
        return [_quoted(f"{DISTRIBUTION}{suffix} @ {url}")]
    return [_quoted(f"{DISTRIBUTION}{suffix}")]


def _running_source() -> Path | None:
    """The clone this module runs from, if it runs from one rather than from site-packages."""
    return _SOURCE if (_SOURCE / "pyproject.toml").is_file() and (_SOURCE / "matlab_occsens").is_dir() else None


def install_command(extra: str = "") -> str:
    """A command that installs matlab-occsens with ``extra`` (e.g. "demo") where this copy came from.

    Examples
    --------
    >>> install_command("demo")  # doctest: +SKIP
    '/home/me/occsens/.venv/bin/python -m pip install -e "/home/me/occsens[demo]"'
    """
    return pip_command("install", *_target(extra, _direct_url(), _running_source()))


def pip_command(*words: str) -> str:
    """``python -m pip WORDS`` with this interpreter, so it acts on the running environment."""
    return " ".join([_quoted(sys.executable), "-m", "pip", *words])
