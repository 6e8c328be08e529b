"""A seeded generator of hostile inputs: mutated prototxts and caffemodels of the fixtures.

Each case is (category, prototxt bytes, caffemodel bytes or None, command). The same seed gives
the same cases on any machine: every case draws from its own random.Random("seed:category:index").
The categories mirror what an outsider's fuzz campaign tries: caffemodel truncations, bit flips,
inflated varints, absurd shapes, wrong pairings, foreign files and non-finite numbers; prototxt
token and byte mutations, non-UTF-8 bytes, absurd numbers, many layers, long lines and
duplicated tops.
"""
from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from senet_convert.caffe import caffe_pb2

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@dataclass
class Case:
    category: str
    index: int
    prototxt: bytes
    caffemodel: bytes | None  # None: inspect the prototxt alone
    command: str = "inspect"  # inspect | caffe2torch | caffe2onnx | verify
    note: str = ""

    @property
    def name(self) -> str:
        return f"{self.category}-{self.index}"


class _Base:
    """The fixtures, read once: (prototxt text, caffemodel bytes) per fixture net."""

    def __init__(self):
        self.nets = {}
        for stem in ("tiny-senet", "tiny-plain-v2", "tiny-plain-v1"):
            self.nets[stem] = ((FIXTURES / f"{stem}.prototxt").read_text(), (FIXTURES / f"{stem}.caffemodel").read_bytes())

    def pick(self, rng: random.Random, v1: bool = True) -> tuple[str, bytes]:
        names = list(self.nets) if v1 else ["tiny-senet", "tiny-plain-v2"]
        return self.nets[rng.choice(names)]


# ---- caffemodel mutations ----


def _length_prefixes(data: bytes) -> list[tuple[int, int]]:
    """(offset, size) of the length varints of top-level layers and of their blobs."""
    from senet_convert.caffe.wire import LEN, MemorySource

    found = []

    def walk(start: int, end: int, depth: int) -> None:
        source = MemorySource(data)
        source.pos = start
        while source.pos < end:
            number, wire = source.key(end)
            if wire != LEN:
                source.raw_field(number, wire, end)
                continue
            at = source.pos
            n = source.length(end)
            found.append((at, source.pos - at))
            if depth == 0 and number in (2, 100) or depth == 1 and number in (6, 7):
                walk(source.pos, source.pos + n, depth + 1)
            source.pos += n

    try:
        walk(0, len(data), 0)
    except Exception:  # the fixtures are valid; a mutated base is not walked further
        pass
    return found


def _varint(value: int) -> bytes:
    from senet_convert.caffe.wire import varint_bytes

    return varint_bytes(value)


def cm_truncate(rng, base):
    proto, model = base.pick(rng)
    return proto.encode(), model[: rng.randrange(0, len(model))], "cut"


def cm_bitflip(rng, base):
    proto, model = base.pick(rng)
    data = bytearray(model)
    for _ in range(rng.choice([1, 1, 2, 4, 16])):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return proto.encode(), bytes(data), "bits"


def cm_varint(rng, base):
    proto, model = base.pick(rng)
    offset, size = rng.choice(_length_prefixes(model))
    value = int.from_bytes(model[offset : offset + 1], "little") if size == 1 else None
    replacement = rng.choice([
        _varint(2**62), _varint(2**31), _varint(len(model) * 2), _varint(0), b"\xff" * 10 + b"\x01",
        _varint(rng.randrange(1, 2**20)), b"\x80" * (11 - size),  # runs into the next bytes
        bytes([b | 0x80 for b in model[offset : offset + size]]) + b"\x00",  # the same value, overlong
    ])
    note = f"varint at {offset} ({value})"
    return proto.encode(), model[:offset] + replacement + model[offset + size :], note


def _net(model: bytes) -> caffe_pb2.NetParameter:
    net = caffe_pb2.NetParameter()
    net.ParseFromString(model)
    return net


def _some_blob(rng, net: caffe_pb2.NetParameter):
    layers = [l for l in (list(net.layer) or list(net.layers)) if l.blobs]
    layer = rng.choice(layers)
    return layer, rng.choice(layer.blobs)


