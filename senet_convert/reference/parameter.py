"""Parameter: no bottom; its one top is its learned blob, of shape parameter_param.shape."""
from __future__ import annotations

import numpy as np

from ..graph import Layer
from .common import blob, n_inputs
from .registry import register


@register("Parameter")
def parameter(layer: Layer, inputs: list[np.ndarray]) -> list[np.ndarray]:
    n_inputs(layer, inputs, 0)
    shape = tuple(int(d) for d in layer.param.parameter_param.shape.dim)
    return [blob(layer, 0, np.float32, shape).copy()]  # run() casts it to the working dtype
