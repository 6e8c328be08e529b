"""Parameter: a layer without bottoms whose top is its blob, in the oracle and the lowering."""
from __future__ import annotations

import numpy as np
from helpers import assert_matches_oracle, family_tests, make_net


def test_parameter_layer():
    body = 'layer { name: "p" type: "Parameter" top: "p" parameter_param { shape { dim: 1 dim: 2 } } }\n'
    body += 'layer { name: "sum" type: "Eltwise" bottom: "x" bottom: "p" top: "sum" }'
    net = make_net(body, {"x": (1, 2)}, blobs={"p": [[[1.5, -2]]]})
    got = assert_matches_oracle(net, {"x": np.array([[1, 1]], dtype=np.float32)})
    np.testing.assert_array_equal(got["p"].numpy(), [[1.5, -2]])
    np.testing.assert_array_equal(got["sum"].numpy(), [[2.5, -1]])


# ---- every type of the family: the kernel contract ----

FAMILY = "parameter"
# One small case per registered type: (params, input shapes, blob shapes, number of tops)
CASES = {
    "Parameter": ("parameter_param { shape { dim: 2 dim: 3 } }", [], [(2, 3)], 1),
}

test_every_type_of_the_family_has_a_case, test_kernel_keeps_dtype_and_inputs = family_tests(FAMILY, CASES)
