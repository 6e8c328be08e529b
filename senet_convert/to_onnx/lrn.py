"""LRN of N x C x H x W (Caffe's LRNLayer), n = local_size (odd).

ACROSS_CHANNELS (default): y = x * (k + alpha/n * sum of x^2 over the n channels centred on each)^(-beta),
channels past the edges counting as zeros: ONNX's LRN, whose window for an odd size is the same and
whose alpha is divided by size as Caffe's is.
WITHIN_CHANNEL: y = x * (1 + alpha * mean of x^2 over the n x n window at each position)^(-beta), the
mean being Caffe's AVE pooling with pad (n-1)/2 (every window counts n*n positions, padding included):
Mul, AveragePool(count_include_pad), Mul, Add, Pow, Mul.
"""
from __future__ import annotations

from ..graph import Layer
from .nodes import LayerNodes
from .registry import register


@register("LRN")
def emit_lrn(layer: Layer, p, g: LayerNodes) -> None:
    """LRN: y = x * (k + alpha/n * sum_window x^2)^-beta across channels, or (1 + alpha * mean_window x^2)^-beta within."""
    (x,) = g.inputs
    if p.across_channels:
        g.node("LRN", [x], output=g.outputs[0], size=p.size, alpha=float(p.alpha), beta=float(p.beta), bias=float(p.k))
        return
    pad = (p.size - 1) // 2
    squares = g.node("Mul", [x, x])
    mean = g.node("AveragePool", [squares], kernel_shape=[p.size] * 2, strides=[1, 1], pads=[pad] * 4, count_include_pad=1)
    base = g.node("Add", [g.node("Mul", [mean, g.scalar("alpha", p.alpha)]), g.scalar("shift", 1.0)])
    g.node("Mul", [x, g.node("Pow", [base, g.scalar("power", -p.beta)])], output=g.outputs[0])
