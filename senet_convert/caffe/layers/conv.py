"""Convolution: Caffe's ConvolutionParameter read for an N x C x spatial... bottom (channel axis 1).

kernel_size, stride, pad and dilation are repeated fields: one value for every spatial axis or one
per axis (defaults stride 1, pad 0, dilation 1; kernel required). In 2-D, kernel_h/kernel_w,
stride_h/stride_w and pad_h/pad_w may replace them, never together with the repeated form and
always as a pair. group must divide the input channels and num_output.
Blobs: weight (num_output, C/group, *kernel), bias (num_output,) when bias_term (default true).
Top: (N, num_output, *out), out = (in + 2*pad - (dilation*(kernel-1) + 1)) / stride + 1 (C division),
at least 1. The torch lowering handles 1 to 3 spatial axes, so more are refused here.
"""
from __future__ import annotations

from dataclasses import dataclass

from .registry import fmt, layer_type, refuse, require

MAX_SPATIAL = 3


@dataclass(frozen=True)
class ConvParams:
    num_output: int
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    pad: tuple[int, ...]
    dilation: tuple[int, ...]
    group: int
    bias_term: bool


def per_axis(p, name: str, n_spatial: int, default: int | None) -> tuple[int, ...]:
    """One of kernel/stride/pad/dilation for each spatial axis, by Caffe's reading of the two forms."""
    repeated_name = "kernel_size" if name == "kernel" else name
    values = list(getattr(p, repeated_name))
    if name != "dilation" and (p.HasField(f"{name}_h") or p.HasField(f"{name}_w")):
        require(not values, f"give {repeated_name} or {name}_h and {name}_w, not both")
        require(n_spatial == 2, f"{name}_h/{name}_w can only be used for 2-D convolution, the bottom has {n_spatial} spatial axes")
        require(p.HasField(f"{name}_h") and p.HasField(f"{name}_w"), f"{name}_h and {name}_w must be given together")
        return getattr(p, f"{name}_h"), getattr(p, f"{name}_w")
    if not values:
        if default is None:
            refuse("kernel_size (or kernel_h and kernel_w) is required")
        return (default,) * n_spatial
    require(
        len(values) in (1, n_spatial),
        f"{repeated_name} must be given once or once per spatial axis ({n_spatial}), got {len(values)} values",
    )
    return tuple(values * n_spatial if len(values) == 1 else values)


def read_conv(p, shape) -> ConvParams:
    require(len(shape) >= 3, f"convolution needs an N x C x spatial bottom, got {fmt(shape)}")
    require(p.axis in (1, 1 - len(shape)), f"axis {p.axis} is not supported (only the channel axis 1)")
    n_spatial = len(shape) - 2
    require(n_spatial <= MAX_SPATIAL, f"{n_spatial} spatial axes: 1 to {MAX_SPATIAL} are supported")
    kernel = per_axis(p, "kernel", n_spatial, None)
    stride = per_axis(p, "stride", n_spatial, 1)
    pad = per_axis(p, "pad", n_spatial, 0)
    dilation = per_axis(p, "dilation", n_spatial, 1)
    require(min(kernel) > 0, f"kernel {list(kernel)} must be positive")
    require(min(stride) > 0, f"stride {list(stride)} must be positive")
    require(min(dilation) > 0, f"dilation {list(dilation)} must be positive")
    channels, group, num_output = shape[1], p.group, p.num_output
    require(group > 0 and channels % group == 0, f"{channels} input channels are not divisible by group {group}")
    require(num_output > 0 and num_output % group == 0, f"num_output {num_output} is not a positive multiple of group {group}")
    return ConvParams(num_output, kernel, stride, pad, dilation, group, p.bias_term)


@layer_type("Convolution")
def convolution(param, shapes):
    shape = shapes[0]
    c = read_conv(param.convolution_param, shape)
    out = []
    for size, k, s, q, d in zip(shape[2:], c.kernel, c.stride, c.pad, c.dilation):
        extent = d * (k - 1) + 1
        span = size + 2 * q - extent
        require(span >= 0, f"the kernel does not fit the {fmt(shape[2:])} input: extent {extent} with pad {q} over size {size}")
        out.append(span // s + 1)
    blobs = [(c.num_output, shape[1] // c.group, *c.kernel)] + ([(c.num_output,)] if c.bias_term else [])
    return c, [(shape[0], c.num_output, *out)], blobs
