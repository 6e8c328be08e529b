"""The fuzz suite: 1,000 seeded hostile inputs through the CLI, in-process, each held to the
promise (exit 0 with valid files, or exit 2 with one line naming the file, line or layer; no
traceback, no partial file; bounded time, and bounded memory where memory can grow).

benchmarks/fuzz.py runs bigger campaigns from the same generator and prints counts per category.
"""
from __future__ import annotations

from collections import defaultdict

import pytest

from fuzz_cases import CATEGORIES, cases
from fuzz_run import run_case

TOTAL, SEED = 1000, 0
# Categories whose cost grows with the input: their cases run under tracemalloc.
MEASURED = {"prototxt many layers", "prototxt long lines", "prototxt absurd numbers", "caffemodel absurd shapes"}
PEAK_LIMIT = 256 * 2**20  # Python and numpy allocations of one case (the inputs are at most ~1 MB)
TIME_LIMIT = 60.0  # seconds for one case, on the slowest CI machine


def _by_category():
    grouped = defaultdict(list)
    for case in cases(TOTAL, SEED):
        grouped[case.category].append(case)
    return grouped


CASES = _by_category()


def test_the_suite_has_at_least_a_thousand_cases_over_every_category():
    assert sum(map(len, CASES.values())) >= 1000
    assert set(CASES) == set(CATEGORIES)


@pytest.mark.parametrize("category", sorted(CATEGORIES))
def test_every_case_keeps_the_promise(category, tmp_path):
    broken = []
    for case in CASES[category]:
        outcome = run_case(case, tmp_path / "case", measure_memory=category in MEASURED, time_limit=TIME_LIMIT)
        if outcome.problem is None and outcome.peak > PEAK_LIMIT:
            outcome.problem = f"peak memory {outcome.peak / 2**20:.0f} MiB"
        if outcome.problem:
            broken.append(f"{case.name} [{case.command}, {case.note}]: {outcome.problem}")
    assert not broken, f"{len(broken)} of {len(CASES[category])} cases broke the promise:\n" + "\n".join(broken[:20])
