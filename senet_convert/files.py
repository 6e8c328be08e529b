"""Writing output files so that a failure never leaves a partial file behind."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from .errors import ConvertError


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside `path`; rename it over `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The suffix is kept: some writers (torch.export.save) check it.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def reading(path: str | Path, what: str):
    """Turn the OS's errors while reading `path` into one-line ConvertErrors."""
    try:
        yield
    except FileNotFoundError:
        raise ConvertError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConvertError(f"{path}: is a directory, not a {what}") from None
    except PermissionError:
        raise ConvertError(f"{path}: permission denied") from None
    except OSError as exc:
        raise ConvertError(f"{path}: cannot read: {exc.strerror}") from None
