"""Pooling (MAX, AVE) over the two spatial axes of N x C x H x W.

Caffe's output size (round_mode CEIL, the default; FLOOR takes floor):
  out = ceil((H + 2*pad - kernel) / stride) + 1, and if any pad is non-zero (pad_h or pad_w, either
  one counts for both axes) out -= 1 when (out - 1)*stride >= H + pad.
Window i covers [i*stride - pad, i*stride - pad + kernel).
  MAX: maximum over the window clipped to the input; padding never wins; an empty window gives -FLT_MAX.
  AVE: sum over the window clipped to the input, divided by the window clipped to [-pad, H + pad):
       padding counts, the ceil overhang beyond it does not.
global_pooling: kernel = H x W, pad 0, stride 1.

torch's pooling agrees with this exactly when every pad <= kernel/2 and Caffe's size is torch's
floor size (ceil_mode=False) or torch's ceil size (ceil_mode=True; torch's CPU average divides by
the same clipped window). ceil_mode is used only where it changes the size, because exporters and
ONNX Runtime handle it less reliably. Otherwise (pad > kernel/2, or no padding and a last window
starting past the input, which torch drops) the input is padded explicitly and AVE divides the
window sums by Caffe's divisors. Global pooling is avg_pool2d over the whole plane, not mean():
like Caffe it sums in order in float32, and gives Caffe's bits on Caffe's input (mean() does not).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..graph import Layer
from .registry import register

_FLT_MAX = float(np.finfo(np.float32).max)



class CaffePool2d(nn.Module):
    def __init__(self, method: str, kernel, stride, pad, ceil: bool, global_pooling: bool):
        super().__init__()
        self.method = method  # "max" or "ave"
        self.kernel, self.stride, self.pad = tuple(kernel), tuple(stride), tuple(pad)
        self.ceil = ceil
        self.global_pooling = global_pooling

    def extra_repr(self) -> str:
        if self.global_pooling:
            return f"{self.method}, global"
        return f"{self.method}, kernel={self.kernel}, stride={self.stride}, pad={self.pad}, ceil={self.ceil}"

    def _sizes(self, size: int, k: int, s: int, p: int) -> tuple[int, int, int]:
        """(Caffe's, torch floor, torch ceil) output sizes along one axis."""
        span = size + 2 * p - k
        floor, ceil = span // s + 1, -(-span // s) + 1
        torch_ceil = ceil - 1 if (ceil - 1) * s >= size + p else ceil
        caffe = ceil if self.ceil else floor
        if any(self.pad) and (caffe - 1) * s >= size + p:
            caffe -= 1
        return caffe, floor, torch_ceil

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spatial = tuple(x.shape[-2:])
        kernel = spatial if self.global_pooling else self.kernel
        out, floor, torch_ceil = zip(*(self._sizes(*axis) for axis in zip(spatial, kernel, self.stride, self.pad)))
        native = all(2 * p <= k for p, k in zip(self.pad, kernel))
        if native and out in (floor, torch_ceil):
            ceil_mode = out != floor
            if self.method == "max":
                return F.max_pool2d(x, kernel, self.stride, self.pad, ceil_mode=ceil_mode)
            return F.avg_pool2d(x, kernel, self.stride, self.pad, ceil_mode=ceil_mode, count_include_pad=True)
        # Explicit padding so that the last window exists (negative: crop what no window reads).
        after = [(o - 1) * s + k - p - n for o, s, k, p, n in zip(out, self.stride, kernel, self.pad, spatial)]
        pads = (self.pad[1], after[1], self.pad[0], after[0])
        if self.method == "max":
            return F.max_pool2d(F.pad(x, pads, value=-_FLT_MAX), kernel, self.stride)
        sums = F.avg_pool2d(F.pad(x, pads), kernel, self.stride, divisor_override=1)
        windows = []
        for o, s, k, p, n in zip(out, self.stride, kernel, self.pad, spatial):
            start = torch.arange(o, device=x.device) * s - p
            windows.append(torch.clamp(start + k, max=n + p) - start)
        return sums / (windows[0][:, None] * windows[1][None, :]).to(x.dtype)


@register("Pooling")
def build(layer: Layer, p) -> nn.Module:
    kernel = p.kernel or (0, 0)  # global: the input's H x W, read at run time
    return CaffePool2d(p.method, kernel, p.stride, p.pad, p.ceil, p.global_pooling)
