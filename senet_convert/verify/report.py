"""The verify report: one Check per value, one Backend per row, informational rows, and its text form."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TOLERANCE = 2e-5
ZERO_FLOOR = 1e-12
TOP_K = 5


@dataclass
class Check:
    """One value of one backend against its reference."""

    value: str  # IR value name (graph.py), or the Caffe blob name against Caffe's dump
    blob: str  # the Caffe blob it belongs to
    layer: str | None  # the layer that defines it (None: a net input)
    layer_type: str | None
    error: float  # max|x - ref|
    scale: float  # max|ref|
    limit: float  # the largest error allowed
    mismatch: str | None = None  # a shape mismatch, or why the value could not be compared

    @property
    def relative(self) -> float:
        if self.mismatch:
            return float("inf")
        if self.scale > 0:
            return self.error / self.scale
        return 0.0 if self.error == 0 else float("inf")

    @property
    def ok(self) -> bool:
        return self.mismatch is None and self.error <= self.limit

    def where(self) -> str:
        name = f"'{self.value}'" + (f" (Caffe blob '{self.blob}')" if self.blob != self.value else "")
        if self.layer is None:
            return name + ", a net input"
        return name + f", made by layer '{self.layer}' ({self.layer_type})"

    def to_dict(self) -> dict:
        return {
            "value": self.value, "blob": self.blob, "layer": self.layer, "type": self.layer_type,
            "max_abs_error": self.error, "max_abs_reference": self.scale, "relative_error": _finite(self.relative),
            "ok": self.ok, "mismatch": self.mismatch,
        }


@dataclass
class Backend:
    """One backend (torch on a device, a .pt2, ONNX Runtime, the oracle) against one reference."""

    name: str
    against: str  # "oracle float64" or "Caffe blobs (FILE)"
    checks: list[Check] = field(default_factory=list)
    total: int = 0  # values there are to compare
    top1: tuple[int, int] | None = None  # (samples agreeing, samples)
    top5: tuple[int, int] | None = None
    seconds: float = 0.0  # running the backend
    compare_seconds: float = 0.0
    crashed: str | None = None  # the exception, when the backend did not run
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.crashed is None and bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def first_failure(self) -> Check | None:
        return next((c for c in self.checks if not c.ok), None)

    @property
    def failures(self) -> int:
        return sum(not c.ok for c in self.checks)

    @property
    def worst_relative(self) -> float:
        return max((c.relative for c in self.checks), default=float("nan"))

    def worst(self, n: int) -> list[Check]:
        return sorted(self.checks, key=lambda c: c.relative, reverse=True)[:n]

    def to_dict(self) -> dict:
        first = self.first_failure
        return {
            "name": self.name, "against": self.against, "ok": self.ok, "compared": len(self.checks),
            "total": self.total, "failures": self.failures, "worst_relative_error": _finite(self.worst_relative),
            "first_failure": first.to_dict() if first else None,
            "top1_agreement": list(self.top1) if self.top1 else None,
            "top5_agreement": list(self.top5) if self.top5 else None,
            "seconds": self.seconds, "compare_seconds": self.compare_seconds,
            "crashed": self.crashed, "note": self.note, "values": [c.to_dict() for c in self.checks],
        }


@dataclass
class Info:
    """An informational row: a reduced-precision mode's effect on the outputs. Never checked."""

    name: str
    error: float  # max over the outputs of max|x - oracle| / max|oracle|
    top1: tuple[int, int] | None
    seconds: float = 0.0
    note: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "checked": False, "max_relative_error": _finite(self.error),
                "top1_agreement": list(self.top1) if self.top1 else None, "seconds": self.seconds, "note": self.note}


@dataclass
class Report:
    net: str
    input: str
    batch: int
    tolerance: float
    values: int  # values of the IR, inputs excluded
    backends: list[Backend] = field(default_factory=list)
    info: list[Info] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    # Transforms that make the net compute something other than the prototxt (e.g. --global-pool):
    # the oracle runs the transformed net too, so they are reported, not checked against Caffe.
    deviations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.backends) and all(b.ok for b in self.backends)

    def to_dict(self) -> dict:
        return {
            "format": "senet-convert/verify", "format_version": 1, "ok": self.ok, "net": self.net,
            "input": self.input, "batch": self.batch, "tolerance": self.tolerance,
            "metric": "max|x - ref| / max|ref| per value", "values": self.values,
            "backends": [b.to_dict() for b in self.backends], "info": [i.to_dict() for i in self.info],
            "notes": self.notes, "deviations": self.deviations, "timings": self.timings,
        }

    def render(self, worst: int = 5) -> str:
        return render(self, worst)


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None



# ---- the text report ----


def _ratio(pair: tuple[int, int] | None) -> str:
    return f"{pair[0]}/{pair[1]}" if pair else "-"


def _rel(x: float) -> str:
    return f"{x:.1e}" if np.isfinite(x) else ("inf" if x > 0 else "-")


def render(report: Report, worst: int = 5) -> str:
    lines = [
        f"net '{report.net}': {report.values} values; input: {report.input}",
        f"tolerance per value: max|x - ref| <= {report.tolerance:g} * max|ref|",
        "",
        f"{'backend':<44} {'against':<22} {'values':>9} {'worst':>8} {'top-1':>6} {'top-5':>6}  result",
    ]
    for b in report.backends:
        result = "CRASHED" if b.crashed else ("ok" if b.ok else f"FAIL ({b.failures})")
        lines.append(
            f"{b.name:<44} {b.against:<22} {len(b.checks):>4}/{b.total:<4} {_rel(b.worst_relative):>8} "
            f"{_ratio(b.top1):>6} {_ratio(b.top5):>6}  {result}"
        )
    for b in report.backends:
        if b.crashed:
            lines += ["", f"{b.name}: did not run: {b.crashed}"]
            continue
        first = b.first_failure
        if first is not None:
            what = first.mismatch or f"max|d| = {first.error:.3g} = {_rel(first.relative)} x max|ref|, over {report.tolerance:g}"
            lines += ["", f"{b.name} vs {b.against}: first value out of tolerance: {first.where()}: {what}"]
        if b.note:
            lines.append(f"{b.name}: {b.note}")
    if worst > 0:
        for b in report.backends:
            if b.checks and not b.crashed:
                lines += ["", f"worst values, {b.name} vs {b.against}:"]
                for c in b.worst(worst):
                    mark = "" if c.ok else "  <- out of tolerance"
                    lines.append(f"  {_rel(c.relative):>8}  {c.value}" + (f"  [{c.layer}]" if c.layer else "") + mark)
    if report.info:
        lines += ["", "info, not checked (what reduced precision does to the outputs):"]
        for i in report.info:
            text = i.note or f"max relative error {_rel(i.error)}, top-1 agreement {_ratio(i.top1)}"
            lines.append(f"  {i.name:<40} {text}")
    for note in report.notes:
        lines.append(f"note: {note}")
    for deviation in report.deviations:
        lines.append(f"deliberate deviation from the prototxt (both sides run it; no Caffe reference): {deviation}")
    lines += ["", f"verify: {'PASSED' if report.ok else 'FAILED'}"]
    return "\n".join(lines)
