"""BatchNorm (normalisation only; the affine part is the Scale layer that follows).

Statistics are per channel (axis 1; a 1-axis input is one channel). Blobs: mean*s, var*s, [s], where s
is the moving-average scale factor. With use_global_stats (the default in the TEST phase):
  sf   = 0 if s == 0 else 1/s        (a float32 reciprocal, as Caffe computes it)
  top  = (x - blob0*sf) / sqrt(blob1*sf + eps)
With use_global_stats: false the batch's own statistics are used instead:
  mean = E[x], var = E[(x - mean)^2] over batch and spatial positions, top = (x - mean) / sqrt(var + eps).
eps defaults to 1e-5, read as the float32 value Caffe stores.
"""
from __future__ import annotations

import numpy as np

from .common import scalar
from .registry import register


@register("BatchNorm")
def batch_norm(p, inputs, blobs):
    (x,) = inputs
    eps = scalar(p.eps, x.dtype)
    # (N, C, everything else); statistics broadcast as (1, C, 1)
    grouped = x.reshape(x.shape[0], p.channels, -1)
    if p.use_global_stats:
        s = np.float32(blobs[2].ravel()[0])
        sf = scalar(np.float32(0) if s == 0 else np.float32(1) / s, x.dtype)
        mean, var = blobs[0] * sf, blobs[1] * sf
    else:
        mean = grouped.mean(axis=(0, 2))
        var = ((grouped - mean[None, :, None]) ** 2).mean(axis=(0, 2))
    y = (grouped - mean[None, :, None]) / np.sqrt(var + eps)[None, :, None]
    return [y.reshape(x.shape)]
