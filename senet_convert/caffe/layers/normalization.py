"""MVN: normalize_variance (default true), across_channels (default false), eps (default 1e-9).
Caffe reads the bottom through its legacy 4-axis accessors: 1 to 4 axes, and the top has 4 (the
bottom's shape padded with 1s: an N x C bottom gives N x C x 1 x 1).
"""
from __future__ import annotations

from dataclasses import dataclass

from .registry import fmt, layer_type, require


@dataclass(frozen=True)
class MVNParams:
    normalize_variance: bool
    across_channels: bool
    eps: float


@layer_type("MVN")
def mvn(param, shapes):
    shape, p = shapes[0], param.mvn_param
    require(1 <= len(shape) <= 4, f"MVN takes 1 to 4 axes, got {fmt(shape)}")
    return MVNParams(p.normalize_variance, p.across_channels, p.eps), [tuple(shape) + (1,) * (4 - len(shape))], []
