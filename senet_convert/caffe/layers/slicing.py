"""Crop, Slice and Tile: cutting and repeating along axes.

Crop:  bottoms [x, like] of the same number of axes; axes from `axis` (default 2, may be negative)
       on take like's extent from `offset` (none: 0; one value: every cropped axis; else one per
       cropped axis), which must leave room for it; earlier axes stay whole.
Slice: along `axis` (default 1, may be negative) or the legacy unsigned `slice_dim` (not both): at
       the `slice_point`s (one fewer than the tops, strictly increasing inside the axis), or into
       as many equal parts as there are tops. One top is the bottom itself.
Tile:  `tiles` (required, > 0) copies along `axis` (default 1, may be negative).
"""
from __future__ import annotations

from dataclasses import dataclass

from .registry import canonical_axis, fmt, layer_type, require


@dataclass(frozen=True)
class CropParams:
    axis: int  # canonical: the first cropped axis
    offsets: tuple[int, ...]  # one per cropped axis


@dataclass(frozen=True)
class SliceParams:
    axis: int  # canonical
    points: tuple[int, ...]  # as given; (): equal parts
    parts: int  # the number of tops


@dataclass(frozen=True)
class TileParams:
    axis: int  # canonical
    tiles: int


@layer_type("Crop", bottoms=2)
def crop(param, shapes):
    x, like = shapes
    require(len(x) == len(like), f"bottoms {fmt(x)} and {fmt(like)} differ in their number of axes")
    p = param.crop_param
    start = canonical_axis(p.axis, len(x))
    given = list(p.offset)
    cropped = len(x) - start
    require(len(given) in (0, 1, cropped), f"{len(given)} offsets for {cropped} cropped axes (give none, one, or one per axis)")
    offsets = tuple(given[0] if len(given) == 1 else given[i - start] if given else 0 for i in range(start, len(x)))
    for i, offset in zip(range(start, len(x)), offsets):
        require(x[i] - offset >= like[i], f"axis {i}: offset {offset} + size {like[i]} exceeds the input's extent {x[i]}")
    return CropParams(start, offsets), [(*x[:start], *like[start:])], []


def _slice_axis(p, ndim: int) -> int:
    if p.HasField("slice_dim"):
        require(not p.HasField("axis"), "give axis or slice_dim, not both")
        require(p.slice_dim < ndim, f"slice_dim {p.slice_dim} is out of range for a {ndim}-axis input")
        return p.slice_dim
    return canonical_axis(p.axis, ndim)


@layer_type("Slice", tops=(1, None))
def slice_(param, shapes):
    shape, p = shapes[0], param.slice_param
    axis = _slice_axis(p, len(shape))
    # the tops as the prototxt names them (one at least: a layer built without names)
    n, extent, points = max(1, len(param.top)), shape[axis], tuple(p.slice_point)
    if points:
        require(len(points) == n - 1, f"{len(points)} slice points for {n} tops (one fewer than the tops)")
        bounds = (0, *points, extent)
        require(all(b > a for a, b in zip(bounds, bounds[1:])), f"slice points {list(points)} must increase strictly inside the extent {extent}")
        sizes = [b - a for a, b in zip(bounds, bounds[1:])]
    else:
        require(extent % n == 0, f"axis {axis} of extent {extent} does not split into {n} equal parts")
        sizes = [extent // n] * n
    return SliceParams(axis, points, n), [(*shape[:axis], size, *shape[axis + 1 :]) for size in sizes], []


@layer_type("Tile")
def tile(param, shapes):
    shape, p = shapes[0], param.tile_param
    require(p.HasField("tiles") and p.tiles > 0, "tile_param needs tiles > 0")
    axis = canonical_axis(p.axis, len(shape))
    return TileParams(axis, p.tiles), [(*shape[:axis], shape[axis] * p.tiles, *shape[axis + 1 :])], []
