"""Element-wise activations.

  ReLU:    top = max(x, 0) + negative_slope * min(x, 0)   (negative_slope default 0; as in Caffe, -inf
           gives NaN even at slope 0)
  Sigmoid: top = 0.5 * tanh(0.5 * x) + 0.5                 (upstream Caffe's form, not 1/(1+exp(-x)))
  TanH:    top = tanh(x)
"""
from __future__ import annotations

import numpy as np

from .common import scalar
from .registry import register


@register("ReLU")
def relu(p, inputs, blobs):
    (x,) = inputs
    slope = scalar(p.negative_slope, x.dtype)
    with np.errstate(invalid="ignore"):
        return [np.maximum(x, 0) + slope * np.minimum(x, 0)]


@register("Sigmoid")
def sigmoid(p, inputs, blobs):
    (x,) = inputs
    half = scalar(0.5, x.dtype)
    return [half * np.tanh(half * x) + half]


@register("TanH")
def tanh(p, inputs, blobs):
    return [np.tanh(inputs[0])]
