"""Kept for modules written against the old tree: see edits/input_space.py."""
from .edits.input_space import *  # noqa: F403
from .edits.input_space import ADAPTER_SUFFIX, IMAGENET_MEAN, IMAGENET_STD, SPACES, Convention  # noqa: F401
