"""InnerProduct: fully connected over the axes from `axis` (default 1) on.

Top: (*shape[:axis], num_output). Blobs: weight (num_output, K), or (K, num_output) with transpose,
K = prod(shape[axis:]); bias (num_output,) when bias_term (default true).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .registry import canonical_axis, layer_type, require


@dataclass(frozen=True)
class InnerProductParams:
    num_output: int
    axis: int  # canonical
    inputs: int  # K
    transpose: bool
    bias_term: bool


@layer_type("InnerProduct")
def inner_product(param, shapes):
    p, shape = param.inner_product_param, shapes[0]
    require(p.num_output > 0, "num_output must be positive")
    axis = canonical_axis(p.axis, len(shape))
    k = math.prod(shape[axis:])
    weight = (k, p.num_output) if p.transpose else (p.num_output, k)
    blobs = [weight, (p.num_output,)] if p.bias_term else [weight]
    return InnerProductParams(p.num_output, axis, k, p.transpose, p.bias_term), [(*shape[:axis], p.num_output)], blobs
