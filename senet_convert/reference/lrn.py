"""LRN as Caffe computes it, with n = local_size and pad = (n - 1) / 2:

  ACROSS_CHANNELS: scale[c] = k + alpha/n * sum_{j = c-pad .. c+pad} x[j]^2   (x[j] = 0 outside 0 .. C-1)
  WITHIN_CHANNEL:  scale[h, w] = 1 + alpha * (sum over the n x n window at (h, w) of x^2) / (n * n)
                   (zero padding; Caffe's AVE pooling divides by n*n here, and its Power layer's shift is 1)
  top = x * scale^(-beta)
"""
from __future__ import annotations

import numpy as np

from .common import scalar
from .registry import register


@register("LRN")
def lrn(p, inputs, blobs):
    (x,) = inputs
    n, pad = p.size, (p.size - 1) // 2
    squares = x * x
    if p.across_channels:
        padded = np.pad(squares, [(0, 0), (pad, pad), (0, 0), (0, 0)])
        window = sum(padded[:, j : j + x.shape[1]] for j in range(n))
        scale = scalar(p.k, x.dtype) + scalar(p.alpha, x.dtype) / n * window
    else:
        height, width = x.shape[2:]
        padded = np.pad(squares, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
        window = sum(padded[:, :, i : i + height, j : j + width] for i in range(n) for j in range(n))
        scale = 1 + scalar(p.alpha, x.dtype) * (window / (n * n))
    return [x * scale ** -scalar(p.beta, x.dtype)]
