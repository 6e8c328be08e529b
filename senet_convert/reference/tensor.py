"""Layers that move values without arithmetic.

Concat: join along `axis` (default 1, may be negative) or the legacy unsigned `concat_dim` (not both);
        all other axes must agree.
Split:  each top is a copy of the bottom (Caffe inserts these where one blob feeds several layers).
Reshape: param shape.dim replaces axes [axis, axis + num_axes) (axis default 0, negative counts from
        the end with -1 meaning "after the last"; num_axes default -1 = all remaining). dim 0 copies the
        input's extent at that position, one dim -1 is inferred from the element count.
Flatten: axes [axis, end_axis] (defaults 1 and -1) become one.
Dropout: the identity at test time (Caffe scales during training instead).
"""
from __future__ import annotations

import math

import numpy as np

from ..graph import Layer
from .common import canonical_axis, fail, n_inputs, require
from .registry import register


@register("Concat")
def concat(layer: Layer, inputs: list[np.ndarray]) -> list[np.ndarray]:
    require(len(inputs) >= 1, layer, "needs at least one bottom")
    p = layer.param.concat_param
    ndim = inputs[0].ndim
    if p.HasField("concat_dim"):
        require(not p.HasField("axis"), layer, "give axis or concat_dim, not both")
        axis = p.concat_dim
        require(axis < ndim, layer, f"concat_dim {axis} is out of range for {ndim}-axis inputs")
    else:
        axis = canonical_axis(layer, p.axis, ndim)
    first = inputs[0].shape
    for i, x in enumerate(inputs):
        require(
            x.ndim == ndim and x.shape[:axis] == first[:axis] and x.shape[axis + 1 :] == first[axis + 1 :], layer,
            f"bottom {i} of shape {x.shape} does not fit bottom 0 of shape {first} outside axis {axis}",
        )
    return [np.concatenate(inputs, axis=axis)]


@register("Split")
def split(layer: Layer, inputs: list[np.ndarray]) -> list[np.ndarray]:
    n_inputs(layer, inputs, 1)
    return [inputs[0].copy() for _ in layer.tops]


@register("Dropout")
def dropout(layer: Layer, inputs: list[np.ndarray]) -> list[np.ndarray]:
    n_inputs(layer, inputs, 1)
    return [inputs[0].copy()]


@register("Reshape")
def reshape(layer: Layer, inputs: list[np.ndarray]) -> list[np.ndarray]:
    n_inputs(layer, inputs, 1)
    (x,) = inputs
    p = layer.param.reshape_param
    dims = [int(d) for d in p.shape.dim]
    require(dims.count(-1) <= 1, layer, "at most one dim may be -1")
    require(all(d >= -1 for d in dims), layer, f"dims {dims} must be >= -1")
    start = p.axis if p.axis >= 0 else x.ndim + p.axis + 1
    require(0 <= start <= x.ndim, layer, f"axis {p.axis} is out of range for a {x.ndim}-axis input")
    require(p.num_axes >= -1, layer, f"num_axes {p.num_axes} must be >= -1")
    end = x.ndim if p.num_axes == -1 else start + p.num_axes
    require(end <= x.ndim, layer, f"axis {p.axis} with num_axes {p.num_axes} exceeds the input's {x.ndim} axes")

    middle = []
    for i, d in enumerate(dims):
        if d == 0:
            require(start + i < x.ndim, layer, f"dim {i} is 0 (copy) but the input has no axis {start + i}")
            d = x.shape[start + i]
        middle.append(d)
    if -1 in middle:
        known = math.prod(x.shape[:start]) * math.prod(x.shape[end:]) * math.prod(d for d in middle if d != -1)
        require(
            known > 0 and x.size % known == 0, layer,
            f"cannot infer dim -1: {x.size} values do not divide by {known}",
        )
        middle[middle.index(-1)] = x.size // known
    shape = (*x.shape[:start], *middle, *x.shape[end:])
    if math.prod(shape) != x.size:
        fail(layer, f"cannot reshape {x.shape} ({x.size} values) to {shape}")
    return [x.reshape(shape)]


@register("Flatten")
def flatten(layer: Layer, inputs: list[np.ndarray]) -> list[np.ndarray]:
    n_inputs(layer, inputs, 1)
    (x,) = inputs
    p = layer.param.flatten_param
    start = canonical_axis(layer, p.axis, x.ndim)
    end = canonical_axis(layer, p.end_axis, x.ndim)
    require(start <= end, layer, f"axis {p.axis} comes after end_axis {p.end_axis}")
    return [x.reshape(*x.shape[:start], math.prod(x.shape[start : end + 1]), *x.shape[end + 1 :])]
