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

from ..graph import Layer
from .nodes import LayerNodes
from .registry import register


def _trailing(g: LayerNodes, p) -> int:
    """The unit axes the operand needs after it to line up with bottom[0] from p.axis (a scalar needs none)."""
    return len(g.input_shapes[0]) - p.axis - p.operand_axes if p.operand_axes else 0


def _broadcast(g: LayerNodes, p) -> str:
    """bottom[1] as the operand, through Unsqueeze where it needs trailing axes."""
    n = len(g.input_shapes[1])
    return g.unsqueeze(g.inputs[1], range(n, n + _trailing(g, p))) if _trailing(g, p) else g.inputs[1]


def _learned(g: LayerNodes, index: int, role: str, p) -> str:
    """A learned blob as the operand: a view with the trailing unit axes."""
    return g.blob(index, role, tuple(g.layer.blobs[index].shape) + (1,) * _trailing(g, p))


@register("Scale")
def emit_scale(layer: Layer, p, g: LayerNodes) -> None:
    """Scale: y = x * w (+ b with bias_term), w and b broadcast over x from `axis`."""
    if p.from_bottom:
        factor, bias_index = _broadcast(g, p), 0
    else:
        factor, bias_index = _learned(g, 0, "weight", p), 1
    if not p.bias_term:
        g.node("Mul", [g.inputs[0], factor], output=g.outputs[0])
        return
    y = g.node("Mul", [g.inputs[0], factor])
    g.node("Add", [y, _learned(g, bias_index, "bias", p)], output=g.outputs[0])


@register("Bias")
def emit_bias(layer: Layer, p, g: LayerNodes) -> None:
    """Bias: y = x + b, b broadcast over x from `axis`."""
    offset = _broadcast(g, p) if p.from_bottom else _learned(g, 0, "bias", p)
    g.node("Add", [g.inputs[0], offset], output=g.outputs[0])
