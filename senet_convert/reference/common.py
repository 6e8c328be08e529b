"""What the kernels share: Caffe's float parameters as scalars of the working dtype, and the error of an
input only the data can refuse. No arithmetic.
"""
from __future__ import annotations

import numpy as np


class DataError(Exception):
    """An input a typed kernel cannot take, seen only in the data (Embed's indices); forward names the layer."""


def scalar(value: float, dtype: np.dtype) -> np.generic:
    # Caffe's float parameters (eps, coeff, negative_slope) as a scalar of the working dtype, so that
    # arithmetic with it keeps that dtype.
    return np.dtype(dtype).type(value)
