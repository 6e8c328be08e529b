"""Where the shared data lives, for the tests, the benchmarks and the scripts of a checkout.

../shared beside the checkout holds the real-Caffe goldens and the official prototxts (never copied
into the project); SENET_SHARED points elsewhere (a GPU machine gets a copy inside the checkout).
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

REPO = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("SENET_SHARED", REPO.parent / "shared"))
GOLDENS = SHARED / "goldens"
MODELS = SHARED / "senet" / "models"


def load_synthetic(path: Path = GOLDENS / "synthetic.py"):
    """The goldens' weight and input generator (synthetic.py) as a module."""
    spec = importlib.util.spec_from_file_location("senet_synthetic", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
