"""Writing an ONNX model whose weights are numpy arrays, without copying them.

A ModelProto holds its weights inside the graph message; building one with the weights in it (and then
serializing it) costs two copies of every byte. Protobuf's wire format lets a message's fields come in
any order and a repeated field in pieces, so the file is written as: the model without its graph, the
graph's tag and length, the graph without its initializers, then each initializer as its own small
header (name, type, dims) followed by `raw_data` straight from the array's memory. The result parses
as the same ModelProto that onnx.save would write (tests compare them).

With external data the initializers in the .onnx point into NAME.onnx.data, written the same way:
one array after the other, each at a 64-byte aligned offset (for readers that memory-map it).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import onnx

_LEN = 2  # wire type of length-delimited fields
_GRAPH_IN_MODEL = 7
_INITIALIZER_IN_GRAPH = 5
_RAW_DATA_IN_TENSOR = 9
ALIGN = 64


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _key(field: int) -> bytes:
    return _varint(field << 3 | _LEN)


def _le_bytes(array: np.ndarray) -> memoryview:
    """The array's bytes in little-endian C order, without a copy where it already is one."""
    array = np.ascontiguousarray(array)
    if array.dtype.byteorder == ">" or (array.dtype.byteorder == "=" and np.little_endian is False):
        array = array.astype(array.dtype.newbyteorder("<"))
    return memoryview(array).cast("B")


def tensor_header(name: str, array: np.ndarray) -> onnx.TensorProto:
    """The TensorProto of `array` without its data (name, element type, dims)."""
    header = onnx.TensorProto()
    header.name = name
    header.data_type = onnx.helper.np_dtype_to_tensor_dtype(array.dtype)
    header.dims.extend(int(d) for d in array.shape)
    return header


def write_inline(model: onnx.ModelProto, weights: Sequence[tuple[onnx.TensorProto, np.ndarray]], out: BinaryIO) -> int:
    """Write `model` (whose graph lacks the `weights`' initializers) with them appended, raw_data inline.

    Returns the number of bytes written.
    """
    pieces = []
    for header, array in weights:
        data = _le_bytes(array)
        head = header.SerializeToString() + _key(_RAW_DATA_IN_TENSOR) + _varint(data.nbytes)
        body = len(head) + data.nbytes
        pieces.append((_key(_INITIALIZER_IN_GRAPH) + _varint(body) + head, data))
    graph = model.graph.SerializeToString()
    graph_size = len(graph) + sum(len(prefix) + data.nbytes for prefix, data in pieces)
    rest = onnx.ModelProto()
    rest.CopyFrom(model)  # small: the weights are not in it
    rest.ClearField("graph")
    written = 0
    for chunk in (rest.SerializeToString(), _key(_GRAPH_IN_MODEL) + _varint(graph_size), graph):
        written += out.write(chunk)
    for prefix, data in pieces:
        written += out.write(prefix)
        written += out.write(data)
    return written


def point_to_external(headers: Iterable[tuple[onnx.TensorProto, np.ndarray]], location: str) -> list[tuple[onnx.TensorProto, int, np.ndarray]]:
    """Give each header an external-data reference into `location`, at aligned offsets; returns
    (header, offset, array) in file order."""
    placed, offset = [], 0
    for header, array in headers:
        offset = -(-offset // ALIGN) * ALIGN
        header.data_location = onnx.TensorProto.EXTERNAL
        del header.external_data[:]
        for key, value in (("location", location), ("offset", str(offset)), ("length", str(array.nbytes))):
            entry = header.external_data.add()
            entry.key, entry.value = key, value
        placed.append((header, offset, array))
        offset += array.nbytes
    return placed


def write_external_data(placed: Sequence[tuple[onnx.TensorProto, int, np.ndarray]], path: Path) -> int:
    """The data file of `point_to_external`; returns its size."""
    with open(path, "wb") as out:
        position = 0
        for _, offset, array in placed:
            if offset > position:
                position += out.write(b"\0" * (offset - position))
            position += out.write(_le_bytes(array))
    return position


def sparse_file(path: Path, size: int) -> None:
    """A file of `size` bytes that takes no disk space: what the checker needs to see of external data."""
    with open(path, "wb") as out:
        out.truncate(size)
