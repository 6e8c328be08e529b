"""AbsVal, BNLL, Clip, ELU, Exp, Log, Power, PReLU, Swish, Threshold: Caffe's formulas worked by hand in
the oracle and the lowering, the lowering against the oracle, and what the loader refuses."""
from __future__ import annotations

import math

import numpy as np
from helpers import assert_both, family_tests, layer_net, loader_refusal_test, lowering_grid_test

from senet_convert.caffe.layers.neuron import ClipParams, ExpLogParams, PowerParams, PReLUParams

NAN = float("nan")
X = (2, 3, 5, 4)


def test_absval():
    assert_both("AbsVal", "", [[-2, 0, 3.5]], expected=[[2, 0, 3.5]])


def test_bnll_two_branches():
    # x + log(1 + e^-x) for x > 0, log(1 + e^x) otherwise: ln 2 at 0, ln 4 at ln 3, ln 4/3 at -ln 3
    assert_both("BNLL", "", [[0, math.log(3), -math.log(3), 60, -60]], expected=[[math.log(2), math.log(4), math.log(4 / 3), 60, math.exp(-60)]])


def test_clip_and_its_nan():
    # std::max(min, std::min(x, max)): NaN -> min
    assert_both("Clip", "clip_param { min: -1 max: 2 }", [[-3, 0.5, 5, NAN]], expected=[[-1, 0.5, 2, -1]])


def test_elu():
    assert_both("ELU", "elu_param { alpha: 2 }", [[-math.log(2), 0, 3]], expected=[[-1, 0, 3]])
    assert_both("ELU", "", [[-math.log(4)]], expected=[[-0.75]])


def test_exp():
    assert_both("Exp", "exp_param { base: 2 scale: 3 shift: 1 }", [[0, 1, -1]], expected=[[2, 16, 0.25]])
    assert_both("Exp", "", [[0, 1]], expected=[[1, math.e]])


def test_log():
    assert_both("Log", "log_param { base: 10 scale: 2 }", [[5, 50]], expected=[[1, 2]])
    assert_both("Log", "log_param { shift: 1 }", [[0, math.e - 1, -1]], expected=[[0, 1, -math.inf]])


def test_power_and_its_shortcut():
    assert_both("Power", "power_param { power: 2 scale: 3 shift: 1 }", [[0, 1, -1]], expected=[[1, 16, 4]])
    # power * scale == 0: Caffe never reads the input, NaN included
    assert_both("Power", "power_param { power: 0 scale: 3 }", [[NAN, 5]], expected=[[1, 1]])
    assert_both("Power", "power_param { power: 3 scale: 0 shift: 2 }", [[NAN, 5]], expected=[[8, 8]])
    assert_both("Power", "power_param { power: 0.5 }", [[4, -1]], expected=[[2, NAN]])


def test_prelu_per_channel_and_shared():
    x = [[[[-1, 2]], [[-4, 3]]]]  # 1 x 2 x 1 x 2
    assert_both("PReLU", "", x, blobs=[[0.5, 0.25]], expected=[[[[-0.5, 2]], [[-1, 3]]]])
    assert_both("PReLU", "prelu_param { channel_shared: true }", x, blobs=[np.float32(0.1)], expected=[[[[-0.1, 2]], [[-0.4, 3]]]])


def test_swish():
    # sigmoid(ln 3) = 3/4
    assert_both("Swish", "", [[0, math.log(3)]], expected=[[0, 0.75 * math.log(3)]])
    assert_both("Swish", "swish_param { beta: 2 }", [[math.log(3) / 2]], expected=[[0.375 * math.log(3)]])


def test_threshold():
    assert_both("Threshold", "threshold_param { threshold: 0.5 }", [[0.5, 0.6, -1, NAN]], expected=[[0, 1, 0, 0]])
    assert_both("Threshold", "", [[0, 1e-30, -1e-30]], expected=[[0, 1, 0]])


