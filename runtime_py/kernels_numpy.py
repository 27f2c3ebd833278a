"""numpy kernels: one per IR op (activations live in activations_numpy.py), on float32 (batch, size) arrays.

Mirrors kernels_python.py name for name.
"""

from __future__ import annotations

import numpy as np

# ---- ops -------------------------------------------------------------------


def dense_forward(inp, kernel, bias, n_in, n_out):
    """inp: (batch, rows*n_in) -> (batch, rows*n_out), kernel: (n_in, n_out) float32."""
    batch = inp.shape[0]
    out = inp.reshape(-1, n_in) @ kernel
    if bias is not None:
        out += bias
    return out.reshape(batch, -1)


def reshape_forward(inp):
    """Row-major data is unchanged by a reshape."""
    return inp
