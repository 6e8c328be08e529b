"""Convolution -> Conv (Caffe's im2col + GEMM is the same cross-correlation), 1 to 3 spatial axes.

Blobs: weight (num_output, C/group, *kernel), then bias (num_output,) when bias_term (default true).
Zero padding, symmetric per axis; output size floor((in + 2*pad - dilation*(kernel-1) - 1)/stride) + 1,
which is also ONNX's rule for explicit pads. kernel_size/stride/pad/dilation are repeated fields: one
value for every spatial axis or one per axis (defaults stride 1, pad 0, dilation 1); in 2-D
kernel_h/_w, stride_h/_w, pad_h/_w may replace them. Only axis 1 (channels first) is supported.
"""
from __future__ import annotations

from ..graph import Layer
from .nodes import LayerNodes
from .registry import fail, n_blobs, n_bottoms, register, require

_REPEATED = {"kernel": "kernel_size", "stride": "stride", "pad": "pad", "dilation": "dilation"}


def _per_axis(layer: Layer, name: str, n_spatial: int, default: int | None) -> tuple[int, ...]:
    p = layer.param.convolution_param
    repeated = list(getattr(p, _REPEATED[name]))
    if name != "dilation" and (p.HasField(f"{name}_h") or p.HasField(f"{name}_w")):
        require(n_spatial == 2, layer, f"{name}_h/{name}_w need 2 spatial axes")
        require(not repeated, layer, f"give {_REPEATED[name]} or {name}_h/{name}_w, not both")
        require(p.HasField(f"{name}_h") and p.HasField(f"{name}_w"), layer, f"{name}_h and {name}_w go together")
        return getattr(p, f"{name}_h"), getattr(p, f"{name}_w")
    if not repeated:
        require(default is not None, layer, "kernel_size (or kernel_h and kernel_w) is required")
        return (default,) * n_spatial
    require(len(repeated) in (1, n_spatial), layer, f"{len(repeated)} values of {_REPEATED[name]} for {n_spatial} spatial axes")
    return tuple(repeated * n_spatial if len(repeated) == 1 else repeated)


@register("Convolution")
def emit_conv(layer: Layer, g: LayerNodes) -> None:
    """Convolution: y = W * x + b (cross-correlation, zero padding, groups), channels on axis 1."""
    n_bottoms(layer, 1)
    p = layer.param.convolution_param
    n_blobs(layer, 2 if p.bias_term else 1)
    weight = layer.blobs[0]
    n_spatial = weight.ndim - 2
    if not 1 <= n_spatial <= 3:
        fail(layer, f"weight of shape {weight.shape}: only 1 to 3 spatial axes are supported")
    if p.axis not in (1, -n_spatial - 1):
        fail(layer, f"axis {p.axis} is not supported (only the channel axis 1)")
    kernel = _per_axis(layer, "kernel", n_spatial, None)
    stride = _per_axis(layer, "stride", n_spatial, 1)
    dilation = _per_axis(layer, "dilation", n_spatial, 1)
    pad = _per_axis(layer, "pad", n_spatial, 0)
    require(min(kernel + stride + dilation) >= 1, layer, "kernel, stride and dilation must be positive")
    group = p.group
    require(group >= 1 and p.num_output % group == 0, layer, f"group {group} must divide num_output {p.num_output}")
    require(
        tuple(weight.shape[:1]) + tuple(weight.shape[2:]) == (p.num_output, *kernel), layer,
        f"weight has shape {weight.shape}, expected ({p.num_output}, C/{group}, {', '.join(map(str, kernel))})",
    )
    channels = g.input_shapes[0][1]
    require(weight.shape[1] * group == channels, layer, f"weight has shape {weight.shape}: {weight.shape[1]} x group {group} != {channels} input channels")
    inputs = [g.inputs[0], g.blob(0, "weight")]
    if p.bias_term:
        inputs.append(g.blob(1, "bias", (p.num_output,)))
    g.node(
        "Conv", inputs, output=g.outputs[0],
        kernel_shape=list(kernel), strides=list(stride), pads=list(pad) * 2, dilations=list(dilation), group=group,
    )
