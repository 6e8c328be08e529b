"""The one exception type that reaches users.

Every problem with the files a user hands in (a typo, truncated bytes, a weight that does
not fit) is raised as ConvertError with a one-line message naming the file, line or layer;
the CLI prints it and exits with status 2. Anything else is a bug in senet-convert.

The message is made safe to print: one line, control characters escaped, and any word long
enough to be a pasted line of the input (a 300 KB token quoted by the prototxt parser)
shortened to its ends.
"""
from __future__ import annotations

import re

MAX_WORD = 512  # characters of one word kept in full (long paths included)
MAX_MESSAGE = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _escape(match: re.Match) -> str:
    return repr(match.group(0))[1:-1]


def _shorten(word: str) -> str:
    if len(word) <= MAX_WORD:
        return word
    return f"{word[:200]}...{word[-40:]} ({len(word):,} characters)"


def one_line(message: object) -> str:
    text = _CONTROL.sub(_escape, str(message).replace("\t", " "))
    text = " ".join(_shorten(word) for word in text.split())
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 20] + f" ... ({len(text):,} characters)"
    return text


class ConvertError(Exception):
    """A problem with the user's input, described in one line."""

    def __init__(self, message: str):
        super().__init__(one_line(message))


class UnsupportedLayers(ConvertError):
    """A net whose layer types are not all supported: every missing type, counted, in one error.

    `missing` holds (type, number of layers, first layer's name, its line or None) in file order.
    """

    def __init__(self, path, missing: list[tuple[str, int, str, int | None]], supported: list[str]):
        self.path, self.missing, self.supported = path, missing, supported
        listed = "; ".join(
            f"'{kind}' ({count} layer{'s' if count > 1 else ''}, first '{name}'" + (f" at line {line})" if line else ")")
            for kind, count, name, line in missing
        )
        super().__init__(
            f"{path}: {len(missing)} unsupported layer type{'s' if len(missing) > 1 else ''}: {listed}; "
            f"supported: {', '.join(supported)}; a plugin can add a type (see docs/plugins.md)"
        )
