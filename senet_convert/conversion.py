"""Kept for modules written against the old tree: see jobs.py."""
from .jobs import convert_files

__all__ = ["convert_files"]
