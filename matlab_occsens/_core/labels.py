"""``scores2label``: class scores to labels, with MATLAB's rule for finding the class axis; the best
classes of one output, ranked (``rank_classes``)."""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._utils.checks import integer_vector, real_array, shown
from .._utils.namevalue import is_text, match_string

__all__ = [
    "Ranking",
    "class_channels",
    "class_names_argument",
    "rank_classes",
    "read_class_names",
    "scores2label",
    "text_list",
]

_FUNCTION = "scores2label"


def _class_axis(scores: np.ndarray, class_count: int) -> int:
    """MATLAB's "auto": the one axis of length numel(classNames) whose entries sum to one."""
    candidates = [
        axis
        for axis, length in enumerate(scores.shape)
        if length == class_count and np.allclose(scores.sum(axis=axis, dtype=np.float64), 1.0, atol=1e-3)
    ]
    if len(candidates) != 1:
        sized = [axis + 1 for axis, length in enumerate(scores.shape) if length == class_count]
        raise ValueError(
            f"{_FUNCTION}: cannot find the class dimension: scores of size "
            f"{'x'.join(map(str, scores.shape))} have {len(sized)} dimension(s) of length "
            f"{class_count} (numel(classNames)) {sized} and {len(candidates)} of them sum to one. "
            f"Pass dim explicitly (1-based), e.g. scores2label(scores, classNames, 2), or apply a "
            f"softmax to logits first."
        )
    return candidates[0]


def scores2label(scores: Any, classNames: Sequence[str] | np.ndarray, dim: int | str = "auto") -> tuple[Any, Any]:
    """The label with the highest score along the class dimension, and that score.

    MATLAB equivalent: ``[label, score] = scores2label(scores, classNames, dim)`` (Deep Learning
    Toolbox); labels are ``str`` where MATLAB returns ``categorical``.

    Parameters
    ----------
    scores : array_like
        Prediction scores, e.g. the N×K output of :func:`predict`.
    classNames : sequence of str
        One name per class, in the order of the scores.
    dim : "auto" or int, default "auto"
        1-based class dimension. "auto" picks the only dimension of length
        ``len(classNames)`` whose scores sum to one (softmax outputs), as MATLAB does.

    Returns
    -------
    labels, topScores
        Arrays shaped like ``scores`` without the class dimension; plain ``str`` and
        ``float`` when there is a single observation.

    See Also
    --------
    predict : The scores of a network.

    Examples
    --------
    >>> from matlab_occsens import scores2label
    >>> scores2label([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]], ["cat", "dog", "fox"])
    (array(['dog', 'cat'], dtype='<U3'), array([0.7, 0.5]))

    Scores that are not probabilities (logits) need the class dimension, 1-based:

    >>> scores2label([[-1.5, 3.0, 0.2]], ["cat", "dog", "fox"], 2)
    ('dog', 3.0)
    """
    array = real_array(scores, "scores", _FUNCTION, "a numeric array")
    if array.ndim == 0:
        raise TypeError(f"{_FUNCTION}: scores must be a numeric array; got the scalar {shown(scores)}.")
    names = np.array(text_list(classNames, "classNames", _FUNCTION), dtype=str)
    if is_text(dim):
        match_string(dim, ("auto",), "dim", _FUNCTION)
        axis = _class_axis(array, names.size)
    else:
        axis = integer_vector(dim, "dim", _FUNCTION)[0] - 1
        if axis >= array.ndim or array.shape[axis] != names.size:
            length = array.shape[axis] if axis < array.ndim else 1
            raise ValueError(
                f"{_FUNCTION}: dimension {axis + 1} of scores has length {length}, but there are "
                f"{names.size} classNames."
            )
    best = np.argmax(array, axis=axis)
    labels = names[best]
    top = np.max(array, axis=axis)
    if labels.size == 1:
        return str(labels.ravel()[0]), float(top.ravel()[0])
    return labels, top


