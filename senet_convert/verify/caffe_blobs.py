"""Real Caffe's blobs (a .npz dump) as a reference row beside the oracle."""
from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..errors import ConvertError
from ..files import no_such_file
from ..graph import Net
from .compare import check, class_value, execution_order, top_k_agreement
from .report import TOP_K, Backend, Report


def read_caffe_blobs(path: str | Path) -> dict[str, np.ndarray]:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise no_such_file(path) from None
    except Exception as exc:  # zipfile, pickle and format errors
        raise ConvertError(f"{path}: not a readable .npz of Caffe blobs ({type(exc).__name__}: {exc})") from None


def add_caffe_row(report: Report, label: str, values, caffe: Mapping, net: Net, tolerance: float) -> None:
    row = against_caffe(label, values, caffe, net, tolerance)
    if row.checks:
        report.backends.append(row)
    else:
        report.notes.append(f"{label}: none of the blobs in {caffe['name']} is among its values; not compared with Caffe")


def against_caffe(label: str, values: Mapping[str, np.ndarray], caffe: Mapping, net: Net, tolerance: float) -> Backend:
    """`values` (by IR value) at each Caffe blob's final value that Caffe's dump holds."""
    blobs = caffe["blobs"]
    order = [v for v in execution_order(net) if net.final.get(net.blob_of[v]) == v and net.blob_of[v] in blobs]
    start = time.perf_counter()
    producer = net.producer()
    backend = Backend(label, f"Caffe blobs ({caffe['name']})", total=len(order))
    for value in order:
        if value in values:
            reference = blobs[net.blob_of[value]].astype(np.float64)
            backend.checks.append(check(value, values[value], reference, tolerance, net, producer))
    cls = class_value(net, values)
    if cls is not None and net.blob_of[cls] in blobs and values[cls].shape == blobs[net.blob_of[cls]].shape:
        backend.top1 = top_k_agreement(values[cls], blobs[net.blob_of[cls]], 1)
        backend.top5 = top_k_agreement(values[cls], blobs[net.blob_of[cls]], TOP_K)
    backend.compare_seconds = time.perf_counter() - start
    if len(backend.checks) < len(order):
        backend.note = f"{len(backend.checks)} of {len(order)} dumped blobs exposed"
    return backend


def caffe_dump(caffe_blobs, name: str | None, net: Net, inputs: Mapping[str, np.ndarray], report: Report) -> dict | None:
    if caffe_blobs is None:
        return None
    if isinstance(caffe_blobs, (str, Path)):
        name, blobs = name or Path(caffe_blobs).name, read_caffe_blobs(caffe_blobs)
    else:
        name, blobs = name or "Caffe blobs", dict(caffe_blobs)
    known = [k for k in blobs if k in net.final]
    if not known:
        raise ConvertError(f"{name}: none of its {len(blobs)} arrays is named after a blob of net '{net.name}'")
    ignored = sorted(set(blobs) - set(known))
    if ignored:
        report.notes.append(
            f"{name}: {len(ignored)} arrays named after no blob of the net were ignored"
            + (" (Caffe's automatic Split blobs hold their source's values)"
               if all("_split_" in k for k in ignored) else f": {ignored[:5]}")
        )
    for input_name, array in inputs.items():
        if input_name in blobs:
            dumped = blobs[input_name]
            if dumped.shape != array.shape or not np.array_equal(dumped.astype(np.float32), array):
                raise ConvertError(f"{name}: its '{input_name}' differs from the input given; drop --input to use the dump's")
    return {"name": name, "blobs": {k: blobs[k] for k in known}}
