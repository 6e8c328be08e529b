"""Element-wise activations: ReLU (negative_slope, default 0), Sigmoid, TanH. Tops: the bottom's shape."""
from __future__ import annotations

import math
from dataclasses import dataclass

from .registry import layer_type, require


@dataclass(frozen=True)
class ReLUParams:
    negative_slope: float


@layer_type("ReLU")
def relu(param, shapes):
    slope = param.relu_param.negative_slope
    require(math.isfinite(slope), f"negative_slope {slope} is not finite")
    return ReLUParams(slope), [shapes[0]], []


@layer_type("Sigmoid")
def sigmoid(param, shapes):
    return None, [shapes[0]], []


@layer_type("TanH")
def tanh(param, shapes):
    return None, [shapes[0]], []
