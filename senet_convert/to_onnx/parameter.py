"""Parameter: no bottom; the top is the learned blob (shape parameter_param.shape): an initializer."""
from __future__ import annotations

from ..graph import Layer
from .nodes import LayerNodes
from .registry import n_blobs, n_bottoms, register


@register("Parameter")
def emit_parameter(layer: Layer, g: LayerNodes) -> None:
    """Parameter: y = the blob."""
    n_bottoms(layer, 0)
    n_blobs(layer, 1)
    g.node("Identity", [g.blob(0, "weight", tuple(layer.param.parameter_param.shape.dim))], output=g.outputs[0])
