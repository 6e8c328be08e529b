"""Helpers the tests share: building a layer, the oracle and the lowering on it and against each other,
the contract every kernel keeps, the CLI call and the one-line-error check."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from google.protobuf import text_format

from senet_convert import reference
from senet_convert.caffe import caffe_pb2
from senet_convert.caffe.layers import SPECS
from senet_convert.cli import main
from senet_convert.errors import ConvertError
from senet_convert.graph import Layer, Net
from senet_convert.loader import net_from_text
from senet_convert.to_torch import caffe_name, lower

FLT_MAX = float(np.finfo(np.float32).max)
EPS32 = float(np.float32(1e-5))  # Caffe's default eps as the float32 it is
TOL = 2e-6  # max |torch float32 - oracle float64| relative to max |oracle|
X = (2, 3, 4, 4)  # the shape of the one-case-per-type inputs


# ---- one layer through the oracle -------------------------------------------------------


def make_layer(type_: str, params: str = "", *, bottoms: int = 1, tops: int = 1, blobs=()) -> Layer:
    param = text_format.Parse(params, caffe_pb2.LayerParameter())
    param.name, param.type = f"test/{type_}", type_
    param.top.extend(f"out{i}" for i in range(tops))
    return Layer(
        name=param.name,
        type=type_,
        bottoms=tuple(f"in{i}" for i in range(bottoms)),
        tops=tuple(f"out{i}" for i in range(tops)),
        param=param,
        blobs=[np.asarray(b, dtype=np.float32) for b in blobs],
    )


def forward(type_: str, params: str, *inputs, blobs=(), tops: int = 1, dtype=np.float64) -> list[np.ndarray]:
    layer = make_layer(type_, params, bottoms=len(inputs), tops=tops, blobs=blobs)
    return reference.forward(layer, [np.asarray(x, dtype=dtype) for x in inputs])


def forward1(type_: str, params: str, *inputs, **kwargs) -> np.ndarray:
    (out,) = forward(type_, params, *inputs, **kwargs)
    return out



# ---- one-layer nets through the loader, the lowering and the oracle ------------------------


def make_net(body: str, inputs: dict[str, tuple[int, ...]], *, blobs: dict | None = None, seed: int = 0) -> Net:
    """A net from prototxt layers; blobs random (shapes as Caffe allocates them) unless given."""
    head = "".join(f'input: "{name}" input_shape {{ {" ".join(f"dim: {d}" for d in shape)} }}\n' for name, shape in inputs.items())
    net = net_from_text(head + body)
    rng = np.random.default_rng(seed)
    for layer in net.layers:
        if blobs and layer.name in blobs:
            layer.blobs = [np.asarray(b, dtype=np.float32) for b in blobs[layer.name]]
            continue
        wanted = layer.setup.blobs
        draw = (lambda s: rng.uniform(0.5, 1.5, s)) if layer.type == "BatchNorm" else rng.standard_normal  # var > 0
        layer.blobs = [draw(s).astype(np.float32) for s in wanted]
    return net


def layer_net(type_: str, params: str, *shapes_: tuple[int, ...], tops: int = 1, blobs=None) -> Net:
    bottoms = "".join(f' bottom: "x{i}"' for i in range(len(shapes_)))
    top = "".join(f' top: "y{i}"' for i in range(tops))
    body = f'layer {{ name: "l" type: "{type_}"{bottoms}{top} {params} }}'
    return make_net(body, {f"x{i}": s for i, s in enumerate(shapes_)}, blobs=None if blobs is None else {"l": blobs})


def run_torch(net: Net, inputs: dict[str, np.ndarray], **kwargs):
    module = lower(net, **kwargs)
    with torch.inference_mode():
        return module(*[torch.from_numpy(inputs[name]) for name in net.inputs])


def random_inputs(net: Net, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(shape).astype(np.float32) for name, shape in net.inputs.items()}


def assert_matches_oracle(net: Net, inputs: dict[str, np.ndarray] | None = None, tol: float = TOL) -> dict:
    inputs = random_inputs(net) if inputs is None else inputs
    expected = reference.run(net, inputs, intermediate=True)
    got = run_torch(net, inputs, intermediate=True)
    assert set(got) == set(expected)
    for value, want in expected.items():
        have = got[value].numpy()
        assert have.dtype == np.float32, value
        assert have.shape == want.shape, (value, have.shape, want.shape)
        finite = np.abs(want[np.isfinite(want)])
        scale = finite.max() if finite.size else 0.0
        np.testing.assert_allclose(have, want, rtol=0, atol=max(tol * scale, 1e-30), equal_nan=True, err_msg=value)
    # The loader's shape inference is a third, independent opinion.
    for value, have in got.items():
        assert tuple(have.shape) == tuple(net.shapes[value]), f"{value}: the loader says {net.shapes[value]}"
    return got


def one(type_: str, params: str, *inputs, blobs=None) -> np.ndarray:
    arrays = [np.asarray(x, dtype=np.float32) for x in inputs]
    net = layer_net(type_, params, *(a.shape for a in arrays), blobs=blobs)
    return run_torch(net, {f"x{i}": a for i, a in enumerate(arrays)}).numpy()



def one_pass(module) -> dict[str, str]:
    """BatchNorm layer -> Scale layer for each call of `module`'s graph that applies both (read off the graph)."""
    pairs = {}
    for node in module.graph.nodes:
        if node.op == "call_module":
            owners = {a.target.rsplit(".", 1)[0] for a in node.args if isinstance(a, torch.fx.Node) and a.op == "get_attr"}
            if owners:
                pairs[caffe_name(node.target)] = caffe_name(owners.pop())
    return pairs


