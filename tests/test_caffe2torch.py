"""caffe2torch's files: the .pt2 runs with plain PyTorch, the .pt loads weights-only and rebuilds exactly."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import FIXTURES
from helpers import cli

from senet_convert import convert, load_checkpoint
from senet_convert.errors import ConvertError

PROTO = FIXTURES / "tiny-senet.prototxt"
MODEL = FIXTURES / "tiny-senet.caffemodel"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("c2t")
    result = cli("caffe2torch", str(PROTO), str(MODEL), "-o", str(out), "--safetensors")
    assert result.exit_code == 0, result.output
    return out, result


def test_summary_line_and_files(written):
    out, result = written
    assert sorted(p.name for p in out.iterdir()) == ["tiny-senet.pt", "tiny-senet.pt2", "tiny-senet.safetensors"]
    line = result.stdout.strip().splitlines()[-1]
    assert "5,150 parameters" in line and "returns prob" in line and "tiny-senet.pt2" in line


def _inputs(batch):
    return torch.from_numpy(np.random.default_rng(batch).uniform(-100, 100, (batch, 3, 32, 32)).astype(np.float32))


def test_pt2_runs_in_a_process_without_senet_convert(written, tmp_path):
    out, _ = written
    module = convert(PROTO, MODEL)
    script = tmp_path / "run_pt2.py"
    script.write_text(
        "import sys, json, numpy as np, torch\n"
        "assert 'senet_convert' not in sys.modules\n"
        "program = torch.export.load(sys.argv[1]).module()\n"
        "res = {}\n"
        "for batch in (1, 3):\n"
        "    x = np.load(sys.argv[2] + f'/x{batch}.npy')\n"
        "    res[batch] = program(torch.from_numpy(x)).numpy().tolist()\n"
        "try:\n"
        "    import senet_convert\n"
        "    print('IMPORTABLE')\n"
        "except ImportError:\n"
        "    pass\n"
        "print(json.dumps(res))\n"
    )
    for batch in (1, 3):
        np.save(tmp_path / f"x{batch}.npy", _inputs(batch).numpy())
    # A clean environment: no PYTHONPATH, run from an empty folder, site-packages without our
    # editable install on the path (-I isolates from the user site and the current directory).
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    code = f"import sys; sys.path = [p for p in sys.path if 'site-packages' in p or 'lib/python' in p]; sys.meta_path = [f for f in sys.meta_path if 'editable' not in type(f).__module__.lower() and '__editable__' not in repr(f)]; sys.argv = {[str(script), str(out / 'tiny-senet.pt2'), str(tmp_path)]!r}; exec(open({str(script)!r}).read())"
    result = subprocess.run([sys.executable, "-I", "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "IMPORTABLE" not in result.stdout, "senet_convert was importable in the clean process"
    outputs = json.loads(result.stdout.strip().splitlines()[-1])
    for batch in (1, 3):
        got = np.array(outputs[str(batch)], dtype=np.float32)
        want = module(_inputs(batch)).numpy()
        assert got.shape == (batch, 10)
        assert np.abs(got - want).max() <= 1e-6 * np.abs(want).max()


def test_pt_loads_weights_only_and_rebuilds_exactly(written):
    out, _ = written
    data = torch.load(out / "tiny-senet.pt", weights_only=True)
    assert data["format"] == "senet-convert/checkpoint"
    assert data["input"] == {"name": "data", "shape": [1, 3, 32, 32], "layout": "NCHW", "color_order": "BGR",
                             "pixel_range": [0.0, 255.0], "mean": [104.0, 117.0, 123.0], "std": [1.0, 1.0, 1.0],
                             "class_order": "caffe", "deviations": []}
    import hashlib

    assert data["sources"]["caffemodel"]["sha256"] == hashlib.sha256(MODEL.read_bytes()).hexdigest()
    assert data["sources"]["prototxt"]["sha256"] == hashlib.sha256(PROTO.read_bytes()).hexdigest()
    assert data["versions"]["torch"] == str(torch.__version__)
    original = convert(PROTO, MODEL)
    rebuilt = load_checkpoint(out / "tiny-senet.pt")
    assert rebuilt.code == original.code
    for (k1, v1), (k2, v2) in zip(original.state_dict().items(), rebuilt.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2)
    x = _inputs(3)
    assert torch.equal(original(x), rebuilt(x))


def test_checkpoint_maps_back_to_caffe_blobs(written):
    out, _ = written
    data = torch.load(out / "tiny-senet.pt", weights_only=True)
    from senet_convert.loader import load_net

    net = load_net(PROTO, MODEL)
    for key, (layer, index) in data["caffe_blobs"].items():
        assert np.array_equal(data["state_dict"][key].numpy(), net.layer(layer).blobs[index]), key


def test_safetensors_holds_the_state_dict(written):
    safetensors = pytest.importorskip("safetensors.torch")
    out, _ = written
    tensors = safetensors.load_file(str(out / "tiny-senet.safetensors"))
    state = convert(PROTO, MODEL).state_dict()
    assert tensors.keys() == state.keys()
    assert all(torch.equal(tensors[k], state[k]) for k in state)


def test_outputs_selects_caffe_blobs(tmp_path):
    module = convert(PROTO, MODEL, outputs=["classifier", "pool5/7x7_s1"])
    logits, pooled = module(_inputs(2))
    assert logits.shape == (2, 10) and pooled.shape == (2, 32, 1, 1)
    probs = convert(PROTO, MODEL)(_inputs(2))
    assert torch.allclose(torch.softmax(logits, 1), probs, atol=1e-6)
    result = cli("caffe2torch", str(PROTO), str(MODEL), "-o", str(tmp_path), "--outputs", "classifier", "--no-pt2")
    assert result.exit_code == 0, result.output
    rebuilt = load_checkpoint(tmp_path / "tiny-senet.pt")
    assert rebuilt(_inputs(2)).shape == (2, 10)


def test_unknown_output_blob_is_a_clear_error(tmp_path):
    with pytest.raises(ConvertError, match="nope"):
        convert(PROTO, MODEL, outputs=["nope"])
    result = cli("caffe2torch", str(PROTO), str(MODEL), "-o", str(tmp_path), "--outputs", "nope")
    assert result.exit_code == 2 and "nope" in result.stderr and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_checkpoint_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ConvertError, match="bad.pt"):
        load_checkpoint(bad)
    torch.save({"x": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ConvertError, match="not a senet-convert checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_checkpoint_states_a_changed_input_contract(tmp_path):
    result = cli("caffe2torch", str(PROTO), str(MODEL), "-o", str(tmp_path), "--no-pt2", "--input-space", "torchvision", "--global-pool")
    assert result.exit_code == 0, result.output
    contract = torch.load(tmp_path / "tiny-senet.pt", weights_only=True)["input"]
    assert contract["color_order"] == "RGB" and contract["pixel_range"] == [0.0, 1.0]
    assert contract["mean"] == pytest.approx([0.485, 0.456, 0.406]) and contract["std"] == pytest.approx([0.229, 0.224, 0.225])
    assert len(contract["deviations"]) == 1 and contract["deviations"][0].startswith("global-pool")
    assert load_checkpoint(tmp_path / "tiny-senet.pt")(torch.rand(2, 3, 32, 32)).shape == (2, 10)


def test_a_checkpoint_written_by_release_0_1_0_still_loads_exactly():
    # tests/data/tiny-senet-0.1.0.pt was written by caffe2torch of release 0.1.0 from the tiny-senet fixture;
    # the file format, the state_dict keys and the rebuilt module must keep working.
    old = load_checkpoint(FIXTURES.parent / "tests" / "data" / "tiny-senet-0.1.0.pt")
    fresh = convert(FIXTURES / "tiny-senet.prototxt", FIXTURES / "tiny-senet.caffemodel")
    assert old.state_dict().keys() == fresh.state_dict().keys()
    x = torch.from_numpy(np.random.default_rng(0).uniform(-4, 4, (2, 3, 32, 32)).astype(np.float32))
    with torch.no_grad():
        assert torch.equal(old(x), fresh(x))
