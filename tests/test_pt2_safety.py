"""verify --pt2 never runs code from the file: torch.export.load would unpickle crafted parts of a
.pt2 with weights_only=False (the sample inputs, a weight marked use_pickle); such files are refused."""
from __future__ import annotations

import io
import json
import pathlib
import zipfile

import pytest
import torch
from click.testing import CliRunner

from conftest import FIXTURES
from senet_convert.cli import main
from test_bad_input import assert_one_line_error

PROTO, MODEL = FIXTURES / "tiny-senet.prototxt", FIXTURES / "tiny-senet.caffemodel"


class _Marker:
    """Unpickling this creates the marker file: proof that code from the file ran."""

    def __init__(self, path: pathlib.Path):
        self.path = path

    def __reduce__(self):
        return (pathlib.Path.touch, (self.path,))


def _payload(marker: pathlib.Path) -> bytes:
    buffer = io.BytesIO()
    torch.save(_Marker(marker), buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def good_pt2(tmp_path_factory):
    out = tmp_path_factory.mktemp("pt2")
    result = CliRunner().invoke(main, ["caffe2torch", str(PROTO), str(MODEL), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out / "tiny-senet.pt2"


def _rewrite(src: pathlib.Path, dst: pathlib.Path, change) -> pathlib.Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, change(info.filename, zin.read(info.filename)))
    return dst


def _pickled_sample_inputs(good, tmp_path, marker):
    return _rewrite(good, tmp_path / "inputs.pt2", lambda n, d: _payload(marker) if "sample_inputs/" in n else d)


def _pickled_weight(good, tmp_path, marker):
    def change(name, data):
        if name.endswith("_weights_config.json"):
            config = json.loads(data)
            config["config"][next(iter(config["config"]))]["use_pickle"] = True
            return json.dumps(config).encode()
        return _payload(marker) if name.endswith("data/weights/weight_0") else data

    return _rewrite(good, tmp_path / "weight.pt2", change)


def test_plain_torch_would_run_the_payload(good_pt2, tmp_path):
    # The threat is real: without the checks, torch.export.load runs the crafted sample inputs.
    marker = tmp_path / "ran"
    try:
        torch.export.load(str(_pickled_sample_inputs(good_pt2, tmp_path, marker)))
    except Exception:
        pass
    assert marker.exists()


@pytest.mark.parametrize("craft", [_pickled_sample_inputs, _pickled_weight], ids=["sample-inputs", "use-pickle-weight"])
def test_verify_refuses_a_pt2_that_needs_pickle_and_runs_nothing(good_pt2, tmp_path, craft):
    marker = tmp_path / "ran"
    evil = craft(good_pt2, tmp_path, marker)
    result = CliRunner().invoke(main, ["verify", str(PROTO), str(MODEL), "--pt2", str(evil), "--no-info"])
    assert_one_line_error(result, str(evil), "refused")
    assert not marker.exists()


def test_the_load_itself_unpickles_nothing_even_past_the_archive_check(good_pt2, tmp_path, monkeypatch):
    from senet_convert.verify import pt2_file

    monkeypatch.setattr(pt2_file, "_check_members", lambda *args: None)
    marker = tmp_path / "ran"
    evil = _pickled_sample_inputs(good_pt2, tmp_path, marker)
    result = CliRunner().invoke(main, ["verify", str(PROTO), str(MODEL), "--pt2", str(evil), "--no-info"])
    assert result.exit_code == 2 and not marker.exists(), result.output


def test_a_good_pt2_still_verifies(good_pt2):
    result = CliRunner().invoke(main, ["verify", str(PROTO), str(MODEL), "--pt2", str(good_pt2), "--no-info"])
    assert result.exit_code == 0 and "pt2 cpu" in result.stdout, result.output


@pytest.mark.parametrize("content", [b"", b"not a zip", b"PK\x05\x06" + b"\0" * 18], ids=["empty", "text", "empty-zip"])
def test_a_foreign_file_as_pt2_is_one_line(tmp_path, content):
    path = tmp_path / "x.pt2"
    path.write_bytes(content)
    assert_one_line_error(CliRunner().invoke(main, ["verify", str(PROTO), str(MODEL), "--pt2", str(path)]), str(path))
