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

from .common import scalar
from .registry import register


@register("Reduction")
def reduction(p, inputs: list[np.ndarray], blobs) -> list[np.ndarray]:
    (x,) = inputs
    flat = x.reshape(*x.shape[: p.axis], -1)
    if p.operation == "asum":
        flat = np.abs(flat)
    elif p.operation == "sumsq":
        flat = flat * flat
    y = flat.sum(axis=-1)
    if p.operation == "mean":
        y = y / scalar(flat.shape[-1], x.dtype)
    return [np.asarray(y * scalar(np.float32(p.coeff), x.dtype), dtype=x.dtype)]


def _ranked(values: np.ndarray, top_k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the top_k largest along the last axis, larger index first on ties."""
    n = values.shape[-1]
    reversed_ = values[..., ::-1]  # a stable sort of the reversed row puts the larger index first
    order = np.argsort(-reversed_, axis=-1, kind="stable")[..., :top_k]
    indices = (n - 1 - order).astype(values.dtype)
    return indices, np.take_along_axis(reversed_, order, axis=-1)


@register("ArgMax")
def argmax(p, inputs: list[np.ndarray], blobs) -> list[np.ndarray]:
    (x,) = inputs
    if p.axis is not None:
        indices, values = _ranked(np.moveaxis(x, p.axis, -1), p.top_k)
        return [np.ascontiguousarray(np.moveaxis(values if p.out_max_val else indices, -1, p.axis))]
    flat = x.reshape(x.shape[0], -1)
    indices, values = _ranked(flat, p.top_k)
    rows = np.stack([indices, values], axis=1) if p.out_max_val else indices[:, None, :]
    return [rows.reshape(rows.shape + (1,) * (x.ndim - 3))]
