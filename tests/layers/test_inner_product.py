"""InnerProduct: transpose, axis, flattening; the lowering against the oracle."""
from __future__ import annotations

import numpy as np
from helpers import X, family_tests, forward1, lowering_grid_test

# ---- InnerProduct ----------------------------------------------------------------------


def test_inner_product_transpose():
    x = np.array([[1.0, 2.0, 3.0]])
    w_kn = [[1, 0], [0, 1], [1, 1]]  # transpose: stored K x N
    params = "inner_product_param { num_output: 2 transpose: true }"
    out = forward1("InnerProduct", params, x, blobs=[w_kn, [0.5, -0.5]])
    np.testing.assert_array_equal(out, [[4.5, 4.5]])
    out = forward1("InnerProduct", "inner_product_param { num_output: 2 }", x, blobs=[np.transpose(w_kn), [0.5, -0.5]])
    np.testing.assert_array_equal(out, [[4.5, 4.5]])


def test_inner_product_axis_and_flattening():
    x = np.arange(12, dtype=np.float64).reshape(2, 3, 2, 1)
    w = np.ones((1, 2), dtype=np.float32)
    out = forward1("InnerProduct", "inner_product_param { num_output: 1 axis: 2 bias_term: false }", x, blobs=[w])
    np.testing.assert_array_equal(out, x.sum(axis=(2, 3)).reshape(2, 3, 1))
    w = np.ones((4, 6), dtype=np.float32)
    params = "inner_product_param { num_output: 4 bias_term: false }"
    assert forward1("InnerProduct", params, x, blobs=[w]).shape == (2, 4)




# ---- every type of the family: the kernel contract, and the lowering against the oracle ----

FAMILY = "inner_product"
# One small case per registered type: (params, input shapes, blob shapes, number of tops)
CASES = {
    "InnerProduct": ("inner_product_param { num_output: 5 }", [X], [(5, 48), (5,)], 1),
}
GRID = {
    # name: (type, bottom shapes, params, tops)
    "ip": ("InnerProduct", [(2, 3, 4, 4)], "inner_product_param { num_output: 5 }", 1),
    "ip-no-bias": ("InnerProduct", [(2, 12)], "inner_product_param { num_output: 5 bias_term: false }", 1),
    "ip-axis2": ("InnerProduct", [(2, 3, 4, 4)], "inner_product_param { num_output: 5 axis: 2 }", 1),
    "ip-axis-1": ("InnerProduct", [(2, 3, 4)], "inner_product_param { num_output: 5 axis: -1 }", 1),
    "ip-transpose": ("InnerProduct", [(2, 3, 2, 2)], "inner_product_param { num_output: 5 transpose: true }", 1),
}


test_inner_product_vs_oracle = lowering_grid_test(GRID)


test_every_type_of_the_family_has_a_case, test_kernel_keeps_dtype_and_inputs = family_tests(FAMILY, CASES)
