"""Reduction and ArgMax.

Reduction: the axes from `axis` (default 0) on become one value: SUM (ReduceSum), ASUM (ReduceL1),
  SUMSQ (ReduceSumSquare) or MEAN (ReduceMean) over them, then times `coeff`; the top keeps the
  leading axes (a scalar for axis 0). The axes are flattened into one first (Reshape, batch 0).
ArgMax: the top_k largest (indices, or values with out_max_val) along `axis`, or over each sample's
  flattened values with (N, 1, top_k) indices / (N, 2, top_k) indices then values. TopK ranks equal
  values lower index first; Caffe ranks them larger index first: TopK runs on the axis reversed and
  the indices are mirrored back (n - 1 - i). Indices are floats, as in Caffe's top.
"""
from __future__ import annotations

import numpy as np
from onnx import TensorProto

from ..graph import Layer
from .nodes import LayerNodes
from .registry import register

_OPS = {"sum": "ReduceSum", "asum": "ReduceL1", "sumsq": "ReduceSumSquare", "mean": "ReduceMean"}
_INT64_MIN = -(2**63)


@register("Reduction")
def emit_reduction(layer: Layer, p, g: LayerNodes) -> None:
    """Reduction: y[leading axes] = coeff * reduce(x[leading axes, ...])."""
    axis = p.axis
    flat = g.node("Reshape", [g.inputs[0], g.ints("shape", [0] * axis + [-1])])
    coeff = float(np.float32(p.coeff))
    out = g.outputs[0] if coeff == 1 else None
    if g.opset >= 18 or _OPS[p.operation] == "ReduceSum":
        y = g.node(_OPS[p.operation], [flat, g.ints("axes", [axis])], output=out, keepdims=0)
    else:
        y = g.node(_OPS[p.operation], [flat], output=out, axes=[axis], keepdims=0)
    if coeff != 1:
        g.node("Mul", [y, g.scalar("coeff", coeff)], output=g.outputs[0])


def _ranked(g: LayerNodes, x: str, axis: int, n: int, k: int) -> tuple[str, str]:
    """(indices as floats, values) of the k largest along `axis`, larger index first among equals."""
    reversed_ = g.node("Slice", [x, g.ints("starts", [-1]), g.ints("ends", [_INT64_MIN]), g.ints("axes", [axis]), g.ints("steps", [-1])])
    name_v, name_i = g.tensors.fresh(f"{g.layer.name}/TopK"), g.tensors.fresh(f"{g.layer.name}/TopK_indices")
    from onnx import helper

    g.nodes.append(helper.make_node("TopK", [reversed_, g.ints("k", [k])], [name_v, name_i], name=g.node_names.fresh(f"{g.layer.name}/TopK"),
                                    axis=axis, largest=1, sorted=1))
    mirrored = g.node("Sub", [g.ints("last", [n - 1]), name_i])
    return g.node("Cast", [mirrored], to=TensorProto.FLOAT), name_v


@register("ArgMax")
def emit_argmax(layer: Layer, p, g: LayerNodes) -> None:
    """ArgMax: indices (or values) of the top_k largest, along an axis or over each sample."""
    shape = g.input_shapes[0]
    if p.axis is not None:
        indices, values = _ranked(g, g.inputs[0], p.axis, shape[p.axis], p.top_k)
        g.node("Identity", [values if p.out_max_val else indices], output=g.outputs[0])
        return
    flat = g.node("Flatten", [g.inputs[0]], axis=1)
    indices, values = _ranked(g, flat, 1, int(np.prod(shape[1:])), p.top_k)
    rows = g.node("Concat", [g.unsqueeze(indices, [1]), g.unsqueeze(values, [1])], axis=1) if p.out_max_val else g.unsqueeze(indices, [1])
    top = g.output_shapes[0]
    g.node("Reshape", [rows, g.ints("shape", [0, *top[1:]])], output=g.outputs[0])
