"""Deconvolution: the transpose of Caffe's Convolution (its col2im), any number of spatial axes.

  full[n, g(c)*O/group + o, stride*i + dilation*t] += weight[c, o, t] * x[n, c, i]
  top = full cropped by pad on both sides of every spatial axis, plus bias[o]
Blobs: weight (C, num_output/group, *kernel) (Caffe swaps the channel roles of Convolution),
bias (num_output,) when bias_term (default true). g(c) = c // (C/group).
Output size per spatial axis: stride * (in - 1) + dilation * (kernel - 1) + 1 - 2 * pad.
The geometry fields read as Convolution's (convolution_param); only axis 1 is supported.
"""
from __future__ import annotations

import itertools

import numpy as np

from .registry import register


@register("Deconvolution")
def forward(p, inputs, blobs):
    (x,) = inputs
    kernel, stride, pad, dilation = p.kernel, p.stride, p.pad, p.dilation
    batch, channels, spatial = x.shape[0], x.shape[1], x.shape[2:]
    group, num_output, n_spatial = p.group, p.num_output, len(spatial)
    full = [s * (i - 1) + d * (k - 1) + 1 for i, s, d, k in zip(spatial, stride, dilation, kernel)]
    out = [f - 2 * q for f, q in zip(full, pad)]
    per_in, per_out = channels // group, num_output // group
    weight = blobs[0]
    y = np.zeros((batch, num_output, *full), dtype=x.dtype)
    for g in range(group):
        xs = x[:, g * per_in : (g + 1) * per_in]
        ws = weight[g * per_in : (g + 1) * per_in]
        for offsets in itertools.product(*(range(k) for k in kernel)):
            contribution = np.tensordot(xs, ws[(slice(None), slice(None), *offsets)], axes=([1], [0]))
            contribution = np.moveaxis(contribution, -1, 1)  # (N, per_out, *spatial)
            window = tuple(slice(d * t, d * t + s * (i - 1) + 1, s) for t, d, s, i in zip(offsets, dilation, stride, spatial))
            y[(slice(None), slice(g * per_out, (g + 1) * per_out), *window)] += contribution
    y = y[(slice(None), slice(None), *(slice(q, q + o) for q, o in zip(pad, out)))]
    if p.bias_term:
        y = y + blobs[1].reshape(num_output, *([1] * n_spatial))
    return [np.ascontiguousarray(y)]
