"""The torch rows: the exact graph with every value exposed, as deployed, and optimized, per device."""
from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping, Sequence

import numpy as np

from ..graph import Net
from .caffe_blobs import add_caffe_row
from .compare import class_value, compare, output_error, top_k_agreement
from .devices import precision
from .report import Backend, Info

# ---- the backends ----


def crash(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def to_numpy(tensor) -> np.ndarray:
    return tensor.detach().float().cpu().numpy()


def run_torch(module, inputs: Mapping[str, np.ndarray], device: str, *, autocast: bool = False, tf32: bool = False) -> dict:
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
        values = {k: to_numpy(v) for k, v in run_torch(module, inputs, device).items()}
        return values, time.perf_counter() - start
    except Exception as exc:
        report.backends.append(Backend(label, "oracle float64", total=total, crashed=crash(exc)))
        module.to("cpu")
        return None


def torch_backends(net, module, inputs, oracle, order, devices, tolerance, caffe, info, report, log) -> None:
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
            add_caffe_row(report, label, values, caffe, net, tolerance)
        del values
        if info:
            modes = [("bf16 autocast", {"autocast": True})]
            if torch.device(device).type == "cuda":
                modes.insert(0, ("TF32 on", {"tf32": True}))
            for mode, kwargs in modes:
                log(f"{label}: {mode} (info) ...")
                start = time.perf_counter()
                try:
                    out = run_torch(module, inputs, device, **kwargs)
                    values = {k: to_numpy(out[k]) for k in outputs}
                    del out
                    report.info.append(Info(f"{label}, {mode}", output_error(values, oracle, outputs),
                                            _classes(net, values, oracle), time.perf_counter() - start))
                    del values
                except Exception as exc:
                    report.info.append(Info(f"{label}, {mode}", float("nan"), None, note=f"did not run: {crash(exc)}"))
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


def deployed_backends(net, inputs, oracle, order, devices, outputs, tolerance, report, log) -> None:
    """The graph caffe2torch writes and users run: outputs only, so each BatchNorm whose value
    nothing else reads applies its Scale in the same pass (to_torch.lower). Compared at every Caffe
    blob (its final value) that this graph, made for `outputs`, still computes."""
    from ..to_torch import lower, one_pass_pairs

    pairs = one_pass_pairs(net, outputs)
    hidden = {net.layer(name).tops[0] for name in pairs}
    blobs = [blob for blob, value in net.final.items() if value not in hidden]
    module = lower(net, outputs=blobs, share_weights=True)  # read only: no second copy of the weights
    values = [net.final[blob] for blob in blobs]
    checked = [value for value in order if value in set(values)]
    note = (f"outputs only, {len(pairs)} BatchNorm/Scale pairs in one pass each; "
            f"compared at the final value of {len(checked)} Caffe blobs")
    _rows_per_device("as deployed", _Named(module, values).eval(), inputs, oracle, checked, net, devices, tolerance,
                     report, log, note=note)


def optimized_backends(net, inputs, oracle, order, devices, tolerance, report, log) -> None:
    """The optimized graph (to_torch/optimize.py) on each device, at every value it still has.

    A value a fold removed (a raw conv output, a BatchNorm output before its Scale) is not compared;
    any other value missing from the optimized graph is an error.
    """
    from ..to_torch.optimize import optimize

    module, folding = optimize(net, intermediate=True)
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
