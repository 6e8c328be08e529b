"""The numpy kernels, keyed by Caffe's exact layer type string ("BatchNorm", "Axpy").

A kernel is `forward(layer, inputs) -> outputs`: it reads `layer.param` and `layer.blobs`, never
changes its inputs, and returns one array per top in the dtype of its inputs.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import ConvertError
from ..graph import Layer

Kernel = Callable[[Layer, list[np.ndarray]], list[np.ndarray]]

KERNELS: dict[str, Kernel] = {}


def register(caffe_type: str) -> Callable[[Kernel], Kernel]:
    def add(kernel: Kernel) -> Kernel:
        if caffe_type in KERNELS:
            raise ValueError(
                f"numpy reference: Caffe type '{caffe_type}' registered twice "
                f"({KERNELS[caffe_type].__module__} and {kernel.__module__})"
            )
        KERNELS[caffe_type] = kernel
        return kernel

    return add


def kernel_for(layer: Layer) -> Kernel:
    kernel = KERNELS.get(layer.type)
    if kernel is None:
        raise ConvertError(
            f"{layer.where()}: the numpy reference has no kernel for Caffe type '{layer.type}'; "
            f"supported types: {', '.join(sorted(KERNELS))}"
        )
    return kernel
