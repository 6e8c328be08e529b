"""Normalize, the L2 normalization of SSD's Caffe fork (weiliu89/caffe, e.g. conv4_3_norm).

  across_spatial (default true): norm[n] = sqrt(sum over C, H, W of x^2 + eps)
  otherwise:                     norm[n, h, w] = sqrt(sum over C of x^2 + eps)
  top = x / norm * scale, scale one value (channel_shared, default true) or one per channel
eps (default 1e-10) is added under the root. Blob: scale, of shape () with channel_shared, else (C,).
The fork's schema adds (in LayerParameter: optional NormalizeParameter norm_param = 206;)
  message NormalizeParameter {
    optional bool across_spatial = 1 [default = true];
    optional FillerParameter scale_filler = 2;
    optional bool channel_shared = 3 [default = true];
    optional float eps = 4 [default = 1e-10];
  }
Caffe reads the bottom as N x C x H x W (2 to 4 axes).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from senet_convert import plugins

NORM = plugins.declare_parameter(
    "NormalizeParameter", field="norm_param", number=206,
    fields=[
        plugins.Field("across_spatial", "bool", 1, default=True),
        plugins.Field("scale_filler", "FillerParameter", 2),
        plugins.Field("channel_shared", "bool", 3, default=True),
        plugins.Field("eps", "float", 4, default=1e-10),
    ],
)


def shapes(param, bottoms):
    (shape,) = bottoms
    if not 2 <= len(shape) <= 4:
        raise plugins.ShapeError(f"Normalize takes 2 to 4 axes, got {shape}")
    return [shape]


def blob_shapes(param, bottoms):
    return [()] if NORM.of(param).channel_shared else [(bottoms[0][1],)]


plugins.register_layer("Normalize", tops=shapes, blobs=blob_shapes)


@plugins.register_oracle("Normalize")
def oracle(layer, inputs):
    (x,) = inputs
    p = NORM.of(layer)
    eps = x.dtype.type(np.float32(p.eps))
    squares = (x * x).reshape(x.shape[0], x.shape[1], -1)
    total = squares.sum(axis=(1, 2), keepdims=True) if p.across_spatial else squares.sum(axis=1, keepdims=True)
    y = x.reshape(squares.shape) / np.sqrt(total + eps)
    scale = np.asarray(layer.blobs[0], dtype=x.dtype).reshape(1, -1, 1)
    return [(y * scale).reshape(x.shape)]


class Normalize(nn.Module):
    def __init__(self, scale: torch.Tensor, across_spatial: bool, eps: float):
        super().__init__()
        self.scale = nn.Parameter(scale)
        self.across_spatial, self.eps = across_spatial, eps

    def extra_repr(self) -> str:
        return f"across_spatial={self.across_spatial}, eps={self.eps}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        squares = (x * x).flatten(2)
        total = squares.sum((1, 2), keepdim=True) if self.across_spatial else squares.sum(1, keepdim=True)
        # full_like, not the float itself: torch.onnx's optimizer drops an Add of a constant below 1e-8
        y = x.flatten(2) / torch.sqrt(total + torch.full_like(total, self.eps))
        return (y * self.scale.reshape(1, -1, 1)).reshape(x.shape)


@plugins.register_torch("Normalize", blobs=("scale",))
def build(layer):
    p = NORM.of(layer)
    scale = torch.tensor(np.asarray(layer.blobs[0], dtype=np.float32))
    return Normalize(scale, p.across_spatial, float(np.float32(p.eps)))


@plugins.register_onnx("Normalize")
def emit(layer, g):
    """Normalize: top = x / sqrt(sum of x^2 over C (and H, W with across_spatial) + eps) * scale."""
    p = NORM.of(layer)
    shape = g.input_shapes[0]
    x = g.inputs[0]
    axes = list(range(1, len(shape))) if p.across_spatial else [1]
    total = g.reduce("ReduceSum", g.node("Mul", [x, x]), axes)
    norm = g.node("Sqrt", [g.node("Add", [total, g.scalar("eps", float(np.float32(p.eps)))])])
    scale = g.blob(0, "scale", () if p.channel_shared else (shape[1],) + (1,) * (len(shape) - 2))
    g.node("Mul", [g.node("Div", [x, norm]), scale], output=g.outputs[0])
