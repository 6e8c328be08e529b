"""Kept for modules written against the old tree: see jobs.py and to_torch.module_for."""
from .jobs import convert
from .to_torch import module_for

__all__ = ["convert", "module_for"]
