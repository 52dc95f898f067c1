"""Which channels each image's map shows: one choice for all, one per image, the image's own
top-1 class, or its label through the class names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._core.labels import class_channels
from .._core.options import FUNCTION, channel_argument
from .._utils.checks import shown
from .._utils.namevalue import is_text

__all__ = ["ChannelPlan", "channel_plan", "PREDICTED", "LABELS"]

PREDICTED = "predicted"
LABELS = "labels"


@dataclass(frozen=True)
class ChannelPlan:
    """1-based channels per image, or None for each image's own top-1 class."""

    per_image: tuple[tuple[int, ...], ...] | None
    rule: dict[str, Any]
    """What the caller asked for, as the store records it."""

    @property
    def width(self) -> int:
        """Channels per map."""
        return 1 if self.per_image is None else len(self.per_image[0])

    def of(self, index: int) -> tuple[int, ...] | None:
        return None if self.per_image is None else self.per_image[index]


def channel_plan(
    channelIdx: Any,
    count: int,
    channel_count: int | None,
    labels: tuple[str, ...] | None = None,
    classes: list[str] | None = None,
) -> ChannelPlan:
    """Resolve ``channelIdx`` for ``count`` images (errors name the argument, before any inference).

    - an integer or a vector: those channels for every image, as ``occlusionSensitivity`` takes them;
    - an N×n array or a list of N vectors: image i's channels are row i;
    - ``"predicted"``: each image's top-1 class (the output must be N×K class scores);
    - ``"labels"``: each image's label (from an ``imageDatastore`` with labels) looked up in
      ``classes`` (or ``net.Classes``).
    """
    if is_text(channelIdx):
        rule = str(channelIdx).lower()
        if rule == PREDICTED:
            return ChannelPlan(None, {"rule": PREDICTED})
        if rule == LABELS:
            if labels is None:
                raise ValueError(
                    f'{FUNCTION}: channelIdx "labels" needs images with labels (an imageDatastore '
                    f'with LabelSource="foldernames" or Labels).'
                )
            if classes is None:
                raise ValueError(f'{FUNCTION}: channelIdx "labels" needs the class names (net.Classes or --classes).')
            found = class_channels(list(labels), classes, "channelIdx")
            return ChannelPlan(tuple((int(channel),) for channel in found), {"rule": LABELS})
        raise ValueError(f'{FUNCTION}: channelIdx must be channels, "predicted" or "labels"; got {channelIdx!r}.')
    rows: Any = channelIdx if isinstance(channelIdx, np.ndarray) and channelIdx.ndim == 2 else None
    if (
        rows is None
        and isinstance(channelIdx, (list, tuple))
        and channelIdx
        and all(isinstance(item, (list, tuple, np.ndarray)) for item in channelIdx)
    ):
        rows = list(channelIdx)
    if rows is None:
        fixed = tuple(int(c) + 1 for c in channel_argument(channelIdx, channel_count).tolist())
        return ChannelPlan((fixed,) * count, {"rule": "fixed", "channelIdx": list(fixed)})
    if len(rows) != count:
        raise ValueError(f"{FUNCTION}: per-image channelIdx has {len(rows)} rows for {count} images.")
    per_image = tuple(tuple(int(c) + 1 for c in channel_argument(row, channel_count).tolist()) for row in rows)
    if len({len(row) for row in per_image}) != 1:
        raise ValueError(f"{FUNCTION}: every image needs the same number of channels; got {shown(rows)}.")
    return ChannelPlan(per_image, {"rule": "per-image", "channelIdx": [list(row) for row in per_image]})
