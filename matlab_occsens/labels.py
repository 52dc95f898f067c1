"""``scores2label``: class scores to labels, with MATLAB's rule for finding the class axis."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .checks import integer_vector
from .namevalue import is_text, match_string

__all__ = ["scores2label"]

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


def scores2label(
    scores: Any, classNames: Sequence[str] | np.ndarray, dim: int | str = "auto"
) -> tuple[Any, Any]:
    """The label with the highest score along the class dimension, and that score.

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
    """
    array = np.asarray(scores)
    if array.dtype.kind not in "iuf" or array.ndim == 0:
        raise TypeError(f"{_FUNCTION}: scores must be a numeric array; got {type(scores).__name__}.")
    names = np.asarray(classNames, dtype=str).ravel()
    if names.size == 0:
        raise ValueError(f"{_FUNCTION}: classNames is empty.")
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