def test_parameters_read_with_caffes_defaults():
    def params(type_, text=""):
        return layer_net(type_, text, X).layers[0].setup.params

    assert params("Exp") == params("Log") == ExpLogParams(base=None, scale=1, shift=0)  # base -1: e
    assert params("Power") == PowerParams(power=1, scale=1, shift=0)
    assert params("ELU").value == params("Swish").value == 1 and params("Threshold").value == 0
    assert params("Clip", "clip_param { min: -0.5 max: 0.25 }") == ClipParams(low=-0.5, high=0.25)
    assert params("PReLU") == PReLUParams(channel_shared=False)


# ---- the lowering against the oracle (and the loader's shapes) ----

GRID = {
    # name: (type, bottom shapes, params, tops)
    "absval": ("AbsVal", [X], "", 1),
    "bnll": ("BNLL", [X], "", 1),
    "clip": ("Clip", [X], "clip_param { min: -0.5 max: 0.7 }", 1),
    "clip-min>max": ("Clip", [X], "clip_param { min: 1 max: -1 }", 1),
    "elu": ("ELU", [X], "", 1),
    "elu-alpha": ("ELU", [X], "elu_param { alpha: 0.3 }", 1),
    "exp": ("Exp", [X], "", 1),
    "exp-base-scale-shift": ("Exp", [X], "exp_param { base: 3 scale: 0.5 shift: -1 }", 1),
    "log": ("Log", [X], "log_param { shift: 5 }", 1),
    "log-base2-negative": ("Log", [X], "log_param { base: 2 scale: -1 shift: 0.5 }", 1),
    "power-square": ("Power", [X], "power_param { power: 2 scale: 0.5 shift: 1 }", 1),
    "power-sqrt": ("Power", [X], "power_param { power: 0.5 shift: 3 }", 1),
    "power-constant": ("Power", [X], "power_param { power: 2 scale: 0 shift: 3 }", 1),
    "power-identity": ("Power", [X], "", 1),
    "prelu": ("PReLU", [X], "", 1),
    "prelu-shared": ("PReLU", [X], "prelu_param { channel_shared: true }", 1),
    "prelu-nc": ("PReLU", [(4, 3)], "", 1),
    "swish": ("Swish", [X], "", 1),
    "swish-beta": ("Swish", [X], "swish_param { beta: 1.7 }", 1),
    "threshold": ("Threshold", [X], "threshold_param { threshold: 0.2 }", 1),
}

test_neuron_vs_oracle = lowering_grid_test(GRID)


# ---- what the loader refuses (one line, naming the layer) ----

REFUSALS = {
    # name: (type, bottom shapes, params, tops, message)
    "clip-min-only": ("Clip", [X], "clip_param { min: 0 }", 1, "needs both min and max"),
    "exp-base": ("Exp", [X], "exp_param { base: -2 }", 1, "base -2 must be positive"),
    "exp-base-nan": ("Exp", [X], "exp_param { base: nan }", 1, "base nan must be positive"),
    "log-base-1": ("Log", [X], "log_param { base: 1 }", 1, "base 1 must be positive and not 1"),
    "prelu-1d": ("PReLU", [(5,)], "", 1, "needs a channel axis"),
    "exp-base-inf": ("Exp", [X], "exp_param { base: inf }", 1, "base inf must be finite"),
    "log-base-inf": ("Log", [X], "log_param { base: inf }", 1, "base inf must be finite"),
}

test_loader_refuses = loader_refusal_test(REFUSALS)


# ---- every type of the family: the kernel contract ----

FAMILY = "neuron"
# One small case per registered type: (params, input shapes, blob shapes, number of tops)
CASES = {
    "AbsVal": ("", [X], [], 1),
    "BNLL": ("", [X], [], 1),
    "Clip": ("clip_param { min: -0.5 max: 0.5 }", [X], [], 1),
    "ELU": ("", [X], [], 1),
    "Exp": ("exp_param { scale: 0.5 }", [X], [], 1),
    "Log": ("log_param { shift: 10 }", [X], [], 1),
    "PReLU": ("", [X], [(3,)], 1),
    "Power": ("power_param { power: 2 shift: 1 }", [X], [], 1),
    "Swish": ("", [X], [], 1),
    "Threshold": ("", [X], [], 1),
}

test_every_type_of_the_family_has_a_case, test_kernel_keeps_dtype_and_inputs = family_tests(FAMILY, CASES)
