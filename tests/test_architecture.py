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


def _rooms_table() -> list[tuple[str, str]]:
    """(room, holds) for each row of the rooms table of docs/architecture.md."""
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = page.split("\n## The rooms\n")[1].split("\n## ")[0]
    return re.findall(r"^\| (`[^|]*`[^|]*) \| (.*) \|$", section, re.MULTILINE)


def test_the_architecture_page_names_every_module_in_its_room_and_only_modules_that_exist():
    package = ROOT / "matlab_occsens"
    rows = _rooms_table()
    named_in = {}  # folder -> the files named in its rows
    for room, holds in rows:
        for folder in re.findall(r"`(\w+)/`", room) or [""]:
            named_in.setdefault(folder, set()).update(re.findall(r"`(\w+\.py)`", room + holds))
    everywhere = set().union(*named_in.values())
    missing, phantom = [], []
    for path in sorted(package.rglob("*.py")):
        folder = "" if path.parent == package else path.parent.relative_to(package).as_posix()
        named = everywhere if folder == "" else named_in.get(folder, set())  # a root module: in any row
        if path.name != "__init__.py" and path.name not in named:
            missing.append(path.relative_to(package).as_posix())
    for folder, names in named_in.items():
        phantom += [  # a row may name the root module that leads to its room (`__main__.py`)
            f"{folder}/{name}"
            for name in names
            if folder and not (package / folder / name).exists() and not (package / name).exists()
        ]
    phantom += [name for name in named_in.get("", ()) if not list(package.rglob(name))]
    assert missing == [] and phantom == []
    folders = {path.name for path in package.iterdir() if path.is_dir() and path.name != "__pycache__"}
    assert folders - {"data"} <= set(named_in) and "`data/`" in "".join(holds for _, holds in rows)
