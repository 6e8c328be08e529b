"""Deconvolution -> nn.ConvTranspose1d/2d/3d (the transpose of Caffe's Convolution, its col2im).

Blobs: weight (C, num_output/group, *kernel), the layout ConvTranspose uses, then bias (num_output,)
when bias_term (default true). Output size per axis: stride*(in - 1) + dilation*(kernel - 1) + 1 - 2*pad.
The geometry reads as Convolution's (convolution_param); only axis 1 is supported.
"""
from __future__ import annotations

from torch import nn

from ..graph import Layer
from .conv import FromBlobs, from_blobs
from .registry import register


class CaffeDeconv1d(FromBlobs, nn.ConvTranspose1d):
    pass


class CaffeDeconv2d(FromBlobs, nn.ConvTranspose2d):
    pass


class CaffeDeconv3d(FromBlobs, nn.ConvTranspose3d):
    pass


_DECONV = {1: CaffeDeconv1d, 2: CaffeDeconv2d, 3: CaffeDeconv3d}


@register("Deconvolution", blobs=("weight", "bias"))
def build(layer: Layer, p) -> nn.Module:
    return from_blobs(_DECONV[len(p.kernel)], layer, p, layer.blobs[0].shape[0])
