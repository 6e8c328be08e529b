"""Kept for modules written against the old tree: see verify/inputs.py."""
from .verify.inputs import *  # noqa: F403
from .verify.inputs import SENET_MEAN_BGR, load_image, load_npy, make_inputs, synthetic  # noqa: F401
