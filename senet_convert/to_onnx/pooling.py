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

from ..caffe import caffe_pb2
from ..graph import Layer
from .nodes import LayerNodes
from .registry import fail, n_bottoms, register, require

P = caffe_pb2.PoolingParameter
_FLT_MAX = float(np.finfo(np.float32).max)


def _pair(layer: Layer, name: str, default: int | None) -> tuple[int, int]:
    p = layer.param.pooling_param
    single = "kernel_size" if name == "kernel" else name
    has_h, has_w = p.HasField(f"{name}_h"), p.HasField(f"{name}_w")
    if has_h or has_w:
        require(not p.HasField(single), layer, f"give {single} or {name}_h and {name}_w, not both")
        require(has_h and has_w, layer, f"{name}_h and {name}_w go together")
        return getattr(p, f"{name}_h"), getattr(p, f"{name}_w")
    if p.HasField(single) or default is None:
        require(p.HasField(single), layer, "kernel_size (or kernel_h and kernel_w) is required")
        return getattr(p, single), getattr(p, single)
    return default, default


def _caffe_size(size: int, k: int, s: int, p: int, ceil: bool, padded: bool) -> int:
    span = size + 2 * p - k
    out = (-(-span // s) if ceil else span // s) + 1
    if padded and (out - 1) * s >= size + p:
        out -= 1
    return out


def _divisors(out: int, k: int, s: int, p: int, size: int) -> np.ndarray:
    start = np.arange(out) * s - p
    return np.minimum(start + k, size + p) - start


def _geometry(layer: Layer, spatial: tuple[int, int]):
    p = layer.param.pooling_param
    if p.global_pooling:
        require(
            not (p.HasField("kernel_size") or p.HasField("kernel_h") or p.HasField("kernel_w")), layer,
            "with global_pooling the kernel size cannot be specified",
        )
        kernel = spatial
    else:
        kernel = _pair(layer, "kernel", None)
    pad, stride = _pair(layer, "pad", 0), _pair(layer, "stride", 1)
    if p.global_pooling:
        require(pad == (0, 0) and stride == (1, 1), layer, "with global_pooling only pad 0 and stride 1 are allowed")
    require(min(kernel) >= 1 and min(stride) >= 1, layer, "kernel and stride must be positive")
    require(all(q < k for q, k in zip(pad, kernel)), layer, f"pad {pad} must be smaller than kernel {kernel}")
    ceil, padded = p.round_mode == P.CEIL, any(pad)
    out = tuple(_caffe_size(n, k, s, q, ceil, padded) for n, k, s, q in zip(spatial, kernel, stride, pad))
    require(min(out) >= 1, layer, f"the {kernel} window does not fit the {spatial[0]}x{spatial[1]} input")
    after = tuple(max(0, (o - 1) * s + k - q - n) for o, s, k, q, n in zip(out, stride, kernel, pad, spatial))
    return kernel, stride, pad, after, out


@register("Pooling")
def emit_pooling(layer: Layer, g: LayerNodes) -> None:
    """Pooling: MAX or AVE over Caffe's ceil-rounded, clipped windows; AVE divides by the window
    clipped to the padded input (padding counts, the ceil overhang does not)."""
    n_bottoms(layer, 1)
    p = layer.param.pooling_param
    if p.pool not in (P.MAX, P.AVE):
        fail(layer, f"{P.PoolMethod.Name(p.pool)} pooling is not supported (Caffe has no CPU forward pass for it)")
    shape = g.input_shapes[0]
    require(len(shape) == 4, layer, f"input must have 4 axes (N, C, H, W), got shape {shape}")
    kernel, stride, pad, after, out = _geometry(layer, tuple(shape[2:]))
    x, y = g.inputs[0], g.outputs[0]
    whole = kernel == tuple(shape[2:]) and pad == (0, 0)
    if p.global_pooling and g.optimized or (whole and g.optimized):
        g.node("GlobalMaxPool" if p.pool == P.MAX else "GlobalAveragePool", [x], output=y)
        return
    window = dict(kernel_shape=list(kernel), strides=list(stride))
    if p.pool == P.MAX:
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
