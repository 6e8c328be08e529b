"""Caffe's remaining element-wise ("neuron") layers as small modules, one top of the bottom's shape.

  AbsVal |x|;  BNLL log(1 + exp(x)) (softplus: Caffe's two branches agree with it in float32);
  Clip max(min, min(x, max)) with NaN -> min, as std::max/std::min give;  ELU, alpha default 1;
  Exp base^(shift + scale*x) = outer * exp(inner * x), base -1 meaning e;
  Log log_base(shift + scale*x);  Power (shift + scale*x)^power, a constant when power*scale == 0;
  PReLU max(x, 0) + slope[c] * min(x, 0), slope (C,) or shape () with channel_shared;
  Swish x * sigmoid(beta*x);  Threshold 1 where x > threshold, else 0.
Caffe's float parameters are float32 values: they are read as such.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..graph import Layer
from .registry import parameter, register


def _f32(value: float) -> float:
    return float(np.float32(value))


class AbsVal(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.abs(x)


class BNLL(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.softplus(x)


class Clip(nn.Module):
    def __init__(self, low: float, high: float):
        super().__init__()
        self.low, self.high = low, high

    def extra_repr(self) -> str:
        return f"min={self.low}, max={self.high}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # fmax, not clamp: Caffe's std::max(min, .) turns NaN into min, and min > max gives min
        return torch.fmax(torch.clamp(x, max=self.high), torch.tensor(self.low, dtype=x.dtype, device=x.device))


class ELU(nn.Module):
    def __init__(self, alpha: float):
        super().__init__()
        self.alpha = alpha

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.elu(x, self.alpha)


class Affine(nn.Module):
    """f(scale * x + shift) * factor for f in exp, log, pow: Exp, Log and Power."""

    def __init__(self, function: str, scale: float, shift: float, factor: float = 1.0, exponent: float = 1.0):
        super().__init__()
        self.function, self.scale, self.shift, self.factor, self.exponent = function, scale, shift, factor, exponent

    def extra_repr(self) -> str:
        return f"{self.function}, scale={self.scale}, shift={self.shift}, factor={self.factor}, exponent={self.exponent}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x * self.scale if self.scale != 1 else x
        y = y + self.shift if self.shift != 0 else y
        if self.function == "exp":
            y = torch.exp(y)
        elif self.function == "log":
            y = torch.log(y)
        elif self.function == "constant":
            y = torch.full_like(x, self.factor)
        elif self.exponent != 1:
            y = torch.pow(y, self.exponent)
        return y * self.factor if self.factor != 1 and self.function != "constant" else y


class PReLU(nn.Module):
    def __init__(self, weight: nn.Parameter):
        super().__init__()
        self.weight = weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        slope = self.weight.reshape((1, -1) + (1,) * (x.dim() - 2))
        return torch.clamp(x, min=0) + slope * torch.clamp(x, max=0)


class Swish(nn.Module):
    def __init__(self, beta: float):
        super().__init__()
        self.beta = beta

    def extra_repr(self) -> str:
        return f"beta={self.beta}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x * self.beta if self.beta != 1 else x)


class Threshold(nn.Module):
    def __init__(self, threshold: float):
        super().__init__()
        self.threshold = threshold

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x > self.threshold).to(x.dtype)


@register("AbsVal")
def build_absval(layer: Layer, p) -> nn.Module:
    return AbsVal()


@register("BNLL")
def build_bnll(layer: Layer, p) -> nn.Module:
    return BNLL()


@register("Clip")
def build_clip(layer: Layer, p) -> nn.Module:
    return Clip(_f32(p.low), _f32(p.high))


@register("ELU")
def build_elu(layer: Layer, p) -> nn.Module:
    return ELU(_f32(p.value))


def _ln_base(base: float | None) -> float:
    return 1.0 if base is None else math.log(_f32(base))


@register("Exp")
def build_exp(layer: Layer, p) -> nn.Module:
    ln_base = _ln_base(p.base)
    return Affine("exp", ln_base * _f32(p.scale), 0.0, math.exp(ln_base * _f32(p.shift)))


@register("Log")
def build_log(layer: Layer, p) -> nn.Module:
    ln_base = _ln_base(p.base)  # never 0: the reading refuses base 1
    return Affine("log", _f32(p.scale), _f32(p.shift), 1 / ln_base)


@register("Power")
def build_power(layer: Layer, p) -> nn.Module:
    power, scale, shift = _f32(p.power), _f32(p.scale), _f32(p.shift)
    if power * scale == 0:  # Caffe ignores the input: 1 for power 0, else shift^power
        with np.errstate(divide="ignore", invalid="ignore"):
            value = 1.0 if power == 0 else float(np.power(np.float64(shift), power))
        return Affine("constant", 0.0, 0.0, value)
    return Affine("pow", scale, shift, exponent=power)


@register("PReLU", blobs=("weight",))
def build_prelu(layer: Layer, p) -> nn.Module:
    return PReLU(parameter(layer, 0))


@register("Swish")
def build_swish(layer: Layer, p) -> nn.Module:
    return Swish(_f32(p.value))


@register("Threshold")
def build_threshold(layer: Layer, p) -> nn.Module:
    return Threshold(_f32(p.value))
