"""Caffe's layer types: each registered once (registry.py) with the reading and validation of its
typed parameters and its shapes, one file per layer family. The backends use the same file names."""
from __future__ import annotations

# Importing a family registers its types.
from . import activation, batchnorm, conv, deconv, eltwise, inner_product, lrn, pooling, scale, softmax, tensor
from .registry import SPECS, Backend, LayerError, Setup, check_blobs, set_up, setup_of

# The types read shape-only (their backends read layer.param themselves); importing registers them.
from ... import more_shapes

__all__ = ["SPECS", "Backend", "LayerError", "Setup", "check_blobs", "set_up", "setup_of"]
