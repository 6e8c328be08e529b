"""Writing output files so that a failure never leaves a partial file behind."""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import stat
import tempfile
from pathlib import Path

from .errors import ConvertError


@contextlib.contextmanager
def atomic_path(path: str | Path, *, needs_bytes: int = 0):
    """Yield a temporary path beside `path`; rename it over `path` only if the block succeeds.

    The OS's errors while writing (a full disk, a read-only folder) become one-line
    ConvertErrors naming `path`. Writers must write through a Python file object (see
    `write_torch`) for a full disk to surface as OSError. `needs_bytes` is checked against
    the free space first, for writers that cannot fail cleanly.
    """
    path = Path(path)
    check_replaceable(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        check_free_space(path, needs_bytes)
        sweep_staging(path.parent)
        # The suffix is kept: some writers (torch.export.save) check it. The owner, for sweep_staging.
        fd, tmp = tempfile.mkstemp(prefix=f"{STAGING_PREFIX}{_owner()}.{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    except OSError as exc:
        raise cannot_write(path, exc) from None
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        check_replaceable(path)  # again: something may have appeared there while the file was written
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise cannot_write(path, exc) from None
        raise


@contextlib.contextmanager
def staged_outputs(output_dir: Path, names: list[str]):
    """Yield a temporary folder in `output_dir` for a job that writes several files.

    Only when the whole block succeeds does what it wrote move into `output_dir`: a job that
    fails at its third file leaves neither the first two nor anything else behind. The files
    named in `names` move last, in that order (an ONNX file's external data arrives before
    the .onnx that points at it). A folder it wrote replaces an earlier folder of that name; a
    file replaces only a regular file or a symlink, and nothing moves unless every one may.
    The staging folder's name holds the job's host and process id: a job killed by SIGKILL
    cannot remove it, and the next job writing to `output_dir` sweeps it (`sweep_staging`).
    """
    output_dir = Path(output_dir)
    for name in names:
        check_replaceable(output_dir / name, folder_ok=True)  # before the work, not after it
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        sweep_staging(output_dir)
        staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{_owner()}.", suffix=".tmp", dir=output_dir))
    except OSError as exc:
        raise cannot_write(output_dir, exc) from None
    moved: list[Path] = []
    replaced: list[tuple[Path, Path]] = []  # (folder, where the earlier one waits until the job is whole)
    try:
        yield staging
        written = [p.name for p in staging.iterdir()]
        order = sorted(written, key=lambda n: (n in names, names.index(n) if n in names else 0, n))
        for name in order:
            check_replaceable(output_dir / name, folder_ok=(staging / name).is_dir())
        for name in order:
            if (staging / name).is_dir() and (output_dir / name).is_dir():  # os.replace takes no non-empty folder
                replaced.append((output_dir / name, staging / f".{name}.earlier"))
                os.replace(output_dir / name, replaced[-1][1])
            os.replace(staging / name, output_dir / name)
            moved.append(output_dir / name)
    except BaseException as exc:
        for path in moved:  # a move failed halfway: what arrived is not a whole job's output
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        for folder, earlier in replaced:
            with contextlib.suppress(OSError):
                os.replace(earlier, folder)
        if isinstance(exc, OSError):
            raise cannot_write(output_dir, exc) from None
        if isinstance(exc, ConvertError):  # name the file the user asked for, not its staging place
            raise ConvertError(str(exc).replace(str(staging), str(output_dir))) from None
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


STAGING_PREFIX = ".senet-convert."
# A staging folder, or atomic_path's temporary file (which keeps its target's suffix).
_STAGING = re.compile(re.escape(STAGING_PREFIX) + r"(\d+)@([A-Za-z0-9_-]+)\.[^/]*\.tmp(\.[^./]*)?")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname())[:64] or "host"


def _owner() -> str:
    return f"{os.getpid()}@{_host()}"


def _running(pid: int) -> bool:
    if os.name == "nt":  # os.kill there terminates the process: count every one as running
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # a process of another user: it runs
        return True
    return True


def sweep_staging(output_dir: Path) -> list[Path]:
    """Remove the staging folders and temporary files in `output_dir` of jobs on this host whose
    process is gone (killed by SIGKILL, or the machine lost power). Another host's (a shared file
    system) and a running job's are left alone: only a process that no longer runs cannot be
    writing there."""
    swept = []
    for entry in os.scandir(output_dir):
        match = _STAGING.fullmatch(entry.name)
        if not match or match.group(2) != _host() or entry.is_symlink():
            continue
        if int(match.group(1)) != os.getpid() and not _running(int(match.group(1))):
            with contextlib.suppress(OSError):
                shutil.rmtree(entry.path) if entry.is_dir(follow_symlinks=False) else os.unlink(entry.path)
            swept.append(Path(entry.path))
    return swept


def check_replaceable(path: Path, *, folder_ok: bool = False) -> None:
    """Outputs replace only a regular file or a symlink to one (or a folder, where a job writes
    a folder): never a device (/dev/null, written by root, became a regular file), a pipe, a socket,
    nor what a symlink points at when that is one of those."""
    try:
        mode = os.lstat(path).st_mode
        if stat.S_ISLNK(mode):
            mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):  # nothing there (a dangling symlink): the write reports its folder
        return
    except OSError as exc:
        raise cannot_write(path, exc) from None
    if stat.S_ISREG(mode) or (folder_ok and stat.S_ISDIR(mode)):
        return
    kind = "a directory" if stat.S_ISDIR(mode) else _kind(mode)
    raise ConvertError(f"{path}: exists and is {kind}, not a regular file; refusing to replace it")


