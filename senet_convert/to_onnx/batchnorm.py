"""BatchNorm: normalisation only (the affine part is the Scale layer after it).

Blobs, per channel (axis 1; a 1-axis input is one channel): 0 = mean*s, 1 = var*s, 2 = [s], the
moving-average scale factor. With use_global_stats (the default in the TEST phase):
  sf   = 0 if s == 0 else 1/s                        (float32 reciprocal, as Caffe computes it)
  mean = blob0 * sf,  std = sqrt(blob1 * sf + eps)   (float32 products and sum; eps default 1e-5)
  y    = (x - mean) / std
The constants are computed here once, in Caffe's float32 steps (the root correctly rounded, as Caffe's
powf(v, 0.5) is), and the graph does Caffe's two passes: Sub, Div. Not ONNX's BatchNormalization,
whose runtimes multiply by an inverse std (a different rounding) and which optimisers fold.
use_global_stats: false normalises with the batch's own mean and biased variance instead
(ReduceMean, Sub, Mul, ReduceMean, Add, Sqrt, Div).
"""
from __future__ import annotations

import numpy as np

from ..graph import Layer
from .nodes import LayerNodes
from .registry import register


def global_statistics(layer: Layer, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) as float32 arrays of the channels' values, rounded as Caffe rounds them."""
    mean_s, var_s, factor = (np.asarray(b, dtype=np.float32) for b in layer.blobs)
    s = np.float32(factor.ravel()[0])
    sf = np.float32(0) if s == 0 else np.float32(1) / s
    mean = mean_s.ravel() * sf
    var = var_s.ravel() * sf + np.float32(eps)
    # float64 root rounded once: the correctly rounded float32 root
    std = np.sqrt(var.astype(np.float64)).astype(np.float32)
    return mean, std


@register("BatchNorm")
def emit_batchnorm(layer: Layer, p, g: LayerNodes) -> None:
    """BatchNorm: y = (x - mean*sf) / sqrt(var*sf + eps), sf = 1/s (0 when s == 0), per channel."""
    shape = g.input_shapes[0]
    x = g.inputs[0]
    per_channel = (p.channels,) + (1,) * max(len(shape) - 2, 0)
    if p.use_global_stats:
        mean, std = global_statistics(layer, p.eps)
        centred = g.node("Sub", [x, g.constant("mean", mean.reshape(per_channel))])
        g.node("Div", [centred, g.constant("std", std.reshape(per_channel))], output=g.outputs[0])
        return
    axes = [0, *range(2, len(shape))]
    centred = g.node("Sub", [x, g.reduce("ReduceMean", x, axes)])
    var = g.reduce("ReduceMean", g.node("Mul", [centred, centred]), axes)
    std = g.node("Sqrt", [g.node("Add", [var, g.scalar("eps", p.eps)])])
    g.node("Div", [centred, std], output=g.outputs[0])
