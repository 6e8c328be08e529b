"""Element-wise activations.

  ReLU:    y = max(x, 0) + negative_slope * min(x, 0)      (negative_slope default 0)
  Sigmoid: y = 1 / (1 + exp(-x)); Caffe computes 0.5 * tanh(0.5 * x) + 0.5, equal within float32 rounding
  TanH:    y = tanh(x)
"""
from __future__ import annotations

from torch import nn

from ..graph import Layer
from .registry import register


@register("ReLU")
def build_relu(layer: Layer, p) -> nn.Module:
    return nn.LeakyReLU(p.negative_slope) if p.negative_slope else nn.ReLU()


@register("Sigmoid")
def build_sigmoid(layer: Layer, p) -> nn.Module:
    return nn.Sigmoid()


@register("TanH")
def build_tanh(layer: Layer, p) -> nn.Module:
    return nn.Tanh()
