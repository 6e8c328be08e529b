"""Softmax along the canonical `axis` (default 1): y = exp(x - max) / sum(exp(x - max)) over that axis."""
from __future__ import annotations

from torch import nn

from ..graph import Layer
from .registry import register


@register("Softmax")
def build(layer: Layer, p) -> nn.Module:
    return nn.Softmax(dim=p.axis)
