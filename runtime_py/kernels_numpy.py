"""numpy kernels: one per IR op and activation, on float32 arrays of shape (batch, size).

Mirrors kernels_python.py name for name. Activations work in place on their
argument and return it.
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


# ---- activations (in place) -------------------------------------------------


def linear_forward(x, n):
    return x


def relu_forward(x, n):
    np.maximum(x, 0.0, out=x, where=~np.isnan(x))
    return x


def sigmoid_forward(x, n):
    # 1/(1+exp(-x)) for x >= 0 and exp(x)/(1+exp(x)) below: exp never overflows.
    e = np.exp(-np.abs(x))
    positive = x >= 0
    np.divide(np.where(positive, 1.0, e).astype(np.float32), 1.0 + e, out=x, where=~np.isnan(x))
    return x


def tanh_forward(x, n):
    return np.tanh(x, out=x)


def softmax_forward(x, n):
    """Softmax over each consecutive group of n values (the last axis)."""
    groups = x.reshape(-1, n)
    groups -= groups.max(axis=1, keepdims=True)
    np.exp(groups, out=groups)
    groups /= groups.sum(axis=1, keepdims=True)
    return x
