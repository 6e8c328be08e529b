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

from .registry import register


@register("Concat")
def concat(p, inputs, blobs):
    return [np.concatenate(inputs, axis=p.axis)]


@register("Split")
def split(p, inputs, blobs):
    return [inputs[0].copy() for _ in range(p.tops)]


@register("Dropout")
def dropout(p, inputs, blobs):
    return [inputs[0].copy()]


@register("Reshape")
def reshape(p, inputs, blobs):
    (x,) = inputs
    end = x.ndim if p.num_axes == -1 else p.start + p.num_axes
    middle = [x.shape[p.start + i] if d == 0 else d for i, d in enumerate(p.dims)]
    if -1 in middle:
        known = math.prod(x.shape[: p.start]) * math.prod(x.shape[end:]) * math.prod(d for d in middle if d != -1)
        middle[middle.index(-1)] = x.size // known
    return [x.reshape(*x.shape[: p.start], *middle, *x.shape[end:])]


@register("Flatten")
def flatten(p, inputs, blobs):
    (x,) = inputs
    return [x.reshape(*x.shape[: p.start], math.prod(x.shape[p.start : p.end + 1]), *x.shape[p.end + 1 :])]
