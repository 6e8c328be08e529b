"""Crop, Slice and Tile: hand-worked cases in the oracle and the lowering, the lowering against the oracle,
and what the loader refuses."""
from __future__ import annotations

import numpy as np
from helpers import assert_both, family_tests, loader_refusal_test, lowering_grid_test

X = (2, 3, 5, 4)


def test_crop_offsets():
    x = np.arange(12).reshape(1, 1, 3, 4)
    like = np.zeros((1, 1, 2, 2))
    assert_both("Crop", "crop_param { offset: 1 offset: 2 }", x, like, expected=[[[[6, 7], [10, 11]]]])
    assert_both("Crop", "crop_param { offset: 1 }", x, like, expected=[[[[5, 6], [9, 10]]]])
    assert_both("Crop", "crop_param { axis: 3 }", x, np.zeros((5, 5, 5, 3)), expected=x[..., :3])


def test_slice_points_and_equal_parts():
    x = [[0, 1, 2, 3, 4]]
    assert_both("Slice", "slice_param { slice_point: 1 slice_point: 3 }", x, tops=3, expected=[[[0]], [[1, 2]], [[3, 4]]])
    assert_both("Slice", "slice_param { axis: 0 }", [[1, 2], [3, 4]], tops=2, expected=[[[1, 2]], [[3, 4]]])
    assert_both("Slice", "slice_param { slice_dim: 1 }", [[1, 2], [3, 4]], tops=2, expected=[[[1], [3]], [[2], [4]]])


def test_tile():
    assert_both("Tile", "tile_param { tiles: 3 }", [[1, 2]], expected=[[1, 2, 1, 2, 1, 2]])
    assert_both("Tile", "tile_param { axis: 0 tiles: 2 }", [[1], [2]], expected=[[1], [2], [1], [2]])


# ---- the lowering against the oracle (and the loader's shapes) ----

GRID = {
    # name: (type, bottom shapes, params, tops)
    "crop-default": ("Crop", [(2, 3, 7, 6), (2, 3, 4, 4)], "crop_param { offset: 2 }", 1),
    "crop-axis1-offsets": ("Crop", [(2, 5, 7, 6), (1, 2, 4, 3)], "crop_param { axis: 1 offset: 1 offset: 3 offset: 2 }", 1),
    "crop-axis-1": ("Crop", [(2, 3, 7, 6), (1, 1, 1, 2)], "crop_param { axis: -1 offset: 4 }", 1),
    "slice-points": ("Slice", [X], "slice_param { slice_point: 1 }", 2),
    "slice-equal-axis2": ("Slice", [X], "slice_param { axis: 2 slice_point: 1 slice_point: 4 }", 3),
    "slice-equal-3": ("Slice", [(2, 6, 2)], "", 3),
    "slice-one-top": ("Slice", [X], "", 1),
    "slice-axis-1": ("Slice", [X], "slice_param { axis: -1 }", 2),
    "tile": ("Tile", [X], "tile_param { tiles: 2 }", 1),
    "tile-axis-1": ("Tile", [X], "tile_param { axis: -1 tiles: 3 }", 1),
}

test_slicing_vs_oracle = lowering_grid_test(GRID)


# ---- what the loader refuses (one line, naming the layer) ----

REFUSALS = {
    # name: (type, bottom shapes, params, tops, message)
    "crop-too-big": ("Crop", [(2, 3, 4, 4), (2, 3, 5, 2)], "", 1, "axis 2: offset 0 \\+ size 5 exceeds"),
    "crop-offsets": ("Crop", [(2, 3, 4, 4), (2, 3, 2, 2)], "crop_param { offset: 1 offset: 1 offset: 1 }", 1, "3 offsets for 2 cropped axes"),
    "slice-order": ("Slice", [X], "slice_param { slice_point: 2 slice_point: 1 }", 3, "increase strictly"),
    "slice-count": ("Slice", [X], "slice_param { slice_point: 1 }", 3, "1 slice points for 3 tops"),
    "slice-equal": ("Slice", [X], "", 2, "does not split into 2 equal parts"),
    "slice-axis-and-dim": ("Slice", [X], "slice_param { axis: 1 slice_dim: 1 }", 2, "not both"),
    "tile-none": ("Tile", [X], "", 1, "needs tiles > 0"),
    "crop-axes": ("Crop", [(2, 3, 4, 4), (2, 3, 4)], "", 1, "differ in their number of axes"),
    "slice-dim-range": ("Slice", [X], "slice_param { slice_dim: 4 }", 2, "slice_dim 4 is out of range for a 4-axis input"),
    "tile-axis-range": ("Tile", [X], "tile_param { axis: 4 tiles: 2 }", 1, "axis 4 is out of range for a 4-axis input"),
}

test_loader_refuses = loader_refusal_test(REFUSALS)


# ---- every type of the family: the kernel contract ----

FAMILY = "slicing"
# One small case per registered type: (params, input shapes, blob shapes, number of tops)
CASES = {
    "Crop": ("crop_param { offset: 1 }", [X, (2, 3, 2, 3)], [], 1),
    "Slice": ("slice_param { slice_point: 1 }", [X], [], 2),
    "Tile": ("tile_param { tiles: 2 }", [X], [], 1),
}

test_every_type_of_the_family_has_a_case, test_kernel_keeps_dtype_and_inputs = family_tests(FAMILY, CASES)
