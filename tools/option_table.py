"""Rewrite the option tables of README.md and docs/migration.md from the one option table.

Each table sits between ``<!-- option table NAME: ... -->`` and ``<!-- end of option table -->``,
where NAME is a table of the option table (``matlab_occsens._core.option_table``) (``OCCLUSION``, ``INPUT_LAYER``);
the text between is what :func:`~matlab_occsens._core.option_table.markdown_table` renders.

    python -m tools.option_table            # rewrite the tables
    python -m tools.option_table --check    # exit 1 and name the files whose tables are stale
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from matlab_occsens._hooks import option_table

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("README.md", "docs/migration.md")
_TABLE = re.compile(
    r"(<!-- option table (\w+): written by python -m tools\.option_table -->\n)(.*?)(<!-- end of option table -->\n)",
    re.S,
)


def rendered(text: str) -> str:
    """``text`` with every marked table rewritten from the option table."""

    def table(match: re.Match[str]) -> str:
        name = match.group(2)
        return match.group(1) + option_table.markdown_table(getattr(option_table, name)) + match.group(4)

    return _TABLE.sub(table, text)


def tables(text: str) -> list[str]:
    """The names of the tables marked in ``text``."""
    return [match.group(2) for match in _TABLE.finditer(text)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a table is stale")
    args = parser.parse_args(argv)
    stale = []
    for page in PAGES:
        path = ROOT / page
        text = path.read_text(encoding="utf-8")
        new = rendered(text)
        if new != text:
            stale.append(page)
            if not args.check:
                path.write_text(new, encoding="utf-8")
    if args.check and stale:
        print(f"stale option tables in {', '.join(stale)}: run python -m tools.option_table", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
