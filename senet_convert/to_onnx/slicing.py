"""Crop, Slice and Tile as Slice, Split and Tile nodes.

Crop:  bottoms [x, like]; axes from `axis` (default 2) take like's extent from `offset` (none: 0, one
       value for all, or one per cropped axis): one Slice. The batch axis, when cropped, takes like's
       extent at run time (Shape), so the batch stays dynamic.
Slice: along `axis` (default 1) or legacy `slice_dim`, at `slice_point`s or into equal parts: one Split
       with the part sizes (static: the batch axis cannot be split in a file with a dynamic batch).
Tile:  `tiles` copies along `axis` (default 1), whole blocks one after another: Tile.
"""
from __future__ import annotations

from ..graph import Layer
from .nodes import LayerNodes
from .registry import register, require

_INT64_MAX = 2**63 - 1


@register("Crop")
def emit_crop(layer: Layer, p, g: LayerNodes) -> None:
    """Crop: y = x[..., offset_i : offset_i + like.shape[i], ...] for the axes from `axis` on."""
    x, like = g.input_shapes
    axes = list(range(p.axis, len(x)))
    begin = list(p.offsets)
    if p.axis == 0:  # the batch axis: like's extent at run time
        batch = g.node("Slice", [g.node("Shape", [g.inputs[1]]), g.ints("zero", [0]), g.ints("one", [1])])
        ends = g.node("Concat", [g.node("Add", [batch, g.ints("batch_offset", [begin[0]])]),
                                 g.ints("ends", [b + like[i] for b, i in zip(begin[1:], axes[1:])])], axis=0)
    else:
        ends = g.ints("ends", [b + like[i] for b, i in zip(begin, axes)])
    g.node("Slice", [g.inputs[0], g.ints("starts", begin), ends, g.ints("axes", axes)], output=g.outputs[0])


@register("Slice")
def emit_slice(layer: Layer, p, g: LayerNodes) -> None:
    """Slice: the tops are consecutive parts of x along the axis."""
    axis = p.axis
    if len(g.outputs) == 1:
        g.node("Identity", g.inputs, output=g.outputs[0])
        return
    require(axis != 0, layer, "the batch axis cannot be sliced in an ONNX file with a dynamic batch")
    extent = g.input_shapes[0][axis]
    points = p.points or tuple(extent // p.parts * i for i in range(1, p.parts))
    sizes = [b - a for a, b in zip((0, *points), (*points, extent))]
    split = g.ints("split", sizes)
    name = g.node_names.fresh(f"{layer.name}/Split")
    from onnx import helper

    g.nodes.append(helper.make_node("Split", [g.inputs[0], split], list(g.outputs), name=name, axis=axis))


@register("Tile")
def emit_tile(layer: Layer, p, g: LayerNodes) -> None:
    """Tile: y = x repeated `tiles` times along the axis, block after block."""
    repeats = [1] * len(g.input_shapes[0])
    repeats[p.axis] = p.tiles
    g.node("Tile", [g.inputs[0], g.ints("repeats", repeats)], output=g.outputs[0])
