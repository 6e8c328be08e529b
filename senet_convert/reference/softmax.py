"""Softmax along the canonical `axis`, computed as Caffe does it:
  m = max over axis; e = exp(x - m); top = e / sum over axis of e.
"""
from __future__ import annotations

import numpy as np

from .registry import register


@register("Softmax")
def softmax(p, inputs, blobs):
    (x,) = inputs
    e = np.exp(x - x.max(axis=p.axis, keepdims=True))
    return [e / e.sum(axis=p.axis, keepdims=True)]
