"""Reading a .caffemodel (a binary NetParameter) without holding it twice.

protobuf's ParseFromString would copy every weight into the parsed message and numpy would
copy it again (about 3x the file in memory, and a 64 MB limit in old runtimes). Weights are
almost all of a caffemodel, and they are stored as packed little-endian floats, so this
module walks the wire format itself: the file is read once into one buffer, every packed
`BlobProto.data` becomes a numpy view into that buffer, and only the small non-blob part of
each layer is handed to protobuf. Peak memory is the file plus a few KB per layer.

Wire-format facts used (protobuf encoding; Caffe's field numbers):
  NetParameter: name = 1, layers (V1) = 2, layer = 100
  LayerParameter: blobs = 7;  V1LayerParameter: blobs = 6, type = 5 (enum)
  BlobProto: num/channels/height/width = 1..4, data = 5 (packed float), diff = 6,
             shape = 7 (BlobShape: dim = 1, packed int64), double_data = 8, double_diff = 9
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from google.protobuf.message import DecodeError

from ..errors import ConvertError
from . import caffe_pb2
from .upgrade import v1_type_name

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
_MAX_DIMS = 32


@dataclass
class StoredBlob:
    data: np.ndarray  # float32, flat
    shape: tuple[int, ...] | None  # from BlobShape
    legacy: tuple[int, int, int, int] | None  # (num, channels, height, width)


@dataclass
class StoredLayer:
    name: str
    type: str
    bottoms: list[str]
    tops: list[str]
    blobs: list[StoredBlob] = field(default_factory=list)


@dataclass
class CaffeModel:
    path: Path
    name: str
    layers: list[StoredLayer]
    size: int
    buffer: bytearray | None = None  # owns the memory the blob views point into


class _Corrupt(Exception):
    pass


def _varint(buf: memoryview, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end:
            raise _Corrupt("varint runs past the end")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise _Corrupt("varint longer than 10 bytes")


def _fields(buf: memoryview, pos: int, end: int):
    """Yield (field_number, wire_type, value_or_start, stop) for each field in [pos, end)."""
    while pos < end:
        key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _Corrupt("field number 0")
        if wire == _VARINT:
            value, pos = _varint(buf, pos, end)
            yield number, wire, value, pos
        elif wire == _LEN:
            length, pos = _varint(buf, pos, end)
            stop = pos + length
            if stop > end:
                raise _Corrupt(f"a {length}-byte field runs past the end")
            yield number, wire, pos, stop
            pos = stop
        elif wire == _I32:
            if pos + 4 > end:
                raise _Corrupt("fixed32 runs past the end")
            yield number, wire, pos, pos + 4
            pos += 4
        elif wire == _I64:
            if pos + 8 > end:
                raise _Corrupt("fixed64 runs past the end")
            yield number, wire, pos, pos + 8
            pos += 8
        else:
            raise _Corrupt(f"invalid wire type {wire}")


def _packed_varints(buf: memoryview, start: int, stop: int) -> list[int]:
    values = []
    while start < stop:
        value, start = _varint(buf, start, stop)
        values.append(value - (1 << 64) if value >= 1 << 63 else value)
    return values


def _as_int32(value: int) -> int:
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def _read_blob(buffer: bytearray, buf: memoryview, start: int, stop: int) -> StoredBlob:
    floats: list[np.ndarray] = []
    doubles: list[np.ndarray] = []
    shape: list[int] | None = None
    legacy = [0, 0, 0, 0]
    has_legacy = False
    for number, wire, a, b in _fields(buf, start, stop):
        if number == 5:  # data
            if wire == _LEN:
                if (b - a) % 4:
                    raise _Corrupt("packed float data of odd length")
                floats.append(np.frombuffer(buffer, dtype="<f4", count=(b - a) // 4, offset=a))
            elif wire == _I32:  # unpacked, from very old writers
                floats.append(np.frombuffer(buffer, dtype="<f4", count=1, offset=a).copy())
        elif number == 8:  # double_data
            if wire == _LEN:
                if (b - a) % 8:
                    raise _Corrupt("packed double data of odd length")
                doubles.append(np.frombuffer(buffer, dtype="<f8", count=(b - a) // 8, offset=a))
            elif wire == _I64:
                doubles.append(np.frombuffer(buffer, dtype="<f8", count=1, offset=a).copy())
        elif number == 7 and wire == _LEN:  # shape
            shape = []
            for dim_number, dim_wire, c, d in _fields(buf, a, b):
                if dim_number == 1 and dim_wire == _LEN:
                    shape.extend(_packed_varints(buf, c, d))
                elif dim_number == 1 and dim_wire == _VARINT:
                    shape.append(_as_int32(c))
            if len(shape) > _MAX_DIMS:
                raise _Corrupt(f"blob shape with {len(shape)} axes")
        elif 1 <= number <= 4 and wire == _VARINT:
            legacy[number - 1] = _as_int32(a)
            has_legacy = True
    if floats:
        data = floats[0] if len(floats) == 1 else np.concatenate(floats)
    elif doubles:
        data = np.concatenate(doubles).astype(np.float32)
    else:
        data = np.zeros(0, np.float32)
    return StoredBlob(data, tuple(shape) if shape is not None else None, tuple(legacy) if has_legacy else None)


def _read_layer(buffer: bytearray, buf: memoryview, start: int, stop: int, v1: bool) -> StoredLayer:
    blob_field = 6 if v1 else 7
    rest = bytearray()
    blobs = []
    for number, wire, a, b in _fields(buf, start, stop):
        if number == blob_field and wire == _LEN:
            blobs.append(_read_blob(buffer, buf, a, b))
        elif number in (1001, 1002) and v1:
            continue
        else:
            # Re-encode the key and copy the field: protobuf parses the small remainder.
            rest += _key_bytes(number, wire)
            if wire == _LEN:
                rest += _varint_bytes(b - a)
                rest += buf[a:b]
            elif wire == _VARINT:
                rest += _varint_bytes(a)
            else:
                rest += buf[a:b]
    message = caffe_pb2.V1LayerParameter() if v1 else caffe_pb2.LayerParameter()
    try:
        message.ParseFromString(bytes(rest))
    except DecodeError as exc:
        raise _Corrupt(f"a layer does not decode ({exc})") from None
    if v1:
        layer_type = v1_type_name(message.type) if message.HasField("type") else ""
    else:
        layer_type = message.type
    return StoredLayer(message.name, layer_type, list(message.bottom), list(message.top), blobs)


def _varint_bytes(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key_bytes(number: int, wire: int) -> bytes:
    return _varint_bytes((number << 3) | wire)


def _read_file(path: Path, progress: Callable[[int, int], None] | None) -> bytearray:
    try:
        size = os.path.getsize(path)
        buffer = bytearray(size)
        view = memoryview(buffer)
        with open(path, "rb") as handle:
            done, chunk = 0, 1 << 24
            while done < size:
                got = handle.readinto(view[done : done + chunk])
                if not got:
                    raise ConvertError(f"{path}: file shrank while being read")
                done += got
                if progress:
                    progress(done, size)
        return buffer
    except FileNotFoundError:
        raise ConvertError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConvertError(f"{path}: is a directory, not a caffemodel") from None
    except OSError as exc:
        raise ConvertError(f"{path}: cannot read: {exc.strerror}") from None


def read_caffemodel(path: Path | str, progress: Callable[[int, int], None] | None = None) -> CaffeModel:
    path = Path(path)
    buffer = _read_file(path, progress)
    if not buffer:
        raise ConvertError(f"{path}: empty file, not a caffemodel")
    if buffer[:8] == b"\x89HDF\r\n\x1a\n":
        raise ConvertError(f"{path}: an HDF5 caffemodel (.caffemodel.h5); save it as a binary .caffemodel")
    head = bytes(buffer[:256]).lstrip()
    if head[:5] in (b"name:", b"layer", b"input") or head[:1] == b"#":
        raise ConvertError(f"{path}: a text file (a prototxt?), not a binary caffemodel")
    buf = memoryview(buffer)
    name = ""
    layers: list[StoredLayer] = []
    try:
        for number, wire, a, b in _fields(buf, 0, len(buffer)):
            if number == 100 and wire == _LEN:
                layers.append(_read_layer(buffer, buf, a, b, v1=False))
            elif number == 2 and wire == _LEN:
                layers.append(_read_layer(buffer, buf, a, b, v1=True))
            elif number == 1 and wire == _LEN:
                name = bytes(buf[a:b]).decode("utf-8", "replace")
    except _Corrupt as exc:
        raise ConvertError(
            f"{path}: truncated or not a caffemodel ({exc}; {len(layers)} layers read, file is {len(buffer)} bytes)"
        ) from None
    if not layers:
        raise ConvertError(f"{path}: not a caffemodel (no layers found in {len(buffer)} bytes)")
    return CaffeModel(path, name, layers, len(buffer), buffer)
