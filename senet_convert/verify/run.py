"""verify(): the oracle, then every backend asked for, into one Report."""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from ..edits.notes import deviations
from ..errors import ConvertError
from ..graph import Net
from .caffe_blobs import add_caffe_row, caffe_dump
from .compare import execution_order
from .devices import check_devices
from .exported import load_onnx, onnx_backend, pt2_backend
from .pt2_file import load_pt2  # checks the archive first: a user's .pt2 may carry pickles
from .report import TOLERANCE, Report
from .torch_rows import deployed_backends, optimized_backends, torch_backends


class _Stage:
    """Wall time of each stage, less the comparisons made in it (counted under "compare")."""

    def __init__(self, report: Report):
        self.report, self.start, self.seen = report, time.perf_counter(), len(report.backends)

    def done(self, name: str, minus: float = 0.0) -> None:
        now = time.perf_counter()
        compared = sum(b.compare_seconds for b in self.report.backends[self.seen:])
        self.report.timings[name] = now - self.start - compared - minus
        self.start, self.seen = now, len(self.report.backends)


def _ordered_inputs(net: Net, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The inputs as float32, in the net's order: the torch module and the .pt2 take them positionally."""
    if set(inputs) != set(net.inputs):
        raise ConvertError(f"net '{net.name}' takes inputs {list(net.inputs)}, got {list(inputs)}")
    return {name: np.ascontiguousarray(inputs[name], dtype=np.float32) for name in net.inputs}


def _oracle(net: Net, inputs, caffe, tolerance: float, report: Report, log) -> dict[str, np.ndarray]:
    """Every value of the net in float64, and the oracle's own row against Caffe's blobs when given."""
    from .. import reference

    log("oracle (numpy, float64) ...")
    start = time.perf_counter()
    oracle = reference.run(net, inputs, dtype=np.float64, intermediate=True)
    report.timings["oracle"] = time.perf_counter() - start
    if caffe is not None:
        add_caffe_row(report, "oracle float64", oracle, caffe, net, tolerance)
    return oracle


def _torch_rows(net, inputs, oracle, order, devices, tolerance, caffe, info, outputs, torch_module, optimized, report, log) -> None:
    """The torch graph with every value exposed (ours, or `torch_module`), as deployed, and optimized."""
    ours = torch_module is None
    if ours:
        from ..to_torch import lower

        start = time.perf_counter()
        torch_module = lower(net, intermediate=True)
        report.timings["lower"] = time.perf_counter() - start
    torch_module.eval()
    stage = _Stage(report)
    torch_backends(net, torch_module, inputs, oracle, order, devices, tolerance, caffe, info, report, log)
    report.timings["info"] = sum(i.seconds for i in report.info)
    stage.done("torch", minus=report.timings["info"])
    if ours:
        del torch_module  # its copy of the weights is not needed any more
        deployed_backends(net, inputs, oracle, order, devices, outputs, tolerance, report, log)
        stage.done("deployed")
    if optimized:
        optimized_backends(net, inputs, oracle, order, devices, tolerance, report, log)
        stage.done("optimized")


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
    log = log or (lambda message: None)
    if not tolerance > 0:
        raise ConvertError(f"tolerance must be positive, got {tolerance}")
    devices = check_devices(devices)
    inputs = _ordered_inputs(net, inputs)
    batch = next(iter(inputs.values())).shape[0] if inputs else 0
    order = execution_order(net)
    report = Report(net.name, description or f"batch {batch}", batch, tolerance, len(order))
    report.deviations = deviations(net)
    caffe = caffe_dump(caffe_blobs, caffe_name, net, inputs, report)
    # Unreadable files are bad input: find out before the long runs.
    onnx_model = load_onnx(onnx, net) if onnx is not None else None
    pt2_program = load_pt2(pt2) if pt2 is not None else None

    oracle = _oracle(net, inputs, caffe, tolerance, report, log)
    _torch_rows(net, inputs, oracle, order, devices, tolerance, caffe, info, outputs, torch_module, optimized, report, log)
    stage = _Stage(report)
    if pt2 is not None:
        pt2_backend(pt2, pt2_program, net, inputs, oracle, devices, outputs, tolerance, caffe, report, log)
        stage.done("pt2")
    if onnx is not None:
        onnx_backend(onnx_model, net, inputs, oracle, order, devices, tolerance, caffe, onnx_intermediates, report, log)
        stage.done("onnxruntime")
    report.timings["compare"] = sum(b.compare_seconds for b in report.backends)
    return report
