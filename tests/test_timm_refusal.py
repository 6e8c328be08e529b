"""--to timm on a net without SE blocks: the refusal says what the net has and which nets fit."""
from __future__ import annotations

import pytest

from conftest import FIXTURES
from senet_convert.errors import ConvertError
from senet_convert.loader import load_net
from senet_convert.to_timm import timm_model_name


def test_a_plain_net_is_told_what_it_has_and_what_fits():
    with pytest.raises(ConvertError) as info:
        timm_model_name(load_net(FIXTURES / "tiny-plain-v2.prototxt"))
    message = str(info.value)
    assert message.startswith("net 'Tiny-Plain' has no SE blocks (no Axpy layer) (its layers: 3 Convolution, 2 Pooling")
    assert "legacy_seresnet50/101/152" in message and "legacy_senet154" in message and "without --to timm" in message
    assert "SE-BN-Inception" not in message
