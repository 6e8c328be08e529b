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
from .pooling import pooling
from .registry import register

P = caffe_pb2.PoolingParameter


def level_geometry(size: int, level: int) -> tuple[int, int]:
    """(kernel = stride, pad) of pyramid level `level` along an axis of `size`."""
    bins = 2**level
    kernel = math.ceil(size / bins)
    return kernel, (kernel * bins - size + 1) // 2


def _level_pooling(method: str, level: int, shape) -> object:
    """The Pooling parameters of level `level`, read as the Pooling kernel takes them."""
    (kh, ph), (kw, pw) = level_geometry(shape[2], level), level_geometry(shape[3], level)
    param = caffe_pb2.LayerParameter(name=f"level {level}", type="Pooling")
    param.pooling_param.pool = P.MAX if method == "max" else P.AVE
    param.pooling_param.kernel_h, param.pooling_param.kernel_w = kh, kw
    param.pooling_param.stride_h, param.pooling_param.stride_w = kh, kw
    param.pooling_param.pad_h, param.pooling_param.pad_w = ph, pw
    step = Layer(name=param.name, type="Pooling", bottoms=("x",), tops=("y",), param=param)
    return setup_of(step, [shape]).params


@register("SPP")
def spp(p, inputs: list[np.ndarray], blobs) -> list[np.ndarray]:
    (x,) = inputs
    levels = [pooling(_level_pooling(p.method, level, x.shape), [x], [])[0] for level in range(p.levels)]
    if p.levels == 1:
        return levels
    return [np.concatenate([level.reshape(x.shape[0], -1) for level in levels], axis=1)]
