"""Embed: a hand-worked lookup in the oracle and the lowering, the indices the oracle refuses, and the
lowering against the oracle."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_both, assert_matches_oracle, family_tests, forward, layer_net, loader_refusal_test

from senet_convert.errors import ConvertError


def test_embed():
    params = "embed_param { num_output: 2 input_dim: 3 }"
    assert_both("Embed", params, [[2, 0]], blobs=[[[1, 2], [3, 4], [5, 6]], [10, 20]], expected=[[[15, 26], [11, 22]]])


def test_embed_refuses_bad_indices():
    params = "embed_param { num_output: 2 input_dim: 3 bias_term: false }"
    for bad, message in (([[3]], r"outside \[0, 3\)"), ([[0.5]], "not whole numbers")):
        with pytest.raises(ConvertError, match=message):
            forward("Embed", params, bad, blobs=[np.ones((3, 2))])


@pytest.mark.parametrize("bias", ["", "bias_term: false"], ids=["bias", "no-bias"])
def test_embed_vs_oracle(bias):
    net = layer_net("Embed", f"embed_param {{ num_output: 5 input_dim: 7 {bias} }}", (2, 3, 4))
    indices = np.random.default_rng(4).integers(0, 7, (2, 3, 4)).astype(np.float32)
    assert_matches_oracle(net, {"x0": indices})


# ---- what the loader refuses (one line, naming the layer) ----

REFUSALS = {
    # name: (type, bottom shapes, params, tops, message)
    "embed-no-rows": ("Embed", [(2, 3)], "embed_param { num_output: 2 input_dim: 0 }", 1, "positive num_output and input_dim"),
}

test_loader_refuses = loader_refusal_test(REFUSALS)


# ---- every type of the family: the kernel contract ----

FAMILY = "embed"
# One small case per registered type: (params, input shapes, blob shapes, number of tops)
CASES = {
    "Embed": ("embed_param { num_output: 3 input_dim: 10 }", [(2, 3)], [(10, 3), (3,)], 1),
}

test_every_type_of_the_family_has_a_case, test_kernel_keeps_dtype_and_inputs = family_tests(FAMILY, CASES)
