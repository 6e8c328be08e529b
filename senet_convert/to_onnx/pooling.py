"""Pooling (MAX, AVE) over the two spatial axes of N x C x H x W, with Caffe's windows spelled out.

Caffe's output size per axis (round_mode CEIL, the default; FLOOR takes floor):
  out = ceil((H + 2*pad - kernel) / stride) + 1, and if any pad is non-zero (pad_h or pad_w, either one
  counts for both axes) out -= 1 when (out - 1)*stride >= H + pad: the last window starts in the image.
Window i covers [i*stride - pad, i*stride - pad + kernel).
  MAX: maximum over the window clipped to the input; padding never wins; an empty window gives -FLT_MAX.
  AVE: sum over the window clipped to the input, divided by the window clipped to [-pad, H + pad):
       padding counts, the ceil overhang beyond it does not.
global_pooling: kernel = H x W, pad 0, stride 1.

ONNX never sees ceil_mode (its edge rules differ between opsets and runtimes). The pads are explicit:
`pad` before, and after as far as the last window reaches, (out - 1)*stride + kernel - pad - H (0 where
the input has rows no window reads: floor's output size then is Caffe's). With them:
  MAX: MaxPool; its padding never wins, as in Caffe. Where a last window lies wholly past the input
       (no pad and stride > kernel: Caffe clips only with padding) an explicit Pad with -FLT_MAX makes
       it exist, because runtimes refuse pads >= kernel.
  AVE: AveragePool with count_include_pad divides every window by kernel_h*kernel_w: Caffe's divisor
       wherever the windows end within H + pad, that is where the after-pad is at most `pad`. Elsewhere
       the last windows' divisors are smaller: the sum is a depthwise Conv with a kernel of ones (exact
       products, one sum per window, like Caffe's loop) divided by Caffe's per-position divisors, a
       constant out_h x out_w initializer (Div, one rounding, as Caffe's).
global_pooling (and, in the optimized graph, any window covering the whole unpadded input): the
Global*Pool of the runtime; the exact graph keeps AveragePool over the full plane (Caffe's sum order).
"""
from __future__ import annotations

import numpy as np

from ..graph import Layer
from .nodes import LayerNodes
from .registry import register

_FLT_MAX = float(np.finfo(np.float32).max)


def _caffe_size(size: int, k: int, s: int, p: int, ceil: bool, padded: bool) -> int:
    span = size + 2 * p - k
    out = (-(-span // s) if ceil else span // s) + 1
    if padded and (out - 1) * s >= size + p:
        out -= 1
    return out


def _divisors(out: int, k: int, s: int, p: int, size: int) -> np.ndarray:
    start = np.arange(out) * s - p
    return np.minimum(start + k, size + p) - start


def _geometry(p, spatial: tuple[int, int]):
    """(kernel, stride, pad, pad after, output size) per axis: Caffe's output size, computed here."""
    kernel = p.kernel or spatial
    out = tuple(_caffe_size(n, k, s, q, p.ceil, any(p.pad)) for n, k, s, q in zip(spatial, kernel, p.stride, p.pad))
    after = tuple(max(0, (o - 1) * s + k - q - n) for o, s, k, q, n in zip(out, p.stride, kernel, p.pad, spatial))
    return tuple(kernel), p.stride, p.pad, after, out


@register("Pooling")
def emit_pooling(layer: Layer, p, g: LayerNodes) -> None:
    """Pooling: MAX or AVE over Caffe's ceil-rounded, clipped windows; AVE divides by the window
    clipped to the padded input (padding counts, the ceil overhang does not)."""
    shape = g.input_shapes[0]
    kernel, stride, pad, after, out = _geometry(p, tuple(shape[2:]))
    x, y = g.inputs[0], g.outputs[0]
    whole = kernel == tuple(shape[2:]) and pad == (0, 0)
    if g.optimized and (p.global_pooling or whole):
        g.node("GlobalMaxPool" if p.method == "max" else "GlobalAveragePool", [x], output=y)
        return
    window = dict(kernel_shape=list(kernel), strides=list(stride))
    if p.method == "max":
        if all(a < k for a, k in zip(after, kernel)):
            g.node("MaxPool", [x], output=y, pads=[*pad, *after], **window)
        else:
            pads = g.ints("pads", [0, 0, pad[0], pad[1], 0, 0, after[0], after[1]])
            g.node("MaxPool", [g.node("Pad", [x, pads, g.scalar("fill", -_FLT_MAX)])], output=y, **window)
        return
    if all(a <= q for a, q in zip(after, pad)):
        g.node("AveragePool", [x], output=y, pads=[*pad, *after], count_include_pad=1, **window)
        return
    channels = shape[1]
    ones = g.constant("ones", np.ones((channels, 1, *kernel), dtype=np.float32))
    sums = g.node("Conv", [x, ones], pads=[*pad, *after], group=channels, **window)
    rows, cols = (_divisors(o, k, s, q, n) for o, k, s, q, n in zip(out, kernel, stride, pad, shape[2:]))
    g.node("Div", [sums, g.constant("divisor", (rows[:, None] * cols[None, :]).astype(np.float32))], output=y)
