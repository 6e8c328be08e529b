"""The committed bindings match protos/caffe.proto, and the schema keeps Caffe's numbers and defaults."""
import ast
from pathlib import Path

import pytest

from senet_convert.caffe import caffe_pb2, regenerate


def test_bindings_are_not_stale(tmp_path: Path):
    pytest.importorskip("grpc_tools", reason="grpcio-tools is in the test extra: pip install -e '.[test]'")
    regenerate.compile_proto(tmp_path)
    # Compare the schema the bindings carry (their serialized descriptor), not the Python
    # around it, which changes with the protoc release.
    committed = Path(caffe_pb2.__file__)
    assert _embedded_descriptor(tmp_path / "caffe_pb2.py") == _embedded_descriptor(committed), (
        "senet_convert/caffe/caffe_pb2.py is stale: run python -m senet_convert.caffe.regenerate"
    )


def _embedded_descriptor(path: Path) -> bytes:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "AddSerializedFile":
            return ast.literal_eval(node.args[0])
    raise AssertionError(f"no serialized descriptor in {path}")


@pytest.mark.parametrize(
    "message, field, number",
    [
        ("NetParameter", "layer", 100),
        ("NetParameter", "layers", 2),
        ("NetParameter", "input_dim", 4),
        ("NetParameter", "input_shape", 8),
        ("LayerParameter", "blobs", 7),
        ("LayerParameter", "batch_norm_param", 139),
        ("LayerParameter", "scale_param", 142),
        ("LayerParameter", "input_param", 143),
        ("BlobProto", "data", 5),
        ("BlobProto", "shape", 7),
        ("BlobProto", "double_data", 8),
        ("V1LayerParameter", "blobs", 6),
        ("V1LayerParameter", "type", 5),
        ("PoolingParameter", "round_mode", 13),
        ("ConvolutionParameter", "dilation", 18),
    ],
)
def test_field_numbers(message, field, number):
    assert getattr(caffe_pb2, message).DESCRIPTOR.fields_by_name[field].number == number


def test_defaults_are_caffes():
    assert caffe_pb2.BatchNormParameter().eps == pytest.approx(1e-5)
    assert caffe_pb2.PoolingParameter().pool == caffe_pb2.PoolingParameter.MAX
    assert caffe_pb2.PoolingParameter().round_mode == caffe_pb2.PoolingParameter.CEIL
    assert caffe_pb2.ConvolutionParameter().bias_term is True
    assert caffe_pb2.ScaleParameter().bias_term is False
    assert caffe_pb2.EltwiseParameter().operation == caffe_pb2.EltwiseParameter.SUM
    assert caffe_pb2.ConcatParameter().axis == 1
    assert caffe_pb2.SoftmaxParameter().axis == 1
    assert caffe_pb2.DropoutParameter().dropout_ratio == pytest.approx(0.5)

