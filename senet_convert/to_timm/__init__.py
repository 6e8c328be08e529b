"""The official SENets as timm models: the structure read off the graph, the timm model it is, and
Caffe's blobs as that model's state_dict. No torch until the weights become tensors.

A residual SENet (timm/models/senet.py, the legacy_* models) is
  stem    1 or 3 units (Convolution -> BatchNorm -> Scale -> ReLU), then a 3x3/2 MAX Pooling
  blocks  one per Axpy(a, X, Y) = a*X + Y, then ReLU: the branch X is a chain of units from the
          block input; the SE gate a = Sigmoid(up(ReLU(down(global AVE Pooling(X))))); the
          shortcut Y is the block input itself or a projection unit reading it
  stages  a block with a projection shortcut starts a stage (timm's downsample)
  head    AVE Pooling over the whole map, optional Dropout, InnerProduct, optional Softmax
and a layer's timm name is its role there:
  stem unit i                      layer0.conv{i}, layer0.bn{i}
  stage s, block b, branch unit i  layer{s}.{b}.conv{i}, layer{s}.{b}.bn{i}
  projection unit                  layer{s}.{b}.downsample.0, .downsample.1
  SE down / up                     layer{s}.{b}.se_module.fc1, .fc2
  InnerProduct                     last_linear
SE-BN-Inception has no timm model: se_bn_inception.py is this project's, registered with timm by
hook.py as soon as timm is imported; inception.py maps its weights.

  structure.py   the residual SENet read off the graph
  residual.py    which timm model it is, checked layer by layer
  weights.py     the state_dict (BatchNorm + Scale as one BatchNorm2d), timm_model
  inception.py   the same for SE-BN-Inception
  parity.py      the timm model measured against the float64 oracle
"""
from __future__ import annotations

from .residual import TIMM_BN_EPS, timm_model_name
from .structure import no_timm_model, se_gated
from .weights import TimmWeights, timm_model, timm_weights

__all__ = ["TIMM_BN_EPS", "TimmWeights", "no_timm_model", "se_gated", "timm_model", "timm_model_name", "timm_weights"]
