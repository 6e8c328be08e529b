"""Outputs replace nothing but a regular file or a symlink to one: not a device, a pipe, a socket or a
directory, whichever command writes them (one file, a staged set, a report). --name never points
outside the output folder and the paths printed are the paths written."""
from __future__ import annotations

import os
import socket
import stat

import pytest
from conftest import FIXTURES
from helpers import assert_one_line_error, cli

from senet_convert.errors import ConvertError
from senet_convert.files import atomic_path, staged_outputs

PROTO, MODEL = FIXTURES / "tiny-senet.prototxt", FIXTURES / "tiny-senet.caffemodel"
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
as_root = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="making a device node needs root")


def _listing(folder):
    return sorted(p.name for p in folder.iterdir())


def _null_device(path):
    """A character device with /dev/null's numbers, made in a temporary folder: what `-o /dev/null`
    meets, without touching the machine's own /dev/null if the refusal ever breaks."""
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    return path


@as_root
def test_caffe2onnx_onto_a_device_leaves_the_device(tmp_path):
    device = _null_device(tmp_path / "null")
    result = cli("caffe2onnx", PROTO, MODEL, "-o", device)
    assert_one_line_error(result, str(device), "a device", "refusing to replace it")
    assert stat.S_ISCHR(os.lstat(device).st_mode) and _listing(tmp_path) == ["null"]


@as_root
def test_caffe2torch_onto_a_device_moves_nothing(tmp_path):
    _null_device(tmp_path / "tiny-senet.pt2")
    assert_one_line_error(cli("caffe2torch", PROTO, MODEL, "-o", tmp_path), "tiny-senet.pt2", "a device")
    assert stat.S_ISCHR(os.lstat(tmp_path / "tiny-senet.pt2").st_mode) and _listing(tmp_path) == ["tiny-senet.pt2"]


@needs_fifo
def test_caffe2onnx_onto_a_pipe_is_refused(tmp_path):
    fifo = tmp_path / "net.onnx"
    os.mkfifo(fifo)
    assert_one_line_error(cli("caffe2onnx", PROTO, MODEL, "-o", fifo), str(fifo), "a pipe")
    assert fifo.is_fifo() and _listing(tmp_path) == ["net.onnx"]


@needs_fifo
def test_caffe2onnx_external_data_onto_a_pipe_moves_nothing(tmp_path):
    os.mkfifo(tmp_path / "net.onnx.data")
    result = cli("caffe2onnx", PROTO, MODEL, "-o", tmp_path / "net.onnx", "--external-data")
    assert_one_line_error(result, "net.onnx.data", "a pipe")
    assert (tmp_path / "net.onnx.data").is_fifo() and _listing(tmp_path) == ["net.onnx.data"]


@needs_fifo
@pytest.mark.parametrize("target", ["tiny-senet.pt", "tiny-senet.pt2", "tiny-senet.onnx"])
def test_caffe2torch_refuses_a_pipe_at_any_of_its_files(tmp_path, target):
    os.mkfifo(tmp_path / target)
    assert_one_line_error(cli("caffe2torch", PROTO, MODEL, "-o", tmp_path, "--onnx"), target, "a pipe")
    assert _listing(tmp_path) == [target]


def test_caffe2torch_refuses_a_socket(tmp_path):
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "tiny-senet.pt"))
        assert_one_line_error(cli("caffe2torch", PROTO, MODEL, "-o", tmp_path, "--no-pt2"), "tiny-senet.pt", "a socket")
    assert _listing(tmp_path) == ["tiny-senet.pt"]


def test_caffe2torch_refuses_a_directory_in_place_of_a_file(tmp_path):
    (tmp_path / "tiny-senet.pt").mkdir()
    assert_one_line_error(cli("caffe2torch", PROTO, MODEL, "-o", tmp_path, "--no-pt2"), "tiny-senet.pt", "a directory")
    assert (tmp_path / "tiny-senet.pt").is_dir() and _listing(tmp_path) == ["tiny-senet.pt"]


@needs_fifo
def test_verify_json_onto_a_pipe_is_refused(tmp_path):
    os.mkfifo(tmp_path / "report.json")
    result = cli("verify", PROTO, MODEL, "--no-info", "--onnx-outputs-only", "--json", tmp_path / "report.json")
    assert_one_line_error(result, "report.json", "a pipe")
    assert (tmp_path / "report.json").is_fifo()