def text_list(names: Any, argument: str, function: str) -> tuple[str, ...]:
    """A non-empty list (or array) of strings as a tuple of ``str``; bytes and numbers are refused."""
    if is_text(names) or not isinstance(names, (Sequence, np.ndarray)):
        raise TypeError(f"{function}: {argument} must be a list of class names (strings); got {shown(names)}.")
    listed = list(names.ravel()) if isinstance(names, np.ndarray) else list(names)
    if not listed or not all(is_text(name) for name in listed):
        raise TypeError(f"{function}: {argument} must be a non-empty list of strings; got {shown(names)}.")
    return tuple(str(name) for name in listed)


def class_names_argument(names: Any, channel_count: int | None, function: str) -> tuple[str, ...]:
    """Validated class names: distinct strings, as many as the output's channels when known."""
    classes = text_list(names, "Classes", function)
    repeated = sorted({name for name in classes if classes.count(name) > 1})
    if repeated:
        raise ValueError(f"{function}: Classes must be distinct; {repeated[0]!r} appears more than once.")
    if channel_count is not None and len(classes) != channel_count:
        raise ValueError(
            f"{function}: Classes has {len(classes)} names but the output has {channel_count} channels; "
            f"give one name per channel, in channel order."
        )
    return classes


def class_channels(labels: Any, classNames: Sequence[str], function: str, argument: str = "") -> list[int]:
    """The 1-based channel of each label, as MATLAB's ``find(classNames == label)``.

    Matching is exact (case-sensitive, as MATLAB compares categoricals and strings); an unknown
    label is an error that suggests the closest names. ``argument`` names what the labels were
    given as, for the messages (e.g. ``"channelIdx"`` when a class name stands for a channel).
    """
    prefix = f"{argument} " if argument else ""
    listed = [labels] if is_text(labels) else list(labels)
    if not listed or not all(is_text(label) for label in listed):
        raise TypeError(
            f"{function}: {prefix or 'label '}must be a class name or a list of class names; got {shown(labels)}."
        )
    position = {name: index for index, name in enumerate(classNames)}
    channels = []
    for label in map(str, listed):
        if label not in position:
            close = difflib.get_close_matches(label, list(classNames), n=3)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise ValueError(f"{function}: {prefix}{label!r} is not one of the {len(classNames)} class names.{hint}")
        channels.append(position[label] + 1)
    return channels


def read_class_names(filename: str | os.PathLike) -> list[str]:
    """Class names from a text file, one per line in channel order (trailing blank lines ignored).

    Raises ValueError for a missing or unreadable file, or a blank line among the names.
    """
    path = Path(filename)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"class names: cannot read {str(path)!r} ({error}).") from error
    names = [line.strip() for line in lines]
    while names and not names[-1]:
        names.pop()
    if not names:
        raise ValueError(f"class names: {str(path)!r} is empty; it must list one class name per line.")
    if "" in names:
        raise ValueError(f"class names: line {names.index('') + 1} of {str(path)!r} is blank; give one name per line.")
    return names


@dataclass(frozen=True)
class Ranking:
    """Classes by decreasing score for one observation."""

    channels: np.ndarray
    """1-based channel (class) indices, best first."""
    probabilities: np.ndarray
    """Their probabilities."""
    softmax_applied: bool
    """True when the output was not already probabilities and a softmax was taken."""


def rank_classes(scores: np.ndarray, count: int = 5) -> Ranking:
    """The ``count`` best classes of a 1×K output, as probabilities.

    An output whose entries are non-negative and sum to one is taken as probabilities (a
    softmax output); anything else is treated as logits and a softmax is applied.
    """
    row = np.asarray(scores, dtype=np.float64).reshape(-1)
    is_probability = bool(np.all(row >= 0) and abs(row.sum() - 1.0) <= 1e-3)
    if is_probability:
        probabilities = row
    else:
        exponentials = np.exp(row - row.max())
        probabilities = exponentials / exponentials.sum()
    best = np.argsort(-probabilities, kind="stable")[:count]
    return Ranking(best + 1, probabilities[best], not is_probability)
