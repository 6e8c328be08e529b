"""What the kernels share: Caffe's float parameters as scalars of the working dtype. No arithmetic."""
from __future__ import annotations

import numpy as np


def scalar(value: float, dtype: np.dtype) -> np.generic:
    # Caffe's float parameters (eps, coeff, negative_slope) as a scalar of the working dtype, so that
    # arithmetic with it keeps that dtype.
    return np.dtype(dtype).type(value)
