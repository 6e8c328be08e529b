"""Reading a .caffemodel (a binary NetParameter) without holding it twice.

protobuf's ParseFromString would copy every weight into the parsed message and numpy would
copy it again (about 3x the file in memory, and a 64 MB limit in old runtimes). Weights are
almost all of a caffemodel and are stored as packed little-endian floats, so this module
walks the wire format itself, streaming: each packed `BlobProto.data` is read from the file
straight into its own (aligned) numpy array, and only the small non-blob part of each layer
is handed to protobuf. Peak memory is the weights plus a few KB.

Wire-format facts used (protobuf encoding; Caffe's field numbers):
  NetParameter: name = 1, layers (V1) = 2, layer = 100
  LayerParameter: blobs = 7;  V1LayerParameter: blobs = 6, type = 5 (enum)
  BlobProto: num/channels/height/width = 1..4, data = 5 (packed float), diff = 6,
             shape = 7 (BlobShape: dim = 1, packed int64), double_data = 8, double_diff = 9
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from google.protobuf.message import DecodeError

from ..errors import ConvertError
from ..files import reading, regular_size
from . import caffe_pb2
from .upgrade import v1_type_name
from .wire import I32, I64, IN_MEMORY, LEN, VARINT, Corrupt, FileSource, MemorySource, Source, as_int32, as_int64, varint

_MAX_DIMS = 32


@dataclass
class StoredBlob:
    data: np.ndarray  # float32, flat
    shape: tuple[int, ...] | None  # from BlobShape
    legacy: tuple[int, int, int, int] | None  # (num, channels, height, width), when any is present
    from_doubles: bool = False  # read from double_data (Caffe prefers it over data)
    overflow: int = 0  # double_data values too large for float32 (they became +-inf)
    diff_count: int = 0  # values in double_diff (or, without it, diff): Caffe checks their count too


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




def _read_shape(data: bytes) -> list[int]:
    shape: list[int] = []
    pos = 0
    while pos < len(data):
        key, pos = varint(data, pos, len(data))
        if key == (1 << 3 | LEN):
            n, pos = varint(data, pos, len(data))
            stop = pos + n
            if stop > len(data):
                raise Corrupt("blob shape runs past its end")
            while pos < stop:
                dim, pos = varint(data, pos, stop)
                shape.append(as_int64(dim))
        elif key == (1 << 3 | VARINT):
            dim, pos = varint(data, pos, len(data))
            shape.append(as_int64(dim))
        else:
            raise Corrupt("unexpected field in a blob shape")
        if len(shape) > _MAX_DIMS:
            raise Corrupt(f"blob shape with more than {_MAX_DIMS} axes")
    return shape


# BlobProto's repeated numbers: field -> (element width, numpy type); diffs are only counted.
_DATA, _DOUBLE_DATA, _DIFF, _DOUBLE_DIFF = 5, 8, 6, 9
_WIDTH = {_DATA: 4, _DOUBLE_DATA: 8, _DIFF: 4, _DOUBLE_DIFF: 8}
_SCALAR_WIRE = {4: I32, 8: I64}


def _read_blob(stream: Source, end: int) -> StoredBlob:
    arrays: dict[int, list[np.ndarray]] = {_DATA: [], _DOUBLE_DATA: []}
    counts = {_DIFF: 0, _DOUBLE_DIFF: 0}
    shape: list[int] | None = None
    legacy: list[int | None] = [None, None, None, None]
    while stream.pos < end:
        number, wire = stream.key(end)
        width = _WIDTH.get(number)
        if width and wire == LEN:  # packed
            n = stream.length(end)
            if n % width:
                raise Corrupt("packed blob data of odd length")
            if number in arrays:
                array = np.empty(n // width, dtype=f"<f{width}")
                stream.into(array)
                arrays[number].append(array)
            else:
                stream.skip(n, end)
                counts[number] += n // width
        elif width and wire == _SCALAR_WIRE[width]:  # unpacked, from very old writers
            value = stream.bytes(width, end)
            if number in arrays:
                arrays[number].append(np.frombuffer(value, dtype=f"<f{width}"))
            else:
                counts[number] += 1
        elif number == 7 and wire == LEN:  # shape
            shape = _read_shape(stream.bytes(stream.length(end), end))
        elif 1 <= number <= 4 and wire == VARINT:  # num, channels, height, width: int32
            legacy[number - 1] = as_int32(stream.varint(end))
        else:  # unknown fields: skipped
            stream.raw_field(number, wire, end)
    if stream.pos != end:
        raise Corrupt("a blob overruns its length")
    return _stored_blob(arrays, counts, shape, legacy)


def _stored_blob(arrays, counts, shape, legacy) -> StoredBlob:
    # Caffe's Blob::FromProto reads double_data whenever it holds any value, else data.
    doubles, floats = arrays[_DOUBLE_DATA], arrays[_DATA]
    overflow = 0
    if doubles:
        wide = doubles[0] if len(doubles) == 1 else np.concatenate(doubles)
        with np.errstate(over="ignore"):
            data = wide.astype(np.float32)
        overflow = int(np.count_nonzero(np.isinf(data) & np.isfinite(wide)))
        del wide
    elif floats:
        data = floats[0] if len(floats) == 1 else np.concatenate(floats)
    else:
        data = np.zeros(0, np.float32)
    has_legacy = any(d is not None for d in legacy)
    return StoredBlob(
        data,
        tuple(shape) if shape is not None else None,
        tuple(d or 0 for d in legacy) if has_legacy else None,
        from_doubles=bool(doubles),
        overflow=overflow,
        diff_count=counts[_DOUBLE_DIFF] or counts[_DIFF],
    )


def _read_layer(stream: Source, end: int, v1: bool, path: Path) -> StoredLayer:
    blob_field = 6 if v1 else 7
    rest = bytearray()
    blobs = []
    while stream.pos < end:
        number, wire = stream.key(end)
        if number == blob_field and wire == LEN:
            n = stream.length(end)
            blobs.append(_read_blob(stream, stream.pos + n))
        else:
            rest += stream.raw_field(number, wire, end)
    if stream.pos != end:
        raise Corrupt("a layer overruns its length")
    message = caffe_pb2.V1LayerParameter() if v1 else caffe_pb2.LayerParameter()
    try:
        message.ParseFromString(bytes(rest))
    except DecodeError as exc:
        raise Corrupt(f"a layer does not decode ({exc})") from None
    if v1:
        layer_type = v1_type_name(message.type, f"{path}: layer '{message.name}'") if message.HasField("type") else ""
    else:
        layer_type = message.type
    return StoredLayer(message.name, layer_type, list(message.bottom), list(message.top), blobs)


def _sniff(path: Path, head: bytes) -> None:
    if not head:
        raise ConvertError(f"{path}: empty file, not a caffemodel")
    if head[:8] == b"\x89HDF\r\n\x1a\n":
        raise ConvertError(f"{path}: an HDF5 caffemodel (.caffemodel.h5); save it as a binary .caffemodel")
    text = head.lstrip()
    if text[:5] in (b"name:", b"layer", b"input") or text[:1] == b"#":
        raise ConvertError(f"{path}: a text file (a prototxt?), not a binary caffemodel")


def read_caffemodel(path: Path | str, progress: Callable[[int, int], None] | None = None) -> CaffeModel:
    path = Path(path)
    name = ""
    layers: list[StoredLayer] = []
    size = 0
    stream: FileSource | None = None
    with reading(path, "caffemodel"):
        try:
            size = regular_size(path, "caffemodel")
            with open(path, "rb", buffering=1 << 20) as handle:
                _sniff(path, handle.peek(256)[:256])
                stream = FileSource(handle, size, progress)
                while stream.pos < size:
                    number, wire = stream.key(size)
                    if number in (100, 2) and wire == LEN:
                        n = stream.length(size)
                        if n <= IN_MEMORY:
                            layers.append(_read_layer(MemorySource(stream.bytes(n, size)), n, number == 2, path))
                        else:
                            layers.append(_read_layer(stream, stream.pos + n, number == 2, path))
                    elif number == 1 and wire == LEN:
                        name = stream.bytes(stream.length(size), size).decode("utf-8", "replace")
                    else:
                        stream.raw_field(number, wire, size)
                if progress:
                    progress(size, size)
        except Corrupt as exc:
            raise ConvertError(
                f"{path}: truncated or not a caffemodel ({exc}; {len(layers)} layers read, file is {size} bytes)"
            ) from None
        except MemoryError:
            # Every length was checked against the bytes the file holds before anything was
            # allocated, so this is the machine's (or a ulimit's / cgroup's) memory running out.
            raise ConvertError(
                f"{path}: out of memory after reading {stream.pos if stream else 0:,} of {size:,} bytes ({len(layers)} layers): "
                f"its weights need about {size / 2**20:,.0f} MiB, more than this process may allocate (a memory limit?)"
            ) from None
    if not layers:
        raise ConvertError(f"{path}: not a caffemodel (no layers found in {size} bytes)")
    return CaffeModel(path, name, layers, size)
