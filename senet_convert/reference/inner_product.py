"""InnerProduct: a fully connected layer over all axes from `axis` (default 1) on.

  x viewed as (M, K), M = prod(shape[:axis]), K = prod(shape[axis:]);  top = x @ W^T + bias,
  shape shape[:axis] + (num_output,).
Blobs: weight (num_output, K), or (K, num_output) when transpose is set; bias (num_output,) when
bias_term (default true).
"""
from __future__ import annotations

import math

import numpy as np

from ..graph import Layer
from .common import blob, canonical_axis, n_inputs, require
from .registry import register


@register("InnerProduct")
def forward(layer: Layer, inputs: list[np.ndarray]) -> list[np.ndarray]:
    n_inputs(layer, inputs, 1)
    (x,) = inputs
    p = layer.param.inner_product_param
    axis = canonical_axis(layer, p.axis, x.ndim)
    n, k = p.num_output, math.prod(x.shape[axis:])
    require(n > 0, layer, "num_output must be positive")
    if p.transpose:
        weight = blob(layer, 0, x.dtype, (k, n))
    else:
        weight = blob(layer, 0, x.dtype, (n, k)).T
    y = x.reshape(math.prod(x.shape[:axis]), k) @ weight
    if p.bias_term:
        y += blob(layer, 1, x.dtype, (n,))
    return [y.reshape(*x.shape[:axis], n)]
