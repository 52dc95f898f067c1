"""Every public name is documented as the API reference promises: a docstring with its MATLAB
equivalent (or "Extension") and an example that runs. The examples of functions and classes run
as doctests (``pytest --doctest-modules matlab_occsens``); those of constants, which doctest does
not collect, run here."""

from __future__ import annotations

import ast
import doctest
import importlib
import inspect
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
MODULES = (
    "matlab_occsens",
    "matlab_occsens.image",
    "matlab_occsens.network",
    "matlab_occsens.datasets",
    "matlab_occsens.pretrained",
)  # the public modules of docs/architecture.md (tests/test_public_api.py holds that list)


def _constant_docstring(module: ModuleType, name: str) -> str | None:
    """The string literal after ``name = ...`` at the top level of the module's source (where
    Sphinx reads a constant's documentation from)."""
    body = ast.parse(inspect.getsource(module)).body
    for statement, following in zip(body, body[1:]):
        targets = statement.targets if isinstance(statement, ast.Assign) else [getattr(statement, "target", None)]
        named = any(isinstance(target, ast.Name) and target.id == name for target in targets)
        if named and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant):
            value = following.value.value
            return inspect.cleandoc(value) if isinstance(value, str) else None
    return None


def _public() -> list[tuple[str, str, Any, str | None]]:
    names = []
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            value = getattr(module, name)
            documented = callable(value) or inspect.isclass(value)
            doc = inspect.getdoc(value) if documented else _constant_docstring(module, name)
            names.append((module_name, name, value, doc))
    return names


PUBLIC = _public()


@pytest.mark.parametrize(("module_name", "name", "value", "doc"), PUBLIC, ids=[f"{m}.{n}" for m, n, _, _ in PUBLIC])
def test_each_public_name_says_what_it_ports_and_shows_it(module_name, name, value, doc):
    assert doc, f"{module_name}.{name} has no docstring"
    assert re.search(r"^(MATLAB equivalent|Extension):", doc, re.MULTILINE), (
        f'{module_name}.{name}: the docstring must say "MATLAB equivalent: ..." or "Extension: ..."'
    )
    examples = re.search(r"^Examples\n-{8}\n(.*?)(?:^\w[^\n]*\n-{3,}\n|\Z)", doc, re.MULTILINE | re.DOTALL)
    assert examples and ">>>" in examples.group(1), f"{module_name}.{name}: no Examples section with a >>> example"


def _sections(doc: str) -> set[str]:
    return set(re.findall(r"^(\w[\w ]*)\n-{3,}$", doc, re.MULTILINE))


@pytest.mark.parametrize(
    ("module_name", "name", "value", "doc"),
    [entry for entry in PUBLIC if callable(entry[2])],
    ids=[f"{m}.{n}" for m, n, v, _ in PUBLIC if callable(v)],
)
def test_each_public_function_and_class_has_its_numpydoc_sections(module_name, name, value, doc):
    """Parameters where it takes any, Returns (or Yields) where a function gives something back;
    a warning class, which the package raises and users never build, takes none."""
    sections = _sections(doc or "")
    if inspect.isclass(value) and issubclass(value, Warning):
        return
    parameters = [
        parameter for parameter in inspect.signature(value).parameters.values() if parameter.name not in ("self", "cls")
    ]
    if parameters:
        assert "Parameters" in sections, f"{module_name}.{name}: no Parameters section"
    if not inspect.isclass(value) and inspect.signature(value).return_annotation not in (None, "None"):
        assert sections & {"Returns", "Yields"}, f"{module_name}.{name}: no Returns section"


@pytest.mark.parametrize(
    ("module_name", "name", "doc"),
    [(m, n, d) for m, n, v, d in PUBLIC if not (callable(v) or inspect.isclass(v))],
    ids=[f"{m}.{n}" for m, n, v, _ in PUBLIC if not (callable(v) or inspect.isclass(v))],
)
def test_the_examples_of_public_constants_run(module_name, name, doc):
    test = doctest.DocTestParser().get_doctest(doc or "", {}, f"{module_name}.{name}", module_name, 0)
    assert test.examples, f"{module_name}.{name}: no example"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


def test_the_reference_lists_the_public_names_from_their_modules():
    """The docs generate one page per name of each module's ``__all__``, for these modules."""
    import sys

    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        public_api = importlib.import_module("public_api")
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    assert tuple(public_api.MODULES) == MODULES
    for module_name in MODULES:
        page = public_api._module_page(module_name, "")
        listed = re.findall(r"^   (\w+)$", page, re.MULTILINE)
        assert listed == list(importlib.import_module(module_name).__all__)