def cm_shape(rng, base):
    proto, model = base.pick(rng, v1=False)
    net = _net(model)
    layer, blob = _some_blob(rng, net)
    dims = rng.choice([[-1], [0], [2**40, 2**40], [2**63 - 1], [1] * 33, list(reversed(blob.shape.dim)),
                       [blob.data and len(blob.data)], [], [3, -3, 3, -3]])
    blob.shape.ClearField("dim")
    blob.shape.dim.extend(d for d in dims if d is not None)
    if rng.random() < 0.3:
        blob.num, blob.channels = rng.choice([(-1, 1), (2**31 - 1, 2), (1, 0)])
    return proto.encode(), net.SerializeToString(), f"{layer.name} shape {dims[:4]}"


def cm_nonfinite(rng, base):
    proto, model = base.pick(rng, v1=False)
    net = _net(model)
    layer, blob = _some_blob(rng, net)
    values = np.array(blob.data, dtype=np.float64)
    how = rng.choice(["nan", "inf", "double-overflow", "double-beside-data", "all-nan"])
    if how == "nan":
        values[rng.randrange(values.size)] = np.nan
    elif how == "inf":
        values[rng.randrange(values.size)] = -np.inf
    elif how == "all-nan":
        values[:] = np.nan
    elif how == "double-overflow":
        values[rng.randrange(values.size)] = 1e300
    if how.startswith("double"):
        blob.double_data.extend(values.tolist())
        if how == "double-overflow":
            blob.ClearField("data")
    else:
        blob.ClearField("data")
        blob.data.extend(values.astype(np.float32).tolist())
    command = rng.choice(["inspect", "inspect", "caffe2torch", "verify"])
    return proto.encode(), net.SerializeToString(), f"{layer.name} {how}", command


def cm_pairing(rng, base):
    (p1, m1), (p2, m2) = rng.sample(list(base.nets.values()), 2)
    net = _net(m1)
    how = rng.choice(["other-model", "swapped", "proto-as-model", "duplicate-layer", "drop-layer", "rename", "v1-v2"])
    if how == "other-model":
        return p1.encode(), m2, how
    if how == "swapped":
        return m1, p1.encode(), how
    if how == "proto-as-model":
        return p1.encode(), p2.encode(), how
    if how == "v1-v2":
        return base.nets["tiny-plain-v2"][0].encode(), base.nets["tiny-plain-v1"][1], how, "caffe2torch"
    layers = net.layer if net.layer else net.layers
    victim = rng.randrange(len(layers))
    if how == "duplicate-layer":
        copy = layers.add()
        copy.CopyFrom(layers[victim])
        if copy.blobs and rng.random() < 0.5:
            copy.blobs[0].data.append(0.0)
    elif how == "drop-layer":
        del layers[victim]
    else:
        layers[victim].name += "_x"
    return p1.encode(), net.SerializeToString(), how


_FOREIGN = [b"", b"PK\x03\x04" + b"\0" * 60, b"\x89PNG\r\n\x1a\n" + b"\0" * 40, b"\x89HDF\r\n\x1a\n" + b"\0" * 40,
            b"\x1f\x8b\x08\x00" + b"\0" * 40, b"\x93NUMPY\x01\x00v\x00{'descr': '<f4'}", b"\x7fELF\x02\x01\x01" + b"\0" * 57,
            b'{"layers": []}', b"name: 'x'\nlayer { }\n", b"\x80\x04\x95\x00"]


def cm_foreign(rng, base):
    proto, _ = base.pick(rng)
    data = rng.choice(_FOREIGN) if rng.random() < 0.6 else rng.randbytes(rng.choice([1, 7, 100, 4096, 65536]))
    if rng.random() < 0.3:  # foreign bytes as the prototxt instead
        return data, None, "foreign prototxt"
    return proto.encode(), data, "foreign caffemodel"


# ---- prototxt mutations ----

_TOKEN = re.compile(r'\s+|"[^"\n]*"|#[^\n]*|[{}:]|[^\s{}:"#]+')


