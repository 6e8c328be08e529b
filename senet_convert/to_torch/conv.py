"""Convolution -> nn.Conv1d/2d/3d (Caffe's im2col + GEMM is the same cross-correlation).

Blobs: weight (num_output, C/group, *kernel), then bias (num_output,) when bias_term (default true).
Zero padding, symmetric per axis; output size floor((in + 2*pad - dilation*(kernel-1) - 1)/stride) + 1.
kernel_size/stride/pad/dilation are repeated fields: one value for every spatial axis or one per
axis (defaults stride 1, pad 0, dilation 1); in 2-D kernel_h/_w, stride_h/_w, pad_h/_w may replace
them. Only axis 1 (channels first) is supported.
"""
from __future__ import annotations

from torch import nn

from ..graph import Layer
from .registry import parameter, register


class FromBlobs:
    def reset_parameters(self) -> None:
        pass  # the weights come from the Caffe blobs: skip torch's random initialisation


class CaffeConv1d(FromBlobs, nn.Conv1d):
    pass


class CaffeConv2d(FromBlobs, nn.Conv2d):
    pass


class CaffeConv3d(FromBlobs, nn.Conv3d):
    pass


_CONV = {1: CaffeConv1d, 2: CaffeConv2d, 3: CaffeConv3d}


def from_blobs(cls, layer: Layer, p, in_channels: int) -> nn.Module:
    """A torch convolution of Caffe's geometry whose weight and bias are the layer's blobs."""
    conv = cls(
        in_channels=in_channels, out_channels=p.num_output, kernel_size=p.kernel, stride=p.stride, padding=p.pad,
        dilation=p.dilation, groups=p.group, bias=p.bias_term,
        device="meta",  # nothing allocated until the blobs are assigned
    )
    conv.weight = parameter(layer, 0)
    if p.bias_term:
        conv.bias = parameter(layer, 1)
    return conv


@register("Convolution", blobs=("weight", "bias"))
def build(layer: Layer, p) -> nn.Module:
    return from_blobs(_CONV[len(p.kernel)], layer, p, layer.blobs[0].shape[1] * p.group)
