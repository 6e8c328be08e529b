"""CPU latency at batch 1: the exact graph against the optimized one, in ONNX Runtime and in torch.

    python benchmarks/cpu.py [--models SE-ResNet-50,SENet-154] [--threads 2] [--rounds 7] [--per-round 5] [--baseline DIR]

Target: the optimized ONNX in ONNX Runtime no slower than caffe2onnx's (exact) ONNX of the same
model (measured on the development machine: 51 ms SE-ResNet-50, 258 ms SENet-154, batch 1, 2 threads).
Official prototxts with synthetic weights (benchmarks/common.py). The ONNX files are exported once per
source tree and cached beside the caffemodels. Rows of one model are measured in interleaved rounds (each
round runs every row `per-round` times after one untimed call), so a machine shared with other work
slows all rows alike; the numbers are the medians over all timed calls, with the 10th-90th percentiles
and the minimum (the least disturbed call, on a busy machine the better estimate).
Before timing, each ONNX and torch graph is checked against the exact torch graph (max rel. error).
--baseline DIR adds rows for other ONNX files of the same nets, DIR/MODEL.exact.onnx and
DIR/MODEL.optimized.onnx (e.g. an earlier release's caffe2onnx output, returning classifier), timed in
the same rounds; every ONNX row shows its node count.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from common import CACHE, REPO, caffemodel, synthetic

ORT_EXACT, ORT_OPTIMIZED = "onnxruntime, exact ONNX (caffe2onnx)", "onnxruntime, optimized ONNX"
BASE_EXACT, BASE_OPTIMIZED = "onnxruntime, baseline exact ONNX", "onnxruntime, baseline optimized ONNX"
TORCH_EXACT, TORCH_OPTIMIZED = "torch, exact graph", "torch, optimized graph"
EXACT_OF = {ORT_OPTIMIZED: ORT_EXACT, TORCH_OPTIMIZED: TORCH_EXACT, BASE_OPTIMIZED: BASE_EXACT}


def source_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted((REPO / "senet_convert").rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def onnx_file(variant: str, model: str, net) -> Path:
    from senet_convert.export.onnx import export_onnx

    path = CACHE / f"{model}.{variant}.{source_digest()}.onnx"
    if not path.exists():
        for stale in CACHE.glob(f"{model}.{variant}.*.onnx*"):
            stale.unlink()
        print(f"  exporting {path.name} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        export_onnx(net, path, outputs=["classifier"], optimized=variant == "optimized")
        print(f"  exported in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    return path


def node_count(path: Path) -> int:
    import onnx

    return len(onnx.load(str(path), load_external_data=False).graph.node)


def ort_runner(path: Path, threads: int, x: np.ndarray):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: x}
    return lambda: session.run(None, feed)[0]


def torch_runner(module, x: np.ndarray):
    import torch

    tensor = torch.from_numpy(x)

    def run():
        with torch.inference_mode():
            return module(tensor).numpy()

    return run


def measure(rows: dict, rounds: int, per_round: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(rounds):
        for name, run in rows.items():
            run()  # untimed: caches, allocator, thread pool
            for _ in range(per_round):
                start = time.perf_counter()
                run()
                times[name].append(1000 * (time.perf_counter() - start))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="SE-ResNet-50,SENet-154")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--per-round", type=int, default=5)
    parser.add_argument("--baseline", type=Path, help="a folder with MODEL.exact.onnx and MODEL.optimized.onnx to time beside ours")
    args = parser.parse_args()

    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import onnxruntime
    import torch

    from senet_convert.loader import load_net
    from senet_convert.to_torch import module_for
    from senet_convert.to_torch.optimize import optimize

    torch.set_num_threads(args.threads)
    print(f"CPU latency, batch 1, {args.threads} threads; torch {torch.__version__}, "
          f"onnxruntime {onnxruntime.__version__}; "
          f"{os.cpu_count()} CPUs visible; median of {args.rounds} x {args.per_round} calls [p10-p90] ms")
    x = synthetic().synthetic_input((1, 3, 224, 224), seed=0)
    for model in args.models.split(","):
        prototxt, weights = caffemodel(model)
        net = load_net(prototxt, weights)
        exact = module_for(net, ["classifier"])
        optimized, folding = optimize(net, outputs=["classifier"])
        files = {ORT_EXACT: onnx_file("exact", model, net), ORT_OPTIMIZED: onnx_file("optimized", model, net)}
        if args.baseline:
            files.update({BASE_EXACT: args.baseline / f"{model}.exact.onnx", BASE_OPTIMIZED: args.baseline / f"{model}.optimized.onnx"})
        rows = {name: ort_runner(path, args.threads, x) for name, path in files.items()}
        rows.update({TORCH_EXACT: torch_runner(exact, x), TORCH_OPTIMIZED: torch_runner(optimized, x)})
        nodes = {name: node_count(path) for name, path in files.items()}
        reference = rows[TORCH_EXACT]()
        scale = np.abs(reference).max()
        errors = {name: float(np.abs(run() - reference).max() / scale) for name, run in rows.items()}
        times = measure(rows, args.rounds, args.per_round)
        print(f"\n{model} ({folding.summary()})")
        print(f"  {'graph':<40}{'median ms':>10}{'p10-p90':>14}{'min':>8}{'vs exact':>10}{'max rel. err':>14}{'nodes':>7}")
        medians = {name: statistics.median(t) for name, t in times.items()}
        for name, t in times.items():
            q = np.percentile(t, [10, 90])
            base = medians[EXACT_OF.get(name, name)]
            spread = f"{q[0]:.1f}-{q[1]:.1f}"
            print(f"  {name:<40}{medians[name]:>10.1f}{spread:>14}{min(t):>8.1f}{base / medians[name]:>9.2f}x"
                  f"{errors[name]:>14.1e}{nodes.get(name, ''):>7}")
        ratio = medians[ORT_EXACT] / medians[ORT_OPTIMIZED]
        verdict = "met" if ratio >= 1.0 else "NOT met"
        print(f"  target: optimized ONNX no slower than the exact ONNX: {ratio:.2f}x ({verdict})")
        if args.baseline:
            for ours, theirs in ((ORT_EXACT, BASE_EXACT), (ORT_OPTIMIZED, BASE_OPTIMIZED)):
                speed = medians[theirs] / medians[ours]
                print(f"  {ours.split(', ')[1]} vs the baseline's: {speed:.2f}x as fast ({'no slower' if speed >= 1.0 else 'SLOWER'}), "
                      f"{nodes[ours]} nodes vs {nodes[theirs]}")
        del rows, exact, optimized, net


if __name__ == "__main__":
    main()
