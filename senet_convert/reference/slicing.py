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

from ..graph import Layer
from .common import canonical_axis, n_inputs, require
from .registry import register


@register("Crop")
def crop(layer: Layer, inputs: list[np.ndarray]) -> list[np.ndarray]:
    n_inputs(layer, inputs, 2)
    x, like = inputs
    require(x.ndim == like.ndim, layer, f"bottoms of {x.ndim} and {like.ndim} axes")
    p = layer.param.crop_param
    start = canonical_axis(layer, p.axis, x.ndim)
    offsets = list(p.offset)
    cropped = x.ndim - start
    require(
        len(offsets) in (0, 1, cropped), layer,
        f"{len(offsets)} offsets for {cropped} cropped axes (give none, one, or one per axis)",
    )
    window = [slice(None)] * start
    for i in range(start, x.ndim):
        offset = 0 if not offsets else offsets[0] if len(offsets) == 1 else offsets[i - start]
        size = like.shape[i]
        require(
            x.shape[i] - offset >= size, layer,
            f"axis {i}: offset {offset} + size {size} exceeds the input's extent {x.shape[i]}",
        )
        window.append(slice(offset, offset + size))
    return [x[tuple(window)].copy()]


def slice_axis(layer: Layer, ndim: int) -> int:
    p = layer.param.slice_param
    if p.HasField("slice_dim"):
        require(not p.HasField("axis"), layer, "give axis or slice_dim, not both")
        require(p.slice_dim < ndim, layer, f"slice_dim {p.slice_dim} is out of range for a {ndim}-axis input")
        return p.slice_dim
    return canonical_axis(layer, p.axis, ndim)


@register("Slice")
def slice_(layer: Layer, inputs: list[np.ndarray]) -> list[np.ndarray]:
    n_inputs(layer, inputs, 1)
    (x,) = inputs
    axis = slice_axis(layer, x.ndim)
    points, n, extent = list(layer.param.slice_param.slice_point), len(layer.tops), x.shape[axis]
    if points:
        require(len(points) == n - 1, layer, f"{len(points)} slice points for {n} tops (one fewer than the tops)")
        require(
            all(b > a for a, b in zip([0, *points], [*points, extent])), layer,
            f"slice points {points} must increase strictly within the axis' extent {extent}",
        )
    else:
        require(extent % n == 0, layer, f"axis {axis} of extent {extent} does not split into {n} equal parts")
        points = [extent // n * i for i in range(1, n)]
    return [part.copy() for part in np.split(x, points, axis=axis)]


@register("Tile")
def tile(layer: Layer, inputs: list[np.ndarray]) -> list[np.ndarray]:
    n_inputs(layer, inputs, 1)
    (x,) = inputs
    p = layer.param.tile_param
    axis = canonical_axis(layer, p.axis, x.ndim)
    require(p.HasField("tiles") and p.tiles > 0, layer, "tile_param needs tiles > 0")
    reps = [1] * x.ndim
    reps[axis] = p.tiles
    return [np.tile(x, reps)]
