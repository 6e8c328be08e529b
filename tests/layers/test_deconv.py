"""Deconvolution, read as Convolution's parameters: the kernel contract here; the hand-worked cases and
the lowering against the oracle are in tests/test_more_layers.py."""
from __future__ import annotations

from helpers import X, family_tests

FAMILY = "deconv"
# One small case per registered type: (params, input shapes, blob shapes, number of tops)
CASES = {
    "Deconvolution": ("convolution_param { num_output: 4 kernel_size: 3 stride: 2 }", [X], [(3, 4, 3, 3), (4,)], 1),
}

test_every_type_of_the_family_has_a_case, test_kernel_keeps_dtype_and_inputs = family_tests(FAMILY, CASES)
