"""Project-level invariants: the README's layer table is current, fixtures reproduce."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import FIXTURES, REPO

from senet_convert import layer_table


def test_readme_layer_table_is_generated():
    readme = (REPO / "README.md").read_text()
    assert layer_table.render(readme) == readme, "README's layer table is stale: python -m senet_convert.layer_table"


def test_fixtures_are_reproducible(tmp_path: Path):
    subprocess.run([sys.executable, str(FIXTURES / "generate.py"), str(tmp_path)], check=True)
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == sorted(p.name for p in FIXTURES.iterdir() if p.suffix in (".prototxt", ".caffemodel"))
    for name in made:
        assert (tmp_path / name).read_bytes() == (FIXTURES / name).read_bytes(), name
