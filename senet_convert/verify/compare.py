"""Comparing arrays: the per-value metric max|x - ref| / max|ref|, execution order, class agreement."""
from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np

from ..graph import Net
from .report import TOP_K, ZERO_FLOOR, Backend, Check


def max_error(x: np.ndarray, ref: np.ndarray) -> float:
    """max|x - ref| in float64; positions where both hold the same inf or both NaN count as equal.
    (A metric only: `check` fails every value that is not finite on either side.)"""
    if x.size == 0:
        return 0.0
    with np.errstate(invalid="ignore"):  # inf - inf
        d = np.subtract(x, ref, dtype=np.float64)
    np.abs(d, out=d)
    err = float(d.max())
    if np.isfinite(err):
        return err
    bad = ~np.isfinite(d)
    same = (x == ref) | (np.isnan(x) & np.isnan(ref))
    if (bad & ~same).any():
        return float("inf")
    d[bad] = 0.0
    return float(d.max())


def not_finite(a: np.ndarray) -> str | None:
    """'3 NaN and 1 infinite of 4,096' when `a` holds values that are not finite, else None."""
    with np.errstate(invalid="ignore", over="ignore"):
        if a.size == 0 or np.isfinite(a.sum(dtype=np.float64)):
            return None
    nan, inf = int(np.count_nonzero(np.isnan(a))), int(np.count_nonzero(np.isinf(a)))
    if not nan and not inf:  # a finite sum that overflowed
        return None
    parts = [f"{nan:,} NaN"] * bool(nan) + [f"{inf:,} infinite"] * bool(inf)
    return f"{' and '.join(parts)} of {a.size:,}"


def max_abs(ref: np.ndarray) -> float:
    if ref.size == 0:
        return 0.0
    finite = np.abs(ref[np.isfinite(ref)]) if not np.isfinite(ref).all() else np.abs(ref)
    return float(finite.max()) if finite.size else 0.0


def check(value: str, x: np.ndarray | None, ref: np.ndarray, tolerance: float, net: Net, producer: Mapping) -> Check:
    layer = producer.get(value)
    blob = net.blob_of.get(value, value)
    kind = (layer.name, layer.type) if layer is not None else (None, None)
    scale = max_abs(ref)
    limit = max(tolerance * scale, ZERO_FLOOR)
    if x is None:
        return Check(value, blob, *kind, float("inf"), scale, limit, "missing")
    if tuple(x.shape) != tuple(ref.shape):
        return Check(value, blob, *kind, float("inf"), scale, limit, f"shape {tuple(x.shape)}, expected {tuple(ref.shape)}")
    # NaN is never certified, not even where the reference holds NaN too: in execution order the
    # first value that is not finite names the layer that produced it.
    mine, theirs = not_finite(x), not_finite(ref)
    if mine or theirs:
        what = f"not finite: {mine or 'all finite'} here, {theirs or 'all finite'} in the reference"
        return Check(value, blob, *kind, float("inf"), scale, limit, what)
    return Check(value, blob, *kind, max_error(x, ref), scale, limit)


def execution_order(net: Net) -> list[str]:
    """Every value a layer defines, in the order Caffe computes them."""
    return [top for layer in net.layers for top in layer.tops]


def class_value(net: Net, available) -> str | None:
    """The value to rank classes on: the last classifier-shaped (N x K, K >= 2) value available."""
    for value in [*net.outputs, *reversed(execution_order(net))]:
        shape = net.shapes.get(value, ())
        if value in available and len(shape) >= 2 and shape[1] >= 2 and all(d == 1 for d in shape[2:]):
            return value
    return None


def top_k_agreement(x: np.ndarray, ref: np.ndarray, k: int) -> tuple[int, int]:
    """Samples whose top-k classes (as a set; k=1: the argmax) match the reference's; a sample
    with a value that is not finite on either side agrees with nothing."""
    x, ref = x.reshape(x.shape[0], -1), ref.reshape(ref.shape[0], -1)
    k = min(k, x.shape[1])
    mine = np.sort(np.argsort(-x, axis=1, kind="stable")[:, :k], axis=1)
    theirs = np.sort(np.argsort(-ref, axis=1, kind="stable")[:, :k], axis=1)
    finite = np.isfinite(x).all(axis=1) & np.isfinite(ref).all(axis=1)
    return int(((mine == theirs).all(axis=1) & finite).sum()), int(x.shape[0])


def compare(
    name: str, against: str, values: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray],
    order: Sequence[str], net: Net, tolerance: float, *, missing_ok: bool = False,
) -> Backend:
    """Check each value of `order` that `values` holds (all of them unless missing_ok)."""
    start = time.perf_counter()
    producer = net.producer()
    backend = Backend(name, against, total=len(order))
    for value in order:
        if value not in values and missing_ok:
            continue
        backend.checks.append(check(value, values.get(value), reference[value], tolerance, net, producer))
    cls = class_value(net, values)
    if cls is not None and cls in reference and values[cls].shape == reference[cls].shape:
        backend.top1 = top_k_agreement(values[cls], reference[cls], 1)
        backend.top5 = top_k_agreement(values[cls], reference[cls], TOP_K)
    backend.compare_seconds = time.perf_counter() - start
    return backend


def relative_error(x: np.ndarray, ref: np.ndarray) -> float:
    """max|x - ref| / max|ref|, the metric of every comparison (an all-zero ref: 0 if x equals it, else inf)."""
    x, ref = np.asarray(x), np.asarray(ref)
    if x.shape != ref.shape:
        return float("inf")
    err, scale = max_error(x, ref), max_abs(ref)
    return err / scale if scale > 0 else (0.0 if err == 0 else float("inf"))


def output_error(values: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray], outputs: Sequence[str]) -> float:
    return max((relative_error(values[value], reference[value]) for value in outputs), default=0.0)
