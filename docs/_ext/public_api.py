"""Writes the API reference's pages from the public names, so that a new public name appears by
itself: each documented module's ``__all__`` is the list (autosummary then writes one page per
name from its docstring), and the command's page shows ``matlab-occsens --help`` as it prints.

The pages are generated into ``docs/api/`` (ignored by git) when the configuration is read,
before autosummary looks for them.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

# The documented modules, in the order the reference lists them, with what each one holds.
MODULES = {
    "matlab_occsens": "MATLAB's functions: the map, the networks, the image functions.",
    "matlab_occsens.image": "MATLAB's image functions: imresize, imresize3, imread, imwrite, rescale, the display.",
    "matlab_occsens.network": "The importers and the network objects and layers they return.",
    "matlab_occsens.datasets": "Many images: a datastore, a stream of maps, and a job into a Zarr store (extensions).",
    "matlab_occsens.pretrained": "Real networks that work offline, for examples, the demo and tests.",
}


def public_names(module_name: str) -> list[str]:
    """The module's ``__all__``, which is what the package promises to keep."""
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if not names:
        raise RuntimeError(f"{module_name} has no __all__: the reference lists public names from it")
    return list(names)


def _module_page(module_name: str, summary: str) -> str:
    title = f"``{module_name}``"
    names = "\n".join(f"   {name}" for name in public_names(module_name))
    return (
        f"{title}\n{'=' * len(title)}\n\n"
        f".. automodule:: {module_name}\n   :no-members:\n\n"
        f".. currentmodule:: {module_name}\n\n"
        f".. autosummary::\n   :toctree: generated\n   :nosignatures:\n\n{names}\n"
    )


def _index_page() -> str:
    lines = [
        "API reference",
        "=============",
        "",
        "Every public name, generated from its docstring. Each page gives the parameters, what",
        "is returned, the MATLAB function it ports (or says it is an extension) and an example",
        "that runs (the examples are run as tests). Anything not listed here is internal.",
        "",
    ]
    for module_name, summary in MODULES.items():
        lines += [f"- :doc:`{module_name}`: {summary}"]
    lines += ["- :doc:`command`: the ``matlab-occsens`` command's options.", ""]
    lines += [".. toctree::", "   :hidden:", ""]
    lines += [f"   {module_name}" for module_name in MODULES] + ["   command", ""]
    return "\n".join(lines)


def _command_page(root: Path) -> str:
    # The checkout's package first, as conf.py imports it; a fixed width, so the page is stable.
    path = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
    environment = dict(os.environ, COLUMNS="100", PYTHONPATH=path)
    printed = subprocess.run(
        [sys.executable, "-m", "matlab_occsens", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
        timeout=120,
    ).stdout
    block = "\n".join(f"   {line}" if line else "" for line in printed.splitlines())
    return (
        "The ``matlab-occsens`` command\n==============================\n\n"
        "Every option, as ``matlab-occsens --help`` prints it (this page is generated from it). "
        "How to use the command is in :doc:`../command`.\n\n"
        f".. code-block:: text\n\n{block}\n"
    )


def _write(path: Path, text: str) -> None:
    """Writes only what changed, so that Sphinx rebuilds only what changed."""
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def write_pages(app: Any, config: Any) -> None:
    folder = Path(app.srcdir) / "api"
    folder.mkdir(exist_ok=True)
    _write(folder / "index.rst", _index_page())
    for module_name, summary in MODULES.items():
        _write(folder / f"{module_name}.rst", _module_page(module_name, summary))
    _write(folder / "command.rst", _command_page(Path(app.confdir).parent))


def setup(app: Any) -> dict[str, Any]:
    app.connect("config-inited", write_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
