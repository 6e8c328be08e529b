"""SPP (spatial pyramid pooling) over N x C x H x W, pyramid_height levels.

Level l pools into 2^l bins per axis with Caffe's Pooling (ceil rounding, its clipping rules):
  kernel = ceil(H / bins), stride = kernel, pad = (kernel * bins - H + 1) // 2 (likewise for W),
  method spp_param.pool (MAX default, AVE; STOCHASTIC has no CPU forward pass).
pyramid_height 1: the top is that one pooling's output, N x C x 1 x 1. Otherwise each level is
flattened to N x (C * bins^2) and the levels are concatenated in order along axis 1.
"""
from __future__ import annotations

import math

import numpy as np

from ..caffe import caffe_pb2
from ..caffe.layers import setup_of
from ..graph import Layer
from .common import n_inputs, require
from .pooling import pooling
from .registry import register


def level_geometry(size: int, level: int) -> tuple[int, int]:
    """(kernel = stride, pad) of pyramid level `level` along an axis of `size`."""
    bins = 2**level
    kernel = math.ceil(size / bins)
    return kernel, (kernel * bins - size + 1) // 2


@register("SPP")
def spp(layer: Layer, inputs: list[np.ndarray]) -> list[np.ndarray]:
    n_inputs(layer, inputs, 1)
    (x,) = inputs
    require(x.ndim == 4, layer, f"input must have 4 axes (N, C, H, W), got shape {x.shape}")
    p = layer.param.spp_param
    require(p.HasField("pyramid_height") and p.pyramid_height >= 1, layer, "spp_param needs pyramid_height >= 1")
    levels = []
    for level in range(p.pyramid_height):
        (kh, ph), (kw, pw) = level_geometry(x.shape[2], level), level_geometry(x.shape[3], level)
        param = caffe_pb2.LayerParameter(name=layer.name, type="Pooling")
        param.pooling_param.pool = p.pool
        param.pooling_param.kernel_h, param.pooling_param.kernel_w = kh, kw
        param.pooling_param.stride_h, param.pooling_param.stride_w = kh, kw
        param.pooling_param.pad_h, param.pooling_param.pad_w = ph, pw
        step = Layer(name=f"{layer.name} (level {level})", type="Pooling", bottoms=layer.bottoms, tops=layer.tops, param=param, line=layer.line)
        (pooled,) = pooling(setup_of(step, [x.shape]).params, [x], [])
        levels.append(pooled)
    if p.pyramid_height == 1:
        return levels
    return [np.concatenate([level.reshape(x.shape[0], -1) for level in levels], axis=1)]
