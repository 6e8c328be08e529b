"""Embed: y[..., :] = weight[index] + bias, the bottom's values read as row indices: Cast, Gather, Add.

Blobs: weight (input_dim, num_output), bias (num_output,) when bias_term (default true).
"""
from __future__ import annotations

from onnx import TensorProto

from ..graph import Layer
from .nodes import LayerNodes
from .registry import n_blobs, n_bottoms, register


@register("Embed")
def emit_embed(layer: Layer, g: LayerNodes) -> None:
    """Embed: y = weight[x] (+ bias)."""
    n_bottoms(layer, 1)
    p = layer.param.embed_param
    n_blobs(layer, 2 if p.bias_term else 1)
    index = g.node("Cast", [g.inputs[0]], to=TensorProto.INT64)
    rows = g.node("Gather", [g.blob(0, "weight", (p.input_dim, p.num_output)), index], output=None if p.bias_term else g.outputs[0], axis=0)
    if p.bias_term:
        g.node("Add", [rows, g.blob(1, "bias", (p.num_output,))], output=g.outputs[0])
