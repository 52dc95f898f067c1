"""The picture of the rooms (docs/images/architecture.svg) is true: the rooms' imports form no
cycle, every module belongs to a room the picture shows, and the picture draws the imports the
code has now (``python -m tools.architecture_diagram`` redraws it)."""

from __future__ import annotations

import html
import re
from pathlib import Path

from tools import architecture_diagram as diagram

ROOT = Path(__file__).resolve().parents[1]


def test_the_rooms_import_each_other_without_a_cycle():
    layer = diagram.layers(diagram.edges())  # raises on a cycle
    assert layer["_utils"] == 0 and layer["public"] == max(layer.values())


def test_every_module_is_in_a_room_of_the_picture():
    modules = [diagram._module_name(path) for path in sorted(diagram.PACKAGE.rglob("*.py"))]
    assert {diagram.room_of(module) for module in modules} == set(diagram.ROOMS)


def test_the_picture_draws_the_imports_of_the_code():
    text = diagram.PICTURE.read_text(encoding="utf-8")
    (described,) = re.findall(r"<dc:description>(.*?)</dc:description>", text, re.S)
    assert html.unescape(described) == diagram.described(diagram.edges())
    for label in diagram.ROOMS.values():
        assert html.escape(label.split("\n")[0], quote=False) in text


def test_the_architecture_page_shows_the_picture():
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert "](images/architecture.svg)" in page
