"""MVN: per sample and channel (or per sample, across_channels) over the remaining values:
x - mean, then with normalize_variance (default) divided by sqrt(population variance) + eps (eps
after the root, default 1e-9). Reshape to rows, ReduceMean, Sub, Mul, ReduceMean, Sqrt, Add, Div,
Reshape back: the top has Caffe's legacy 4 axes.
"""
from __future__ import annotations

import numpy as np

from ..graph import Layer
from .nodes import LayerNodes
from .registry import register


@register("MVN")
def emit_mvn(layer: Layer, p, g: LayerNodes) -> None:
    """MVN: y = (x - mean) / (std + eps), or x - mean."""
    rows = g.node("Reshape", [g.inputs[0], g.ints("rows", [0, -1] if p.across_channels else [0, g.input_shapes[0][1], -1])])
    axis = [-1]
    centred = g.node("Sub", [rows, g.reduce("ReduceMean", rows, axis)])
    if p.normalize_variance:
        std = g.node("Sqrt", [g.reduce("ReduceMean", g.node("Mul", [centred, centred]), axis)])
        centred = g.node("Div", [centred, g.node("Add", [std, g.scalar("eps", float(np.float32(p.eps)))])])
    g.node("Reshape", [centred, g.ints("shape", [0, *g.output_shapes[0][1:]])], output=g.outputs[0])
