"""Reading a .prototxt into Caffe's NetParameter.

Protobuf's text format does the parsing; this module adds what users need around it: the
file:line:column of a syntax error, the line on which each layer starts (text_format keeps
no positions), and the mean values the SENet prototxts state only in a comment.

Its costs are bounded by the file's size, which is capped: text_format's whitespace pattern
takes about 180 bytes of memory per character of one whitespace run, so very long runs are cut
out of the lines it is given (the positions in its errors are mapped back).
"""
from __future__ import annotations

import re
from pathlib import Path

from google.protobuf import text_format

from ..errors import ConvertError
from ..files import read_bounded
from . import caffe_pb2, extensions
from .fork_fields import unknown_field_error

# 100x the largest official SENet prototxt (SENet-154, 150 KB).
MAX_PROTOTXT_BYTES = 16 * 2**20
_MEAN_COMMENT = re.compile(r"#\s*mean_value\s*:?\s*([-\d.]+)\s*,\s*([-\d.]+)\s*,\s*([-\d.]+)")


def read_text(path: Path) -> str:
    raw = read_bounded(path, "prototxt", MAX_PROTOTXT_BYTES, hint="a caffemodel given as prototxt?")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if b"\0" in raw[:4096]:
            raise ConvertError(f"{path}: binary data, not a text prototxt (a caffemodel given as prototxt?)") from None
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConvertError(f"{path}:{line}:{column}: not UTF-8 text (byte 0x{raw[exc.start]:02x})") from None


# Lines longer than this are given to text_format in pieces, split at long whitespace runs that
# lie outside strings and comments (a newline and a space separate tokens alike).
_LONG_LINE = 4096
# Strings are written unrolled ("[^"\\]*(?:\\.[^"\\]*)*"): one regex step per escape, not per character.
_STRING = r""""[^"\\\n]*(?:\\.[^"\\\n]*)*"|'[^'\\\n]*(?:\\.[^'\\\n]*)*'"""
_SPLIT_AT = re.compile(rf"""({_STRING}|#.*)|[ \t\r\f\v]{{64,}}""")
# text_format's string pattern also costs ~150 bytes per character: longer strings are refused.
MAX_STRING = 1 << 18


class _LongString(Exception):
    pass


def _pieces(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """The lines text_format reads, and for each its (line, column offset) in `text`."""
    pieces: list[str] = []
    where: list[tuple[int, int]] = []
    for number, line in enumerate(text.split("\n"), 1):
        start = 0
        if len(line) > _LONG_LINE:
            for match in _SPLIT_AT.finditer(line):
                quoted = match.group(1)
                if quoted and quoted[0] != "#" and len(quoted) > MAX_STRING:
                    raise _LongString(number, match.start() + 1, len(quoted))
                if quoted is None:
                    pieces.append(line[start : match.start()])
                    where.append((number, start))
                    start = match.end()
        pieces.append(line[start:])
        where.append((number, start))
    return pieces, where


# No message of Caffe's schema (a fork's included) nests this deep; text_format recurses once per
# level, so a file of 20,000 '{' would end in a RecursionError instead of an error message.
MAX_NESTING = 100


def _check_nesting(text: str, path) -> None:
    for kind, depth, line in _structure(text):
        if kind == "{" and depth > MAX_NESTING:
            raise ConvertError(f"{path}:{line}: messages nested more than {MAX_NESTING} deep; no Caffe message nests so deep")


def parse_net(text: str, path: Path | str = "<prototxt>") -> caffe_pb2.NetParameter:
    # With plugins' fork fields declared, the text is parsed with the extended schema and handed on
    # as caffe_pb2 messages that keep those fields (see extensions.py).
    schema = extensions.net_parameter_class()
    net = schema()
    _check_nesting(text, path)
    try:
        pieces, where = _pieces(text)
    except _LongString as exc:
        line, column, size = exc.args
        raise ConvertError(f"{path}:{line}:{column}: a string of {size:,} characters (at most {MAX_STRING:,} are read)") from None
    try:
        text_format.ParseLines(pieces, net)
    except text_format.ParseError as exc:
        piece, column = exc.GetLine() or 1, exc.GetColumn() or 1
        line, offset = where[min(piece, len(where)) - 1]
        # ParseError's text starts with "line:column : " and sometimes quotes the whole line: keep
        # only the explanation (a 300 KB line is not a message).
        message = re.sub(r"^\d+:\d+\s*:\s*", "", str(exc))
        quoted = f"'{pieces[min(piece, len(pieces)) - 1]}': "
        if message.startswith(quoted):
            message = message[len(quoted) :]
        if "\0" in text:
            message += " (the file holds NUL bytes: a caffemodel given as prototxt?)"
        column += offset
        raise unknown_field_error(text, path, line, column, message) or ConvertError(f"{path}:{line}:{column}: {message}") from None
    if schema is not caffe_pb2.NetParameter:
        net = caffe_pb2.NetParameter.FromString(net.SerializeToString())
    return net


_TOKENS = re.compile(rf"""(\n)|\#[^\n]*|{_STRING}|(\{{)|(\}})|(?<![\w])layers?\s*:?\s*(?=\{{)""")


def _structure(text: str):
    """(kind, depth, line) for each '{' (depth: inside it) and each `layer`/`layers` keyword (depth: where
    it stands) outside strings and comments, in order; lines are 1-based."""
    depth, line = 0, 1
    for match in _TOKENS.finditer(text):
        newline, opening, closing = match.groups()
        if newline:
            line += 1
        elif opening:
            depth += 1
            yield "{", depth, line
        elif closing:
            depth -= 1
        else:
            if match.group(0)[0] == "l":
                yield "layer", depth, line
            line += match.group(0).count("\n")  # a string may span lines


def layer_lines(text: str) -> list[int]:
    """Line numbers (1-based) where each top-level `layer {` / `layers {` block opens, in order."""
    return [line for kind, depth, line in _structure(text) if kind == "layer" and depth == 0]


def mean_from_comment(text: str) -> tuple[float, float, float] | None:
    match = _MEAN_COMMENT.search(text)
    return tuple(float(v) for v in match.groups()) if match else None
