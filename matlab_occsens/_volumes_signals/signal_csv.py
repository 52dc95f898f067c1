"""A signal from a CSV file: T rows (time steps) × C columns (features), an optional header row.

That is the shape a spreadsheet, a data logger or ``pandas.DataFrame.to_csv(index=False)`` writes:
one row per time step, one column per sensor or feature. MATLAB's sequence layout is the other way
round, C×T (features × time steps), so the table is transposed on reading: column c is feature c.
The first row is a header (the features' names) when any of its fields is not a number. Fields are
separated by commas and may be quoted; blank lines are skipped.
"""

from __future__ import annotations

import contextlib
import csv
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .._utils.checks import is_number
from .arrays import SINGLE_MAX, check_size

__all__ = ["read_csv_signal"]

_ENCODING = "utf-8-sig"  # a byte-order mark, as spreadsheet programs write, is not part of the first name
_CHUNK = 1 << 20


def _scan(path: Path) -> tuple[int, int, list[str]]:
    """Bounds on the table's rows (the file's lines) and columns (the first line's commas + 1), and
    the first row's fields (from its first MiB), read chunk by chunk: the size check costs no more
    memory than a chunk, however long the file or its first line."""
    lines, commas, head, tail, first_done = 0, 0, b"", b"", False
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            if not first_done:
                end = chunk.find(b"\n")
                part = chunk if end < 0 else chunk[:end]
                commas += part.count(b",")
                head += part[: max(_CHUNK - len(head), 0)]
                first_done = end >= 0
            lines += chunk.count(b"\n")
            tail = chunk[-1:]
    lines += tail not in (b"", b"\n")
    return lines, commas + 1, next(csv.reader([head.decode(_ENCODING, errors="replace")]), [])


def _first_bad_field(path: Path, skip: int, columns: int) -> str:
    """Where and why numpy's parse failed, in a user's terms: the line (1-based, as editors count)."""
    with open(path, newline="", encoding=_ENCODING, errors="replace") as file:
        rows = enumerate(csv.reader(file), start=1)
        for number, row in _readable(rows):
            if number <= skip or not row:
                continue
            if len(row) != columns:
                return f"line {number} has {len(row)} fields where the first has {columns}"
            for column, field in enumerate(row, start=1):
                if not is_number(field):
                    other = ";" in field or "\t" in field
                    return (
                        f"line {number}, column {column}: {field.strip()!r} is not a number"
                        f"{' (fields must be separated by commas)' if other else ''}"
                    )
    return "a field is not a number"


def _check_finite(path: Path, table: np.ndarray, header: bool) -> None:
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(table) <= SINGLE_MAX)
    if bad.any():
        row, column = (int(index) + 1 for index in np.argwhere(bad)[0])
        raise ValueError(
            f"{str(path)!r} contains NaN, Inf or values beyond single precision ({bad.sum()} of {table.size}; the "
            f"first in data row {row}{' after the header' if header else ''}, column {column}); replace them "
            f"before explaining it."
        )


def _readable(rows: Iterator[tuple[int, list[str]]]) -> Iterator[tuple[int, list[str]]]:
    """The numbered rows until one the csv module cannot read (a field beyond its size limit)."""
    with contextlib.suppress(csv.Error):
        yield from rows


def read_csv_signal(path: Path, limit: float | None) -> tuple[np.ndarray, tuple[str, ...] | None]:
    """The C×T signal of a CSV of T rows × C columns, as float64, and its header's names (or None).

    The size is checked from the line count and the first row before parsing.
    """
    try:
        lines, columns, first = _scan(path)
    except OSError as error:
        raise ValueError(f"cannot read {str(path)!r} ({error.strerror or error}).") from error
    fields = [field.strip() for field in first]
    header = bool(fields) and not all(is_number(field) for field in fields)
    check_size(path, "signal table", (lines, columns), 8, limit)
    try:
        with warnings.catch_warnings():  # an empty file: refused below, with its name
            warnings.simplefilter("ignore", UserWarning)
            table = np.loadtxt(
                path,
                delimiter=",",
                skiprows=int(header),
                dtype=np.float64,
                ndmin=2,
                encoding=_ENCODING,
                comments=None,
                quotechar='"',
            )
    except ValueError as error:
        raise ValueError(
            f"{str(path)!r} is not a CSV of numbers, one row per time step and one column per feature: "
            f"{_first_bad_field(path, int(header), len(fields))}."
        ) from error
    if table.size == 0:
        raise ValueError(
            f"{str(path)!r} holds no time steps (no rows of numbers{' after its header' if header else ''})."
        )
    _check_finite(path, table, header)
    return np.ascontiguousarray(table.T), tuple(fields) if header else None