def _vocabulary() -> list[str]:
    words = {"{", "}", ":", "0", "-1", "1e9", '""', '"data"', "layer", "layers", "top", "bottom", "type", "name"}
    for message in (caffe_pb2.LayerParameter, caffe_pb2.ConvolutionParameter, caffe_pb2.PoolingParameter, caffe_pb2.NetParameter):
        words.update(f.name for f in message.DESCRIPTOR.fields)
        for enum in message.DESCRIPTOR.enum_types:
            words.update(v.name for v in enum.values)
    return sorted(words)


_WORDS = _vocabulary()
_ABSURD = ["0", "-1", "-0", "2147483647", "2147483648", "4294967296", "9223372036854775807", "99999999999999999999",
           "1e308", "1e400", "-1e-320", "nan", "inf", "-inf", "0x7fffffff", "1.5", "3e-45", "65536", "100000"]


def pt_token(rng, base):
    proto, model = base.pick(rng)
    tokens = _TOKEN.findall(proto)
    for _ in range(rng.choice([1, 1, 2, 3, 8])):
        i = rng.randrange(len(tokens))
        op = rng.randrange(4)
        if op == 0:
            del tokens[i]
        elif op == 1:
            tokens.insert(i, tokens[i])
        elif op == 2 and i + 1 < len(tokens):
            tokens[i], tokens[i + 1] = tokens[i + 1], tokens[i]
        else:
            tokens[i] = rng.choice(_WORDS) + " "
    return "".join(tokens).encode(), model if rng.random() < 0.5 else None, "tokens"


def pt_byte(rng, base):
    proto, model = base.pick(rng)
    data = bytearray(proto.encode())
    for _ in range(rng.choice([1, 2, 5])):
        i = rng.randrange(len(data))
        op = rng.randrange(3)
        if op == 0:
            del data[i]
        elif op == 1:
            data.insert(i, rng.randrange(256))
        else:
            data[i] = rng.randrange(256)
    return bytes(data), model if rng.random() < 0.3 else None, "bytes"


def pt_utf8(rng, base):
    proto, model = base.pick(rng)
    data = proto.encode()
    bad = rng.choice([b"\xff", b"\xc3\x28", b"\xe2\x82", b"\xf0\x28\x8c\xbc", b"\xc0\xaf", b"\0", b"\xef\xbb\xbf", b"\x1b[2J", b"# \0\xff\n"])
    i = 0 if rng.random() < 0.2 else rng.randrange(len(data))
    return data[:i] + bad + data[i:], None, f"inserted {bad!r}"


def pt_numbers(rng, base):
    proto, model = base.pick(rng)
    numbers = list(re.finditer(r"(?<=: )-?\d+(\.\d+)?", proto))
    text = proto
    for match in sorted(rng.sample(numbers, min(len(numbers), rng.choice([1, 1, 2]))), key=lambda m: -m.start()):
        text = text[: match.start()] + rng.choice(_ABSURD) + text[match.end() :]
    return text.encode(), model if rng.random() < 0.4 else None, "numbers"


def pt_many_layers(rng, base, scale: int = 1):
    n = rng.choice([500, 1000, 2000]) * scale
    kind = rng.choice(["in-place", "chain", "names"])
    head = 'name: "many"\ninput: "data"\ninput_shape { dim: 1 dim: 2 dim: 3 dim: 3 }\n'
    if kind == "in-place":
        body = "".join(f'layer {{ name: "r{i}" type: "ReLU" bottom: "data" top: "data" }}\n' for i in range(n))
        body = body.replace('bottom: "data" top: "data"', 'bottom: "data" top: "x"', 1).replace('"data" top: "data"', '"x" top: "x"')
    elif kind == "chain":
        body = "".join(f'layer {{ name: "s{i}" type: "Sigmoid" bottom: "{"data" if i == 0 else f"b{i - 1}"}" top: "b{i}" }}\n' for i in range(n))
    else:  # the same name n times
        body = "".join(f'layer {{ name: "same" type: "ReLU" bottom: "data" top: "c{i}" }}\n' for i in range(n))
    return (head + body).encode(), None, f"{n} layers, {kind}"


