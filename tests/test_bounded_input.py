"""Hostile files cost bounded time and memory and get one line naming the file: devices, pipes,
huge or long-lined prototxts, NUL bytes, V1 oddities, a caffemodel larger than memory allows."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tracemalloc

import pytest

from conftest import FIXTURES
from senet_convert.caffe.caffemodel import read_caffemodel
from senet_convert.caffe.prototxt import MAX_PROTOTXT_BYTES, parse_net
from senet_convert.errors import MAX_MESSAGE, ConvertError
from senet_convert.loader import load_net
from test_bad_input import assert_one_line_error, run

PROTO = FIXTURES / "tiny-senet.prototxt"
TEXT = PROTO.read_text()


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_dev_zero_as_prototxt_is_refused_without_reading_it():
    assert_one_line_error(run("inspect", "/dev/zero"), "/dev/zero: a device, not a prototxt file")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_dev_zero_as_caffemodel_is_refused():
    assert_one_line_error(run("inspect", PROTO, "/dev/zero"), "/dev/zero: a device, not a caffemodel file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_named_pipe_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "net.prototxt"
    os.mkfifo(fifo)
    assert_one_line_error(run("inspect", fifo), "a pipe, not a prototxt file")


def test_a_prototxt_over_the_size_limit_is_refused_unread(tmp_path):
    big = tmp_path / "big.prototxt"
    with open(big, "wb") as f:
        f.truncate(MAX_PROTOTXT_BYTES + 1)
    assert_one_line_error(run("inspect", big), str(big), "more than a prototxt can sensibly be")


def test_a_megabyte_line_of_spaces_costs_little_memory():
    text = TEXT + " " * 2**20 + "\n"
    tracemalloc.start()
    try:
        parse_net(text, "spaces.prototxt")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # text_format alone took 180 bytes per space (182 MiB here)
    assert peak < 8 * len(text), peak


def test_an_unknown_field_after_a_megabyte_of_spaces_costs_little_memory():
    # naming the layer of an unknown field parses the text again: from the same cut pieces
    layer = TEXT.index("layer {") + len("layer {")
    text = TEXT[:layer] + " " * 2**20 + " frobnicate_param { }" + TEXT[layer:]
    tracemalloc.start()
    try:
        with pytest.raises(ConvertError, match="frobnicate_param"):
            parse_net(text, "spaces.prototxt")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * len(text), peak


@pytest.mark.parametrize("opening", ["layer { ", "{", 'layer { name: "x" convolution_param { '], ids=["layer", "brace", "param"])
def test_deeply_nested_messages_are_one_line_not_a_recursion_error(tmp_path, opening):
    bad = tmp_path / "deep.prototxt"
    bad.write_text(TEXT + opening * 20_000 + "\n")
    line = TEXT.count("\n") + 1
    assert_one_line_error(run("inspect", bad), f"{bad}:{line}: messages nested more than 100 deep")


def test_nesting_as_deep_as_caffes_messages_reads():
    text = 'name: "n" layer { name: "a" type: "Input" top: "a" input_param { shape { dim: 1 } } }\n'
    assert parse_net(text).layer[0].input_param.shape[0].dim == [1]


def test_positions_after_a_long_whitespace_run_are_the_files(tmp_path):
    bad = tmp_path / "bad.prototxt"
    bad.write_text(TEXT + "force_backward: false" + " " * 10000 + "bogus_field: 1\n")
    line = TEXT.count("\n") + 1
    assert_one_line_error(run("inspect", bad), f"{bad}:{line}:{21 + 10000 + 1}:", "bogus_field")


def test_an_error_inside_a_300kb_line_is_not_echoed_whole(tmp_path):
    bad = tmp_path / "long.prototxt"
    bad.write_text(TEXT + "x" * 300_000 + "\n")
    message = assert_one_line_error(run("inspect", bad), str(bad))
    assert len(message) <= MAX_MESSAGE + 40 and re.search(r"\(300,00\d characters\)", message), message


def test_a_huge_string_is_refused_with_its_position(tmp_path):
    bad = tmp_path / "string.prototxt"
    bad.write_text('name: "' + "s" * 2**20 + '"\n' + TEXT.replace('name: "Tiny-SENet"', ""))
    assert_one_line_error(run("inspect", bad), f"{bad}:1:7:", "a string of 1,048,578 characters")


def test_a_nul_byte_in_a_comment_is_just_a_comment(tmp_path):
    path = tmp_path / "nul.prototxt"
    path.write_text("# made by a tool \0 that writes NULs\n" + TEXT)
    assert load_net(path).layers


def test_a_nul_byte_in_the_text_is_a_syntax_error_with_its_position(tmp_path):
    path = tmp_path / "nul.prototxt"
    path.write_text(TEXT.replace('name: "Tiny-SENet"', 'name: "Tiny-SENet"\n\0', 1))
    assert_one_line_error(run("inspect", path), f"{path}:2:1:", "\\x00")


def test_invalid_utf8_names_line_and_column(tmp_path):
    path = tmp_path / "latin1.prototxt"
    path.write_bytes(TEXT.encode() + b"# caf\xe9\n")
    assert_one_line_error(run("inspect", path), f"{path}:{TEXT.count(chr(10)) + 1}:6: not UTF-8 text (byte 0xe9)")


def test_v1_type_enum_none_names_the_file_and_layer(tmp_path):
    path = tmp_path / "v1.prototxt"
    path.write_text('input: "data" input_dim: 1 input_dim: 1 input_dim: 2 input_dim: 2\n'
                    'layers { name: "nothing" type: NONE bottom: "data" top: "x" }\n')
    assert_one_line_error(run("inspect", path), str(path), "unsupported layer type: '' (1 layer, first 'nothing'")


def test_v1_mixed_with_current_layers_names_the_file(tmp_path):
    path = tmp_path / "mixed.prototxt"
    path.write_text('input: "data" input_dim: 1 input_dim: 1 input_dim: 2 input_dim: 2\n'
                    'layers { name: "r" type: RELU bottom: "data" top: "x" }\n'
                    'layer { name: "s" type: "Sigmoid" bottom: "x" top: "y" }\n')
    assert_one_line_error(run("inspect", path), f"{path}: the net mixes V1 'layers' and current 'layer'")


def test_a_caffemodel_stored_layer_with_v1_enum_none_loads(tmp_path):
    from senet_convert.caffe import caffe_pb2

    path = tmp_path / "v1.caffemodel"
    path.write_bytes(caffe_pb2.NetParameter(layers=[caffe_pb2.V1LayerParameter(name="x", type=0)]).SerializeToString())
    assert read_caffemodel(path).layers[0].type == ""


def _sparse_caffemodel(path, n: int) -> None:
    """One layer 'fc' whose blob's packed data holds n zero bytes (a sparse file)."""
    from senet_convert.caffe.writer import _len_field

    name = b"\x0a\x02fc"
    blob = _len_field(5, n)
    layer = name + _len_field(7, len(blob) + n) + blob
    head = _len_field(100, len(layer) + n) + layer
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(len(head) + n)


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS as Linux has it")
def test_a_caffemodel_larger_than_the_memory_limit_names_the_memory_limit(tmp_path):
    path = tmp_path / "sparse.caffemodel"
    _sparse_caffemodel(path, 6 << 30)  # 6 GiB that the file really holds
    code = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
        "from senet_convert.caffe.caffemodel import read_caffemodel\n"
        "from senet_convert.errors import ConvertError\n"
        "try:\n    read_caffemodel(sys.argv[1])\nexcept ConvertError as exc:\n    print(exc)\n"
    )
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=env, timeout=120)
    assert "out of memory" in out.stdout and "memory limit" in out.stdout, out.stdout + out.stderr
    assert "more memory than the file holds" not in out.stdout


def test_a_length_beyond_the_file_is_still_called_truncated(tmp_path):
    path = tmp_path / "cut.caffemodel"
    _sparse_caffemodel(path, 1 << 20)
    with open(path, "r+b") as f:
        f.truncate(1000)
    with pytest.raises(ConvertError, match="truncated or not a caffemodel"):
        read_caffemodel(path)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_as_caffemodel_fails_at_once_without_hashing_it(tmp_path):
    # caffe2torch hashes the caffemodel on a second thread; it used to hash /dev/zero forever while
    # the failed job waited for it.
    code = ("import sys; from senet_convert.cli import main; "
            f"sys.argv = ['senet-convert', 'caffe2torch', {str(PROTO)!r}, '/dev/zero', '-o', {str(tmp_path)!r}]; main()")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "/dev/zero: a device" in result.stderr, result.stderr
    assert not list(tmp_path.iterdir())
