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

from ..graph import Layer
from .common import blob, fail, n_inputs, require
from .registry import register


def _per_axis(layer: Layer, name: str, n_spatial: int, default: int) -> list[int]:
    p = layer.param.convolution_param
    repeated = {"kernel": "kernel_size", "stride": "stride", "pad": "pad", "dilation": "dilation"}[name]
    values = list(getattr(p, repeated))
    if name != "dilation" and (p.HasField(f"{name}_h") or p.HasField(f"{name}_w")):
        require(n_spatial == 2, layer, f"{name}_h/{name}_w can only be used for 2-D convolution")
        require(not values, layer, f"either {repeated} or {name}_h/{name}_w should be specified, not both")
        return [getattr(p, f"{name}_h"), getattr(p, f"{name}_w")]
    if not values:
        require(name != "kernel", layer, "kernel_size (or kernel_h and kernel_w) is required")
        return [default] * n_spatial
    require(
        len(values) in (1, n_spatial), layer,
        f"{repeated} must be given once or once per spatial axis ({n_spatial}), got {len(values)} values",
    )
    return values * n_spatial if len(values) == 1 else values


def _out_size(size: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    extent = dilation * (kernel - 1) + 1
    numerator = size + 2 * pad - extent
    quotient = numerator // stride if numerator >= 0 else -(-numerator // stride)  # C++ truncation
    return quotient + 1


@register("Convolution")
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
    require(all(k > 0 for k in kernel), layer, f"kernel {kernel} must be positive")
    require(all(s > 0 for s in stride), layer, f"stride {stride} must be positive")
    require(all(d > 0 for d in dilation), layer, f"dilation {dilation} must be positive")

    batch, channels, spatial = x.shape[0], x.shape[1], x.shape[2:]
    group, num_output = p.group, p.num_output
    require(group > 0 and channels % group == 0, layer, f"{channels} input channels are not divisible by group {group}")
    require(
        num_output > 0 and num_output % group == 0, layer,
        f"num_output {num_output} is not a positive multiple of group {group}",
    )
    out = [_out_size(*a) for a in zip(spatial, kernel, stride, pad, dilation)]
    require(all(o > 0 for o in out), layer, f"the kernel does not fit the {tuple(spatial)} input: output {tuple(out)}")

    weight = blob(layer, 0, x.dtype, (num_output, channels // group, *kernel))
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
        bias = blob(layer, 1, x.dtype, (num_output,))
        y += bias.reshape(num_output, *([1] * n_spatial))
    return [y]
