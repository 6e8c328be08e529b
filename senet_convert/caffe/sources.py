"""Caffe's rule on who may write a blob (Net::Init: InsertSplits, then AppendTop for each top).

A layer's top j is computed in place when it names the same blob as the layer's bottom j (after
InsertSplits renamed shared bottoms); any other top whose blob already exists is refused with
"Duplicate blobs produced by multiple sources". InsertSplits gives every value that more than one
bottom reads (or that a loss weight also uses) a Split layer and renames those bottoms, so an
in-place write to a value that some other layer reads as well is refused too: its bottom is no
longer the blob it writes.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from ..errors import ConvertError
from . import caffe_pb2

Version = tuple[int, int]  # (layer index, top index) that wrote a value; inputs: (-1, i)


def _readers(inputs: Sequence[str], layers: Sequence[caffe_pb2.LayerParameter]) -> tuple[Counter, dict]:
    """How often each value is read, and which layers read it (InsertSplits' counting)."""
    last: dict[str, Version] = {name: (-1, i) for i, name in enumerate(inputs)}
    count: Counter = Counter()
    names: dict[Version, list[str]] = {}
    for i, layer in enumerate(layers):
        for blob in layer.bottom:
            if blob in last:  # an unknown bottom is reported by the loader
                count[last[blob]] += 1
                names.setdefault(last[blob], []).append(layer.name)
        for j, blob in enumerate(layer.top):
            last[blob] = (i, j)
        for j, weight in enumerate(layer.loss_weight[: len(layer.top)]):
            if weight:
                count[last[layer.top[j]]] += 1
    return count, names


def check_sources(inputs: Sequence[str], layers: Sequence[caffe_pb2.LayerParameter], where: Callable[[int], str]) -> None:
    """Refuse what Caffe's Net::Init refuses; `layers` are those the phase includes, `where(i)`
    names layer i (file, line, name, type) in the message."""
    count, readers = _readers(inputs, layers)
    last: dict[str, Version] = {name: (-1, i) for i, name in enumerate(inputs)}
    producer: dict[str, str] = {name: "the net's input" for name in inputs}
    for i, layer in enumerate(layers):
        shared = [last.get(blob) is not None and count[last[blob]] > 1 for blob in layer.bottom]
        for j, blob in enumerate(layer.top):
            in_place = j < len(layer.bottom) and layer.bottom[j] == blob
            if in_place and not shared[j]:
                pass
            elif in_place:
                others = [name for name in readers.get(last[blob], []) if name != layer.name]
                also = f"layer '{others[0]}' also reads it" if others else "it reads that value twice"
                raise ConvertError(
                    f"{where(i)}: writes '{blob}' in place, but {also}; Caffe then splits the value and refuses "
                    "the in-place write ('Duplicate blobs produced by multiple sources'): give the top its own name"
                )
            elif blob in producer:
                raise ConvertError(
                    f"{where(i)}: top '{blob}' is already produced by {producer[blob]}; Caffe refuses a second source "
                    f"('Duplicate blobs produced by multiple sources'); only top {j} == bottom {j} is computed in place"
                )
            producer.setdefault(blob, f"layer '{layer.name}'")
            last[blob] = (i, j)
