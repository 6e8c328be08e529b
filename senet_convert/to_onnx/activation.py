"""Element-wise activations.

  ReLU:    y = max(x, 0) + negative_slope * min(x, 0)      (negative_slope default 0): Relu, or LeakyRelu
  Sigmoid: y = 1 / (1 + exp(-x))  (Caffe computes 0.5 * tanh(0.5 * x) + 0.5, equal within float32 rounding)
  TanH:    y = tanh(x)
"""
from __future__ import annotations

from ..graph import Layer
from .nodes import LayerNodes
from .registry import register


@register("ReLU")
def emit_relu(layer: Layer, p, g: LayerNodes) -> None:
    """ReLU: y = x for x > 0, negative_slope * x otherwise (default slope 0)."""
    slope = p.negative_slope
    if slope:
        g.node("LeakyRelu", g.inputs, output=g.outputs[0], alpha=float(slope))
    else:
        g.node("Relu", g.inputs, output=g.outputs[0])


@register("Sigmoid")
def emit_sigmoid(layer: Layer, p, g: LayerNodes) -> None:
    """Sigmoid: y = 1 / (1 + exp(-x))."""
    g.node("Sigmoid", g.inputs, output=g.outputs[0])


@register("TanH")
def emit_tanh(layer: Layer, p, g: LayerNodes) -> None:
    """TanH: y = tanh(x)."""
    g.node("Tanh", g.inputs, output=g.outputs[0])
