"""MVN: per sample and channel (or per sample with across_channels) over the remaining values:
x - mean, then with normalize_variance (default) divided by sqrt(population variance) + eps (eps
after the root, default 1e-9). Caffe's legacy 4-axis view: a bottom of fewer axes gives a top
padded with 1s to 4 axes.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..graph import Layer
from .registry import register


class MVN(nn.Module):
    def __init__(self, normalize_variance: bool, across_channels: bool, eps: float):
        super().__init__()
        self.normalize_variance, self.across_channels, self.eps = normalize_variance, across_channels, eps

    def extra_repr(self) -> str:
        return f"normalize_variance={self.normalize_variance}, across_channels={self.across_channels}, eps={self.eps}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(*x.shape, *([1] * (4 - x.dim())))
        rows = x.flatten(1) if self.across_channels else x.flatten(2)
        centred = rows - rows.mean(-1, keepdim=True)
        if self.normalize_variance:
            std = torch.sqrt((centred * centred).mean(-1, keepdim=True))
            # full_like, not the float itself: torch.onnx's optimizer drops an Add of a constant below 1e-8
            centred = centred / (std + torch.full_like(std, self.eps))
        return centred.reshape(x.shape)


@register("MVN")
def build_mvn(layer: Layer, p) -> nn.Module:
    return MVN(p.normalize_variance, p.across_channels, float(np.float32(p.eps)))
