"""InnerProduct: a fully connected layer over all axes from `axis` (default 1) on.

  x viewed as (M, K), M = prod(shape[:axis]), K = prod(shape[axis:]);  top = x @ W^T + bias,
  shape shape[:axis] + (num_output,).
Blobs: weight (num_output, K), or (K, num_output) when transpose is set; bias (num_output,) when
bias_term (default true).
"""
from __future__ import annotations

import math

from .registry import register


@register("InnerProduct")
def inner_product(p, inputs, blobs):
    (x,) = inputs
    weight = blobs[0] if p.transpose else blobs[0].T
    y = x.reshape(math.prod(x.shape[: p.axis]), -1) @ weight
    if p.bias_term:
        y += blobs[1]
    return [y.reshape(*x.shape[: p.axis], p.num_output)]
