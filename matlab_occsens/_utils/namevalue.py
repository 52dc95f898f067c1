"""MATLAB-style name-value arguments, shared by every public function.

MATLAB's ``inputParser`` matches option names case-insensitively and accepts any unique prefix
("stride", "OutputUp"); ``validatestring`` does the same for string values ("Bicubic", "nea").
Users porting scripts rely on both, and may pass options either as Python keywords or as MATLAB
pairs (``"Stride", 10``), so both forms are merged here into one canonical dictionary.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .checks import shown

__all__ = ["parse_name_value", "match_string", "is_text"]


def is_text(value: object) -> bool:
    """Whether ``value`` is a Python string or a 0-d numpy string (MATLAB char or string)."""
    return isinstance(value, str) or (
        isinstance(value, np.ndarray | np.generic) and value.dtype.kind == "U" and value.ndim == 0
    )


def _canonical_name(given: str, valid: Sequence[str], function: str) -> str:
    lowered = given.lower()
    for name in valid:
        if name.lower() == lowered:
            return name
    matches = [name for name in valid if name.lower().startswith(lowered)] if lowered else []
    if len(matches) == 1:
        return matches[0]
    listing = ", ".join(valid)
    if matches:
        raise ValueError(
            f"{function}: option name {given!r} is ambiguous: it could be {', '.join(matches)}. Valid names: {listing}."
        )
    raise ValueError(f"{function}: unknown option {given!r}. Valid names: {listing}.")


def _pairs(args: Sequence[Any], valid: Sequence[str], function: str) -> Iterable[tuple[str, Any]]:
    if len(args) % 2:
        last = args[-1]
        if is_text(last):  # the usual slip: a name whose value was forgotten
            name = _canonical_name(str(last), valid, function)
            raise ValueError(
                f'{function}: option {name} has no value; name-value arguments come in pairs ("{name}", value).'
            )
        raise ValueError(
            f'{function}: name-value arguments must come in pairs ("Name", value); '
            f"got {len(args)} trailing positional arguments."
        )
    for position in range(0, len(args), 2):
        name = args[position]
        if not is_text(name):
            raise TypeError(
                f"{function}: expected an option name (a string) in position {position + 1} of the "
                f"name-value arguments, got {type(name).__name__} {shown(name)}."
            )
        yield str(name), args[position + 1]


def parse_name_value(
    function: str,
    defaults: Mapping[str, Any],
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Merge MATLAB pairs ``args`` and Python ``kwargs`` into ``{canonical name: value}``.

    ``defaults`` gives the valid names in their canonical spelling and their default values.
    Names given twice (in any spelling or form) are an error, as a silent override would hide
    a mistake in a ported script.
    """
    valid = list(defaults)
    given: dict[str, tuple[str, Any]] = {}
    for raw_name, value in [*_pairs(args, valid, function), *(kwargs or {}).items()]:
        name = _canonical_name(raw_name, valid, function)
        if name in given:
            raise ValueError(f"{function}: option {name} is given twice (as {given[name][0]!r} and {raw_name!r}).")
        given[name] = (raw_name, value)
    return {name: given[name][1] if name in given else default for name, default in defaults.items()}


def match_string(value: Any, choices: Sequence[str], argument: str, function: str) -> str:
    """Return the choice that ``value`` names, case-insensitively or by a unique prefix."""
    if not is_text(value):
        raise TypeError(
            f"{function}: {argument} must be one of {_quoted(choices)}; got {type(value).__name__} {shown(value)}."
        )
    lowered = str(value).lower()
    exact = [choice for choice in choices if choice.lower() == lowered]
    if exact:
        return exact[0]
    prefixed = [choice for choice in choices if lowered and choice.lower().startswith(lowered)]
    if len(prefixed) == 1:
        return prefixed[0]
    raise ValueError(f"{function}: {argument} must be one of {_quoted(choices)}; got {shown(str(value))}.")


def _quoted(choices: Sequence[str]) -> str:
    return ", ".join(f'"{choice}"' for choice in choices)
