"""MVN: mean (and variance) normalization over each sample's channel planes.

  across_channels false (default): per sample and channel, over H*W; true: per sample, over C*H*W.
  top = x - mean; with normalize_variance (default true): top = (x - mean) / (sqrt(var) + eps),
  var = mean((x - mean)^2) (the population variance), eps default 1e-9, added AFTER the root.
Caffe reads the bottom through its legacy 4-axis accessors: at most 4 axes, and a bottom of fewer
axes gives a top padded to 4 (an N x C bottom becomes N x C x 1 x 1).
"""
from __future__ import annotations

import numpy as np

from .common import scalar
from .registry import register


@register("MVN")
def mvn(p, inputs: list[np.ndarray], blobs) -> list[np.ndarray]:
    (x,) = inputs
    x = x.reshape(x.shape + (1,) * (4 - x.ndim))
    rows = x.reshape(x.shape[0] if p.across_channels else x.shape[0] * x.shape[1], -1)
    centred = rows - rows.mean(axis=1, keepdims=True)
    if p.normalize_variance:
        std = np.sqrt((centred * centred).mean(axis=1, keepdims=True))
        centred = centred / (std + scalar(np.float32(p.eps), x.dtype))
    return [centred.reshape(x.shape)]
