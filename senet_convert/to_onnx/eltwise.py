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

from ..caffe import caffe_pb2
from ..graph import Layer
from .nodes import LayerNodes
from .registry import register, require

E = caffe_pb2.EltwiseParameter


def _chain(g: LayerNodes, op: str, terms: list[str]) -> None:
    y = terms[0]
    for i, x in enumerate(terms[1:], 1):
        y = g.node(op, [y, x], output=g.outputs[0] if i == len(terms) - 1 else None)


@register("Eltwise")
def emit_eltwise(layer: Layer, g: LayerNodes) -> None:
    """Eltwise: SUM y = sum_i coeff_i * x_i, PROD y = prod_i x_i, MAX y = max_i x_i, in bottom order."""
    n = len(layer.bottoms)
    require(n >= 2, layer, f"needs at least 2 bottoms, got {n}")
    shapes = set(g.input_shapes)
    require(len(shapes) == 1, layer, f"bottoms have different shapes {sorted(shapes)}")
    p = layer.param.eltwise_param
    coeffs = [float(c) for c in p.coeff]
    if p.operation != E.SUM:
        require(not coeffs, layer, "coeff is only allowed for SUM")
        _chain(g, {E.PROD: "Mul", E.MAX: "Max"}[p.operation], list(g.inputs))
        return
    require(not coeffs or len(coeffs) == n, layer, f"{len(coeffs)} coeffs for {n} bottoms")
    terms = [
        x if not coeffs or coeffs[i] == 1 else g.node("Mul", [x, g.scalar(f"coeff{i}", coeffs[i])])
        for i, x in enumerate(g.inputs)
    ]
    _chain(g, "Add", terms)


@register("Axpy")
def emit_axpy(layer: Layer, g: LayerNodes) -> None:
    """Axpy: top = a * x + y, with a (N, C) or (N, C, 1, 1) broadcast over x's spatial axes."""
    require(len(layer.bottoms) == 3, layer, f"takes 3 bottoms [a, x, y], got {len(layer.bottoms)}")
    a_shape, x_shape, y_shape = g.input_shapes
    require(len(x_shape) >= 2 and x_shape == y_shape, layer, f"x {x_shape} and y {y_shape} must have one shape of at least 2 axes")
    require(
        a_shape[1:] in ((x_shape[1],), (x_shape[1], 1, 1)), layer,
        f"a has shape {a_shape}, expected (N, C) or (N, C, 1, 1) with C = {x_shape[1]}",
    )
    a, x, y = g.inputs
    if len(a_shape) == 2 and len(x_shape) > 2:
        a = g.unsqueeze(a, range(2, len(x_shape)))
    elif len(a_shape) != len(x_shape):
        a = g.node("Reshape", [a, g.ints("shape", [0, x_shape[1]] + [1] * (len(x_shape) - 2))])
    g.node("Add", [g.node("Mul", [a, x]), y], output=g.outputs[0])
