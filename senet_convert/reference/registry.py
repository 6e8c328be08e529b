"""The numpy kernels, registered per Caffe type string ("BatchNorm", "Axpy") of the layer registry.

A kernel is `forward(params, inputs, blobs) -> outputs`: `params` are the type's validated
parameters (caffe.layers), `blobs` the learned blobs in the working dtype, checked against the
shapes Caffe allocates. It never changes its inputs and returns one array per top in their dtype.
A type a plugin registers shape-only (shapes.rule) has no typed parameters: its kernel is
`forward(layer, inputs)` and reads `layer.param` and `layer.blobs` itself.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..caffe.layers import Backend

Kernel = Callable[[object, list[np.ndarray], list[np.ndarray]], list[np.ndarray]]

KERNELS = Backend("numpy reference", "kernel", arity=3)
register = KERNELS.register
kernel_for = KERNELS.lookup
