"""Reading a .prototxt into Caffe's NetParameter.

Protobuf's text format does the parsing; this module adds what users need around it: the
file:line:column of a syntax error, the line on which each layer starts (text_format keeps
no positions), and the mean values the SENet prototxts state only in a comment.
"""
from __future__ import annotations

import re
from pathlib import Path

from google.protobuf import text_format

from ..errors import ConvertError
from ..files import reading
from . import caffe_pb2, extensions
from .fork_fields import unknown_field_error

_MEAN_COMMENT = re.compile(r"#\s*mean_value\s*:?\s*([-\d.]+)\s*,\s*([-\d.]+)\s*,\s*([-\d.]+)")


def read_text(path: Path) -> str:
    with reading(path, "prototxt"):
        raw = Path(path).read_bytes()
    if b"\0" in raw[:4096]:
        raise ConvertError(f"{path}: binary data, not a text prototxt (a caffemodel given as prototxt?)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConvertError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def parse_net(text: str, path: Path | str = "<prototxt>") -> caffe_pb2.NetParameter:
    # With plugins' fork fields declared, the text is parsed with the extended schema and handed on
    # as caffe_pb2 messages that keep those fields (see extensions.py).
    schema = extensions.net_parameter_class()
    net = schema()
    try:
        text_format.Parse(text, net)
    except text_format.ParseError as exc:
        line, column = exc.GetLine(), exc.GetColumn()
        message = str(exc)
        # ParseError's text starts with "line:column : "; keep only the explanation.
        message = re.sub(r"^\d+:\d+\s*:\s*", "", message)
        raise unknown_field_error(text, path, line, column, message) or ConvertError(f"{path}:{line}:{column}: {message}") from None
    if schema is not caffe_pb2.NetParameter:
        net = caffe_pb2.NetParameter.FromString(net.SerializeToString())
    return net


def layer_lines(text: str) -> list[int]:
    """Line numbers (1-based) where each top-level `layer {` / `layers {` block opens, in order."""
    lines: list[int] = []
    depth, line, i, n = 0, 1, 0, len(text)
    word = re.compile(r"(layers?)\s*:?\s*\{")
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
        elif ch == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif ch in "\"'":
            end = i + 1
            while end < n and text[end] != ch:
                end += 2 if text[end] == "\\" else 1
            line += text.count("\n", i, end)
            i = end + 1
            continue
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif depth == 0 and ch == "l" and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            match = word.match(text, i)
            if match:
                lines.append(line)
                line += text.count("\n", i, match.end() - 1)
                i = match.end() - 1
                continue
        i += 1
    return lines


def mean_from_comment(text: str) -> tuple[float, float, float] | None:
    match = _MEAN_COMMENT.search(text)
    return tuple(float(v) for v in match.groups()) if match else None
