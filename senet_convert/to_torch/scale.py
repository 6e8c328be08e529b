"""Scale and Bias: a per-slice factor (Scale) or offset (Bias) broadcast over bottom[0].

The factor has the shape of bottom[0].shape[axis : axis + num_axes] (axis default 1, num_axes
default 1, -1 = to the end, 0 = a scalar). It is blob 0 (`weight`; Bias: `bias`), or bottom[1]
when there are two bottoms, whose own shape then decides how many axes it covers: SE-BN-Inception
scales N x C x H x W by an N x C bottom with axis 0. Scale with bias_term (default false) adds a
bias of the same shape after the product: blob 1 (`bias`), or blob 0 with two bottoms.
  Scale: y = x * w [+ b]
"""
from __future__ import annotations

import torch
from torch import nn

from ..graph import Layer
from .registry import register, tensor


def _aligned(t: torch.Tensor, x: torch.Tensor, axis: int) -> torch.Tensor:
    """t, covering x's axes from `axis` on, with trailing unit axes so that it broadcasts over x.

    In x's dtype: a no-op in float32, and under bf16/fp16 autocast it keeps the activations in the
    low precision instead of promoting them to the float32 of the parameters.
    """
    t = t.to(x.dtype)
    if t.dim() == 0:
        return t
    trailing = x.dim() - axis - t.dim()
    if trailing < 0:
        raise ValueError(f"a {tuple(t.shape)} factor does not fit a {tuple(x.shape)} input from axis {axis}")
    return t[(..., *([None] * trailing))]


class CaffeScale(nn.Module):
    """y = x * weight (+ bias); with two bottoms the factor is the second input."""

    def __init__(self, axis: int, weight: torch.Tensor | None, bias: torch.Tensor | None):
        super().__init__()
        self.axis = axis
        self.weight = None if weight is None else nn.Parameter(weight)
        self.bias = None if bias is None else nn.Parameter(bias)

    def extra_repr(self) -> str:
        factor = "bottom[1]" if self.weight is None else tuple(self.weight.shape)
        return f"axis={self.axis}, factor={factor}, bias={self.bias is not None}"

    def forward(self, x: torch.Tensor, factor: torch.Tensor | None = None) -> torch.Tensor:
        y = torch.mul(x, _aligned(self.weight if factor is None else factor, x, self.axis))
        # multiply, then add, as Caffe does (addcmul would round differently)
        return y if self.bias is None else y.add_(_aligned(self.bias, x, self.axis))


class CaffeBias(nn.Module):
    """y = x + bias; with two bottoms the bias is the second input."""

    def __init__(self, axis: int, bias: torch.Tensor | None):
        super().__init__()
        self.axis = axis
        self.bias = None if bias is None else nn.Parameter(bias)

    def extra_repr(self) -> str:
        return f"axis={self.axis}, bias={'bottom[1]' if self.bias is None else tuple(self.bias.shape)}"

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        bias = self.bias if bias is None else bias
        return torch.add(x, _aligned(bias, x, self.axis))


def _scale_blobs(layer: Layer) -> tuple[str, ...]:
    return ("bias",) if len(layer.bottoms) == 2 else ("weight", "bias")


@register("Scale", blobs=_scale_blobs)
def build_scale(layer: Layer, p) -> nn.Module:
    weight = None if p.from_bottom else tensor(layer, 0)
    bias = tensor(layer, len(layer.blobs) - 1) if p.bias_term else None
    return CaffeScale(p.axis, weight, bias)


@register("Bias", blobs=lambda layer: () if len(layer.bottoms) == 2 else ("bias",))
def build_bias(layer: Layer, p) -> nn.Module:
    return CaffeBias(p.axis, None if p.from_bottom else tensor(layer, 0))
