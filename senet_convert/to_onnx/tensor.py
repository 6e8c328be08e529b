"""Layers that move values without arithmetic.

Concat:  join along `axis` (default 1, may be negative) or the legacy `concat_dim` (not both): Concat.
Split:   every top is the bottom (Caffe inserts these where one blob feeds several layers): Identity per top.
Dropout: the identity at test time (Caffe scales during training instead): Identity, so the value keeps
         its tensor and name in the exact graph (the optimized graph has no Dropout layers left).
Reshape: shape.dim replaces the axes [axis, axis + num_axes) (axis default 0, negative counts from the
         end with -1 meaning "after the last"; num_axes default -1 = to the end). dim 0 copies the input's
         extent at that position, one dim -1 is inferred. ONNX's Reshape copies a 0 from the input's axis
         of the same index and infers -1 alike, so Caffe's dims go through unchanged; the axes kept before
         them are 0 (copied), those kept after them static, or 0 where they keep their index.
         The batch axis is never written as a number: the shape stays valid for every batch.
Flatten: axes [axis, end_axis] (defaults 1 and -1) become one: ONNX's Flatten where that is the same
         (axis 1 to the end), else a Reshape as above.
"""
from __future__ import annotations

import math

from ..graph import Layer
from .nodes import LayerNodes
from .registry import register, require


@register("Concat")
def emit_concat(layer: Layer, p, g: LayerNodes) -> None:
    """Concat: y = the bottoms joined along `axis` (or concat_dim)."""
    if len(g.inputs) == 1:
        g.node("Identity", g.inputs, output=g.outputs[0])
    else:
        g.node("Concat", g.inputs, output=g.outputs[0], axis=p.axis)


@register("Split")
def emit_split(layer: Layer, p, g: LayerNodes) -> None:
    """Split: every top is a copy of the bottom."""
    for top in g.outputs:
        g.node("Identity", g.inputs, output=top)


@register("Dropout")
def emit_dropout(layer: Layer, p, g: LayerNodes) -> None:
    """Dropout: the identity at test time."""
    g.node("Identity", g.inputs, output=g.outputs[0])


def _reshape(g: LayerNodes, start: int, end: int, middle: list[int]) -> None:
    """y = x.reshape(x.shape[:start] + middle + x.shape[end:]), middle in Caffe's (= ONNX's) 0/-1 terms."""
    shape = g.input_shapes[0]
    tail = []
    for j, axis in enumerate(range(end, len(shape))):
        # a kept trailing axis: copied (0) where its index does not move, else its static extent
        tail.append(0 if start + len(middle) + j == axis else shape[axis])
    target = [0] * start + middle + tail
    if 0 in range(end, len(shape)) and target[start + len(middle)] != 0:
        # the batch axis moves (axis 0, num_axes 0): it must be inferred
        require(-1 not in middle, g.layer, "cannot move the batch axis next to an inferred dim -1")
        target[start + len(middle)] = -1
    g.node("Reshape", [g.inputs[0], g.ints("shape", target)], output=g.outputs[0])


@register("Reshape")
def emit_reshape(layer: Layer, p, g: LayerNodes) -> None:
    """Reshape: shape.dim replaces axes [axis, axis + num_axes); 0 copies, -1 infers."""
    end = len(g.input_shapes[0]) if p.num_axes == -1 else p.start + p.num_axes
    _reshape(g, p.start, end, list(p.dims))


@register("Flatten")
def emit_flatten(layer: Layer, p, g: LayerNodes) -> None:
    """Flatten: axes [axis, end_axis] become one."""
    shape = g.input_shapes[0]
    if p.start == 1 and p.end == len(shape) - 1:
        g.node("Flatten", g.inputs, output=g.outputs[0], axis=1)
        return
    _reshape(g, p.start, p.end + 1, [-1 if p.start == 0 else math.prod(shape[p.start : p.end + 1])])
