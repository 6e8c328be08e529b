"""Eltwise and Axpy: combining bottoms of one shape.

Eltwise (2 or more bottoms of equal shape), operation SUM (default), PROD or MAX; coeff only with
SUM, none or one per bottom. Axpy (SENet's fused SE gate and residual add), bottoms [a, x, y]: x
and y of one shape N x C x ..., a N x C or N x C x 1 x 1. Top: x's shape.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..caffe_pb2 import EltwiseParameter as E
from .registry import fmt, layer_type, require


@dataclass(frozen=True)
class EltwiseParams:
    operation: str  # "sum", "prod" or "max"
    coeffs: tuple[float, ...]  # SUM only; () means all 1


@layer_type("Eltwise", bottoms=(2, None))
def eltwise(param, shapes):
    p = param.eltwise_param
    for i, shape in enumerate(shapes[1:], 1):
        require(shape == shapes[0], f"bottom {i} has shape {fmt(shape)}, bottom 0 has {fmt(shapes[0])}")
    coeffs = tuple(float(c) for c in p.coeff)
    require(p.operation in (E.SUM, E.PROD, E.MAX), f"unknown Eltwise operation {p.operation}")
    require(not coeffs or p.operation == E.SUM, "coeff is only allowed with operation SUM")
    require(not coeffs or len(coeffs) == len(shapes), f"{len(coeffs)} coeff values for {len(shapes)} bottoms (one per bottom)")
    require(all(math.isfinite(c) for c in coeffs), f"coeff {list(coeffs)} must be finite")
    return EltwiseParams(E.EltwiseOp.Name(p.operation).lower(), coeffs), [shapes[0]], []


@layer_type("Axpy", bottoms=3)
def axpy(param, shapes):
    a, x, y = shapes
    require(len(x) >= 2 and x == y, f"x {fmt(x)} and y {fmt(y)} must have one shape of at least 2 axes, N x C x ...")
    require(a in (x[:2], (*x[:2], 1, 1)), f"a has shape {fmt(a)}, expected N x C or N x C x 1 x 1 with N x C = {fmt(x[:2])}")
    return None, [x], []
