"""The protobuf wire format, read field by field from a file or from bytes.

Only what a caffemodel needs: keys, varints, length-delimited fields and fixed-width numbers.
Every length is checked against the end of the message holding it (and so against the file's
size) before anything is read or allocated.
"""
from __future__ import annotations

import os

import numpy as np

VARINT, I64, LEN, I32 = 0, 1, 2, 5


class Corrupt(Exception):
    pass


def varint(buf, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end:
            raise Corrupt("varint runs past the end")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise Corrupt("varint longer than 10 bytes")


def as_int64(value: int) -> int:
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def as_int32(value: int) -> int:
    # protobuf reads an int32 field from a 64-bit varint by keeping its low 32 bits
    value &= (1 << 32) - 1
    return value - (1 << 32) if value >= 1 << 31 else value


class Source:
    """Fields read front to back; `pos` is the offset in the message being read, `end` bounds it.

    Two kinds: FileSource streams a file (large layers: their weights go straight into their
    arrays) and MemorySource parses bytes already read (small layers: one read, no per-byte calls).
    """

    pos: int

    def varint(self, end: int) -> int:
        raise NotImplementedError

    def bytes(self, n: int, end: int) -> bytes:
        raise NotImplementedError

    def into(self, array: np.ndarray) -> None:
        raise NotImplementedError

    def skip(self, n: int, end: int) -> None:
        raise NotImplementedError

    def key(self, end: int) -> tuple[int, int]:
        key = self.varint(end)
        number, wire = key >> 3, key & 7
        if number == 0 or wire not in (VARINT, I64, LEN, I32):
            raise Corrupt(f"invalid field key {key}")
        return number, wire

    def length(self, end: int) -> int:
        n = self.varint(end)
        if n > end - self.pos:
            raise Corrupt(f"a {n}-byte field runs past the end of its message")
        return n

    def raw_field(self, number: int, wire: int, end: int) -> bytes:
        """The field's bytes, re-encoded with its key, for protobuf to parse later."""
        key = key_bytes(number, wire)
        if wire == VARINT:
            return key + varint_bytes(self.varint(end))
        if wire == LEN:
            n = self.length(end)
            return key + varint_bytes(n) + self.bytes(n, end)
        return key + self.bytes(4 if wire == I32 else 8, end)


class FileSource(Source):
    def __init__(self, handle, size: int, progress):
        self.handle, self.size, self.pos, self.progress = handle, size, 0, progress
        self.reported = 0

    def _advance(self, n: int) -> None:
        self.pos += n
        if self.progress and self.pos - self.reported >= 1 << 24:
            self.reported = self.pos
            self.progress(self.pos, self.size)

    def bytes(self, n: int, end: int) -> bytes:
        if n > end - self.pos:
            raise Corrupt(f"a {n}-byte field runs past the end of its message")
        data = self.handle.read(n)
        if len(data) != n:
            raise Corrupt("the file ends inside a field")
        self._advance(n)
        return data

    def skip(self, n: int, end: int) -> None:
        if n > end - self.pos or self.pos + n > self.size:
            raise Corrupt("the file ends inside a field")
        self.handle.seek(n, os.SEEK_CUR)
        self._advance(n)

    def into(self, array: np.ndarray) -> None:
        view = memoryview(array).cast("B")
        got = self.handle.readinto(view)
        while got < len(view):
            more = self.handle.readinto(view[got:])
            if not more:
                raise Corrupt("the file ends inside a blob")
            got += more
        self._advance(len(view))

    def varint(self, end: int) -> int:
        result = shift = 0
        while True:
            if self.pos >= end:
                raise Corrupt("varint runs past the end of its message")
            byte = self.handle.read(1)
            if not byte:
                raise Corrupt("the file ends inside a varint")
            self.pos += 1
            result |= (byte[0] & 0x7F) << shift
            if byte[0] < 0x80:
                return result
            shift += 7
            if shift > 63:
                raise Corrupt("varint longer than 10 bytes")


class MemorySource(Source):
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def varint(self, end: int) -> int:
        value, self.pos = varint(self.data, self.pos, end)
        return value

    def bytes(self, n: int, end: int) -> bytes:
        if n > end - self.pos:
            raise Corrupt(f"a {n}-byte field runs past the end of its message")
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def into(self, array: np.ndarray) -> None:
        view = memoryview(array).cast("B")
        view[:] = self.data[self.pos : self.pos + len(view)]
        self.pos += len(view)

    def skip(self, n: int, end: int) -> None:
        self.bytes(n, end)


def varint_bytes(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def key_bytes(number: int, wire: int) -> bytes:
    return varint_bytes((number << 3) | wire)


# Layer messages up to this size are read whole and parsed in memory; larger ones (the big
# convolutions) stream their weights from the file into their arrays.
IN_MEMORY = 1 << 20
