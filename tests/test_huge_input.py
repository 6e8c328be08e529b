"""A legal net declared for a huge input converts and verifies in bounded memory.

The .pt2's example (and the sample input it embeds) is one zero expanded to the declared shape, so
the program keeps the declared size; verify's synthetic input is made smaller only when no weight
depends on the spatial size (benchmarks/huge_input.py measures both).
"""
from __future__ import annotations

import re
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch
from conftest import REPO
from helpers import cli

from senet_convert.caffe.writer import write_net_weights
from senet_convert.export.checkpoint import load_checkpoint
from senet_convert.loader import load_net
from senet_convert.verify.input_size import MAX_SAMPLE_VALUES, fit_for_verify
from senet_convert.verify.pt2_file import load_pt2

GLOBAL_POOL = """name: "wide"
{input}
layer {{ name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param {{ num_output: 4 kernel_size: 3 stride: 2 }} }}
layer {{ name: "relu" type: "ReLU" bottom: "conv" top: "conv" }}
layer {{ name: "pool" type: "Pooling" bottom: "conv" top: "pool" pooling_param {{ {pool} }} }}
layer {{ name: "fc" type: "InnerProduct" bottom: "pool" top: "fc" inner_product_param {{ num_output: 5 }} }}
layer {{ name: "prob" type: "Softmax" bottom: "fc" top: "prob" }}
"""
FORMS = {
    "input_shape": 'input: "data"\ninput_shape {{ dim: 1 dim: 3 dim: {h} dim: {w} }}',
    "input_dim": 'input: "data"\ninput_dim: 1 input_dim: 3 input_dim: {h} input_dim: {w}',
    "Input layer": 'layer {{ name: "data" type: "Input" top: "data" input_param {{ shape {{ dim: 1 dim: 3 dim: {h} dim: {w} }} }} }}',
}
GLOBAL, FIXED = "pool: AVE global_pooling: true", "pool: AVE kernel_size: 8 stride: 8"
# Measured (benchmarks/huge_input.py, 3 x 6000 x 6000): caffe2torch 3.2 GiB before, 0.7 after;
# verify 8.2 GiB before, under 1 after. The bound leaves room for torch's own imports.
RSS_LIMIT_MIB = 1400


def _net(folder, h, w, *, pool=GLOBAL, form="input_shape", name="wide"):
    proto = folder / f"{name}.prototxt"
    proto.write_text(GLOBAL_POOL.format(input=FORMS[form].format(h=h, w=w), pool=pool))
    rng = np.random.default_rng(0)
    write_net_weights(load_net(proto), folder / f"{name}.caffemodel", lambda n, t, i, s: rng.standard_normal(s).astype(np.float32))
    return proto, folder / f"{name}.caffemodel"


