"""InnerProduct: fully connected over all axes from `axis` (default 1) on.

  x viewed as (M, K), M = prod(shape[:axis]), K = prod(shape[axis:]);  y = x @ W^T + bias,
  shape (*shape[:axis], num_output)
Blobs: weight (num_output, K), or (K, num_output) with transpose: true (kept in Caffe's layout: Gemm's
transB says which); bias (num_output,) when bias_term (default true).
Flatten(axis) gives (M, K) for any axis; for axis > 1 a Reshape restores the leading axes.
"""
from __future__ import annotations

from ..graph import Layer
from .nodes import LayerNodes
from .registry import register


@register("InnerProduct")
def emit_inner_product(layer: Layer, p, g: LayerNodes) -> None:
    """InnerProduct: y = flatten(x, axis) @ W^T + b (W stored (K, N) with transpose)."""
    shape = g.input_shapes[0]
    axis, n, k = p.axis, p.num_output, p.inputs
    weight = g.blob(0, "weight", (k, n) if p.transpose else (n, k))
    inputs = [g.inputs[0] if len(shape) == 2 and axis == 1 else g.node("Flatten", g.inputs, axis=axis), weight]
    if p.bias_term:
        inputs.append(g.blob(1, "bias", (n,)))
    if axis == 1:
        g.node("Gemm", inputs, output=g.outputs[0], transB=0 if p.transpose else 1)
        return
    y = g.node("Gemm", inputs, transB=0 if p.transpose else 1)
    # (M, N) back to (*shape[:axis], N): the batch (axis 0) inferred, the other leading axes static
    lead = [-1, *shape[1:axis]] if axis > 0 else []
    g.node("Reshape", [y, g.ints("shape", [*lead, n])], output=g.outputs[0])
