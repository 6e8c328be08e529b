"""Scale and Bias: a factor (Scale) or an offset (Bias) over a run of the bottom's axes, broadcast over the rest.

The operand is bottom[1] when there are two bottoms (its shape then decides how many axes it
covers: SE-BN-Inception scales N x C x H x W by an N x C gate with axis 0), else learned blob 0 of
shape bottom.shape[axis : axis + num_axes] (num_axes default 1, -1 = to the end, 0 = a scalar,
which applies everywhere: Caffe then ignores axis). axis defaults to 1 and may be negative.
Scale's bias_term (default false) adds a bias of the factor's shape: its last blob.
"""
from __future__ import annotations

from dataclasses import dataclass

from .registry import canonical_axis, fmt, layer_type, require


@dataclass(frozen=True)
class ScaleParams:
    axis: int  # canonical; 0 for a scalar operand
    operand_axes: int  # how many of the bottom's axes the operand covers
    from_bottom: bool  # the factor (Scale) or offset (Bias) is bottom[1]
    bias_term: bool  # Scale: a learned bias after the product; Bias: always


def _operand(shapes, axis: int, num_axes: int, role: str) -> tuple[int, tuple[int, ...]]:
    """(canonical axis, operand shape) for a one- or two-bottom Scale/Bias."""
    shape = shapes[0]
    if len(shapes) == 2:
        other = shapes[1]
        axis = 0 if not other else canonical_axis(axis, len(shape))
        require(
            tuple(shape[axis : axis + len(other)]) == tuple(other),
            f"{role} bottom[1] of shape {fmt(other)} does not match bottom {fmt(shape)} at axis {axis}",
        )
        return axis, tuple(other)
    require(num_axes >= -1, f"num_axes {num_axes} must be -1 or non-negative")
    axis = canonical_axis(axis, len(shape))
    if num_axes == 0:
        return 0, ()
    end = len(shape) if num_axes == -1 else axis + num_axes
    require(end <= len(shape), f"axis {axis} + num_axes {num_axes} exceed the {len(shape)}-axis bottom {fmt(shape)}")
    return axis, tuple(shape[axis:end])


@layer_type("Scale", bottoms=(1, 2))
def scale(param, shapes):
    p = param.scale_param
    axis, operand = _operand(shapes, p.axis, p.num_axes, "the scale")
    blobs = ([] if len(shapes) == 2 else [operand]) + ([operand] if p.bias_term else [])
    return ScaleParams(axis, len(operand), len(shapes) == 2, p.bias_term), [shapes[0]], blobs


@layer_type("Bias", bottoms=(1, 2))
def bias(param, shapes):
    p = param.bias_param
    axis, operand = _operand(shapes, p.axis, p.num_axes, "the bias")
    return ScaleParams(axis, len(operand), len(shapes) == 2, True), [shapes[0]], [] if len(shapes) == 2 else [operand]
