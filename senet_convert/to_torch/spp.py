"""SPP: spatial pyramid pooling, level l in 2^l bins per axis by Caffe's Pooling (CaffePool2d):
kernel = stride = ceil(H / bins), pad = (kernel * bins - H + 1) // 2, per axis, from the input's
size at run time. One level: that pooling's N x C x 1 x 1; more: each level flattened, concatenated.
"""
from __future__ import annotations

import torch
from torch import nn

from ..graph import Layer
from .pooling import CaffePool2d
from .registry import register


class SPP(nn.Module):
    def __init__(self, method: str, levels: int):
        super().__init__()
        self.method, self.levels = method, levels

    def extra_repr(self) -> str:
        return f"{self.method}, {self.levels} levels"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = []
        for level in range(self.levels):
            bins = 2**level
            kernel = [-(-size // bins) for size in x.shape[2:]]
            pad = [(k * bins - size + 1) // 2 for k, size in zip(kernel, x.shape[2:])]
            if any(q >= k for q, k in zip(pad, kernel)):
                raise ValueError(f"SPP level {level}: pad {pad} is not smaller than kernel {kernel}")
            outputs.append(CaffePool2d(self.method, kernel, kernel, pad, True, False)(x))
        if self.levels == 1:
            return outputs[0]
        return torch.cat([o.flatten(1) for o in outputs], 1)


@register("SPP")
def build_spp(layer: Layer, p) -> nn.Module:
    return SPP(p.method, p.levels)
