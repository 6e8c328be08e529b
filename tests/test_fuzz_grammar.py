"""Prototxts drawn from Caffe's grammar (hypothesis): layers of every supported type with random
parameters, bottoms and tops, including absurd numbers. inspect and caffe2torch must answer each
with exit 0 or with exit 2 and one line naming the file or layer, never a traceback."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz_run import Case, run_case
from senet_convert.loader import supported_types

NUMBERS = st.one_of(st.integers(-3, 9), st.sampled_from([0, 2**31 - 1, 2**31, 2**32 + 1, 10**6]))
FLOATS = st.one_of(st.floats(-2, 2, allow_nan=False), st.sampled_from(["nan", "inf", "-inf", "1e-45", "1e39"]))
BLOBS = st.sampled_from(["data", "a", "b", "c"])
PARAMS = {
    "Convolution": lambda: st.builds(
        lambda n, k, s, p, g: f"convolution_param {{ num_output: {n} kernel_size: {k} stride: {s} pad: {p} group: {g} }}",
        NUMBERS, NUMBERS, NUMBERS, NUMBERS, NUMBERS),
    "Pooling": lambda: st.builds(
        lambda pool, k, s, p, g: f"pooling_param {{ pool: {pool} kernel_size: {k} stride: {s} pad: {p} global_pooling: {g} }}",
        st.sampled_from(["MAX", "AVE", "STOCHASTIC"]), NUMBERS, NUMBERS, NUMBERS, st.sampled_from(["true", "false"])),
    "InnerProduct": lambda: st.builds(lambda n, a: f"inner_product_param {{ num_output: {n} axis: {a} }}", NUMBERS, NUMBERS),
    "BatchNorm": lambda: st.builds(lambda e: f"batch_norm_param {{ eps: {e} }}", FLOATS),
    "Softmax": lambda: st.builds(lambda a: f"softmax_param {{ axis: {a} }}", NUMBERS),
    "Concat": lambda: st.builds(lambda a: f"concat_param {{ axis: {a} }}", NUMBERS),
    "Eltwise": lambda: st.builds(lambda op: f"eltwise_param {{ operation: {op} }}", st.sampled_from(["PROD", "SUM", "MAX"])),
    "Reshape": lambda: st.builds(lambda dims: "reshape_param { shape { " + " ".join(f"dim: {d}" for d in dims) + " } }",
                                 st.lists(st.integers(-2, 6), max_size=5)),
    "Scale": lambda: st.builds(lambda b, a: f"scale_param {{ bias_term: {b} axis: {a} }}", st.sampled_from(["true", "false"]), NUMBERS),
}


@st.composite
def layers(draw, index: int):
    kind = draw(st.sampled_from([t for t in supported_types() if t != "Input"] + ["Unknown"]))
    bottoms = draw(st.lists(BLOBS, min_size=0, max_size=3))
    tops = draw(st.lists(BLOBS, min_size=0, max_size=2))
    params = draw(PARAMS[kind]()) if kind in PARAMS and draw(st.booleans()) else ""
    fields = " ".join([f'name: "l{index}"', f'type: "{kind}"', *(f'bottom: "{b}"' for b in bottoms), *(f'top: "{t}"' for t in tops), params])
    return f"layer {{ {fields} }}\n"


@st.composite
def prototxts(draw):
    dims = draw(st.lists(st.integers(0, 12), min_size=1, max_size=5))
    head = 'name: "g"\ninput: "data"\ninput_shape { ' + " ".join(f"dim: {d}" for d in dims) + " }\n"
    count = draw(st.integers(1, 6))
    return head + "".join(draw(layers(i)) for i in range(count))


@settings(max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(text=prototxts())
def test_grammar_drawn_prototxts_keep_the_promise(text, tmp_path_factory):
    case = Case("grammar", 0, text.encode(), None)
    outcome = run_case(case, tmp_path_factory.mktemp("grammar"))
    assert outcome.problem is None, (outcome.problem, text)
    if outcome.exit_code == 0:
        _convert_with_weights(text, tmp_path_factory)


def _convert_with_weights(text: str, tmp_path_factory) -> None:
    """A net inspect accepted, with seeded weights: caffe2torch keeps the promise too."""
    from senet_convert.caffe.writer import write_net_weights
    from senet_convert.loader import net_from_text

    work = tmp_path_factory.mktemp("weights")
    model = work / "net.caffemodel"
    rng = np.random.default_rng(0)
    write_net_weights(net_from_text(text), model, lambda name, kind, i, shape: rng.standard_normal(shape).astype(np.float32))
    case = Case("grammar", 0, text.encode(), model.read_bytes(), "caffe2torch")
    outcome = run_case(case, work / "run")
    assert outcome.problem is None, (outcome.problem, text)
