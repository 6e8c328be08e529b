"""Layers that move values without arithmetic.

Concat:  join along `axis` (default 1, may be negative) or the legacy `concat_dim` (not both).
Split:   every top is the bottom (Caffe inserts these where one blob feeds several layers).
Reshape: shape.dim replaces the axes [axis, axis + num_axes) (axis default 0, negative counts from the
         end with -1 meaning "after the last"; num_axes default -1 = to the end). dim 0 copies the
         input's extent at that position, one dim -1 is inferred. Both are read from the runtime input,
         so a batch axis given as 0 or -1 stays dynamic under torch.export and in ONNX.
Flatten: axes [axis, end_axis] (defaults 1 and -1) become one.
Dropout: the identity at test time (Caffe scales during training instead).
"""
from __future__ import annotations

import torch
from torch import nn

from ..graph import Layer
from .registry import register


class Concat(nn.Module):
    def __init__(self, axis: int):
        super().__init__()
        self.axis = axis

    def extra_repr(self) -> str:
        return f"axis={self.axis}"

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, self.axis) if len(xs) > 1 else xs[0]


class Split(nn.Module):
    def __init__(self, n: int):
        super().__init__()
        self.n = n

    def extra_repr(self) -> str:
        return f"{self.n} tops"

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (x,) * self.n


class Reshape(nn.Module):
    def __init__(self, dims: tuple[int, ...], axis: int = 0, num_axes: int = -1):
        super().__init__()
        self.dims, self.axis, self.num_axes = dims, axis, num_axes

    def extra_repr(self) -> str:
        return f"dims={self.dims}, axis={self.axis}, num_axes={self.num_axes}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        start = self.axis if self.axis >= 0 else x.dim() + self.axis + 1
        end = x.dim() if self.num_axes == -1 else start + self.num_axes
        if not 0 <= start <= end <= x.dim():
            raise ValueError(f"reshape axes [{start}, {end}) do not fit a {x.dim()}-axis input")
        dims = [x.shape[start + i] if d == 0 else d for i, d in enumerate(self.dims)]
        return x.reshape(*x.shape[:start], *dims, *x.shape[end:])


class Flatten(nn.Module):
    def __init__(self, axis: int = 1, end_axis: int = -1):
        super().__init__()
        self.axis, self.end_axis = axis, end_axis

    def extra_repr(self) -> str:
        return f"axis={self.axis}, end_axis={self.end_axis}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(self.axis, self.end_axis)


@register("Concat")
def build_concat(layer: Layer, p) -> nn.Module:
    return Concat(p.axis)


@register("Split")
def build_split(layer: Layer, p) -> nn.Module:
    return Split(len(layer.tops))


@register("Reshape")
def build_reshape(layer: Layer, p) -> nn.Module:
    return Reshape(p.dims, p.start, p.num_axes)


@register("Flatten")
def build_flatten(layer: Layer, p) -> nn.Module:
    return Flatten(p.start, p.end)


@register("Dropout")
def build_dropout(layer: Layer, p) -> nn.Module:
    return nn.Identity()
