"""Scale and Bias: multiply (add) a blob that matches a run of the input's axes, broadcast over the rest.

  Scale: top = x * scale (+ bias when bias_term, default false)     Bias: top = x + bias
The operand is bottom[1] when there are two bottoms (SE-BN-Inception's SE scaling: bottoms
[x (N,C,H,W), gate (N,C)] with axis 0), else the learned blob 0. A Scale's bias is its last blob
(blob 1 with one bottom, blob 0 with two). The operand's shape must equal x.shape[axis:axis+k], k its
number of axes (num_axes only shapes blobs at creation: -1 = to the end, default 1); a scalar (0-axis)
operand uses axis 0. axis defaults to 1 and may be negative.
"""
from __future__ import annotations

import numpy as np

from ..graph import Layer
from .common import blob, canonical_axis, n_inputs, require
from .registry import register


def _broadcast(layer: Layer, x: np.ndarray, operand: np.ndarray, axis: int, role: str) -> np.ndarray:
    axis = 0 if operand.ndim == 0 else canonical_axis(layer, axis, x.ndim)
    span = x.shape[axis : axis + operand.ndim]
    require(
        operand.shape == span, layer,
        f"{role} of shape {operand.shape} does not match input shape {x.shape} at axis {axis}",
    )
    return operand.reshape(operand.shape + (1,) * (x.ndim - axis - operand.ndim))


@register("Scale")
def scale(layer: Layer, inputs: list[np.ndarray]) -> list[np.ndarray]:
    n_inputs(layer, inputs, 1, 2)
    x = inputs[0]
    p = layer.param.scale_param
    factor = inputs[1] if len(inputs) == 2 else blob(layer, 0, x.dtype)
    y = x * _broadcast(layer, x, factor, p.axis, "the scale")
    if p.bias_term:
        bias = blob(layer, 0 if len(inputs) == 2 else 1, x.dtype)
        y += _broadcast(layer, x, bias, p.axis, "the bias")
    return [y]


@register("Bias")
def bias(layer: Layer, inputs: list[np.ndarray]) -> list[np.ndarray]:
    n_inputs(layer, inputs, 1, 2)
    x = inputs[0]
    operand = inputs[1] if len(inputs) == 2 else blob(layer, 0, x.dtype)
    return [x + _broadcast(layer, x, operand, layer.param.bias_param.axis, "the bias")]
