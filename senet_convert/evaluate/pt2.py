"""Loading a torch.export program (.pt2) without unpickling anything.

torch.export.load falls back to pickle in several places: weights or constants saved with
`use_pickle`, custom and opaque objects among the constants, sample inputs that weights_only
loading rejects (it then retries with weights_only=False), the legacy archive layouts, and
AOTInductor packages, which load native code. The archive is checked first and refused if it
holds any of these; only then does torch read it, from the same bytes in memory.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from ..errors import ConvertError

_REFUSED_DIRS = ("data/aotinductor/", "data/executorch/", "data/mtia", "xl_model_weights/")
MAX_PT2_BYTES = 8 * 2**30


def _refuse(path: Path, why: str):
    raise ConvertError(f"{path}: refused, it could run code when loaded ({why}); evaluate loads only plain .pt2 programs")


def _entries(path: Path, archive: zipfile.ZipFile) -> tuple[str, dict[str, str]]:
    names = archive.namelist()
    roots = {n.split("/", 1)[0] for n in names}
    if len(roots) != 1:
        raise ConvertError(f"{path}: not a .pt2 archive (entries under {len(roots)} top folders)")
    root = roots.pop()
    return root, {n[len(root) + 1:]: n for n in names if "/" in n}


def _check_payloads(path: Path, archive: zipfile.ZipFile, entries: dict[str, str], kind: str) -> None:
    import torch

    for name, full in entries.items():
        if not (name.startswith(f"data/{kind}/") and name.endswith(f"_{kind}_config.json")):
            continue
        try:
            config = json.loads(archive.read(full))["config"]
        except (ValueError, KeyError, TypeError):
            raise ConvertError(f"{path}: {name} is not a readable {kind} table") from None
        for fqn, meta in config.items():
            file = str(meta.get("path_name", ""))
            if file.startswith(("custom_obj_", "opaque_obj_")):
                _refuse(path, f"constant '{fqn}' is a pickled object")
            if meta.get("use_pickle"):
                try:
                    torch.load(io.BytesIO(archive.read(entries[f"data/{kind}/{file}"])), weights_only=True)
                except Exception:
                    _refuse(path, f"'{fqn}' is pickled beyond plain tensors")


def load_program(path: Path):
    """The ExportedProgram in `path`, refused (ConvertError) where loading it could unpickle code."""
    import torch

    try:
        size = path.stat().st_size
        if size > MAX_PT2_BYTES:
            raise ConvertError(f"{path}: {size:,} bytes is more than a .pt2 evaluate reads ({MAX_PT2_BYTES:,})")
        data = path.read_bytes()
        archive = zipfile.ZipFile(io.BytesIO(data))
    except FileNotFoundError:
        raise ConvertError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise ConvertError(f"{path}: not a .pt2 archive ({exc})") from None
    with archive:
        root, entries = _entries(path, archive)
        if "archive_version" not in entries or "models/model.json" not in entries:
            _refuse(path, "not the current PT2 archive layout; older layouts are loaded with pickle")
        for name in entries:
            if name.startswith(_REFUSED_DIRS):
                _refuse(path, f"it holds {name.split('/')[1]} artifacts")
            if name in ("data/weights/model.pt", "data/constants/model.pt"):
                _refuse(path, f"{name} is a legacy pickled table")
        for kind in ("weights", "constants"):
            _check_payloads(path, archive, entries, kind)
        sample = entries.get("data/sample_inputs/model.pt")
        if sample is not None:
            try:
                torch.load(io.BytesIO(archive.read(sample)), weights_only=True)
            except Exception:
                _refuse(path, "its sample inputs are more than plain tensors")
    try:
        return torch.export.load(io.BytesIO(data))
    except Exception as exc:
        raise ConvertError(f"{path}: not a loadable torch.export program ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})") from None
