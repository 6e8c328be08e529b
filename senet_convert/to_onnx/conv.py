"""Convolution -> Conv (Caffe's im2col + GEMM is the same cross-correlation), 1 to 3 spatial axes.

Blobs: weight (num_output, C/group, *kernel), then bias (num_output,) when bias_term (default true).
Zero padding, symmetric per axis; output size floor((in + 2*pad - dilation*(kernel-1) - 1)/stride) + 1,
which is also ONNX's rule for explicit pads. Channels on axis 1. The geometry is the registry's reading
(caffe/layers/conv.py): one value per spatial axis.
"""
from __future__ import annotations

from ..graph import Layer
from .nodes import LayerNodes
from .registry import register


def geometry(p) -> dict:
    """Conv and ConvTranspose's attributes for Caffe's geometry: pads symmetric, before then after."""
    return dict(kernel_shape=list(p.kernel), strides=list(p.stride), pads=list(p.pad) * 2, dilations=list(p.dilation), group=p.group)


def weight_and_bias(g: LayerNodes, p) -> list[str]:
    inputs = [g.inputs[0], g.blob(0, "weight")]
    if p.bias_term:
        inputs.append(g.blob(1, "bias", (p.num_output,)))
    return inputs


@register("Convolution")
def emit_conv(layer: Layer, p, g: LayerNodes) -> None:
    """Convolution: y = W * x + b (cross-correlation, zero padding, groups), channels on axis 1."""
    g.node("Conv", weight_and_bias(g, p), output=g.outputs[0], **geometry(p))
