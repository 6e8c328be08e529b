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

from .common import scalar
from .registry import register


@register("Eltwise")
def eltwise(p, inputs, blobs):
    if p.operation == "sum":
        coeffs = [scalar(c, inputs[0].dtype) for c in p.coeffs] or [None] * len(inputs)
        y = np.zeros(inputs[0].shape, dtype=inputs[0].dtype)
        for c, x in zip(coeffs, inputs):
            y += x if c is None else c * x
        return [y]
    if p.operation == "prod":
        y = inputs[0].copy()
        for x in inputs[1:]:
            y *= x
        return [y]
    y = np.where(inputs[0] > inputs[1], inputs[0], inputs[1])
    for x in inputs[2:]:
        np.copyto(y, x, where=x > y)
    return [y]


@register("Axpy")
def axpy(p, inputs, blobs):
    a, x, y = inputs
    gate = a.reshape(x.shape[:2] + (1,) * (x.ndim - 2))
    return [gate * x + y]
