"""Embed: a lookup table. Each bottom value is an index i into input_dim rows.

  top[..., :] = weight[i, :] + bias     (top shape: the bottom's shape + (num_output,))
Blobs: weight (input_dim, num_output), bias (num_output,) when bias_term (default true).
The indices must be whole numbers in [0, input_dim) (Caffe checks this in debug builds only).
"""
from __future__ import annotations

import numpy as np

from ..graph import Layer
from .common import blob, n_inputs, require
from .registry import register


@register("Embed")
def embed(layer: Layer, inputs: list[np.ndarray]) -> list[np.ndarray]:
    n_inputs(layer, inputs, 1)
    (x,) = inputs
    p = layer.param.embed_param
    require(p.num_output > 0 and p.input_dim > 0, layer, "embed_param needs positive num_output and input_dim")
    weight = blob(layer, 0, x.dtype, (p.input_dim, p.num_output))
    index = x.astype(np.int64)
    require(bool(np.all(index == x)), layer, "its input holds values that are not whole numbers (indices)")
    require(
        bool(np.all((index >= 0) & (index < p.input_dim))), layer,
        f"its input holds indices outside [0, {p.input_dim})",
    )
    y = weight[index]
    if p.bias_term:
        y = y + blob(layer, 1, x.dtype, (p.num_output,))
    return [y]
