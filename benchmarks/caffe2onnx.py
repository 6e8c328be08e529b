"""caffe2onnx benchmark: wall time and peak RSS beside `inspect` on the same files, in the same run.

    python benchmarks/caffe2onnx.py [--models SE-ResNet-50,SENet-154] [--repeat 3]

Targets (SENet-154, synthetic weights of official size): caffe2onnx (the exact graph) in at most 3x
the time `inspect` takes to read both files; its peak RSS above the interpreter's baseline at most
1.6x the caffemodel. Each number is the median wall time (and the largest peak) of `repeat` fresh
processes, imports excluded (they are the baseline). The step breakdown is one more process.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

from common import REPO, caffemodel, measure

SETUP = "from pathlib import Path; from senet_convert.cli import main; import senet_convert.jobs, senet_convert.inspection, senet_convert.export.onnx, onnx"
TIME_TARGET, MEMORY_TARGET = 3.0, 1.6

BREAKDOWN = r"""
import json, sys, time
from pathlib import Path
from senet_convert.export import onnx as ox
from senet_convert.loader import load_net
from senet_convert.export.provenance import source_hashes
from senet_convert.to_onnx import assemble
prototxt, model, out = sys.argv[1:4]
times = {}
t = time.perf_counter(); net = load_net(prototxt, model); times["read prototxt + caffemodel"] = time.perf_counter() - t
t = time.perf_counter(); hashes = source_hashes(net); times["sha256 of the sources (a thread in the job)"] = time.perf_counter() - t
t = time.perf_counter(); graph = assemble(net); times["emit ONNX nodes"] = time.perf_counter() - t
t = time.perf_counter(); model_, weights = ox.skeleton(graph, net.shapes); ox.annotate(model_, net, graph, optimized=False, folding=None, hashes=hashes); times["model skeleton + metadata"] = time.perf_counter() - t
t = time.perf_counter(); ox.add_shapes(model_, weights, graph, net.shapes); times["shape inference + IR check"] = time.perf_counter() - t
t = time.perf_counter(); ox._write_inline(model_, weights, Path(out) / "m.onnx"); times["checker (full) + streamed write"] = time.perf_counter() - t
print(json.dumps(times))
"""


def cli(*args: str) -> str:
    return f"main({list(args)!r}, standalone_mode=False)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="SE-ResNet-50,SENet-154")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for model in args.models.split(","):
        prototxt, weights = caffemodel(model)
        size_mib = weights.stat().st_size / 2**20
        print(f"\n{model}: {weights.name} {size_mib:.0f} MiB (median of {args.repeat} fresh processes; peak RSS above the baseline after imports)")
        with tempfile.TemporaryDirectory() as out:
            p, w = str(prototxt), str(weights)
            rows = [
                ("inspect (reads both files)", measure(SETUP, cli("inspect", p, w), args.repeat)),
                ("caffe2onnx", measure(SETUP, cli("caffe2onnx", p, w, "-o", f"{out}/exact.onnx"), args.repeat)),
                ("caffe2onnx --optimize", measure(SETUP, cli("caffe2onnx", p, w, "-o", f"{out}/fast.onnx", "--optimize"), args.repeat)),
            ]
            base = rows[0][1]["wall_s"]
            print(f"  {'job':<28}{'wall s':>8}{'x inspect':>11}{'peak RSS MiB':>14}{'x file':>8}")
            for label, r in rows:
                peak = r["peak_above_base_mib"]
                print(f"  {label:<28}{r['wall_s']:>8.2f}{r['wall_s'] / base:>10.2f}x{peak:>14.0f}{peak / size_mib:>8.2f}")
            exact = rows[1][1]
            ratio, memory = exact["wall_s"] / base, exact["peak_above_base_mib"] / size_mib
            print(f"  target: caffe2onnx <= {TIME_TARGET:.0f}x inspect's time: {ratio:.2f}x ({'met' if ratio <= TIME_TARGET else 'NOT met'}); "
                  f"peak RSS <= {MEMORY_TARGET}x the caffemodel: {memory:.2f}x ({'met' if memory <= MEMORY_TARGET else 'NOT met'})")
            done = subprocess.run([sys.executable, "-c", BREAKDOWN, p, w, out], check=True, capture_output=True, text=True, cwd=REPO)
            times = json.loads(done.stdout.strip().splitlines()[-1])
            total = sum(times.values())
            print("  step breakdown (one process):")
            for step, seconds in times.items():
                print(f"    {step:<44}{seconds:>7.2f} s {100 * seconds / total:>5.0f}%")


if __name__ == "__main__":
    main()
