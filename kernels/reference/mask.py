"""keep_where: a gradient kept where a mask is true and zeroed elsewhere (the backward of ReLU-like ops)."""

import numpy as np


def keep_where(g: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """g where ``keep``, an exact 0 elsewhere (also where g is inf or nan). g: float (...), keep: bool, same shape."""
    return np.where(keep, g, np.zeros((), dtype=g.dtype))
