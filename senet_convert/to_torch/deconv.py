"""Deconvolution -> nn.ConvTranspose1d/2d/3d (the transpose of Caffe's Convolution, its col2im).

Blobs: weight (C, num_output/group, *kernel), the layout ConvTranspose uses, then bias (num_output,)
when bias_term (default true). Output size per axis: stride*(in - 1) + dilation*(kernel - 1) + 1 - 2*pad.
The geometry reads as Convolution's (convolution_param); only axis 1 is supported.
"""
from __future__ import annotations

from torch import nn

from ..graph import Layer
from .conv import _per_axis
from .registry import fail, n_blobs, n_bottoms, parameter, register, require


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
def build(layer: Layer) -> nn.Module:
    n_bottoms(layer, 1)
    p = layer.param.convolution_param
    n_blobs(layer, 2 if p.bias_term else 1)
    weight = layer.blobs[0]
    n_spatial = weight.ndim - 2
    if n_spatial not in _DECONV:
        fail(layer, f"weight of shape {weight.shape}: only 1 to 3 spatial axes are supported")
    if p.axis != 1 and p.axis != -n_spatial - 1:
        fail(layer, f"axis {p.axis} is not supported (only the channel axis 1)")
    kernel = _per_axis(layer, "kernel", n_spatial, None)
    stride = _per_axis(layer, "stride", n_spatial, 1)
    dilation = _per_axis(layer, "dilation", n_spatial, 1)
    require(min(kernel + stride + dilation) >= 1, layer, "kernel, stride and dilation must be positive")
    group = p.group
    require(group >= 1 and p.num_output % group == 0, layer, f"group {group} must divide num_output {p.num_output}")
    require(
        tuple(weight.shape[1:]) == (p.num_output // group, *kernel), layer,
        f"weight has shape {weight.shape}, expected (C, {p.num_output // group}, {', '.join(map(str, kernel))})",
    )
    deconv = _DECONV[n_spatial](
        in_channels=weight.shape[0],
        out_channels=p.num_output,
        kernel_size=kernel,
        stride=stride,
        padding=_per_axis(layer, "pad", n_spatial, 0),
        dilation=dilation,
        groups=group,
        bias=p.bias_term,
        device="meta",
    )
    deconv.weight = parameter(layer, 0)
    if p.bias_term:
        deconv.bias = parameter(layer, 1, (p.num_output,))
    return deconv
