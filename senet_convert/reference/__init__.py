"""The numpy reference ("oracle"): runs a Net layer by layer, in float64 unless asked otherwise.

It is the independent half of every parity check: it reads the same validated Caffe parameters as the
torch lowering (caffe.layers) but shares none of its arithmetic (output sizes included), and it never
imports torch.
Its kernels are pinned to real Caffe by the goldens in ../shared/goldens.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from ..caffe.layers import check_blobs, setup_of
from ..errors import ConvertError
from ..graph import Layer, Net

# Importing a family registers its kernels.
from . import activation, batchnorm, conv, eltwise, inner_product, lrn, pooling, scale, softmax, tensor
from . import deconv, embed, neuron, normalization, parameter, reduction, slicing, spp
from .common import DataError
from .registry import KERNELS, Kernel, kernel_for, register

SUPPORTED_TYPES: tuple[str, ...] = KERNELS.types()

__all__ = ["KERNELS", "SUPPORTED_TYPES", "Kernel", "forward", "kernel_for", "register", "run"]


def forward(layer: Layer, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """One layer on `inputs` (arrays of one float dtype): its tops, in that dtype."""
    kernel = kernel_for(layer)
    setup = setup_of(layer, [x.shape for x in inputs])
    check_blobs(layer, setup)
    if KERNELS.reads_layer(layer.type):  # a plugin's shape-only type: the kernel reads layer.param itself
        return kernel(layer, inputs)
    dtype = inputs[0].dtype if inputs else np.dtype(np.float64)
    blobs = [np.asarray(b).astype(dtype, copy=False) for b in layer.blobs]
    try:
        return kernel(setup.params, inputs, blobs)
    except DataError as exc:
        raise ConvertError(f"{layer.where()}: {exc}") from None


def _check_call(net: Net, inputs: Mapping[str, np.ndarray], wanted: list[str]) -> None:
    """The inputs are the net's (any batch), and every wanted value is one the net defines."""
    missing = [name for name in net.inputs if name not in inputs]
    unknown = [name for name in inputs if name not in net.inputs]
    if missing or unknown:
        raise ConvertError(
            f"net '{net.name}' takes inputs {list(net.inputs)}; "
            + "; ".join(f"{what}: {names}" for what, names in (("missing", missing), ("unknown", unknown)) if names)
        )
    for name, shape in net.inputs.items():
        given = np.shape(inputs[name])
        if len(given) != len(shape) or tuple(given[1:]) != tuple(shape[1:]):
            raise ConvertError(f"net '{net.name}': input '{name}' has shape {given}, the net takes {shape} (any batch)")
    defined = set(net.values())
    absent = [name for name in wanted if name not in defined]
    if absent:
        raise ConvertError(f"net '{net.name}' has no values named {absent}")


def run(
    net: Net,
    inputs: Mapping[str, np.ndarray],
    *,
    dtype=np.float64,
    intermediate: bool = False,
    outputs: Iterable[str] | None = None,
) -> dict[str, np.ndarray]:
    """Execute `net` on `inputs` (input value name -> array).

    Returns `outputs` (value names; default `net.outputs`), or with `intermediate=True` every value
    of the net, inputs included. Values are computed in `dtype` (float64 or float32); values that
    nothing needs any more are freed on the way. Returned arrays may share memory (Reshape and
    Flatten return views): treat them as read-only.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, not {dtype}")
    if intermediate and outputs is not None:
        raise TypeError("pass either intermediate=True or outputs, not both")
    wanted = list(net.outputs if outputs is None else outputs)
    _check_call(net, inputs, wanted)
    last_use = {name: i for i, layer in enumerate(net.layers) for name in layer.bottoms}
    keep = set(wanted)
    values = {name: np.array(inputs[name], dtype=dtype) for name in net.inputs}
    for i, layer in enumerate(net.layers):
        try:
            args = [values[name] for name in layer.bottoms]
        except KeyError as exc:
            raise ConvertError(f"{layer.where()}: reads '{exc.args[0]}', which no earlier layer defines") from None
        tops = forward(layer, args)
        if not layer.bottoms:  # a layer without bottoms (Parameter) cannot see the working dtype
            tops = [np.asarray(top, dtype=dtype) for top in tops]
        if len(tops) != len(layer.tops) or any(top.dtype != dtype for top in tops):
            raise TypeError(
                f"numpy reference bug: the '{layer.type}' kernel returned {len(tops)} arrays of dtypes "
                f"{[str(t.dtype) for t in tops]} for {len(layer.tops)} tops in {dtype}"
            )
        values.update(zip(layer.tops, tops))
        if not intermediate:
            for name in set(layer.bottoms) | set(layer.tops):
                if last_use.get(name, -1) <= i and name not in keep:
                    del values[name]
    if intermediate:
        return values
    return {name: values[name] for name in wanted}
