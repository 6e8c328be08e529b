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

from ..graph import Layer
from .common import blob, n_inputs, require, scalar
from .registry import register


@register("BatchNorm")
def forward(layer: Layer, inputs: list[np.ndarray]) -> list[np.ndarray]:
    n_inputs(layer, inputs, 1)
    (x,) = inputs
    p = layer.param.batch_norm_param
    eps = scalar(p.eps, x.dtype)
    channels = x.shape[1] if x.ndim > 1 else 1
    # (N, C, everything else); statistics broadcast as (1, C, 1)
    grouped = x.reshape(x.shape[0], channels, -1)
    use_global_stats = p.use_global_stats if p.HasField("use_global_stats") else True
    if use_global_stats:
        factor = blob(layer, 2, np.float32)
        require(factor.size == 1, layer, f"blob 2 (the scale factor) must hold one value, has shape {factor.shape}")
        s = np.float32(factor.ravel()[0])
        sf = np.float32(0) if s == 0 else np.float32(1) / s
        sf = scalar(sf, x.dtype)
        mean = blob(layer, 0, x.dtype, (channels,)) * sf
        var = blob(layer, 1, x.dtype, (channels,)) * sf
    else:
        mean = grouped.mean(axis=(0, 2))
        var = ((grouped - mean[None, :, None]) ** 2).mean(axis=(0, 2))
    y = (grouped - mean[None, :, None]) / np.sqrt(var + eps)[None, :, None]
    return [y.reshape(x.shape)]
