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
from .registry import fail, n_blobs, n_bottoms, parameter, register, require

_REPEATED = {"kernel": "kernel_size", "stride": "stride", "pad": "pad", "dilation": "dilation"}


class _FromBlobs:
    def reset_parameters(self) -> None:
        pass  # the weights come from the Caffe blobs: skip torch's random initialisation


class CaffeConv1d(_FromBlobs, nn.Conv1d):
    pass


class CaffeConv2d(_FromBlobs, nn.Conv2d):
    pass


class CaffeConv3d(_FromBlobs, nn.Conv3d):
    pass


_CONV = {1: CaffeConv1d, 2: CaffeConv2d, 3: CaffeConv3d}


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
    message = f"{len(repeated)} values of {_REPEATED[name]} for {n_spatial} spatial axes"
    require(len(repeated) in (1, n_spatial), layer, message)
    return tuple(repeated * n_spatial if len(repeated) == 1 else repeated)


@register("Convolution", blobs=("weight", "bias"))
def build(layer: Layer) -> nn.Module:
    n_bottoms(layer, 1)
    p = layer.param.convolution_param
    n_blobs(layer, 2 if p.bias_term else 1)
    weight = layer.blobs[0]
    n_spatial = weight.ndim - 2
    if n_spatial not in _CONV:
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
        tuple(weight.shape[:1]) + tuple(weight.shape[2:]) == (p.num_output, *kernel), layer,
        f"weight has shape {weight.shape}, expected ({p.num_output}, C/{group}, {', '.join(map(str, kernel))})",
    )
    conv = _CONV[n_spatial](
        in_channels=weight.shape[1] * group,
        out_channels=p.num_output,
        kernel_size=kernel,
        stride=stride,
        padding=_per_axis(layer, "pad", n_spatial, 0),
        dilation=dilation,
        groups=group,
        bias=p.bias_term,
        device="meta",  # nothing allocated until the blobs are assigned
    )
    conv.weight = parameter(layer, 0)
    if p.bias_term:
        conv.bias = parameter(layer, 1, (p.num_output,))
    return conv
