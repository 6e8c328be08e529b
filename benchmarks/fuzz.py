"""Fuzz campaign: the test suite's generator at any size, counts per category and the worst case.

    python benchmarks/fuzz.py [--cases 3000] [--seed 1] [--scale 10] [--no-memory]

Every case runs in this process through the CLI (click's CliRunner), as tests/test_fuzz.py does,
and is held to the same promise. --scale multiplies the sizes of the costly categories (many
layers, long lines): --scale 50 gives 100,000-layer prototxts. Prints per category how many cases
ended in exit 0, 1 and 2, how many broke the promise, the slowest case and the largest peak of
Python and numpy allocations (tracemalloc; torch's own allocator is not seen), then the worst
case overall and every broken one.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from common import REPO

sys.path.insert(0, str(REPO / "tests"))  # the generator and the runner are the test suite's


def _warm(run_case, Case, tmp: Path) -> None:
    """One good case of each command first, so that no case pays for the imports."""
    proto = (REPO / "fixtures" / "tiny-senet.prototxt").read_bytes()
    model = (REPO / "fixtures" / "tiny-senet.caffemodel").read_bytes()
    for command in ("inspect", "caffe2torch", "caffe2onnx", "verify"):
        run_case(Case("warm-up", 0, proto, model, command), tmp / "warm")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--no-memory", action="store_true", help="skip tracemalloc (4x faster, no peak memory)")
    args = parser.parse_args()
    from fuzz_cases import Case, cases
    from fuzz_run import run_case

    outcomes = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        _warm(run_case, Case, Path(tmp))
        start = time.perf_counter()
        for case in cases(args.cases, args.seed, scale=args.scale):
            outcomes[case.category].append(run_case(case, Path(tmp) / "case", measure_memory=not args.no_memory))
        total = time.perf_counter() - start
    print(f"{sum(map(len, outcomes.values()))} cases, seed {args.seed}, scale {args.scale}, {total:.0f} s")
    print(f"{'category':<30}{'cases':>6}{'exit 0':>8}{'exit 1':>8}{'exit 2':>8}{'broken':>8}{'slowest s':>11}{'peak MiB':>10}")
    everything = []
    for category, done in outcomes.items():
        everything += done
        count = {code: sum(o.exit_code == code for o in done) for code in (0, 1, 2)}
        broken = sum(o.problem is not None for o in done)
        print(f"{category:<30}{len(done):>6}{count[0]:>8}{count[1]:>8}{count[2]:>8}{broken:>8}"
              f"{max(o.seconds for o in done):>11.2f}{max(o.peak for o in done) / 2**20:>10.1f}")
    worst = max(everything, key=lambda o: (o.peak, o.seconds))
    slowest = max(everything, key=lambda o: o.seconds)
    commands = defaultdict(int)
    for o in everything:
        commands[o.case.command] += 1
    print("commands: " + ", ".join(f"{k} {v}" for k, v in sorted(commands.items())))
    print(f"worst peak memory: {worst.peak / 2**20:.1f} MiB, {worst.case.name} ({worst.case.command}, {worst.case.note}, "
          f"prototxt {len(worst.case.prototxt):,} bytes), exit {worst.exit_code}, {worst.seconds:.2f} s")
    print(f"slowest: {slowest.seconds:.2f} s, {slowest.case.name} ({slowest.case.command}, {slowest.case.note})")
    for o in everything:
        if o.problem:
            print(f"BROKEN {o.case.name} [{o.case.command}, {o.case.note}]: {o.problem}")
    if any(o.problem for o in everything):
        sys.exit(1)


if __name__ == "__main__":
    main()
