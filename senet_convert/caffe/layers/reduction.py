"""Reduction and ArgMax.

Reduction: operation SUM (default), ASUM, SUMSQ or MEAN over the axes from `axis` (default 0, may
  be negative) to the end, times `coeff` (default 1). Top: the leading axes (a scalar for axis 0).
ArgMax: top_k (default 1, at least 1), out_max_val (default false), `axis` (optional, may be
  negative). With axis the top is the bottom's shape with that axis' extent top_k (top_k at most
  that extent); without, over each sample's values: (N, 2 with out_max_val else 1, top_k), padded
  with 1s to the bottom's axes (at least 3), top_k at most the values per sample.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..caffe_pb2 import ReductionParameter as R
from .registry import canonical_axis, layer_type, require


@dataclass(frozen=True)
class ReductionParams:
    operation: str  # "sum", "asum", "sumsq" or "mean"
    axis: int  # canonical
    coeff: float


@dataclass(frozen=True)
class ArgMaxParams:
    top_k: int
    out_max_val: bool
    axis: int | None  # canonical; None: over each sample's flattened values


@layer_type("Reduction")
def reduction(param, shapes):
    shape, p = shapes[0], param.reduction_param
    require(p.operation in (R.SUM, R.ASUM, R.SUMSQ, R.MEAN), f"unknown Reduction operation {p.operation}")
    axis = canonical_axis(p.axis, len(shape))
    return ReductionParams(R.ReductionOp.Name(p.operation).lower(), axis, p.coeff), [tuple(shape[:axis])], []


@layer_type("ArgMax")
def argmax(param, shapes):
    shape, p = shapes[0], param.argmax_param
    require(p.top_k >= 1, "top_k must be at least 1")
    if p.HasField("axis"):
        axis = canonical_axis(p.axis, len(shape))
        require(p.top_k <= shape[axis], f"top_k {p.top_k} exceeds axis {axis}'s extent {shape[axis]}")
        return ArgMaxParams(p.top_k, p.out_max_val, axis), [(*shape[:axis], p.top_k, *shape[axis + 1 :])], []
    per_sample = math.prod(shape[1:])
    require(p.top_k <= per_sample, f"top_k {p.top_k} exceeds the {per_sample} values per sample")
    top = (shape[0], 2 if p.out_max_val else 1, p.top_k, *([1] * (len(shape) - 3)))
    return ArgMaxParams(p.top_k, p.out_max_val, None), [top], []
