"""Eltwise and Axpy: combining inputs of one shape.

Eltwise (two or more bottoms), operation default SUM, applied in bottom order as Caffe does:
  SUM:  y = sum_i coeff_i * x_i (coeff: none, or one per bottom): Mul by each coefficient other than 1,
        then Add after Add
  PROD: y = x_0 * x_1 * ...: Mul after Mul
  MAX:  y = element-wise maximum: Max after Max
Axpy (SENet's SE gate fused with the residual add), bottoms [a, x, y]:
  a is N x C or N x C x 1 x 1;  top = a[n, c] * x + y, of x's shape: Mul + Add (an N x C gate unsqueezed).
"""
from __future__ import annotations

from ..graph import Layer
from .nodes import LayerNodes
from .registry import register


def _chain(g: LayerNodes, op: str, terms: list[str]) -> None:
    y = terms[0]
    for i, x in enumerate(terms[1:], 1):
        y = g.node(op, [y, x], output=g.outputs[0] if i == len(terms) - 1 else None)


@register("Eltwise")
def emit_eltwise(layer: Layer, p, g: LayerNodes) -> None:
    """Eltwise: SUM y = sum_i coeff_i * x_i, PROD y = prod_i x_i, MAX y = max_i x_i, in bottom order."""
    if p.operation != "sum":
        _chain(g, {"prod": "Mul", "max": "Max"}[p.operation], list(g.inputs))
        return
    coeffs = [float(c) for c in p.coeffs]
    terms = [
        x if not coeffs or coeffs[i] == 1 else g.node("Mul", [x, g.scalar(f"coeff{i}", coeffs[i])])
        for i, x in enumerate(g.inputs)
    ]
    _chain(g, "Add", terms)


@register("Axpy")
def emit_axpy(layer: Layer, p, g: LayerNodes) -> None:
    """Axpy: top = a * x + y, with a (N, C) or (N, C, 1, 1) broadcast over x's spatial axes."""
    a_shape, x_shape, _ = g.input_shapes
    a, x, y = g.inputs
    if len(a_shape) == 2 and len(x_shape) > 2:
        a = g.unsqueeze(a, range(2, len(x_shape)))
    elif len(a_shape) != len(x_shape):
        a = g.node("Reshape", [a, g.ints("shape", [0, x_shape[1]] + [1] * (len(x_shape) - 2))])
    g.node("Add", [g.node("Mul", [a, x]), y], output=g.outputs[0])
