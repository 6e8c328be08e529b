"""Deconvolution -> ConvTranspose (the transpose of Caffe's Convolution, its col2im), 1 to 3 spatial axes.

Blobs: weight (C, num_output/group, *kernel), ConvTranspose's layout, then bias (num_output,) when
bias_term (default true). Output size per axis: stride*(in - 1) + dilation*(kernel - 1) + 1 - 2*pad,
ConvTranspose's rule with explicit pads and no output_padding. Geometry read as Convolution's.
"""
from __future__ import annotations

from ..graph import Layer
from .conv import _per_axis
from .nodes import LayerNodes
from .registry import fail, n_blobs, n_bottoms, register, require


@register("Deconvolution")
def emit_deconvolution(layer: Layer, g: LayerNodes) -> None:
    """Deconvolution: y = the transposed convolution of x with W (zero padding cropped), plus b."""
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
        tuple(weight.shape[1:]) == (p.num_output // group, *kernel), layer,
        f"weight has shape {weight.shape}, expected (C, {p.num_output // group}, {', '.join(map(str, kernel))})",
    )
    inputs = [g.inputs[0], g.blob(0, "weight")]
    if p.bias_term:
        inputs.append(g.blob(1, "bias", (p.num_output,)))
    g.node("ConvTranspose", inputs, output=g.outputs[0], kernel_shape=list(kernel), strides=list(stride),
           pads=list(pad) * 2, dilations=list(dilation), group=group)
