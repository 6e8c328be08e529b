"""SE-BN-Inception (hujie-frank/SENet) as a timm model, `se_bn_inception`, laid out like timm's senet.py.

The Caffe net: BN-Inception (Inception v2) with an SE gate on every inception block's output.
  stem        conv1 7x7/2 (64), MAX 3x3/2, conv2_reduce 1x1 (64), conv2 3x3 (192), MAX 3x3/2
  block A     concat(1x1, 3x3_reduce -> 3x3, double3x3_reduce -> 3x3 -> 3x3, pool 3x3/1 -> pool_proj)
  block B     concat(3x3_reduce -> 3x3/2, double3x3_reduce -> 3x3 -> 3x3/2, MAX 3x3/2): 3c and 4e
  SE gate     x * sigmoid(fc2(relu(fc1(mean over H, W of x)))) on the concat (Caffe: a global AVE
              Pooling, two 1x1 Convolutions, Sigmoid, Reshape and a two-bottom Scale with axis 0)
  head        AVE 7x7 (timm: the global average), InnerProduct
Every convolution is Convolution (no bias) -> BatchNorm -> Scale -> ReLU, here Conv2d -> BatchNorm2d
-> ReLU. Caffe's quirks that matter: its pooling rounds up (ceil_mode=True); the 3x3/1 pad-1 AVE pool
of the A blocks counts the padding (count_include_pad=True, and no window overhangs at stride 1);
inception_5b's pool is MAX, the other A blocks' are AVE.

The widths default to the official net's; `widths` takes another table of the same shape (the
converter writes it into config.json's model_args for a net with other widths, e.g. a reduced one).
Stage strides for features_only: conv1 2, conv2 4, inception_3b 8, inception_4d 16, inception_5b 32.
The model needs timm (its classifier, builder and registry), imported only when one is built, so that
the width table above can be read without it; importing senet_convert registers the model with timm's
registry once timm is imported.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["SEBNInception"]

MODEL_NAME = "se_bn_inception"
# Block A: 1x1, 3x3_reduce, 3x3, double3x3_reduce, double3x3 (a and b), pool_proj, SE squeeze width;
# then the pool ("avg" or "max"). Block B: 3x3_reduce, 3x3, double3x3_reduce, double3x3, SE width.
OFFICIAL_WIDTHS = {
    "stem": [64, 64, 192],
    "inception_3a": [64, 64, 64, 64, 96, 32, 16, "avg"],
    "inception_3b": [64, 64, 96, 64, 96, 64, 20, "avg"],
    "inception_3c": [128, 160, 64, 96, 36],
    "inception_4a": [224, 64, 96, 96, 128, 128, 36, "avg"],
    "inception_4b": [192, 96, 128, 96, 128, 128, 36, "avg"],
    "inception_4c": [160, 128, 160, 128, 160, 128, 38, "avg"],
    "inception_4d": [96, 128, 192, 160, 192, 128, 38, "avg"],
    "inception_4e": [128, 192, 192, 256, 66],
    "inception_5a": [352, 192, 320, 160, 224, 128, 64, "avg"],
    "inception_5b": [352, 192, 320, 192, 224, 128, 64, "max"],
}
REDUCING = ("inception_3c", "inception_4e")  # the B blocks: stride 2, no 1x1 branch
FEATURE_MODULES = {"conv1": 2, "conv2": 4, "inception_3b": 8, "inception_4d": 16, "inception_5b": 32}


class ConvBnAct(nn.Module):
    """Caffe's Convolution (no bias) + BatchNorm + Scale + ReLU."""

    def __init__(self, in_chs: int, out_chs: int, kernel_size: int, stride: int = 1, padding: int = 0):
        super().__init__()
        self.conv = nn.Conv2d(in_chs, out_chs, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_chs)  # Caffe's eps default, 1e-5, is torch's too
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class SEModule(nn.Module):
    def __init__(self, channels: int, squeeze: int):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeeze, kernel_size=1)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(squeeze, channels, kernel_size=1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        gate = self.sigmoid(self.fc2(self.relu(self.fc1(x.mean((2, 3), keepdim=True)))))
        return x * gate


class InceptionA(nn.Module):
    def __init__(self, in_chs: int, c1x1, c3r, c3, cdr, cd, cproj, squeeze, pool: str):
        super().__init__()
        self.conv1x1 = ConvBnAct(in_chs, c1x1, 1)
        self.conv3x3_reduce = ConvBnAct(in_chs, c3r, 1)
        self.conv3x3 = ConvBnAct(c3r, c3, 3, padding=1)
        self.double3x3_reduce = ConvBnAct(in_chs, cdr, 1)
        self.double3x3a = ConvBnAct(cdr, cd, 3, padding=1)
        self.double3x3b = ConvBnAct(cd, cd, 3, padding=1)
        if pool == "avg":  # Caffe divides by the window including its padding
            self.pool = nn.AvgPool2d(3, stride=1, padding=1, ceil_mode=True, count_include_pad=True)
        else:
            self.pool = nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True)
        self.pool_proj = ConvBnAct(in_chs, cproj, 1)
        self.out_chs = c1x1 + c3 + cd + cproj
        self.se = SEModule(self.out_chs, squeeze)

    def forward(self, x):
        branches = [
            self.conv1x1(x),
            self.conv3x3(self.conv3x3_reduce(x)),
            self.double3x3b(self.double3x3a(self.double3x3_reduce(x))),
            self.pool_proj(self.pool(x)),
        ]
        return self.se(torch.cat(branches, 1))


