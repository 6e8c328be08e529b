"""Crop, Slice and Tile: cutting and repeating along axes (no arithmetic).

Crop:  bottoms [x, like]; the axes from `axis` (default 2) take like's extent from their offset
       (one per cropped axis, as read); earlier axes stay whole.
Slice: along `axis` (default 1) or legacy `slice_dim`: at `slice_point`s, or into equal parts.
Tile:  `tiles` copies along `axis` (default 1), whole blocks one after another (x.repeat).
"""
from __future__ import annotations

import torch
from torch import nn

from ..graph import Layer
from .registry import register


class Crop(nn.Module):
    def __init__(self, axis: int, offsets: tuple[int, ...]):
        super().__init__()
        self.axis, self.offsets = axis, offsets

    def extra_repr(self) -> str:
        return f"axis={self.axis}, offsets={self.offsets}"

    def forward(self, x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        for i, offset in enumerate(self.offsets, start=self.axis):
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
        reps[self.axis] = self.tiles
        return x.repeat(reps)


@register("Crop")
def build_crop(layer: Layer, p) -> nn.Module:
    return Crop(p.axis, p.offsets)


@register("Slice")
def build_slice(layer: Layer, p) -> nn.Module:
    return Slice(p.axis, p.points, p.parts)


@register("Tile")
def build_tile(layer: Layer, p) -> nn.Module:
    return Tile(p.axis, p.tiles)
