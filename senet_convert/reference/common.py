"""What the kernels share: Caffe's float parameters as scalars of the working dtype, and for the kernels that
read `layer.param` themselves (shape-only types, see shapes.py) blob access and errors. No arithmetic.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..graph import Layer
from ..layer_checks import axis_index as canonical_axis  # noqa: F401  (for the shape-only kernels)
from ..layer_checks import fail, require


def n_inputs(layer: Layer, inputs: Sequence[np.ndarray], *allowed: int) -> None:
    if len(inputs) not in allowed:
        expected = " or ".join(str(n) for n in allowed)
        fail(layer, f"takes {expected} bottoms, got {len(inputs)}")


def count(shape: Sequence[int], start: int = 0, end: int | None = None) -> int:
    return math.prod(shape[start:end])


def blob(layer: Layer, index: int, dtype: np.dtype, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Learned blob `index` in the working dtype, checked against the shape Caffe would create."""
    require(
        index < len(layer.blobs), layer,
        f"needs learned blob {index}, but the layer has {len(layer.blobs)} blobs (no weights loaded?)",
    )
    value = np.asarray(layer.blobs[index])
    if shape is not None:
        require(
            value.shape == tuple(shape), layer,
            f"blob {index} has shape {value.shape}, expected {tuple(shape)}",
        )
    return value.astype(dtype, copy=False)


def scalar(value: float, dtype: np.dtype) -> np.generic:
    # Caffe's float parameters (eps, coeff, negative_slope) as a scalar of the working dtype, so that
    # arithmetic with it keeps that dtype.
    return np.dtype(dtype).type(value)
