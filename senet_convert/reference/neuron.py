"""Caffe's remaining element-wise ("neuron") layers, one top of the bottom's shape.

  AbsVal:    top = |x|
  BNLL:      top = x + log(1 + exp(-x)) if x > 0 else log(1 + exp(x))     (Caffe's two branches)
  Clip:      top = max(min, min(x, max)); both bounds required. std::min/std::max return their first
             argument when a comparison is false, so NaN becomes `min`
  ELU:       top = max(x, 0) + alpha * (exp(min(x, 0)) - 1)                (alpha default 1)
  Exp:       top = base ^ (shift + scale * x); base -1 (default) means e, otherwise base > 0.
             Caffe computes outer * exp(inner * x), outer = base^shift, inner = ln(base) * scale
  Log:       top = log_base(shift + scale * x); base -1 (default) means e, otherwise base > 0, != 1
  Power:     top = (shift + scale * x) ^ power; when power * scale == 0 the input is ignored and the
             top is the constant 1 (power 0) or shift ^ power
  PReLU:     top = max(x, 0) + slope[c] * min(x, 0), c the channel (axis 1); blob: slope (C,) or,
             with channel_shared, one value of shape ()
  Swish:     top = x * sigmoid(beta * x), sigmoid in Caffe's tanh form    (beta default 1)
  Threshold: top = 1 if x > threshold else 0                              (threshold default 0; NaN -> 0)
Caffe's float parameters are float32: they are read as such and then widened.
"""
from __future__ import annotations

import numpy as np

from .common import scalar
from .registry import register


def _f32(value: float, dtype) -> np.generic:
    return scalar(np.float32(value), dtype)


@register("AbsVal")
def absval(p, inputs: list[np.ndarray], blobs) -> list[np.ndarray]:
    return [np.abs(inputs[0])]


@register("BNLL")
def bnll(p, inputs: list[np.ndarray], blobs) -> list[np.ndarray]:
    (x,) = inputs
    one = scalar(1, x.dtype)
    with np.errstate(over="ignore", invalid="ignore"):  # each branch overflows only where it is not taken
        return [np.where(x > 0, x + np.log(one + np.exp(-x)), np.log(one + np.exp(x)))]


@register("Clip")
def clip(p, inputs: list[np.ndarray], blobs) -> list[np.ndarray]:
    (x,) = inputs
    low, high = _f32(p.low, x.dtype), _f32(p.high, x.dtype)
    upper = np.where(high < x, high, x)  # std::min(x, max): x unless max < x (NaN stays NaN)
    return [np.where(upper > low, upper, low)]  # std::max(min, .): min unless min < . (NaN -> min)


@register("ELU")
def elu(p, inputs: list[np.ndarray], blobs) -> list[np.ndarray]:
    (x,) = inputs
    alpha = _f32(p.value, x.dtype)
    return [np.maximum(x, 0) + alpha * (np.exp(np.minimum(x, 0)) - 1)]


def _ln_base(base: float | None) -> float:
    return 1.0 if base is None else float(np.log(np.float64(np.float32(base))))


@register("Exp")
def exp(p, inputs: list[np.ndarray], blobs) -> list[np.ndarray]:
    (x,) = inputs
    ln_base = _ln_base(p.base)
    inner = scalar(ln_base * np.float32(p.scale), x.dtype)
    outer = scalar(np.exp(ln_base * np.float64(np.float32(p.shift))), x.dtype)
    with np.errstate(over="ignore"):
        return [outer * np.exp(inner * x)]


@register("Log")
def log(p, inputs: list[np.ndarray], blobs) -> list[np.ndarray]:
    (x,) = inputs
    ln_base = _ln_base(p.base)  # never 0: the reading refuses base 1
    value = _f32(p.shift, x.dtype) + _f32(p.scale, x.dtype) * x
    with np.errstate(divide="ignore", invalid="ignore"):
        return [np.log(value) / scalar(ln_base, x.dtype)]


@register("Power")
def power(p, inputs: list[np.ndarray], blobs) -> list[np.ndarray]:
    (x,) = inputs
    exponent, scale, shift = (_f32(v, x.dtype) for v in (p.power, p.scale, p.shift))
    if exponent * scale == 0:  # Caffe's shortcut: the input is not read at all
        value = scalar(1, x.dtype) if exponent == 0 else np.power(shift, exponent)
        return [np.full(x.shape, value, dtype=x.dtype)]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return [np.power(shift + scale * x, exponent)]


@register("PReLU")
def prelu(p, inputs: list[np.ndarray], blobs) -> list[np.ndarray]:
    (x,) = inputs
    slope = blobs[0].reshape((1, -1) + (1,) * (x.ndim - 2))  # (C,), or () with channel_shared
    return [np.maximum(x, 0) + slope * np.minimum(x, 0)]


@register("Swish")
def swish(p, inputs: list[np.ndarray], blobs) -> list[np.ndarray]:
    (x,) = inputs
    beta, half = _f32(p.value, x.dtype), scalar(0.5, x.dtype)
    return [x * (half * np.tanh(half * (beta * x)) + half)]


@register("Threshold")
def threshold(p, inputs: list[np.ndarray], blobs) -> list[np.ndarray]:
    (x,) = inputs
    t = _f32(p.value, x.dtype)
    return [(x > t).astype(x.dtype)]
