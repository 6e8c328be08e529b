"""An interrupted job (Ctrl-C, SIGTERM, SIGHUP) leaves neither a staging folder nor a temporary file,
and says so in one line; a job killed by SIGKILL cannot clean up, and the next job writing to that
folder sweeps what it left, never a folder of a job that still runs.

Each job runs the real command in a child process whose writer, once its file is complete, waits:
the signal then comes from outside while the staging folder holds finished files.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import FIXTURES, REPO
from helpers import cli

from senet_convert.files import _host

PROTO, MODEL = FIXTURES / "tiny-senet.prototxt", FIXTURES / "tiny-senet.caffemodel"
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

# The writer to hold, as module:attribute, and the command that reaches it.
HOLD = {
    "caffe2torch": ("senet_convert.export.checkpoint", "save_pt2", ["caffe2torch", str(PROTO), str(MODEL), "-o", "{out}"]),
    "caffe2onnx": ("senet_convert.export.onnx", "write_inline", ["caffe2onnx", str(PROTO), str(MODEL), "-o", "{out}/tiny-senet.onnx"]),
    "caffe2onnx-external": ("senet_convert.export.onnx", "write_external_data",
                            ["caffe2onnx", str(PROTO), str(MODEL), "-o", "{out}/tiny-senet.onnx", "--external-data"]),
}
CHILD = """
import importlib, sys, time
from pathlib import Path
module, attribute, marker, args = sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4:]
target = importlib.import_module(module)
written = getattr(target, attribute)
def held(*a, **k):
    result = written(*a, **k)
    marker.write_text("written")
    time.sleep(120)
    return result
setattr(target, attribute, held)
from senet_convert.cli import main
sys.argv = ["senet-convert", *args]
main()
"""


def _start_held(job: str, out, marker):
    module, attribute, args = HOLD[job]
    argv = [a.format(out=out) for a in args]
    child = subprocess.Popen([sys.executable, "-c", CHILD, module, attribute, str(marker), *argv], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert child.poll() is None and marker.exists(), child.communicate()
    return child


def _hidden(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) if folder.exists() else []


@pytest.mark.parametrize(("job", "sig"), [
    ("caffe2torch", signal.SIGINT), ("caffe2torch", signal.SIGTERM), ("caffe2torch", signal.SIGHUP),
    ("caffe2onnx", signal.SIGTERM), ("caffe2onnx-external", signal.SIGTERM),
], ids=lambda v: v if isinstance(v, str) else signal.Signals(v).name)
def test_an_interrupted_job_leaves_nothing_behind(tmp_path, job, sig):
    out = tmp_path / "out"
    out.mkdir()
    child = _start_held(job, out, tmp_path / "marker")
    assert _hidden(out), "the job was held before it staged anything"
    child.send_signal(sig)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 128 + sig, (child.returncode, err)
    assert os.listdir(out) == [], os.listdir(out)
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == [f"senet-convert: interrupted ({signal.Signals(sig).name})" if sig != signal.SIGINT else "senet-convert: interrupted"], err


LATER = {"caffe2torch": (["caffe2torch", str(PROTO), str(MODEL), "-o", "{out}", "--no-pt2"], "tiny-senet.pt"),
         "caffe2onnx": (["caffe2onnx", str(PROTO), str(MODEL), "-o", "{out}/tiny-senet.onnx"], "tiny-senet.onnx")}


@pytest.mark.parametrize("job", sorted(LATER))
def test_a_later_job_sweeps_what_sigkill_left_and_nothing_of_running_jobs(tmp_path, job):
    out = tmp_path / "out"
    out.mkdir()
    child = _start_held(job, out, tmp_path / "marker")
    child.kill()
    child.communicate(timeout=60)
    left = [name for name in _hidden(out) if name.startswith(".senet-convert.")]
    # SIGKILL cannot be cleaned up after: the staging folder (or atomic_path's temporary file) stays
    assert len(left) == 1 and f".senet-convert.{child.pid}@" in left[0], left
    assert os.listdir(out / left[0]) if (out / left[0]).is_dir() else (out / left[0]).stat().st_size > 0
    host = _host()
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as running:
        kept = [f".senet-convert.{running.pid}@{host}.abc.tmp",  # a job that still runs
                f".senet-convert.{running.pid}@{host}.tiny-senet.xyz.tmp.onnx",  # its temporary file
                f".senet-convert.{os.getpid()}@{host}.def.tmp",  # this very process
                f".senet-convert.{child.pid}@another-host.ghi.tmp"]  # a job on another machine sharing the folder
        for name in kept:
            (out / name).mkdir()
        args, written = LATER[job]
        result = cli(*[a.format(out=out) for a in args])
        running.kill()
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(out)) == sorted([*kept, written])
