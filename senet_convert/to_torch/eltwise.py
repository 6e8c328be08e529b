"""Eltwise and Axpy: combining inputs of one shape.

Eltwise (two or more bottoms), operation default SUM:
  SUM:  y = sum_i coeff_i * x_i, accumulated in bottom order (coeff: none, or one per bottom)
  PROD: y = x_0 * x_1 * ...
  MAX:  y = element-wise maximum
Axpy (SENet's SE gate fused with the residual add), bottoms [a, x, y]:
  a is N x C or N x C x 1 x 1;  top = a[n, c] * x + y, of x's shape.
"""
from __future__ import annotations

import torch
from torch import nn

from ..graph import Layer
from .registry import register


class Eltwise(nn.Module):
    def __init__(self, operation: str, coeffs: tuple[float, ...] = ()):
        super().__init__()
        self.operation = operation  # "sum", "prod" or "max"
        self.coeffs = coeffs

    def extra_repr(self) -> str:
        return self.operation + (f", coeffs={self.coeffs}" if self.coeffs else "")

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        if self.operation == "prod":
            y = torch.mul(xs[0], xs[1])
            for x in xs[2:]:
                y = y.mul_(x)
            return y
        if self.operation == "max":
            y = torch.maximum(xs[0], xs[1])
            for x in xs[2:]:
                y = torch.maximum(y, x)
            return y
        if not self.coeffs:
            y = torch.add(xs[0], xs[1])
            for x in xs[2:]:
                y = y.add_(x)
            return y
        y = xs[0] * self.coeffs[0] if self.coeffs[0] != 1 else xs[0]
        for x, c in zip(xs[1:], self.coeffs[1:]):
            y = torch.add(y, x, alpha=c)
        return y


class Axpy(nn.Module):
    def forward(self, a: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if a.dim() < x.dim():
            a = a[(..., *([None] * (x.dim() - a.dim())))]
        return torch.addcmul(y, a, x)


@register("Eltwise")
def build_eltwise(layer: Layer, p) -> nn.Module:
    coeffs = () if all(c == 1 for c in p.coeffs) else p.coeffs
    return Eltwise(p.operation, coeffs)


@register("Axpy")
def build_axpy(layer: Layer, p) -> nn.Module:
    return Axpy()
