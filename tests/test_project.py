"""Project-level invariants: registries agree, the README's layer table is current, fixtures reproduce."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURES, REPO
from senet_convert import layer_table, reference, shapes, to_torch


def test_every_type_has_shape_rule_oracle_and_lowering():
    assert set(shapes.RULES) == set(reference.SUPPORTED_TYPES) == set(to_torch.SUPPORTED_TYPES)


@pytest.mark.parametrize("caffe_type", sorted(shapes.RULES))
def test_every_type_is_tested_on_both_halves(caffe_type):
    # test_more_layers.py, and a type's own test file (test_lrn.py), check both halves in each of their cases
    own = REPO / "tests" / f"test_{caffe_type.lower()}.py"
    for test_file in ("test_reference_layers.py", "test_to_torch_layers.py"):
        texts = [(REPO / "tests" / name).read_text() for name in (test_file, "test_more_layers.py")]
        texts += [own.read_text()] if own.exists() else []
        assert any(f'"{caffe_type}"' in text for text in texts), f"{test_file} never mentions {caffe_type}"


def test_readme_layer_table_is_generated():
    readme = (REPO / "README.md").read_text()
    assert layer_table.render(readme) == readme, "README's layer table is stale: python -m senet_convert.layer_table"


def test_fixtures_are_reproducible(tmp_path: Path):
    subprocess.run([sys.executable, str(FIXTURES / "generate.py"), str(tmp_path)], check=True)
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == sorted(p.name for p in FIXTURES.iterdir() if p.suffix in (".prototxt", ".caffemodel"))
    for name in made:
        assert (tmp_path / name).read_bytes() == (FIXTURES / name).read_bytes(), name
