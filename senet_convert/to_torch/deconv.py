"""Deconvolution -> nn.ConvTranspose1d/2d/3d (the transpose of Caffe's Convolution, its col2im).

Blobs: weight (C, num_output/group, *kernel), the layout ConvTranspose uses, then bias (num_output,)
when bias_term (default true). Output size per axis: stride*(in - 1) + dilation*(kernel - 1) + 1 - 2*pad.
The geometry reads as Convolution's (convolution_param); only axis 1 is supported.
"""
from __future__ import annotations

from torch import nn

from ..graph import Layer
from .registry import parameter, register


class _FromBlobs:
    def reset_parameters(self) -> None:
        pass  # the weights come from the Caffe blobs: skip torch's random initialisation


class CaffeDeconv1d(_FromBlobs, nn.ConvTranspose1d):
    pass


class CaffeDeconv2d(_FromBlobs, nn.ConvTranspose2d):
    pass


class CaffeDeconv3d(_FromBlobs, nn.ConvTranspose3d):
    pass


_DECONV = {1: CaffeDeconv1d, 2: CaffeDeconv2d, 3: CaffeDeconv3d}


@register("Deconvolution", blobs=("weight", "bias"))
def build(layer: Layer, p) -> nn.Module:
    deconv = _DECONV[len(p.kernel)](
        in_channels=layer.blobs[0].shape[0],
        out_channels=p.num_output,
        kernel_size=p.kernel,
        stride=p.stride,
        padding=p.pad,
        dilation=p.dilation,
        groups=p.group,
        bias=p.bias_term,
        device="meta",
    )
    deconv.weight = parameter(layer, 0)
    if p.bias_term:
        deconv.bias = parameter(layer, 1)
    return deconv
