"""Parameter: no bottom; its one top is its learned blob, of shape parameter_param.shape."""
from __future__ import annotations

import numpy as np

from .registry import register


@register("Parameter")
def parameter(p, inputs: list[np.ndarray], blobs) -> list[np.ndarray]:
    return [blobs[0].reshape(p.shape).copy()]  # run() casts it to the working dtype
