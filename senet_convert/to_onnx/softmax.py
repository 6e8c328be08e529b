"""Softmax along `axis` (default 1, may be negative): y = exp(x - max) / sum(exp(x - max)) over that
axis alone. ONNX's Softmax has these semantics from opset 13 on (before, it flattened the axes after).
"""
from __future__ import annotations

from ..graph import Layer
from .nodes import LayerNodes
from .registry import register


@register("Softmax")
def emit_softmax(layer: Layer, p, g: LayerNodes) -> None:
    """Softmax: y = exp(x - max) / sum(exp(x - max)) along softmax_param.axis (default 1)."""
    g.node("Softmax", g.inputs, output=g.outputs[0], axis=p.axis)
