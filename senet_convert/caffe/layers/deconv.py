"""Deconvolution: the transpose of Caffe's Convolution (its col2im), read as Convolution's parameters.

The geometry fields are Convolution's (convolution_param: kernel, stride, pad, dilation, group,
num_output, bias_term; only the channel axis 1). Blobs: weight (C, num_output/group, *kernel)
(Caffe swaps the channel roles of Convolution), bias (num_output,) when bias_term.
Top per spatial axis: stride * (in - 1) + dilation * (kernel - 1) + 1 - 2 * pad, at least 1.
"""
from __future__ import annotations

from .conv import read_conv
from .registry import fmt, layer_type, require


@layer_type("Deconvolution")
def deconvolution(param, shapes):
    shape = shapes[0]
    c = read_conv(param.convolution_param, shape)
    out = [s * (i - 1) + d * (k - 1) + 1 - 2 * q for i, k, s, q, d in zip(shape[2:], c.kernel, c.stride, c.pad, c.dilation)]
    require(all(o >= 1 for o in out), f"pad {list(c.pad)} leaves no output for the {fmt(shape)} input")
    blobs = [(shape[1], c.num_output // c.group, *c.kernel)] + ([(c.num_output,)] if c.bias_term else [])
    return c, [(shape[0], c.num_output, *out)], blobs
