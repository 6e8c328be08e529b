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

from .registry import register


def _broadcast(x: np.ndarray, operand: np.ndarray, axis: int) -> np.ndarray:
    return operand.reshape(operand.shape + (1,) * (x.ndim - axis - operand.ndim))


@register("Scale")
def scale(p, inputs, blobs):
    x = inputs[0]
    factor = inputs[1] if p.from_bottom else blobs[0]
    y = x * _broadcast(x, factor, p.axis)
    if p.bias_term:
        y += _broadcast(x, blobs[-1], p.axis)
    return [y]


@register("Bias")
def bias(p, inputs, blobs):
    x = inputs[0]
    operand = inputs[1] if p.from_bottom else blobs[0]
    return [x + _broadcast(x, operand, p.axis)]
