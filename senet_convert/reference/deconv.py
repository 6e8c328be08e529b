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

from ..graph import Layer
from .common import blob, fail, n_inputs, require
from .conv import _per_axis
from .registry import register


@register("Deconvolution")
def forward(layer: Layer, inputs: list[np.ndarray]) -> list[np.ndarray]:
    n_inputs(layer, inputs, 1)
    (x,) = inputs
    p = layer.param.convolution_param
    if p.axis not in (1, 1 - x.ndim):
        fail(layer, f"axis {p.axis} is not supported (only the channel axis 1)")
    require(x.ndim >= 3, layer, f"input of shape {x.shape} has no spatial axes")
    n_spatial = x.ndim - 2
    kernel = _per_axis(layer, "kernel", n_spatial, 0)
    stride = _per_axis(layer, "stride", n_spatial, 1)
    pad = _per_axis(layer, "pad", n_spatial, 0)
    dilation = _per_axis(layer, "dilation", n_spatial, 1)
    require(min(kernel + stride + dilation) > 0, layer, "kernel, stride and dilation must be positive")
    batch, channels, spatial = x.shape[0], x.shape[1], x.shape[2:]
    group, num_output = p.group, p.num_output
    require(group > 0 and channels % group == 0, layer, f"{channels} input channels are not divisible by group {group}")
    require(num_output > 0 and num_output % group == 0, layer, f"num_output {num_output} is not a positive multiple of group {group}")
    full = [s * (i - 1) + d * (k - 1) + 1 for i, s, d, k in zip(spatial, stride, dilation, kernel)]
    out = [f - 2 * q for f, q in zip(full, pad)]
    require(all(o > 0 for o in out), layer, f"pad {pad} leaves no output for the {tuple(spatial)} input")

    per_in, per_out = channels // group, num_output // group
    weight = blob(layer, 0, x.dtype, (channels, per_out, *kernel))
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
        y = y + blob(layer, 1, x.dtype, (num_output,)).reshape(num_output, *([1] * n_spatial))
    return [np.ascontiguousarray(y)]
