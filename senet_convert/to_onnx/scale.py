"""Scale and Bias: a per-slice factor (Scale) or offset (Bias) broadcast over bottom[0].

The operand covers bottom[0]'s axes [axis, axis + k) (axis default 1, may be negative), k its own
number of axes (num_axes only shapes a learned blob: default 1, -1 = to the end, 0 = a scalar, which
then applies everywhere). It is blob 0 (Bias: the bias; Scale: the factor), or bottom[1] when there
are two bottoms (SE-BN-Inception scales N x C x H x W by an N x C bottom with axis 0). Scale with
bias_term (default false) adds a bias of the same shape after the product: blob 1, or blob 0 with two
bottoms.
  Scale: y = x * w [+ b]  (Mul, then Add: Caffe rounds after each)     Bias: y = x + b  (Add)
The operand gets trailing unit axes so that ONNX's right-aligned broadcasting lines it up at `axis`:
learned blobs as a reshaped view, a bottom through Unsqueeze.
"""
from __future__ import annotations

from ..graph import Layer, Shape
from .nodes import LayerNodes
from .registry import axis_index, n_blobs, n_bottoms, register, require


def _span(layer: Layer, x: Shape, operand: Shape, axis: int, role: str) -> int:
    """The number of unit axes the operand needs after it to broadcast over x from `axis`."""
    if not operand:
        return 0
    axis = axis_index(layer, axis, len(x))
    require(
        tuple(x[axis : axis + len(operand)]) == tuple(operand), layer,
        f"{role} of shape {tuple(operand)} does not match input shape {tuple(x)} at axis {axis}",
    )
    return len(x) - axis - len(operand)


def _learned(g: LayerNodes, index: int, role: str, x: Shape, axis: int) -> str:
    shape = tuple(g.layer.blobs[index].shape)
    return g.blob(index, role, shape + (1,) * _span(g.layer, x, shape, axis, f"the {role}"))


def _operand_bottom(g: LayerNodes, x: Shape, axis: int) -> str:
    shape = g.input_shapes[1]
    # Compare with the batch axis too: a bottom spans it only when axis is 0, and then its extent is x's.
    trailing = _span(g.layer, x, shape, axis, "bottom[1]")
    return g.unsqueeze(g.inputs[1], range(len(shape), len(shape) + trailing)) if trailing else g.inputs[1]


@register("Scale")
def emit_scale(layer: Layer, g: LayerNodes) -> None:
    """Scale: y = x * w (+ b with bias_term), w and b broadcast over x from `axis`."""
    p = layer.param.scale_param
    x = g.input_shapes[0]
    require(p.num_axes >= -1, layer, f"num_axes {p.num_axes} must be -1 or non-negative")
    if n_bottoms(layer, 1, 2) == 2:
        n_blobs(layer, 1 if p.bias_term else 0)
        factor = _operand_bottom(g, x, p.axis)
        bias_index = 0
    else:
        n_blobs(layer, 2 if p.bias_term else 1)
        factor = _learned(g, 0, "weight", x, p.axis)
        bias_index = 1
    if not p.bias_term:
        g.node("Mul", [g.inputs[0], factor], output=g.outputs[0])
        return
    require(
        len(layer.bottoms) == 2 or layer.blobs[0].shape == layer.blobs[1].shape, layer,
        f"bias shape {layer.blobs[1].shape if len(layer.blobs) > 1 else ()} differs from scale shape {layer.blobs[0].shape}",
    )
    y = g.node("Mul", [g.inputs[0], factor])
    g.node("Add", [y, _learned(g, bias_index, "bias", x, p.axis)], output=g.outputs[0])


@register("Bias")
def emit_bias(layer: Layer, g: LayerNodes) -> None:
    """Bias: y = x + b, b broadcast over x from `axis`."""
    p = layer.param.bias_param
    x = g.input_shapes[0]
    require(p.num_axes >= -1, layer, f"num_axes {p.num_axes} must be -1 or non-negative")
    if n_bottoms(layer, 1, 2) == 2:
        n_blobs(layer, 0)
        g.node("Add", [g.inputs[0], _operand_bottom(g, x, p.axis)], output=g.outputs[0])
        return
    n_blobs(layer, 1)
    g.node("Add", [g.inputs[0], _learned(g, 0, "bias", x, p.axis)], output=g.outputs[0])
