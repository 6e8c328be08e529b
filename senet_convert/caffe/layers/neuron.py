"""Caffe's remaining element-wise ("neuron") layers: one bottom, one top of its shape.

AbsVal, BNLL: no parameters. Clip: min and max, both required (BVLC's schema marks them required).
ELU: alpha (default 1). Exp: base (-1, the default, means e; otherwise positive and finite: Caffe's
CHECK_GT, which a NaN base fails too, and its check of log(base)), scale (default 1), shift (default 0).
Log: the same, and base not 1. Power: power (default 1), scale (default 1), shift (default 0).
PReLU: one blob, the slopes, (C,) or, with channel_shared, one value of shape (); the bottom needs a
channel axis. Swish: beta (default 1). Threshold: threshold (default 0). The values are Caffe's float32
ones, as the schema holds them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .registry import fmt, layer_type, require


@dataclass(frozen=True)
class ClipParams:
    low: float
    high: float


@dataclass(frozen=True)
class ExpLogParams:
    """Exp: base ^ (shift + scale * x); Log: log_base(shift + scale * x)."""

    base: float | None  # None: e
    scale: float
    shift: float


@dataclass(frozen=True)
class PowerParams:
    power: float
    scale: float
    shift: float


@dataclass(frozen=True)
class ValueParams:
    value: float  # ELU's alpha, Swish's beta, Threshold's threshold


@dataclass(frozen=True)
class PReLUParams:
    channel_shared: bool


def _same(param, shapes):
    return None, [shapes[0]], []


layer_type("AbsVal")(_same)
layer_type("BNLL")(_same)


@layer_type("Clip")
def clip(param, shapes):
    p = param.clip_param
    require(p.HasField("min") and p.HasField("max"), "clip_param needs both min and max")
    return ClipParams(p.min, p.max), [shapes[0]], []


@layer_type("ELU")
def elu(param, shapes):
    return ValueParams(param.elu_param.alpha), [shapes[0]], []


def _base(base: float, what: str, allow_one: bool) -> float | None:
    if base == -1:
        return None
    # `not base > 0` refuses NaN too, as Caffe's CHECK_GT does; Caffe also checks that log(base) is finite
    require(base > 0 and (allow_one or base != 1), f"{what} base {base:g} must be positive{'' if allow_one else ' and not 1'} (or -1 for e)")
    require(math.isfinite(base), f"{what} base {base:g} must be finite (Caffe refuses an infinite log(base))")
    return base


@layer_type("Exp")
def exp(param, shapes):
    p = param.exp_param
    return ExpLogParams(_base(p.base, "Exp", True), p.scale, p.shift), [shapes[0]], []


@layer_type("Log")
def log(param, shapes):
    p = param.log_param
    return ExpLogParams(_base(p.base, "Log", False), p.scale, p.shift), [shapes[0]], []


@layer_type("Power")
def power(param, shapes):
    p = param.power_param
    return PowerParams(p.power, p.scale, p.shift), [shapes[0]], []


@layer_type("PReLU")
def prelu(param, shapes):
    shape = shapes[0]
    require(len(shape) >= 2, f"PReLU needs a channel axis, got {fmt(shape)}")
    shared = param.prelu_param.channel_shared
    return PReLUParams(shared), [shape], [() if shared else (shape[1],)]


@layer_type("Swish")
def swish(param, shapes):
    return ValueParams(param.swish_param.beta), [shapes[0]], []


@layer_type("Threshold")
def threshold(param, shapes):
    return ValueParams(param.threshold_param.threshold), [shapes[0]], []
