"""Draw the rooms of matlab_occsens and what imports what, from the code itself.

Every module is given to a room (its package; the core's rules and its maps are two rooms, as
they sit at both ends of the graph), every import between rooms read from the source (an import
needed only for type hints, under ``if TYPE_CHECKING:``, does not count) and the rooms drawn in
layers, each above what it imports; an arrow a -> c is left out where a longer path a -> b -> c
says it. ``tests/test_architecture.py`` holds the graph acyclic and the picture current.

    python -m tools.architecture_diagram          # writes docs/images/architecture.svg
"""

from __future__ import annotations

import ast
import io
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "matlab_occsens"
PICTURE = ROOT / "docs" / "images" / "architecture.svg"

#: The rooms, each with what it holds, as the picture labels them.
ROOMS: dict[str, str] = {
    "version": "_version.py\nthe one version, stamped into stores",
    "_utils": "_utils/\nname-value, checks, warnings,\ninstall commands, file sets, LRU cache",
    "core rules": "_core/ rules\noptions (option_table), grid,\nlabels, activations",
    "image": "image/\nimresize, imread/imwrite,\nrescale, display",
    "pretrained": "pretrained.py\nthe offline networks",
    "_volumes_signals": "_volumes_signals/\nvolume and signal files:\nread, fit, NIfTI maps, pictures",
    "_stream": "_stream/\nthe occluded images in batches",
    "_backends": "_backends/\nONNX Runtime, torch",
    "network": "network/\nnetwork objects, importers",
    "_incremental": "_incremental/\nexact incremental inference",
    "core maps": "_core/ maps\noccluded maps, call forms, predict",
    "datasets": "datasets/\nmany images, volumes, signals:\nDask, Zarr",
    "_command": "_command/\nthe matlab-occsens command",
    "public": "__init__.py, _hooks.py\nthe public names; hooks",
}
_MAPS = {"occlusion", "callforms", "predict"}
#: Where a room sits across its layer (0: the middle); the one chain of rooms runs down the middle.
_COLUMNS = {"image": -1, "_volumes_signals": -1, "pretrained": 1, "version": 1}


def room_of(module: str) -> str:
    """The room of a dotted module name of the package."""
    parts = module.split(".")[1:]
    if parts and parts[0] in ("__version__", "_version"):
        return "version"
    if not parts or parts[0] in ("__init__", "__main__", "_hooks"):
        return "public"
    if parts[0] == "pretrained":
        return "pretrained"
    if parts[0] == "_core":
        return "core maps" if len(parts) > 1 and parts[1] in _MAPS else "core rules"
    return parts[0]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(tree: ast.Module) -> Iterator[ast.ImportFrom | ast.Import]:
    """Imports that run, anywhere in the module (functions' lazy imports too), but not those under
    ``if TYPE_CHECKING:``."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _imported(node: ast.ImportFrom | ast.Import, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level == 0:
        return [node.module or ""]
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    target = ".".join([*base, node.module] if node.module else base)
    return [target] if node.module else [f"{target}.{alias.name}" for alias in node.names]


def edges() -> set[tuple[str, str]]:
    """(importing room, imported room) for every import between two rooms of the package."""
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in _runtime_imports(tree):
            for target in _imported(node, module, path.name == "__init__.py"):
                if target.split(".")[0] == "matlab_occsens" and room_of(target) != room_of(module):
                    found.add((room_of(module), room_of(target)))
    return found


def layers(graph: set[tuple[str, str]]) -> dict[str, int]:
    """Each room's layer: one above the highest room it imports (0: imports no room)."""
    layer: dict[str, int] = {}

    def depth(room: str, seen: tuple[str, ...] = ()) -> int:
        if room in seen:
            raise ValueError(f"import cycle: {' -> '.join((*seen, room))}")
        if room not in layer:
            below = [depth(target, (*seen, room)) for source, target in graph if source == room]
            layer[room] = 1 + max(below, default=-1)
        return layer[room]

    for room in ROOMS:
        depth(room)
    return layer


def reduced(graph: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The edges no longer path implies."""

    def reachable(start: str, skip: tuple[str, str]) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            room = todo.pop()
            for edge in graph:
                if edge[0] == room and edge != skip and edge[1] not in seen:
                    seen.add(edge[1])
                    todo.append(edge[1])
        return seen

    return {edge for edge in graph if edge[1] not in reachable(edge[0], edge)}


def described(graph: set[tuple[str, str]]) -> str:
    """The drawn arrows as text, kept in the picture's metadata so a test can tell it is current."""
    return "imports: " + "; ".join(f"{source} -> {target}" for source, target in sorted(reduced(graph)))


def draw(path: Path = PICTURE) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    graph = edges()
    layer = layers(graph)
    width, height = 3.2, 0.95
    figure, axes = plt.subplots(figsize=(11, 1.25 * (max(layer.values()) + 1) + 0.4))
    position = {room: (_COLUMNS.get(room, 0) * (width + 0.6), layer[room] * 1.6) for room in ROOMS}
    for source, target in sorted(reduced(graph)):
        (x0, y0), (x1, y1) = position[source], position[target]
        long = layer[source] - layer[target] > 1 and x0 == 0 and x1 != 0  # beside the middle column
        side = 1 if x1 > 0 else -1
        start = (x0 + side * width / 2, y0) if long else (x0, y0 - height / 2)
        end = (x1 - width / 2, y1) if long and side > 0 else (x1, y1 + height / 2)
        axes.annotate(
            "",
            xy=end,
            xytext=start,
            arrowprops={
                "arrowstyle": "-|>",
                "color": "#777777",
                "lw": 1.0,
                "shrinkA": 2,
                "shrinkB": 2,
                "connectionstyle": "arc3,rad=-0.15" if long and side > 0 else "arc3",
            },
        )
    for room, (x, y) in position.items():
        public = not room.startswith("_") and "core" not in room
        axes.add_patch(
            plt.Rectangle(
                (x - width / 2, y - height / 2),
                width,
                height,
                facecolor="#dbe9f6" if public else "#eeeeee",
                edgecolor="#3b6ea5" if public else "#888888",
                linewidth=1.2,
            )
        )
        title, *rest = ROOMS[room].split("\n")
        axes.text(x, y + 0.22, title, ha="center", va="center", fontsize=10, weight="bold")
        axes.text(x, y - 0.12, "\n".join(rest), ha="center", va="center", fontsize=7.5, linespacing=1.2)
    xs = [x for x, _ in position.values()]
    axes.set_xlim(min(xs) - width, max(xs) + width)
    axes.set_ylim(-height, max(layer.values()) * 1.6 + height)
    axes.set_axis_off()
    axes.set_title("matlab_occsens: each room imports only rooms below it (blue: public)", fontsize=10)
    matplotlib.rcParams["svg.hashsalt"] = "matlab-occsens"
    matplotlib.rcParams["svg.fonttype"] = "none"
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Description": described(graph)})
    plt.close(figure)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buffer.getvalue(), encoding="utf-8")


if __name__ == "__main__":
    draw()
    print(f"wrote {PICTURE.relative_to(ROOT)}")
