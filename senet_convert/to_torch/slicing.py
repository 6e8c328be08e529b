"""Crop, Slice and Tile: cutting and repeating along axes (no arithmetic).

Crop:  bottoms [x, like]; axes from `axis` (default 2) take like's extent from `offset` (none: 0,
       one value for all, or one per cropped axis); earlier axes stay whole.
Slice: along `axis` (default 1) or legacy `slice_dim`: at `slice_point`s, or into equal parts.
Tile:  `tiles` copies along `axis` (default 1), whole blocks one after another (x.repeat).
"""
from __future__ import annotations

import torch
from torch import nn

from ..graph import Layer
from .registry import axis_index, n_bottoms, register, require


class Crop(nn.Module):
    def __init__(self, axis: int, offsets: tuple[int, ...]):
        super().__init__()
        self.axis, self.offsets = axis, offsets

    def extra_repr(self) -> str:
        return f"axis={self.axis}, offsets={self.offsets}"

    def forward(self, x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        start = axis_index(self.axis, x.dim())
        for i in range(start, x.dim()):
            offset = self.offsets[0] if len(self.offsets) == 1 else self.offsets[i - start] if self.offsets else 0
            x = x.narrow(i, offset, like.shape[i])
        return x


class Slice(nn.Module):
    def __init__(self, axis: int, points: tuple[int, ...], n: int):
        super().__init__()
        self.axis, self.points, self.n = axis, points, n

    def extra_repr(self) -> str:
        return f"axis={self.axis}, points={self.points}, {self.n} tops"

    def forward(self, x: torch.Tensor):
        if self.n == 1:
            return x
        extent = x.shape[self.axis]
        points = self.points or tuple(extent // self.n * i for i in range(1, self.n))
        sizes = [b - a for a, b in zip((0, *points), (*points, extent))]
        return tuple(torch.split(x, sizes, dim=self.axis))


class Tile(nn.Module):
    def __init__(self, axis: int, tiles: int):
        super().__init__()
        self.axis, self.tiles = axis, tiles

    def extra_repr(self) -> str:
        return f"axis={self.axis}, tiles={self.tiles}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        reps = [1] * x.dim()
        reps[axis_index(self.axis, x.dim())] = self.tiles
        return x.repeat(reps)


@register("Crop")
def build_crop(layer: Layer) -> nn.Module:
    n_bottoms(layer, 2)
    p = layer.param.crop_param
    return Crop(p.axis, tuple(p.offset))


@register("Slice")
def build_slice(layer: Layer) -> nn.Module:
    n_bottoms(layer, 1)
    p = layer.param.slice_param
    if p.HasField("slice_dim"):
        require(not p.HasField("axis"), layer, "give axis or slice_dim, not both")
        axis = p.slice_dim
    else:
        axis = p.axis
    points = tuple(p.slice_point)
    require(not points or len(points) == len(layer.tops) - 1, layer, f"{len(points)} slice points for {len(layer.tops)} tops")
    return Slice(axis, points, len(layer.tops))


@register("Tile")
def build_tile(layer: Layer) -> nn.Module:
    n_bottoms(layer, 1)
    p = layer.param.tile_param
    require(p.HasField("tiles") and p.tiles > 0, layer, "tile_param needs tiles > 0")
    return Tile(p.axis, p.tiles)
