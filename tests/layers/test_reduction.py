"""Reduction and ArgMax (Caffe's order among ties): hand-worked cases in the oracle and the lowering, the
lowering against the oracle, and what the loader refuses."""
from __future__ import annotations

import pytest
from helpers import assert_both, family_tests, loader_refusal_test, lowering_grid_test

X = (2, 3, 5, 4)


def test_argmax_ranks_ties_larger_index_first():
    x = [[3, 1, 3, 2, 0]]
    assert_both("ArgMax", "argmax_param { top_k: 2 }", x, expected=[[[2, 0]]])
    assert_both("ArgMax", "argmax_param { top_k: 2 out_max_val: true }", x, expected=[[[2, 0], [3, 3]]])
    assert_both("ArgMax", "argmax_param { top_k: 3 axis: 1 }", x, expected=[[2, 0, 3]])
    assert_both("ArgMax", "argmax_param { axis: 1 out_max_val: true }", x, expected=[[3]])
    assert_both("ArgMax", "argmax_param { axis: 0 }", [[1, 5], [4, 2]], expected=[[1, 0]])


@pytest.mark.parametrize(
    "params, expected",
    [
        ("reduction_param { axis: 1 }", [2, 3]),
        ("reduction_param { axis: 1 operation: ASUM }", [6, 15]),
        ("reduction_param { axis: -1 operation: SUMSQ }", [14, 77]),
        ("reduction_param { axis: 1 operation: MEAN coeff: 3 }", [2, 3]),
        ("reduction_param { axis: 1 coeff: -2 }", [-4, -6]),
        ("", 5),  # axis 0: everything, a scalar
    ],
    ids=["sum", "asum", "sumsq-axis-1", "mean-coeff", "sum-coeff", "axis0-scalar"],
)
def test_reduction(params, expected):
    assert_both("Reduction", params, [[1, -2, 3], [4, 5, -6]], expected=expected)


# ---- the lowering against the oracle (and the loader's shapes) ----

GRID = {
    # name: (type, bottom shapes, params, tops)
    "argmax": ("ArgMax", [(3, 10)], "", 1),
    "argmax-top3-values": ("ArgMax", [X], "argmax_param { top_k: 3 out_max_val: true }", 1),
    "argmax-axis1": ("ArgMax", [X], "argmax_param { axis: 1 top_k: 2 }", 1),
    "argmax-axis-1-values": ("ArgMax", [X], "argmax_param { axis: -1 out_max_val: true }", 1),
    "reduction-sum": ("Reduction", [X], "", 1),
    "reduction-asum-axis1": ("Reduction", [X], "reduction_param { operation: ASUM axis: 1 }", 1),
    "reduction-sumsq-axis2": ("Reduction", [X], "reduction_param { operation: SUMSQ axis: 2 coeff: 0.5 }", 1),
    "reduction-mean-axis-1": ("Reduction", [X], "reduction_param { operation: MEAN axis: -1 coeff: -2 }", 1),
}

test_reduction_vs_oracle = lowering_grid_test(GRID)


# ---- what the loader refuses (one line, naming the layer) ----

REFUSALS = {
    # name: (type, bottom shapes, params, tops, message)
    "argmax-top_k": ("ArgMax", [X], "argmax_param { axis: 1 top_k: 4 }", 1, "top_k 4 exceeds axis 1's extent 3"),
    "argmax-top_k-0": ("ArgMax", [X], "argmax_param { top_k: 0 }", 1, "top_k must be at least 1"),
    "argmax-per-sample": ("ArgMax", [(2, 3)], "argmax_param { top_k: 4 }", 1, "top_k 4 exceeds the 3 values per sample"),
    "reduction-axis": ("Reduction", [X], "reduction_param { axis: -5 }", 1, "axis -5 is out of range for a 4-axis input"),
}

test_loader_refuses = loader_refusal_test(REFUSALS)


# ---- every type of the family: the kernel contract ----

FAMILY = "reduction"
# One small case per registered type: (params, input shapes, blob shapes, number of tops)
CASES = {
    "ArgMax": ("argmax_param { top_k: 2 out_max_val: true }", [X], [], 1),
    "Reduction": ("reduction_param { axis: 1 operation: SUMSQ }", [X], [], 1),
}

test_every_type_of_the_family_has_a_case, test_kernel_keeps_dtype_and_inputs = family_tests(FAMILY, CASES)
