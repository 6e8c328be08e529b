"""The layer registry (caffe/layers/): each Caffe type once, with its parameter reading and its shapes;
every type has every backend, each under the family's file name, and a case in that family's test file
(tests/layers/test_<family>.py); duplicates and misses are refused, and a miss names the layer."""
from __future__ import annotations

import ast
import importlib.util

import pytest
from conftest import REPO

from senet_convert import reference
from senet_convert.caffe.layers import SPECS, Backend
from senet_convert.caffe.layers.registry import layer_type
from senet_convert.errors import ConvertError
from senet_convert.loader import net_from_text
from senet_convert.to_onnx.registry import EMITTERS
from senet_convert.to_torch.registry import BUILDERS

BACKENDS = {"reference": reference.KERNELS, "to_torch": BUILDERS, "to_onnx": EMITTERS}
TYPES = sorted(SPECS)


def _family_tests(family: str):
    path = REPO / "tests" / "layers" / f"test_{family}.py"
    assert path.is_file(), f"no test file {path.relative_to(REPO)} for the {family} family"
    spec = importlib.util.spec_from_file_location(f"family_{family}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("caffe_type", TYPES)
def test_every_type_has_every_backend_under_its_family_file(caffe_type):
    # Every built-in type is read into typed parameters: none is shape-only (those are plugins').
    family = SPECS[caffe_type].family
    assert SPECS[caffe_type].module == f"senet_convert.caffe.layers.{family}"
    for package, backend in BACKENDS.items():
        assert caffe_type in backend, f"{package} has no implementation of {caffe_type}"
        assert backend[caffe_type].__module__ == f"senet_convert.{package}.{family}"
        assert not backend.reads_layer(caffe_type), f"{package}'s {caffe_type} reads layer.param itself"


@pytest.mark.parametrize("caffe_type", TYPES)
def test_every_type_has_a_case_in_its_family_test_file(caffe_type):
    assert caffe_type in _family_tests(SPECS[caffe_type].family).CASES


def test_every_type_beyond_the_senets_is_in_a_lowering_grid_or_a_hand_worked_case():
    new = {"AbsVal", "ArgMax", "BNLL", "Clip", "Crop", "Deconvolution", "ELU", "Embed", "Exp", "Log", "MVN", "PReLU",
           "Parameter", "Power", "Reduction", "SPP", "Slice", "Swish", "Threshold", "Tile"}
    covered = {"Embed", "Parameter"}  # hand-worked in their family files, with the lowering against the oracle
    for family in {SPECS[t].family for t in new}:
        covered |= {case[0] for case in getattr(_family_tests(family), "GRID", {}).values()}
    assert new <= covered


def test_backends_implement_exactly_the_registered_types():
    for package, backend in BACKENDS.items():
        assert set(backend) == set(SPECS), package


def test_registering_a_type_twice_fails():
    with pytest.raises(ValueError, match="'ReLU' registered twice"):
        layer_type("ReLU")(lambda param, shapes: (None, shapes, []))
    assert SPECS["ReLU"].module == "senet_convert.caffe.layers.activation"


def test_a_backend_refuses_duplicates_and_types_the_registry_lacks():
    backend = Backend("test backend", "thing", arity=3)
    backend.register("ReLU")(lambda *args: None)
    with pytest.raises(ValueError, match="test backend: Caffe type 'ReLU' registered twice"):
        backend.register("ReLU")(lambda *args: None)
    with pytest.raises(ValueError, match="'Frobnicate' is not a registered Caffe type"):
        backend.register("Frobnicate")(lambda *args: None)


def test_a_miss_names_the_layer_its_type_its_line_and_every_supported_type():
    text = 'input: "x" input_shape { dim: 1 dim: 2 }\n\nlayer { name: "f" type: "Frobnicate" bottom: "x" top: "y" }\n'
    with pytest.raises(ConvertError) as info:
        net_from_text(text, "net.prototxt")
    message = str(info.value)
    assert message.startswith("net.prototxt: 1 unsupported layer type: 'Frobnicate' (1 layer, first 'f' at line 3)")
    assert all(caffe_type in message for caffe_type in SPECS)


@pytest.mark.parametrize("caffe_type", sorted(t for t, spec in SPECS.items() if spec.bottoms[1] is not None))
def test_bottom_counts_are_checked_once_at_load(caffe_type):
    n = SPECS[caffe_type].bottoms[1] + 1
    head = "".join(f'input: "x{i}" input_shape {{ dim: 1 dim: 2 dim: 3 dim: 3 }}\n' for i in range(n))
    bottoms = "".join(f' bottom: "x{i}"' for i in range(n))
    with pytest.raises(ConvertError, match=f"layer 'l' \\({caffe_type}\\): takes .* bottoms, got {n}"):
        net_from_text(head + f'layer {{ name: "l" type: "{caffe_type}"{bottoms} top: "y" }}')


@pytest.mark.parametrize("package", sorted(BACKENDS))
def test_backends_take_only_the_validated_parameters_from_the_registry(package):
    # The oracle and the lowering share the reading of the parameters (Setup.params) and nothing else:
    # they import the registry's plumbing, never a family's reader with its shape arithmetic.
    allowed = {"Backend", "Setup", "check_blobs", "setup_of"}
    for path in sorted((REPO / "senet_convert" / package).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("caffe.layers"):
                names = {alias.name for alias in node.names}
                assert node.module == "caffe.layers" and names <= allowed, f"{path.name} imports {node.module}: {names}"
