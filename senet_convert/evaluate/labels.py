"""Which class each validation image belongs to, read from one of three sources.

  NAME LABEL file   one image per line, as the SENet release's ILSVRC2017_val.txt: the image's file
                    name and its class, a 0-based index in ILSVRC-2012 devkit order (the release's
                    convention), in sorted WordNet-ID order, into the model's own rows, or a WordNet ID
  devkit file       ILSVRC2012_validation_ground_truth.txt: line i holds the ILSVRC2012_ID (1-based,
                    devkit order) of the image numbered i, ILSVRC2012_val_0000000i.JPEG
  class subfolders  no label file: each subfolder of the image folder is a class, named by its WordNet
                    ID (n01440764/...) or, for other data sets, by any name (ImageFolder's rule: the
                    sorted folder names are the classes 0, 1, ...)

The result says how its classes are identified (`kind`): by WordNet ID ("wnid": every ILSVRC order
comes down to it), by index into the model's rows ("model"), or by folder name ("folders"). The
model's own order is matched against it in classes.py, never assumed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..edits import class_order as ilsvrc
from ..errors import ConvertError
from ..files import no_such_file

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm"})
LABEL_ORDERS = ("auto", "caffe", "sorted", "model")
_WNID = re.compile(r"n\d{8}")
_DEVKIT_NUMBER = re.compile(r"_(\d{8})$")
MAX_LABEL_BYTES = 64 * 2**20  # ILSVRC's 50,000 lines are 1.5 MB
SHOWN = 5


@dataclass(frozen=True)
class Labels:
    images: tuple[Path, ...]  # sorted by relative path
    targets: tuple  # per image: a WordNet ID (kind "wnid"), a row index ("model") or a class index ("folders")
    kind: str  # "wnid", "model" or "folders"
    order: str  # how the source counted: "caffe" (devkit), "sorted", "wnid", "model", "folders"
    folders: tuple[str, ...] = ()  # kind "folders": the class names, sorted
    source: str = ""  # one line for the report

    def __len__(self) -> int:
        return len(self.images)


def image_files(folder: Path) -> list[Path]:
    """Image files under `folder` (recursively, hidden entries skipped), sorted by relative path."""
    if not folder.is_dir():
        raise ConvertError(f"{folder}: not a folder of images")
    found = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            found.append(rel)
    if not found:
        raise ConvertError(f"{folder}: holds no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return sorted(found, key=lambda p: p.as_posix())


def read_labels(folder: Path, label_file: Path | None, order: str = "auto", *, model_knows_ilsvrc: bool | None) -> Labels:
    """The labels of every image in `folder`; `order` says how a NAME LABEL file's integers count
    ("auto": devkit order for a model with ILSVRC classes, as the release's file, the model's rows
    for a model without; model_knows_ilsvrc None, a 1000-way model that records no order, is an error)."""
    if order not in LABEL_ORDERS:
        raise ConvertError(f"label order must be one of {', '.join(LABEL_ORDERS)}, got '{order}'")
    files = image_files(folder)
    if label_file is None:
        return _from_subfolders(folder, files)
    lines = _read_lines(label_file)
    if lines and all(len(fields) == 1 for _, fields in lines):
        return _from_devkit(folder, label_file, lines, files)
    if order == "auto":
        if model_knows_ilsvrc is None and not _all_wnids(lines):
            raise ConvertError(f"{label_file}: its class numbers could count in devkit or sorted order or be the model's rows, and the "
                               "model's 1000 rows record no order: give --model-class-order caffe|sorted (or --label-order model)")
        order = "caffe" if model_knows_ilsvrc else "model"
    return _from_name_label(folder, label_file, lines, files, order)


def _read_lines(path: Path) -> list[tuple[int, list[str]]]:
    try:
        size = path.stat().st_size
        if size > MAX_LABEL_BYTES:
            raise ConvertError(f"{path}: {size:,} bytes is too large for a label file")
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise no_such_file(path) from None
    except UnicodeDecodeError as exc:
        raise ConvertError(f"{path}: not a text file (byte {exc.start} is not UTF-8)") from None
    except IsADirectoryError:
        raise ConvertError(f"{path}: is a folder, not a label file") from None
    lines = [(n, line.split()) for n, line in enumerate(text.splitlines(), 1) if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise ConvertError(f"{path}: holds no labels")
    return lines


def _all_wnids(lines) -> bool:
    return all(len(fields) == 2 and _WNID.fullmatch(fields[1]) for _, fields in lines)


def _integer(path: Path, number: int, token: str, low: int, high: int | None) -> int:
    if not re.fullmatch(r"[+-]?\d{1,9}", token):
        raise ConvertError(f"{path}:{number}: '{token}' is not a class number")
    value = int(token)
    if value < low or (high is not None and value > high):
        span = f"{low} to {high}" if high is not None else f"at least {low}"
        raise ConvertError(f"{path}:{number}: class {value} is out of range ({span})")
    return value


def _from_name_label(folder: Path, path: Path, lines, files: list[Path], order: str) -> Labels:
    named: dict[str, tuple[int, str]] = {}
    for number, fields in lines:
        if len(fields) != 2:
            raise ConvertError(f"{path}:{number}: expected 'NAME LABEL', got {len(fields)} fields")
        name, token = fields
        if name in named:
            raise ConvertError(f"{path}:{number}: '{name}' is labelled twice (first at line {named[name][0]})")
        named[name] = (number, token)
    images, tokens = _match(folder, path, named, files)
    if all(_WNID.fullmatch(t) for _, t in tokens):
        return Labels(tuple(images), tuple(t for _, t in tokens), "wnid", "wnid", source=f"{path.name}: NAME WNID")
    if order == "model":
        targets = tuple(_integer(path, n, t, 0, None) for n, t in tokens)
        return Labels(tuple(images), targets, "model", "model", source=f"{path.name}: NAME LABEL, labels are the model's row indices")
    rows = ilsvrc.wnids(order)
    targets = tuple(rows[_integer(path, n, t, 0, len(rows) - 1)] for n, t in tokens)
    described = "0-based ILSVRC-2012 devkit order" if order == "caffe" else "0-based sorted WordNet-ID order"
    return Labels(tuple(images), targets, "wnid", order, source=f"{path.name}: NAME LABEL, {described}")


def _match(folder: Path, path: Path, named: dict, files: list[Path]) -> tuple[list[Path], list]:
    """The label file's names matched to the folder's images: by relative path, else by file name,
    else (names without a suffix) by stem. Anything unmatched on either side is one error."""
    keys = {f.as_posix(): f for f in files}
    if not any("/" in name for name in named):
        keys = _unique(folder, files, lambda f: f.name)
        if not any(Path(name).suffix for name in named):
            keys = _unique(folder, files, lambda f: f.stem)
    missing = [name for name in named if name not in keys]
    matched = {keys[name] for name in named if name in keys}
    extra = [f.as_posix() for f in files if f not in matched]
    if missing or extra:
        raise ConvertError(_mismatch(folder, path, missing, extra))
    pairs = sorted(((keys[name], info) for name, info in named.items()), key=lambda pair: pair[0].as_posix())
    return [p for p, _ in pairs], [info for _, info in pairs]


def _unique(folder: Path, files: list[Path], key) -> dict:
    out: dict[str, Path] = {}
    for f in files:
        if key(f) in out:
            raise ConvertError(f"{folder}: two images are both '{key(f)}' ({out[key(f)]} and {f}); name them by relative path in the label file")
        out[key(f)] = f
    return out


def _shown(names: list[str]) -> str:
    return ", ".join(names[:SHOWN]) + (f", ... ({len(names)} in all)" if len(names) > SHOWN else "")


def _mismatch(folder: Path, path: Path, missing: list[str], extra: list[str]) -> str:
    parts = []
    if missing:
        parts.append(f"{path} names {len(missing)} image(s) that {folder} does not hold: {_shown(missing)}")
    if extra:
        parts.append(f"{folder} holds {len(extra)} image(s) that {path.name} does not label: {_shown(extra)}")
    return "; ".join(parts)


def _from_devkit(folder: Path, path: Path, lines, files: list[Path]) -> Labels:
    ids = {i: (number, fields[0]) for i, (number, fields) in enumerate(lines, 1)}
    by_number: dict[int, Path] = {}
    unnumbered = []
    for f in files:
        found = _DEVKIT_NUMBER.search(f.stem)
        if found is None:
            unnumbered.append(f.as_posix())
        else:
            by_number[int(found.group(1))] = f
    if unnumbered:
        raise ConvertError(f"{path}: a devkit ground-truth file labels images by number (ILSVRC2012_val_00000001.JPEG), "
                           f"but {folder} holds {len(unnumbered)} image(s) without one: {_shown(unnumbered)}")
    missing = [f"ILSVRC2012_val_{i:08d}" for i in ids if i not in by_number]
    extra = [f.as_posix() for i, f in sorted(by_number.items()) if i not in ids]
    if missing or extra:
        raise ConvertError(_mismatch(folder, path, missing, extra))
    devkit = ilsvrc.devkit_wnids()
    pairs = sorted(((by_number[i], devkit[_integer(path, n, t, 1, 1000) - 1]) for i, (n, t) in ids.items()), key=lambda p: p[0].as_posix())
    return Labels(tuple(p for p, _ in pairs), tuple(w for _, w in pairs), "wnid", "caffe",
                  source=f"{path.name}: devkit ground truth, ILSVRC2012_ID per image number (1-based devkit order)")


def _from_subfolders(folder: Path, files: list[Path]) -> Labels:
    flat = [f.as_posix() for f in files if len(f.parts) != 2]
    if flat:
        raise ConvertError(f"{folder}: without --labels the images must sit in one subfolder per class; {len(flat)} do not: {_shown(flat)}")
    classes = sorted({f.parts[0] for f in files})
    if all(_WNID.fullmatch(c) for c in classes):
        return Labels(tuple(files), tuple(f.parts[0] for f in files), "wnid", "wnid", source=f"{len(classes)} WordNet-ID subfolders of {folder.name}")
    index = {c: i for i, c in enumerate(classes)}
    return Labels(tuple(files), tuple(index[f.parts[0]] for f in files), "folders", "folders", folders=tuple(classes),
                  source=f"{len(classes)} class subfolders of {folder.name} (sorted names are classes 0, 1, ..., as ImageFolder)")
