"""Every option of ``occlusionSensitivity`` and of the input layer, defined once.

Each :class:`Option` says its name, default, the values it takes, what it does and whether MATLAB
has it. Everything that lists options reads this table: the defaults and choices validation uses
(``options.py``, the input layer), the command's flags (their forms and help), the options sections
of the docstrings (rendered here, in numpydoc), and the tables of README.md and docs/migration.md
(rendered here; ``python -m tools.option_table`` rewrites them). ``tests/test_option_table.py``
fails when a place misses an option.

An option Python takes but a command line cannot give (a function, say) has ``flag=False``; the
forms of its values are free text, so "a scalar or one value per spatial axis" is as easy to say
as "n or [h w]".
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .formats import INPUT_FORMATS

__all__ = [
    "IMPORT",
    "INPUT_LAYER",
    "OCCLUSION",
    "Option",
    "defaults",
    "markdown_table",
    "numpydoc_entries",
    "option",
    "with_options",
]


@dataclass(frozen=True)
class Option:
    """One option: what every place that lists it reads."""

    name: str
    """MATLAB's name (the Python keyword, and ``--kebab-case`` on the command line)."""
    default: Any
    help: str
    """What it does, in a sentence or two (the docstring, the flag's help, the docs tables)."""
    words: tuple[str, ...] | None = ()
    """The text values it takes (validation matches them, case-insensitive, abbreviations allowed);
    None: any text, such as a layer name."""
    numbers: str = ""
    """The numbers it takes, in Markdown (``"`n` or `[h w]`"``); empty: none."""
    logical: bool = False
    """Whether True and False are taken too (MATLAB's on/off)."""
    python: str = ""
    """A Python-only form of value, in the numpydoc type's words (``"callable"``); such an option has
    no flag."""
    default_text: str = ""
    """What the default amounts to, when that needs words (``round(0.2·[H W])``)."""
    matlab: str = ""
    """Where MATLAB defines the option (the function or layer); empty for an extension."""
    flag: bool = True
    """Whether the ``matlab-occsens`` command has a flag for it."""

    @property
    def extension(self) -> bool:
        return not self.matlab

    def type_text(self) -> str:
        """The numpydoc type: ``{"on", "off"} or bool``, ``"auto", n or [h w]``, ``callable``, ..."""
        if self.words is None:
            return "str"
        words = ", ".join(f'"{word}"' for word in self.words)
        if self.numbers:  # the text values join the list of numbers
            main = ", ".join(part for part in (words, _plain(self.numbers)) if part)
        else:
            main = "{" + words + "}" if words else ""
        return " or ".join(part for part in (main, "bool" if self.logical else "", self.python) if part)

    def text(self) -> str:
        """Its help as the docstring and the flag say it: marked when it is an extension, with what
        the default amounts to."""
        text = ("Extension (not in MATLAB). " if self.extension else "") + self.help
        return text + (f" The default is {self.default_text}." if self.default_text else "")

    def default_shown(self) -> str:
        """The default as Python writes it (``"auto"``, ``128``, ``False``)."""
        return f'"{self.default}"' if isinstance(self.default, str) else repr(self.default)

    def values_markdown(self) -> str:
        parts = [f'`"{word}"`' for word in self.words or ()]
        if self.words is None:
            parts.append("any name")
        if self.numbers:
            parts.append(self.numbers)
        if self.logical:
            parts.append("`True`/`False`")
        if self.python:
            parts.append(f"a Python {self.python} (no flag)")
        if len(parts) == 1 or " or " in parts[-1]:
            return ", ".join(parts)
        return ", ".join(parts[:-1]) + " or " + parts[-1]


def _plain(markdown: str) -> str:
    return markdown.replace("`", "")


OCCLUSION: tuple[Option, ...] = (
    Option(
        "MaskSize",
        "auto",
        "Size of the occluding mask: vertical then horizontal for an image, one value per axis for a "
        "volume, time steps for a signal (a mask covers every channel).",
        words=("auto",),
        numbers="`n` or `[h w]` (`[s1 s2 s3]` for a volume)",
        default_text="round(0.2·[H W]), of each spatial axis",
        matlab="occlusionSensitivity",
    ),
    Option(
        "Stride",
        "auto",
        "Step between mask positions: vertical then horizontal for an image, one value per axis for a "
        "volume, time steps for a signal.",
        words=("auto",),
        numbers="`n` or `[a b]` (`[s1 s2 s3]` for a volume)",
        default_text="round(0.1·[H W]), of each spatial axis",
        matlab="occlusionSensitivity",
    ),
    Option(
        "MaskValue",
        "auto",
        "Value the mask fills its pixels with, per channel.",
        words=("auto",),
        numbers="a number or one per channel",
        default_text="the channel means of X",
        matlab="occlusionSensitivity",
    ),
    Option(
        "OutputUpsampling",
        "bicubic",
        '"none" returns one value per mask position; otherwise the map is resized to H×W with MATLAB\'s imresize.',
        words=("bicubic", "nearest", "none"),
        matlab="occlusionSensitivity",
    ),
    Option(
        "MaskClipping",
        "on",
        '"on": mask centres start on the first pixel and masks are cut at the border; "off": masks '
        "start at the first pixel and only masks that fit entirely are used.",
        words=("on", "off"),
        logical=True,
        matlab="occlusionSensitivity",
    ),
    Option(
        "MiniBatchSize",
        128,
        "The most occluded images per forward call (speed and memory only); on a CPU the network runs "
        "at the fastest batch size up to this, measured once per network.",
        numbers="a positive integer",
        matlab="occlusionSensitivity",
    ),
    Option(
        "ExecutionEnvironment",
        "auto",
        'Where the network runs; "auto" uses a GPU when the backend can.',
        words=("auto", "cpu", "gpu"),
        matlab="occlusionSensitivity",
    ),
    Option(
        "Verbose",
        False,
        "A progress bar on stderr for maps that take more than a second (the command shows one on a "
        "terminal unless --quiet).",
        logical=True,
        flag=False,
    ),
    Option(
        "Incremental",
        "auto",
        "Recompute, for each mask, only the activations the mask can change; same map up to float "
        'rounding (docs/incremental.md). "auto" uses it where it is measured faster on the map\'s own '
        'masks (ONNX networks on the CPU; images, volumes and signals alike); "on" wherever the graph '
        "allows, warning and running the ordinary forward passes elsewhere.",
        words=("auto", "on", "off"),
        logical=True,
    ),
    Option(
        "ReductionFcn",
        None,
        "The score of one channel: a function of its activations for a batch of B inputs, shape (B, "
        "S1, ..., Sk) in MATLAB's layout (e.g. (B, H, W)), returning B numbers: a region's sum, a box's "
        "score, a max. It is tried on the unoccluded input first; one that raises or returns anything "
        "but B finite numbers is a ValueError.",
        words=(),
        python="callable",
        default_text="the total activation (the sum over the spatial and time axes)",
        flag=False,
    ),
)
"""``occlusionSensitivity``'s name-value options, in MATLAB's documentation order."""

