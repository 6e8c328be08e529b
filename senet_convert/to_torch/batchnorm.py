"""BatchNorm: normalisation only (the affine part is the Scale layer after it, a separate module).

Blobs, per channel (axis 1): 0 = mean*s, 1 = var*s, 2 = [s], the moving-average scale factor; held
as buffers `mean`, `var`, `scale_factor`. With use_global_stats (the default in the TEST phase):
  sf = 0 if s == 0 else 1/s          (float32 reciprocal, as Caffe computes it)
  y  = (x - mean*sf) / sqrt(var*sf + eps)       eps from batch_norm_param, default 1e-5
  (var*sf + eps in float32, its root correctly rounded to float32)
use_global_stats: false normalises with the batch's own mean and (biased) variance instead.

Called with `weight` and `bias`, the module also applies the Scale layer after it (y * weight + bias)
in one F.batch_norm call: the lowering does that where no one can read the BatchNorm's own value
(to_torch.lower), so that the pair costs one pass over the activations, as nn.BatchNorm2d does,
instead of Caffe's four. Caffe's formula, rounded once per element instead of once per step.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..graph import Layer
from .registry import register, tensor


class CaffeBatchNorm(nn.Module):
    def __init__(self, mean: torch.Tensor, var: torch.Tensor, scale_factor: torch.Tensor, eps: float,
                 use_global_stats: bool = True):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("var", var)
        self.register_buffer("scale_factor", scale_factor)
        self.eps = eps
        self.use_global_stats = use_global_stats
        self._cached: tuple[tuple, tuple[torch.Tensor, torch.Tensor]] | None = None

    def extra_repr(self) -> str:
        return f"{self.mean.numel()}, eps={self.eps}" + ("" if self.use_global_stats else ", batch statistics")

    def statistics(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean*sf, var*sf) in float32, as Caffe computes them.

        Eager calls reuse the last result while the three buffers are the same tensors, unchanged
        (version counters count in-place writes such as load_state_dict's): five small kernels less
        per layer and call. Under torch.compile/torch.export the arithmetic stays in the graph.
        """
        if torch.compiler.is_compiling():
            return self._statistics()
        buffers = (self.mean, self.var, self.scale_factor)
        try:
            key = tuple((t.data_ptr(), t._version, t.device, t.dtype) for t in buffers)
        except RuntimeError:  # inference tensors keep no version counter: no cache
            return self._statistics()
        if self._cached is None or self._cached[0] != key:
            with torch.inference_mode(False):  # normal tensors, usable outside inference mode too
                self._cached = key, self._statistics()
        return self._cached[1]

    def _statistics(self) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.scale_factor
        sf = torch.where(s == 0, 0.0, torch.reciprocal(s))
        return self.mean * sf, self.var * sf

    def forward(self, x: torch.Tensor, weight: torch.Tensor | None = None, bias: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() == 1:  # Caffe: a 1-axis input is one channel
            return self.forward(x[:, None], weight, bias)[:, 0]
        if not self.use_global_stats:
            return F.batch_norm(x, None, None, weight, bias, training=True, eps=self.eps)
        mean, var = self.statistics()
        if weight is not None:
            # One pass; float32 statistics and parameters applied to x of any dtype (autocast).
            return F.batch_norm(x, mean, var, weight, bias, training=False, eps=self.eps)
        per_channel = (-1,) + (1,) * (x.dim() - 2)
        # Applied in x's dtype (a no-op in float32; under autocast the activations stay bf16/fp16
        # instead of being promoted by the float32 buffers).
        mean = mean.view(per_channel).to(x.dtype)
        # The square root is taken in float64 and rounded once: the correctly rounded float32 root
        # that Caffe's powf(v, 0.5) gives. torch's float32 sqrt on the CPU is 1 ulp off on some
        # machines (its vectorised path differs between CPUs), so it cannot carry a bit-exact claim.
        std = torch.sqrt((var + self.eps).double()).to(x.dtype).view(per_channel)
        # Caffe's two passes, not nn.BatchNorm2d's x * invstd + shift: Caffe's bits on Caffe's input,
        # for the graphs that expose this value (verify's).
        return torch.sub(x, mean).div_(std)


@register("BatchNorm", blobs=("mean", "var", "scale_factor"))
def build(layer: Layer, p) -> nn.Module:
    return CaffeBatchNorm(tensor(layer, 0), tensor(layer, 1), tensor(layer, 2), float(p.eps), p.use_global_stats)
