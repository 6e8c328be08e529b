"""BatchNorm: per-channel normalisation (axis 1; a 1-axis bottom is one channel).

Blobs: mean*s (C,), var*s (C,), the moving-average scale factor s (1,). use_global_stats defaults to
true in the TEST phase. eps (default 1e-5, the float32 Caffe stores) must be finite and not negative:
Caffe takes (var + eps)^0.5, which a negative eps turns into NaN wherever var < -eps.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .registry import layer_type, require


@dataclass(frozen=True)
class BatchNormParams:
    eps: float
    use_global_stats: bool
    channels: int


@layer_type("BatchNorm")
def batch_norm(param, shapes):
    p, shape = param.batch_norm_param, shapes[0]
    require(math.isfinite(p.eps) and p.eps >= 0, f"eps {p.eps:g} must be finite and not negative")
    channels = shape[1] if len(shape) > 1 else 1
    use_global_stats = p.use_global_stats if p.HasField("use_global_stats") else True
    return BatchNormParams(p.eps, use_global_stats, channels), [shape], [(channels,), (channels,), (1,)]
