"""Writing outputs: a full disk or a failure halfway gives one line, exit status 2, and no files."""
from __future__ import annotations

import collections
import errno
import os
import resource
import subprocess
import sys

import pytest
import torch
from conftest import FIXTURES, REPO, synthetic_net
from helpers import cli

from senet_convert import files
from senet_convert.errors import ConvertError
from senet_convert.export.checkpoint import PT2_OVERHEAD_BYTES, save_pt2
from senet_convert.to_torch import module_for

PROTO = FIXTURES / "tiny-senet.prototxt"
MODEL = FIXTURES / "tiny-senet.caffemodel"


def _one_line_error(result_or_stderr, *needles):
    stderr = result_or_stderr if isinstance(result_or_stderr, str) else result_or_stderr.stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def _limit_file_size(limit):
    def apply():
        # Writes past the limit then fail with EFBIG, as they fail with ENOSPC on a full disk:
        # a real failed write(2), seen by the same code. Python ignores SIGXFSZ, which would kill.
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_a_failed_write_is_one_line_and_leaves_no_file(tmp_path):
    out = tmp_path / "out"
    cli = [sys.executable, "-c", "from senet_convert.cli import main; main()", "caffe2torch", str(PROTO), str(MODEL), "-o", str(out), "--no-pt2"]
    done = subprocess.run(cli, capture_output=True, text=True, cwd=REPO, preexec_fn=_limit_file_size(4096), timeout=300)
    assert done.returncode == 2, done.stderr
    _one_line_error(done.stderr, f"{out / 'tiny-senet.pt'}: cannot write", os.strerror(errno.EFBIG))
    assert list(out.iterdir()) == []


def test_a_failure_at_a_later_file_leaves_none_of_the_earlier_ones(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "tiny-senet.pt").write_bytes(b"an earlier conversion")

    def disk_full(module, net, path):
        path.write_bytes(b"half a file")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("senet_convert.export.checkpoint.save_safetensors", disk_full)
    result = cli("caffe2torch", str(PROTO), str(MODEL), "-o", str(out), "--no-pt2", "--safetensors")
    assert result.exit_code == 2, result.output
    _one_line_error(result, str(out), os.strerror(errno.ENOSPC))
    # The new .pt was complete, but the job failed: the earlier file stays as it was, and nothing else is there.
    assert sorted(p.name for p in out.iterdir()) == ["tiny-senet.pt"]
    assert (out / "tiny-senet.pt").read_bytes() == b"an earlier conversion"


def test_a_later_file_failing_inside_its_own_writer_names_the_final_path(tmp_path, monkeypatch):
    out = tmp_path / "out"
    real_write_torch = files.write_torch

    def fails(obj, tmp):
        real_write_torch(obj, tmp)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("senet_convert.export.checkpoint.write_torch", fails)
    result = cli("caffe2torch", str(PROTO), str(MODEL), "-o", str(out), "--no-pt2")
    assert result.exit_code == 2, result.output
    line = _one_line_error(result, f"{out / 'tiny-senet.pt'}: cannot write", os.strerror(errno.ENOSPC))
    assert ".tmp" not in line
    assert list(out.iterdir()) == []


def test_pt2_refuses_up_front_when_the_disk_is_too_small(tmp_path, monkeypatch):
    # torch.export.save cannot fail cleanly (its zip writer aborts the process), so the space is checked first.
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(files.shutil, "disk_usage", lambda path: usage(2**30, 2**30 - 2**20, 2**20))
    out = tmp_path / "out"
    result = cli("caffe2torch", str(PROTO), str(MODEL), "-o", str(out))
    assert result.exit_code == 2, result.output
    _one_line_error(result, f"{out / 'tiny-senet.pt2'}: cannot write", "its disk has 1 MiB free")
    assert list(out.iterdir()) == []


def test_an_unwritable_folder_is_one_line(tmp_path):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder would go")
    with pytest.raises(ConvertError, match="blocked/sub: cannot write"):
        with files.staged_outputs(blocked / "sub", ["x"]):
            pass


def test_staged_files_arrive_in_the_order_named(tmp_path):
    arrived = []
    real_replace = os.replace
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(files.os, "replace", lambda a, b: (arrived.append(os.path.basename(b)), real_replace(a, b)))
        with files.staged_outputs(tmp_path, ["m.onnx", "m.pt"]) as staging:
            for name in ["m.pt", "m.onnx", "m.onnx.data"]:
                (staging / name).write_text(name)
    # What no one names (external data) first; then the named files in the order given.
    assert arrived == ["m.onnx.data", "m.onnx", "m.pt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.onnx.data", "m.pt"]


def test_pt2_overhead_allowance_covers_a_real_program(synthetic, tmp_path):
    # The up-front check asks for the weights plus PT2_OVERHEAD_BYTES; a real program must fit in it.
    net = synthetic_net("SE-ResNet-50", synthetic, batch=1)
    module = module_for(net, None)
    weights = sum(t.numel() * t.element_size() for t in module.state_dict().values())
    save_pt2(module, net, tmp_path / "m.pt2")
    beyond = os.path.getsize(tmp_path / "m.pt2") - weights
    assert 0 < beyond < PT2_OVERHEAD_BYTES / 4, beyond
    torch.export.load(tmp_path / "m.pt2")


def test_a_move_failing_halfway_takes_back_what_arrived(tmp_path):
    real_replace = os.replace

    def second_move_fails(a, b):
        if os.path.basename(b) == "m.onnx":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_replace(a, b)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(files.os, "replace", second_move_fails)
        with pytest.raises(ConvertError, match=f"{tmp_path}: cannot write: {os.strerror(errno.ENOSPC)}"):
            with files.staged_outputs(tmp_path, ["m.onnx.data", "m.onnx"]) as staging:
                for name in ["m.onnx", "m.onnx.data"]:
                    (staging / name).write_text(name)
    # The data had arrived before its .onnx failed: it is removed, with the staging folder.
    assert list(tmp_path.iterdir()) == []
