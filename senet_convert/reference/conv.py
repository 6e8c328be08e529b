"""Convolution (Caffe's im2col + GEMM), any number of spatial axes after the channel axis.

  top[n, o, p] = bias[o] + sum_{c, t} weight[o, c, t] * x[n, g(o)*C/group + c, stride*p - pad + dilation*t]
  where x reads 0 outside the input (zero padding), g(o) = o // (num_output/group).
Blobs: weight (num_output, C/group, *kernel), bias (num_output,) when bias_term (default true).
Output size per spatial axis: (in + 2*pad - (dilation*(kernel-1) + 1)) / stride + 1, C integer division.
kernel_size/stride/pad/dilation are repeated: one value for every spatial axis or one per axis
(defaults stride 1, pad 0, dilation 1). In 2-D, kernel_h/kernel_w (stride_h/_w, pad_h/_w) may be
given instead, never together with the repeated form. Only axis 1 (NCHW) is supported here.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from .registry import register


def _out_size(size: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    extent = dilation * (kernel - 1) + 1
    numerator = size + 2 * pad - extent
    quotient = numerator // stride if numerator >= 0 else -(-numerator // stride)  # C++ truncation
    return quotient + 1


@register("Convolution")
def convolution(p, inputs, blobs):
    (x,) = inputs
    batch, channels, spatial = x.shape[0], x.shape[1], x.shape[2:]
    kernel, stride, pad, dilation, group, num_output = p.kernel, p.stride, p.pad, p.dilation, p.group, p.num_output
    n_spatial = len(spatial)
    out = [_out_size(*a) for a in zip(spatial, kernel, stride, pad, dilation)]
    weight = blobs[0]
    taps = math.prod(kernel)
    positions = math.prod(out)

    if taps == 1 and all(s == 1 for s in stride) and not any(pad):
        cols = x.reshape(batch, group, channels // group, positions)
    else:
        # im2col: cols[n, c, t, *p] = x_padded[n, c, stride*p + dilation*t]
        geometry = list(zip(out, stride, dilation, kernel, pad, spatial))
        after = [max(0, (o - 1) * s + d * (k - 1) + 1 - pd - size) for o, s, d, k, pd, size in geometry]
        padded = np.pad(x, [(0, 0), (0, 0)] + list(zip(pad, after)))
        cols = np.empty((batch, channels, taps, *out), dtype=x.dtype)
        for t, offsets in enumerate(itertools.product(*(range(k) for k in kernel))):
            window = tuple(
                slice(d * i, d * i + s * (o - 1) + 1, s) for i, d, s, o in zip(offsets, dilation, stride, out)
            )
            cols[:, :, t] = padded[(slice(None), slice(None), *window)]
        cols = cols.reshape(batch, group, (channels // group) * taps, positions)

    y = np.matmul(weight.reshape(group, num_output // group, (channels // group) * taps), cols)
    y = y.reshape(batch, num_output, *out)
    if p.bias_term:
        y += blobs[1].reshape(num_output, *([1] * n_spatial))
    return [y]