def grid(cases: dict[str, tuple]) -> list:
    return [pytest.param(*case, id=name) for name, case in cases.items()]


# ---- every registered type: the family test files hold a case each ---------------------------


def family_cases(family: str) -> list[str]:
    """The registered types of a layer family (caffe/layers/<family>.py), sorted."""
    return sorted(t for t, spec in SPECS.items() if spec.family == family)


def family_tests(family: str, cases: dict):
    """The two tests every family file holds: a case for each registered type of the family, and the
    kernel contract (kernel_contract_test) on those cases."""

    def test_every_type_of_the_family_has_a_case():
        assert sorted(cases) == family_cases(family)

    return test_every_type_of_the_family_has_a_case, kernel_contract_test(cases)


def lowering_grid_test(cases: dict):
    """A test over `cases` (name -> (type, bottom shapes, params, tops)): each one-layer net's lowering
    against the oracle (assert_matches_oracle)."""

    @pytest.mark.parametrize("type_, bottoms, params, tops", grid(cases))
    def test(type_, bottoms, params, tops):
        assert_matches_oracle(layer_net(type_, params, *bottoms, tops=tops))

    return test


def assert_both(type_: str, params: str, *inputs, expected, blobs=None, rtol=1e-6, tops: int = 1) -> None:
    """The oracle and the torch lowering of a one-layer net on `inputs` (float32, as Caffe holds them) both
    give `expected` (one array, or a list of one per top when tops > 1)."""
    arrays = [np.asarray(x, dtype=np.float32) for x in inputs]
    oracle = forward(type_, params, *arrays, blobs=blobs or (), tops=tops)
    net = layer_net(type_, params, *(a.shape for a in arrays), tops=tops, blobs=blobs)
    got = run_torch(net, {f"x{i}": a for i, a in enumerate(arrays)})
    lowered = [g.numpy() for g in ([got] if tops == 1 else list(got))]
    want = expected if tops > 1 else [expected]
    for backend, outs in (("oracle", oracle), ("torch", lowered)):
        assert len(outs) == len(want), backend
        for top, w in zip(outs, want):
            w = np.asarray(w, dtype=np.float64)
            assert top.shape == w.shape, (backend, top.shape, w.shape)
            np.testing.assert_allclose(top, w, rtol=rtol, atol=1e-7, equal_nan=True, err_msg=backend)


def loader_refusal_test(cases: dict):
    """A test over `cases` (name -> (type, bottom shapes, params, tops, message)): the loader refuses each
    one-layer net in one line naming the layer."""

    @pytest.mark.parametrize("type_, bottoms, params, tops, message", grid(cases))
    def test(type_, bottoms, params, tops, message):
        with pytest.raises(ConvertError, match=message) as info:
            layer_net(type_, params, *bottoms, tops=tops)
        assert f"layer 'l' ({type_})" in str(info.value)

    return test


