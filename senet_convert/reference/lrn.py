"""LRN (Caffe's LRNLayer) of an N x C x H x W bottom, with n = local_size (odd) and pad = (n - 1) / 2:

  ACROSS_CHANNELS (default): scale[c] = k + alpha/n * sum_{j = c-pad .. c+pad} x[j]^2   (x[j] = 0 outside 0 .. C-1)
  WITHIN_CHANNEL:  scale[h, w] = 1 + alpha * (sum over the n x n window at (h, w) of x^2) / (n * n)
                   (Caffe builds it from an AVE pooling with zero padding, which divides by n*n here,
                   and a Power layer whose shift is 1: k plays no part)
  top = x * scale^(-beta)            defaults: local_size 5, alpha 1, beta 0.75, k 1
"""
from __future__ import annotations

import numpy as np

from ..caffe import caffe_pb2
from ..graph import Layer
from .common import n_inputs, require, scalar
from .registry import register


@register("LRN")
def forward(layer: Layer, inputs: list[np.ndarray]) -> list[np.ndarray]:
    n_inputs(layer, inputs, 1)
    (x,) = inputs
    p = layer.param.lrn_param
    require(x.ndim == 4, layer, f"LRN needs an N x C x H x W input, got shape {x.shape}")
    require(p.local_size % 2 == 1, layer, f"local_size {p.local_size} must be odd")
    n, pad = p.local_size, (p.local_size - 1) // 2
    squares = x * x
    if p.norm_region == caffe_pb2.LRNParameter.ACROSS_CHANNELS:
        padded = np.pad(squares, [(0, 0), (pad, pad), (0, 0), (0, 0)])
        window = sum(padded[:, j : j + x.shape[1]] for j in range(n))
        scale = scalar(p.k, x.dtype) + scalar(p.alpha, x.dtype) / n * window
    else:
        height, width = x.shape[2:]
        padded = np.pad(squares, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
        window = sum(padded[:, :, i : i + height, j : j + width] for i in range(n) for j in range(n))
        scale = 1 + scalar(p.alpha, x.dtype) * (window / (n * n))
    return [x * scale ** -scalar(p.beta, x.dtype)]
