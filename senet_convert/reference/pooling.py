"""Pooling over the two spatial axes of an N x C x H x W input: MAX and AVE (Caffe's CPU
STOCHASTIC pooling is NOT_IMPLEMENTED, so it is refused here too).

Output size (round_mode CEIL, the default; FLOOR uses floor):
  out = ceil((H + 2*pad - kernel) / stride) + 1, in float32 as Caffe computes it;
  then, if any pad is non-zero: out -= 1 when (out - 1) * stride >= H + pad (the last window
  must start inside the image or its left padding).
Window of output index i: [i*stride - pad, i*stride - pad + kernel).
  MAX: maximum over the window clipped to the image (padding never wins); starts at -FLT_MAX and
       takes a value only when it is greater, so NaNs are skipped and an empty window gives -FLT_MAX.
  AVE: sum over the window clipped to the image, divided by the window size clipped to the *padded*
       extent [-pad, H + pad): padding counts, the ceil overhang beyond it does not.
global_pooling: kernel = H x W (kernel_size must not be given), pad 0 and stride 1 required.
kernel_size / kernel_h+kernel_w, pad / pad_h+pad_w, stride / stride_h+stride_w: one form each.
"""
from __future__ import annotations

import numpy as np

from ..caffe import caffe_pb2
from ..graph import Layer
from .common import fail, n_inputs, require
from .registry import register

P = caffe_pb2.PoolingParameter


def _pair(layer: Layer, name: str, default: int | None) -> tuple[int, int]:
    p = layer.param.pooling_param
    single = "kernel_size" if name == "kernel" else name
    has_h, has_w = p.HasField(f"{name}_h"), p.HasField(f"{name}_w")
    if p.HasField(single):
        require(not (has_h or has_w), layer, f"give {single} or {name}_h and {name}_w, not both")
        value = getattr(p, single)
        return value, value
    if has_h or has_w:
        require(has_h and has_w, layer, f"{name}_h and {name}_w must be given together")
        return getattr(p, f"{name}_h"), getattr(p, f"{name}_w")
    if default is None:
        fail(layer, "kernel_size (or kernel_h and kernel_w) is required unless global_pooling is set")
    return default, default


def _out_size(size: int, kernel: int, stride: int, pad: int, ceil_mode: bool) -> int:
    ratio = np.float32(size + 2 * pad - kernel) / np.float32(stride)
    return int(np.ceil(ratio) if ceil_mode else np.floor(ratio)) + 1


@register("Pooling")
def forward(layer: Layer, inputs: list[np.ndarray]) -> list[np.ndarray]:
    n_inputs(layer, inputs, 1)
    (x,) = inputs
    p = layer.param.pooling_param
    require(x.ndim == 4, layer, f"input must have 4 axes (N, C, H, W), got shape {x.shape}")
    height, width = x.shape[2:]
    if p.global_pooling:
        require(
            not (p.HasField("kernel_size") or p.HasField("kernel_h") or p.HasField("kernel_w")), layer,
            "with global_pooling the kernel size cannot be specified",
        )
        kernel = (height, width)
    else:
        kernel = _pair(layer, "kernel", None)
    pad = _pair(layer, "pad", 0)
    stride = _pair(layer, "stride", 1)
    require(min(kernel) > 0, layer, f"kernel {kernel} must be positive")
    require(min(stride) > 0, layer, f"stride {stride} must be positive")
    if p.global_pooling:
        require(pad == (0, 0) and stride == (1, 1), layer, "with global_pooling only pad 0 and stride 1 are allowed")
    if p.pool == P.STOCHASTIC:
        fail(layer, "STOCHASTIC pooling has no CPU forward pass in Caffe")
    if pad != (0, 0):
        require(pad[0] < kernel[0] and pad[1] < kernel[1], layer, f"pad {pad} must be smaller than kernel {kernel}")

    ceil_mode = p.round_mode == P.CEIL
    out = [_out_size(s, k, st, pd, ceil_mode) for s, k, st, pd in zip((height, width), kernel, stride, pad)]
    if pad != (0, 0):
        for axis, size in enumerate((height, width)):
            if (out[axis] - 1) * stride[axis] >= size + pad[axis]:
                out[axis] -= 1
    require(min(out) > 0, layer, f"the {kernel} window does not fit the {height}x{width} input")

    # Pad so that every window of every output exists, then visit the kernel taps one by one.
    geometry = list(zip(out, stride, kernel, pad, (height, width)))
    after = [max(0, (o - 1) * s + k - pd - size) for o, s, k, pd, size in geometry]
    fill = -np.inf if p.pool == P.MAX else 0
    padded = np.pad(x, [(0, 0), (0, 0), (pad[0], after[0]), (pad[1], after[1])], constant_values=fill)

    def tap(i: int, j: int) -> np.ndarray:
        rows = slice(i, i + stride[0] * (out[0] - 1) + 1, stride[0])
        cols = slice(j, j + stride[1] * (out[1] - 1) + 1, stride[1])
        return padded[:, :, rows, cols]

    taps = [(i, j) for i in range(kernel[0]) for j in range(kernel[1])]
    if p.pool == P.MAX:
        y = np.full((*x.shape[:2], *out), -np.finfo(np.float32).max, dtype=x.dtype)
        for i, j in taps:
            np.fmax(y, tap(i, j), out=y)
        return [y]
    if p.pool != P.AVE:
        fail(layer, f"unknown pooling method {p.pool}")
    total = np.zeros((*x.shape[:2], *out), dtype=x.dtype)
    for i, j in taps:
        total += tap(i, j)
    sizes = []
    for o, s, k, pd, size in geometry:
        start = np.arange(o) * s - pd
        sizes.append(np.minimum(start + k, size + pd) - start)
    divisor = (sizes[0][:, None] * sizes[1][None, :]).astype(x.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        return [total / divisor]
