"""Embed: a lookup table. Each bottom value is an index i into input_dim rows.

  top[..., :] = weight[i, :] + bias     (top shape: the bottom's shape + (num_output,))
Blobs: weight (input_dim, num_output), bias (num_output,) when bias_term (default true).
The indices must be whole numbers in [0, input_dim) (Caffe checks this in debug builds only).
"""
from __future__ import annotations

import numpy as np

from .common import DataError
from .registry import register


@register("Embed")
def embed(p, inputs: list[np.ndarray], blobs) -> list[np.ndarray]:
    (x,) = inputs
    index = x.astype(np.int64)
    if not np.all(index == x):
        raise DataError("its input holds values that are not whole numbers (indices)")
    if not np.all((index >= 0) & (index < p.input_dim)):
        raise DataError(f"its input holds indices outside [0, {p.input_dim})")
    y = blobs[0][index]
    return [y + blobs[1] if p.bias_term else y]
