"""verify's synthetic input kept small whatever size the prototxt declares.

verify holds every value of the net twice (the oracle's float64 and torch's float32), so its memory
grows with the input's area: a legal global-pool net declared for 3 x 6000 x 6000 took 8 GiB. When
a synthetic sample would hold more than MAX_SAMPLE_VALUES values and no weight depends on the
spatial size (fully convolutional nets, global pooling before the classifier), the net is verified
at a smaller size with the same weights: each layer's arithmetic is the one that runs at the
declared size, and the report says which size ran. Whether a weight depends on the size is Caffe's
own answer: the net is rebuilt at the smaller size and every layer's blobs must still fit (an
InnerProduct over a flattened feature map does not), else the declared size is kept.
"""
from __future__ import annotations

import math

from ..caffe import caffe_pb2
from ..edits.notes import edit
from ..errors import ConvertError
from ..graph import Net

MAX_SAMPLE_VALUES = 3 * 512 * 512


def _smaller(shape: tuple[int, ...]) -> tuple[int, ...]:
    scale = math.sqrt(MAX_SAMPLE_VALUES / math.prod(shape[1:]))
    return (*shape[:2], *(max(1, int(d * scale)) for d in shape[2:]))


def _resize(sizes: dict[str, tuple[int, ...]]):
    """The edit setting each named input's spatial dims, in whichever of Caffe's three forms it is declared."""
    def change(proto: caffe_pb2.NetParameter) -> dict:
        for i, name in enumerate(proto.input):
            if name not in sizes:
                continue
            if i < len(proto.input_shape):
                proto.input_shape[i].dim[2:] = list(sizes[name][2:])
            elif len(proto.input_dim) == 4 * len(proto.input):
                proto.input_dim[4 * i + 2 : 4 * i + 4] = list(sizes[name][2:4])
        for layer in proto.layer:
            if layer.type == "Input":
                for top, shape in zip(layer.top, layer.input_param.shape):
                    if top in sizes:
                        shape.dim[2:] = list(sizes[top][2:])
        return {}

    return change


def _dims(shape) -> str:
    return "x".join(map(str, shape[1:]))


def fit_for_verify(net: Net, *, fixed: bool = False) -> tuple[Net, str | None]:
    """`net`, or the same net at a smaller input size and a note saying so (see the module text).
    `fixed`: something else fixes the input size (a file to check, an input given): `net` as it is."""
    sizes = {} if fixed else {name: _smaller(shape) for name, shape in net.inputs.items()
                              if len(shape) == 4 and math.prod(shape[1:]) > MAX_SAMPLE_VALUES}
    if not sizes:
        return net, None
    declared = ", ".join(f"{name!r} {_dims(net.inputs[name])}" if "\n" in name else f"{name} {_dims(net.inputs[name])}" for name in sizes)
    chosen = ", ".join(_dims(size) for size in sizes.values())
    try:
        small = edit(net, _resize(sizes), "verify-size", f"verified at {chosen} instead of {declared}")
    except ConvertError:  # a weight depends on the size, or a layer does not fit the smaller input
        return net, None
    if any(small.inputs.get(name) != size for name, size in sizes.items()):
        return net, None
    largest = max(math.prod(net.inputs[name][1:]) for name in sizes)
    return small, (f"input {declared} verified at {chosen}: no weight depends on the spatial size, and a sample of the "
                   f"declared size would hold {largest:,} values; the same weights and layers run at either size")
