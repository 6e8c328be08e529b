"""Deconvolution -> ConvTranspose (the transpose of Caffe's Convolution, its col2im), 1 to 3 spatial axes.

Blobs: weight (C, num_output/group, *kernel), ConvTranspose's layout, then bias (num_output,) when
bias_term (default true). Output size per axis: stride*(in - 1) + dilation*(kernel - 1) + 1 - 2*pad,
ConvTranspose's rule with explicit pads and no output_padding. Geometry read as Convolution's.
"""
from __future__ import annotations

from ..graph import Layer
from .conv import geometry, weight_and_bias
from .nodes import LayerNodes
from .registry import register


@register("Deconvolution")
def emit_deconvolution(layer: Layer, p, g: LayerNodes) -> None:
    """Deconvolution: y = the transposed convolution of x with W (zero padding cropped), plus b."""
    g.node("ConvTranspose", weight_and_bias(g, p), output=g.outputs[0], **geometry(p))
