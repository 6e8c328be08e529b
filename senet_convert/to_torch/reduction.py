"""Reduction and ArgMax.

Reduction: the axes from `axis` (default 0) on become one value: SUM, ASUM (sum of |x|), SUMSQ
  (sum of x^2) or MEAN, times `coeff` (default 1); the top keeps the leading axes.
ArgMax: top_k largest (indices, or values with out_max_val) along `axis`; without `axis` over each
  sample's flattened values, (N, 1, top_k) indices or (N, 2, top_k) indices-then-values, padded
  with 1s to the bottom's axes. Among equal values Caffe ranks the larger index first: a stable
  descending sort of the reversed axis gives that order.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..graph import Layer
from .registry import register


class Reduction(nn.Module):
    def __init__(self, operation: str, axis: int, coeff: float):
        super().__init__()
        self.operation, self.axis, self.coeff = operation, axis, coeff

    def extra_repr(self) -> str:
        return f"{self.operation}, axis={self.axis}, coeff={self.coeff}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(self.axis)
        if self.operation == "asum":
            flat = flat.abs()
        elif self.operation == "sumsq":
            flat = flat * flat
        y = flat.mean(-1) if self.operation == "mean" else flat.sum(-1)
        return y * self.coeff if self.coeff != 1 else y


class ArgMax(nn.Module):
    def __init__(self, top_k: int, out_max_val: bool, axis: int | None):
        super().__init__()
        self.top_k, self.out_max_val, self.axis = top_k, out_max_val, axis

    def extra_repr(self) -> str:
        return f"top_k={self.top_k}, out_max_val={self.out_max_val}, axis={self.axis}"

    def _ranked(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = x.shape[-1]
        values, order = torch.sort(x.flip(-1), dim=-1, descending=True, stable=True)
        return (n - 1 - order[..., : self.top_k]).to(x.dtype), values[..., : self.top_k]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.axis is not None:
            indices, values = self._ranked(x.movedim(self.axis, -1))
            return (values if self.out_max_val else indices).movedim(-1, self.axis)
        indices, values = self._ranked(x.flatten(1))
        rows = torch.stack((indices, values), 1) if self.out_max_val else indices.unsqueeze(1)
        return rows.reshape(*rows.shape, *([1] * (x.dim() - 3)))


@register("Reduction")
def build_reduction(layer: Layer, p) -> nn.Module:
    return Reduction(p.operation, p.axis, float(np.float32(p.coeff)))


@register("ArgMax")
def build_argmax(layer: Layer, p) -> nn.Module:
    return ArgMax(p.top_k, p.out_max_val, p.axis)
