"""Parity: the numpy oracle (float64) against everything that claims to compute the same net.

Backends, each compared value by value with the oracle:
  * the torch lowering on each device, float32 in parity mode (TF32 off for CUDA matmuls and
    cuDNN convolutions, full float32 for oneDNN on the CPU; the settings are restored afterwards).
    Every value of the IR is compared: each Caffe blob's final value and the values that in-place
    layers later overwrite (`conv1/7x7_s2` raw conv output, `conv1/7x7_s2@conv1/7x7_s2/bn`, ...);
  * a .pt2 (torch.export program) at its outputs;
  * an .onnx file in ONNX Runtime at its outputs, and, for files senet-convert wrote (which name
    every tensor that holds a value after it), at every value the file holds;
  * blobs dumped by real Caffe (`caffe_blobs`: Caffe blob name -> array of its final value), which
    the oracle and every backend are compared with as well.

The metric per value is max|x - ref| / max|ref| <= tolerance, 2e-5 by default: about 5x the worst
float32 noise measured against real Caffe, and small enough to catch BatchNorm's eps set to 0 (see
../shared/goldens/README.md). An all-zero reference allows only max|x| <= 1e-12. Element-wise
relative errors mean nothing here: ReLU outputs hold many exact zeros. The first value out of
tolerance in execution order names the layer that introduced the error: every value it read
was still within tolerance.

Informational rows (not checked) show what TF32 (CUDA) and bf16 autocast (CPU, CUDA) do to the
outputs: the largest relative error and the top-1 agreement with the oracle.
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ConvertError
from .graph import Net
from .transforms import deviations

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


# ---- comparing arrays ----


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


def output_error(values: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray], outputs: Sequence[str]) -> float:
    worst = 0.0
    for value in outputs:
        x, ref = values[value], reference[value]
        scale = max_abs(ref)
        err = max_error(x, ref) if x.shape == ref.shape else float("inf")
        worst = max(worst, err / scale if scale > 0 else (0.0 if err == 0 else float("inf")))
    return worst


# ---- precision modes ----


@contextlib.contextmanager
def precision(device: str, *, tf32: bool = False):
    """Full float32 (tf32=False: parity mode) or TF32 for CUDA matmuls and convolutions; restored after.

    torch >= 2.9 has per-backend `fp32_precision` settings and refuses to mix them with the legacy
    `allow_tf32` flags once the new ones are in use, so the new ones are used where they exist.
    """
    import torch

    if device.startswith("cuda"):
        knobs = [torch.backends.cuda.matmul, torch.backends.cudnn.conv]
        mode = "tf32" if tf32 else "ieee"
    else:
        knobs = [getattr(torch.backends.mkldnn, "matmul", None), getattr(torch.backends.mkldnn, "conv", None)]
        knobs = [k for k in knobs if k is not None]
        mode = "ieee"
    restore: Callable[[], None]
    try:
        saved = [k.fp32_precision for k in knobs]
        for k in knobs:
            k.fp32_precision = mode

        def restore():
            for k, s in zip(knobs, saved):
                k.fp32_precision = s
    except (AttributeError, RuntimeError):  # torch before 2.9: the legacy flags
        if not device.startswith("cuda"):

            def restore():
                pass
        else:
            old = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32

            def restore():
                torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old
    try:
        yield
    finally:
        restore()


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def check_devices(devices: Sequence[str]) -> list[str]:
    devices = list(dict.fromkeys(devices))
    for device in devices:
        if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
            raise ConvertError(f"unknown device '{device}': use cpu or cuda")
        if device.startswith("cuda") and not cuda_available():
            raise ConvertError(f"device '{device}' was asked for, but torch sees no CUDA device")
    return devices


# ---- the backends ----


def _crash(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _to_numpy(tensor) -> np.ndarray:
    return tensor.detach().float().cpu().numpy()


def _run_torch(module, inputs: Mapping[str, np.ndarray], device: str, *, autocast: bool = False, tf32: bool = False) -> dict:
    import torch

    args = [torch.from_numpy(np.ascontiguousarray(a)).to(device) for a in inputs.values()]
    device_type = torch.device(device).type
    amp = torch.autocast(device_type, dtype=torch.bfloat16) if autocast else contextlib.nullcontext()
    with torch.no_grad(), precision(device, tf32=tf32), amp:
        out = module(*args)
    if device_type == "cuda":
        torch.cuda.synchronize()
    return out


def _classes(net: Net, values: Mapping, reference: Mapping) -> tuple[int, int] | None:
    cls = class_value(net, values)
    if cls is None or values[cls].shape != reference[cls].shape:
        return None
    return top_k_agreement(values[cls], reference[cls], 1)


def _run_or_report(label, module, inputs, device, total, report) -> tuple[dict, float] | None:
    """(every value as numpy, seconds) of `module` on `device`; None after recording a crash as a
    failed backend (reported, not a traceback). The module stays on `device` unless it crashed."""
    try:
        module.to(device)
        start = time.perf_counter()
        values = {k: _to_numpy(v) for k, v in _run_torch(module, inputs, device).items()}
        return values, time.perf_counter() - start
    except Exception as exc:
        report.backends.append(Backend(label, "oracle float64", total=total, crashed=_crash(exc)))
        module.to("cpu")
        return None


def _torch_backends(net, module, inputs, oracle, order, devices, tolerance, caffe, info, report, log) -> None:
    import torch

    outputs = list(net.outputs)
    for device in devices:
        label = f"torch {device}"
        log(f"{label}: float32, TF32 off ...")
        ran = _run_or_report(label, module, inputs, device, len(order), report)
        if ran is None:
            continue
        values, seconds = ran
        backend = compare(label, "oracle float64", values, oracle, order, net, tolerance)
        backend.seconds = seconds
        report.backends.append(backend)
        if caffe is not None:
            _add_caffe_row(report, label, values, caffe, net, tolerance)
        del values
        if info:
            modes = [("bf16 autocast", {"autocast": True})]
            if torch.device(device).type == "cuda":
                modes.insert(0, ("TF32 on", {"tf32": True}))
            for mode, kwargs in modes:
                log(f"{label}: {mode} (info) ...")
                start = time.perf_counter()
                try:
                    out = _run_torch(module, inputs, device, **kwargs)
                    values = {k: _to_numpy(out[k]) for k in outputs}
                    del out
                    report.info.append(Info(f"{label}, {mode}", output_error(values, oracle, outputs),
                                            _classes(net, values, oracle), time.perf_counter() - start))
                    del values
                except Exception as exc:
                    report.info.append(Info(f"{label}, {mode}", float("nan"), None, note=f"did not run: {_crash(exc)}"))
        module.to("cpu")


# The optimized graph re-associates every fold: the bound for it, never looser than asked.
OPTIMIZED_TOLERANCE = 1e-5


class _Named:
    """A module returning a tuple, as one returning value name -> tensor (what _run_or_report takes)."""

    def __init__(self, module, names: Sequence[str]):
        self.module, self.names = module, list(names)

    def eval(self):
        self.module.eval()
        return self

    def to(self, device):
        self.module.to(device)
        return self

    def __call__(self, *args):
        out = self.module(*args)
        return dict(zip(self.names, out if isinstance(out, tuple) else (out,)))


def _deployed_backends(net, inputs, oracle, order, devices, outputs, tolerance, report, log) -> None:
    """The graph caffe2torch writes and users run: outputs only, so each BatchNorm whose value
    nothing else reads applies its Scale in the same pass (to_torch.lower). Compared at every Caffe
    blob (its final value) that this graph, made for `outputs`, still computes."""
    from .to_torch import lower, one_pass_pairs

    pairs = one_pass_pairs(net, outputs)
    hidden = {net.layer(name).tops[0] for name in pairs}
    blobs = [blob for blob, value in net.final.items() if value not in hidden]
    module = lower(net, outputs=blobs, share_weights=True)  # read only: no second copy of the weights
    if module.absorbed != pairs:
        raise RuntimeError(f"verify bug: the deployed graph fuses {len(pairs)} pairs, this one {len(module.absorbed)}")
    values = [net.final[blob] for blob in blobs]
    checked = [value for value in order if value in set(values)]
    note = (f"outputs only, {len(pairs)} BatchNorm/Scale pairs in one pass each; "
            f"compared at the final value of {len(checked)} Caffe blobs")
    _rows_per_device("as deployed", _Named(module, values).eval(), inputs, oracle, checked, net, devices, tolerance,
                     report, log, note=note)


def _optimized_backends(net, inputs, oracle, order, devices, tolerance, report, log) -> None:
    """The optimized graph (optimize.py) on each device, at every value it still has.

    A value a fold removed (a raw conv output, a BatchNorm output before its Scale) is not compared;
    any other value missing from the optimized graph is an error.
    """
    from .optimize import optimize

    module = optimize(net, intermediate=True)
    folding = module.folding
    kept = [value for value in order if value not in folding.removed_values]
    note = f"{folding.summary()}; the {len(folding.removed_values)} values folded away are not compared"
    _rows_per_device("optimized", module, inputs, oracle, kept, net, devices, min(tolerance, OPTIMIZED_TOLERANCE),
                     report, log, note=note, values=folding.exact_values)


def _rows_per_device(kind, module, inputs, oracle, checked, net, devices, tolerance, report, log, *, note, values=dict):
    """One row "torch DEVICE, kind" per device: `module` (returning value -> tensor; `values` maps
    that to the exact graph's names) against the oracle at `checked`."""
    for device in devices:
        label = f"torch {device}, {kind}"
        log(f"{label}: float32, TF32 off ...")
        ran = _run_or_report(label, module, inputs, device, len(checked), report)
        module.to("cpu")
        if ran is None:
            continue
        backend = compare(label, "oracle float64", values(ran[0]), oracle, checked, net, tolerance)
        backend.seconds, backend.note = ran[1], note
        report.backends.append(backend)


def load_pt2(path):
    # A user's .pt2 may carry pickles that torch.export.load would run: pt2_file refuses them.
    from .pt2_file import load_pt2 as load_safely

    return load_safely(path)


def _pt2_backend(path, program, net, inputs, oracle, devices, outputs, tolerance, caffe, report, log) -> None:
    import torch

    from .onnx_export import output_names

    path = Path(path)
    values_out, names = output_names(net, outputs)
    for device in devices:
        label = f"pt2 {device} ({path.name})"
        log(f"{label} ...")
        start = time.perf_counter()
        try:
            if device == "cpu":
                module = program.module()
            else:  # moves the program's parameters, buffers and constants, and device arguments in its graph
                from torch.export.passes import move_to_device_pass

                module = move_to_device_pass(program, device).module()
            args = [torch.from_numpy(np.ascontiguousarray(a)).to(device) for a in inputs.values()]
            with torch.no_grad(), precision(device):
                out = module(*args)
        except Exception as exc:
            report.backends.append(Backend(label, "oracle float64", total=len(values_out), crashed=_crash(exc)))
            continue
        seconds = time.perf_counter() - start
        out = list(out) if isinstance(out, (tuple, list)) else [out]
        shapes = [tuple(t.shape) for t in out]
        expected = [oracle[v].shape for v in values_out]
        if shapes != expected:
            raise ConvertError(
                f"{path}: returns tensors of shapes {shapes}, but outputs {names} have shapes {expected}; "
                "pass --outputs as given to caffe2torch"
            )
        values = {v: _to_numpy(t) for v, t in zip(values_out, out)}
        backend = compare(label, "oracle float64", values, oracle, values_out, net, tolerance)
        backend.seconds = seconds
        report.backends.append(backend)
        if caffe is not None:
            _add_caffe_row(report, label, values, caffe, net, tolerance)


@dataclass
class OnnxFile:
    """What verify needs to know of an .onnx file; the weights are not kept in memory."""

    path: Path
    outputs: dict[str, str]  # graph output name -> IR value
    tensors: set[str]  # names of every node output
    ours: bool  # written by senet-convert: tensors named after Caffe values
    external: bool  # weights in external data files


def load_onnx(path, net: Net) -> OnnxFile:
    """Read an .onnx file and check it against the net's inputs and values (bad input: ConvertError)."""
    from . import onnx_export as ox

    path = Path(path)
    model = ox.load_model(path)
    names_in = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    if sorted(names_in) != sorted(net.inputs):
        raise ConvertError(f"{path}: takes inputs {names_in}, the net takes {list(net.inputs)}")
    for i in model.graph.input:
        if i.name in net.inputs:
            dims = [d.dim_value if d.HasField("dim_value") else None for d in i.type.tensor_type.shape.dim]
            shape = net.inputs[i.name]
            if len(dims) != len(shape) or any(d is not None and d != s for d, s in zip(dims[1:], shape[1:])):
                raise ConvertError(f"{path}: input '{i.name}' has shape {dims}, the net's is {list(shape)}")
    defined = set(execution_order(net))
    outputs = {}
    for o in model.graph.output:
        value = net.final.get(o.name, o.name)  # Caffe blob names; a value name for an earlier value
        if value in defined:
            outputs[o.name] = value
    if not outputs:
        raise ConvertError(f"{path}: none of its outputs {[o.name for o in model.graph.output]} is a blob of net '{net.name}'")
    return OnnxFile(
        path, outputs, ox.tensor_names(model), any(p.key == "senet_convert.version" for p in model.metadata_props),
        ox.uses_external_data(model),
    )


def _onnx_backend(onnx_file: OnnxFile, net, inputs, oracle, order, devices, tolerance, caffe, intermediates, report, log) -> None:
    from . import onnx_export as ox

    path = onnx_file.path
    exposed: list[str] = []
    note: list[str] = []
    if not intermediates:
        note.append("compared at its outputs only, as asked")
    elif not onnx_file.ours:
        note.append("not written by senet-convert: compared at its outputs only")
    elif onnx_file.external:
        note.append("weights in external data: compared at its outputs only")
    else:
        # senet-convert names every tensor holding a value after that value (to_onnx).
        taken = set(onnx_file.outputs) | set(onnx_file.outputs.values())
        exposed = [v for v in order if v in onnx_file.tensors and v not in taken]
    providers = ["CPUExecutionProvider"]
    if any(d.startswith("cuda") for d in devices):
        import onnxruntime as ort

        if "CUDAExecutionProvider" in ort.get_available_providers():
            providers.append("CUDAExecutionProvider")
        else:
            report.notes.append("onnxruntime has no CUDAExecutionProvider here: ONNX checked on the CPU only")
    for provider in providers:
        label = f"onnxruntime {'cuda' if provider.startswith('CUDA') else 'cpu'} ({path.name})"
        log(f"{label} ...")
        start = time.perf_counter()
        try:
            # The file as it ships, at its outputs; then a copy returning every named value too.
            session = ox.ort_session(path, provider)
            got = ox.run_onnx(session, inputs)
            del session
            values = {onnx_file.outputs[k]: v for k, v in got.items() if k in onnx_file.outputs}
            if exposed:
                model = ox.with_outputs(ox.load_model(path), exposed, copy=False)
                data = model.SerializeToString()
                del model
                session = ox.ort_session(data, provider, arena=False)
                del data
                values.update(ox.run_onnx(session, inputs, exposed))
                del session
        except Exception as exc:
            report.backends.append(Backend(label, "oracle float64", total=len(order), crashed=_crash(exc)))
            continue
        seconds = time.perf_counter() - start
        backend = compare(label, "oracle float64", values, oracle, order, net, tolerance, missing_ok=True)
        backend.seconds = seconds
        backend.note = "; ".join(note + [f"{len(values)} of {len(order)} values exposed"])
        report.backends.append(backend)
        if caffe is not None:
            _add_caffe_row(report, label, values, caffe, net, tolerance)
        del values


def read_caffe_blobs(path: str | Path) -> dict[str, np.ndarray]:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise ConvertError(f"{path}: no such file") from None
    except Exception as exc:  # zipfile, pickle and format errors
        raise ConvertError(f"{path}: not a readable .npz of Caffe blobs ({type(exc).__name__}: {exc})") from None


def _add_caffe_row(report: Report, label: str, values, caffe: Mapping, net: Net, tolerance: float) -> None:
    row = _against_caffe(label, values, caffe, net, tolerance)
    if row.checks:
        report.backends.append(row)
    else:
        report.notes.append(f"{label}: none of the blobs in {caffe['name']} is among its values; not compared with Caffe")


def _against_caffe(label: str, values: Mapping[str, np.ndarray], caffe: Mapping, net: Net, tolerance: float) -> Backend:
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


def _caffe_dump(caffe_blobs, name: str | None, net: Net, inputs: Mapping[str, np.ndarray], report: Report) -> dict | None:
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


class _Stage:
    """Wall time of each stage, less the comparisons made in it (counted under "compare")."""

    def __init__(self, report: Report):
        self.report, self.start, self.seen = report, time.perf_counter(), len(report.backends)

    def done(self, name: str, minus: float = 0.0) -> None:
        now = time.perf_counter()
        compared = sum(b.compare_seconds for b in self.report.backends[self.seen:])
        self.report.timings[name] = now - self.start - compared - minus
        self.start, self.seen = now, len(self.report.backends)


def verify(
    net: Net,
    inputs: Mapping[str, np.ndarray],
    *,
    devices: Sequence[str] = ("cpu",),
    onnx: str | Path | None = None,
    pt2: str | Path | None = None,
    caffe_blobs: str | Path | Mapping[str, np.ndarray] | None = None,
    caffe_name: str | None = None,
    tolerance: float = TOLERANCE,
    outputs: Sequence[str] | None = None,
    info: bool = True,
    onnx_intermediates: bool = True,
    torch_module=None,
    optimized: bool = False,
    description: str = "",
    log: Callable[[str], None] | None = None,
) -> Report:
    """Run the oracle and every backend asked for on `inputs`; the Report says what agrees.

    `caffe_blobs`: a .npz, or a mapping, of Caffe blob name -> the array real Caffe computed for
    `inputs` (its final value); `caffe_name` labels it in the report. `outputs` names what the .pt2
    returns (Caffe blobs, as given to caffe2torch; default the net's outputs). `torch_module`
    replaces the lowering `to_torch.lower(net, intermediate=True)` (tests inject bugs through it).
    """
    from . import reference

    log = log or (lambda message: None)
    if not tolerance > 0:
        raise ConvertError(f"tolerance must be positive, got {tolerance}")
    devices = check_devices(devices)
    if set(inputs) != set(net.inputs):
        raise ConvertError(f"net '{net.name}' takes inputs {list(net.inputs)}, got {list(inputs)}")
    # in the net's order: the torch module and the .pt2 take them positionally
    inputs = {name: np.ascontiguousarray(inputs[name], dtype=np.float32) for name in net.inputs}
    batch = next(iter(inputs.values())).shape[0] if inputs else 0
    order = execution_order(net)
    report = Report(net.name, description or f"batch {batch}", batch, tolerance, len(order))
    report.deviations = deviations(net)
    caffe = _caffe_dump(caffe_blobs, caffe_name, net, inputs, report)
    # Unreadable files are bad input: find out before the long runs.
    onnx_model = load_onnx(onnx, net) if onnx is not None else None
    pt2_program = load_pt2(pt2) if pt2 is not None else None

    log("oracle (numpy, float64) ...")
    start = time.perf_counter()
    oracle = reference.run(net, inputs, dtype=np.float64, intermediate=True)
    report.timings["oracle"] = time.perf_counter() - start
    if caffe is not None:
        _add_caffe_row(report, "oracle float64", oracle, caffe, net, tolerance)

    ours = torch_module is None
    if ours:
        from .to_torch import lower

        start = time.perf_counter()
        torch_module = lower(net, intermediate=True)
        report.timings["lower"] = time.perf_counter() - start
    torch_module.eval()
    stage = _Stage(report)
    _torch_backends(net, torch_module, inputs, oracle, order, devices, tolerance, caffe, info, report, log)
    report.timings["info"] = sum(i.seconds for i in report.info)
    stage.done("torch", minus=report.timings["info"])
    if ours:
        del torch_module  # its copy of the weights is not needed any more
        _deployed_backends(net, inputs, oracle, order, devices, outputs, tolerance, report, log)
        stage.done("deployed")
    if optimized:
        _optimized_backends(net, inputs, oracle, order, devices, tolerance, report, log)
        stage.done("optimized")
    if pt2 is not None:
        _pt2_backend(pt2, pt2_program, net, inputs, oracle, devices, outputs, tolerance, caffe, report, log)
        stage.done("pt2")
    if onnx is not None:
        _onnx_backend(onnx_model, net, inputs, oracle, order, devices, tolerance, caffe, onnx_intermediates, report, log)
        stage.done("onnxruntime")
    report.timings["compare"] = sum(b.compare_seconds for b in report.backends)
    return report


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
