"""LRN: ACROSS_CHANNELS is torch's local_response_norm (the same formula: k + alpha/n * the sum of
squares over the n channels centred on each, zero-padded); WITHIN_CHANNEL is Caffe's own construction,
an average of the squares over the n x n window (padding counted, so always n*n) with shift 1:
  y = x * (1 + alpha * avg_pool2d(x^2, n, stride 1, pad (n-1)/2))^(-beta)
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..caffe import caffe_pb2
from ..graph import Layer
from .registry import n_blobs, n_bottoms, register, require


class CaffeLRN(nn.Module):
    def __init__(self, size: int, alpha: float, beta: float, k: float, across_channels: bool):
        super().__init__()
        self.size, self.alpha, self.beta, self.k, self.across_channels = size, alpha, beta, k, across_channels

    def extra_repr(self) -> str:
        region = f"across channels, k={self.k}" if self.across_channels else "within channel"
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, {region}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.across_channels:
            return F.local_response_norm(x, self.size, self.alpha, self.beta, self.k)
        mean = F.avg_pool2d(x * x, self.size, stride=1, padding=(self.size - 1) // 2, count_include_pad=True)
        return x * (1 + self.alpha * mean).pow(-self.beta)


@register("LRN")
def build(layer: Layer) -> nn.Module:
    n_bottoms(layer, 1)
    n_blobs(layer, 0)
    p = layer.param.lrn_param
    require(p.local_size % 2 == 1, layer, f"local_size {p.local_size} must be odd")
    return CaffeLRN(p.local_size, p.alpha, p.beta, p.k, p.norm_region == caffe_pb2.LRNParameter.ACROSS_CHANNELS)
