"""SPP: spatial pyramid pooling, level l in 2^l bins per axis by Caffe's Pooling (CaffePool2d):
kernel = stride = ceil(H / bins), pad = (kernel * bins - H + 1) // 2, per axis, from the input's
size at run time. One level: that pooling's N x C x 1 x 1; more: each level flattened, concatenated.
"""
from __future__ import annotations

import torch
from torch import nn

from ..caffe import caffe_pb2
from ..graph import Layer
from .pooling import CaffePool2d
from .registry import fail, n_bottoms, register, require

P = caffe_pb2.PoolingParameter


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
def build_spp(layer: Layer) -> nn.Module:
    n_bottoms(layer, 1)
    p = layer.param.spp_param
    require(p.HasField("pyramid_height") and p.pyramid_height >= 1, layer, "spp_param needs pyramid_height >= 1")
    if p.pool not in (P.MAX, P.AVE):
        fail(layer, f"{P.PoolMethod.Name(p.pool)} pooling is not supported (Caffe has no CPU forward pass for it)")
    return SPP("max" if p.pool == P.MAX else "ave", p.pyramid_height)
