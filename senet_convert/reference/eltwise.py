"""Eltwise and Axpy: combining inputs of one shape.

Eltwise (two or more bottoms of equal shape), operation default SUM:
  SUM:  top = sum_i coeff_i * x_i  (coeff: none, or one per bottom; default 1)
  PROD: top = prod_i x_i           (no coefficients allowed)
  MAX:  top = x_0 where x_0 > x_1 else x_1, then replaced by x_i wherever x_i > top (Caffe's order of
        comparisons, so ties and NaNs resolve as in Caffe)
Axpy (SENet's fused SE gate + residual add), bottoms [a, x, y]:
  a (N, C) or (N, C, 1, 1), x and y (N, C, ...) of equal shape;  top[n, c] = a[n, c] * x[n, c] + y[n, c]
"""
from __future__ import annotations

import numpy as np

from ..caffe import caffe_pb2
from ..graph import Layer
from .common import fail, n_inputs, require, scalar
from .registry import register

E = caffe_pb2.EltwiseParameter


@register("Eltwise")
def eltwise(layer: Layer, inputs: list[np.ndarray]) -> list[np.ndarray]:
    require(len(inputs) >= 2, layer, f"needs at least 2 bottoms, got {len(inputs)}")
    p = layer.param.eltwise_param
    shape = inputs[0].shape
    for i, x in enumerate(inputs[1:], 1):
        require(x.shape == shape, layer, f"bottom {i} has shape {x.shape}, bottom 0 has {shape}")
    coeffs = list(p.coeff)
    require(
        not coeffs or len(coeffs) == len(inputs), layer,
        f"{len(coeffs)} coeff values for {len(inputs)} bottoms (one per bottom)",
    )
    if p.operation == E.SUM:
        coeffs = [scalar(c, inputs[0].dtype) for c in coeffs] or [None] * len(inputs)
        y = np.zeros(shape, dtype=inputs[0].dtype)
        for c, x in zip(coeffs, inputs):
            y += x if c is None else c * x
        return [y]
    require(not coeffs, layer, "coeff is only allowed with operation SUM")
    if p.operation == E.PROD:
        y = inputs[0].copy()
        for x in inputs[1:]:
            y *= x
        return [y]
    if p.operation == E.MAX:
        y = np.where(inputs[0] > inputs[1], inputs[0], inputs[1])
        for x in inputs[2:]:
            np.copyto(y, x, where=x > y)
        return [y]
    fail(layer, f"unknown Eltwise operation {p.operation}")


@register("Axpy")
def axpy(layer: Layer, inputs: list[np.ndarray]) -> list[np.ndarray]:
    n_inputs(layer, inputs, 3)
    a, x, y = inputs
    require(
        x.ndim >= 2 and x.shape == y.shape, layer,
        f"x {x.shape} and y {y.shape} must have one shape of at least 2 axes",
    )
    require(
        a.shape in ((x.shape[0], x.shape[1]), (x.shape[0], x.shape[1], 1, 1)), layer,
        f"a has shape {a.shape}, expected (N, C) or (N, C, 1, 1) with N, C = {x.shape[:2]}",
    )
    gate = a.reshape(x.shape[:2] + (1,) * (x.ndim - 2))
    return [gate * x + y]
