"""The one exception type that reaches users.

Every problem with the files a user hands in (a typo, truncated bytes, a weight that does
not fit) is raised as ConvertError with a one-line message naming the file, line or layer;
the CLI prints it and exits with status 2. Anything else is a bug in senet-convert.
"""


class ConvertError(Exception):
    """A problem with the user's input, described in one line."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


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
