"""MVN: hand-worked cases in the oracle and the lowering, the lowering against the oracle, and what the
loader refuses."""
from __future__ import annotations

import math

import numpy as np
from helpers import assert_both, family_tests, loader_refusal_test, lowering_grid_test

EPS9 = float(np.float32(1e-9))
X = (2, 3, 5, 4)


def test_mvn():
    x = [[[[1, 2, 3, 4]]]]  # mean 2.5, population variance 1.25
    centred = np.array([-1.5, -0.5, 0.5, 1.5])
    assert_both("MVN", "", x, expected=[[[centred / (math.sqrt(1.25) + EPS9)]]])
    assert_both("MVN", "mvn_param { normalize_variance: false }", x, expected=[[[centred]]])
    # across channels: one mean and variance per sample; per channel each plane of one value is 0
    assert_both("MVN", "mvn_param { across_channels: true eps: 0.5 }", [[[[1]], [[3]]]], expected=[[[[-1 / 1.5]], [[1 / 1.5]]]])
    assert_both("MVN", "", [[[[1]], [[3]]]], expected=[[[[0]], [[0]]]])
    # a 2-axis bottom comes out with Caffe's legacy 4 axes
    assert_both("MVN", "mvn_param { across_channels: true }", [[1, 3]], expected=[[[[-1 / (1 + EPS9)]], [[1 / (1 + EPS9)]]]])


# ---- the lowering against the oracle (and the loader's shapes) ----

GRID = {
    # name: (type, bottom shapes, params, tops)
    "mvn": ("MVN", [X], "", 1),
    "mvn-across": ("MVN", [X], "mvn_param { across_channels: true }", 1),
    "mvn-mean-only": ("MVN", [X], "mvn_param { normalize_variance: false }", 1),
    "mvn-eps": ("MVN", [(2, 3, 1, 2)], "mvn_param { eps: 0.01 }", 1),
}

test_normalization_vs_oracle = lowering_grid_test(GRID)


# ---- what the loader refuses (one line, naming the layer) ----

REFUSALS = {
    # name: (type, bottom shapes, params, tops, message)
    "mvn-5d": ("MVN", [(1, 2, 3, 4, 5)], "", 1, "1 to 4 axes"),
}

test_loader_refuses = loader_refusal_test(REFUSALS)


# ---- every type of the family: the kernel contract ----

FAMILY = "normalization"
# One small case per registered type: (params, input shapes, blob shapes, number of tops)
CASES = {
    "MVN": ("", [X], [], 1),
}

test_every_type_of_the_family_has_a_case, test_kernel_keeps_dtype_and_inputs = family_tests(FAMILY, CASES)