class InceptionB(nn.Module):
    def __init__(self, in_chs: int, c3r, c3, cdr, cd, squeeze):
        super().__init__()
        self.conv3x3_reduce = ConvBnAct(in_chs, c3r, 1)
        self.conv3x3 = ConvBnAct(c3r, c3, 3, stride=2, padding=1)
        self.double3x3_reduce = ConvBnAct(in_chs, cdr, 1)
        self.double3x3a = ConvBnAct(cdr, cd, 3, padding=1)
        self.double3x3b = ConvBnAct(cd, cd, 3, stride=2, padding=1)
        self.pool = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # ceil: the branches line up at 14 and 7
        self.out_chs = c3 + cd + in_chs
        self.se = SEModule(self.out_chs, squeeze)

    def forward(self, x):
        branches = [
            self.conv3x3(self.conv3x3_reduce(x)),
            self.double3x3b(self.double3x3a(self.double3x3_reduce(x))),
            self.pool(x),
        ]
        return self.se(torch.cat(branches, 1))


class SEBNInception(nn.Module):
    def __init__(self, num_classes: int = 1000, in_chans: int = 3, drop_rate: float = 0.0, global_pool: str = "avg", widths: dict | None = None):
        super().__init__()
        widths = check_widths(widths or OFFICIAL_WIDTHS)
        self.num_classes, self.in_chans, self.drop_rate = num_classes, in_chans, drop_rate
        c1, c2r, c2 = widths["stem"]
        self.conv1 = ConvBnAct(in_chans, c1, 7, stride=2, padding=3)
        self.pool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2_reduce = ConvBnAct(c1, c2r, 1)
        self.conv2 = ConvBnAct(c2r, c2, 3, padding=1)
        self.pool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        channels = {"conv1": c1, "conv2": c2}
        chs = c2
        for name in list(OFFICIAL_WIDTHS)[1:]:
            block = InceptionB(chs, *widths[name]) if name in REDUCING else InceptionA(chs, *widths[name])
            self.add_module(name, block)
            chs = channels[name] = block.out_chs
        self.feature_info = [dict(num_chs=channels[m], reduction=r, module=m) for m, r in FEATURE_MODULES.items()]
        self.num_features = self.head_hidden_size = chs
        self.reset_classifier(num_classes, global_pool)

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False):
        # timm sorts groups by number: coarse, one per stage (3, 4, 5); fine, one per block in order
        blocks = r"^inception_(\d)" if coarse else [(rf"^{name}\.", (i,)) for i, name in enumerate(list(OFFICIAL_WIDTHS)[1:])]
        return dict(stem=r"^conv", blocks=blocks)

    @torch.jit.ignore
    def get_classifier(self) -> nn.Module:
        return self.last_linear

    def reset_classifier(self, num_classes: int, global_pool: str | None = None):
        from timm.layers import create_classifier

        self.num_classes = num_classes
        pool = self.global_pool.pool_type if global_pool is None else global_pool
        self.global_pool, self.last_linear = create_classifier(self.num_features, num_classes, pool_type=pool)

    def forward_features(self, x):
        x = self.pool1(self.conv1(x))
        x = self.pool2(self.conv2(self.conv2_reduce(x)))
        for name in list(OFFICIAL_WIDTHS)[1:]:
            x = getattr(self, name)(x)
        return x

    def forward_head(self, x, pre_logits: bool = False):
        x = self.global_pool(x)
        if self.drop_rate > 0.0:
            x = F.dropout(x, p=self.drop_rate, training=self.training)
        return x if pre_logits else self.last_linear(x)

    def forward(self, x):
        return self.forward_head(self.forward_features(x))