@needs_fifo
def test_a_symlink_to_a_pipe_is_refused_and_kept(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "net.onnx").symlink_to(tmp_path / "fifo")
    assert_one_line_error(cli("caffe2onnx", PROTO, MODEL, "-o", tmp_path / "net.onnx"), "net.onnx", "a pipe")
    assert (tmp_path / "net.onnx").is_symlink() and (tmp_path / "fifo").is_fifo()


def test_a_symlink_to_a_file_is_replaced_and_its_target_kept(tmp_path):
    (tmp_path / "old.json").write_text("old")
    (tmp_path / "x.json").symlink_to(tmp_path / "old.json")
    with atomic_path(tmp_path / "x.json") as tmp:
        tmp.write_text("new")
    assert not (tmp_path / "x.json").is_symlink() and (tmp_path / "x.json").read_text() == "new"
    assert (tmp_path / "old.json").read_text() == "old"


def test_a_dangling_symlink_is_replaced(tmp_path):
    (tmp_path / "x.json").symlink_to(tmp_path / "gone")
    with atomic_path(tmp_path / "x.json") as tmp:
        tmp.write_text("new")
    assert (tmp_path / "x.json").read_text() == "new"


@needs_fifo
def test_atomic_path_checks_again_before_the_rename(tmp_path):
    # A pipe made there while the file was being written is not replaced either.
    with pytest.raises(ConvertError, match="a pipe"):
        with atomic_path(tmp_path / "x.json") as tmp:
            tmp.write_text("{}")
            os.mkfifo(tmp_path / "x.json")
    assert (tmp_path / "x.json").is_fifo() and _listing(tmp_path) == ["x.json"]


@needs_fifo
def test_staged_outputs_move_nothing_when_one_target_may_not_be_replaced(tmp_path):
    (tmp_path / "a.onnx.data").write_text("earlier")
    with pytest.raises(ConvertError, match="b.onnx: exists and is a pipe"):
        with staged_outputs(tmp_path, ["a.onnx.data", "b.onnx"]) as staging:
            (staging / "a.onnx.data").write_text("new")
            (staging / "b.onnx").write_text("new")
            os.mkfifo(tmp_path / "b.onnx")  # appears during the job
    assert (tmp_path / "a.onnx.data").read_text() == "earlier" and _listing(tmp_path) == ["a.onnx.data", "b.onnx"]


def test_a_staged_folder_still_replaces_an_earlier_folder(tmp_path):
    (tmp_path / "NET").mkdir()
    (tmp_path / "NET" / "config.json").write_text("old")
    with staged_outputs(tmp_path, ["NET"]) as staging:
        (staging / "NET").mkdir()
        (staging / "NET" / "config.json").write_text("new")
    assert (tmp_path / "NET" / "config.json").read_text() == "new" and _listing(tmp_path) == ["NET"]


def test_name_with_a_path_writes_and_prints_the_files_in_the_folder(tmp_path):
    out = tmp_path / "a" / "out"
    result = cli("caffe2torch", PROTO, MODEL, "-o", out, "--name", "../../x", "--onnx")
    assert result.exit_code == 0, result.output
    assert _listing(out) == ["x.onnx", "x.pt", "x.pt2"] and _listing(tmp_path) == ["a"]
    printed = result.stdout.strip().rpartition("wrote ")[2].split(", ")
    assert printed == [str(out / "x.pt"), str(out / "x.pt2"), str(out / "x.onnx")]
    assert all(os.path.isfile(p) for p in printed)


@pytest.mark.parametrize("name", ["..", "a/.."])
def test_name_that_is_no_file_name_is_refused(tmp_path, name):
    assert_one_line_error(cli("caffe2torch", PROTO, MODEL, "-o", tmp_path, "--name", name), "--name", "not a file name")
    assert _listing(tmp_path) == []


@pytest.mark.parametrize("external", [False, True], ids=["inline", "external-data"])
def test_caffe2onnx_prints_the_paths_it_wrote(tmp_path, external):
    result = cli("caffe2onnx", PROTO, MODEL, "-o", tmp_path, *(["--external-data"] if external else []))
    assert result.exit_code == 0, result.output
    printed = result.stdout.strip().rpartition("wrote ")[2].split(", ")
    expected = [tmp_path / "tiny-senet.onnx", *([tmp_path / "tiny-senet.onnx.data"] if external else [])]
    assert printed == [str(p) for p in expected] and all(p.is_file() for p in expected)
    assert _listing(tmp_path) == sorted(p.name for p in expected)