def file_stem(name: str | None, prototxt: str | Path) -> str:
    """The base name of the files a job writes: --name, or the prototxt's. Only its last part
    counts (--name ../../x writes x.pt in the output folder), so the files stay in the folder and
    the paths printed are the paths written."""
    if not name:
        return Path(prototxt).stem
    stem = Path(name).name
    if stem in ("", ".", ".."):
        raise ConvertError(f"--name {name!r} is not a file name")
    return stem


def cannot_write(path: Path, exc: OSError) -> ConvertError:
    return ConvertError(f"{path}: cannot write: {exc.strerror or exc}")


def check_free_space(path: Path, needs_bytes: int) -> None:
    """Refuse up front to write `needs_bytes` into a folder whose disk has less free."""
    if needs_bytes <= 0:
        return
    free = shutil.disk_usage(path.parent).free
    if free < needs_bytes:
        raise ConvertError(f"{path}: cannot write: needs about {_mib(needs_bytes)}, its disk has {_mib(free)} free")


def write_torch(obj, tmp: Path) -> None:
    """torch.save through a Python file, so that a full disk raises OSError.

    Given a path, torch's own zip writer reports a failed write as a RuntimeError
    ('unexpected pos ...') that says nothing of the cause. Given a file, the write's OSError
    is raised, but the writer's cleanup then raises that RuntimeError over it: unwrap it.
    """
    import torch

    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
    except RuntimeError as exc:
        if isinstance(exc.__context__, OSError):
            raise exc.__context__ from None
        raise


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def no_such_file(path: str | Path) -> ConvertError:
    return ConvertError(f"{path}: no such file")


def require_file(path: str | Path) -> Path:
    """`path` as a Path when it is a file; a missing one (or a folder) is bad input."""
    path = Path(path)
    if not path.is_file():
        raise no_such_file(path)
    return path


@contextlib.contextmanager
def reading(path: str | Path, what: str):
    """Turn the OS's errors while reading `path` into one-line ConvertErrors."""
    try:
        yield
    except FileNotFoundError:
        raise no_such_file(path) from None
    except IsADirectoryError:
        raise ConvertError(f"{path}: is a directory, not a {what}") from None
    except PermissionError:
        raise ConvertError(f"{path}: permission denied") from None
    except OSError as exc:
        raise ConvertError(f"{path}: cannot read: {exc.strerror}") from None


def _kind(mode: int) -> str:
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def regular_size(path: str | Path, what: str) -> int:
    """The size of `path`, which must be a regular file: a device (/dev/zero) or a pipe has no
    end to read to. OSErrors are left to `reading`."""
    info = os.stat(path)
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(path)
    if not stat.S_ISREG(info.st_mode):
        raise ConvertError(f"{path}: {_kind(info.st_mode)}, not a {what} file")
    return info.st_size


def read_bounded(path: str | Path, what: str, limit: int, hint: str = "") -> bytes:
    """The bytes of a regular file of at most `limit` bytes (more is refused, not read)."""
    too_big = f"{path}: {{}} bytes, more than a {what} can sensibly be ({limit // 2**20} MiB)" + (f"; {hint}" if hint else "")
    with reading(path, what):
        size = regular_size(path, what)
        if size > limit:
            raise ConvertError(too_big.format(f"{size:,}"))
        with open(path, "rb") as handle:
            data = handle.read(size + 1)
    if len(data) > limit:  # it grew while being read
        raise ConvertError(too_big.format(f"over {limit:,}"))
    return data
