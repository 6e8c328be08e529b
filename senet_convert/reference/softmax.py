"""Softmax along `axis` (default 1), computed as Caffe does it:
  m = max over axis; e = exp(x - m); top = e / sum over axis of e.
"""
from __future__ import annotations

import numpy as np

from ..graph import Layer
from .common import canonical_axis, n_inputs
from .registry import register


@register("Softmax")
def forward(layer: Layer, inputs: list[np.ndarray]) -> list[np.ndarray]:
    n_inputs(layer, inputs, 1)
    (x,) = inputs
    axis = canonical_axis(layer, layer.param.softmax_param.axis, x.ndim)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return [e / e.sum(axis=axis, keepdims=True)]
