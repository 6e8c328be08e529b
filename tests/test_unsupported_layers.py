"""A net with layer types nothing supports: every such type, counted, in one run (exit status 2)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from senet_convert.cli import main
from senet_convert.errors import UnsupportedLayers
from senet_convert.loader import net_from_text

NET = """name: "lacking"
input: "data"
input_shape { dim: 1 dim: 4 dim: 6 dim: 6 }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 4 kernel_size: 1 } }
layer { name: "shuffle1" type: "ShuffleChannel" bottom: "conv" top: "s1" }
layer { name: "norm" type: "Normalize" bottom: "s1" top: "n" }
layer { name: "train_only" type: "Interp" bottom: "n" top: "i" include { phase: TRAIN } }
layer { name: "shuffle2" type: "ShuffleChannel" bottom: "n" top: "s2" }
"""


def test_every_missing_type_in_one_error():
    with pytest.raises(UnsupportedLayers) as info:
        net_from_text(NET, "lacking.prototxt")
    # file order, each with its count and first layer; a layer of another phase does not count
    assert info.value.missing == [("ShuffleChannel", 2, "shuffle1", 5), ("Normalize", 1, "norm", 6)]
    message = str(info.value)
    assert "lacking.prototxt: 2 unsupported layer types: 'ShuffleChannel' (2 layers, first 'shuffle1' at line 5); " in message
    assert "'Normalize' (1 layer, first 'norm' at line 6)" in message and "docs/plugins.md" in message


def test_inspect_lists_them_then_exits_2(tmp_path):
    path = tmp_path / "lacking.prototxt"
    path.write_text(NET)
    result = CliRunner().invoke(main, ["inspect", str(path)])
    assert result.exit_code == 2
    rows = [line.split() for line in result.stdout.splitlines()]
    assert ["ShuffleChannel", "2", "shuffle1", "5"] in rows and ["Normalize", "1", "norm", "6"] in rows
    assert len(result.stderr.strip().splitlines()) == 1 and "2 unsupported layer types" in result.stderr
    data = json.loads(CliRunner().invoke(main, ["inspect", str(path), "--json"]).stdout)
    assert data["unsupported"] == [
        {"type": "ShuffleChannel", "layers": 2, "first_layer": "shuffle1", "line": 5},
        {"type": "Normalize", "layers": 1, "first_layer": "norm", "line": 6},
    ]
    assert "Convolution" in data["supported"]


def test_other_commands_give_the_one_line(tmp_path):
    path = tmp_path / "lacking.prototxt"
    path.write_text(NET)
    result = CliRunner().invoke(main, ["caffe2torch", str(path), str(path), "-o", str(tmp_path)])
    assert result.exit_code == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "'Normalize' (1 layer" in result.stderr
