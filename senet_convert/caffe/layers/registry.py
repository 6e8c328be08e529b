"""The layer registry: every Caffe type once, by its exact type string ("BatchNorm", "Axpy").

A type is registered with the code that reads and validates its typed parameters and computes its
top shapes and the shapes of the learned blobs Caffe allocates (what Caffe's LayerSetUp + Reshape
do), with the number of bottoms and tops it takes declared beside it. `set_up` checks those counts
once and returns a `Setup`: the validated parameters (a frozen dataclass per type, Caffe's defaults
applied), the top shapes and the blob shapes. The loader sets every layer up; each backend (the
numpy oracle in reference/, the torch lowering in to_torch/, ONNX in to_onnx/) registers its own
implementation of the type in a `Backend` and reads only `Setup.params`: the backends share the
reading of the parameters and none of the arithmetic, output sizes included.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any, Callable, NoReturn, Sequence

from ...errors import ConvertError

Shape = tuple[int, ...]
# Caffe's limits: kMaxBlobAxes, and an element count that fits its int.
MAX_AXES = 32
MAX_COUNT = 2**31 - 1


class LayerError(Exception):
    """A layer's parameters or shapes break Caffe's rules (the message names no layer; callers add it)."""


def refuse(message: str) -> NoReturn:
    raise LayerError(message)


def require(condition: bool, message: str) -> None:
    if not condition:
        raise LayerError(message)


@dataclass(frozen=True)
class Setup:
    params: Any  # the type's validated parameters
    tops: tuple[Shape, ...]
    blobs: tuple[Shape, ...]  # learned blob shapes, in Caffe's blob order


Reader = Callable[..., tuple[Any, list[Shape], list[Shape]]]


@dataclass(frozen=True)
class Spec:
    type: str
    read: Reader  # (LayerParameter, bottom shapes) -> (params, top shapes, blob shapes)
    bottoms: tuple[int, int | None]  # (min, max); None: no maximum
    tops: tuple[int, int | None]
    family: str  # the file name shared by the backends: "pooling" for caffe/layers/pooling.py

    @property
    def module(self) -> str:
        return self.read.__module__


SPECS: dict[str, Spec] = {}


def _range(count: int | tuple[int, int | None]) -> tuple[int, int | None]:
    return (count, count) if isinstance(count, int) else count


def layer_type(caffe_type: str, *, bottoms: int | tuple[int, int | None] = 1, tops: int | tuple[int, int | None] = 1):
    """Register `read(param, bottom_shapes) -> (params, top shapes, blob shapes)` for `caffe_type`."""

    def add(read: Reader) -> Reader:
        if caffe_type in SPECS:
            raise ValueError(f"Caffe type '{caffe_type}' registered twice ({SPECS[caffe_type].module} and {read.__module__})")
        family = read.__module__.rsplit(".", 1)[-1]
        SPECS[caffe_type] = Spec(caffe_type, read, _range(bottoms), _range(tops), family)
        return read

    return add


def supported() -> str:
    return ", ".join(sorted(SPECS))


def fmt(shape: Shape) -> str:
    return "x".join(str(d) for d in shape) if shape else "scalar"


def check_shape(shape: Shape, what: str) -> Shape:
    """A blob shape Caffe could hold: at most 32 axes, every dimension positive, at most 2^31-1 elements."""
    if len(shape) > MAX_AXES:
        raise LayerError(f"{what} has {len(shape)} axes, more than Caffe's limit of {MAX_AXES}")
    if any(d < 1 for d in shape):
        raise LayerError(f"{what} has a non-positive dimension: {fmt(shape)}")
    if math.prod(shape) > MAX_COUNT:
        raise LayerError(f"{what} {fmt(shape)} has {math.prod(shape)} elements, more than Caffe's limit of 2^31-1")
    return shape


def canonical_axis(axis: int, ndim: int) -> int:
    # Blob::CanonicalAxisIndex: -ndim <= axis < ndim, negative counts from the end.
    require(-ndim <= axis < ndim, f"axis {axis} is out of range for a {ndim}-axis input")
    return axis % ndim


def _wanted(low: int, high: int | None) -> str:
    return f"{low}" if low == high else f"at least {low}" if high is None else f"{low} to {high}"


def set_up(caffe_type: str, param, shapes: list[Shape], top_names: Sequence[str]) -> Setup:
    """Caffe's LayerSetUp + Reshape for one layer: counts, parameters, shapes (LayerError when they break Caffe's rules)."""
    n_tops = len(top_names)
    spec = SPECS.get(caffe_type)
    if spec is None:
        raise LayerError(f"unknown layer type '{caffe_type}'; supported: Input, {supported()}")
    low, high = spec.bottoms
    if len(shapes) < low or (high is not None and len(shapes) > high):
        raise LayerError(f"takes {_wanted(low, high)} bottoms, got {len(shapes)}")
    low, high = spec.tops
    if n_tops < low or (high is not None and n_tops > high):
        raise LayerError(f"has {n_tops} tops, expected {_wanted(low, high)}")
    params, tops, blobs = spec.read(param, [tuple(s) for s in shapes])
    tops = tuple(tuple(s) for s in tops)
    if len(tops) != n_tops:
        raise LayerError(f"has {n_tops} tops, expected {len(tops)}")
    for name, shape in zip(top_names, tops):
        check_shape(shape, f"top '{name}'")
    blobs = tuple(tuple(s) for s in blobs)
    for i, shape in enumerate(blobs):
        check_shape(shape, f"blob {i}")
    return Setup(params, tops, blobs)


def setup_of(layer, shapes: list[Shape] | None = None) -> Setup:
    """The layer's Setup: the loader's, or computed from `shapes` for a layer built by hand."""
    if layer.setup is not None:
        return layer.setup
    if shapes is None:
        raise ConvertError(f"{layer.where()}: not set up (built without the loader and without bottom shapes)")
    try:
        return set_up(layer.type, layer.param, list(shapes), layer.tops)
    except LayerError as exc:
        raise ConvertError(f"{layer.where()}: {exc}") from None


class Backend:
    """One backend's implementations, keyed by the registry's type strings."""

    def __init__(self, name: str, what: str, arity: int):
        self.name, self.what = name, what  # e.g. "numpy reference", "kernel"
        self.arity = arity  # of an implementation that takes the validated parameters
        self.impls: dict[str, Any] = {}
        self.extra: dict[str, dict] = {}

    def register(self, caffe_type: str, **extra) -> Callable:
        def add(impl):
            if caffe_type in self.impls:
                raise ValueError(
                    f"{self.name}: Caffe type '{caffe_type}' registered twice "
                    f"({self.impls[caffe_type].__module__} and {impl.__module__})"
                )
            if caffe_type not in SPECS:
                raise ValueError(f"{self.name}: '{caffe_type}' is not a registered Caffe type ({impl.__module__})")
            self.impls[caffe_type] = impl
            # One argument fewer: a plugin's shape-only type (shapes.rule), whose implementation reads layer.param.
            self.extra[caffe_type] = {**extra, "reads_layer": len(inspect.signature(impl).parameters) < self.arity}
            return impl

        return add

    def types(self) -> tuple[str, ...]:
        return tuple(sorted(self.impls))

    def __getitem__(self, caffe_type: str):
        return self.impls[caffe_type]

    def __delitem__(self, caffe_type: str) -> None:
        del self.impls[caffe_type], self.extra[caffe_type]

    def reads_layer(self, caffe_type: str) -> bool:
        return self.extra[caffe_type]["reads_layer"]

    def __contains__(self, caffe_type: object) -> bool:
        return caffe_type in self.impls

    def __iter__(self):
        return iter(self.impls)

    def __len__(self) -> int:
        return len(self.impls)

    def lookup(self, layer):
        impl = self.impls.get(layer.type)
        if impl is None:
                    raise ConvertError(
                f"{layer.where()}: the {self.name} has no {self.what} for Caffe type '{layer.type}'; "
                f"supported types: {', '.join(sorted(self.impls))}"
            )
        return impl


def check_blobs(layer, setup: Setup) -> None:
    """The layer holds the learned blobs its Setup implies: their number, then each shape."""
    if len(layer.blobs) != len(setup.blobs):
        raise ConvertError(
            f"{layer.where()}: needs {len(setup.blobs)} learned blobs, has {len(layer.blobs)}"
            + ("" if layer.blobs else " (no weights loaded?)")
        )
    for index, (blob, shape) in enumerate(zip(layer.blobs, setup.blobs)):
        if tuple(blob.shape) != tuple(shape):
            raise ConvertError(f"{layer.where()}: blob {index} has shape {tuple(blob.shape)}, expected {tuple(shape)}")
