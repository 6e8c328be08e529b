"""Embed: top[..., :] = weight[index] + bias, the bottom's values read as row indices.

Blobs: weight (input_dim, num_output), bias (num_output,) when bias_term (default true).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..graph import Layer
from .registry import parameter, register


class Embed(nn.Module):
    def __init__(self, weight: nn.Parameter, bias: nn.Parameter | None):
        super().__init__()
        self.weight = weight
        self.bias = bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.embedding(x.long(), self.weight)
        return y + self.bias if self.bias is not None else y


@register("Embed", blobs=("weight", "bias"))
def build_embed(layer: Layer, p) -> nn.Module:
    return Embed(parameter(layer, 0, (p.input_dim, p.num_output)), parameter(layer, 1, (p.num_output,)) if p.bias_term else None)
