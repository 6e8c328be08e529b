"""Shared test fixtures: where ../shared lives, and synthetic caffemodels for the official nets.

Tests that need ../shared (the real-Caffe goldens and the official prototxts) skip with a
reason when it is absent, and fail instead when CI=true: CI always has it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import shared_data
from shared_data import load_synthetic

REPO = Path(__file__).resolve().parents[1]
SHARED, GOLDENS, MODELS = shared_data.SHARED, shared_data.GOLDENS, shared_data.MODELS
FIXTURES = REPO / "fixtures"

OFFICIAL = ["SE-BN-Inception", "SE-ResNet-50", "SE-ResNet-101", "SE-ResNet-152", "SE-ResNeXt-50", "SE-ResNeXt-101", "SENet-154"]
GOLDEN_FULL = ["SE-ResNet-50", "SE-BN-Inception", "SE-ResNeXt-50"]


def need_shared(path: Path) -> Path:
    if not path.exists():
        message = f"{path} is absent: the real-Caffe goldens and official prototxts live in ../shared beside the repo"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: CI always has it, so this is an error)")
        pytest.skip(message)
    return path


def synthetic_module():
    """../shared/goldens/synthetic.py, the generator of the goldens' weights and inputs."""
    return load_synthetic(need_shared(GOLDENS / "synthetic.py"))


@pytest.fixture(scope="session")
def synthetic():
    return synthetic_module()


@pytest.fixture(scope="session")
def goldens_dir() -> Path:
    return need_shared(GOLDENS)


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return need_shared(MODELS)


def golden_json(model: str) -> dict:
    return json.loads(need_shared(GOLDENS / f"{model}.golden.json").read_text())


def synthetic_net(model: str, synthetic, *, batch: int | None = None):
    """The official prototxt with synthetic.py's weights filled in memory (no caffemodel round trip),
    in the shapes our own shape inference implies."""
    from senet_convert.loader import fill_weights, load_net

    return fill_weights(load_net(need_shared(MODELS / f"{model}.prototxt"), batch=batch), synthetic.synthetic_blob)


@pytest.fixture(scope="session")
def synthetic_caffemodel(tmp_path_factory, synthetic):
    """model name -> path of a caffemodel holding synthetic.py's weights for the official prototxt.

    For the golden models the blob shapes come from the golden JSON's param_shapes (what real
    Caffe allocated), so the file does not depend on our own shape inference.
    """
    from senet_convert.caffe import caffe_pb2
    from senet_convert.caffe.writer import write_caffemodel, write_net_weights
    from senet_convert.loader import load_net

    made: dict[str, Path] = {}

    def make(model: str) -> Path:
        if model in made:
            return made[model]
        out = tmp_path_factory.mktemp("caffemodels") / f"{model}.caffemodel"
        golden = GOLDENS / f"{model}.golden.json"
        if golden.exists():
            layers = json.loads(golden.read_text())["layers"]
            write_caffemodel(
                out,
                (
                    (
                        caffe_pb2.LayerParameter(name=l["name"], type=l["type"], bottom=l["bottoms"], top=l["tops"]),
                        [synthetic.synthetic_blob(l["name"], l["type"], i, s) for i, s in enumerate(l["param_shapes"])],
                    )
                    for l in layers
                ),
            )
        else:
            write_net_weights(load_net(need_shared(MODELS / f"{model}.prototxt")), out, synthetic.synthetic_blob)
        made[model] = out
        return out

    return make


@pytest.fixture(scope="session")
def timm():
    """timm, or a skip without it; under CI=true (which installs it) a missing timm fails."""
    try:
        import timm
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but timm is not installed: CI must install torch==2.14.1 torchvision==0.29.1 and timm (pip install -e '.[test,timm]')")
        pytest.skip("timm is not installed: these tests load the weights into timm (pip install timm torchvision)")
    return timm
