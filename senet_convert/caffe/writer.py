"""Writing .caffemodel files (fixtures, synthetic benchmarks, tests).

Layers are streamed one at a time and each weight array is written straight from its
memory, so a 460 MB file never exists twice in memory. Blobs are written as Caffe writes
them: `shape` plus packed float `data`, or in V1 files the legacy num/channels/height/width.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

from ..files import atomic_path
from . import caffe_pb2


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if not value:
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


def _len_field(number: int, payload_size: int) -> bytes:
    return _varint(number << 3 | 2) + _varint(payload_size)


def _blob_header(array: np.ndarray, legacy: bool) -> bytes:
    if legacy:
        dims = (1,) * (4 - array.ndim) + array.shape
        if len(dims) != 4:
            raise ValueError(f"a V1 blob must have at most 4 axes, got {array.shape}")
        head = b"".join(_varint(n << 3) + _varint(d) for n, d in zip((1, 2, 3, 4), dims))
    else:
        packed = b"".join(_varint(d) for d in array.shape)
        shape = _len_field(1, len(packed)) + packed if packed else b""  # Caffe writes a blob of shape () as an empty BlobShape
        head = _len_field(7, len(shape)) + shape
    return head + _len_field(5, array.size * 4)


def write_caffemodel(
    path: str | Path,
    layers: Iterable[tuple[caffe_pb2.LayerParameter, list[np.ndarray]]],
    *,
    name: str = "",
    v1: bool = False,
) -> None:
    """`layers`: (LayerParameter, or V1LayerParameter when v1, without blobs; float32 blobs)."""
    blob_field, layer_field = (6, 2) if v1 else (7, 100)
    with atomic_path(path) as tmp, open(tmp, "wb") as out:
        if name:
            encoded = name.encode()
            out.write(_len_field(1, len(encoded)) + encoded)
        for param, blobs in layers:
            head = param.SerializeToString()
            arrays = [np.require(b, dtype="<f4", requirements="C") for b in blobs]  # keeps 0-d blobs 0-d
            headers = [_blob_header(a, v1) for a in arrays]
            blob_sizes = [len(h) + a.nbytes for h, a in zip(headers, arrays)]
            total = len(head) + sum(len(_len_field(blob_field, s)) + s for s in blob_sizes)
            out.write(_len_field(layer_field, total) + head)
            for header, array, size in zip(headers, arrays, blob_sizes):
                out.write(_len_field(blob_field, size) + header)
                out.write(memoryview(array).cast("B"))


def layer_header(layer) -> caffe_pb2.LayerParameter:
    """The part of a graph Layer a caffemodel repeats: name, type, bottoms and tops."""
    return caffe_pb2.LayerParameter(
        name=layer.name, type=layer.type, bottom=list(layer.caffe_bottoms), top=list(layer.caffe_tops)
    )


def write_net_weights(net, path: str | Path, blob_for) -> None:
    """Write a caffemodel for `net` whose blob i of each layer is `blob_for(name, type, i, shape)`."""
    def layers():  # one layer's blobs at a time: a big net is never held whole
        for layer in net.layers:
            shapes = layer.setup.blobs
            yield layer_header(layer), [blob_for(layer.name, layer.type, i, s) for i, s in enumerate(shapes)]

    write_caffemodel(path, layers(), name=net.name)
