"""Parameter: no bottom; the top is the learned blob (shape parameter_param.shape): an initializer."""
from __future__ import annotations

from ..graph import Layer
from .nodes import LayerNodes
from .registry import register


@register("Parameter")
def emit_parameter(layer: Layer, p, g: LayerNodes) -> None:
    """Parameter: y = the blob."""
    g.node("Identity", [g.blob(0, "weight", p.shape)], output=g.outputs[0])
