"""Softmax along `axis` (default 1): y = exp(x - max) / sum(exp(x - max)) over that axis."""
from __future__ import annotations

from torch import nn

from ..graph import Layer
from .registry import n_bottoms, register


@register("Softmax")
def build(layer: Layer) -> nn.Module:
    n_bottoms(layer, 1)
    return nn.Softmax(dim=layer.param.softmax_param.axis)
