"""Softmax along `axis` (default 1, may be negative): read as the canonical axis of the bottom."""
from __future__ import annotations

from dataclasses import dataclass

from .registry import canonical_axis, layer_type


@dataclass(frozen=True)
class SoftmaxParams:
    axis: int  # canonical: 0 <= axis < ndim


@layer_type("Softmax")
def softmax(param, shapes):
    return SoftmaxParams(canonical_axis(param.softmax_param.axis, len(shapes[0]))), [shapes[0]], []
