"""Caffe's layer types: each registered once (registry.py) with the reading and validation of its
typed parameters and its shapes, one file per layer family. The backends use the same file names."""
from __future__ import annotations

# Importing a family registers its types.
from . import activation, batchnorm, conv, deconv, eltwise, inner_product, lrn, pooling, scale, softmax, tensor
from . import embed, neuron, normalization, parameter, reduction, slicing, spp
from .registry import SPECS, Backend, LayerError, Setup, check_blobs, set_up, setup_of

__all__ = ["SPECS", "Backend", "LayerError", "Setup", "check_blobs", "set_up", "setup_of"]
