"""Concat, Split, Dropout, Reshape, Flatten; the lowering against the oracle."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import X, family_tests, forward, forward1, lowering_grid_test, one

from senet_convert.errors import ConvertError

# ---- tensor layers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, in_shape, out_shape",
    [
        ("reshape_param { shape { dim: 0 dim: -1 dim: 5 } }", (2, 3, 4, 5), (2, 12, 5)),
        ("reshape_param { shape { dim: 0 dim: 0 } }", (2, 3, 1, 1), (2, 3)),  # SE-BN-Inception's gate reshape
        ("reshape_param { shape { dim: -1 } axis: 1 num_axes: 2 }", (2, 3, 4, 5), (2, 12, 5)),
        ("reshape_param { shape { dim: 1 } axis: -1 num_axes: 0 }", (2, 3, 4, 5), (2, 3, 4, 5, 1)),
        ("reshape_param { shape { dim: 0 dim: 2 dim: -1 } axis: 1 }", (2, 4, 6, 5), (2, 4, 2, 15)),
        ("reshape_param { shape { dim: -1 dim: 6 } }", (2, 3, 4, 5), (20, 6)),
    ],
    ids=["0,-1,5", "0,0", "axis1-num_axes2", "axis-1-num_axes0", "axis1-copy", "-1,6"],
)
def test_reshape(params, in_shape, out_shape):
    x = np.arange(np.prod(in_shape), dtype=np.float64).reshape(in_shape)
    out = forward1("Reshape", params, x)
    assert out.shape == out_shape
    np.testing.assert_array_equal(out.ravel(), x.ravel())


@pytest.mark.parametrize(
    "params, message",
    [
        ("reshape_param { shape { dim: -1 dim: -1 } }", "at most one"),
        ("reshape_param { shape { dim: 7 dim: -1 } }", "cannot infer"),
        ("reshape_param { shape { dim: 5 dim: 5 } }", "cannot reshape"),
        ("reshape_param { shape { dim: 0 } axis: 4 }", "no axis 4"),
        ("reshape_param { shape { dim: 1 } axis: 1 num_axes: 4 }", "exceeds"),
    ],
    ids=["two-inferred", "indivisible", "count", "copy-past-end", "num_axes"],
)
def test_reshape_refuses(params, message):
    with pytest.raises(ConvertError, match=message):
        forward("Reshape", params, np.zeros((2, 3, 4, 5)))


@pytest.mark.parametrize(
    "params, out_shape",
    [
        ("", (2, 60)),
        ("flatten_param { axis: 2 }", (2, 3, 20)),
        ("flatten_param { axis: 1 end_axis: 2 }", (2, 12, 5)),
        ("flatten_param { axis: 0 end_axis: -3 }", (6, 4, 5)),
    ],
    ids=["default", "axis2", "axis1-end2", "axis0-end-3"],
)
def test_flatten(params, out_shape):
    x = np.arange(120, dtype=np.float64).reshape(2, 3, 4, 5)
    out = forward1("Flatten", params, x)
    assert out.shape == out_shape
    np.testing.assert_array_equal(out.ravel(), x.ravel())


def test_concat_axes():
    a, b = np.zeros((1, 2, 2)), np.ones((1, 1, 2))
    np.testing.assert_array_equal(forward1("Concat", "", a, b)[0], [[0, 0], [0, 0], [1, 1]])
    np.testing.assert_array_equal(forward1("Concat", "concat_param { axis: -2 }", a, b)[0], [[0, 0], [0, 0], [1, 1]])
    np.testing.assert_array_equal(forward1("Concat", "concat_param { concat_dim: 0 }", a, a).shape, (2, 2, 2))
    np.testing.assert_array_equal(forward1("Concat", "concat_param { axis: 2 }", a, a).shape, (1, 2, 4))
    with pytest.raises(ConvertError, match="not both"):
        forward("Concat", "concat_param { axis: 1 concat_dim: 1 }", a, b)
    with pytest.raises(ConvertError, match="does not fit"):
        forward("Concat", "concat_param { axis: 2 }", a, b)


def test_split_copies_and_dropout_is_identity():
    x = np.array([1.0, 2.0])
    outs = forward("Split", "", x, tops=3)
    assert len(outs) == 3 and all(o is not x for o in outs)
    for o in outs:
        np.testing.assert_array_equal(o, x)
    np.testing.assert_array_equal(forward1("Dropout", "dropout_param { dropout_ratio: 0.7 }", x), x)


@pytest.mark.parametrize(
    "shape, params, expected",
    [
        ((2, 3, 1, 1), "shape { dim: 0 dim: 0 }", (2, 3)),
        ((2, 3, 4), "shape { dim: 0 dim: -1 }", (2, 12)),
        ((2, 3, 4), "shape { dim: -1 dim: 2 dim: 0 }", (3, 2, 4)),  # 0 copies the input's axis 2; -1 = 24 / 8
        ((2, 3, 4), "axis: 1 num_axes: 1 shape { dim: 3 dim: 1 }", (2, 3, 1, 4)),
        ((2, 3, 4), "axis: -1 shape { dim: 1 dim: 1 }", (2, 3, 4, 1, 1)),
        ((2, 3, 4), "axis: 1 shape { dim: -1 }", (2, 12)),
    ],
    ids=["se-inception-0-0", "0,-1", "-1,2,0", "axis1-num_axes1", "axis-1-append", "axis1-infer"],
)
def test_reshape_lowered(shape, params, expected):
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    out = one("Reshape", f"reshape_param {{ {params} }}", x)
    assert out.shape == expected
    np.testing.assert_array_equal(out.ravel(), x.ravel())


# ---- every type of the family: the kernel contract, and the lowering against the oracle ----

FAMILY = "tensor"
# One small case per registered type: (params, input shapes, blob shapes, number of tops)
CASES = {
    "Dropout": ("", [X], [], 1),
    "Concat": ("", [X, (2, 2, 4, 4)], [], 1),
    "Split": ("", [X], [], 2),
    "Reshape": ("reshape_param { shape { dim: 0 dim: -1 } }", [X], [], 1),
    "Flatten": ("", [X], [], 1),
}
GRID = {
    # name: (type, bottom shapes, params, tops)
    "dropout": ("Dropout", [(2, 8)], "dropout_param { dropout_ratio: 0.2 }", 1),
    "concat": ("Concat", [(2, 3, 4, 4), (2, 5, 4, 4)], "", 1),
    "concat-axis-1": ("Concat", [(2, 3, 4), (2, 3, 2), (2, 3, 1)], "concat_param { axis: -1 }", 1),
    "concat-concat_dim": ("Concat", [(2, 3), (4, 3)], "concat_param { concat_dim: 0 }", 1),
    "split": ("Split", [(2, 3, 4, 4)], "", 3),
    "reshape-0-0": ("Reshape", [(2, 6, 1, 1)], "reshape_param { shape { dim: 0 dim: 0 } }", 1),
    "reshape-infer": ("Reshape", [(2, 6, 2, 2)], "reshape_param { shape { dim: 0 dim: -1 dim: 4 } }", 1),
    "reshape-axis": ("Reshape", [(2, 6, 2, 2)], "reshape_param { axis: 1 num_axes: 1 shape { dim: 2 dim: 3 } }", 1),
    "flatten": ("Flatten", [(2, 3, 4, 5)], "", 1),
    "flatten-2-3": ("Flatten", [(2, 3, 4, 5)], "flatten_param { axis: 2 end_axis: 3 }", 1),
    "flatten-negative": ("Flatten", [(2, 3, 4, 5)], "flatten_param { axis: -3 end_axis: -2 }", 1),
}


test_tensor_vs_oracle = lowering_grid_test(GRID)


test_every_type_of_the_family_has_a_case, test_kernel_keeps_dtype_and_inputs = family_tests(FAMILY, CASES)
