"""verify on a GPU: the seven official architectures (synthetic weights) at batch 8, on CUDA.

    python benchmarks/cuda_verify.py [--batch 8] [--models ...] [--device cuda] [--budget 240]

For each model, `verify` runs the float64 oracle on the CPU and the torch graphs on the device in
parity mode (TF32 off): every value with each layer on its own, then the graph users run (each
BatchNorm applying its Scale in one pass) at every Caffe blob; the TF32 and bf16 rows are
information. One line per model: the worst value of each row, top-1 agreement, and the seconds.
Models not started within --budget seconds are listed as skipped. --device cpu is a smoke test.
"""
from __future__ import annotations

import argparse
import sys
import time

from common import synthetic_net

MODELS = ["SE-BN-Inception", "SE-ResNet-50", "SE-ResNet-101", "SE-ResNet-152", "SE-ResNeXt-50", "SE-ResNeXt-101", "SENet-154"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--budget", type=float, default=240, help="seconds; models not started by then are skipped")
    args = parser.parse_args()
    import torch

    from senet_convert.verify import verify
    from senet_convert.verify.inputs import make_inputs

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("no CUDA device: run on the GPU machine, or smoke-test with --device cpu --batch 1")
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    print(f"verify on {name}, batch {args.batch}, synthetic weights; torch {torch.__version__}; "
          "worst = max|x - oracle| / max|oracle| over the values compared, tolerance 2e-5", flush=True)
    print(f"{'model':<16}{'every value':>22}{'as deployed':>22}{'TF32 (info)':>14}{'bf16 (info)':>14}{'top-1':>7}{'s':>6}  result")
    start = time.perf_counter()
    failed = 0
    for model in (m for m in args.models.split(",") if m):
        if time.perf_counter() - start > args.budget:
            print(f"{model:<16}skipped: time budget ({args.budget:.0f} s) spent", flush=True)
            continue
        began = time.perf_counter()
        net = synthetic_net(model, batch=args.batch)
        inputs, _ = make_inputs(net, batch=args.batch)
        report = verify(net, inputs, devices=(args.device,))
        rows = {b.name: b for b in report.backends}
        every = rows.get(f"torch {args.device}")
        deployed = rows.get(f"torch {args.device}, as deployed")
        info = {i.name.rsplit(", ", 1)[-1]: i for i in report.info}

        def cell(row) -> str:
            return "-" if row is None else f"{len(row.checks)}/{row.total} {row.worst_relative:.1e}"

        def note(key: str) -> str:
            return f"{info[key].error:.1e}" if key in info else "-"

        top1 = f"{every.top1[0]}/{every.top1[1]}" if every is not None and every.top1 else "-"
        failed += not report.ok
        print(f"{model:<16}{cell(every):>22}{cell(deployed):>22}{note('TF32 on'):>14}{note('bf16 autocast'):>14}"
              f"{top1:>7}{time.perf_counter() - began:>6.0f}  {'ok' if report.ok else 'FAILED'}", flush=True)
        if not report.ok:
            print(report.render(), flush=True)
        del net, inputs, report
    print(f"total {time.perf_counter() - start:.0f} s; {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