def _run_measured(*args) -> tuple[subprocess.CompletedProcess, float]:
    """The command in a child process: its result and its peak RSS in MiB (printed last)."""
    # VmHWM, the child's own high-water mark: ru_maxrss would also count the RSS the test process had
    # when it forked the child (Linux carries it over exec), gigabytes late in a full test run.
    code = ("import sys\nfrom senet_convert.cli import main\n"
            f"sys.argv = ['senet-convert', *{[str(a) for a in args]!r}]\n"
            "try:\n    main()\nfinally:\n"
            "    hwm = next(line for line in open('/proc/self/status') if line.startswith('VmHWM:'))\n"
            "    print('PEAK', hwm.split()[1], file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=REPO)
    peak = [line for line in result.stderr.splitlines() if line.startswith("PEAK ")]
    return result, int(peak[-1].split()[1]) / 1024


def _sample_bytes(pt2) -> list[int]:
    with zipfile.ZipFile(pt2) as archive:
        return [i.file_size for i in archive.infolist() if "sample_inputs" in i.filename]


linux_rss = pytest.mark.skipif(sys.platform != "linux", reason="the peak RSS is read from /proc/self/status (VmHWM)")


@linux_rss
def test_caffe2torch_on_a_huge_input_embeds_tiny_sample_inputs_and_stays_small(tmp_path):
    proto, model = _net(tmp_path, 6000, 6000)
    result, peak = _run_measured("caffe2torch", proto, model, "-o", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    samples = _sample_bytes(tmp_path / "out" / "wide.pt2")
    assert samples and sum(samples) < 64 * 1024, samples  # they were 864 MB
    assert (tmp_path / "out" / "wide.pt2").stat().st_size < 1 << 20
    assert peak < RSS_LIMIT_MIB, f"peak RSS {peak:.0f} MiB"


@pytest.mark.parametrize("pool", [GLOBAL, FIXED], ids=["global-pool", "flattened-map"])
def test_the_pt2_runs_at_the_declared_size_as_the_checkpoint_does(tmp_path, pool):
    # Exported from an expanded zero, the program still takes a real (contiguous) input of the declared size.
    proto, model = _net(tmp_path, 640, 480, pool=pool)
    assert cli("caffe2torch", proto, model, "-o", tmp_path).exit_code == 0
    assert sum(_sample_bytes(tmp_path / "wide.pt2")) < 64 * 1024
    program = load_pt2(tmp_path / "wide.pt2").module()
    x = torch.from_numpy(np.random.default_rng(1).uniform(-4, 4, (3, 3, 640, 480)).astype(np.float32))
    expected = load_checkpoint(tmp_path / "wide.pt")(x)
    assert torch.equal(program(x), expected)
    with pytest.raises(Exception):  # the declared spatial size is the program's, as before
        program(x[:, :, :320])


@linux_rss
def test_verify_makes_its_synthetic_input_small_when_no_weight_depends_on_the_size(tmp_path):
    proto, model = _net(tmp_path, 6000, 6000)
    result, peak = _run_measured("verify", proto, model, "--no-info")
    assert result.returncode == 0, result.stdout + result.stderr
    size = re.search(r"input data 3x6000x6000 verified at 3x(\d+)x(\d+)", result.stdout)
    assert size and 3 * int(size[1]) * int(size[2]) <= MAX_SAMPLE_VALUES, result.stdout
    assert peak < RSS_LIMIT_MIB, f"peak RSS {peak:.0f} MiB"


@pytest.mark.parametrize("form", sorted(FORMS))
def test_each_input_form_is_made_smaller(tmp_path, form):
    proto, model = _net(tmp_path, 1500, 1000, form=form)
    net = load_net(proto, model)
    small, note = fit_for_verify(net)
    (h, w) = small.inputs["data"][2:]
    assert 3 * h * w <= MAX_SAMPLE_VALUES and abs(h / w - 1.5) < 0.01, small.inputs
    assert note.startswith(f"input data 3x1500x1000 verified at 3x{h}x{w}")
    assert [layer.blobs for layer in small.layers if layer.blobs] and all(
        all(np.array_equal(a, b) for a, b in zip(s.blobs, n.blobs)) for s, n in zip(small.layers, net.layers))


def test_the_declared_size_is_kept_when_a_weight_depends_on_it(tmp_path):
    proto, model = _net(tmp_path, 2000, 2000, pool=FIXED)  # the classifier reads a 4 x 125 x 125 map
    net = load_net(proto, model)
    same, note = fit_for_verify(net)
    assert same is net and note is None


def test_the_declared_size_is_kept_when_a_file_fixes_it(tmp_path):
    proto, model = _net(tmp_path, 1500, 1000)
    net = load_net(proto, model)
    assert fit_for_verify(net, fixed=True) == (net, None)
    # through the command: a .pt2 given to check runs at its own (declared) size
    assert cli("caffe2torch", proto, model, "-o", tmp_path, "--no-pt2").exit_code == 0
    result = cli("verify", proto, model, "--no-info", "--save-input", tmp_path / "x.npy")
    assert result.exit_code in (0, 1) and "verified at" not in result.stdout
    assert np.load(tmp_path / "x.npy").shape == (2, 3, 1500, 1000)


def test_a_small_input_is_verified_at_its_own_size(tmp_path):
    proto, model = _net(tmp_path, 224, 224)
    net = load_net(proto, model)
    assert fit_for_verify(net) == (net, None)


def test_an_input_name_with_a_newline_still_gets_a_one_line_note(tmp_path):
    proto = tmp_path / "nl.prototxt"
    proto.write_text('name: "nl"\ninput: "da\\nta"\ninput_shape { dim: 1 dim: 3 dim: 1000 dim: 1000 }\n'
                     'layer { name: "pool" type: "Pooling" bottom: "da\\nta" top: "pool" pooling_param { pool: AVE global_pooling: true } }\n')
    small, note = fit_for_verify(load_net(proto))
    assert "\n" not in note and note.startswith("input 'da\\nta' 3x1000x1000 verified at 3x512x512"), note
