"""The builders, registered per Caffe type string ("BatchNorm", "Axpy") of the layer registry.

A builder is `build(layer, params) -> nn.Module`: a pure function of the Layer and its validated
parameters (caffe.layers) that copies the layer's
blobs (once) into float32 parameters or buffers. `blobs` names, in Caffe's blob order, the
attribute of the module that holds each blob, so `<module>.<attribute>` state_dict keys map back
to (Caffe layer, blob index); a callable gives the names for one layer.
"""
from __future__ import annotations

import contextvars
from typing import Callable, Sequence, Union

import numpy as np
import torch
from torch import nn

from ..caffe.layers import Backend, Setup, check_blobs, setup_of
from ..graph import Layer
from ..layer_checks import require

Builder = Callable[[Layer, object], nn.Module]
BlobNames = Union[tuple[str, ...], Callable[[Layer], tuple[str, ...]]]

BUILDERS = Backend("torch lowering", "builder", arity=2)


def register(caffe_type: str, *, blobs: BlobNames = ()) -> Callable[[Builder], Builder]:
    return BUILDERS.register(caffe_type, blobs=blobs)


def build(layer: Layer, setup: Setup | None = None) -> nn.Module:
    """The module of one layer, from its validated parameters (the loader's Setup unless given)."""
    builder = BUILDERS.lookup(layer)
    setup = setup or setup_of(layer)
    check_blobs(layer, setup)
    if BUILDERS.reads_layer(layer.type):  # a plugin's shape-only type: the builder reads layer.param itself
        return builder(layer)
    return builder(layer, setup.params)


def blob_names(layer: Layer) -> tuple[str, ...]:
    """The module attribute holding each of the layer's blobs, in Caffe's order."""
    BUILDERS.lookup(layer)
    names = BUILDERS.extra[layer.type]["blobs"]
    names = names(layer) if callable(names) else names
    return tuple(names[: len(layer.blobs)])


# ---- blob access shared by the builders ----










# While set (lower(..., share_weights=True)), blobs become tensors over the same memory: a
# conversion that owns its Net then holds the weights once, not twice.
SHARE_WEIGHTS: contextvars.ContextVar[bool] = contextvars.ContextVar("share_weights", default=False)


def tensor(layer: Layer, index: int, shape: Sequence[int] | None = None) -> torch.Tensor:
    """Blob `index` as a float32 tensor, reshaped to `shape` if given: a new copy, or the same memory
    under SHARE_WEIGHTS when the array allows it (float32, contiguous, aligned, writable)."""
    array = np.asarray(layer.blobs[index], dtype=np.float32)
    if shape is not None:
        shape = tuple(int(d) for d in shape)
        require(array.size == int(np.prod(shape)), layer, f"blob {index} has shape {array.shape}, expected {shape}")
        array = array.reshape(shape)
    flags = array.flags
    if SHARE_WEIGHTS.get() and flags.c_contiguous and flags.aligned and flags.writeable:
        return torch.from_numpy(array)
    return torch.tensor(array)


def parameter(layer: Layer, index: int, shape: Sequence[int] | None = None) -> nn.Parameter:
    return nn.Parameter(tensor(layer, index, shape))

