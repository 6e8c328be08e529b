"""InnerProduct: fully connected over all axes from `axis` (default 1) on.

  x viewed as (*shape[:axis], K), K = prod(shape[axis:]);  y = x @ W^T + bias, shape (*shape[:axis], num_output)
Blobs: weight (num_output, K), or (K, num_output) with transpose: true (kept in Caffe's layout);
bias (num_output,) when bias_term (default true).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..graph import Layer
from .registry import parameter, register


class CaffeInnerProduct(nn.Module):
    def __init__(self, axis: int, weight: nn.Parameter, bias: nn.Parameter | None, transpose: bool):
        super().__init__()
        self.axis = axis
        self.transpose = transpose
        self.weight = weight
        self.bias = bias

    def extra_repr(self) -> str:
        k, n = self.weight.shape if self.transpose else self.weight.shape[::-1]
        return f"{k} -> {n}, axis={self.axis}, bias={self.bias is not None}, transpose={self.transpose}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(self.axis)
        return F.linear(x, self.weight.t() if self.transpose else self.weight, self.bias)


@register("InnerProduct", blobs=("weight", "bias"))
def build(layer: Layer, p) -> nn.Module:
    bias = parameter(layer, 1) if p.bias_term else None
    return CaffeInnerProduct(p.axis, parameter(layer, 0), bias, p.transpose)