def check_widths(widths: dict) -> dict:
    """`widths` if it has the official table's shape (same blocks, same number of entries each)."""
    for name, official in OFFICIAL_WIDTHS.items():
        row = widths.get(name)
        if row is None or len(row) != len(official) or any(type(a) is not type(b) for a, b in zip(row, official)):
            raise ValueError(f"se_bn_inception widths: '{name}' must be like {official}, got {row}")
        if len(official) == 8 and row[-1] not in ("avg", "max"):
            raise ValueError(f"se_bn_inception widths: '{name}' pool must be 'avg' or 'max', got {row[-1]!r}")
    if set(widths) != set(OFFICIAL_WIDTHS):
        raise ValueError(f"se_bn_inception widths: unexpected entries {sorted(set(widths) - set(OFFICIAL_WIDTHS))}")
    return widths


# The pretrained config of a model built without a converted folder; a folder's config.json replaces it.
DEFAULT_CFG = {
    "num_classes": 1000, "input_size": (3, 224, 224), "pool_size": (7, 7), "crop_pct": 0.875,
    "interpolation": "bilinear", "mean": (123 / 255, 117 / 255, 104 / 255), "std": (1 / 255,) * 3,
    "first_conv": "conv1.conv", "classifier": "last_linear", "license": "apache-2.0",
    "origin_url": "https://github.com/hujie-frank/SENet", "paper_ids": "arXiv:1709.01507",
    # Caffe's input convention; timm's transforms normalise RGB, so the mean is in R, G, B order
    "notes": ("the model takes BGR: reverse the channels after timm's transform",),
}
default_cfgs: dict = {}  # filled by register(), where timm's registry reads it


def se_bn_inception(pretrained: bool = False, **kwargs) -> SEBNInception:
    """SE-BN-Inception; weights come from `senet-convert caffe2torch ... --to timm` (no download)."""
    from timm.models._builder import build_model_with_cfg

    return build_model_with_cfg(SEBNInception, MODEL_NAME, pretrained, feature_cfg=dict(flatten_sequential=True), **kwargs)


def register() -> None:
    """Add se_bn_inception to timm's registry (once; a model of that name from elsewhere is left alone)."""
    from timm.models import is_model, model_entrypoint
    from timm.models._registry import generate_default_cfgs, register_model

    if not is_model(MODEL_NAME):
        default_cfgs.update(generate_default_cfgs({f"{MODEL_NAME}.caffe_in1k": DEFAULT_CFG}))
        register_model(se_bn_inception)
    elif model_entrypoint(MODEL_NAME) is not se_bn_inception:
        raise RuntimeError(f"timm already has a model '{MODEL_NAME}' that is not senet-convert's")
