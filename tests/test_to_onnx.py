"""The ONNX emitters, layer by layer: the torch lowering's grids of one-layer nets (and more pooling edge
cases) written as ONNX from the IR and run in ONNX Runtime and in ONNX's own reference evaluator,
every value against the numpy oracle; hand-worked pooling cases; the registry; bad layers.
"""
from __future__ import annotations

import importlib.util

import numpy as np
import onnx
import pytest
from conftest import REPO
from helpers import assert_onnx_matches_oracle, grid as _grid, layer_net, make_net, onnx_file

from senet_convert import reference, to_onnx, to_torch
from senet_convert.errors import ConvertError
from senet_convert.export import onnx as ox
from senet_convert.to_onnx import registry
from senet_convert.verify import onnxruntime as ort


def _module(relative: str):
    """A test file's module by path (the family files share basenames with nothing, but are not a package)."""
    path = REPO / "tests" / relative
    spec = importlib.util.spec_from_file_location(f"onnx_cases_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The torch lowering's grids, read from the family files (tests/layers/).
_POOLING, _CONV, _BATCHNORM = _module("layers/test_pooling.py"), _module("layers/test_conv.py"), _module("layers/test_batchnorm.py")
POOLING, CONVOLUTION, BATCHNORM, X4 = _POOLING.POOLING, _CONV.CONVOLUTION, _BATCHNORM.BATCHNORM, _POOLING.X4
SCALE = _module("layers/test_scale.py").SCALE
_ELTWISE = _module("layers/test_eltwise.py").GRID
ELEMENTWISE = {k: v[:3] for k, v in _ELTWISE.items()}
TENSOR = _module("layers/test_tensor.py").GRID
# The layers beyond the SENets', each at batches 1 and 3 too.
MORE = {k: v for family in ("neuron", "deconv", "slicing", "reduction", "normalization", "spp") for k, v in _module(f"layers/test_{family}.py").GRID.items()}
MORE.update({k: v for k, v in _ELTWISE.items() if k in ("eltwise-prod-2", "eltwise-max-4")})
_TO_TORCH = _module("test_to_torch.py")
SENET154_PARTS, SE_INCEPTION_GATE, _imports = _TO_TORCH.SENET154_PARTS, _TO_TORCH.SE_INCEPTION_GATE, _TO_TORCH._imports

FLT_MAX = float(np.finfo(np.float32).max)


def one(type_: str, params: str, *inputs, tmp_path, blobs=None) -> np.ndarray:
    arrays = [np.asarray(x, dtype=np.float32) for x in inputs]
    net = layer_net(type_, params, *(a.shape for a in arrays), blobs=blobs)
    (out,) = ort.run_onnx(ort.ort_session(onnx_file(net, tmp_path)), {f"x{i}": a for i, a in enumerate(arrays)}).values()
    return out


# ---- hand-worked pooling: Caffe's windows, as written out for the torch lowering ----------------


def test_pooling_hand_worked(tmp_path):
    pool = "pooling_param {{ pool: {} kernel_size: 3 stride: 2{} }}"
    np.testing.assert_array_equal(one("Pooling", pool.format("MAX", ""), X4, tmp_path=tmp_path)[0, 0], [[10, 11], [14, 15]])
    np.testing.assert_array_equal(one("Pooling", pool.format("AVE", ""), X4, tmp_path=tmp_path)[0, 0], [[5, 6.5], [11, 12.5]])
    # padding counts, the ceil overhang beyond it does not: divisors 9 9 6 / 9 9 6 / 6 6 4
    out = one("Pooling", pool.format("AVE", " pad: 1"), np.ones((1, 1, 4, 4)), tmp_path=tmp_path)
    np.testing.assert_allclose(out[0, 0], [[4 / 9, 6 / 9, 2 / 6], [6 / 9, 1, 3 / 6], [2 / 6, 3 / 6, 1 / 4]], rtol=1e-7)
    np.testing.assert_array_equal(one("Pooling", pool.format("MAX", " pad: 1"), -1 - X4, tmp_path=tmp_path)[0, 0],
                                  [[-1, -2, -4], [-5, -6, -8], [-13, -14, -16]])
    # stride > kernel, no padding: a last window wholly past the input (-FLT_MAX; AVE 0 / -1 = -0)
    x = np.array([[[[1.0, 2, 3, 4, 5]]]], dtype=np.float32)
    past = "pooling_param {{ pool: {} kernel_h: 1 kernel_w: 1 stride: 3 }}"
    np.testing.assert_array_equal(one("Pooling", past.format("MAX"), x, tmp_path=tmp_path)[0, 0], [[1, 4, -FLT_MAX]])
    ave = one("Pooling", past.format("AVE"), x, tmp_path=tmp_path)[0, 0]
    np.testing.assert_array_equal(ave, [[1, 4, 0]])
    assert np.signbit(ave[0, 2])


def test_pooling_never_uses_ceil_mode(tmp_path):
    for h, w, params in (case.values for case in _grid(POOLING)):
        net = layer_net("Pooling", f"pooling_param {{ {params} }}", (2, 3, h, w))
        model = onnx.load(str(onnx_file(net, tmp_path)))
        for node in model.graph.node:
            assert all(a.name != "ceil_mode" or a.i == 0 for a in node.attribute), (params, node)


# ---- grids: ONNX Runtime and onnx.reference vs the numpy oracle, at every value -------------

POOLING_EDGES = {
    # name: (H, W, pooling_param body): where explicit pads and divisors matter
    "ave-overhang-both-axes": (8, 10, "pool: AVE kernel_size: 3 stride: 2 pad: 1"),
    "ave-overhang-no-pad": (10, 10, "pool: AVE kernel_size: 4 stride: 3"),
    "max-overhang-no-pad": (10, 10, "pool: MAX kernel_size: 4 stride: 3"),
    "ave-stride>kernel-padded": (9, 9, "pool: AVE kernel_size: 2 stride: 3 pad: 1"),
    "max-stride>kernel-padded": (9, 9, "pool: MAX kernel_size: 2 stride: 3 pad: 1"),
    "ave-stride>kernel-floor": (10, 10, "pool: AVE kernel_size: 2 stride: 4 round_mode: FLOOR"),
    "max-stride>kernel-floor": (10, 10, "pool: MAX kernel_size: 2 stride: 4 round_mode: FLOOR"),
    "ave-floor-padded": (9, 8, "pool: AVE kernel_size: 3 stride: 2 pad: 1 round_mode: FLOOR"),
    "ave-kernel-is-input": (5, 5, "pool: AVE kernel_size: 5"),
    "max-kernel-is-input-padded": (5, 5, "pool: MAX kernel_size: 5 pad: 2 stride: 2"),
    "ave-1x1-input-k3p1": (1, 1, "pool: AVE kernel_size: 3 pad: 1"),
    "ave-wide-kernel": (3, 17, "pool: AVE kernel_h: 3 kernel_w: 7 stride_h: 1 stride_w: 5 pad_h: 0 pad_w: 3"),
    "max-global-1x1": (1, 1, "pool: MAX global_pooling: true"),
}


@pytest.mark.parametrize("h, w, params", _grid({**POOLING, **POOLING_EDGES}))
def test_pooling_vs_oracle(h, w, params, tmp_path):
    net = layer_net("Pooling", f"pooling_param {{ {params} }}", (2, 3, h, w))
    assert_onnx_matches_oracle(net, tmp_path, batches=(1, 3))


@pytest.mark.parametrize("shape, params", _grid(CONVOLUTION))
def test_convolution_vs_oracle(shape, params, tmp_path):
    assert_onnx_matches_oracle(layer_net("Convolution", f"convolution_param {{ {params} }}", shape), tmp_path)


@pytest.mark.parametrize("shape, params, factor", _grid(BATCHNORM))
def test_batchnorm_vs_oracle(shape, params, factor, tmp_path):
    rng = np.random.default_rng(3)
    c = shape[1]
    blobs = [rng.normal(0, 0.3, c) * factor, rng.uniform(0.5, 1.5, c) * factor, [factor]]
    assert_onnx_matches_oracle(layer_net("BatchNorm", params, shape, blobs=blobs), tmp_path)


def test_batchnorm_gives_caffes_bits_on_its_constants(tmp_path):
    # the statistics are Caffe's float32 steps: (x - mean*sf) / sqrt(var*sf + eps), each rounded once
    rng = np.random.default_rng(5)
    blobs = [rng.normal(0, 0.3, 6).astype(np.float32) * 7, rng.uniform(0.5, 1.5, 6).astype(np.float32) * 7, [7.0]]
    x = rng.standard_normal((2, 6, 3, 3)).astype(np.float32)
    sf = np.float32(1) / np.float32(7)
    mean = (blobs[0] * sf).reshape(6, 1, 1)
    std = np.sqrt(((blobs[1] * sf) + np.float32(1e-5)).astype(np.float64)).astype(np.float32).reshape(6, 1, 1)
    np.testing.assert_array_equal(one("BatchNorm", "", x, tmp_path=tmp_path, blobs=blobs), (x - mean) / std)


@pytest.mark.parametrize("type_, bottoms, params", _grid(SCALE))
def test_scale_and_bias_vs_oracle(type_, bottoms, params, tmp_path):
    assert_onnx_matches_oracle(layer_net(type_, params, *bottoms), tmp_path)


@pytest.mark.parametrize("type_, bottoms, params", _grid(ELEMENTWISE))
def test_elementwise_vs_oracle(type_, bottoms, params, tmp_path):
    assert_onnx_matches_oracle(layer_net(type_, params, *bottoms), tmp_path)


# ONNX's reference evaluator cannot run a grouped ConvTranspose whose groups have several output channels
NO_EVALUATOR = {"deconv-group-no-bias"}


@pytest.mark.parametrize("type_, bottoms, params, tops", _grid({k: v for k, v in MORE.items() if v[0] in to_onnx.SUPPORTED_TYPES}))
def test_more_layers_vs_oracle(type_, bottoms, params, tops, tmp_path, request):
    evaluator = request.node.callspec.id not in NO_EVALUATOR
    assert_onnx_matches_oracle(layer_net(type_, params, *bottoms, tops=tops), tmp_path, evaluator=evaluator, batches=(1, 3))


RESHAPES = {
    "reshape-axis-1-append": ("Reshape", [(2, 3, 4)], "reshape_param { axis: -1 shape { dim: 1 dim: 1 } }", 1),
    "reshape-moves-the-tail": ("Reshape", [(2, 6, 2, 2)], "reshape_param { axis: 1 num_axes: 1 shape { dim: 3 dim: 2 dim: 1 } }", 1),
    "ip-axis0": ("InnerProduct", [(2, 3)], "inner_product_param { num_output: 4 axis: 0 }", 1),
    "ip-axis3-transpose": ("InnerProduct", [(2, 3, 2, 4)], "inner_product_param { num_output: 5 axis: 3 transpose: true }", 1),
    "flatten-0": ("Flatten", [(2, 3, 4)], "flatten_param { axis: 0 end_axis: 1 }", 1),
    "concat-one-bottom": ("Concat", [(2, 3)], "", 1),
}


@pytest.mark.parametrize("type_, bottoms, params, tops", _grid({**TENSOR, **RESHAPES}))
def test_tensor_layers_vs_oracle(type_, bottoms, params, tops, tmp_path):
    net = layer_net(type_, params, *bottoms, tops=tops)
    assert_onnx_matches_oracle(net, tmp_path, batches=() if "axis0" in str(params) or "axis: 0" in params else (1, 3))


@pytest.mark.parametrize("body, shape", [(SENET154_PARTS, (2, 3, 36, 36)), (SE_INCEPTION_GATE, (2, 3, 12, 12))], ids=["senet154-parts", "se-inception-gate"])
def test_senet_parts_vs_oracle_at_any_batch(body, shape, tmp_path):
    assert_onnx_matches_oracle(make_net(body, {"data": shape}), tmp_path, batches=(1, 5))


def test_in_place_layer_on_the_net_input(tmp_path):
    # ReLU in place on the input blob: its value is data@relu; the graph input keeps the name 'data'
    body = """
layer { name: "relu" type: "ReLU" bottom: "data" top: "data" }
layer { name: "scale" type: "Scale" bottom: "data" top: "data" scale_param { bias_term: true } }
layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc" inner_product_param { num_output: 3 } }
"""
    net = make_net(body, {"data": (2, 4)})
    got = assert_onnx_matches_oracle(net, tmp_path, batches=(3,))
    assert {"data@relu", "data@scale", "fc"} <= set(got)
    # the input's last value as an output keeps its value name: 'data' is the input's
    model = onnx.load(str(onnx_file(net, tmp_path, outputs=["data", "fc"])))
    assert [o.name for o in model.graph.output] == ["data@scale", "fc"] and [i.name for i in model.graph.input] == ["data"]


# ---- the registry ----------------------------------------------------------------------------


def test_every_torch_type_has_an_emitter_or_is_named_as_missing():
    assert set(to_torch.SUPPORTED_TYPES) == set(reference.SUPPORTED_TYPES) == set(to_onnx.SUPPORTED_TYPES)
    for name, emit in registry.EMITTERS.impls.items():
        # each emitter opens with the Caffe semantics it reproduces, in a file named like the oracle's
        assert emit.__doc__ and emit.__doc__.startswith(f"{name}:"), name
        assert emit.__module__.rsplit(".", 1)[-1] == reference.KERNELS[name].__module__.rsplit(".", 1)[-1], name


def test_registering_a_type_twice_fails():
    with pytest.raises(ValueError, match="'ReLU' registered twice"):
        registry.register("ReLU")(lambda layer, g: None)


def test_unknown_type_names_layer_type_and_supported(tmp_path):
    net = layer_net("ReLU", "", (2, 3))
    net.layers[0].type = "Mystery"
    with pytest.raises(ConvertError, match=r"layer 'l' \(Mystery\).*no emitter for Caffe type 'Mystery'; supported types: AbsVal, ArgMax, Axpy, "):
        onnx_file(net, tmp_path)
    assert not (tmp_path / "net.onnx").exists()


@pytest.mark.parametrize(
    "type_, params, bottoms, message",
    [
        ("Pooling", "pooling_param { pool: STOCHASTIC kernel_size: 2 }", [(1, 1, 4, 4)], "STOCHASTIC pooling is not supported"),
        ("Eltwise", "eltwise_param { operation: PROD coeff: 1 coeff: 2 }", [(2, 3), (2, 3)], "coeff"),
        ("Softmax", "softmax_param { axis: 3 }", [(2, 3)], "axis 3 is out of range"),
    ],
    ids=["stochastic", "prod-coeff", "softmax-axis"],
)
def test_bad_layers_never_reach_an_emitter(type_, params, bottoms, message):
    # the loader's reading is the emitters' only reading: what it refuses no emitter sees
    with pytest.raises(ConvertError, match=message):
        layer_net(type_, params, *bottoms)


def test_emitters_read_the_loaders_parameters_and_check_the_blobs(tmp_path):
    net = layer_net("Softmax", "softmax_param { axis: 0 }", (2, 3))
    before = onnx.load(str(onnx_file(net, tmp_path)))
    net.layers[0].param.softmax_param.axis = 7  # an edit after loading is not a reading
    after = onnx.load(str(onnx_file(net, tmp_path)))
    assert [n.attribute[0].i for n in after.graph.node if n.op_type == "Softmax"] == [0]
    assert before.graph == after.graph
    conv = layer_net("Convolution", "convolution_param { num_output: 2 kernel_size: 1 }", (1, 3, 4, 4))
    conv.layers[0].blobs[0] = conv.layers[0].blobs[0][:1]
    with pytest.raises(ConvertError, match=r"blob 0 has shape \(1, 3, 1, 1\), expected \(2, 3, 1, 1\)"):
        onnx_file(conv, tmp_path / "conv")
    assert not (tmp_path / "conv").exists() or not any((tmp_path / "conv").iterdir())


def test_onnx_backend_needs_no_torch():
    package = ox.__file__.rsplit("/", 1)[0]
    from pathlib import Path

    package = Path(package).parent
    files = [*Path(package, "to_onnx").glob("*.py"), Path(package, "export", "onnx.py"), Path(package, "export", "onnx_files.py"),
             Path(package, "edits", "fold_batchnorm.py"), Path(package, "export", "provenance.py")]
    for path in files:
        imported = _imports(path)
        assert not {n for n in imported if n.split(".")[0] == "torch" or n.lstrip(".").split(".")[0] in {"to_torch", "optimize", "reference", "shapes"}}, path
