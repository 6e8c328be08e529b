"""Layers that move values without arithmetic: Concat, Split, Dropout, Reshape, Flatten.

Concat: along `axis` (default 1, may be negative) or the legacy unsigned `concat_dim`, never both
        (Caffe refuses "Either axis or concat_dim should be specified; not both"); every other axis
        must agree.
Split:  any number of tops, each the bottom.
Dropout: the identity at test time.
Reshape: shape.dim replaces the axes [axis, axis + num_axes) (axis default 0, negative counts from
        the end with -1 meaning "after the last"; num_axes default -1 = to the end); a dim 0 copies
        the bottom's extent at that position, one dim -1 is inferred from the element count.
Flatten: axes [axis, end_axis] (defaults 1 and -1) become one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .registry import canonical_axis, fmt, layer_type, refuse, require


@dataclass(frozen=True)
class ConcatParams:
    axis: int  # canonical


@dataclass(frozen=True)
class SplitParams:
    tops: int


@dataclass(frozen=True)
class ReshapeParams:
    dims: tuple[int, ...]  # as given: 0 copies, -1 is inferred
    start: int  # first replaced axis
    num_axes: int  # -1: to the end


@dataclass(frozen=True)
class FlattenParams:
    start: int  # canonical
    end: int  # canonical, inclusive


@layer_type("Concat", bottoms=(1, None))
def concat(param, shapes):
    p, first = param.concat_param, shapes[0]
    if p.HasField("concat_dim"):
        require(not p.HasField("axis"), "give axis or concat_dim, not both")
        axis = p.concat_dim
        require(axis < len(first), f"concat_dim {axis} is out of range for {len(first)}-axis bottoms")
    else:
        axis = canonical_axis(p.axis, len(first))
    for i, shape in enumerate(shapes):
        require(
            len(shape) == len(first) and shape[:axis] == first[:axis] and shape[axis + 1 :] == first[axis + 1 :],
            f"bottom {i} of shape {fmt(shape)} does not fit bottom 0 of shape {fmt(first)} outside axis {axis}",
        )
    top = list(first)
    top[axis] = sum(s[axis] for s in shapes)
    return ConcatParams(axis), [tuple(top)], []


@layer_type("Split", tops=(1, None))
def split(param, shapes):
    n = max(1, len(param.top))
    return SplitParams(n), [shapes[0]] * n, []


@layer_type("Dropout")
def dropout(param, shapes):
    return None, [shapes[0]], []


@layer_type("Reshape")
def reshape(param, shapes):
    shape, p = shapes[0], param.reshape_param
    dims = tuple(int(d) for d in p.shape.dim)
    require(dims.count(-1) <= 1, "at most one dim may be -1")
    require(all(d >= -1 for d in dims), f"dims {list(dims)} must be >= -1")
    start = p.axis if p.axis >= 0 else len(shape) + p.axis + 1
    require(0 <= start <= len(shape), f"axis {p.axis} is out of range for a {len(shape)}-axis bottom")
    require(p.num_axes >= -1, f"num_axes {p.num_axes} must be -1 or non-negative")
    end = len(shape) if p.num_axes == -1 else start + p.num_axes
    require(end <= len(shape), f"axis {p.axis} with num_axes {p.num_axes} exceeds the bottom's {len(shape)} axes")
    new = []
    for i, d in enumerate(dims):
        if d == 0:
            require(start + i < len(shape), f"dim {i} is 0 (copy) but the bottom has no axis {start + i}")
            d = shape[start + i]
        new.append(d)
    replaced = math.prod(shape[start:end])
    if -1 in new:
        known = math.prod(d for d in new if d != -1)
        require(known > 0 and replaced % known == 0, f"cannot infer dim -1: {replaced} values do not divide by {known}")
        new[new.index(-1)] = replaced // known
    elif math.prod(new) != replaced:
        refuse(f"cannot reshape {fmt(shape)} to {fmt((*shape[:start], *new, *shape[end:]))}: the element count changes")
    return ReshapeParams(dims, start, p.num_axes), [(*shape[:start], *new, *shape[end:])], []


@layer_type("Flatten")
def flatten(param, shapes):
    shape, p = shapes[0], param.flatten_param
    start, end = canonical_axis(p.axis, len(shape)), canonical_axis(p.end_axis, len(shape))
    require(start <= end, f"axis {p.axis} comes after end_axis {p.end_axis}")
    return FlattenParams(start, end), [(*shape[:start], math.prod(shape[start : end + 1]), *shape[end + 1 :])], []
