"""The one exception type that reaches users.

Every problem with the files a user hands in (a typo, truncated bytes, a weight that does
not fit) is raised as ConvertError with a one-line message naming the file, line or layer;
the CLI prints it and exits with status 2. Anything else is a bug in senet-convert.
"""


class ConvertError(Exception):
    """A problem with the user's input, described in one line."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))
