"""Reductions over trailing axes and arg-max.

Reduction: the axes from `axis` (default 0, may be negative) to the end become one number each:
  SUM sum x, ASUM sum |x|, SUMSQ sum x^2, MEAN sum x / count; then times `coeff` (default 1).
  The top has the shape of the leading axes (a scalar for axis 0).
ArgMax (top_k default 1, out_max_val default false):
  with `axis`: along that axis, the indices (or, with out_max_val, the values) of the top_k largest;
  top = the bottom's shape with that axis' extent top_k.
  without: over each sample's flattened values; top (N, 1, top_k) of indices, or (N, 2, top_k) with
  indices in row 0 and values in row 1 with out_max_val (at least 3 axes, padded with 1s).
  Caffe sorts (value, index) pairs descending, so among equal values the larger index comes first.
"""
from __future__ import annotations

import numpy as np

from ..caffe import caffe_pb2
from ..graph import Layer
from .common import canonical_axis, fail, n_inputs, require, scalar
from .registry import register

R = caffe_pb2.ReductionParameter


@register("Reduction")
def reduction(layer: Layer, inputs: list[np.ndarray]) -> list[np.ndarray]:
    n_inputs(layer, inputs, 1)
    (x,) = inputs
    p = layer.param.reduction_param
    axis = canonical_axis(layer, p.axis, x.ndim) if x.ndim else 0
    flat = x.reshape(*x.shape[:axis], -1)
    if p.operation == R.SUM:
        y = flat.sum(axis=-1)
    elif p.operation == R.ASUM:
        y = np.abs(flat).sum(axis=-1)
    elif p.operation == R.SUMSQ:
        y = (flat * flat).sum(axis=-1)
    elif p.operation == R.MEAN:
        y = flat.sum(axis=-1) / scalar(flat.shape[-1], x.dtype)
    else:
        fail(layer, f"unknown Reduction operation {p.operation}")
    return [np.asarray(y * scalar(np.float32(p.coeff), x.dtype), dtype=x.dtype)]


def _ranked(values: np.ndarray, top_k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the top_k largest along the last axis, larger index first on ties."""
    n = values.shape[-1]
    reversed_ = values[..., ::-1]  # a stable sort of the reversed row puts the larger index first
    order = np.argsort(-reversed_, axis=-1, kind="stable")[..., :top_k]
    indices = (n - 1 - order).astype(values.dtype)
    return indices, np.take_along_axis(reversed_, order, axis=-1)


@register("ArgMax")
def argmax(layer: Layer, inputs: list[np.ndarray]) -> list[np.ndarray]:
    n_inputs(layer, inputs, 1)
    (x,) = inputs
    p = layer.param.argmax_param
    require(p.top_k >= 1, layer, "top_k must be at least 1")
    if p.HasField("axis"):
        axis = canonical_axis(layer, p.axis, x.ndim)
        require(p.top_k <= x.shape[axis], layer, f"top_k {p.top_k} exceeds axis {axis}'s extent {x.shape[axis]}")
        indices, values = _ranked(np.moveaxis(x, axis, -1), p.top_k)
        return [np.ascontiguousarray(np.moveaxis(values if p.out_max_val else indices, -1, axis))]
    flat = x.reshape(x.shape[0], -1)
    require(p.top_k <= flat.shape[1], layer, f"top_k {p.top_k} exceeds the {flat.shape[1]} values per sample")
    indices, values = _ranked(flat, p.top_k)
    rows = np.stack([indices, values], axis=1) if p.out_max_val else indices[:, None, :]
    return [rows.reshape(rows.shape + (1,) * (x.ndim - 3))]
