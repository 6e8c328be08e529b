"""Caffe's remaining element-wise ("neuron") layers, one top of the bottom's shape.

  AbsVal:    top = |x|                                                     Abs
  BNLL:      top = x + log(1 + exp(-x)) if x > 0 else log(1 + exp(x))     Relu(x) + Log(1 + Exp(-|x|)): each branch
  Clip:      top = max(min, min(x, max)), std::min/std::max's first argument where a comparison is false
             (NaN becomes min)                                            Where(max < x), Where(. > min)
  ELU:       top = max(x, 0) + alpha * (exp(min(x, 0)) - 1)                Elu
  Exp:       top = outer * exp(inner * x), outer = base^shift, inner = ln(base) * scale (base -1: e)
  Log:       top = log(shift + scale * x) / ln(base)                      (base -1: e)
  Power:     top = (shift + scale * x) ^ power; when power * scale == 0 the constant 1 (power 0) or
             shift ^ power, the input unread                              ConstantOfShape then
  PReLU:     top = max(x, 0) + slope[c] * min(x, 0), slope (C,) or one shared value   PRelu
  Swish:     top = x * sigmoid(beta * x)                                   Mul, Sigmoid
  Threshold: top = 1 if x > threshold else 0 (NaN -> 0)                   Greater, Cast
Caffe's float parameters are float32: read as such.
"""
from __future__ import annotations

import math

import numpy as np
import onnx

from ..graph import Layer
from .nodes import LayerNodes
from .registry import register


def _f32(value: float) -> float:
    return float(np.float32(value))


def _affine(g: LayerNodes, x: str, scale: float, shift: float) -> str:
    if scale != 1:
        x = g.node("Mul", [x, g.scalar("scale", scale)])
    return g.node("Add", [x, g.scalar("shift", shift)]) if shift != 0 else x


def _finish(g: LayerNodes, x: str) -> None:
    if x in g.inputs:  # nothing to compute: the value still needs its own tensor
        g.node("Identity", [x], output=g.outputs[0])
    else:
        g.nodes[-1].output[0] = g.outputs[0]


@register("AbsVal")
def emit_absval(layer: Layer, p, g: LayerNodes) -> None:
    """AbsVal: top = |x|."""
    g.node("Abs", g.inputs, output=g.outputs[0])


@register("BNLL")
def emit_bnll(layer: Layer, p, g: LayerNodes) -> None:
    """BNLL: top = x + log(1 + exp(-x)) for x > 0, log(1 + exp(x)) otherwise."""
    x = g.inputs[0]
    tail = g.node("Log", [g.node("Add", [g.node("Exp", [g.node("Neg", [g.node("Abs", [x])])]), g.scalar("one", 1.0)])])
    g.node("Add", [g.node("Relu", [x]), tail], output=g.outputs[0])


@register("Clip")
def emit_clip(layer: Layer, p, g: LayerNodes) -> None:
    """Clip: top = max(min, min(x, max)), Caffe's std::min/std::max (NaN becomes min)."""
    x = g.inputs[0]
    low, high = g.scalar("min", _f32(p.low)), g.scalar("max", _f32(p.high))
    upper = g.node("Where", [g.node("Less", [high, x]), high, x])
    g.node("Where", [g.node("Greater", [upper, low]), upper, low], output=g.outputs[0])


@register("ELU")
def emit_elu(layer: Layer, p, g: LayerNodes) -> None:
    """ELU: top = max(x, 0) + alpha * (exp(min(x, 0)) - 1)."""
    g.node("Elu", g.inputs, output=g.outputs[0], alpha=_f32(p.value))


def _ln_base(base: float | None) -> float:
    return 1.0 if base is None else math.log(_f32(base))


@register("Exp")
def emit_exp(layer: Layer, p, g: LayerNodes) -> None:
    """Exp: top = base ^ (shift + scale * x), as Caffe computes it: base^shift * exp(ln(base) * scale * x)."""
    ln_base = _ln_base(p.base)
    inner, outer = ln_base * _f32(p.scale), math.exp(ln_base * _f32(p.shift))
    y = g.node("Exp", [_affine(g, g.inputs[0], inner, 0)])
    _finish(g, g.node("Mul", [y, g.scalar("outer", outer)]) if outer != 1 else y)


@register("Log")
def emit_log(layer: Layer, p, g: LayerNodes) -> None:
    """Log: top = log_base(shift + scale * x)."""
    ln_base = _ln_base(p.base)  # never 0: the reading refuses base 1
    y = g.node("Log", [_affine(g, g.inputs[0], _f32(p.scale), _f32(p.shift))])
    _finish(g, g.node("Div", [y, g.scalar("ln_base", ln_base)]) if ln_base != 1 else y)


@register("Power")
def emit_power(layer: Layer, p, g: LayerNodes) -> None:
    """Power: top = (shift + scale * x) ^ power; a constant when power * scale == 0."""
    power, scale, shift = _f32(p.power), _f32(p.scale), _f32(p.shift)
    if power * scale == 0:
        value = 1.0 if power == 0 else float(np.power(np.float32(shift), np.float32(power)))
        fill = onnx.numpy_helper.from_array(np.asarray([value], dtype=np.float32), "value")
        g.node("ConstantOfShape", [g.node("Shape", g.inputs)], output=g.outputs[0], value=fill)
        return
    base = _affine(g, g.inputs[0], scale, shift)
    _finish(g, g.node("Pow", [base, g.scalar("power", power)]) if power != 1 else base)


@register("PReLU")
def emit_prelu(layer: Layer, p, g: LayerNodes) -> None:
    """PReLU: top = max(x, 0) + slope[c] * min(x, 0), one slope per channel or one shared."""
    shape = g.input_shapes[0]
    slope = g.blob(0, "slope", () if p.channel_shared else (shape[1],) + (1,) * (len(shape) - 2))
    g.node("PRelu", [g.inputs[0], slope], output=g.outputs[0])


@register("Swish")
def emit_swish(layer: Layer, p, g: LayerNodes) -> None:
    """Swish: top = x * sigmoid(beta * x)."""
    x = g.inputs[0]
    beta = _f32(p.value)
    gate = g.node("Sigmoid", [_affine(g, x, beta, 0)])
    g.node("Mul", [x, gate], output=g.outputs[0])


@register("Threshold")
def emit_threshold(layer: Layer, p, g: LayerNodes) -> None:
    """Threshold: top = 1 if x > threshold else 0."""
    above = g.node("Greater", [g.inputs[0], g.scalar("threshold", _f32(p.value))])
    g.node("Cast", [above], output=g.outputs[0], to=onnx.TensorProto.FLOAT)
