"""Pure-Python activation kernels: one per IR activation, standard library only.

Every kernel is `<name>_forward(x, rows, n, *params)`: x is a flat list of rows*n
values (n = the last axis), params are the activation record's parameters in the
order runtime_py/activations.py lists them. Kernels return the output list.
Mirrors runtime_c/<name>.h (kl_<name>_forward(out, inp, rows, n, params...)).
"""

from __future__ import annotations

import math


def linear_forward(x, rows, n):
    return x


def relu_forward(x, rows, n):
    return [v if v > 0.0 else (0.0 if v == v else v) for v in x]


def _sigmoid(v):
    if v >= 0.0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)  # v < 0 or NaN: exp cannot overflow
    return e / (1.0 + e)


def sigmoid_forward(x, rows, n):
    return [_sigmoid(v) for v in x]


def tanh_forward(x, rows, n):
    return [math.tanh(v) for v in x]


def softmax_forward(x, rows, n):
    """Softmax over each row of n values (the last axis)."""
    out = []
    for start in range(0, len(x), n):
        group = x[start:start + n]
        top = max(group)
        exps = [math.exp(v - top) for v in group]  # v - top <= 0: no overflow
        total = sum(exps)
        out.extend([e / total for e in exps])
    return out
