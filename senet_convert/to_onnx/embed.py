"""Embed: y[..., :] = weight[index] + bias, the bottom's values read as row indices: Cast, Gather, Add.

Blobs: weight (input_dim, num_output), bias (num_output,) when bias_term (default true).
"""
from __future__ import annotations

from onnx import TensorProto

from ..graph import Layer
from .nodes import LayerNodes
from .registry import register


@register("Embed")
def emit_embed(layer: Layer, p, g: LayerNodes) -> None:
    """Embed: y = weight[x] (+ bias)."""
    index = g.node("Cast", [g.inputs[0]], to=TensorProto.INT64)
    rows = g.node("Gather", [g.blob(0, "weight", (p.input_dim, p.num_output)), index], output=None if p.bias_term else g.outputs[0], axis=0)
    if p.bias_term:
        g.node("Add", [rows, g.blob(1, "bias", (p.num_output,))], output=g.outputs[0])
