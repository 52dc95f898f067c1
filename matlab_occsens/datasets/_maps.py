"""Interim: a per-image loop behind the stream engineer's ``map_request``/``score_maps`` names,
until ``Stream: several images`` lands in occlusion.py (then this file is deleted)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..grid import MaskGrid, mask_grid
from ..network.base import Network
from ..occlusion import _raw_map, _upsampled
from ..options import OcclusionOptions, channel_argument, image_argument, occlusion_options

__all__ = ["MapRequest", "map_request", "score_maps"]


@dataclass(frozen=True)
class MapRequest:
    image: np.ndarray
    channels: np.ndarray
    options: OcclusionOptions
    grid: MaskGrid


def map_request(net: Network, X: Any, channelIdx: Any, *args: Any, **kwargs: Any) -> MapRequest:
    image = image_argument(X, net.InputSize)
    output = net.OutputNames[0]
    channels = channel_argument(channelIdx, net.output_channels(output), output)
    options = occlusion_options(image, args, kwargs)
    return MapRequest(image, channels, options,
                      mask_grid(image.shape[:2], options.mask_size, options.stride, options.mask_clipping))


def score_maps(net: Network, requests: Iterable[MapRequest]) -> Iterator[np.ndarray]:
    for request in requests:
        raw = _raw_map(net, request.image, request.channels, request.options, request.grid)
        yield _upsampled(raw, request.image.shape[:2], request.options.output_upsampling)
