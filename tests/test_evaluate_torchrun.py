"""torchrun --nproc-per-node 2 --no-python senet-convert evaluate: two CPU processes (gloo) give exactly
one process's result, image for image, with an odd number of images and an unreadable one."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import evaluate_data as data

pytest.importorskip("PIL")


def _script(name: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed beside {sys.executable} (pip install -e . installs senet-convert; torch installs torchrun)")
    return found


def test_two_processes_equal_one(tmp_path):
    case = data.make_case(2, 23)
    prototxt, caffemodel = data.write_colour_net(tmp_path, case)
    paths = data.write_images(tmp_path / "images", case)
    (tmp_path / "images" / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"{p.name} {case.truth[i]}\n" for i, p in enumerate(paths)) + "broken.jpg 0\n")
    command = [_script("senet-convert"), "evaluate", str(prototxt), str(caffemodel), "--images", str(tmp_path / "images"),
               "--labels", str(labels), "--device", "cpu", "--workers", "1", "--batch", "4"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    one = subprocess.run([*command, "--json", str(tmp_path / "one.json")], env=env, capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr
    torchrun = [_script("torchrun"), "--standalone", "--nproc-per-node", "2", "--no-python"]
    two = subprocess.run([*torchrun, *command, "--json", str(tmp_path / "two.json")], env=env, capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("one", "two"))
    assert b["world_size"] == 2 and "gloo" in b["processes"] and a["world_size"] == 1
    assert a["images"] == b["images"] == 23 and a["skipped"] == b["skipped"] == [["broken.jpg", a["skipped"][0][1]]]
    for key in ("top1_correct", "top5_correct", "top1_error", "top5_error", "per_class", "predictions"):
        assert a[key] == b[key], key
    assert [p["rank"] for p in a["predictions"]] == [int(r) for r in data.ranks(case)]
    assert two.stdout.count("top-1 error") == 1  # only rank 0 reports
