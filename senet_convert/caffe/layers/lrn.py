"""LRN: local response normalisation of an N x C x H x W bottom (Caffe's LRNLayer).

ACROSS_CHANNELS (the default): top = x * (k + alpha/n * sum of x^2 over the n = local_size channels
centred on the channel)^(-beta), the channels beyond the edges counting as zeros; k defaults to 1.
WITHIN_CHANNEL: top = x * (1 + alpha * mean of x^2 over the n x n window centred on the position)^(-beta).
Caffe builds it from an AVE pooling (kernel n, pad (n-1)/2, stride 1: every window counts n*n
positions, padding included) and a Power layer whose shift is 1, so k plays no part there.
local_size must be odd (Caffe: "LRN only supports odd values"); alpha defaults to 1, beta to 0.75.
No learned blobs; the top has the bottom's shape.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..caffe_pb2 import LRNParameter
from .registry import fmt, layer_type, require


@dataclass(frozen=True)
class LRNParams:
    size: int  # local_size, odd
    alpha: float
    beta: float
    k: float  # ACROSS_CHANNELS only
    across_channels: bool


@layer_type("LRN")
def lrn(param, shapes):
    p, shape = param.lrn_param, shapes[0]
    require(len(shape) == 4, f"LRN needs a 4-D bottom (N, C, H, W), got {fmt(shape)}")
    require(p.local_size % 2 == 1, f"local_size {p.local_size} must be odd (Caffe supports only odd values)")
    require(all(math.isfinite(v) for v in (p.alpha, p.beta, p.k)), f"alpha {p.alpha}, beta {p.beta} and k {p.k} must be finite")
    across = p.norm_region == LRNParameter.ACROSS_CHANNELS
    return LRNParams(p.local_size, p.alpha, p.beta, p.k, across), [shape], []
