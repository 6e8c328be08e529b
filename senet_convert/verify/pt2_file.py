"""Loading a user's .pt2 without running code from it.

torch.export.load unpickles parts of the archive with weights_only=False: weights and constants
marked `use_pickle`, custom and opaque objects, the legacy single-file formats, and the sample
inputs whenever weights_only=True refuses them. Unpickling runs whatever the file says, so before
torch sees it the archive is checked here: a zip with unique member names in the current format,
every weight and constant stored as raw bytes, no compiled (AOTInductor) code, and sample inputs
that torch.load reads with weights_only=True. Anything else is refused. During the load itself,
torch.load is held to weights_only=True and the pickle loaders it would use are replaced by ones
that refuse, in case torch reads the archive differently from this check.
"""
from __future__ import annotations

import contextlib
import io
import json
import zipfile
from pathlib import Path

from ..errors import ConvertError
from ..files import reading, regular_size

_CONFIGS = ("_weights_config.json", "_constants_config.json")


def _refuse(path: Path, why: str) -> ConvertError:
    return ConvertError(f"{path}: refused: {why}; a .pt2 written by torch.export.save from plain tensors needs no pickle")


def _root(names: list[str], path: Path) -> str:
    roots = [n[: -len("archive_format")] for n in names if n.endswith("archive_format") and n.count("/") == 1]
    if len(roots) != 1:
        if "version" in names or any(n.endswith("/version") and n.count("/") == 1 for n in names):
            raise _refuse(path, "an old torch.export format, whose weights are pickled")
        raise ConvertError(f"{path}: not a torch.export program (no archive_format in the zip)")
    return roots[0]


def _check_configs(archive: zipfile.ZipFile, root: str, names: list[str], path: Path) -> None:
    for name in names:
        if not name.startswith(root + "data/") or not name.endswith(_CONFIGS):
            continue
        try:
            config = json.loads(archive.read(name)).get("config", {})
        except (ValueError, AttributeError):
            raise ConvertError(f"{path}: {name} is not a readable payload config") from None
        for fqn, entry in config.items():
            if not isinstance(entry, dict) or entry.get("use_pickle") is not False:
                raise _refuse(path, f"'{fqn}' is stored as a pickle")
            if name.endswith("_constants_config.json") and not str(entry.get("path_name", "")).startswith("tensor_"):
                raise _refuse(path, f"constant '{fqn}' is a Python or script object")


def _check_members(archive: zipfile.ZipFile, path: Path, size: int) -> None:
    import torch

    names = archive.namelist()
    if len(set(names)) != len(names):
        raise _refuse(path, "the zip holds two members of one name")
    # torch.export.save stores its members uncompressed: more bytes unpacked than the file holds is
    # a compression bomb, which would be read into memory whole.
    unpacked = sum(info.file_size for info in archive.infolist())
    if unpacked > 2 * size + (16 << 20):
        raise _refuse(path, f"its members unpack to {unpacked:,} bytes from a {size:,}-byte file")
    root = _root(names, path)
    if any(n.startswith(root + "data/aotinductor/") for n in names):
        raise _refuse(path, "it holds compiled code (AOTInductor)")
    for legacy in ("data/weights/model.pt", "data/constants/model.pt"):
        if root + legacy in names:
            raise _refuse(path, f"{legacy} is the legacy pickled format")
    _check_configs(archive, root, names, path)
    for name in names:
        if name.startswith(root + "data/sample_inputs/"):
            try:
                torch.load(io.BytesIO(archive.read(name)), weights_only=True)
            except Exception:
                raise _refuse(path, f"its sample inputs ({name}) are not plain tensors") from None


class _Refused(Exception):
    pass


def _no_pickle(*args, **kwargs):
    raise _Refused("unpickling refused")


@contextlib.contextmanager
def _weights_only():
    """torch.load forced to weights_only=True, the archive's other pickle loaders refused."""
    import torch
    from torch.export.pt2_archive import _package

    real_load = torch.load

    def load(*args, **kwargs):
        kwargs["weights_only"] = True
        return real_load(*args, **kwargs)

    saved = [(torch, "load", torch.load)]
    torch.load = load
    if hasattr(_package, "pickle"):
        saved.append((_package, "pickle", _package.pickle))
        _package.pickle = type("NoPickle", (), {"loads": staticmethod(_no_pickle), "load": staticmethod(_no_pickle)})
    if hasattr(torch._C, "_pickle_load_obj"):
        saved.append((torch._C, "_pickle_load_obj", torch._C._pickle_load_obj))
        torch._C._pickle_load_obj = _no_pickle
    try:
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)


def load_pt2(path: str | Path):
    """The ExportedProgram in `path`, or a one-line ConvertError; no code from the file runs."""
    import torch

    path = Path(path)
    with reading(path, ".pt2 file"):
        size = regular_size(path, ".pt2")
        try:
            with zipfile.ZipFile(path) as archive:
                _check_members(archive, path, size)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError):
            raise ConvertError(f"{path}: not a torch.export program (not a zip archive)") from None
        try:
            with _weights_only():
                return torch.export.load(str(path))
        except _Refused:
            raise _refuse(path, "torch asked to unpickle part of it") from None
        except Exception as exc:
            raise ConvertError(f"{path}: not a readable torch.export program ({type(exc).__name__})") from None