def kernel_contract_test(cases: dict):
    """A test over `cases` (type -> (params, input shapes, blob shapes, tops)): each kernel returns its tops
    in the input dtype, finite, never writes to its inputs, and float32 stays within float32 noise of float64."""

    @pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
    @pytest.mark.parametrize("type_", sorted(cases))
    def test(type_, dtype):
        params, in_shapes, blob_shapes, tops = cases[type_]
        rng = np.random.default_rng(0)
        inputs = [rng.standard_normal(s).astype(dtype) for s in in_shapes]
        if type_ == "Embed":  # indices into the table
            inputs = [rng.integers(0, 10, s).astype(dtype) for s in in_shapes]
        before = [x.copy() for x in inputs]
        blobs = [rng.uniform(0.5, 1.5, s).astype(np.float32) for s in blob_shapes]
        layer = make_layer(type_, params, bottoms=len(inputs), tops=tops, blobs=blobs)
        outs = reference.forward(layer, inputs)
        if not inputs:  # no bottom to take the dtype from (Parameter): run() gives the top the working dtype
            net = Net(name="one", inputs={}, layers=[layer], outputs=list(layer.tops), shapes={}, blob_of={}, final={})
            outs = list(reference.run(net, {}, dtype=dtype).values())
        assert len(outs) == tops
        assert all(o.dtype == dtype for o in outs)
        assert all(np.isfinite(o).all() for o in outs)
        for x, b in zip(inputs, before):
            np.testing.assert_array_equal(x, b)  # kernels never write to their inputs
        if dtype == np.float32:  # float32 stays within float32 noise of float64
            ref = reference.forward(layer, [x.astype(np.float64) for x in inputs])
            for o, r in zip(outs, ref):
                np.testing.assert_allclose(o, r, rtol=1e-5, atol=1e-5 * np.abs(r).max())

    return test


# ---- ONNX: the file, every value it names, against the oracle --------------------------------

PARITY = 2e-5  # verify's tolerance: other batch sizes, other inputs than the grids' tuned seeds


def onnx_file(net, tmp_path, **kwargs):
    path = tmp_path / "net.onnx"
    from senet_convert.export.onnx import export_onnx

    export_onnx(net, path, **kwargs)
    return path


def run_every_value(net, path, inputs, *, evaluator: bool = False) -> dict[str, np.ndarray]:
    """Every value the file names (all of the net's but its inputs), by name, in ORT or ONNX's reference evaluator."""
    from senet_convert.verify import onnxruntime as ort

    model = ort.load_model(path, with_data=True)
    names = sorted(ort.tensor_names(model) & set(net.shapes))
    exposed = ort.with_outputs(model, names)
    feed = {k: np.asarray(v, np.float32) for k, v in inputs.items()}
    if evaluator:
        from onnx.reference import ReferenceEvaluator

        return dict(zip(names, ReferenceEvaluator(exposed).run(names, feed)))
    return ort.run_onnx(ort.ort_session(exposed), feed, names)


def assert_onnx_matches_oracle(net, tmp_path, inputs=None, *, tol: float = TOL, evaluator: bool = True, batches=()) -> dict:
    """The net written as ONNX, every value in ONNX Runtime (and ONNX's reference evaluator) against the
    oracle within `tol` of each value's largest magnitude; `batches`: the same file at other batch sizes."""
    from senet_convert.verify import onnxruntime as ort

    inputs = random_inputs(net) if inputs is None else inputs
    path = onnx_file(net, tmp_path)
    expected = reference.run(net, inputs, intermediate=True)
    runtimes = {"onnxruntime": run_every_value(net, path, inputs)}
    if evaluator:
        runtimes["onnx.reference"] = run_every_value(net, path, inputs, evaluator=True)
    for runtime, got in runtimes.items():
        assert set(got) == set(expected) - set(net.inputs), runtime
        for value, have in got.items():
            want = expected[value]
            assert have.shape == want.shape, (runtime, value, have.shape, want.shape)
            finite = np.abs(want[np.isfinite(want)])
            scale = finite.max() if finite.size else 0.0
            np.testing.assert_allclose(have, want, rtol=0, atol=max(tol * scale, 1e-30), equal_nan=True, err_msg=f"{runtime}: {value}")
    for batch in batches:  # the batch is dynamic: other batch sizes run the same file
        other = {k: np.random.default_rng(batch).standard_normal((batch, *v.shape[1:])).astype(np.float32) for k, v in inputs.items()}
        session = ort.ort_session(path)
        want = reference.run(net, other)
        for name, have in ort.run_onnx(session, other).items():
            value = net.final.get(name, name)
            finite = np.abs(want[value][np.isfinite(want[value])])
            atol = max(PARITY * (finite.max() if finite.size else 0.0), 1e-30)
            np.testing.assert_allclose(have, want[value], rtol=0, atol=atol, equal_nan=True, err_msg=f"batch {batch}")
    return runtimes["onnxruntime"]



# ---- the command line ------------------------------------------------------------------


def cli(*args):
    """The command line, in-process: a click Result (exit_code, stdout, stderr)."""
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_one_line_error(result, *needles: str) -> str:
    """Bad input: exit status 2, no traceback, one line on stderr holding every needle."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]