INPUT_LAYER: tuple[Option, ...] = (
    Option(
        "Normalization",
        "none",
        "Normalisation of raw pixels done by the input layer, with the statistics below (an ONNX or "
        "PyTorch file carries none, so the importers take them).",
        words=("none", "zerocenter", "zscore", "rescale-symmetric", "rescale-zero-one"),
        matlab="imageInputLayer",
    ),
    Option(
        "Mean",
        None,
        'For "zerocenter" and "zscore", in raw pixel units.',
        numbers="a number, one per channel or an H×W×C array",
        matlab="imageInputLayer",
    ),
    Option(
        "StandardDeviation",
        None,
        'For "zscore", in raw pixel units.',
        numbers="a number, one per channel or an H×W×C array",
        matlab="imageInputLayer",
    ),
    Option(
        "Min",
        None,
        'For "rescale-symmetric" and "rescale-zero-one", in raw pixel units.',
        numbers="a number, one per channel or an H×W×C array",
        matlab="imageInputLayer",
    ),
    Option(
        "Max",
        None,
        'For "rescale-symmetric" and "rescale-zero-one", in raw pixel units.',
        numbers="a number, one per channel or an H×W×C array",
        matlab="imageInputLayer",
    ),
)
"""The input layer's options, which both importers take (MATLAB sets them on ``imageInputLayer``)."""

IMPORT: tuple[Option, ...] = (
    Option(
        "InputSize",
        None,
        "Image size, for files whose input size is dynamic.",
        numbers="`[H W C]` or `[H W]`",
        matlab="imageInputLayer",
    ),
    Option(
        "InputDataFormats",
        None,
        "Layout of the ONNX input: BCSS (NCHW) or BSSC (NHWC) for an image, BCSSS or BSSSC for a volume, "
        "BCT or BTC for a signal; detected when the shape is unambiguous.",
        words=INPUT_FORMATS,
        matlab="importNetworkFromONNX",
    ),
    Option(
        "OutputNames",
        None,
        "Measure this layer or tensor instead of the network's output.",
        words=None,
        matlab="importNetworkFromONNX",
    ),
)
"""The importer's own options the command has flags for (their forms differ between importers, so
each importer's docstring and validation keep their own wording)."""


def option(name: str, table: Sequence[Option] | None = None) -> Option:
    """The option called ``name`` (in ``table``, else in any table)."""
    for found in table if table is not None else (*OCCLUSION, *INPUT_LAYER, *IMPORT):
        if found.name == name:
            return found
    raise KeyError(name)


def defaults(table: Sequence[Option]) -> dict[str, Any]:
    """Name -> default, in the table's order: what name-value parsing starts from."""
    return {entry.name: entry.default for entry in table}


def numpydoc_entries(table: Sequence[Option], indent: str = "    ") -> str:
    """The options as numpydoc parameter entries."""
    lines = []
    for entry in table:
        default = "optional" if entry.default is None else f"default {entry.default_shown()}"
        lines.append(f"{indent}{entry.name} : {entry.type_text()}, {default}")
        lines += textwrap.wrap(entry.text(), 96, initial_indent=indent * 2, subsequent_indent=indent * 2)
    return "\n".join(lines) + "\n"


_PLACE = "{options}\n"

F = TypeVar("F", bound=Callable[..., Any])


def with_options(table: Sequence[Option]) -> Callable[[F], F]:
    """Decorator: the docstring's ``{options}`` line becomes the table's numpydoc entries."""

    def decorate(function: F) -> F:
        doc = function.__doc__
        if doc is None:  # python -OO: no docstrings
            return function
        if _PLACE not in doc:
            raise ValueError(f"{function.__name__}'s docstring has no {_PLACE.strip()} line")
        function.__doc__ = doc.replace(f"    {_PLACE}", numpydoc_entries(table))
        return function

    return decorate


def markdown_table(table: Sequence[Option]) -> str:
    """The options as the docs' Markdown table."""
    rows = ["| option | in MATLAB | values | default | what it does |", "|---|---|---|---|---|"]
    for entry in table:
        where = f"`{entry.matlab}`" if entry.matlab else "extension"
        default = "none" if entry.default is None else f"`{entry.default_shown()}`"
        if entry.default_text:
            default += f": {entry.default_text}"
        rows.append(f"| `{entry.name}` | {where} | {entry.values_markdown()} | {default} | {entry.help} |")
    return "\n".join(rows) + "\n"
