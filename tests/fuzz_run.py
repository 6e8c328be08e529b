"""Running a fuzz case through the CLI in-process and checking the promise the README makes.

The promise, per case: exit 0 with valid output files, or exit 2 with exactly one line on stderr
that names the file (or a line or layer in it), no traceback and no file left in the output
folder; `verify` may also exit 1 (values out of tolerance, e.g. on NaN weights) with its report.
Each case's time and (with tracemalloc on) the peak of its Python and numpy allocations are kept.
"""
from __future__ import annotations

import shutil
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from fuzz_cases import Case
from senet_convert.cli import main


@dataclass
class Outcome:
    case: Case
    exit_code: int
    message: str  # the error line, or the first line of the report
    seconds: float
    peak: int  # bytes; 0 without tracemalloc
    problem: str | None = None  # a broken promise


def _args(case: Case, proto: Path, model: Path | None, out: Path) -> list[str]:
    if case.command == "inspect":
        return ["inspect", str(proto)] + ([str(model)] if model else [])
    if case.command == "caffe2torch":
        return ["caffe2torch", str(proto), str(model), "-o", str(out), "--no-pt2"]
    if case.command == "caffe2onnx":
        return ["caffe2onnx", str(proto), str(model), "-o", str(out / "net.onnx")]
    return ["verify", str(proto), str(model), "--no-info", "--batch", "1"]


def _check_outputs(case: Case, code: int, out: Path) -> str | None:
    left = sorted(p.name for p in out.iterdir()) if out.exists() else []
    if any(name.startswith(".senet-convert.") or ".tmp" in name for name in left):
        return f"staging left behind: {left}"
    if code != 0 or case.command in ("inspect", "verify"):
        return f"files left after exit {code}: {left}" if left else None
    expected = {"caffe2torch": ["net.pt"], "caffe2onnx": ["net.onnx"]}[case.command]
    if left != expected:
        return f"wrote {left}, expected {expected}"
    if case.command == "caffe2torch":
        import torch

        data = torch.load(out / "net.pt", weights_only=True)
        if not isinstance(data, dict) or "state_dict" not in data:
            return "net.pt is not a checkpoint"
    else:
        import onnx

        onnx.checker.check_model(onnx.load(str(out / "net.onnx")))
    return None


def _problem(case: Case, result, out: Path) -> str | None:
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return f"raised {type(result.exception).__name__}: {str(result.exception)[:200]}"
    if "Traceback" in result.output:
        return "printed a traceback"
    code = result.exit_code
    errors = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("warning: ")]
    if code == 2:
        if len(errors) != 1 or not errors[0].startswith("senet-convert: error: "):
            return f"exit 2 with {len(errors)} lines: {errors[:3]}"
        if not any(word in errors[0] for word in ("net.prototxt", "net.caffemodel", "layer '", "line ")):
            return f"the error names no file, line or layer: {errors[0][:200]}"
    elif code == 1:
        if case.command != "verify" or "verify: FAILED" not in result.stdout:
            return f"exit 1 from {case.command}"
    elif code != 0:
        return f"exit {code}"
    elif errors:
        return f"exit 0 but stderr says {errors[0][:200]}"
    return _check_outputs(case, code, out)


def run_case(case: Case, workdir: Path, *, measure_memory: bool = False, time_limit: float = 60.0) -> Outcome:
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    proto = workdir / "net.prototxt"
    proto.write_bytes(case.prototxt)
    model = None
    if case.caffemodel is not None:
        model = workdir / "net.caffemodel"
        model.write_bytes(case.caffemodel)
    out = workdir / "out"
    args = _args(case, proto, model, out)
    if measure_memory:
        tracemalloc.start()
    start = time.perf_counter()
    try:
        result = CliRunner().invoke(main, args)
    finally:
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] if measure_memory else 0
        if measure_memory:
            tracemalloc.stop()
    problem = _problem(case, result, out)
    if problem is None and seconds > time_limit:
        problem = f"took {seconds:.1f} s"
    lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
    return Outcome(case, result.exit_code, lines[0] if lines else "", seconds, peak, problem)
