"""The builders, keyed by Caffe's exact layer type string ("BatchNorm", "Axpy").

A builder is `build(layer) -> nn.Module`: a pure function of the Layer that copies the layer's
blobs (once) into float32 parameters or buffers. `blobs` names, in Caffe's blob order, the
attribute of the module that holds each blob, so `<module>.<attribute>` state_dict keys map back
to (Caffe layer, blob index); a callable gives the names for one layer.
"""
from __future__ import annotations

import contextvars
from typing import Callable, NoReturn, Sequence, Union

import numpy as np
import torch
from torch import nn

from ..errors import ConvertError
from ..graph import Layer

Builder = Callable[[Layer], nn.Module]
BlobNames = Union[tuple[str, ...], Callable[[Layer], tuple[str, ...]]]

BUILDERS: dict[str, Builder] = {}
BLOB_NAMES: dict[str, BlobNames] = {}


def register(caffe_type: str, *, blobs: BlobNames = ()) -> Callable[[Builder], Builder]:
    def add(build: Builder) -> Builder:
        if caffe_type in BUILDERS:
            raise ValueError(
                f"torch lowering: Caffe type '{caffe_type}' registered twice "
                f"({BUILDERS[caffe_type].__module__} and {build.__module__})"
            )
        BUILDERS[caffe_type] = build
        BLOB_NAMES[caffe_type] = blobs
        return build

    return add


def _entry(layer: Layer) -> str:
    if layer.type not in BUILDERS:
        raise ConvertError(
            f"{layer.where()}: the torch lowering has no builder for Caffe type '{layer.type}'; "
            f"supported types: {', '.join(sorted(BUILDERS))}"
        )
    return layer.type


def build(layer: Layer) -> nn.Module:
    return BUILDERS[_entry(layer)](layer)


def blob_names(layer: Layer) -> tuple[str, ...]:
    """The module attribute holding each of the layer's blobs, in Caffe's order."""
    names = BLOB_NAMES[_entry(layer)]
    names = names(layer) if callable(names) else names
    return tuple(names[: len(layer.blobs)])


# ---- helpers shared by the builders: parameter reading only, no arithmetic ----


def fail(layer: Layer, message: str) -> NoReturn:
    raise ConvertError(f"{layer.where()}: {message}")


def require(condition: bool, layer: Layer, message: str) -> None:
    if not condition:
        fail(layer, message)


def n_bottoms(layer: Layer, *allowed: int) -> int:
    n = len(layer.bottoms)
    if allowed and n not in allowed:
        fail(layer, f"takes {' or '.join(map(str, allowed))} bottoms, got {n}")
    return n


def n_blobs(layer: Layer, expected: int) -> None:
    require(
        len(layer.blobs) == expected, layer,
        f"needs {expected} learned blobs, has {len(layer.blobs)}" + ("" if layer.blobs else " (no weights loaded?)"),
    )


# While set (lower(..., share_weights=True)), blobs become tensors over the same memory: a
# conversion that owns its Net then holds the weights once, not twice.
SHARE_WEIGHTS: contextvars.ContextVar[bool] = contextvars.ContextVar("share_weights", default=False)


def tensor(layer: Layer, index: int, shape: Sequence[int] | None = None) -> torch.Tensor:
    """Blob `index` as a float32 tensor, reshaped to `shape` if given: a new copy, or the same
    memory under SHARE_WEIGHTS when the array allows it (float32, contiguous, aligned, writable)."""
    array = np.asarray(layer.blobs[index], dtype=np.float32)
    if shape is not None:
        shape = tuple(int(d) for d in shape)
        require(
            array.size == int(np.prod(shape)), layer,
            f"blob {index} has shape {array.shape}, expected {shape}",
        )
        array = array.reshape(shape)
    flags = array.flags
    if SHARE_WEIGHTS.get() and flags.c_contiguous and flags.aligned and flags.writeable:
        return torch.from_numpy(array)
    return torch.tensor(array)


def parameter(layer: Layer, index: int, shape: Sequence[int] | None = None) -> nn.Parameter:
    return nn.Parameter(tensor(layer, index, shape))


def axis_index(axis: int, ndim: int) -> int:
    # Blob::CanonicalAxisIndex: -ndim <= axis < ndim, negative counts from the end.
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for a {ndim}-axis input")
    return axis + ndim if axis < 0 else axis
