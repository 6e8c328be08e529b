"""Kept for modules written against the old tree: see edits/class_order.py."""
from .edits.class_order import *  # noqa: F403
from .edits.class_order import ORDERS, class_order_of, devkit_wnids, last_inner_product, reorder_classes, reorder_rows, wnids  # noqa: F401
