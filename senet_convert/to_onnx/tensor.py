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
from .registry import axis_index, n_bottoms, register, require


@register("Concat")
def emit_concat(layer: Layer, g: LayerNodes) -> None:
    """Concat: y = the bottoms joined along `axis` (or concat_dim)."""
    require(len(layer.bottoms) >= 1, layer, "needs at least one bottom")
    p = layer.param.concat_param
    ndim = len(g.input_shapes[0])
    if p.HasField("concat_dim"):
        require(not p.HasField("axis"), layer, "give axis or concat_dim, not both")
        require(p.concat_dim < ndim, layer, f"concat_dim {p.concat_dim} is out of range for {ndim}-axis inputs")
        axis = p.concat_dim
    else:
        axis = axis_index(layer, p.axis, ndim)
    first = g.input_shapes[0]
    for i, shape in enumerate(g.input_shapes):
        require(
            len(shape) == ndim and shape[:axis] == first[:axis] and shape[axis + 1 :] == first[axis + 1 :], layer,
            f"bottom {i} of shape {shape} does not fit bottom 0 of shape {first} outside axis {axis}",
        )
    if len(g.inputs) == 1:
        g.node("Identity", g.inputs, output=g.outputs[0])
    else:
        g.node("Concat", g.inputs, output=g.outputs[0], axis=axis)


@register("Split")
def emit_split(layer: Layer, g: LayerNodes) -> None:
    """Split: every top is a copy of the bottom."""
    n_bottoms(layer, 1)
    for top in g.outputs:
        g.node("Identity", g.inputs, output=top)


@register("Dropout")
def emit_dropout(layer: Layer, g: LayerNodes) -> None:
    """Dropout: the identity at test time."""
    n_bottoms(layer, 1)
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
def emit_reshape(layer: Layer, g: LayerNodes) -> None:
    """Reshape: shape.dim replaces axes [axis, axis + num_axes); 0 copies, -1 infers."""
    n_bottoms(layer, 1)
    p = layer.param.reshape_param
    ndim = len(g.input_shapes[0])
    dims = [int(d) for d in p.shape.dim]
    require(all(d >= -1 for d in dims) and dims.count(-1) <= 1, layer, f"invalid reshape dims {dims}")
    require(p.num_axes >= -1, layer, f"num_axes {p.num_axes} must be -1 or non-negative")
    start = p.axis if p.axis >= 0 else ndim + p.axis + 1
    end = ndim if p.num_axes == -1 else start + p.num_axes
    require(0 <= start <= end <= ndim, layer, f"axis {p.axis} with num_axes {p.num_axes} does not fit a {ndim}-axis input")
    for i, d in enumerate(dims):
        require(d != 0 or start + i < ndim, layer, f"dim {i} is 0 (copy) but the input has no axis {start + i}")
    _reshape(g, start, end, dims)


@register("Flatten")
def emit_flatten(layer: Layer, g: LayerNodes) -> None:
    """Flatten: axes [axis, end_axis] become one."""
    n_bottoms(layer, 1)
    p = layer.param.flatten_param
    shape = g.input_shapes[0]
    start, end = axis_index(layer, p.axis, len(shape)), axis_index(layer, p.end_axis, len(shape))
    require(start <= end, layer, f"axis {p.axis} comes after end_axis {p.end_axis}")
    if start == 1 and end == len(shape) - 1:
        g.node("Flatten", g.inputs, output=g.outputs[0], axis=1)
        return
    _reshape(g, start, end + 1, [-1 if start == 0 else math.prod(shape[start : end + 1])])
