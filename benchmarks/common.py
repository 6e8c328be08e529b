"""Shared pieces of the benchmarks: synthetic caffemodels of official size, and measuring a
step in a fresh process (wall time, and peak RSS above that process's baseline after imports).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # the checkout's senet_convert (installed or not) and shared_data
    sys.path.insert(0, str(REPO))
from shared_data import GOLDENS, MODELS, load_synthetic

CACHE = Path(os.environ.get("SENET_BENCH_CACHE", REPO / ".bench-cache"))


def synthetic():
    path = GOLDENS / "synthetic.py"
    if not path.exists():
        sys.exit(f"{path} is absent: the benchmarks need ../shared beside the repo")
    return load_synthetic(path)


def caffemodel(model: str) -> tuple[Path, Path]:
    """(prototxt, caffemodel with synthetic.py's weights), written once into the cache."""
    from senet_convert.caffe.writer import write_net_weights
    from senet_convert.loader import load_net

    prototxt = MODELS / f"{model}.prototxt"
    out = CACHE / f"{model}.caffemodel"
    if not out.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        print(f"writing {out} from synthetic.py ...", file=sys.stderr)
        write_net_weights(load_net(prototxt), out, synthetic().synthetic_blob)
    return prototxt, out


def synthetic_net(model: str, batch: int | None = None):
    """The official prototxt with synthetic.py's weights filled in memory: no caffemodel to write."""
    from senet_convert.loader import fill_weights, load_net

    return fill_weights(load_net(MODELS / f"{model}.prototxt", batch=batch), synthetic().synthetic_blob)


MEASURE = r"""
import json, resource, sys, time


def peak_kib():
    # VmHWM is this process's own high-water mark; ru_maxrss also counts the parent's RSS at fork
    # (Linux carries it over exec), so a child of a large process would report the parent's size.
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


setup, step = sys.argv[1], sys.argv[2]
exec(setup)
base = peak_kib()
t0 = time.perf_counter()
exec(step)
wall = time.perf_counter() - t0
peak = peak_kib()
print(json.dumps({"wall_s": wall, "peak_above_base_mib": (peak - base) / 1024, "base_mib": base / 1024}))
"""


def measure(setup: str, step: str, repeat: int = 3) -> dict:
    """Run `setup` then time `step` in a fresh interpreter `repeat` times; the median wall time and peak RSS."""
    runs = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", MEASURE, setup, step], check=True, capture_output=True, text=True, cwd=REPO
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    runs.sort(key=lambda r: r["wall_s"])
    middle = runs[len(runs) // 2]
    return {**middle, "peak_above_base_mib": max(r["peak_above_base_mib"] for r in runs)}