def pt_long_lines(rng, base, scale: int = 1):
    proto, model = base.pick(rng)
    size = rng.choice([5000, 100_000, 300_000, 1 << 20]) * scale
    filler = rng.choice([" " * size, "x" * size, "#" + "c" * size, 'name: "' + "s" * size + '"', "{" * min(size, 50_000),
                         "layer { " * min(size // 8, 20_000), "\t \r" * (size // 3)])
    lines = proto.split("\n")
    i = rng.randrange(len(lines))
    lines.insert(i, filler)
    return "\n".join(lines).encode(), None, f"{len(filler)}-character line at {i + 1}"


def pt_duplicates(rng, base):
    proto, model = base.nets["tiny-senet"]
    blocks = re.findall(r"layer \{.*?\n\}\n", proto, re.S)
    block = rng.choice(blocks[1:])
    how = rng.choice(["twice", "top-collides", "in-place-shared", "input-again"])
    if how == "twice":
        text = proto.replace(block, block + block, 1)
    elif how == "top-collides":
        tops = re.findall(r'top: "([^"]+)"', proto)
        text = proto.replace(block, re.sub(r'top: "[^"]+"', f'top: "{rng.choice(tops)}"', block, count=1), 1)
    elif how == "in-place-shared":
        text = proto.replace(block, re.sub(r'top: "[^"]+"', 'top: "data"', block, count=1).replace('bottom: "', 'bottom: "', 1), 1)
    else:
        text = proto + 'layer { name: "again" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 32 dim: 32 } } }\n'
    return text.encode(), model if rng.random() < 0.5 else None, how


CATEGORIES: dict[str, Callable] = {
    "caffemodel truncation": cm_truncate, "caffemodel bit flips": cm_bitflip, "caffemodel inflated varints": cm_varint,
    "caffemodel absurd shapes": cm_shape, "caffemodel wrong pairings": cm_pairing, "foreign files": cm_foreign,
    "non-finite weights": cm_nonfinite, "prototxt token mutations": pt_token, "prototxt byte mutations": pt_byte,
    "prototxt non-UTF-8": pt_utf8, "prototxt absurd numbers": pt_numbers, "prototxt many layers": pt_many_layers,
    "prototxt long lines": pt_long_lines, "prototxt duplicate tops": pt_duplicates,
}
# Share of the cases per category, and the commands a case of it may run besides inspect.
WEIGHT = {"prototxt many layers": 0.2, "prototxt long lines": 0.3}
CONVERTING = {"caffemodel bit flips", "caffemodel absurd shapes", "caffemodel wrong pairings", "prototxt absurd numbers", "non-finite weights"}


def _quotas(total: int) -> dict[str, int]:
    """How many cases run each costly command: conversions take 10-100x an inspect."""
    return {"caffe2torch": max(4, total // 25), "caffe2onnx": max(1, total // 500), "verify": max(3, total // 150)}


def cases(total: int, seed: int = 0, *, scale: int = 1) -> Iterator[Case]:
    """`total` cases spread over the categories (the costly ones less often), in a fixed order."""
    base = _Base()
    shares = {name: WEIGHT.get(name, 1.0) for name in CATEGORIES}
    counts = {name: max(1, round(total * w / sum(shares.values()))) for name, w in shares.items()}
    left = _quotas(total)
    for category, make in CATEGORIES.items():
        for index in range(counts[category]):
            rng = random.Random(f"{seed}:{category}:{index}")
            kwargs = {"scale": scale} if category in ("prototxt many layers", "prototxt long lines") else {}
            made = make(rng, base, **kwargs)
            proto, model, note = made[:3]
            command = made[3] if len(made) > 3 else "inspect"
            if command == "inspect" and model is not None and category in CONVERTING and rng.random() < 0.2:
                command = rng.choice(["caffe2torch", "caffe2torch", "caffe2torch", "caffe2onnx", "verify"])
            if command != "inspect" and left[command] <= 0:
                command = "inspect"
            elif command != "inspect":
                left[command] -= 1
            yield Case(category, index, proto, model, command, note)
