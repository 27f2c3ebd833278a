"""numpy activation kernels, in place on float32 arrays; mirrors activations_python.py name for name.

Every kernel is `<name>_forward(x, rows, n, *params)` and returns x (or a new
array when the shape changes). The engine hands each kernel an array it owns.
"""

from __future__ import annotations

import numpy as np


def linear_forward(x, rows, n):
    return x


def relu_forward(x, rows, n):
    np.maximum(x, 0.0, out=x, where=~np.isnan(x))
    return x


def sigmoid_forward(x, rows, n):
    # 1/(1+exp(-x)) for x >= 0 and exp(x)/(1+exp(x)) below: exp never overflows.
    e = np.exp(-np.abs(x))
    positive = x >= 0
    np.divide(np.where(positive, 1.0, e).astype(np.float32), 1.0 + e, out=x, where=~np.isnan(x))
    return x


def tanh_forward(x, rows, n):
    return np.tanh(x, out=x)


def softmax_forward(x, rows, n):
    """Softmax over each row of n values (the last axis)."""
    groups = x.reshape(-1, n)
    groups -= groups.max(axis=1, keepdims=True)
    np.exp(groups, out=groups)
    groups /= groups.sum(axis=1, keepdims=True)
    return x
