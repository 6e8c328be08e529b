"""Element-wise activations.

  ReLU:    top = max(x, 0) + negative_slope * min(x, 0)   (negative_slope default 0; as in Caffe, -inf
           gives NaN even at slope 0)
  Sigmoid: top = 0.5 * tanh(0.5 * x) + 0.5                 (upstream Caffe's form, not 1/(1+exp(-x)))
  TanH:    top = tanh(x)
"""
from __future__ import annotations

import numpy as np

from ..graph import Layer
from .common import n_inputs, scalar
from .registry import register


@register("ReLU")
def relu(layer: Layer, inputs: list[np.ndarray]) -> list[np.ndarray]:
    n_inputs(layer, inputs, 1)
    (x,) = inputs
    slope = scalar(layer.param.relu_param.negative_slope, x.dtype)
    with np.errstate(invalid="ignore"):
        return [np.maximum(x, 0) + slope * np.minimum(x, 0)]


@register("Sigmoid")
def sigmoid(layer: Layer, inputs: list[np.ndarray]) -> list[np.ndarray]:
    n_inputs(layer, inputs, 1)
    (x,) = inputs
    half = scalar(0.5, x.dtype)
    return [half * np.tanh(half * x) + half]


@register("TanH")
def tanh(layer: Layer, inputs: list[np.ndarray]) -> list[np.ndarray]:
    n_inputs(layer, inputs, 1)
    return [np.tanh(inputs[0])]
