"""Layers that cut or repeat a blob along its axes.

Crop:  bottoms [x, like]; axes from `axis` (default 2, may be negative) on take like's extent,
       starting at `offset` (none: 0; one value: for every cropped axis; else one per cropped axis);
       earlier axes are kept whole. x and like have the same number of axes.
Slice: one bottom cut along `axis` (default 1, may be negative) or the legacy unsigned `slice_dim`
       (not both) into the tops: at the `slice_point`s (one fewer than the tops, strictly
       increasing), or without them into equal parts. One top is the bottom itself.
Tile:  `tiles` (required, > 0) copies of the bottom joined along `axis` (default 1):
       top[..., t * n + i, ...] = x[..., i, ...].
"""
from __future__ import annotations

import numpy as np

from .registry import register


@register("Crop")
def crop(p, inputs: list[np.ndarray], blobs) -> list[np.ndarray]:
    x, like = inputs
    window = [slice(None)] * p.axis
    for i, offset in zip(range(p.axis, x.ndim), p.offsets):
        window.append(slice(offset, offset + like.shape[i]))
    return [x[tuple(window)].copy()]


@register("Slice")
def slice_(p, inputs: list[np.ndarray], blobs) -> list[np.ndarray]:
    (x,) = inputs
    points = list(p.points) or [x.shape[p.axis] // p.parts * i for i in range(1, p.parts)]
    return [part.copy() for part in np.split(x, points, axis=p.axis)]


@register("Tile")
def tile(p, inputs: list[np.ndarray], blobs) -> list[np.ndarray]:
    (x,) = inputs
    reps = [1] * x.ndim
    reps[p.axis] = p.tiles
    return [np.tile(x, reps)]
