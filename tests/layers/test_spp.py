"""SPP: hand-worked pyramids (Caffe's clipped windows) in the oracle and the lowering, the lowering against
the oracle, and what the loader refuses."""
from __future__ import annotations

import numpy as np
from helpers import assert_both, family_tests, loader_refusal_test, lowering_grid_test

X = (2, 3, 5, 4)


def test_spp():
    x = np.arange(16).reshape(1, 1, 4, 4)
    assert_both("SPP", "spp_param { pyramid_height: 2 }", x, expected=[[15, 5, 7, 13, 15]])
    assert_both("SPP", "spp_param { pyramid_height: 1 pool: AVE }", x, expected=[[[[7.5]]]])
    # 5 x 5, level 1: kernel 3, pad (6 - 5 + 1) // 2 = 1; Caffe's clip leaves 2 windows: rows {0, 1}, {2, 3, 4}
    assert_both("SPP", "spp_param { pyramid_height: 2 }", np.arange(25).reshape(1, 1, 5, 5), expected=[[24, 6, 9, 21, 24]])


# ---- the lowering against the oracle (and the loader's shapes) ----

GRID = {
    # name: (type, bottom shapes, params, tops)
    "spp-max-3": ("SPP", [(2, 3, 7, 9)], "spp_param { pyramid_height: 3 }", 1),
    "spp-ave-2": ("SPP", [(2, 3, 6, 5)], "spp_param { pyramid_height: 2 pool: AVE }", 1),
    "spp-1": ("SPP", [(2, 3, 5, 5)], "spp_param { pyramid_height: 1 }", 1),
}

test_spp_vs_oracle = lowering_grid_test(GRID)


# ---- what the loader refuses (one line, naming the layer) ----

REFUSALS = {
    # name: (type, bottom shapes, params, tops, message)
    "spp-too-deep": ("SPP", [(1, 1, 1, 1)], "spp_param { pyramid_height: 3 }", 1, "pyramid level 1: pad"),
    "spp-no-height": ("SPP", [X], "", 1, "pyramid_height >= 1"),
    "spp-stochastic": ("SPP", [X], "spp_param { pyramid_height: 1 pool: STOCHASTIC }", 1, "STOCHASTIC pooling has no CPU forward pass"),
    "spp-3d": ("SPP", [(2, 3, 5)], "spp_param { pyramid_height: 1 }", 1, "SPP needs a 4-D blob"),
}

test_loader_refuses = loader_refusal_test(REFUSALS)


# ---- every type of the family: the kernel contract ----

FAMILY = "spp"
# One small case per registered type: (params, input shapes, blob shapes, number of tops)
CASES = {
    "SPP": ("spp_param { pyramid_height: 2 }", [X], [], 1),
}

test_every_type_of_the_family_has_a_case, test_kernel_keeps_dtype_and_inputs = family_tests(FAMILY, CASES)
