"""Parameter: no bottom; the top is the learned blob (shape parameter_param.shape)."""
from __future__ import annotations

import torch
from torch import nn

from ..graph import Layer
from .registry import parameter, register


class Parameter(nn.Module):
    def __init__(self, weight: nn.Parameter):
        super().__init__()
        self.weight = weight

    def forward(self) -> torch.Tensor:
        return self.weight.clone()  # a value of its own, as every other layer's top


@register("Parameter", blobs=("weight",))
def build_parameter(layer: Layer, p) -> nn.Module:
    return Parameter(parameter(layer, 0, p.shape))
