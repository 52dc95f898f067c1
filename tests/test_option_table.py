"""Each option is defined once (``matlab_occsens._core.option_table``) and every place that lists
options reads it: validation, the command's flags, the docstrings, README.md and docs/migration.md.
A new option that misses a place fails here."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from matlab_occsens import importNetworkFromONNX, importNetworkFromPyTorch, occlusionSensitivity
from matlab_occsens._command import cli
from matlab_occsens._core import option_table
from matlab_occsens._core.option_table import Option, defaults, numpydoc_entries
from matlab_occsens._core.options import DEFAULTS, RESOLVERS, OcclusionOptions, field_name
from matlab_occsens.network._import_options import INPUT_LAYER_OPTIONS
from tools import option_table as option_table_tool

ROOT = Path(__file__).resolve().parents[1]


def _flags() -> dict[str, str]:
    """Flag -> its metavar, from the command's parser as ``--help`` would show it."""
    parser = cli._run_parser()
    return {action.option_strings[0]: str(action.metavar) for action in parser._actions if action.option_strings}


def _metavar(entry: Option) -> str:
    if entry.words is None:
        return "NAME"
    return "|".join((*entry.words, "N")) if entry.numbers else "{" + ",".join(entry.words) + "}"


def places_missing() -> list[str]:
    """The places whose options differ from the table's (read at call time, so a test may change it)."""
    occlusion, input_layer = option_table.OCCLUSION, option_table.INPUT_LAYER
    names = [entry.name for entry in occlusion]
    missing = []
    if list(RESOLVERS) != names:
        missing.append("validation: options.RESOLVERS")
    if [field.name for field in dataclasses.fields(OcclusionOptions)] != [field_name(name) for name in names]:
        missing.append("validation: OcclusionOptions")
    if DEFAULTS != defaults(occlusion):
        missing.append("validation: options.DEFAULTS")
    if INPUT_LAYER_OPTIONS != defaults(input_layer):
        missing.append("validation: INPUT_LAYER_OPTIONS")
    flags = _flags()
    for entry in (*occlusion, *input_layer, *option_table.IMPORT):
        if entry.flag and flags.get(cli.flag(entry.name)) != _metavar(entry):
            missing.append(f"flag: {cli.flag(entry.name)}")
        if not entry.flag and cli.flag(entry.name) in flags:
            missing.append(f"flag: {cli.flag(entry.name)} (Python only)")
    if numpydoc_entries(occlusion) not in (occlusionSensitivity.__doc__ or ""):
        missing.append("docstring: occlusionSensitivity")
    for importer in (importNetworkFromONNX, importNetworkFromPyTorch):
        if numpydoc_entries(input_layer) not in (importer.__doc__ or ""):
            missing.append(f"docstring: {importer.__name__}")
    for page in option_table_tool.PAGES:
        text = (ROOT / page).read_text(encoding="utf-8")
        if option_table_tool.rendered(text) != text:
            missing.append(f"table: {page}")
    return missing


def test_every_place_lists_exactly_the_table():
    assert places_missing() == []


def test_the_docs_mark_the_tables_they_hold():
    marked = {
        page: option_table_tool.tables((ROOT / page).read_text(encoding="utf-8")) for page in option_table_tool.PAGES
    }
    assert marked == {"README.md": ["OCCLUSION"], "docs/migration.md": ["OCCLUSION", "INPUT_LAYER"]}
    assert option_table_tool.main(["--check"]) == 0


def test_a_new_option_is_a_flag_at_once_and_every_other_place_fails_until_it_lists_it(monkeypatch):
    fake = Option("FakeWindow", "auto", "A window.", words=("auto",), numbers="a scalar or one value per spatial axis")
    monkeypatch.setattr(option_table, "OCCLUSION", (*option_table.OCCLUSION, fake))
    assert _flags()["--fake-window"] == "auto|N"
    assert places_missing() == [
        "validation: options.RESOLVERS",
        "validation: OcclusionOptions",
        "validation: options.DEFAULTS",
        "docstring: occlusionSensitivity",
        "table: README.md",
        "table: docs/migration.md",
    ]
    assert '| `FakeWindow` | extension | `"auto"`, a scalar or one value per spatial axis |' in (
        option_table.markdown_table(option_table.OCCLUSION)
    )


def test_a_python_only_option_has_no_flag_and_says_so(monkeypatch):
    function = Option("ReduceWith", None, "A function of the totals.", python="callable", flag=False)
    monkeypatch.setattr(option_table, "OCCLUSION", (*option_table.OCCLUSION, function))
    assert "--reduce-with" not in _flags()
    assert function.type_text() == "callable"
    assert "a Python callable (no flag)" in option_table.markdown_table(option_table.OCCLUSION)
    assert re.search(
        r"ReduceWith : callable, optional\n +Extension \(not in MATLAB\)\. A function",
        numpydoc_entries(option_table.OCCLUSION),
    )


def test_validation_takes_the_table_s_words_and_defaults():
    import numpy as np

    from matlab_occsens._core.options import occlusion_options

    image = np.zeros((20, 30, 3), np.float32)
    resolved = occlusion_options(image, (), {})
    assert (resolved.mask_size, resolved.stride, resolved.mini_batch_size) == ((4, 6), (2, 3), 128)
    for entry in option_table.OCCLUSION:
        for word in entry.words or ():
            occlusion_options(image, (), {entry.name: word.upper()})  # every word of the table is taken
    with pytest.raises(ValueError, match="OutputUpsampling"):
        occlusion_options(image, (), {"OutputUpsampling": "bilinear"})
