"""BatchNorm: normalisation only (the affine part is the Scale layer after it, a separate module).

Blobs, per channel (axis 1): 0 = mean*s, 1 = var*s, 2 = [s], the moving-average scale factor; held
as buffers `mean`, `var`, `scale_factor`. With use_global_stats (the default in the TEST phase):
  sf = 0 if s == 0 else 1/s          (float32 reciprocal, as Caffe computes it)
  y  = (x - mean*sf) / sqrt(var*sf + eps)       eps from batch_norm_param, default 1e-5
use_global_stats: false normalises with the batch's own mean and (biased) variance instead.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..graph import Layer
from .registry import n_blobs, n_bottoms, register, require, tensor


class CaffeBatchNorm(nn.Module):
    def __init__(self, mean: torch.Tensor, var: torch.Tensor, scale_factor: torch.Tensor, eps: float,
                 use_global_stats: bool = True):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("var", var)
        self.register_buffer("scale_factor", scale_factor)
        self.eps = eps
        self.use_global_stats = use_global_stats

    def extra_repr(self) -> str:
        return f"{self.mean.numel()}, eps={self.eps}" + ("" if self.use_global_stats else ", batch statistics")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 1:  # Caffe: a 1-axis input is one channel
            return self.forward(x[:, None])[:, 0]
        if not self.use_global_stats:
            return F.batch_norm(x, None, None, training=True, eps=self.eps)
        s = self.scale_factor
        sf = torch.where(s == 0, torch.zeros_like(s), torch.reciprocal(s))
        per_channel = (-1,) + (1,) * (x.dim() - 2)
        # Statistics in float32 as Caffe; applied in x's dtype (a no-op in float32; under autocast
        # the activations stay bf16/fp16 instead of being promoted by the float32 buffers).
        mean = (self.mean * sf).view(per_channel).to(x.dtype)
        std = torch.sqrt(self.var * sf + self.eps).view(per_channel).to(x.dtype)
        # Caffe's two passes, not nn.BatchNorm2d's x * invstd + shift: Caffe's bits on Caffe's input,
        # at no measurable cost for a whole net.
        return torch.sub(x, mean).div_(std)


@register("BatchNorm", blobs=("mean", "var", "scale_factor"))
def build(layer: Layer) -> nn.Module:
    n_bottoms(layer, 1)
    n_blobs(layer, 3)
    p = layer.param.batch_norm_param
    channels = layer.blobs[0].size
    sizes = [blob.shape for blob in layer.blobs]
    require(layer.blobs[1].size == channels, layer, f"blobs 0 and 1 differ in size: {sizes[0]}, {sizes[1]}")
    require(layer.blobs[2].size == 1, layer, f"blob 2 (the scale factor) must hold one value, has shape {sizes[2]}")
    return CaffeBatchNorm(
        tensor(layer, 0, (channels,)),
        tensor(layer, 1, (channels,)),
        tensor(layer, 2, (1,)),
        float(p.eps),
        p.use_global_stats if p.HasField("use_global_stats") else True,
    )
