"""Sphinx configuration of the documentation site.

Build it from the repository root with ``sphinx-build -W --keep-going -b html docs docs/_build/html``
(the ``[docs]`` extra). The Markdown pages are read by myst-parser, the API reference is generated
from the docstrings of the public names (``docs/_ext/public_api.py`` lists them from ``__all__``),
and the gallery runs every script of ``examples/`` at each build (sphinx-gallery).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # this checkout's package, whatever else is installed
sys.path.insert(0, str(DOCS / "_ext"))
# Examples draw into files, never onto a screen; their progress bars stay off the build log.
os.environ.setdefault("MPLBACKEND", "Agg")

import matlab_occsens  # noqa: E402

project = "matlab-occsens"
author = "the matlab-occsens authors"
copyright = "the matlab-occsens authors"
release = matlab_occsens.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "public_api",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/*.md5"]
# A page may name another page's heading (``[text](page.md#heading)``): myst makes the anchors.
myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence", "dollarmath"]

# -- API reference: autosummary pages from __all__, read by numpydoc -----------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"  # the numpydoc Parameters sections say the types, in MATLAB's words
autodoc_default_options = {"member-order": "bysource"}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# Every docstring of the reference has a summary and documents its parameters and what it returns
# (MATLAB's name-value options are documented beside the signature's *args and **kwargs, so
# parameters the signature does not name are not an error). tests/test_api_docs.py holds each
# public name to more: an example, and its MATLAB equivalent or "Extension".
numpydoc_validation_checks = {"GL08", "SS01", "PR01", "RT01"}
# The members of a class (methods, properties, fields) are documented on its page but not held to
# the numpydoc sections: "<module>.<Class>.<member>".
numpydoc_validation_exclude = {r"\.[A-Z]\w*\.\w+$"}
default_role = "py:obj"

# -- Gallery --------------------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",  # every plot_*.py script runs at each build
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": True,
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "remove_config_comments": True,
    "show_memory": False,
    "min_reported_time": 1,
    "reset_modules": ("matplotlib",),
    "capture_repr": ("_repr_html_", "__repr__"),
    "doc_module": ("matlab_occsens",),
    "reference_url": {"matlab_occsens": None},
    "backreferences_dir": "api/backreferences",
}

# -- HTML -----------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"matlab-occsens {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navbar_align": "left",
    "show_prev_next": False,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
}
html_sidebars = {"auto_examples/index": []}
html_show_sourcelink = True
