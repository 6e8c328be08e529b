"""Pooling over the two spatial axes of an N x C x H x W input: MAX and AVE (STOCHASTIC is refused at load).

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

from .registry import register


def _out_size(size: int, kernel: int, stride: int, pad: int, ceil_mode: bool) -> int:
    ratio = np.float32(size + 2 * pad - kernel) / np.float32(stride)
    return int(np.ceil(ratio) if ceil_mode else np.floor(ratio)) + 1


@register("Pooling")
def pooling(p, inputs, blobs):
    (x,) = inputs
    height, width = x.shape[2:]
    kernel = p.kernel or (height, width)
    pad, stride = p.pad, p.stride
    out = [_out_size(s, k, st, pd, p.ceil) for s, k, st, pd in zip((height, width), kernel, stride, pad)]
    if pad != (0, 0):
        for axis, size in enumerate((height, width)):
            if (out[axis] - 1) * stride[axis] >= size + pad[axis]:
                out[axis] -= 1

    # Pad so that every window of every output exists, then visit the kernel taps one by one.
    geometry = list(zip(out, stride, kernel, pad, (height, width)))
    after = [max(0, (o - 1) * s + k - pd - size) for o, s, k, pd, size in geometry]
    fill = -np.inf if p.method == "max" else 0
    padded = np.pad(x, [(0, 0), (0, 0), (pad[0], after[0]), (pad[1], after[1])], constant_values=fill)

    def tap(i: int, j: int) -> np.ndarray:
        rows = slice(i, i + stride[0] * (out[0] - 1) + 1, stride[0])
        cols = slice(j, j + stride[1] * (out[1] - 1) + 1, stride[1])
        return padded[:, :, rows, cols]

    taps = [(i, j) for i in range(kernel[0]) for j in range(kernel[1])]
    if p.method == "max":
        y = np.full((*x.shape[:2], *out), -np.finfo(np.float32).max, dtype=x.dtype)
        for i, j in taps:
            np.fmax(y, tap(i, j), out=y)
        return [y]
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
