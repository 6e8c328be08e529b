"""BatchNorm: the scale factor, its float32 reciprocal, batch statistics; the lowering against the oracle."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import EPS32, X, assert_matches_oracle, family_tests, forward1, grid, layer_net, one

# ---- BatchNorm -------------------------------------------------------------------------


def test_batchnorm_scale_factor():
    # mean (1, 2) and var (4, 1) stored times s = 2.5
    x = np.array([[3.0, 2.0], [-1.0, 4.0]]).reshape(2, 2, 1, 1)
    out = forward1("BatchNorm", "", x, blobs=[[2.5, 5.0], [10.0, 2.5], [2.5]])
    expected = [
        [(3 - 1) / np.sqrt(4 + EPS32), (2 - 2) / np.sqrt(1 + EPS32)],
        [(-1 - 1) / np.sqrt(4 + EPS32), (4 - 2) / np.sqrt(1 + EPS32)],
    ]
    # float32(1) / float32(2.5) is 0.4000000059604645: the means come out as 1.0000000149, 2.0000000298
    np.testing.assert_allclose(out.reshape(2, 2), expected, rtol=1e-7, atol=1e-7)


def test_batchnorm_reciprocal_is_float32():
    x = np.array([1.0]).reshape(1, 1)
    out = forward1("BatchNorm", "batch_norm_param { eps: 0.001 }", x, blobs=[[3.0], [6.0], [3.0]])
    sf = 0.3333333432674408  # float32(1) / float32(3), not 1/3
    eps = 0.0010000000474974513  # float32(0.001)
    np.testing.assert_allclose(out, [[(1 - 3 * sf) / np.sqrt(6 * sf + eps)]], rtol=1e-15)


def test_batchnorm_zero_scale_factor():
    # s == 0: mean and var count as 0, so top = x / sqrt(eps)
    x = np.array([[1.0, -2.0]]).reshape(1, 2, 1, 1)
    out = forward1("BatchNorm", "", x, blobs=[[5.0, 5.0], [7.0, 7.0], [0.0]])
    np.testing.assert_allclose(out.ravel(), [1 / np.sqrt(EPS32), -2 / np.sqrt(EPS32)], rtol=1e-15)


def test_batchnorm_batch_statistics_when_not_global():
    x = np.array([[1.0, 3.0], [5.0, 7.0]]).reshape(2, 1, 2)  # channel values 1, 3, 5, 7: mean 4, var 5
    out = forward1("BatchNorm", "batch_norm_param { use_global_stats: false }", x, blobs=[[0.0], [1.0], [1.0]])
    np.testing.assert_allclose(out.ravel(), np.array([-3, -1, 1, 3]) / np.sqrt(5 + EPS32), rtol=1e-15)


def test_batchnorm_scale_factor_lowered():
    # blobs mean*s = [2, 4], var*s = [8, 2], s = 2: mean [1, 2], var [4, 1]; eps 0
    x = np.array([[[[1, 5]], [[2, 4]]]], dtype=np.float32)  # 1 x 2 x 1 x 2
    out = one("BatchNorm", "batch_norm_param { eps: 0 }", x, blobs=[[2, 4], [8, 2], [2]])
    np.testing.assert_array_equal(out, [[[[0, 2]], [[0, 2]]]])


def test_batchnorm_zero_scale_factor_zeroes_the_statistics():
    x = np.array([[[[1, -3]], [[2, 4]]]], dtype=np.float32)
    out = one("BatchNorm", "", x, blobs=[[2, 4], [8, 2], [0]])
    np.testing.assert_allclose(out, x / np.sqrt(np.float32(1e-5)), rtol=1e-6)



BATCHNORM = {
    "nchw": ((2, 5, 4, 3), "", 1.0),
    "scale-factor-0.25": ((2, 5, 4, 3), "", 0.25),
    "scale-factor-999.9": ((2, 5, 4, 3), "", 999.9),
    "scale-factor-0": ((2, 5, 4, 3), "", 0.0),
    "eps-1e-3": ((2, 5, 4, 3), "batch_norm_param { eps: 0.001 }", 0.5),
    "nc": ((3, 5), "batch_norm_param { use_global_stats: true }", 2.0),
    "batch-statistics": ((4, 3, 5, 5), "batch_norm_param { use_global_stats: false }", 1.0),
}


@pytest.mark.parametrize("shape, params, factor", grid(BATCHNORM))
def test_batchnorm_vs_oracle(shape, params, factor):
    rng = np.random.default_rng(3)
    c = shape[1]
    blobs = [rng.normal(0, 0.3, c) * factor, rng.uniform(0.5, 1.5, c) * factor, [factor]]
    assert_matches_oracle(layer_net("BatchNorm", params, shape, blobs=blobs))


# ---- every type of the family: the kernel contract, and the lowering against the oracle ----

FAMILY = "batchnorm"
# One small case per registered type: (params, input shapes, blob shapes, number of tops)
CASES = {
    "BatchNorm": ("", [X], [(3,), (3,), (1,)], 1),
}


test_every_type_of_the_family_has_a_case, test_kernel_keeps_dtype_and_inputs = family_tests(FAMILY, CASES)
